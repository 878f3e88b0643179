"""Relative L2 errors of predictors ``(x [n], alpha [n]) -> u [E, n]`` (``E`` networks or 1;
``x [n, dim]`` for a family on a geometry: the norms run over all points of all inputs)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from taskdd.data import Samples

__all__ = ["Predictor", "rel_l2", "split_rel_l2", "rel_l2_by_alpha"]

Predictor = Callable[[Tensor, Tensor], Tensor]


def rel_l2(predict: Predictor, data: Samples) -> Tensor:
    """``[E]``: ``||u - y|| / ||y||`` over all rows of ``data`` for each of the ``E`` predictions."""
    y = data["y"]
    with torch.no_grad():
        u = predict(data["x"], data["alpha"]).to(y)
    return (u - y).norm(dim=-1) / y.norm()


def split_rel_l2(predict: Predictor, test: Samples) -> dict[str, float]:
    """``test_rel_l2`` on the rows where ``test["ood"]`` is True and ``train_rel_l2`` on the
    others (without an ``ood`` column every row is a test row); each the mean over predictions."""
    ood = test["ood"].bool() if "ood" in test else torch.ones(len(test), dtype=torch.bool, device=test.device)
    return {name: float(rel_l2(predict, test.subset(rows)).mean())
            for name, rows in (("test_rel_l2", ood), ("train_rel_l2", ~ood)) if rows.any()}


def rel_l2_by_alpha(predict: Predictor, curves: Samples, n_x: int) -> Tensor:
    """``[A]``: relative L2 error of each curve of ``curves`` (``A`` alphas x ``n_x`` points,
    alpha-major as made by ``data_gen.pinn.curves``; on a geometry ``n_x`` is the number of grid
    points per alpha), mean over predictions."""
    y = curves["y"].reshape(-1, n_x)
    with torch.no_grad():
        u = predict(curves["x"], curves["alpha"]).to(y).reshape(-1, *y.shape)
    return ((u - y).norm(dim=-1) / y.norm(dim=-1)).mean(0)
