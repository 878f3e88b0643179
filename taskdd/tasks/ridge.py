"""Ridge regression: the reference task, and the template for plugin authors.

Learner: closed-form ridge regression with an intercept. Score: minus the mean squared error on
the real training data. Evaluate: MSE and R^2 on held-out data. Data: ``Samples(x=[N, p], y=[N])``.
The whole task is ~60 lines: copy it to start a new plugin.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from taskdd.data import Samples
from taskdd.errors import ConfigError, DataError
from taskdd.registry import register_task
from taskdd.synthetic import SyntheticSet
from taskdd.task import Task

__all__ = ["RidgeRegressionTask", "RidgeModel"]


@dataclass(frozen=True)
class RidgeModel:
    """``y = x @ weight + bias``."""

    weight: Tensor
    bias: Tensor

    def predict(self, x: Tensor) -> Tensor:
        return x @ self.weight + self.bias


@register_task("ridge")
@dataclass
class RidgeRegressionTask(Task):
    """Distil regression data for a ridge learner.

    ridge: L2 penalty of the learner (on the weights, not the intercept).
    budget: number of synthetic (x, y) rows.
    """

    ridge: float = 1e-3

    def __post_init__(self):
        if not self.ridge >= 0:
            raise ConfigError(f"ridge must be >= 0, got {self.ridge!r}")

    def validate(self, sources: Samples, budget: int) -> None:
        if not isinstance(sources, Samples) or "x" not in sources or "y" not in sources:
            raise DataError(f"the ridge task takes Samples(x=[N, p], y=[N]), got {sources!r}")
        if sources["x"].ndim != 2 or sources["y"].ndim != 1:
            raise DataError(f"ridge data must be x [N, p] and y [N], got x {tuple(sources['x'].shape)} "
                            f"and y {tuple(sources['y'].shape)}")
        if budget > len(sources):
            raise ConfigError(f"budget {budget} is larger than the data ({len(sources)} rows)")
        if self.ridge == 0 and budget <= sources["x"].shape[1]:
            raise ConfigError(f"budget {budget} is too small for ridge=0: the unpenalised fit needs more rows than "
                              f"the p={sources['x'].shape[1]} features (budget > p), or set ridge > 0")

    def init_synthetic(self, sources: Samples, budget: int, generator: torch.Generator) -> SyntheticSet:
        idx = torch.randperm(len(sources), generator=generator)[:budget].to(sources.device)
        return SyntheticSet([{"x": sources["x"][idx], "y": sources["y"][idx]}], learnable=["x", "y"])

    def fit(self, synthetic: SyntheticSet, *, generator=None) -> RidgeModel:
        x, y = synthetic["x"], synthetic["y"]
        xm, ym = x.mean(0), y.mean()
        xc, yc = x - xm, y - ym
        eye = torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
        w = torch.linalg.solve(xc.T @ xc + self.ridge * eye, xc.T @ yc)
        return RidgeModel(w, ym - xm @ w)

    def score(self, model: RidgeModel, sources: Samples, *, part=None, generator=None) -> Tensor:
        return -((model.predict(sources["x"]) - sources["y"]) ** 2).mean()

    def evaluate(self, synthetic: SyntheticSet, test: Samples, *, generator=None) -> dict[str, float]:
        with torch.no_grad():
            model = self.fit(synthetic)
            err = model.predict(test["x"]) - test["y"]
            mse = (err**2).mean()
            r2 = 1 - mse / test["y"].var(unbiased=False)
        return {"test_mse": float(mse), "test_r2": float(r2)}
