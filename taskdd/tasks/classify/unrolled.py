"""Unrolled training (Wang et al. 2018): a few SGD steps of a small network on the synthetic set,
kept differentiable so the outer loss can reach the synthetic inputs through them."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor
from torch.func import grad

from taskdd.nets import MLP

__all__ = ["unrolled_sgd"]


def unrolled_sgd(net: MLP, params: Tensor, x: Tensor, y: Tensor, *, steps: int, lr: float) -> Tensor:
    """``steps`` full-batch SGD steps of one network ``params [P]`` on the cross-entropy of
    ``(x [n, p], y [n])``.

    Written with ``torch.func.grad``: differentiable w.r.t. ``x`` (and ``params``) by ordinary
    autograd, and it still trains under ``torch.no_grad()``. Memory grows linearly in ``steps``.
    """
    g = grad(lambda p: F.cross_entropy(net.forward(p, x), y))
    for _ in range(steps):
        params = params - lr * g(params)
    return params
