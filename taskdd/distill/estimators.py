"""Hypergradient estimators: ``(task, synthetic, sources, part, generator) -> (score, grads)``.

``grads`` are ascent directions of the task's objective w.r.t. ``synthetic.parameters(part)``.
New methods register with :func:`register_method`; the loop never branches on the method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import torch
from torch import Tensor

from taskdd.errors import ConfigError, NonFiniteError, TaskError
from taskdd.registry import check_options
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
    check_options(f"method {name!r}", cls, options)
    return cls(**options)


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
    Cost: ``2 * directions`` objective evaluations per step (fit + score each), no backward
    pass through ``fit``; the estimate's variance shrinks like ``dim / directions``. The
    objectives run with grad mode on (a learner may use autograd inside ``fit``) but on
    detached perturbed tensors, so no graph to the synthetic set is built.
    """

    directions: int = 8
    smoothing: float = 0.01

    def __post_init__(self):
        if not isinstance(self.directions, int) or isinstance(self.directions, bool) or self.directions < 1:
            raise ConfigError(f"zeroth_order directions must be an int >= 1, got {self.directions!r}")
        if not (isinstance(self.smoothing, (int, float)) and not isinstance(self.smoothing, bool)
                and math.isfinite(self.smoothing) and self.smoothing > 0):
            raise ConfigError(f"zeroth_order smoothing must be a finite number > 0, got {self.smoothing!r}")

    def __call__(self, task, synthetic, sources, part, generator):
        base = [p.detach() for p in synthetic.parameters(part)]
        grads = [torch.zeros_like(p) for p in base]
        total = 0.0
        mu = self.smoothing
        for _ in range(self.directions):
            us = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in base]
            state = generator.get_state()
            fp = self._value(task, synthetic, [p + mu * u for p, u in zip(base, us)], sources, part, generator)
            generator.set_state(state)
            fm = self._value(task, synthetic, [p - mu * u for p, u in zip(base, us)], sources, part, generator)
            coef = (fp - fm) / (2 * mu)
            for g, u in zip(grads, us):
                g.add_(coef * u)
            total += 0.5 * float(fp + fm)
        return total / self.directions, [g / self.directions for g in grads]

    @staticmethod
    def _value(task, synthetic, values, sources, part, generator) -> Tensor:
        """The objective at the perturbed learnable tensors ``values`` (detached: no graph to the
        synthetic set). Grad mode stays on, so a learner with its own inner autograd loop
        (``torch.autograd.grad`` inside ``fit``) works; the value is returned detached."""
        with torch.enable_grad():
            s = task.objective(synthetic.with_learnable(values, part), sources, part=part, generator=generator)
            return _check_score(s, task).detach()
