"""PDE families on ``x in [0, 1]`` with a boundary-condition parameter ``alpha``.

    -u''(x) + cubic * u(x)^3 = pi^2 sin(pi x),    u(0) = alpha,  u(1) = 0.

``cubic = 0`` is the 1D Poisson problem (solution ``sin(pi x) + alpha (1 - x)``); ``cubic = 1``
is a nonlinear reaction-diffusion problem (reference by finite differences, ``data_gen.pinn``).
The PDE is written once, as :meth:`PDEProblem.residual` of ``(x, u, u_xx)``; the deepxde form
``pde(x, u)`` wraps it. Collocation points come from deepxde's geometry (Hammersley sequences:
deterministic, no random state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from taskdd.errors import ConfigError
from taskdd.tasks.pinn.dde_import import import_deepxde, isolated_globals

__all__ = ["PDEProblem", "PROBLEMS", "get_problem", "Collocation", "sample_collocation", "check_alpha_range"]


@dataclass(frozen=True)
class PDEProblem:
    """``-u'' + cubic u^3 = pi^2 sin(pi x)`` on [0, 1] with ``u(0) = alpha``, ``u(1) = 0``."""

    name: str
    cubic: float

    @staticmethod
    def forcing(x: Tensor) -> Tensor:
        """``pi^2 sin(pi x)``, same shape as ``x``."""
        return math.pi**2 * torch.sin(math.pi * x)

    def residual(self, x: Tensor, u: Tensor, u_xx: Tensor) -> Tensor:
        """PDE residual ``-u_xx + cubic u^3 - f(x)`` (broadcasting shapes)."""
        r = -u_xx - self.forcing(x)
        return r + self.cubic * u**3 if self.cubic else r

    @staticmethod
    def boundary_value(x: Tensor, alpha: Tensor) -> Tensor:
        """Dirichlet data at ``x in {0, 1}``: ``alpha`` at 0, 0 at 1 (same shape as ``x``)."""
        return torch.where(x < 0.5, alpha, torch.zeros_like(alpha))

    def deepxde_pde(self) -> Callable[[Tensor, Tensor], Tensor]:
        """The residual in deepxde's ``pde(inputs [n, 2], u [n, 1]) -> [n, 1]`` form, inputs ``(x, alpha)``."""
        dde = import_deepxde()

        def pde(inputs: Tensor, u: Tensor) -> Tensor:
            u_xx = dde.grad.hessian(u, inputs, i=0, j=0)
            return self.residual(inputs[:, :1], u, u_xx)

        return pde


PROBLEMS: dict[str, PDEProblem] = {
    "poisson": PDEProblem("poisson", 0.0),
    "nonlinear": PDEProblem("nonlinear", 1.0),
}


def get_problem(name: str) -> PDEProblem:
    """The PDE family called ``name`` (ConfigError listing the known ones otherwise)."""
    if name not in PROBLEMS:
        raise ConfigError(f"unknown pde {name!r}; known pdes: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]


def check_alpha_range(name: str, value) -> tuple[float, float]:
    """``value`` as a finite ``(lo, hi)`` with ``lo < hi``; ConfigError naming ``name`` otherwise."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a pair (lo, hi) of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    if not lo < hi:
        raise ConfigError(f"{name} is inverted or empty: got (lo, hi) = ({lo}, {hi}); need lo < hi")
    return lo, hi


@dataclass(frozen=True)
class Collocation:
    """Physics points over ``x in [0, 1]`` and an alpha range.

    interior: ``[n, 2]`` columns (x, alpha); boundary: ``[2m, 2]`` with x in {0, 1};
    boundary_u: ``[2m]`` Dirichlet values at the boundary points.
    """

    interior: Tensor
    boundary: Tensor
    boundary_u: Tensor

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Collocation":
        return Collocation(*(t.to(device=device, dtype=dtype) for t in (self.interior, self.boundary, self.boundary_u)))


def sample_collocation(alpha_range: tuple[float, float], n_interior: int, n_boundary: int, *,
                       device=None, dtype: torch.dtype = torch.float32) -> Collocation:
    """Hammersley points of deepxde's ``Rectangle([0, lo], [1, hi])`` inside, and ``n_boundary``
    Hammersley alphas of ``Interval(lo, hi)`` on each of the edges x = 0 and x = 1."""
    lo, hi = check_alpha_range("alpha_range", alpha_range)
    for name, n in (("n_interior", n_interior), ("n_boundary", n_boundary)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"{name} must be an int >= 1, got {n!r}")
    dde = import_deepxde()
    with isolated_globals():
        inside = dde.geometry.Rectangle([0.0, lo], [1.0, hi]).random_points(n_interior, random="Hammersley")
        alphas = dde.geometry.Interval(lo, hi).random_points(n_boundary, random="Hammersley")[:, 0]
    edge = np.concatenate([np.zeros_like(alphas), np.ones_like(alphas)])
    alpha_b = np.concatenate([alphas, alphas])
    boundary = torch.as_tensor(np.stack([edge, alpha_b], 1), dtype=torch.float64)
    interior = torch.as_tensor(np.asarray(inside, dtype=np.float64))
    bu = PDEProblem.boundary_value(boundary[:, 0], boundary[:, 1])
    return Collocation(interior, boundary, bu).to(device, dtype)
