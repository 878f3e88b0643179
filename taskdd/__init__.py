"""taskdd: task-specified dataset distillation.

The distillation problem is posed by an inference task (Kungurtsev et al., 2024): a learner that
turns data into a model, a score that model must earn on the real data, and an honest held-out
evaluation. A :class:`Task` supplies those; :func:`distill` optimises a :class:`SyntheticSet`
against it.
"""

from taskdd.data import Samples, Source, Sources
from taskdd.device import make_generator, resolve_device
from taskdd.distill import DistillResult, StepInfo, distill
from taskdd.errors import CheckpointError, ConfigError, DataError, NonFiniteError, TaskddError, TaskError
from taskdd.registry import get_task, register_task, task_names
from taskdd.synthetic import SyntheticSet
from taskdd.task import Task

__version__ = "0.1.0"

__all__ = [
    "Task", "SyntheticSet", "Source", "Sources", "Samples", "distill", "DistillResult", "StepInfo",
    "register_task", "get_task", "task_names", "resolve_device", "make_generator",
    "TaskddError", "DataError", "ConfigError", "TaskError", "CheckpointError", "NonFiniteError",
    "__version__",
]
