"""PDE families on more than one input: 2D space (a deepxde geometry) or space and time
(``GeometryXTime(Interval or a 2D+ geometry, TimeDomain)``), through the general derivative path.

A :class:`GeometryFamily` is:

- ``pde(x, u, d) -> residual``: ``x [n, dim]`` the points (columns in the geometry's order; the
  time last for ``GeometryXTime``), ``u [E, n]``, ``d`` a :class:`Partials` with ``d.du(i)``
  (``du/dx_i``) and ``d.d2u(i)`` (``d^2u/dx_i^2``, for the inputs listed in ``second``), each
  ``[E, n]``. Columns of ``x`` (``x[:, 0]``, shape ``[n]``) broadcast against ``u``. The result
  must have ``u``'s shape (ConfigError otherwise).
- ``geometry``: the deepxde geometry, or a function of no arguments returning it (so defining a
  family does not import deepxde): any deepxde geometry of 2+ dimensions (``Rectangle``,
  ``Disk``, ``Polygon``, a CSG union / difference, ...), or ``GeometryXTime`` over one of them or an
  ``Interval``. Boxes keep their own exact sampling; on any other geometry the interior points come
  from the geometry's sampler, the measurements by rejection from the bounding box, test grids and
  lines keep their points inside, and synthetic points are projected in along the segment to an
  interior point (:meth:`GeometryFamily.clamp_`).
- ``boundary(x, alpha) -> g``: boundary data at spatial-boundary points ``x [m, dim]`` (``g [m]``):
  Dirichlet ``u = g``, or Neumann ``du/dn = g`` (the outward normal derivative) at the points where
  ``neumann(x) -> bool [m]`` is True (``neumann=None``: Dirichlet everywhere); ``initial(x,
  alpha)``: the initial condition ``u = g`` at ``t = t0`` (required for ``GeometryXTime``, refused
  otherwise).
- ``reference(x, alpha)``: the exact solution on float64 numpy arrays ``x [N, dim]``, ``alpha
  [N]`` -> ``[N]``, or None.
- ``second``: the inputs whose second derivatives the residual needs (None: all).

Derivatives are taken by nested reverse-mode autograd over the whole network stack (the task's
``derivatives="general"`` path; the explicit pass does not serve these families). Alpha is the
last network input. The physics points: :mod:`~taskdd.tasks.pinn.geometry_collocation`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import Tensor

from taskdd.errors import ConfigError
from taskdd.tasks.pinn.dde_import import import_deepxde, isolated_globals

__all__ = ["Partials", "GeometryFamily"]


class Partials:
    """First derivatives ``du(i)`` of every input and second derivatives ``d2u(i)`` of the inputs
    a :class:`GeometryFamily` lists in ``second``; each ``[E, n]``."""

    def __init__(self, first: Tensor, second: dict[int, Tensor]):
        self._first, self._second = first, second

    def du(self, i: int) -> Tensor:
        """``du / dx_i``."""
        return self._first[..., i]

    def d2u(self, i: int) -> Tensor:
        """``d^2 u / dx_i^2`` (ConfigError unless the family lists input ``i`` in ``second``)."""
        if i not in self._second:
            raise ConfigError(f"d2u({i}) was not computed: list input {i} in the family's "
                              f"second={sorted(self._second)}")
        return self._second[i]


@dataclass(frozen=True, eq=False)
class GeometryFamily:
    """A PDE family on a deepxde box geometry of 2 or more inputs (see the module doc)."""

    name: str
    pde: Callable[[Tensor, Tensor, Partials], Tensor]
    geometry: Any
    boundary: Callable[[Tensor, Tensor], Tensor]
    initial: Optional[Callable[[Tensor, Tensor], Tensor]] = None
    reference: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None
    second: Optional[tuple[int, ...]] = None
    neumann: Optional[Callable[[Tensor], Tensor]] = None
    quantile: float = 0.16
    alpha_limit: float = 3.0

    def __post_init__(self):
        if not (isinstance(self.name, str) and self.name):
            raise ConfigError(f"a PDE family's name must be a non-empty string, got {self.name!r}")
        for field in ("pde", "boundary", "initial", "reference", "neumann"):
            v = getattr(self, field)
            if v is not None and not callable(v) or v is None and field in ("pde", "boundary"):
                raise ConfigError(f"PDE family {self.name!r}: {field} must be callable, got {v!r}")
        if not (isinstance(self.quantile, (int, float)) and 0 < self.quantile < 0.5):
            raise ConfigError(f"PDE family {self.name!r}: quantile must be in (0, 0.5), got {self.quantile!r}")
        if not (isinstance(self.alpha_limit, (int, float)) and 0 < self.alpha_limit < math.inf):
            raise ConfigError(f"PDE family {self.name!r}: alpha_limit must be a finite number > 0, "
                              f"got {self.alpha_limit!r}")
        if not callable(self.geometry):  # a geometry object: check it now (a factory: on first use)
            self.geom()

    def geom(self) -> Any:
        """The deepxde geometry (built on first use), checked: 2+ inputs."""
        cached = self.__dict__.get("_geom")
        if cached is not None:
            return cached
        dde = import_deepxde()
        g = self.geometry
        if callable(g):  # a factory (deepxde's geometries are not callable)
            with isolated_globals():
                g = g()
        bounds = _bounds_of(dde, g)
        if bounds is None:
            raise ConfigError(f"PDE family {self.name!r}: geometry must be a deepxde geometry of 2+ dimensions or a "
                              f"GeometryXTime (for 1D use PDEFamily), got {g!r}")
        *box, is_box = bounds
        time = isinstance(g, dde.geometry.GeometryXTime)
        if time != (self.initial is not None):
            raise ConfigError(f"PDE family {self.name!r}: an initial condition is "
                              f"{'required' if time else 'only for GeometryXTime'}")
        dim = len(box[0])
        if self.second is not None and not all(isinstance(i, int) and 0 <= i < dim for i in self.second):
            raise ConfigError(f"PDE family {self.name!r}: second must list input indices in [0, {dim}), "
                              f"got {self.second!r}")
        object.__setattr__(self, "_box", tuple(box))
        object.__setattr__(self, "_is_box", is_box)
        object.__setattr__(self, "_geom", g)
        return g

    @property
    def is_box(self) -> bool:
        """Whether the geometry is its bounding box (a Rectangle / Hypercube, in time or not)."""
        self.geom()
        return self._is_box

    def inside(self, x: Tensor) -> Tensor:
        """Bool ``[n]``: which points ``x [n, dim]`` lie in the geometry (boundary included)."""
        lo, hi = (torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in self.box())
        within = ((x >= lo) & (x <= hi)).all(-1)
        if self.is_box:
            return within
        g, space = self.geom(), x.detach().cpu().double().numpy()
        space_geom = g.geometry if self.initial is not None else g
        space = space[:, :-1] if self.initial is not None else space
        return within & torch.as_tensor(np.asarray(space_geom.inside(space)), device=x.device)

    def sample_uniform(self, n: int, generator: torch.Generator) -> Tensor:
        """``[n, dim]`` float64 points uniform over the geometry (rejection from the bounding box)."""
        lo, hi = (torch.as_tensor(v) for v in self.box())
        if self.is_box:
            return lo + (hi - lo) * torch.rand(n, self.dim, generator=generator, dtype=torch.float64)
        kept, got = [], 0
        for _ in range(1000):
            x = lo + (hi - lo) * torch.rand(max(2 * n, 64), self.dim, generator=generator, dtype=torch.float64)
            x = x[self.inside(x)]
            kept.append(x)
            got += len(x)
            if got >= n:
                return torch.cat(kept)[:n]
        raise ConfigError(f"PDE family {self.name!r}: the geometry fills too little of its bounding box to sample")

    @property
    def dim(self) -> int:
        """The number of inputs besides alpha."""
        self.geom()
        return len(self._box[0])

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lo [dim], hi [dim])``: the geometry's bounding box (float64)."""
        self.geom()
        return self._box

    def clamp_(self, x: Tensor) -> Tensor:
        """``x [n, dim]`` into the geometry, in place: clamped into the box; off a box, a point still
        outside moves in along the segment to an interior point (bisection; exact for a domain
        star-shaped about that point, inside in any case)."""
        lo, hi = (torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in self.box())
        x.clamp_(lo, hi)
        out = ~self.inside(x) if not self.is_box else None
        if out is None or not out.any():
            return x
        c = self._center().to(x)
        far, near = x[out] - c, torch.zeros(int(out.sum()), 1, dtype=x.dtype, device=x.device)
        t_hi = torch.ones_like(near)
        for _ in range(40):
            mid = (near + t_hi) / 2
            ok = self.inside(c + mid * far)[:, None]
            near, t_hi = torch.where(ok, mid, near), torch.where(ok, t_hi, mid)
        x[out] = c + near * far
        return x

    def _center(self) -> Tensor:
        """A fixed interior point: the inside grid point nearest the bounding box's centre."""
        pts, mid = self.grid(21), torch.as_tensor(sum(self.box()) / 2)
        return pts[(pts - mid).norm(dim=1).argmin()]

    def grid(self, n: int) -> Tensor:
        """``[m, dim]`` float64: ``n`` uniform values per input over the box (first input slowest),
        the points inside the geometry (all ``n^dim`` on a box)."""
        axes = [torch.linspace(a, b, n, dtype=torch.float64) for a, b in zip(*self.box())]
        pts = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, self.dim)
        return pts if self.is_box else pts[self.inside(pts)]

    def line(self, n: int) -> Tensor:
        """``[m, dim]`` float64: ``n`` points along the first input, the others at the box's middle
        (those inside the geometry)."""
        lo, hi = self.box()
        pts = torch.as_tensor((lo + hi) / 2).repeat(n, 1)
        pts[:, 0] = torch.linspace(lo[0], hi[0], n, dtype=torch.float64)
        return pts if self.is_box else pts[self.inside(pts)]

    def residual(self, x: Tensor, u: Tensor, d: Partials, *, pde: Callable | None = None) -> Tensor:
        """``pde(x, u, d)`` (the family's own unless another is given), checked to have ``u``'s shape."""
        r = (self.pde if pde is None else pde)(x, u, d)
        if not (isinstance(r, Tensor) and r.shape == u.shape):
            raise ConfigError(f"PDE family {self.name!r}: pde(x, u, d) must return a tensor of u's shape "
                              f"{tuple(u.shape)}, got {getattr(r, 'shape', type(r).__name__)}")
        return r

    def partials(self, spec, params: Tensor, inputs: Tensor) -> tuple[Tensor, Partials]:
        """``(u [E, n], Partials)`` of the networks ``params [E, P]`` at ``inputs [n, dim + 1]``, by
        autograd w.r.t. per-network copies of the inputs (graph kept)."""
        dims = range(self.dim) if self.second is None else self.second
        with torch.enable_grad():
            pts = inputs.detach().expand(params.shape[0], *inputs.shape).clone().requires_grad_(True)
            u = spec.forward(params, pts).squeeze(-1)
            (du,) = torch.autograd.grad(u.sum(), pts, create_graph=True)
            second = {i: torch.autograd.grad(du[..., i].sum(), pts, create_graph=True)[0][..., i] for i in dims}
        return u, Partials(du, second)

    def deepxde_pde(self) -> Callable[[Tensor, Tensor], Tensor]:
        """The residual in deepxde's ``pde(inputs [n, dim + 1], u [n, 1]) -> [n, 1]`` form (alpha last),
        derivatives by ``dde.grad.jacobian`` / ``hessian``; ``pde`` sees ``u`` as ``[1, n]``."""
        dde = import_deepxde()
        dims = range(self.dim) if self.second is None else self.second

        def pde(inputs: Tensor, u: Tensor) -> Tensor:
            first = torch.cat([dde.grad.jacobian(u, inputs, i=0, j=j) for j in range(self.dim)], 1)
            second = {i: dde.grad.hessian(u, inputs, i=i, j=i).T for i in dims}
            return self.residual(inputs[:, :-1], u.T, Partials(first[None], second)).T

        return pde


def _bounds_of(dde, g) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """``(lo, hi, is_box)``: the bounding box of a geometry of 2+ inputs (time last) and whether it
    is the geometry itself; None for anything else (an Interval, not a geometry)."""
    if isinstance(g, dde.geometry.GeometryXTime):
        space = g.geometry
        lo, hi = (np.asarray(v, dtype=np.float64).reshape(-1) for v in space.bbox)
        return (np.append(lo, g.timedomain.t0), np.append(hi, g.timedomain.t1),
                isinstance(space, (dde.geometry.Interval, dde.geometry.Hypercube)))
    if isinstance(g, dde.geometry.Geometry) and not isinstance(g, dde.geometry.Interval) and g.dim >= 2:
        lo, hi = (np.asarray(v, dtype=np.float64) for v in g.bbox)
        return lo, hi, isinstance(g, dde.geometry.Hypercube)
    return None
