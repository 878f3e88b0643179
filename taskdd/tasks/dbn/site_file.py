"""Site summary files (``taskdd summarize``): what a site computes locally and sends.

**File format** (version 1): a NumPy ``.npz`` archive (zip), readable with
``np.load(path, allow_pickle=False)`` — no pickled objects — holding

- ``masks`` bool ``[P, T, d]``: the distinct observation patterns (True = observed);
- ``counts`` float64 ``[P]``: sequences per pattern;
- ``means`` float64 ``[P, T*d]``: mean of each pattern's entries (time-major, ``t*d + j``; 0 where
  the pattern does not observe);
- ``covs`` float64 ``[P, T*d, T*d]``: biased scatter ``sum_i (x_i - mean)(x_i - mean)^T / n_p``;
- ``meta`` uint8: UTF-8 JSON with ``format`` ("taskdd-dbn-summary"), ``version``, ``name``,
  ``variables`` (the order of ``d``), ``grid`` (time grid: step, unit, slices, origin), ``units``
  (always the data's own: no standardisation), ``noise`` (null) and ``info`` (id/time columns,
  files, rows and sequences read, visits dropped).

A reader refuses other formats and versions with a DataError. Values are in the data's own units;
the distiller standardises from the summaries of all sites (:func:`~taskdd.tasks.dbn.site.site_scaling`).

**Reading in bounded memory**: pass 1 reads only the id and time columns (the time grid: step,
slices, origin, exactly as :func:`~taskdd.tasks.dbn.panel.align_panel` on the whole file); pass 2
reads ``chunksize`` rows at a time. The rows of one sequence must be contiguous in the file (sort
it by id first; checked in pass 1): a chunk's last sequence is carried into the next chunk. Memory:
the two key columns plus one chunk of all columns. Several files of one site are shards
(no sequence split between files), summarised in parallel (``engine``) and merged exactly.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from taskdd.errors import ConfigError, DataError
from taskdd.results import atomic_write
from taskdd.tasks.dbn.panel import align_panel, grid_plan
from taskdd.parallel import map_jobs
from taskdd.tasks.dbn.privacy import bounded_sums, release
from taskdd.tasks.dbn.site import SiteSummary
from taskdd.tasks.dbn.summaries import PatternSummary, merge_summaries, summarize

__all__ = ["FORMAT", "VERSION", "save_summary", "load_summary", "summarize_csv"]

FORMAT, VERSION = "taskdd-dbn-summary", 1
_ARRAYS = ("masks", "counts", "means", "covs")


def save_summary(site: SiteSummary, path: str | os.PathLike) -> Path:
    """Write ``site`` to ``path`` (atomic; the format in the module docstring)."""
    meta = {"format": FORMAT, "version": VERSION, "name": site.name, "variables": list(site.variables),
            "grid": site.grid, "units": "the data's own", "noise": site.noise, "info": site.info}
    s = site.summary
    arrays = {k: getattr(s, k).cpu().numpy() for k in _ARRAYS}
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return Path(path)


def load_summary(path: str | os.PathLike) -> SiteSummary:
    """A :class:`SiteSummary` from a file written by :func:`save_summary`; DataError for a
    missing, foreign, corrupt or newer file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"summary file {str(p)!r} does not exist")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in (*_ARRAYS, "meta")}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (OSError, ValueError, KeyError, UnicodeDecodeError) as e:
        raise DataError(f"summary file {str(p)!r} is not a taskdd summary (.npz with masks, counts, means, covs, "
                        f"meta): {e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DataError(f"summary file {str(p)!r} has format {meta.get('format') if isinstance(meta, dict) else None!r}, "
                        f"expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise DataError(f"summary file {str(p)!r} has version {meta.get('version')!r}; this taskdd reads version "
                        f"{VERSION} only (re-run `taskdd summarize` with this version, or upgrade taskdd)")
    summary = PatternSummary(*(torch.from_numpy(arrays[k]) for k in _ARRAYS))
    return SiteSummary(meta["name"], tuple(meta["variables"]), summary, meta["grid"], meta.get("noise"),
                       meta.get("info", {}))


def _key_columns(paths: Sequence[str], id_col: str, time_col: str, chunksize: int) -> dict[str, pd.DataFrame]:
    """Pass 1: the id and time columns of each file, checking that each sequence is contiguous."""
    frames = {}
    for path in paths:
        try:
            df = pd.concat(pd.read_csv(path, usecols=[id_col, time_col], chunksize=chunksize), ignore_index=True)
        except ValueError as e:
            raise DataError(f"data file {path!r}: {e} (--id-col {id_col!r}, --time-col {time_col!r})") from None
        ids = df[id_col].to_numpy()
        runs = 1 + int((ids[1:] != ids[:-1]).sum()) if len(ids) else 0
        if runs != pd.Series(ids).nunique():
            raise DataError(f"data file {path!r}: the rows of each sequence ({id_col}) must be contiguous for chunked "
                            "reading; sort the file by id first")
        frames[str(path)] = df
    seen = pd.concat([df[id_col] for df in frames.values()])
    if seen.drop_duplicates().size != sum(df[id_col].nunique() for df in frames.values()):
        raise DataError(f"sequence ids ({id_col}) appear in more than one file; a sequence must lie in one shard")
    return frames


def _plan(paths, id_col, time_col, time_step, max_slices, origin, chunksize) -> dict:
    """The time grid of all files together (as align_panel would make it) and the jobs."""
    keys = _key_columns(paths, id_col, time_col, chunksize)
    return grid_plan(keys, id_col, time_col, time_step=time_step, max_slices=max_slices, origin=origin)


def _summarize_file(job: dict) -> tuple[PatternSummary, tuple, int, int]:
    """Pass 2 on one file: ``(summary, variables, visits dropped, visits past the cap)``."""
    parts, variables, dropped, late, carry = [], None, 0, 0, None
    reader = pd.read_csv(job["path"], chunksize=job["chunksize"])
    for chunk in itertools.chain(reader, [None]):
        block = carry if chunk is None else (chunk if carry is None else pd.concat([carry, chunk], ignore_index=True))
        if block is None or not len(block):
            break
        if chunk is not None:  # hold back the last sequence: it may continue in the next chunk
            last = block[job["id_col"]].iloc[-1]
            carry, block = block[block[job["id_col"]] == last], block[block[job["id_col"]] != last]
            if not len(block):
                continue
        panel = align_panel({Path(job["path"]).name: block}, job["id_col"], job["time_col"], **job["grid"])
        src = panel.sources[0]
        variables = variables or src.variables
        values = torch.full((len(src), job["T"], len(variables)), float("nan"), dtype=torch.float64)
        values[:, :src.shape[1]] = torch.where(src.mask, src.values.double(), float("nan"))
        mask = ~values.isnan()
        parts.append(summarize(values, mask) if job.get("dp") is None else
                     bounded_sums(values, mask, job["dp"]["patterns"], job["dp"]["lo"], job["dp"]["hi"]))
        dropped, late = dropped + sum(panel.dropped.values()), late + sum(panel.truncated.values())
        if chunk is None:
            break
    merged = merge_summaries(parts) if job.get("dp") is None else sum(parts[1:], parts[0])
    return merged, variables, dropped, late


def _dp_job(dp: dict, variables: list[str], T: int) -> dict:
    """Bounds ``[d]`` and public patterns ``[P, T, d]`` from ``dp["bounds"]`` ({variable: [lo, hi]},
    every variable) and ``dp["patterns"]`` (a list of patterns, each T lists of the variables
    observed at that slice; default: every variable at every slice)."""
    bounds = dp.get("bounds") or {}
    lacking = [v for v in variables if v not in bounds]
    if lacking:
        raise ConfigError(f"DP needs public bounds [lo, hi] for every variable; lacking {lacking}")
    lo, hi = (torch.tensor([float(bounds[v][i]) for v in variables], dtype=torch.float64) for i in (0, 1))
    spec = dp.get("patterns") or [[list(variables)] * T]
    patterns = torch.zeros(len(spec), T, len(variables), dtype=torch.bool)
    for k, pat in enumerate(spec):
        if len(pat) != T or any(v not in variables for sl in pat for v in sl):
            raise ConfigError(f"DP pattern {k} must list the observed variables of each of the {T} slices, names "
                              f"from {variables}; got {pat}")
        for t, sl in enumerate(pat):
            patterns[k, t, [variables.index(v) for v in sl]] = True
    return {"lo": lo, "hi": hi, "patterns": patterns}


def summarize_csv(paths: Sequence[str | os.PathLike], *, id_col: str, time_col: str, name: str | None = None,
                  time_step: float | None = None, max_slices: int | None = None, origin: str = "sequence",
                  chunksize: int = 100_000, engine: str = "serial", workers: int = 1,
                  dp: dict | None = None) -> SiteSummary:
    """One site's CSV file(s) (shards of one source; long tables, NaN = missing) -> its
    :class:`SiteSummary`, read in chunks (module docstring). The time grid follows
    :func:`~taskdd.tasks.dbn.panel.align_panel` (``time_step``, ``max_slices``, ``origin``) over all
    the files; ``name`` defaults to the first file's stem. ``dp``: ``{"epsilon", "delta", "bounds",
    "patterns" (optional), "seed" (optional; default: fresh)}`` releases an (eps, delta)-DP summary
    (:mod:`taskdd.tasks.dbn.privacy`, the accounting in ``info["dp"]``) instead of the exact one."""
    paths = [str(p) for p in paths]
    if not paths:
        raise ConfigError("summarize needs at least one data file")
    if not isinstance(chunksize, int) or chunksize < 1:
        raise ConfigError(f"chunksize must be an int >= 1, got {chunksize!r}")
    for path in paths:
        if not Path(path).is_file():
            raise DataError(f"data file {path!r} does not exist")
    plan = _plan(paths, id_col, time_col, time_step, max_slices, origin, chunksize)
    header = [c for c in pd.read_csv(paths[0], nrows=0).columns if c not in (id_col, time_col)]
    dp_job = None if dp is None else _dp_job(dp, header, plan["T"])
    jobs = [{"path": p, "id_col": id_col, "time_col": time_col, "chunksize": chunksize, "grid": plan["grid"],
             "T": plan["T"], "dp": dp_job} for p in paths]
    results = map_jobs(_summarize_file, jobs, engine=engine, workers=workers)
    variables = {r[1] for r in results}
    if len(variables) > 1:
        raise DataError(f"the files of one site must have the same columns, got {sorted(map(list, variables))}")
    g = plan["grid"]
    grid = {"step": g["time_step"], "unit": plan["unit"], "slices": plan["T"], "origin_rule": origin,
            "start": 0.0 if g["start"] is None else g["start"]}
    site = name or Path(paths[0]).stem
    if dp is None:
        summary, acc = merge_summaries([r[0] for r in results]), None
    else:
        gen = torch.Generator()
        gen.manual_seed(dp["seed"]) if dp.get("seed") is not None else gen.seed()
        summary, acc = release(sum((r[0] for r in results[1:]), results[0][0]), dp_job["patterns"], dp_job["lo"],
                               dp_job["hi"], float(dp["epsilon"]), float(dp["delta"]), gen)
    info = {"id_col": id_col, "time_col": time_col, "files": [Path(p).name for p in paths], "chunksize": chunksize,
            "sequences": summary.n, "patterns": len(summary), "visits_dropped_same_slice": sum(r[2] for r in results),
            "visits_dropped_past_cap": sum(r[3] for r in results), **({"dp": acc} if acc else {})}
    return SiteSummary(site, results[0][1], summary, grid, None, info)
