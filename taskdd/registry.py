"""Name -> factory registries for tasks, gradient estimators and case studies.

Built-in tasks are listed by module (imported on first use, so ``import taskdd`` stays light and
deepxde is never imported unless the PINN task is asked for). Third-party packages add tasks
through the entry-point group ``taskdd.tasks``: the entry point loads a module or a Task class
registered with :func:`register_task`.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Callable, TypeVar

from taskdd.errors import ConfigError

__all__ = ["register_task", "get_task", "task_names", "register_case", "get_case", "case_names",
           "ENTRY_POINT_GROUP", "CASE_ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "taskdd.tasks"
#: case studies register through this entry-point group (name -> ``module:CASE``), so the core
#: never names a case module; the shipped ones are declared in pyproject.toml
CASE_ENTRY_POINT_GROUP = "taskdd.cases"

# One line per built-in task: registry name -> module that registers it.
_BUILTIN_TASKS: dict[str, str] = {
    "ridge": "taskdd.tasks.ridge",
    "dbn": "taskdd.tasks.dbn.task",
    "pinn": "taskdd.tasks.pinn.task",
    "classify-krr": "taskdd.tasks.classify.task",
    "classify-gm": "taskdd.tasks.classify.task",
    "classify-dm": "taskdd.tasks.classify.task",
    "classify-unrolled": "taskdd.tasks.classify.task",
}


_TASKS: dict[str, Callable[..., Any]] = {}
_CASES: dict[str, Any] = {}
T = TypeVar("T")


def register_task(name: str) -> Callable[[T], T]:
    """Class decorator: ``@register_task("dbn")`` makes ``get_task("dbn", **kw)`` build it."""
    def deco(cls: T) -> T:
        _TASKS[name] = cls
        try:
            cls.name = name  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            pass
        return cls
    return deco


def _load_entry_points() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _TASKS:
            obj = ep.load()
            if isinstance(obj, type) and ep.name not in _TASKS:
                _TASKS[ep.name] = obj


def _task_class(name: str):
    if name not in _TASKS and name in _BUILTIN_TASKS:
        try:
            importlib.import_module(_BUILTIN_TASKS[name])
        except ImportError as e:
            raise ConfigError(f"task {name!r} cannot be loaded: {e}") from None
    if name not in _TASKS:
        _load_entry_points()
    if name not in _TASKS:
        raise ConfigError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}")
    return _TASKS[name]


def task_names() -> list[str]:
    """Every known task name (built-in, registered, and from entry points)."""
    _load_entry_points()
    return sorted(set(_TASKS) | set(_BUILTIN_TASKS))


def get_task(name: str, **kwargs) -> Any:
    """Build the task registered as ``name`` with ``kwargs``."""
    return _task_class(name)(**kwargs)


def register_case(case: Any) -> Any:
    """Register a :class:`taskdd.cases.CaseStudy` under its ``name``."""
    _CASES[case.name] = case
    return case


def _case_entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=CASE_ENTRY_POINT_GROUP)}


def get_case(name: str) -> Any:
    """The case study registered as ``name`` (loaded from its entry point on first use)."""
    if name not in _CASES:
        ep = _case_entry_points().get(name)
        if ep is not None:
            try:
                ep.load()
            except ImportError as e:
                raise ConfigError(f"case {name!r} cannot be loaded: {e}") from None
    if name not in _CASES:
        raise ConfigError(f"unknown case {name!r}; known cases: {', '.join(case_names())}")
    return _CASES[name]


def case_names() -> list[str]:
    """Every known case name (registered, and from entry points)."""
    return sorted(set(_CASES) | set(_case_entry_points()))
