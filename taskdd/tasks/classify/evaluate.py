"""Held-out evaluation of a distilled set: fresh learners trained from scratch on it.

``acc_mlp`` is the standard setting (a fresh network of the distillation's family, mean over
initialisations). Every learner here trains on the hard labels ``y``; soft targets a task learns
(classify-krr) serve only that task's own learner (``acc_own``). Outside it (Yang et al., ICML
2024, ask how far distilled data transfers): ``acc_mlp_other`` (another width and depth),
``acc_logreg`` and ``acc_knn`` (scikit-learn, imported when first used).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor

from taskdd.data import Samples
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.classify.networks import MLPSpec, accuracy, train_ensemble

__all__ = ["EvalProtocol", "train_mlps", "evaluate_set"]


@dataclass(frozen=True)
class EvalProtocol:
    """How a distilled set is judged.

    mlp_width / mlp_depth: the standard network (acc_mlp): one hidden layer of 512 ReLU units,
    the finite counterpart of classify-krr's NTK and the architecture the matching tasks use.
    other_width / other_depth: the other network (acc_mlp_other). n_models: initialisations
    averaged. steps / lr: full-batch Adam on the cross-entropy (a wide net with a small step
    stays close to its kernel regime). knn_k: neighbours of acc_knn (capped at the set size).
    logreg_c: inverse L2 strength of acc_logreg.
    """

    mlp_width: int = 512
    mlp_depth: int = 1
    other_width: int = 128
    other_depth: int = 2
    n_models: int = 5
    steps: int = 500
    lr: float = 1e-3
    knn_k: int = 1
    logreg_c: float = 1.0

    def __post_init__(self):
        MLPSpec(self.mlp_width, self.mlp_depth), MLPSpec(self.other_width, self.other_depth)  # validate
        for name in ("n_models", "steps", "knn_k"):
            val = getattr(self, name)
            if not isinstance(val, int) or isinstance(val, bool) or val < 1:
                raise ConfigError(f"EvalProtocol {name} must be an int >= 1, got {val!r}")
        for name in ("lr", "logreg_c"):
            val = getattr(self, name)
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ConfigError(f"EvalProtocol {name} must be a finite number > 0, got {val!r}")

    @property
    def mlp(self) -> MLPSpec:
        return MLPSpec(self.mlp_width, self.mlp_depth)

    @property
    def other(self) -> MLPSpec:
        return MLPSpec(self.other_width, self.other_depth)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def train_mlps(spec: MLPSpec, x: Tensor, y: Tensor, n_classes: int, protocol: EvalProtocol,
               generator: torch.Generator):
    """``protocol.n_models`` networks of architecture ``spec`` trained on ``(x [n, p], y [n])``.

    Returns ``(net, params [E, P])``.
    """
    net = spec.network(x.shape[1], n_classes)
    params = spec.init(net, generator, n_models=protocol.n_models, device=x.device, dtype=x.dtype)
    return net, train_ensemble(net, params, x, y, steps=protocol.steps, lr=protocol.lr)


def _check_test(x: Tensor, test: Samples, n_classes: int) -> None:
    if not isinstance(test, Samples) or "x" not in test or "y" not in test:
        raise DataError(f"test data must be Samples(x=[N, p], y=[N]), got {test!r}")
    if test["x"].ndim != 2 or test["x"].shape[1] != x.shape[1]:
        raise DataError(f"test x has shape {tuple(test['x'].shape)}; the distilled set has {x.shape[1]} features")
    if test["y"].ndim != 1 or test["y"].is_floating_point():
        raise DataError(f"test y must be [N] integer labels, got {test['y'].dtype} {tuple(test['y'].shape)}")
    lo, hi = int(test["y"].min()), int(test["y"].max())
    if lo < 0 or hi >= n_classes:
        raise DataError(f"test labels span {lo}..{hi} but the distilled set has classes 0..{n_classes - 1}")


def evaluate_set(x: Tensor, y: Tensor, n_classes: int, test: Samples, generator: torch.Generator,
                 protocol: EvalProtocol) -> dict[str, float]:
    """acc_mlp, acc_mlp_other, acc_logreg, acc_knn of learners trained on ``(x [n, p], y [n])``."""
    from sklearn.linear_model import LogisticRegression  # imported here: scikit-learn is slow to import
    from sklearn.neighbors import KNeighborsClassifier

    _check_test(x, test, n_classes)
    x, y = x.detach(), y.detach()
    xt, yt = test["x"].to(x.device, x.dtype), test["y"].to(x.device)
    out = {}
    for key, spec in (("acc_mlp", protocol.mlp), ("acc_mlp_other", protocol.other)):
        net, params = train_mlps(spec, x, y, n_classes, protocol, generator)
        out[key] = float(accuracy(net, params, xt, yt).mean())
    xn, yn = x.cpu().double().numpy(), y.cpu().numpy()
    xtn, ytn = xt.cpu().double().numpy(), yt.cpu().numpy()
    logreg = LogisticRegression(C=protocol.logreg_c, max_iter=2000).fit(xn, yn)
    out["acc_logreg"] = float(np.mean(logreg.predict(xtn) == ytn))
    knn = KNeighborsClassifier(n_neighbors=min(protocol.knn_k, len(yn))).fit(xn, yn)
    out["acc_knn"] = float(np.mean(knn.predict(xtn) == ytn))
    return out
