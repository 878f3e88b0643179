"""Hypergradient estimators: ``(task, synthetic, sources, part, generator) -> (score, grads)``.

``grads`` are ascent directions of the task's objective w.r.t. ``synthetic.parameters(part)``.
New methods register with :func:`register_method`; the loop never branches on the method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch
from torch import Tensor

from taskdd.errors import ConfigError, NonFiniteError, TaskError
from taskdd.synthetic import SyntheticSet
from taskdd.task import Task

__all__ = ["Estimator", "ExactGradient", "ZerothOrderGradient", "register_method", "get_method", "method_names"]


class Estimator(Protocol):
    def __call__(self, task: Task, synthetic: SyntheticSet, sources: Any, part: int | None,
                 generator: torch.Generator) -> tuple[float, list[Tensor]]: ...


_METHODS: dict[str, Callable[..., Estimator]] = {}


def register_method(name: str):
    """Class decorator registering a gradient estimator under ``name``."""
    def deco(cls):
        _METHODS[name] = cls
        return cls
    return deco


def method_names() -> list[str]:
    return sorted(_METHODS)


def get_method(name: str, **options) -> Estimator:
    """Build the estimator ``name`` with its ``options`` (unknown options are a ConfigError)."""
    if name not in _METHODS:
        raise ConfigError(f"unknown method {name!r}; known methods: {', '.join(method_names())}")
    cls = _METHODS[name]
    try:
        return cls(**options)
    except TypeError as e:
        raise ConfigError(f"method {name!r} got bad options {sorted(options)}: {e}") from None


def _check_score(s: Any, task: Task) -> Tensor:
    if not isinstance(s, Tensor) or s.numel() != 1:
        raise TaskError(f"task {task.name!r} objective must return a scalar tensor, got "
                        f"{type(s).__name__}{tuple(s.shape) if isinstance(s, Tensor) else ''}")
    if not torch.isfinite(s):
        raise NonFiniteError(f"task {task.name!r} objective is {float(s.detach())} (non-finite)")
    return s.reshape(())


@register_method("exact")
@dataclass
class ExactGradient:
    """Autograd through ``fit`` and ``score`` (needs ``task.differentiable``)."""

    def __call__(self, task, synthetic, sources, part, generator):
        if not task.differentiable:
            raise ConfigError(f"task {task.name!r} is not differentiable; use method='zeroth_order'")
        params = synthetic.parameters(part)
        s = _check_score(task.objective(synthetic, sources, part=part, generator=generator), task)
        if not s.requires_grad:
            raise TaskError(f"task {task.name!r} says it is differentiable but its objective has no "
                            "gradient w.r.t. the synthetic set")
        grads = torch.autograd.grad(s, params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]
        return float(s.detach()), grads


@register_method("zeroth_order")
@dataclass
class ZerothOrderGradient:
    """Gaussian smoothing with antithetic pairs (the paper's estimator, Kungurtsev et al. 2024).

    g = mean_i [f(S + mu u_i) - f(S - mu u_i)] / (2 mu) * u_i,  u_i ~ N(0, I).
    Both evaluations of a pair see the same random stream (common random numbers), so a
    stochastic learner's noise cancels in the difference. Works with any black-box ``fit``.
    directions: pairs per step; smoothing: mu, in the units of the synthetic values.
    """

    directions: int = 8
    smoothing: float = 0.01

    def __post_init__(self):
        if not isinstance(self.directions, int) or self.directions < 1:
            raise ConfigError(f"zeroth_order directions must be an int >= 1, got {self.directions!r}")
        if not (self.smoothing > 0):
            raise ConfigError(f"zeroth_order smoothing must be > 0, got {self.smoothing!r}")

    def __call__(self, task, synthetic, sources, part, generator):
        base = [p.detach() for p in synthetic.parameters(part)]
        grads = [torch.zeros_like(p) for p in base]
        total = 0.0
        mu = self.smoothing
        with torch.no_grad():
            for _ in range(self.directions):
                us = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in base]
                state = generator.get_state()
                fp = _check_score(task.objective(synthetic.with_learnable([p + mu * u for p, u in zip(base, us)], part),
                                                 sources, part=part, generator=generator), task)
                generator.set_state(state)
                fm = _check_score(task.objective(synthetic.with_learnable([p - mu * u for p, u in zip(base, us)], part),
                                                 sources, part=part, generator=generator), task)
                coef = (fp - fm) / (2 * mu)
                for g, u in zip(grads, us):
                    g.add_(coef * u)
                total += 0.5 * float(fp + fm)
        return total / self.directions, [g / self.directions for g in grads]
