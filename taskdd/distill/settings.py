"""The validated settings of one :func:`taskdd.distill` call.

:class:`DistillSettings` is frozen: it is what ``DistillResult.config`` holds and, less the
settings a resumed run may change, the fingerprint a checkpoint must match to be resumed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from taskdd.errors import ConfigError, require_int
from taskdd.synthetic import SyntheticSet

__all__ = ["DistillSettings", "LR_SCHEDULES", "OPTIMIZERS", "check_call", "derived_seed"]

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
SCHEDULES = ("all", "cyclic")
#: outer step size at step ``t`` of ``T`` as a fraction of ``lr``
LR_SCHEDULES: dict[str, Callable[[int, int], float]] = {
    "constant": lambda t, total: 1.0,
    "cosine": lambda t, total: 0.5 * (1.0 + math.cos(math.pi * t / total)),
}
#: settings that are not part of ``config`` (they steer the run, not its result)
_RUN_CONTROL = ("checkpoint_dir", "checkpoint_every", "resume")


def derived_seed(seed: int, step: int) -> int:
    """A seed for a side stream of the run ``seed`` (evaluation at ``step``; ``step = -1``: the
    task's :meth:`~taskdd.Task.reset`), so that side streams never consume the loop's generator."""
    return (seed * 1_000_003 + step) % (2**63 - 1)




def check_call(*, budget: Any, steps: Any, lr: Any, schedule: Any, optimizer: Any, lr_schedule: Any,
               eval_every: Any, checkpoint_every: Any, checkpoint_dir: Any, resume: Any) -> None:
    """ConfigError naming the first bad setting of a ``distill`` call (task-free checks only)."""
    for name, val in (("steps", steps), ("eval_every", eval_every), ("checkpoint_every", checkpoint_every)):
        require_int(name, val, 0)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0:
        raise ConfigError(f"budget must be a positive int, got {budget!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ConfigError(f"lr must be > 0, got {lr!r}")
    if schedule not in SCHEDULES:
        raise ConfigError(f"schedule must be 'all' or 'cyclic', got {schedule!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"lr_schedule must be one of {sorted(LR_SCHEDULES)}, got {lr_schedule!r}")
    if optimizer not in OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if (checkpoint_every or resume) and not checkpoint_dir:
        raise ConfigError("checkpoint_every / resume need a checkpoint_dir")


@dataclass(frozen=True)
class DistillSettings:
    """One call's settings after validation (see :func:`taskdd.distill` for their meaning).

    ``device`` and ``dtype`` are the resolved ones, as strings; ``task`` / ``task_config`` are
    the task's name and :meth:`~taskdd.Task.config`. The last three fields steer the run
    (checkpointing) and are neither in :meth:`config` nor in :meth:`fingerprint`.
    """

    task: str
    task_config: dict
    budget: int
    method: str
    method_options: dict
    steps: int
    lr: float
    seed: int
    device: str
    dtype: str
    schedule: str
    optimizer: str
    lr_schedule: str
    eval_every: int
    checkpoint_dir: str | None = None
    checkpoint_every: int = 0
    resume: bool = False

    def config(self) -> dict[str, Any]:
        """The settings that decide the result: ``DistillResult.config``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in _RUN_CONTROL}

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed: :meth:`config` less ``eval_every``, and
        less ``steps`` when the step size schedule does not depend on their number."""
        free = ("steps", "eval_every") if self.lr_schedule == "constant" else ("eval_every",)
        return {k: v for k, v in self.config().items() if k not in free}

    def part_at(self, step: int, n_parts: int) -> int | None:
        """The part of ``n_parts`` updated at 0-based ``step`` (None = all of them)."""
        return step % n_parts if self.schedule == "cyclic" else None

    def lr_at(self, step: int) -> float:
        """The outer step size at 0-based ``step``."""
        return self.lr * LR_SCHEDULES[self.lr_schedule](step, self.steps)

    def evaluates_after(self, step: int) -> bool:
        """Whether the set after ``step`` steps (1-based) is evaluated: every ``eval_every`` and
        at the last step."""
        return step == self.steps or bool(self.eval_every and step % self.eval_every == 0)

    def make_optimizers(self, synthetic: SyntheticSet) -> list[torch.optim.Optimizer]:
        """One optimiser over all learnable tensors, or one per part with the cyclic schedule."""
        groups = ([synthetic.parameters(j) for j in range(synthetic.n_parts)] if self.schedule == "cyclic"
                  else [synthetic.parameters()])
        return [OPTIMIZERS[self.optimizer](g, lr=self.lr) for g in groups]
