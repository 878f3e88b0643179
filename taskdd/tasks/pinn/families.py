"""PDE families of the PINN task, in deepxde's terms, and their registry.

A family is a 1D problem on an interval ``domain = (a, b)`` with a boundary parameter ``alpha``:

- ``pde(x, u, d) -> residual``: ``x`` broadcasts against ``u`` (``x [n]`` with ``u [E, n]`` in
  the task's losses, ``x [n, 1]`` with ``u [n, 1]`` in deepxde's form); ``d`` is a
  :class:`Derivatives` with ``d.u_xx`` (same shape as ``u``) always and ``d.u_x`` only when the
  family declares ``uses_u_x=True`` (None otherwise). Elementwise torch operations only.
- ``boundary(x, alpha) -> g``: the boundary data at the edges ``x = a`` and ``x = b`` (tensors of
  one shape; called once for both edges, so branch on ``x`` with ``torch.where``): Dirichlet
  ``u = g``, or Neumann ``u_x = g`` at the edges where ``neumann = (at_a, at_b)`` is True.
- ``reference(x, alpha) -> u``: the exact solution, on float64 numpy arrays ``[N]`` (returns an
  array ``[N]``), or None: :func:`data_gen.pinn.reference_solution` then raises ConfigError.
- ``quantile``, ``alpha_limit``: the default alpha tails of :func:`data_gen.pinn.make_pinn_problem`
  (training alphas from the lower ``quantile`` tail of N(0, 1), test alphas from the upper one,
  both cut at ``+-alpha_limit``, the declared range of use).

Families whose residual needs only ``u, u_xx`` use the explicit second-derivative pass
(:meth:`~taskdd.nets.MLP.forward_d2`); ``uses_u_x=True`` takes both derivatives by autograd with
respect to per-network copies of the collocation points (slower, any activation).
The built-in families ``poisson`` and ``nonlinear`` are :class:`CubicFamily` instances;
``advection-diffusion`` has a first derivative (the general path). Families
on 2D space or space and time are :class:`~taskdd.tasks.pinn.geometry.GeometryFamily` instances
(the shipped ``poisson2d`` and ``heat``: :mod:`~taskdd.tasks.pinn.families_nd`); the registry
holds both kinds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from importlib.metadata import entry_points
from typing import Callable, NamedTuple, Optional

import numpy as np
import torch
from torch import Tensor

from taskdd.errors import ConfigError
from taskdd.tasks.pinn.dde_import import import_deepxde
from taskdd.tasks.pinn.families_nd import HEAT, POISSON2D
from taskdd.tasks.pinn.geometry import GeometryFamily

__all__ = ["Derivatives", "PDEFamily", "CubicFamily", "Family", "PROBLEMS", "PDE_ENTRY_POINT_GROUP", "register_pde",
           "get_problem", "pde_names", "as_family"]

#: packages make their families known to every process (the command line too) with an entry point
#: in this group: ``[project.entry-points."taskdd.pdes"] my-pde = "mypkg.pdes:MY_FAMILY"``
PDE_ENTRY_POINT_GROUP = "taskdd.pdes"


class Derivatives(NamedTuple):
    """What a residual receives besides ``x, u``: ``u_x`` (None unless ``uses_u_x``) and ``u_xx``."""

    u_x: Optional[Tensor]
    u_xx: Tensor


@dataclass(frozen=True, eq=False)
class PDEFamily:
    """A PDE family (see the module doc): name, residual ``pde(x, u, d)``, Dirichlet ``boundary(x,
    alpha)``, ``domain (a, b)``, ``reference(x, alpha)`` or None, ``uses_u_x``."""

    name: str
    pde: Callable[[Tensor, Tensor, Derivatives], Tensor]
    boundary: Callable[[Tensor, Tensor], Tensor]
    domain: tuple[float, float] = (0.0, 1.0)
    reference: Optional[Callable[[np.ndarray, np.ndarray], np.ndarray]] = None
    uses_u_x: bool = False
    quantile: float = 0.16
    alpha_limit: float = 3.0
    neumann: tuple[bool, bool] = (False, False)

    def __post_init__(self):
        if not (isinstance(self.name, str) and self.name):
            raise ConfigError(f"a PDE family's name must be a non-empty string, got {self.name!r}")
        for field in ("pde", "boundary"):
            if not callable(getattr(self, field)):
                raise ConfigError(f"PDE family {self.name!r}: {field} must be callable, got {getattr(self, field)!r}")
        if self.reference is not None and not callable(self.reference):
            raise ConfigError(f"PDE family {self.name!r}: reference must be callable or None, got {self.reference!r}")
        try:
            a, b = (float(v) for v in self.domain)
        except (TypeError, ValueError):
            raise ConfigError(f"PDE family {self.name!r}: domain must be a pair (a, b), got {self.domain!r}") from None
        if not (math.isfinite(a) and math.isfinite(b) and a < b):
            raise ConfigError(f"PDE family {self.name!r}: domain must be finite with a < b, got {self.domain!r}")
        object.__setattr__(self, "domain", (a, b))
        if not (isinstance(self.neumann, (tuple, list)) and len(self.neumann) == 2
                and all(isinstance(v, bool) for v in self.neumann)):
            raise ConfigError(f"PDE family {self.name!r}: neumann must be a pair of bools (at a, at b), "
                              f"got {self.neumann!r}")
        object.__setattr__(self, "neumann", tuple(self.neumann))
        if not (isinstance(self.quantile, (int, float)) and 0 < self.quantile < 0.5):
            raise ConfigError(f"PDE family {self.name!r}: quantile must be in (0, 0.5), got {self.quantile!r}")
        if not (isinstance(self.alpha_limit, (int, float)) and 0 < self.alpha_limit < math.inf):
            raise ConfigError(f"PDE family {self.name!r}: alpha_limit must be a finite number > 0, "
                              f"got {self.alpha_limit!r}")

    @property
    def dim(self) -> int:
        """The number of inputs besides alpha: 1 (x)."""
        return 1

    def residual(self, x: Tensor, u: Tensor, u_xx: Tensor, u_x: Tensor | None = None) -> Tensor:
        """The PDE residual at ``x`` (broadcasting shapes)."""
        if self.uses_u_x and u_x is None:
            raise ConfigError(f"PDE family {self.name!r} uses u_x, but no u_x was given")
        return self.pde(x, u, Derivatives(u_x if self.uses_u_x else None, u_xx))

    def boundary_value(self, x: Tensor, alpha: Tensor) -> Tensor:
        """Dirichlet data at the edge points ``x`` (same shape as ``x``)."""
        return self.boundary(x, alpha)

    def neumann_mask(self, x: Tensor) -> Tensor | None:
        """Bool ``[m]``: which edge points ``x [m]`` carry a Neumann condition (None: none do)."""
        if not any(self.neumann):
            return None
        return ((x == self.domain[0]) & self.neumann[0]) | ((x == self.domain[1]) & self.neumann[1])

    def deepxde_pde(self) -> Callable[[Tensor, Tensor], Tensor]:
        """The residual in deepxde's ``pde(inputs [n, 2], u [n, 1]) -> [n, 1]`` form, inputs ``(x, alpha)``."""
        dde = import_deepxde()

        def pde(inputs: Tensor, u: Tensor) -> Tensor:
            u_xx = dde.grad.hessian(u, inputs, i=0, j=0)
            u_x = dde.grad.jacobian(u, inputs, i=0, j=0) if self.uses_u_x else None
            return self.residual(inputs[:, :1], u, u_xx, u_x)

        return pde


def _forcing(x: Tensor) -> Tensor:
    return math.pi**2 * torch.sin(math.pi * x)


def _left_alpha_right_zero(x: Tensor, alpha: Tensor) -> Tensor:
    """``alpha`` at x = 0, 0 at x = 1."""
    return torch.where(x < 0.5, alpha, torch.zeros_like(alpha))


def _poisson_reference(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.sin(math.pi * x) + alpha * (1 - x)


def _cubic_pde(cubic: float, x: Tensor, u: Tensor, d: Derivatives) -> Tensor:
    r = -d.u_xx - _forcing(x)
    return r + cubic * u**3 if cubic else r


@dataclass(frozen=True, eq=False, init=False, repr=False)
class CubicFamily(PDEFamily):
    """``-u'' + cubic u^3 = pi^2 sin(pi x)`` on [0, 1], ``u(0) = alpha``, ``u(1) = 0``. Reference:
    the closed form ``sin(pi x) + alpha (1 - x)`` when ``cubic = 0``, finite differences otherwise
    (:func:`data_gen.pinn.solve_fd`)."""

    cubic: float = 0.0

    def __init__(self, name: str, cubic: float):
        object.__setattr__(self, "cubic", float(cubic))
        super().__init__(name, partial(_cubic_pde, float(cubic)), _left_alpha_right_zero, (0.0, 1.0),
                         _poisson_reference if cubic == 0 else None, False)

    forcing = staticmethod(_forcing)

    def __repr__(self) -> str:
        return f"CubicFamily({self.name!r}, cubic={self.cubic})"


def _advection_diffusion_pde(x: Tensor, u: Tensor, d: Derivatives) -> Tensor:
    return -d.u_xx + d.u_x - (_forcing(x) + math.pi * torch.cos(math.pi * x))


def _advection_diffusion_reference(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return np.sin(math.pi * x) + alpha * (math.e - np.exp(x)) / (math.e - 1)


#: ``-u'' + u' = pi^2 sin(pi x) + pi cos(pi x)`` on [0, 1], ``u(0) = alpha``, ``u(1) = 0``:
#: ``u = sin(pi x) + alpha (e - e^x) / (e - 1)``.
ADVECTION_DIFFUSION = PDEFamily("advection-diffusion", _advection_diffusion_pde, _left_alpha_right_zero,
                                (0.0, 1.0), _advection_diffusion_reference, uses_u_x=True)

Family = PDEFamily | GeometryFamily

PROBLEMS: dict[str, Family] = {
    "poisson": CubicFamily("poisson", 0.0),
    "nonlinear": CubicFamily("nonlinear", 1.0),
    "advection-diffusion": ADVECTION_DIFFUSION,
    "poisson2d": POISSON2D,
    "heat": HEAT,
}


def register_pde(family: Family, *, replace: bool = False) -> Family:
    """Make ``family`` known by its name (to :func:`get_problem`, ``PINNTask(pde=name)``,
    ``data_gen.pinn.make_pinn_problem`` and the pinn-ood case study). A taken name is a
    ConfigError unless ``replace=True``; registering the same object again is fine."""
    if not isinstance(family, (PDEFamily, GeometryFamily)):
        raise ConfigError(f"register_pde takes a PDEFamily or a GeometryFamily, got {type(family).__name__}")
    taken = PROBLEMS.get(family.name)
    if taken is not None and taken is not family and not replace:
        raise ConfigError(f"pde name {family.name!r} is taken; pass replace=True to replace it or choose another "
                          f"(known pdes: {', '.join(PROBLEMS)})")
    PROBLEMS[family.name] = family
    return family


def _from_entry_point(name: str) -> None:
    """Load and register the family that a ``taskdd.pdes`` entry point called ``name`` names, if any."""
    ep = next((e for e in entry_points(group=PDE_ENTRY_POINT_GROUP) if e.name == name), None)
    if ep is None:
        return
    try:
        family = ep.load()
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"pde {name!r} (entry point {ep.value!r}) cannot be loaded: {e}") from None
    if not isinstance(family, (PDEFamily, GeometryFamily)) or family.name != name:
        raise ConfigError(f"entry point {name!r} = {ep.value!r} in group {PDE_ENTRY_POINT_GROUP!r} must name a "
                          f"PDEFamily or GeometryFamily called {name!r}, got {family!r}")
    register_pde(family)


def pde_names() -> list[str]:
    """Every known family name: the registered ones, then those of ``taskdd.pdes`` entry points."""
    return [*PROBLEMS, *(e.name for e in entry_points(group=PDE_ENTRY_POINT_GROUP) if e.name not in PROBLEMS)]


def get_problem(name: str) -> Family:
    """The PDE family called ``name``, registered or from an entry point (ConfigError listing the
    known ones otherwise)."""
    if isinstance(name, str) and name not in PROBLEMS:
        _from_entry_point(name)
    if not isinstance(name, str) or name not in PROBLEMS:
        raise ConfigError(f"unknown pde {name!r}; known pdes: {', '.join(pde_names())}")
    return PROBLEMS[name]


def as_family(pde: "str | Family") -> Family:
    """``pde`` itself if it is a family (1D or on a geometry), else the registered family of that name."""
    return pde if isinstance(pde, (PDEFamily, GeometryFamily)) else get_problem(pde)
