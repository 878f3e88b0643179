"""Name -> factory registries for tasks, gradient estimators and case studies.

Built-in tasks are listed by module (imported on first use, so ``import taskdd`` stays light and
deepxde is never imported unless the PINN task is asked for). Third-party packages add tasks
through the entry-point group ``taskdd.tasks``: the entry point loads a module or a Task class
registered with :func:`register_task`.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping, TypeVar

from taskdd.errors import ConfigError

__all__ = ["register_task", "get_task", "task_names", "check_options", "register_case", "get_case", "case_names",
           "ENTRY_POINT_GROUP", "CASE_ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "taskdd.tasks"
#: case studies register through this entry-point group (name -> ``module:CASE``), so the core
#: never names a case module; the shipped ones are declared in pyproject.toml
CASE_ENTRY_POINT_GROUP = "taskdd.cases"

# One line per built-in task: registry name -> module that registers it.
_BUILTIN_TASKS: dict[str, str] = {
    "ridge": "taskdd.tasks.ridge",
    "dbn": "taskdd.tasks.dbn.task",
    "dbn-discrete": "taskdd.tasks.dbn_discrete.task",
    "pinn": "taskdd.tasks.pinn.task",
    "pinn-inverse": "taskdd.tasks.pinn.inverse",
    "classify-krr": "taskdd.tasks.classify.task",
    "classify-gm": "taskdd.tasks.classify.task",
    "classify-dm": "taskdd.tasks.classify.task",
    "classify-unrolled": "taskdd.tasks.classify.task",
}


log = logging.getLogger(__name__)
_TASKS: dict[str, Callable[..., Any]] = {}
_CASES: dict[str, Any] = {}
T = TypeVar("T")


def _same_class(a: Any, b: Any) -> bool:
    """The same class, or the same class defined again (a module reloaded or re-executed)."""
    return a is b or (getattr(a, "__module__", None), getattr(a, "__qualname__", None)) == (
        getattr(b, "__module__", None), getattr(b, "__qualname__", None))


def register_task(name: str, *, replace: bool = False) -> Callable[[T], T]:
    """Class decorator: ``@register_task("dbn")`` makes ``get_task("dbn", **kw)`` build it.

    A name that is taken (registered, or a built-in task not imported yet) is a ConfigError
    unless ``replace=True``; the same class registering again (its module reloaded) is fine.
    """
    def deco(cls: T) -> T:
        if not replace:
            if name in _TASKS and not _same_class(_TASKS[name], cls):
                raise ConfigError(f"task name {name!r} is taken by {_TASKS[name].__module__}."
                                  f"{_TASKS[name].__qualname__}; pass replace=True to replace it or choose another")
            builtin = _BUILTIN_TASKS.get(name)
            if name not in _TASKS and builtin is not None and getattr(cls, "__module__", None) != builtin:
                raise ConfigError(f"task name {name!r} is taken by the built-in task in {builtin}; "
                                  "pass replace=True to replace it or choose another")
        _TASKS[name] = cls
        try:
            cls.name = name  # type: ignore[attr-defined]
        except (AttributeError, TypeError):
            pass
        return cls
    return deco


def accepted_options(cls: Any) -> list[str] | None:
    """The keyword arguments ``cls(...)`` accepts (None: any, or cannot tell)."""
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def check_options(what: str, cls: Any, options: Mapping[str, Any]) -> None:
    """ConfigError naming the options ``cls`` does not take (``what``: e.g. "task 'pinn'") and
    listing the accepted ones. Checked before ``cls(**options)`` is called, so a TypeError raised
    inside the class's own code is never mistaken for an unknown option."""
    accepted = accepted_options(cls)
    unknown = [k for k in options if accepted is not None and k not in accepted]
    if unknown:
        raise ConfigError(f"{what} got unknown option{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(map(repr, unknown))}; accepted options: {', '.join(accepted) or '(none)'}")


def _load_entry_points() -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _BUILTIN_TASKS:  # a built-in name is taken, imported yet or not
            log.warning("entry point %r in group %r ignored: the name belongs to a built-in task", ep.value,
                        ENTRY_POINT_GROUP)
        elif ep.name not in _TASKS:
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
    """Build the task registered as ``name`` with ``kwargs`` (an unknown option is a ConfigError
    that lists the accepted ones)."""
    cls = _task_class(name)
    check_options(f"task {name!r}", cls, kwargs)
    return cls(**kwargs)


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
