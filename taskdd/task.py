"""The task contract: a learner (``fit``), what it must earn on real data (``score``), and an
honest held-out report (``evaluate``). A distiller only ever talks to a task through this class.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping

import torch
from torch import Tensor

from taskdd.synthetic import SyntheticSet

__all__ = ["Task"]


class Task(ABC):
    """Base class of task plugins.

    Subclasses implement four methods. ``fit`` must be differentiable with respect to the
    synthetic set's learnable tensors when ``differentiable`` is True (``method="exact"`` needs
    that); otherwise only ``method="zeroth_order"`` applies. Every method that samples takes a
    ``torch.Generator`` (CPU) and touches no global random state.

    ``sources`` is whatever data object the task documents (``Sources`` for sequence tasks,
    ``Samples`` for i.i.d. tasks); the loop only moves it with ``.to(device, dtype)``.

    A task that keeps state across steps (``fit`` advancing a pool of networks) implements
    :meth:`reset`, :meth:`state_dict` and :meth:`load_state_dict`: ``distill`` resets the task
    at the start of every call and restores its state from a checkpoint on resume.
    """

    #: registry name, set by :func:`taskdd.registry.register_task`
    name: ClassVar[str] = "task"
    #: whether ``fit`` is differentiable w.r.t. the synthetic tensors
    differentiable: ClassVar[bool] = True

    @abstractmethod
    def init_synthetic(self, sources: Any, budget: int, generator: torch.Generator) -> SyntheticSet:
        """The starting synthetic set of size ``budget`` (its meaning is the task's: per part,
        per class, or in all), on the device and dtype of ``sources``."""

    @abstractmethod
    def fit(self, synthetic: SyntheticSet, *, generator: torch.Generator | None = None) -> Any:
        """Train the task's learner on the synthetic set and return the model."""

    @abstractmethod
    def score(self, model: Any, sources: Any, *, part: int | None = None,
              generator: torch.Generator | None = None) -> Tensor:
        """Scalar tensor, higher is better: what ``model`` earns on the real training data.

        ``part`` is the synthetic part being updated (None = all); a task may score against
        the sources other than that part's (the paper's ``score_on="others"``).
        """

    @abstractmethod
    def evaluate(self, synthetic: SyntheticSet, test: Any, *,
                 generator: torch.Generator | None = None) -> dict[str, float]:
        """Held-out metrics of learners trained from scratch on ``synthetic``; never used to
        train. Names are the ``metric`` column of results.csv."""

    # --- optional hooks, with defaults ----------------------------------------------------
    def objective(self, synthetic: SyntheticSet, sources: Any, *, part: int | None = None,
                  generator: torch.Generator | None = None) -> Tensor:
        """What the distiller maximises: ``score(fit(synthetic), sources)``."""
        return self.score(self.fit(synthetic, generator=generator), sources, part=part, generator=generator)

    def validate(self, sources: Any, budget: int) -> None:
        """Raise ``DataError`` / ``ConfigError`` if ``sources`` or ``budget`` cannot work."""

    def project_(self, synthetic: SyntheticSet) -> None:
        """Put the synthetic set back into its feasible region in place (after each step)."""

    # --- lifecycle: a task that keeps state across steps (e.g. a pool of networks) ------------
    def reset(self, generator: torch.Generator) -> None:
        """Return to the start state; called by distill before the first step.

        :func:`taskdd.distill` calls it at the start of every call (``generator`` is derived
        from the call's seed and is not the loop's), and on resume before
        :meth:`load_state_dict`. A task object reused for a second ``distill`` must then give
        the same result as a fresh one. Stateless tasks need nothing (the default).
        """

    def state_dict(self) -> dict[str, Any]:
        """State a stateful task keeps across steps (e.g. a pool of networks), for checkpoints."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`state_dict` (called after :meth:`reset` on resume)."""

    def config(self) -> dict[str, Any]:
        """JSON-able settings, stored in ``run.json`` (dataclass fields by default)."""
        if dataclasses.is_dataclass(self):
            return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                    if isinstance(getattr(self, f.name), (int, float, str, bool, type(None), list, tuple))}
        return {}
