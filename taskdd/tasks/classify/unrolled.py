"""Unrolled training (Wang et al. 2018): a few SGD steps of a small network on the synthetic set,
kept differentiable so the outer loss can reach the synthetic inputs through them."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad

from taskdd.tasks.classify.networks import Params

__all__ = ["unrolled_sgd"]


def unrolled_sgd(module: nn.Module, params: Params, x: Tensor, y: Tensor, *, steps: int, lr: float) -> Params:
    """``steps`` full-batch SGD steps on the cross-entropy of ``(x [n, p], y [n])`` from ``params``.

    Written with ``torch.func.grad``: differentiable w.r.t. ``x`` (and ``params``) by ordinary
    autograd, and it still trains under ``torch.no_grad()``. Memory grows linearly in ``steps``.
    """
    def loss(p: Params) -> Tensor:
        return F.cross_entropy(functional_call(module, p, (x,)), y)

    g = grad(loss)
    for _ in range(steps):
        params = {k: v - lr * dv for (k, v), dv in zip(params.items(), g(params).values())}
    return params
