"""Unknown PDE coefficients (the inverse problem): families with a coefficient ``k`` in the
residual, and networks that carry a learnable ``k`` each (deepxde's ``dde.Variable`` pattern).

- :class:`CoefFamily`: a :class:`~taskdd.tasks.pinn.families.PDEFamily` whose residual is
  ``coef_pde(x, u, d, k)`` (``k`` broadcasts against ``u``: a float, or ``[E, 1]`` for a stack of
  networks). ``true_coef`` makes the data (the family's own ``pde`` and ``reference`` are those at
  ``true_coef``); ``coef_reference(x, alpha, k)`` is the solution at any ``k`` (float64 numpy).
  :meth:`CoefFamily.at` gives the same family with another coefficient (a wrong prior).
- :class:`CoefMLP`: a network stack ``[E, P + 1]`` whose last column ``c`` holds the network's own
  coefficient ``k = exp(scale * c)`` (positive), trained with its weights by the same functional
  Adam (one more column of the flat parameters and of the Adam state). ``scale`` multiplies the
  coefficient's Adam step in ``log k``: Adam moves each column by at most about ``lr`` per step,
  and with ``scale = 1`` (inner lr 5e-3) ``k`` crawls from 2 to 1.26 in 2000 steps on all the
  ``poisson-k`` data (seed 0; 0.99 after 3000), with ``scale = 10`` it is within 1% after 1500.

The shipped family ``poisson-k``: ``-k u'' = pi^2 sin(pi x)`` on [0, 1], ``u(0) = alpha``,
``u(1) = 0``, true ``k = 1``; solution ``sin(pi x) / k + alpha (1 - x)``. Physics alone cannot
tell ``k``: every ``k`` has a solution matching the boundary data; only measurements do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import numpy as np
import torch
from torch import Tensor, nn

from taskdd.errors import ConfigError
from taskdd.nets import MLP
from taskdd.tasks.pinn.families import Derivatives, PDEFamily, register_pde

__all__ = ["CoefFamily", "CoefMLP", "POISSON_K", "check_coef_args"]


def check_coef_args(name: str, coef_pde, true_coef, coef_reference) -> None:
    """ConfigError naming the family unless ``coef_pde`` is callable, ``true_coef`` a finite
    number > 0 and ``coef_reference`` callable or None."""
    if not callable(coef_pde):
        raise ConfigError(f"PDE family {name!r}: coef_pde must be callable, got {coef_pde!r}")
    if not (isinstance(true_coef, (int, float)) and math.isfinite(true_coef) and true_coef > 0):
        raise ConfigError(f"PDE family {name!r}: true_coef must be a finite number > 0, got {true_coef!r}")
    if coef_reference is not None and not callable(coef_reference):
        raise ConfigError(f"PDE family {name!r}: coef_reference must be callable or None")


@dataclass(frozen=True, eq=False, init=False, repr=False)
class CoefFamily(PDEFamily):
    """A family with one unknown coefficient (module doc); other settings as :class:`PDEFamily`."""

    coef_pde: Optional[Callable] = None
    true_coef: float = 1.0
    coef_reference: Optional[Callable] = None

    def __init__(self, name: str, coef_pde: Callable, boundary: Callable, true_coef: float = 1.0,
                 coef_reference: Callable | None = None, **options):
        check_coef_args(name, coef_pde, true_coef, coef_reference)
        for k, v in (("coef_pde", coef_pde), ("true_coef", float(true_coef)), ("coef_reference", coef_reference)):
            object.__setattr__(self, k, v)
        ref = None if coef_reference is None else partial(coef_reference, k=float(true_coef))
        super().__init__(name, partial(coef_pde, k=float(true_coef)), boundary, reference=ref, **options)
        object.__setattr__(self, "_options", options)

    def at(self, coef: float) -> "CoefFamily":
        """The same family with ``true_coef = coef`` (e.g. a learner's wrong prior)."""
        return CoefFamily(self.name, self.coef_pde, self.boundary, coef, self.coef_reference, **self._options)

    def residual_with(self, coef: Tensor, x: Tensor, u: Tensor, u_xx: Tensor, u_x: Tensor | None = None) -> Tensor:
        """The residual with coefficient ``coef`` (broadcasting against ``u``)."""
        if self.uses_u_x and u_x is None:
            raise ConfigError(f"PDE family {self.name!r} uses u_x, but no u_x was given")
        return self.coef_pde(x, u, Derivatives(u_x if self.uses_u_x else None, u_xx), k=coef)

    def __repr__(self) -> str:
        return f"CoefFamily({self.name!r}, true_coef={self.true_coef})"


@dataclass(frozen=True)
class CoefMLP:
    """``net``'s parameters plus one column ``c = log(k) / scale`` per network, initialised to
    ``k = init_coef``. ``forward`` / ``forward_d2`` / ``to_module`` see the network columns only;
    :meth:`coef` is ``k [E]``."""

    net: MLP
    init_coef: float
    scale: float = 10.0

    def __post_init__(self):
        for name in ("init_coef", "scale"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ConfigError(f"the coefficient's {name} must be a finite number > 0, got {v!r}")

    @property
    def n_params(self) -> int:
        return self.net.n_params + 1

    def init(self, n_models: int, generator: torch.Generator, *, device=None,
             dtype: torch.dtype = torch.float32) -> Tensor:
        """``[n_models, P + 1]``: the network's init and ``log(init_coef) / scale``."""
        w = self.net.init(n_models, generator, device=device, dtype=dtype)
        return torch.cat([w, w.new_full((n_models, 1), math.log(self.init_coef) / self.scale)], 1)

    def coef(self, flat: Tensor) -> Tensor:
        """The networks' coefficients ``k [E]`` (``[]`` for one network ``[P + 1]``)."""
        return (self.scale * flat[..., -1]).exp()

    def forward(self, flat: Tensor, inputs: Tensor) -> Tensor:
        return self.net.forward(flat[..., :-1], inputs)

    def forward_d2(self, flat: Tensor, inputs: Tensor, **kw) -> tuple[Tensor, Tensor]:
        return self.net.forward_d2(flat[..., :-1], inputs, **kw)

    def to_module(self, params: Tensor) -> nn.Sequential:
        return self.net.to_module(params[..., :-1])


def _poisson_k_pde(x: Tensor, u: Tensor, d: Derivatives, k) -> Tensor:
    return -k * d.u_xx - math.pi**2 * torch.sin(math.pi * x)


def _left_alpha(x: Tensor, alpha: Tensor) -> Tensor:
    return torch.where(x < 0.5, alpha, torch.zeros_like(alpha))


def _poisson_k_reference(x: np.ndarray, alpha: np.ndarray, k: float) -> np.ndarray:
    return np.sin(math.pi * x) / k + alpha * (1 - x)


POISSON_K = register_pde(CoefFamily("poisson-k", _poisson_k_pde, _left_alpha, 1.0, _poisson_k_reference))
