"""Physics points of a :class:`~taskdd.tasks.pinn.geometry.GeometryFamily` over an alpha range.

Collocation (:func:`geometry_collocation`): Hammersley points of the box (points x alpha range) inside
(off a box: the geometry's own Hammersley points, paired with Hammersley alphas in a fixed
shuffled order);
``2 n_boundary`` Hammersley points on the spatial boundary (``n_boundary`` there and ``n_boundary``
at ``t = t0`` for time-dependent families; deepxde pairs their space and time coordinates by a
permutation, here drawn from a fixed seed), paired with Hammersley alphas of the range in a fixed
shuffled order; the boundary data, and the outward normals at Neumann points (off a box: deepxde's
``boundary_normal``). Off a box, deepxde's boundary points are checked to lie on the boundary.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from taskdd.errors import ConfigError
from taskdd.tasks.pinn.dde_import import import_deepxde, isolated_globals
from taskdd.tasks.pinn.geometry import GeometryFamily

__all__ = ["geometry_collocation"]


def _values(family: GeometryFamily, fn: Callable, what: str, pts: Tensor) -> Tensor:
    v = fn(pts[:, :-1], pts[:, -1])
    if not (isinstance(v, Tensor) and v.shape == pts[:, -1].shape):
        raise ConfigError(f"PDE family {family.name!r}: {what}(x, alpha) must return a tensor [m] "
                          f"({pts.shape[0]},), got {getattr(v, 'shape', type(v).__name__)}")
    return v


def _neumann_normals(family: GeometryFamily, edge: Tensor, n_rows: int) -> Tensor | None:
    """``[n_rows, dim]``: the outward unit normal at each spatial-boundary point of ``edge [k, dim]``
    where ``family.neumann`` holds (on a box, the face's; at a corner the normalised sum of its
    faces' normals, as deepxde's ``boundary_normal``, which gives them off a box), zero elsewhere
    (and on the rows after ``k``, the initial points); None without Neumann points."""
    if family.neumann is None:
        return None
    mask = family.neumann(edge)
    if not (isinstance(mask, Tensor) and mask.dtype == torch.bool and mask.shape == edge.shape[:1]):
        raise ConfigError(f"PDE family {family.name!r}: neumann(x) must return a bool tensor [m] "
                          f"({edge.shape[0]},), got {getattr(mask, 'dtype', type(mask).__name__)} "
                          f"{tuple(getattr(mask, 'shape', ()))}")
    normal = torch.zeros(n_rows, family.dim, dtype=torch.float64)
    if family.is_box:
        n_space = family.dim - (family.initial is not None)
        lo, hi = (torch.as_tensor(v[:n_space]) for v in family.box())
        tol = 1e-9 * (hi - lo)
        out = (edge[:, :n_space] - hi).abs() <= tol
        outward = out.double() - ((edge[:, :n_space] - lo).abs() <= tol).double()  # sum of the faces' normals
        normal[: edge.shape[0], :n_space] = outward / outward.norm(dim=1, keepdim=True).clamp_min(1.0)
    else:
        with isolated_globals():
            normal[: edge.shape[0]] = torch.as_tensor(np.asarray(family.geom().boundary_normal(edge.numpy()),
                                                                 dtype=np.float64))
    normal[: edge.shape[0]][~mask] = 0
    return normal if mask.any() else None


def _interior(family: GeometryFamily, g, dde, alpha_range: tuple[float, float], n: int) -> np.ndarray:
    """``[n, dim + 1]``: Hammersley points of box x alpha range; off a box, the geometry's own
    Hammersley points with Hammersley alphas in a fixed shuffled order."""
    lo, hi = family.box()
    if family.is_box:
        return dde.geometry.Hypercube([*lo, alpha_range[0]], [*hi, alpha_range[1]]).random_points(n, random="Hammersley")
    alphas = dde.geometry.Interval(*alpha_range).random_points(n, random="Hammersley")[:, 0]
    alphas = alphas[np.random.default_rng(1).permutation(n)]
    return np.concatenate([g.random_points(n, random="Hammersley"), alphas[:, None]], 1)


def _check_on_boundary(family: GeometryFamily, g, edge: np.ndarray) -> None:
    """Off a box, deepxde's boundary points must lie on the geometry's boundary (ConfigError)."""
    if family.is_box:
        return
    space, pts = (g.geometry, edge[:, :-1]) if family.initial is not None else (g, edge)
    off = ~np.asarray(space.on_boundary(pts))
    if off.any():
        raise ConfigError(f"PDE family {family.name!r}: deepxde's boundary sampler for {type(space).__name__} "
                          f"returned {int(off.sum())} of {len(pts)} points off the boundary (e.g. {pts[off][0].tolist()}); "
                          "try another n_boundary / score_boundary or another description of the geometry")


def geometry_collocation(family: GeometryFamily, alpha_range: tuple[float, float], n_interior: int,
                    n_boundary: int) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """``(interior [n_interior, dim + 1], boundary [2 n_boundary, dim + 1], values [2 n_boundary],
    neumann_dir [2 n_boundary, dim] or None)``, float64, columns (inputs..., alpha);
    ``neumann_dir``: the outward normal at Neumann points, zero elsewhere. The module doc says where the points lie."""
    g, dde = family.geom(), import_deepxde()
    lo, hi = family.box()
    with isolated_globals():
        np.random.seed(0)  # GeometryXTime pairs space and time with np.random.permutation (restored on exit)
        inside = _interior(family, g, dde, alpha_range, n_interior)
        if family.initial is None:
            edge, init = g.random_boundary_points(2 * n_boundary, random="Hammersley"), np.zeros((0, len(lo)))
        else:
            edge = g.random_boundary_points(n_boundary, random="Hammersley")
            init = g.random_initial_points(n_boundary, random="Hammersley")
        alphas = dde.geometry.Interval(*alpha_range).random_points(2 * n_boundary, random="Hammersley")[:, 0]
    alphas = alphas[np.random.default_rng(0).permutation(alphas.size)]
    _check_on_boundary(family, g, edge)
    pts = torch.as_tensor(np.concatenate([np.concatenate([edge, init]), alphas[:, None]], 1), dtype=torch.float64)
    k = edge.shape[0]
    values = [_values(family, family.boundary, "boundary", pts[:k])]
    if family.initial is not None:
        values.append(_values(family, family.initial, "initial", pts[k:]))
    normal = _neumann_normals(family, pts[:k, :-1], pts.shape[0])
    return torch.as_tensor(np.asarray(inside, dtype=np.float64)), pts, torch.cat(values), normal
