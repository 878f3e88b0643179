"""What the classifier tasks share: the number of classes of a set, setting checks, the model of
the network tasks (:class:`NetworkModel`) and the base task (:class:`ClassifierTask`: data
checks, random-subset start, real batches, evaluation by :class:`EvalProtocol`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from taskdd.data import Samples
from taskdd.device import make_generator
from taskdd.errors import ConfigError, require_int
from taskdd.nets import MLP
from taskdd.synthetic import SyntheticSet
from taskdd.task import Task
from taskdd.tasks.classify.baselines import random_subset
from taskdd.tasks.classify.data import check_budget, check_samples
from taskdd.tasks.classify.evaluate import EvalProtocol, evaluate_set

__all__ = ["ClassifierTask", "NetworkModel", "n_classes_of", "positive_int", "positive_float"]


def n_classes_of(synthetic: SyntheticSet) -> int:
    """``C`` of a classifier set (its ``meta["n_classes"]``, else the largest label + 1)."""
    return int(synthetic.meta.get("n_classes") or int(synthetic["y"].max()) + 1)


def positive_int(owner: str, name: str, val: Any, lo: int = 1) -> None:
    """ConfigError naming ``owner``'s setting ``name`` unless ``val`` is an int >= ``lo``."""
    require_int(f"{owner} {name}", val, lo)


def positive_float(owner: str, name: str, val: Any) -> None:
    """ConfigError naming ``owner``'s setting ``name`` unless ``val`` is a finite number > 0."""
    if not (isinstance(val, (int, float)) and not isinstance(val, bool) and math.isfinite(val) and val > 0):
        raise ConfigError(f"{owner} {name} must be a finite number > 0, got {val!r}")


@dataclass(frozen=True)
class NetworkModel:
    """``E`` networks of architecture ``net``, parameters ``[E, P]``."""

    net: MLP
    params: Tensor

    def logits(self, x: Tensor) -> Tensor:
        """``[E, n, C]`` for ``x [n, p]``."""
        return self.net.forward(self.params, x)


@dataclass
class ClassifierTask(Task):
    """Shared parts of the classifier tasks.

    real_batch: real examples per step in ``score`` (drawn without replacement with the step's
    generator). protocol: how ``evaluate`` judges a set (fresh MLPs, logistic regression, k-NN).
    """

    real_batch: int = 256
    protocol: EvalProtocol = field(default_factory=EvalProtocol)

    def __post_init__(self):
        positive_int(self.name, "real_batch", self.real_batch)
        if not isinstance(self.protocol, EvalProtocol):
            raise ConfigError(f"{self.name} protocol must be an EvalProtocol, got {type(self.protocol).__name__}")

    def config(self) -> dict[str, Any]:
        return {**super().config(), "protocol": self.protocol.as_dict()}

    def validate(self, sources: Samples, budget: int) -> None:
        check_budget(sources, budget, check_samples(sources, "train"))

    def init_synthetic(self, sources: Samples, budget: int, generator: torch.Generator) -> SyntheticSet:
        return random_subset(sources, budget, generator)

    def real_batch_of(self, sources: Samples, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """``(x [B, p], y [B])``: ``real_batch`` training examples without replacement."""
        gen = generator if generator is not None else make_generator(0)
        n = len(sources)
        idx = torch.randperm(n, generator=gen)[: min(self.real_batch, n)].to(sources.device)
        return sources["x"][idx], sources["y"][idx]

    def evaluate(self, synthetic: SyntheticSet, test: Samples, *,
                 generator: torch.Generator | None = None) -> dict[str, float]:
        """acc_mlp, acc_mlp_other, acc_logreg, acc_knn (and acc_own where the task has its own
        learner) on ``test``. ``generator`` draws the networks' initialisations (None = seed 0)."""
        gen = generator if generator is not None else make_generator(0)
        C = n_classes_of(synthetic)
        out = evaluate_set(synthetic["x"], synthetic["y"], C, test, gen, self.protocol)
        with torch.no_grad():
            out.update(self.own_metrics(synthetic, test, gen))
        return out

    def own_metrics(self, synthetic: SyntheticSet, test: Samples, generator: torch.Generator) -> dict[str, float]:
        """Metrics of the task's own learner (none by default)."""
        return {}
