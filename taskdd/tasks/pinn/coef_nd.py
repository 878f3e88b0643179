"""Unknown PDE coefficients on a geometry: :class:`CoefGeometryFamily`, the inverse problem's
family on 2D space or space and time (deepxde's own ``diffusion_1d_inverse`` example is of this
kind), and the shipped ``heat-k``.

A :class:`CoefGeometryFamily` is a :class:`~taskdd.tasks.pinn.geometry.GeometryFamily` whose
residual is ``coef_pde(x, u, d, k)`` (``k`` broadcasts against ``u``: a float, or ``[E, 1]`` for a
stack of networks), with ``true_coef`` and ``coef_reference(x, alpha, k)`` as for
:class:`~taskdd.tasks.pinn.coef.CoefFamily`.

``heat-k``: the shipped ``heat`` family (``u_t = k u_xx`` on ``x, t in [0, 1]``, ``u(0, t) =
alpha``, ``u(1, t) = 0``, ``u(x, 0) = sin(pi x) + alpha (1 - x)``) with ``k`` unknown, true
``k = 0.1``: ``u = alpha (1 - x) + sin(pi x) exp(-k pi^2 t)``. The data see ``k`` through the decay
of the sine; the boundary and initial data do not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import numpy as np
from torch import Tensor

from taskdd.tasks.pinn.coef import CoefFamily, check_coef_args
from taskdd.tasks.pinn.families import register_pde
from taskdd.tasks.pinn.families_nd import HEAT_K, _heat_boundary, _heat_initial, _unit_interval_x_time
from taskdd.tasks.pinn.geometry import GeometryFamily, Partials

__all__ = ["CoefGeometryFamily", "COEF_FAMILIES", "HEAT_COEF"]


@dataclass(frozen=True, eq=False, init=False, repr=False)
class CoefGeometryFamily(GeometryFamily):
    """A family on a geometry with one unknown coefficient (module doc); other settings as
    :class:`GeometryFamily` (``initial``, ``second``, ``neumann``, ``quantile``, ``alpha_limit``)."""

    coef_pde: Optional[Callable] = None
    true_coef: float = 1.0
    coef_reference: Optional[Callable] = None

    def __init__(self, name: str, coef_pde: Callable, geometry, boundary: Callable, true_coef: float = 1.0,
                 coef_reference: Callable | None = None, **options):
        check_coef_args(name, coef_pde, true_coef, coef_reference)
        for k, v in (("coef_pde", coef_pde), ("true_coef", float(true_coef)), ("coef_reference", coef_reference)):
            object.__setattr__(self, k, v)
        ref = None if coef_reference is None else partial(coef_reference, k=float(true_coef))
        super().__init__(name, partial(coef_pde, k=float(true_coef)), geometry, boundary, reference=ref, **options)
        object.__setattr__(self, "_options", options)

    def at(self, coef: float) -> "CoefGeometryFamily":
        """The same family with ``true_coef = coef`` (e.g. a learner's wrong prior)."""
        return CoefGeometryFamily(self.name, self.coef_pde, self.geometry, self.boundary, coef, self.coef_reference,
                                  **self._options)

    def residual_with(self, coef: Tensor, x: Tensor, u: Tensor, d: Partials) -> Tensor:
        """The residual with coefficient ``coef`` (broadcasting against ``u``), checked like :meth:`residual`."""
        return self.residual(x, u, d, pde=partial(self.coef_pde, k=coef))

    def __repr__(self) -> str:
        return f"CoefGeometryFamily({self.name!r}, true_coef={self.true_coef})"


#: the families the inverse task takes
COEF_FAMILIES = (CoefFamily, CoefGeometryFamily)


def _heat_k_pde(x: Tensor, u: Tensor, d: Partials, k) -> Tensor:
    return d.du(1) - k * d.d2u(0)


def _heat_k_reference(x: np.ndarray, alpha: np.ndarray, k: float) -> np.ndarray:
    return alpha * (1 - x[:, 0]) + np.sin(np.pi * x[:, 0]) * np.exp(-k * np.pi**2 * x[:, 1])


HEAT_COEF = register_pde(CoefGeometryFamily("heat-k", _heat_k_pde, _unit_interval_x_time, _heat_boundary, HEAT_K,
                                            _heat_k_reference, initial=_heat_initial, second=(0,)))
