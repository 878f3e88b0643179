"""Kernels for kernel ridge regression: the NTK of a one-hidden-layer ReLU network, and RBF.

``relu_ntk`` is the infinite-width neural tangent kernel of ``f(x) = v . relu(W [x, 1] / sqrt(d))
/ sqrt(m)`` with standard normal ``W`` and ``v`` (NTK parametrisation, bias as a constant input,
``d = p + 1``). With ``s = <x~, x~'> / d``, ``n = |x~|^2 / d``, ``n' = |x~'|^2 / d`` and
``theta = arccos(s / sqrt(n n'))``, the two parameter layers give

    Theta(x, x') = sqrt(n n') (sin theta + (pi - theta) cos theta) / (2 pi)     (output layer)
                 + s (pi - theta) / (2 pi)                                      (hidden layer)
                 = sqrt(n n') sin theta / (2 pi) + s (1 - theta / pi).

The elementwise part is one autograd Function with a hand-written backward: on a slow CPU it
is most of the cost of a KIP step, and autograd's chain through arccos repeats work.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from taskdd.errors import ConfigError

__all__ = ["relu_ntk", "rbf", "get_kernel", "KERNELS"]

_EPS = 1e-6  # cos theta is clipped to [-1 + eps, 1 - eps]: bounded gradients at x = x'


class _ArcCosNTK(torch.autograd.Function):
    """``(s, nn) -> sqrt(nn) sin(theta) / (2 pi) + s (1 - theta / pi)``, theta = arccos(s / sqrt(nn))."""

    @staticmethod
    def forward(ctx, s: Tensor, nn: Tensor) -> Tensor:
        q = nn.rsqrt()
        c = (s * q).clamp_(-1 + _EPS, 1 - _EPS)
        theta = torch.acos(c)
        sin = (1 - c * c).sqrt_()
        ctx.save_for_backward(c, theta, q, sin)
        return (nn * q * sin).mul_(0.5 / math.pi).add_(s * (1 - theta / math.pi))

    @staticmethod
    def backward(ctx, grad: Tensor):
        c, theta, q, sin = ctx.saved_tensors
        inv_sin = sin.reciprocal()
        # dK/ds = (cot theta + 2 (pi - theta)) / (2 pi); dK/dnn = (1 - 2 cos^2) / (2 sqrt(nn) sin) / (2 pi)
        gs = grad * (c * inv_sin + 2 * (math.pi - theta)) * (0.5 / math.pi)
        gnn = grad * (1 - 2 * c * c) * q * inv_sin * (0.25 / math.pi)
        return gs, gnn


def relu_ntk(a: Tensor, b: Tensor) -> Tensor:
    """NTK of a one-hidden-layer ReLU network with a bias input. a: [m, p], b: [n, p] -> [m, n].

    ``relu_ntk(a, a)`` (the same tensor twice) has the exact diagonal ``|x~|^2 / d`` and its
    gradient; elsewhere coincident points get the clipped-angle value (the kernel has a cusp
    there, so any bounded choice is a valid subgradient-like value).
    """
    d = a.shape[1] + 1
    s = torch.addmm(a.new_ones(a.shape[0], b.shape[0]), a, b.T).div_(d)
    na = (a * a).sum(1).add(1).div(d)
    nb = na if b is a else (b * b).sum(1).add(1).div(d)
    K = _ArcCosNTK.apply(s, na[:, None] * nb[None, :])
    if b is a:
        eye = torch.eye(len(a), dtype=torch.bool, device=a.device)
        K = torch.where(eye, na[:, None], K)
    return K


def rbf(a: Tensor, b: Tensor, gamma: float) -> Tensor:
    """``exp(-gamma |a - b|^2)``. a: [m, p], b: [n, p] -> [m, n]."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return torch.exp(-gamma * d2.clamp_min(0))


KERNELS: dict[str, str] = {"ntk": "NTK of a one-hidden-layer ReLU network", "rbf": "Gaussian RBF"}


def get_kernel(name: str, *, gamma: float = 0.02) -> Callable[[Tensor, Tensor], Tensor]:
    """The kernel function ``(a [m, p], b [n, p]) -> [m, n]`` called ``name`` (gamma: RBF only)."""
    if name == "ntk":
        return relu_ntk
    if name == "rbf":
        if not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma > 0):
            raise ConfigError(f"rbf gamma must be a finite number > 0, got {gamma!r}")
        return lambda a, b: rbf(a, b, gamma)
    raise ConfigError(f"unknown kernel {name!r}; known kernels: {', '.join(sorted(KERNELS))}")
