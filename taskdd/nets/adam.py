"""Functional Adam over a stack of ``E`` independent networks, each with its own step count.

Parameters are one tensor ``[E, P]`` (see :class:`~taskdd.nets.mlp.MLP`). The functions are pure
in ``(params, state)``: with ``create_graph=True`` the steps stay differentiable (the gradients of
the inner loss are themselves differentiated), which is how a learner is unrolled; with
``create_graph=False`` each step is detached (plain training).

Two formulas (:attr:`AdamConfig.eps_inside_sqrt`):

- True: ``p - lr * m_hat / sqrt(v_hat + eps^2)``. Equal to Adam up to ``eps``, and differentiable
  where a gradient is exactly zero (``sqrt(v_hat) + eps`` has an infinite derivative there): the
  form for unrolling.
- False: ``torch.optim.Adam``'s arithmetic, ``p - (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)``
  with ``bc_i = 1 - beta_i^t`` in float64 and ``m`` updated by ``lerp``: the same numbers as
  ``torch.optim.Adam`` (its CPU kernel to the last bit, but for the few elements it computes
  outside its vector loop) for plain training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

from taskdd.errors import ConfigError, DataError

__all__ = ["AdamConfig", "AdamState", "adam_step", "train", "LossFn"]

#: ``params [E, P] -> [E]`` per-network losses (or their sum, a scalar)
LossFn = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class AdamConfig:
    """Adam step size, moments and ``eps``; ``eps_inside_sqrt`` picks the formula (module doc)."""

    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    eps_inside_sqrt: bool = True

    def __post_init__(self):
        for name in ("lr", "eps", "beta1", "beta2"):
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if name.startswith("beta") and not (ok and 0 <= v < 1):
                raise ConfigError(f"Adam {name} must be a number in [0, 1), got {v!r}")
            if not name.startswith("beta") and not (ok and v > 0):
                raise ConfigError(f"Adam {name} must be a finite number > 0, got {v!r}")


@dataclass(frozen=True)
class AdamState:
    """First / second moments ``[E, P]`` and steps taken per network ``t [E]`` (params' dtype)."""

    m: Tensor
    v: Tensor
    t: Tensor

    @classmethod
    def zeros(cls, params: Tensor) -> "AdamState":
        """Zero moments and zero steps for every network of ``params [E, P]``."""
        return cls(torch.zeros_like(params), torch.zeros_like(params), params.new_zeros(params.shape[0]))

    def detach(self) -> "AdamState":
        return AdamState(self.m.detach(), self.v.detach(), self.t.detach())


def _sqrt(x: Tensor) -> Tensor:
    """Correctly rounded ``sqrt`` as ``torch.optim.Adam``'s CPU kernel computes it (``torch.sqrt``
    on CPU is within an ulp of it; through float64 the float32 result is exact)."""
    return x.double().sqrt().to(x.dtype) if x.device.type == "cpu" and x.dtype != torch.float64 else x.sqrt()


def adam_step(params: Tensor, grad: Tensor, state: AdamState, cfg: AdamConfig) -> tuple[Tensor, AdamState]:
    """One Adam step per network of ``params [E, P]`` with ``grad [E, P]``, bias-corrected with
    that network's own step count ``state.t [E]``."""
    if grad.shape != params.shape or state.m.shape != params.shape or state.t.shape != params.shape[:1]:
        raise DataError(f"Adam needs params and grad [E, P] and a state for E networks, got params "
                        f"{tuple(params.shape)}, grad {tuple(grad.shape)}, moments {tuple(state.m.shape)}, "
                        f"steps {tuple(state.t.shape)}")
    t = state.t + 1
    if cfg.eps_inside_sqrt:
        m = cfg.beta1 * state.m + (1 - cfg.beta1) * grad
        v = cfg.beta2 * state.v + (1 - cfg.beta2) * grad * grad
        m_hat = m / (1 - cfg.beta1**t)[:, None]
        v_hat = v / (1 - cfg.beta2**t)[:, None]
        return params - cfg.lr * m_hat / torch.sqrt(v_hat + cfg.eps**2), AdamState(m, v, t)
    m = state.m.lerp(grad, 1 - cfg.beta1)
    v = (state.v * cfg.beta2).addcmul(grad, grad, value=1 - cfg.beta2)
    t64 = t.double()
    step_size = (cfg.lr / (1 - cfg.beta1**t64)).to(params.dtype)[:, None]
    bc2_sqrt = torch.sqrt(1 - cfg.beta2**t64).to(params.dtype)[:, None]
    return params - step_size * m / (_sqrt(v) / bc2_sqrt + cfg.eps), AdamState(m, v, t)


def train(params: Tensor, state: AdamState, loss_fn: LossFn, steps: int, cfg: AdamConfig, *,
          create_graph: bool = False) -> tuple[Tensor, AdamState]:
    """``steps`` Adam steps of every network of ``params [E, P]`` on ``loss_fn``.

    The step follows the gradient of ``loss_fn(params).sum()``: the networks are independent, so
    its gradient w.r.t. network ``k`` is that of network ``k``'s own loss.
    create_graph: keep the whole trajectory differentiable (memory grows linearly in ``steps``);
    otherwise each step is detached and the result has no history. Works under ``no_grad``.
    """
    with torch.enable_grad():
        if create_graph and not params.requires_grad:
            params = params.detach().requires_grad_(True)
        for _ in range(steps):
            if not create_graph:
                params, state = params.detach().requires_grad_(True), state.detach()
            (grad,) = torch.autograd.grad(loss_fn(params).sum(), params, create_graph=create_graph)
            with torch.set_grad_enabled(create_graph):
                params, state = adam_step(params, grad, state, cfg)
    return (params, state) if create_graph else (params.detach(), state.detach())
