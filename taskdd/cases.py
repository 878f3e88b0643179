"""Case studies: a frozen config dataclass + a run function, dispatched by name from the CLI.

A case study module defines ``Config`` (frozen dataclass with documented defaults), a
``run(config, ctx)`` function that adds rows to ``ctx.results`` and saves figures through
``ctx``, and registers ``CaseStudy(name, Config, run, quick=...)``. :func:`run_case` does the
rest: overrides from ``--set key=value``, the output folder, results.csv and run.json.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import time
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from taskdd.device import resolve_device
from taskdd.errors import CheckpointError, ConfigError
from taskdd.registry import get_case, register_case
from taskdd.results import ResultsTable, ensure_out_dir, git_commit, versions, write_json

__all__ = ["CaseStudy", "RunContext", "run_case", "parse_overrides", "apply_overrides"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseStudy:
    """name: CLI name; config_cls: frozen dataclass; run(config, ctx); quick: the ``--quick``
    settings (field -> value) applied before user overrides."""

    name: str
    config_cls: type
    run: Callable[[Any, "RunContext"], None]
    quick: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self):
        register_case(self)


@dataclass
class RunContext:
    """What a case study's ``run`` gets: where to write, which device, the results table."""

    case: str
    out: Path
    device: torch.device
    seed: int
    quick: bool
    quiet: bool
    results: ResultsTable
    timings: ResultsTable | None = None
    resume: bool = False
    checkpoint_every: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.timings is None:
            self.timings = ResultsTable(self.case)

    def unit(self, key: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` (returning JSON-able data) once per ``key`` and keep its output in
        ``out/units/<key>.json``; with ``resume`` a finished unit is read back, not rerun.

        Case studies wrap each (method, budget, seed) piece of work in a unit, so a killed run
        resumed with ``--resume`` redoes only what was not finished.
        """
        path = self.out / "units" / f"{_safe(key)}.json"
        if self.resume and path.exists():
            try:
                return json.loads(path.read_text())["value"]
            except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
                raise CheckpointError(f"unit file {str(path)!r} is corrupt; delete it to recompute") from None
        value = json.loads(json.dumps(fn(), sort_keys=True))  # fresh and resumed runs see the same data
        path.parent.mkdir(exist_ok=True)
        write_json(path, {"key": key, "value": value})
        return value

    def checkpointing(self, key: str) -> dict[str, Any]:
        """``distill`` keyword arguments that checkpoint unit ``key`` (per ``--checkpoint-every``)
        and resume it (per ``--resume``)."""
        if not self.checkpoint_every:
            return {}
        return {"checkpoint_dir": str(self.out / "checkpoints" / _safe(key)),
                "checkpoint_every": self.checkpoint_every, "resume": self.resume}

    def echo(self, msg: str) -> None:
        """Print a progress line (suppressed by ``quiet``)."""
        if not self.quiet:
            print(msg, file=sys.stderr, flush=True)

    def report(self, text: str) -> None:
        """Print a result table to stdout (suppressed by ``quiet``)."""
        if not self.quiet:
            print(text, flush=True)

    def save_figure(self, fig, name: str) -> Path:
        """Save a matplotlib figure as ``out/name.png`` (atomic) and close it."""
        import matplotlib.pyplot as plt

        from taskdd.results import atomic_write
        path = self.out / f"{name}.png"
        with atomic_write(path, "wb") as f:
            fig.savefig(f, format="png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        return path

    def save(self, config: Any, started: float) -> None:
        """Write results.csv (deterministic), timings.csv (wall times) and run.json, atomically."""
        self.results.save(self.out / "results.csv")
        self.timings.save(self.out / "timings.csv")
        write_json(self.out / "run.json", {
            "case": self.case, "config": dataclasses.asdict(config), "quick": self.quick, "seed": self.seed,
            "device": str(self.device), "versions": versions(), "git_commit": git_commit(),
            "wall_time_s": time.time() - started, "argv": sys.argv, **self.extra})


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", key)


def _field_types(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _parse_value(key: str, text: str, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if text.lower() == "none" and type(None) in args:
            return None
        for a in args:
            if a is not type(None):
                return _parse_value(key, text, a)
    if origin in (tuple, list):
        inner = args[0] if args else str
        vals = tuple(_parse_value(key, t.strip(), inner) for t in text.split(",") if t.strip())
        return vals if origin is tuple else list(vals)
    if origin is typing.Literal:
        if text not in [str(a) for a in args]:
            raise ConfigError(f"--set {key}={text!r}: accepted values are {list(args)}")
        return next(a for a in args if str(a) == text)
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


def parse_overrides(config_cls: type, items: Sequence[str]) -> dict[str, Any]:
    """``["key=value", ...]`` -> typed field values; ConfigError names a bad key or value."""
    types_ = _field_types(config_cls)
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set takes key=value, got {item!r}")
        key, text = item.split("=", 1)
        key = key.strip()
        if key not in types_:
            raise ConfigError(f"unknown --set key {key!r}; accepted keys: {', '.join(sorted(types_))}")
        out[key] = _parse_value(key, text.strip(), types_[key])
    return out


def apply_overrides(config: Any, overrides: Mapping[str, Any]) -> Any:
    """``dataclasses.replace`` that names an unknown key and runs the config's validation."""
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"unknown config keys {unknown}; accepted keys: {', '.join(sorted(names))}")
    try:
        return dataclasses.replace(config, **overrides)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"bad config: {e}") from None


def run_case(name: str, *, out: str | Path, quick: bool = False, device: str = "auto", seed: int = 0,
             overrides: Sequence[str] | Mapping[str, Any] = (), quiet: bool = False, resume: bool = False,
             checkpoint_every: int = 0) -> RunContext:
    """Run case study ``name`` and write results.csv, timings.csv, run.json and figures into ``out``.

    resume: reuse the finished units and distillation checkpoints already in ``out``;
    checkpoint_every: checkpoint each distillation every N steps (0 = never).
    """
    case = get_case(name)
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, got {seed!r}")
    if not isinstance(checkpoint_every, int) or checkpoint_every < 0:
        raise ConfigError(f"checkpoint_every must be an int >= 0, got {checkpoint_every!r}")
    cfg = case.config_cls()
    if quick:
        cfg = apply_overrides(cfg, case.quick)
    ov = dict(overrides) if isinstance(overrides, Mapping) else parse_overrides(case.config_cls, overrides)
    cfg = apply_overrides(cfg, ov)
    dev = resolve_device(device)
    outp = ensure_out_dir(out)
    if resume and not (outp / "run.started.json").exists():
        raise CheckpointError(f"nothing to resume in {str(outp)!r}: no run was started there")
    if resume:
        prev = json.loads((outp / "run.started.json").read_text())
        now = {"case": name, "quick": quick, "seed": seed, "config": dataclasses.asdict(cfg)}
        if json.loads(json.dumps(now)) != prev:
            raise CheckpointError(f"the run in {str(outp)!r} was started with other settings; resume it with the same "
                                  "case, --quick, --seed and --set values")
    else:
        write_json(outp / "run.started.json", {"case": name, "quick": quick, "seed": seed,
                                                "config": dataclasses.asdict(cfg)})
    ctx = RunContext(case=name, out=outp, device=dev, seed=seed, quick=quick, quiet=quiet,
                     results=ResultsTable(name), resume=resume, checkpoint_every=checkpoint_every)
    started = time.time()
    ctx.echo(f"[taskdd] {name}: {'quick' if quick else 'full'} run on {dev}, writing to {outp}")
    case.run(cfg, ctx)
    ctx.save(cfg, started)
    return ctx
