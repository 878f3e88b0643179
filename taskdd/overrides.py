"""``--set key=value`` for frozen config dataclasses, with dotted keys into nested ones.

A config may embed another dataclass as one field (a case study embeds its task's settings:
``task: PINNTask``, ``protocol: EvalProtocol``); ``task.width=64`` reaches the nested field and
is parsed with that field's type. Overrides travel as flat dicts with dotted keys
(``{"task.width": 64}``), so ``CaseStudy.quick`` and sweep grid points use the same form.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Mapping, Sequence

from taskdd.errors import ConfigError

__all__ = ["field_types", "field_type", "accepted_keys", "parse_value", "parse_overrides", "apply_overrides",
           "check_names"]


def field_types(cls: type) -> dict[str, Any]:
    """``{field name: resolved type}`` of a dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _is_group(tp: Any) -> bool:
    """A field whose type is itself a dataclass: set its fields with dotted keys."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def accepted_keys(cls: type, prefix: str = "") -> list[str]:
    """Every key ``--set`` takes for ``cls``: plain fields, and ``group.field`` for nested ones."""
    out = []
    for name, tp in field_types(cls).items():
        out += accepted_keys(tp, f"{prefix}{name}.") if _is_group(tp) else [f"{prefix}{name}"]
    return sorted(out)


def field_type(cls: type, key: str) -> Any:
    """The type of (dotted) ``key`` in ``cls``; ConfigError naming the key and the accepted ones."""
    prefix, rest = "", key
    while True:
        head, dot, tail = rest.partition(".")
        types_ = field_types(cls)
        if head not in types_:
            where = f" under {prefix[:-1]!r}" if prefix else ""
            raise ConfigError(f"unknown --set key {key!r}; accepted keys{where}: "
                              f"{', '.join(accepted_keys(cls, prefix))}")
        tp = types_[head]
        if not dot:
            if _is_group(tp):
                raise ConfigError(f"--set {key}: {key!r} is a group of settings; set its fields as {key}.KEY=VALUE, "
                                  f"accepted keys: {', '.join(accepted_keys(tp, key + '.'))}")
            return tp
        if not _is_group(tp):
            raise ConfigError(f"unknown --set key {key!r}: {prefix + head!r} has no fields; accepted keys: "
                              f"{', '.join(accepted_keys(cls, prefix))}")
        cls, prefix, rest = tp, f"{prefix}{head}.", tail


def _parse_scalar(key: str, text: str, tp: Any) -> Any:
    try:
        if tp is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if tp in (int, float, str):
            return tp(text)
    except ValueError:
        raise ConfigError(f"--set {key}={text!r}: expected {tp.__name__}") from None
    raise ConfigError(f"--set {key}: fields of type {tp} cannot be set from the command line")


def parse_value(key: str, text: str, tp: Any) -> Any:
    """``text`` parsed as type ``tp`` (int, float, str, bool, Literal, Optional, tuple/list of those;
    ``none`` for None, ``a,b`` for sequences); ConfigError naming ``key`` otherwise."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if text.lower() == "none" and type(None) in args:
            return None
        for a in args:
            if a is not type(None):
                return parse_value(key, text, a)
    if origin in (tuple, list):
        inner = args[0] if args else str
        vals = tuple(parse_value(key, t.strip(), inner) for t in text.split(",") if t.strip())
        return vals if origin is tuple else list(vals)
    if origin is typing.Literal:
        if text not in [str(a) for a in args]:
            raise ConfigError(f"--set {key}={text!r}: accepted values are {list(args)}")
        return next(a for a in args if str(a) == text)
    return _parse_scalar(key, text, tp)


def parse_overrides(config_cls: type, items: Sequence[str]) -> dict[str, Any]:
    """``["key=value", "task.width=64", ...]`` -> ``{key: typed value}`` (dotted keys kept)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set takes key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        out[key] = parse_value(key, text.strip(), field_type(config_cls, key))
    return out


def apply_overrides(config: Any, overrides: Mapping[str, Any], _prefix: str = "") -> Any:
    """``dataclasses.replace`` with (dotted) keys: nested dataclasses are replaced in turn, and
    every replaced dataclass runs its own validation. ConfigError names an unknown key."""
    names = {f.name for f in dataclasses.fields(config)}
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        head, dot, rest = key.partition(".")
        if head not in names:
            raise ConfigError(f"unknown config key {_prefix + key!r}; accepted keys: "
                              f"{', '.join(accepted_keys(type(config), _prefix))}")
        if dot:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[head] = value
    for head, sub in nested.items():
        inner = direct.get(head, getattr(config, head))
        if not dataclasses.is_dataclass(inner):
            raise ConfigError(f"unknown config key {_prefix + head + '.' + next(iter(sub))!r}: "
                              f"{_prefix + head!r} has no fields")
        direct[head] = apply_overrides(inner, sub, f"{_prefix}{head}.")
    try:
        return dataclasses.replace(config, **direct)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"bad config{' ' + _prefix[:-1] if _prefix else ''}: {e}") from None


def check_names(what: str, given: Sequence[str], known: Sequence[str]) -> None:
    """ConfigError ``unknown <what> [...]; known <what>: a, b`` unless every name in ``given`` is
    in ``known`` (for a config's ``__post_init__``: ``check_names("methods", self.methods, METHODS)``)."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"unknown {what} {unknown}; known {what}: {', '.join(known)}")
