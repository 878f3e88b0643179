"""Functional Adam over a stack of ``E`` independent networks, each with its own step count.

Parameters are one tensor ``[E, P]`` (see :class:`~taskdd.tasks.pinn.networks.MLPSpec`). The
functions are pure in ``(params, state)``: with ``create_graph=True`` the steps stay
differentiable (the gradients of the inner loss are themselves differentiated), which is how
``PINNTask.fit`` unrolls training; with ``create_graph=False`` each step is detached (plain
training). The denominator is ``sqrt(v_hat + eps^2)`` rather than ``sqrt(v_hat) + eps``: equal to
Adam up to ``eps``, and differentiable where a gradient is exactly zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

__all__ = ["AdamConfig", "AdamState", "adam_step", "train", "LossFn"]

#: ``params [E, P] -> [E]`` per-network losses
LossFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class AdamConfig:
    """Adam step size and moments."""

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


@dataclass(frozen=True)
class AdamState:
    """First / second moments ``[E, P]`` and steps taken per network ``t [E]``."""

    m: Tensor
    v: Tensor
    t: Tensor

    @classmethod
    def zeros(cls, params: Tensor) -> "AdamState":
        """Zero moments and zero steps for every network of ``params [E, P]``."""
        return cls(torch.zeros_like(params), torch.zeros_like(params), params.new_zeros(params.shape[0]))

    def detach(self) -> "AdamState":
        return AdamState(self.m.detach(), self.v.detach(), self.t.detach())


def adam_step(params: Tensor, grad: Tensor, state: AdamState, cfg: AdamConfig) -> tuple[Tensor, AdamState]:
    """One Adam step per network, bias-corrected with that network's own step count."""
    t = state.t + 1
    m = cfg.beta1 * state.m + (1 - cfg.beta1) * grad
    v = cfg.beta2 * state.v + (1 - cfg.beta2) * grad * grad
    m_hat = m / (1 - cfg.beta1**t)[:, None]
    v_hat = v / (1 - cfg.beta2**t)[:, None]
    return params - cfg.lr * m_hat / torch.sqrt(v_hat + cfg.eps**2), AdamState(m, v, t)


def train(params: Tensor, state: AdamState, loss_fn: LossFn, steps: int, cfg: AdamConfig, *,
          create_graph: bool = False) -> tuple[Tensor, AdamState]:
    """``steps`` Adam steps of every network on ``loss_fn(params) -> [E]``.

    create_graph: keep the whole trajectory differentiable (memory grows linearly in ``steps``);
    otherwise each step is detached and the result has no history. Works under ``no_grad``.
    """
    with torch.enable_grad():
        if create_graph and not params.requires_grad:
            params = params.detach().requires_grad_(True)
        for _ in range(steps):
            if not create_graph:
                params, state = params.detach().requires_grad_(True), state.detach()
            # the networks are independent: d(sum of losses)/d(network k) = d(loss k)/d(network k)
            (grad,) = torch.autograd.grad(loss_fn(params).sum(), params, create_graph=create_graph)
            params, state = adam_step(params, grad, state, cfg)
    return (params, state) if create_graph else (params.detach(), state.detach())
