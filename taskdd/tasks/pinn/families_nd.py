"""The shipped multi-input families (:class:`~taskdd.tasks.pinn.geometry.GeometryFamily`), both
with closed-form references:

- ``poisson2d``: ``-(u_xx + u_yy) = 2 pi^2 sin(pi x) sin(pi y)`` on the unit square, ``u = alpha
  sin(pi y)`` on the edge ``x = 0`` and ``u = 0`` on the other three; ``u = sin(pi x) sin(pi y) +
  alpha sin(pi y) sinh(pi (1 - x)) / sinh(pi)`` (the second term is harmonic).
- ``heat``: ``u_t = k u_xx`` (``k = 0.1``) on ``x, t in [0, 1]``, ``u(0, t) = alpha``, ``u(1, t) =
  0``, ``u(x, 0) = sin(pi x) + alpha (1 - x)``; ``u = alpha (1 - x) + sin(pi x) exp(-k pi^2 t)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from taskdd.tasks.pinn.dde_import import import_deepxde
from taskdd.tasks.pinn.geometry import GeometryFamily, Partials

__all__ = ["POISSON2D", "HEAT", "HEAT_K"]

HEAT_K = 0.1


def _unit_square():
    return import_deepxde().geometry.Rectangle([0.0, 0.0], [1.0, 1.0])


def _unit_interval_x_time():
    dde = import_deepxde()
    return dde.geometry.GeometryXTime(dde.geometry.Interval(0.0, 1.0), dde.geometry.TimeDomain(0.0, 1.0))


def _poisson2d_pde(x: Tensor, u: Tensor, d: Partials) -> Tensor:
    f = 2 * math.pi**2 * torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1])
    return -d.d2u(0) - d.d2u(1) - f


def _poisson2d_boundary(x: Tensor, alpha: Tensor) -> Tensor:
    return torch.where(x[:, 0] < 0.5, alpha * torch.sin(math.pi * x[:, 1]), torch.zeros_like(alpha))


def _poisson2d_reference(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    s = np.sin(np.pi * x[:, 1])
    return np.sin(np.pi * x[:, 0]) * s + alpha * s * np.sinh(np.pi * (1 - x[:, 0])) / np.sinh(np.pi)


def _heat_pde(x: Tensor, u: Tensor, d: Partials) -> Tensor:
    return d.du(1) - HEAT_K * d.d2u(0)


def _heat_boundary(x: Tensor, alpha: Tensor) -> Tensor:
    return torch.where(x[:, 0] < 0.5, alpha, torch.zeros_like(alpha))


def _heat_initial(x: Tensor, alpha: Tensor) -> Tensor:
    return torch.sin(math.pi * x[:, 0]) + alpha * (1 - x[:, 0])


def _heat_reference(x: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return alpha * (1 - x[:, 0]) + np.sin(np.pi * x[:, 0]) * np.exp(-HEAT_K * np.pi**2 * x[:, 1])


POISSON2D = GeometryFamily("poisson2d", _poisson2d_pde, _unit_square, _poisson2d_boundary,
                           reference=_poisson2d_reference)
HEAT = GeometryFamily("heat", _heat_pde, _unit_interval_x_time, _heat_boundary, initial=_heat_initial,
                      reference=_heat_reference, second=(0,))
