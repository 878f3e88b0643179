"""Sweeps: a case study over a grid of settings and seeds, run in parallel.

Engines: ``local`` (processes on this machine) and ``ray`` (a local Ray runtime started
in-process, or an existing cluster given by ``address``; needs the ``ray`` extra). Each grid
point and seed is one ordinary case run in ``out/runs/<point>_seed<k>``; the combined
``out/results.csv`` tags rows with the point in the ``case`` column and is sorted, so both
engines write identical files. Each worker runs with ``threads`` torch threads (default 1: many
small problems side by side are much faster that way than competing for the cores).
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from taskdd.cases import run_case
from taskdd.overrides import field_type, field_types, parse_overrides
from taskdd.parallel import map_jobs
from taskdd.errors import ConfigError
from taskdd.registry import get_case
from taskdd.results import RESULT_COLUMNS, atomic_write, ensure_out_dir, versions, write_json

__all__ = ["expand_grid", "sweep", "ENGINES"]

log = logging.getLogger(__name__)
ENGINES = ("local", "ray")


def expand_grid(config_cls: type, items: Sequence[str]) -> list[dict[str, Any]]:
    """``["noise=0.1,0.3", "ipcs=2,5|10", "task.width=32,64"]`` -> the product of typed settings.

    Scalar fields split their alternatives on ``,``; tuple/list fields (whose own values use
    ``,``) split alternatives on ``|``. Dotted keys reach nested config dataclasses.
    """
    axes: list[list[dict[str, Any]]] = []
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set takes key=value[,value...], got {item!r}")
        key, text = (t.strip() for t in item.split("=", 1))
        tp = str(field_type(config_cls, key))
        sep = "|" if ("tuple" in tp or "list" in tp) else ","
        alts = [a.strip() for a in text.split(sep) if a.strip()]
        if not alts:
            raise ConfigError(f"--set {key} has no values")
        axes.append([parse_overrides(config_cls, [f"{key}={a}"]) for a in alts])
    return [{k: v for d in combo for k, v in d.items()} for combo in itertools.product(*axes)] or [{}]


def _label(point: dict[str, Any]) -> str:
    def fmt(v):
        return "-".join(map(str, v)) if isinstance(v, (tuple, list)) else str(v)
    return ",".join(f"{k}={fmt(v)}" for k, v in sorted(point.items())) or "default"


def _run_job(job: dict[str, Any]) -> list[dict]:
    """One grid point and seed (top level, so process pools and Ray can ship it)."""
    import torch
    if job["threads"]:
        torch.set_num_threads(job["threads"])
    ctx = run_case(job["case"], out=job["out"], quick=job["quick"], device=job["device"], seed=job["seed"],
                   overrides=job["overrides"], quiet=True)
    frame = ctx.results.frame()
    frame["case"] = frame["case"].map(lambda c: f"{c}[{job['label']}]")
    return frame.to_dict("records")


def sweep(case: str, *, out: str | os.PathLike, seeds: int = 1, grid: Sequence[str] = (), engine: str = "local",
          quick: bool = False, device: str = "cpu", base_seed: int = 0, workers: int | None = None,
          address: str | None = None, threads: int = 1) -> pd.DataFrame:
    """Run ``case`` for every grid point x seed; write ``out/results.csv`` and ``out/sweep.json``.

    Each run uses one seed (``seeds`` field of the case's config set to 1 where it has one) and
    ``threads`` torch threads in its worker process (0: torch's default, one per core); the
    calling process's thread count is left alone. Returns the combined results.
    """
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; known engines: {', '.join(ENGINES)}")
    if not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds must be an int >= 1, got {seeds!r}")
    if workers is not None and workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers!r}")
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 0:
        raise ConfigError(f"threads must be an int >= 0 (0 = torch's default), got {threads!r}")
    cfg_cls = get_case(case).config_cls
    points = expand_grid(cfg_cls, grid)
    one_seed = {"seeds": 1} if "seeds" in field_types(cfg_cls) else {}
    root = ensure_out_dir(out)
    jobs = [{"case": case, "out": str(root / "runs" / f"{_label(p)}_seed{s}"), "quick": quick, "device": device,
             "seed": s, "overrides": {**p, **one_seed}, "label": _label(p), "threads": threads}
            for p in points for s in range(base_seed, base_seed + seeds)]
    workers = workers or min(len(jobs), os.cpu_count() or 1)
    t0 = time.time()
    log.info("sweep %s: %d runs on engine %s with %d workers", case, len(jobs), engine, workers)
    chunks = map_jobs(_run_job, jobs, engine="process" if engine == "local" else engine, workers=workers,
                      address=address)
    frame = pd.DataFrame([r for rows in chunks for r in rows], columns=RESULT_COLUMNS)
    frame = frame.sort_values(["case", "method", "budget", "seed", "metric"], kind="stable", na_position="first")
    with atomic_write(Path(root) / "results.csv") as f:
        frame.to_csv(f, index=False, float_format="%.10g")
    write_json(Path(root) / "sweep.json", {"case": case, "grid": list(grid), "points": [_label(p) for p in points],
                                           "seeds": seeds, "base_seed": base_seed, "engine": engine,
                                           "workers": workers, "threads": threads, "quick": quick, "device": device,
                                           "wall_time_s": time.time() - t0, "versions": versions()})
    return frame
