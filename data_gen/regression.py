"""Linear regression data for the reference ridge task."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from taskdd.data import Samples
from taskdd.device import make_generator
from taskdd.errors import ConfigError

__all__ = ["RegressionProblem", "make_regression"]


@dataclass(frozen=True)
class RegressionProblem:
    """train / test samples and the true weights ``[p]``."""

    train: Samples
    test: Samples
    weight: torch.Tensor


def make_regression(n_train: int = 500, n_test: int = 500, p: int = 5, noise: float = 0.5,
                    seed: int = 0, dtype: torch.dtype = torch.float32) -> RegressionProblem:
    """``y = x @ w + 1 + noise * eps`` with ``x ~ N(0, I)``, ``w ~ N(0, I)``; float64 draw, cast to dtype."""
    if n_train < 1 or n_test < 1 or p < 1:
        raise ConfigError(f"n_train, n_test and p must be >= 1, got {n_train}, {n_test}, {p}")
    if noise < 0:
        raise ConfigError(f"noise must be >= 0, got {noise}")
    g = make_generator(seed)
    w = torch.randn(p, generator=g, dtype=torch.float64)

    def draw(n):
        x = torch.randn(n, p, generator=g, dtype=torch.float64)
        y = x @ w + 1.0 + noise * torch.randn(n, generator=g, dtype=torch.float64)
        return Samples(x=x.to(dtype), y=y.to(dtype))

    return RegressionProblem(draw(n_train), draw(n_test), w.to(dtype))
