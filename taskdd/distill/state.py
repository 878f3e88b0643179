"""The state of the outer loop: everything a checkpoint holds to resume bit-for-bit on CPU."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from taskdd.errors import CheckpointError
from taskdd.synthetic import SyntheticSet
from taskdd.task import Task

__all__ = ["LoopState"]


@dataclass
class LoopState:
    """The synthetic set, its optimisers' states, the loop's generator, the task's state
    (:meth:`Task.state_dict`), the history, the steps taken and the seconds spent distilling.

    ``optimizers``: one per parameter group (all tensors, or one per part with the cyclic
    schedule). ``history`` rows: see :class:`taskdd.DistillResult`.
    """

    synthetic: SyntheticSet
    optimizers: list[torch.optim.Optimizer]
    generator: torch.Generator
    task: Task
    history: list[dict] = field(default_factory=list)
    step: int = 0
    elapsed: float = 0.0

    def state_dict(self) -> dict[str, Any]:
        """Tensors, numbers, strings, lists and dicts only (loadable with ``weights_only``)."""
        return {"step": self.step, "elapsed": self.elapsed, "synthetic": self.synthetic.state_dict(),
                "optimizers": [o.state_dict() for o in self.optimizers], "generator": self.generator.get_state(),
                "task": self.task.state_dict(), "history": self.history}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Inverse of :meth:`state_dict`, in place; CheckpointError when an entry is missing or
        does not fit (e.g. another number of optimisers)."""
        try:
            synthetic, optimizers, task = state["synthetic"], state["optimizers"], state["task"]
            generator, history = state["generator"], state["history"]
            step, elapsed = int(state["step"]), float(state["elapsed"])
        except KeyError as e:
            raise CheckpointError(f"loop state lacks {e.args[0]!r}") from None
        if len(optimizers) != len(self.optimizers):
            raise CheckpointError(f"loop state has {len(optimizers)} optimiser states, expected "
                                  f"{len(self.optimizers)}")
        self.synthetic.load_state_(synthetic)
        for opt, s in zip(self.optimizers, optimizers):
            opt.load_state_dict(s)
        self.generator.set_state(generator)
        self.task.load_state_dict(task)
        self.history, self.step, self.elapsed = list(history), step, elapsed
