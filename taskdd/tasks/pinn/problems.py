"""Collocation points of a PDE family (:mod:`taskdd.tasks.pinn.families`) over an alpha range.

The families themselves (``PDEFamily``, the built-in ``poisson`` and ``nonlinear``, ``register_pde``,
``get_problem``) live in :mod:`~taskdd.tasks.pinn.families` and are re-exported here. Collocation
points come from deepxde's geometry (Hammersley sequences: deterministic, no random state).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from taskdd.errors import ConfigError
from taskdd.tasks.pinn.dde_import import import_deepxde, isolated_globals
from taskdd.tasks.pinn.families import PROBLEMS, Family, PDEFamily, as_family, get_problem, register_pde
from taskdd.tasks.pinn.geometry import GeometryFamily
from taskdd.tasks.pinn.geometry_collocation import geometry_collocation

PDEProblem = PDEFamily  # the name before families could be registered

__all__ = ["PDEProblem", "PDEFamily", "PROBLEMS", "get_problem", "register_pde", "Collocation", "sample_collocation",
           "check_alpha_range"]


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
    """Physics points over a family's domain ``x in [a, b]`` and an alpha range.

    interior: ``[n, 2]`` columns (x, alpha); boundary: ``[2m, 2]`` with x in {a, b};
    boundary_u: ``[2m]`` Dirichlet values at the boundary points. For a
    :class:`~taskdd.tasks.pinn.geometry.GeometryFamily`: ``[n, dim + 1]`` and ``[2m, dim + 1]``
    (inputs..., alpha), boundary and initial points together. neumann_dir: ``[2m, dim]``, the
    direction of the derivative that the boundary data give at each Neumann point (``+x`` at a 1D
    Neumann edge, where the data are ``u_x``; the outward normal on a geometry), zero at the others;
    None when there is no Neumann point.
    """

    interior: Tensor
    boundary: Tensor
    boundary_u: Tensor
    neumann_dir: Tensor | None = None

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Collocation":
        return Collocation(*(None if t is None else t.to(device=device, dtype=dtype)
                             for t in (self.interior, self.boundary, self.boundary_u, self.neumann_dir)))


def sample_collocation(alpha_range: tuple[float, float], n_interior: int, n_boundary: int, *,
                       pde: "str | Family", device=None, dtype: torch.dtype = torch.float32) -> Collocation:
    """Hammersley points of deepxde's ``Rectangle([a, lo], [b, hi])`` inside, and ``n_boundary``
    Hammersley alphas of ``Interval(lo, hi)`` on each of the edges x = a and x = b, where
    ``(a, b)`` is the domain of ``pde`` (a family or a registered name); the edge values are the
    family's ``boundary(x, alpha)``. A :class:`GeometryFamily`'s points come from
    :func:`~taskdd.tasks.pinn.geometry_collocation.geometry_collocation`."""
    family = as_family(pde)
    lo, hi = check_alpha_range("alpha_range", alpha_range)
    for name, n in (("n_interior", n_interior), ("n_boundary", n_boundary)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"{name} must be an int >= 1, got {n!r}")
    if isinstance(family, GeometryFamily):
        return Collocation(*geometry_collocation(family, (lo, hi), n_interior, n_boundary)).to(device, dtype)
    a, b = family.domain
    dde = import_deepxde()
    with isolated_globals():
        inside = dde.geometry.Rectangle([a, lo], [b, hi]).random_points(n_interior, random="Hammersley")
        alphas = dde.geometry.Interval(lo, hi).random_points(n_boundary, random="Hammersley")[:, 0]
    edge = np.concatenate([np.full_like(alphas, a), np.full_like(alphas, b)])
    alpha_b = np.concatenate([alphas, alphas])
    boundary = torch.as_tensor(np.stack([edge, alpha_b], 1), dtype=torch.float64)
    interior = torch.as_tensor(np.asarray(inside, dtype=np.float64))
    bu = family.boundary_value(boundary[:, 0], boundary[:, 1])
    if not (isinstance(bu, torch.Tensor) and bu.shape == boundary[:, 0].shape):
        raise ConfigError(f"PDE family {family.name!r}: boundary(x, alpha) must return a tensor of the shape of x "
                          f"{tuple(boundary[:, 0].shape)}, got {getattr(bu, 'shape', type(bu).__name__)}")
    mask = family.neumann_mask(boundary[:, 0])
    return Collocation(interior, boundary, bu, None if mask is None else mask.double()[:, None]).to(device, dtype)
