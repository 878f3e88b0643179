"""Typed errors. Library code raises these; only the CLI turns them into a one-line message."""

from __future__ import annotations

__all__ = [
    "TaskddError",
    "DataError",
    "ConfigError",
    "TaskError",
    "CheckpointError",
    "NonFiniteError",
    "DataWarning",
    "require_int",
]


class TaskddError(Exception):
    """Base class of every error taskdd raises on purpose."""


class DataError(TaskddError, ValueError):
    """Bad input data: shapes, dtypes, non-finite values, empty sources, unknown variables."""


class ConfigError(TaskddError, ValueError):
    """A bad setting: unknown name, out-of-range value, budget too small, unknown ``--set`` key."""


class TaskError(TaskddError):
    """A task plugin broke its contract (wrong return type, non-differentiable fit, ...)."""


class CheckpointError(TaskddError):
    """A checkpoint or saved result is missing, corrupt, or from something else."""


class NonFiniteError(TaskddError, FloatingPointError):
    """A score or gradient became NaN or infinite during distillation."""


class DataWarning(UserWarning):
    """Data that taskdd can use but probably should not as it is (e.g. features far from
    standardised). A Python warning: silence it with ``warnings.filterwarnings("ignore",
    category=DataWarning)``."""


def require_int(name: str, value: object, lo: int) -> None:
    """ConfigError ``"{name} must be an int >= {lo}, got {value!r}"`` unless ``value`` is an int
    (not a bool) of at least ``lo``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < lo:
        raise ConfigError(f"{name} must be an int >= {lo}, got {value!r}")
