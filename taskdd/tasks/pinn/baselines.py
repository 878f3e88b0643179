"""Reference sets and predictors for the PINN task: all data, no data, trivial predictors.

Predictors follow :data:`taskdd.tasks.pinn.metrics.Predictor`: ``(x [n], alpha [n]) -> u [1, n]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from taskdd.data import Samples
from taskdd.errors import ConfigError
from taskdd.synthetic import SyntheticSet

__all__ = ["as_fixed_set", "empty_set", "zero_predictor", "AlphaAgnosticFit"]

_NAMES = ("x", "alpha", "y")


def as_fixed_set(data: Samples) -> SyntheticSet:
    """All of ``data``'s measurements as a set with nothing learnable (e.g. the ``all_data`` reference)."""
    return SyntheticSet([{k: data[k] for k in _NAMES}], learnable=[])


def empty_set(like: Tensor) -> SyntheticSet:
    """A set with no measurements (physics-only training), on ``like``'s device and dtype
    (``x [0, dim]`` when ``like`` is ``[n, dim]``)."""
    return SyntheticSet([{k: like.new_zeros(0, *(like.shape[1:] if k == "x" else ())) for k in _NAMES}],
                        learnable=[])


def zero_predictor(x: Tensor, alpha: Tensor) -> Tensor:
    """``u = 0`` everywhere: relative L2 error exactly 1."""
    return torch.zeros(1, x.shape[0], dtype=x.dtype, device=x.device)


@dataclass(frozen=True)
class AlphaAgnosticFit:
    """A least-squares polynomial in ``x`` of ``degree`` fitted to every measurement, ignoring
    alpha: the best a model blind to the boundary condition can do. coef: ``[degree + 1]``."""

    coef: Tensor

    @classmethod
    def fit(cls, data: Samples, degree: int = 5) -> "AlphaAgnosticFit":
        if not isinstance(degree, int) or isinstance(degree, bool) or degree < 0:
            raise ConfigError(f"degree must be an int >= 0, got {degree!r}")
        x, y = data["x"].double(), data["y"].double()
        basis = x[:, None] ** torch.arange(degree + 1, dtype=x.dtype, device=x.device)
        coef = torch.linalg.lstsq(basis, y[:, None]).solution[:, 0]
        return cls(coef)

    def __call__(self, x: Tensor, alpha: Tensor) -> Tensor:
        basis = x.double()[:, None] ** torch.arange(self.coef.numel(), dtype=torch.float64, device=x.device)
        return (basis @ self.coef.to(x.device))[None].to(x.dtype)
