"""Case studies: a frozen config dataclass + a run function, dispatched by name from the CLI.

A case study module defines ``Config`` (frozen dataclass with documented defaults; a task's own
settings embedded as one dataclass field, reached with dotted ``--set`` keys), a
``run(config, ctx)`` function that runs its grid through :class:`taskdd.study.Study` (or adds rows
to ``ctx.results`` itself) and saves figures through ``ctx``, and registers
``CaseStudy(name, Config, run, quick=...)``. :func:`run_case` does the rest: overrides from
``--set key=value`` (:mod:`taskdd.overrides`), the output folder, results.csv and run.json.
It never changes torch's thread count; run.json records the count it ran with.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import torch

from taskdd.device import resolve_device
from taskdd.errors import CheckpointError, ConfigError, TaskError
from taskdd.overrides import apply_overrides, parse_overrides
from taskdd.registry import get_case, register_case
from taskdd.results import ResultsTable, ensure_out_dir, git_commit, versions, write_json

__all__ = ["CaseStudy", "RunContext", "run_case", "parse_overrides", "apply_overrides"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseStudy:
    """name: CLI name; config_cls: frozen dataclass; run(config, ctx); quick: the ``--quick``
    settings (field or dotted ``group.field`` -> value) applied before user overrides."""

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
        try:  # fresh and resumed runs see the same data
            value = json.loads(json.dumps(fn(), sort_keys=True))
        except TypeError as e:
            raise TaskError(f"unit {key!r} returned data that JSON cannot hold ({e}); return lists, dicts, "
                            "str, int and float") from None
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
            "device": str(self.device), "torch_threads": torch.get_num_threads(), "versions": versions(),
            "git_commit": git_commit(),
            "wall_time_s": time.time() - started, "argv": sys.argv, **self.extra})


def _safe(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", key)


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix[:-1]: d}
    return {k: v for key, val in d.items() for k, v in _flatten(val, f"{prefix}{key}.").items()}


def _check_resume(out: Path, now: dict) -> None:
    """CheckpointError unless ``out`` holds a run started with exactly the settings ``now``."""
    path = out / "run.started.json"
    if not path.exists():
        raise CheckpointError(f"nothing to resume in {str(out)!r}: no run was started there")
    try:
        prev = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CheckpointError(f"{str(path)!r} is corrupt; the run cannot be resumed") from None
    old, new = _flatten(prev), _flatten(json.loads(json.dumps(now)))
    changed = sorted(k for k in set(old) | set(new) if old.get(k, "<unset>") != new.get(k, "<unset>"))
    if changed:
        what = ", ".join(f"{k}: {old.get(k, '<unset>')!r} -> {new.get(k, '<unset>')!r}" for k in changed[:5])
        raise CheckpointError(f"the run in {str(out)!r} was started with other settings ({what}); resume it with "
                              "the same case, --quick, --seed and --set values")


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
    started_with = {"case": name, "quick": quick, "seed": seed, "config": dataclasses.asdict(cfg)}
    if resume:
        _check_resume(outp, started_with)
    else:
        write_json(outp / "run.started.json", started_with)
    ctx = RunContext(case=name, out=outp, device=dev, seed=seed, quick=quick, quiet=quiet,
                     results=ResultsTable(name), resume=resume, checkpoint_every=checkpoint_every)
    started = time.time()
    ctx.echo(f"[taskdd] {name}: {'quick' if quick else 'full'} run on {dev}, writing to {outp}")
    case.run(cfg, ctx)
    ctx.save(cfg, started)
    return ctx
