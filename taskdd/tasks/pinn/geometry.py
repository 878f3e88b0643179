"""PDE families on more than one input: 2D space (deepxde ``Rectangle``) or space and time
(``GeometryXTime(Interval, TimeDomain)``), through the general derivative path.

A :class:`GeometryFamily` is:

- ``pde(x, u, d) -> residual``: ``x [n, dim]`` the points (columns in the geometry's order; the
  time last for ``GeometryXTime``), ``u [E, n]``, ``d`` a :class:`Partials` with ``d.du(i)``
  (``du/dx_i``) and ``d.d2u(i)`` (``d^2u/dx_i^2``, for the inputs listed in ``second``), each
  ``[E, n]``. Columns of ``x`` (``x[:, 0]``, shape ``[n]``) broadcast against ``u``. The result
  must have ``u``'s shape (ConfigError otherwise).
- ``geometry``: the deepxde geometry, or a function of no arguments returning it (so defining a
  family does not import deepxde). Box geometries only: ``Rectangle`` / ``Hypercube``, or
  ``GeometryXTime`` over an ``Interval`` or a box.
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
        """The deepxde geometry (built on first use), checked: a box of 2+ inputs."""
        cached = self.__dict__.get("_geom")
        if cached is not None:
            return cached
        dde = import_deepxde()
        g = self.geometry
        if callable(g):  # a factory (deepxde's geometries are not callable)
            with isolated_globals():
                g = g()
        box = _box_of(dde, g)
        if box is None:
            raise ConfigError(f"PDE family {self.name!r}: geometry must be a deepxde Rectangle / Hypercube or a "
                              f"GeometryXTime over an Interval or a box (for 1D use PDEFamily), got {g!r}")
        time = isinstance(g, dde.geometry.GeometryXTime)
        if time != (self.initial is not None):
            raise ConfigError(f"PDE family {self.name!r}: an initial condition is "
                              f"{'required' if time else 'only for GeometryXTime'}")
        dim = len(box[0])
        if self.second is not None and not all(isinstance(i, int) and 0 <= i < dim for i in self.second):
            raise ConfigError(f"PDE family {self.name!r}: second must list input indices in [0, {dim}), "
                              f"got {self.second!r}")
        object.__setattr__(self, "_box", box)
        object.__setattr__(self, "_geom", g)
        return g

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
        """``x [n, dim]`` clamped into the box, in place."""
        lo, hi = (torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in self.box())
        return x.clamp_(lo, hi)

    def grid(self, n: int) -> Tensor:
        """``[n^dim, dim]`` float64: ``n`` uniform values per input over the box (first input slowest)."""
        axes = [torch.linspace(a, b, n, dtype=torch.float64) for a, b in zip(*self.box())]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, self.dim)

    def line(self, n: int) -> Tensor:
        """``[n, dim]`` float64: ``n`` points along the first input, the others at the box's middle."""
        lo, hi = self.box()
        pts = torch.as_tensor((lo + hi) / 2).repeat(n, 1)
        pts[:, 0] = torch.linspace(lo[0], hi[0], n, dtype=torch.float64)
        return pts

    def residual(self, x: Tensor, u: Tensor, d: Partials) -> Tensor:
        """``pde(x, u, d)``, checked to have ``u``'s shape."""
        r = self.pde(x, u, d)
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

    def normal_derivative(self, spec, params: Tensor, inputs: Tensor, normal: Tensor) -> Tensor:
        """``du/dn [E, m]`` of the networks at ``inputs [m, dim + 1]`` along ``normal [m, dim]``
        (graph kept)."""
        with torch.enable_grad():
            pts = inputs.detach().expand(params.shape[0], *inputs.shape).clone().requires_grad_(True)
            (du,) = torch.autograd.grad(spec.forward(params, pts).sum(), pts, create_graph=True)
        return (du[..., :-1] * normal).sum(-1)


def _box_of(dde, g) -> tuple[np.ndarray, np.ndarray] | None:
    """The bounding box of a box geometry of 2+ inputs (time last), None for any other."""
    if isinstance(g, dde.geometry.GeometryXTime):
        space = g.geometry
        if not isinstance(space, (dde.geometry.Interval, dde.geometry.Hypercube)):
            return None
        lo, hi = (np.asarray(v, dtype=np.float64).reshape(-1) for v in space.bbox)
        return np.append(lo, g.timedomain.t0), np.append(hi, g.timedomain.t1)
    if isinstance(g, dde.geometry.Hypercube) and len(g.bbox[0]) >= 2:
        return tuple(np.asarray(v, dtype=np.float64) for v in g.bbox)
    return None
