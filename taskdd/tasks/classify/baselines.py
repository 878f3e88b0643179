"""Classifier synthetic sets that are not distilled: a random real subset per class (the
distillation's start), k-means centres per class (a coreset), and the full training data. All are
``SyntheticSet`` objects, judged with the same ``evaluate`` as distilled sets.

Layout of every classifier set: one part with ``x [n, p]`` (float) and ``y [n]`` (long, fixed),
rows grouped by class in order ``0..C-1``; ``meta["n_classes"] = C``. classify-krr with learnable
labels adds ``targets [n, C]``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from taskdd.data import Samples
from taskdd.synthetic import SyntheticSet
from taskdd.tasks.classify.data import check_budget, check_samples

__all__ = ["classifier_set", "random_subset", "kmeans_centres", "full_data"]


def classifier_set(x: Tensor, y: Tensor, n_classes: int, *, learnable=("x",),
                   targets: Tensor | None = None) -> SyntheticSet:
    """A classifier ``SyntheticSet`` from ``x [n, p]``, ``y [n]`` (and ``targets [n, C]``)."""
    tensors = {"x": x, "y": y} if targets is None else {"x": x, "y": y, "targets": targets}
    return SyntheticSet([tensors], learnable=learnable, meta={"n_classes": n_classes})


def random_subset(train: Samples, ipc: int, generator: torch.Generator) -> SyntheticSet:
    """``ipc`` random training examples of each class (without replacement), grouped by class."""
    n_classes = check_samples(train, "train")
    check_budget(train, ipc, n_classes)
    y = train["y"]
    idx = []
    for c in range(n_classes):
        members = torch.nonzero(y == c).flatten()
        idx.append(members[torch.randperm(len(members), generator=generator)[:ipc].to(y.device)])
    idx = torch.cat(idx)
    return classifier_set(train["x"][idx], y[idx], n_classes)


def kmeans_centres(train: Samples, ipc: int, seed: int) -> SyntheticSet:
    """The ``ipc`` k-means centres of each class (scikit-learn ``KMeans``, ``random_state=seed``)."""
    from sklearn.cluster import KMeans  # imported here: scikit-learn is slow to import

    n_classes = check_samples(train, "train")
    check_budget(train, ipc, n_classes)
    x, y = train["x"], train["y"]
    xn, yn = x.detach().cpu().double().numpy(), y.cpu().numpy()
    centres = [KMeans(n_clusters=ipc, n_init=10, random_state=seed).fit(xn[yn == c]).cluster_centers_
               for c in range(n_classes)]
    xs = torch.from_numpy(np.concatenate(centres)).to(x.device, x.dtype)
    ys = torch.arange(n_classes, device=y.device).repeat_interleave(ipc)
    return classifier_set(xs, ys, n_classes)


def full_data(train: Samples) -> SyntheticSet:
    """Every training example (grouped by class)."""
    n_classes = check_samples(train, "train")
    order = torch.argsort(train["y"], stable=True)
    return classifier_set(train["x"][order], train["y"][order], n_classes)
