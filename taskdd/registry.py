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
           "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "taskdd.tasks"

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

# One line per case study: CLI name -> module that registers it.
_BUILTIN_CASES: dict[str, str] = {
    "ridge-demo": "case_studies.ridge_demo",
    "dbn-merge": "case_studies.dbn_merge",
    "dbn-time-slices": "case_studies.dbn_time_slices",
    "pinn-ood": "case_studies.pinn_ood",
    "classifier-digits": "case_studies.classifier_digits",
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


def _resolve(name: str, table: dict, builtin: dict, what: str):
    if name not in table and name in builtin:
        try:
            importlib.import_module(builtin[name])
        except ImportError as e:
            raise ConfigError(f"{what} {name!r} cannot be loaded: {e}") from None
    if name not in table and what == "task":
        _load_entry_points()
    if name not in table:
        known = sorted(set(table) | set(builtin))
        raise ConfigError(f"unknown {what} {name!r}; known {what}s: {', '.join(known)}")
    return table[name]


def task_names() -> list[str]:
    """Every known task name (built-in, registered, and from entry points)."""
    _load_entry_points()
    return sorted(set(_TASKS) | set(_BUILTIN_TASKS))


def get_task(name: str, **kwargs) -> Any:
    """Build the task registered as ``name`` with ``kwargs``."""
    return _resolve(name, _TASKS, _BUILTIN_TASKS, "task")(**kwargs)


def register_case(case: Any) -> Any:
    """Register a :class:`taskdd.cases.CaseStudy` under its ``name``."""
    _CASES[case.name] = case
    return case


def get_case(name: str) -> Any:
    """The case study registered as ``name``."""
    return _resolve(name, _CASES, _BUILTIN_CASES, "case")


def case_names() -> list[str]:
    return sorted(set(_CASES) | set(_BUILTIN_CASES))
