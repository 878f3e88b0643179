"""A user's panel (long tables: one row per sequence id and visit) -> aligned :class:`Sources`.

Rows are placed on a time grid by their time *values*, not by their order, so a missing visit
becomes a masked slice:

- **Slice of a visit**: ``round((t - origin) / step)`` (halves round up). ``origin="sequence"``
  (default): the first visit of the same sequence, so every sequence starts at slice 0 (time
  since entry; the DBN's first slice is a sequence's first visit; right for calendar dates and
  enrolment at different times). ``origin="global"``: the earliest time over all sources (right
  when the time column is a protocol visit number and a first visit may be missing: a sequence
  whose visit 1 is absent then starts with a masked slice; late entry = leading masked slices).
  Shorter histories are padded with masked slices at the end, to the longest over all sources.
  ``start`` (with ``origin="global"``) fixes that earliest time instead: new data aligned on a
  saved grid (``taskdd evaluate``) use the training data's origin, given in :meth:`Panel.to_json`.
- **Step**: ``time_step`` when given (in the time column's units; in days for dates). Otherwise
  inferred from the within-sequence differences between consecutive distinct times, pooled over
  all sources: integer times -> their greatest common divisor (an exact grid: two distinct
  visits never share a slice); dates (a non-numeric time column parsed by pandas) -> in days,
  the most common difference rounded to whole days (so yearly visits of 365 and 366 days give a
  365-day grid); no differences at all -> 1. Non-integer numbers without ``time_step`` are
  refused: there is no sensible grid to guess.
- **Several visits in one slice**: the visit nearest the slice centre ``origin + k * step`` is
  kept (ties: the earlier time; equal times: the first row in the file); the others are dropped
  and counted (:attr:`Panel.dropped`; a logged warning, also in run.json "warnings").
- **Length cap**: a grid longer than ``max_slices`` is cut there (visits past it are dropped,
  with a warning); without ``max_slices`` a grid of more than :data:`MAX_SLICES` slices is refused.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from taskdd.data import Source, Sources
from taskdd.errors import ConfigError, DataError

__all__ = ["Panel", "align_panel", "grid_plan", "infer_step", "MAX_SLICES"]

log = logging.getLogger(__name__)

#: most time slices accepted without an explicit ``max_slices``
MAX_SLICES = 1000


@dataclass(frozen=True)
class Panel:
    """Aligned sources and how they were aligned: ``step`` (in ``unit``), slices ``T``, visits
    ``dropped`` per source (several in one slice), visits ``truncated`` per source (past the cap)."""

    sources: Sources
    step: float
    unit: str
    dropped: dict[str, int] = field(default_factory=dict)
    truncated: dict[str, int] = field(default_factory=dict)
    origin: str = "sequence"
    start: float = 0.0

    def warnings(self) -> list[str]:
        """One line per source that lost visits (several in one slice, or past the cap)."""
        out = [f"source {n!r}: {k} visits dropped (another visit of the same sequence is nearer the centre of "
               f"its time slice)" for n, k in self.dropped.items() if k]
        return out + [f"source {n!r}: {k} visits past --max-slices {self.T} dropped"
                      for n, k in self.truncated.items()]

    def slice_times(self) -> list:
        """The time of each slice as written back: ``slice * step`` since each sequence's first
        visit (origin "sequence"); ``start + slice * step`` in the time column's own terms (dates
        as ``YYYY-MM-DD``) for origin "global"."""
        t = [self.start + k * self.step for k in range(self.T)] if self.origin == "global" else \
            [k * self.step for k in range(self.T)]
        if self.origin == "global" and self.unit == "days":
            return [(pd.Timestamp("1970-01-01") + pd.Timedelta(days=x)).strftime("%Y-%m-%d") for x in t]
        return [int(x) if float(x).is_integer() else x for x in t]

    @property
    def T(self) -> int:
        return self.sources[0].shape[1]

    def to_json(self) -> dict:
        return {"step": self.step, "unit": self.unit, "slices": self.T, "origin_rule": self.origin,
                "start": self.start,
                "origin": {"sequence": "each sequence's first visit",
                           "global": "the earliest time over all sources"}[self.origin],
                "slice": "round((t - origin) / step)",
                "visits_dropped_same_slice": self.dropped, "visits_dropped_past_cap": self.truncated}


def _times(df: pd.DataFrame, time_col: str, name: str) -> tuple[np.ndarray, bool]:
    """The time column as floats (days for dates) and whether it held dates."""
    col = df[time_col]
    if col.isna().any():
        raise DataError(f"source {name!r}: time column {time_col!r} is empty in {int(col.isna().sum())} rows "
                        f"(first at data row {int(np.flatnonzero(col.isna().to_numpy())[0]) + 1})")
    if pd.api.types.is_bool_dtype(col):
        raise DataError(f"source {name!r}: time column {time_col!r} holds booleans; expected numbers or dates")
    if pd.api.types.is_numeric_dtype(col):
        return col.to_numpy(dtype=float), False
    try:
        ts = pd.to_datetime(col, format="mixed") if not pd.api.types.is_datetime64_any_dtype(col) else col
    except (ValueError, TypeError, OverflowError):
        raise DataError(f"source {name!r}: time column {time_col!r} holds neither numbers nor dates "
                        f"(e.g. {str(col.iloc[0])!r})") from None
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert(None)
    return ((ts - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0).to_numpy(dtype=float), True


def _diffs(ids: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Positive differences between consecutive distinct times within each sequence."""
    order = np.lexsort((t, ids))
    ids, t = ids[order], t[order]
    d = np.diff(t)
    return d[(ids[1:] == ids[:-1]) & (d > 0)]


def infer_step(diffs: np.ndarray, dates: bool, time_col: str) -> float:
    """The grid step from within-sequence time differences (see the module docstring)."""
    if dates:
        days = np.rint(diffs).astype(np.int64)
        days = days[days > 0]
        if not len(days):
            return 1.0
        vals, counts = np.unique(days, return_counts=True)
        return float(vals[np.argmax(counts)])
    if not len(diffs):
        return 1.0
    if not np.allclose(diffs, np.rint(diffs), rtol=0, atol=1e-9):
        raise DataError(f"time column {time_col!r} holds non-integer times (e.g. a gap of {diffs[0]:g}); "
                        "give --time-step STEP to set the time grid")
    return float(np.gcd.reduce(np.rint(diffs).astype(np.int64)))


def _slices(ids: np.ndarray, t: np.ndarray, step: float, origin: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Slice index of each row and its distance from the slice centre (in steps)."""
    first = pd.Series(t).groupby(ids).transform("min").to_numpy() if origin is None else origin
    x = (t - first) / step
    k = np.floor(x + 0.5 + 1e-9).astype(np.int64)
    return k, np.abs(x - k)


def _table(df: pd.DataFrame, id_col: str, t: np.ndarray, step: float, origin: float | None,
           variables: Sequence[str], cap: int | None) -> tuple[np.ndarray, int, int]:
    """``[N, T_seq, d]`` values (NaN = missing), visits dropped (same slice), visits past the cap."""
    ids = df[id_col].to_numpy()
    k, dist = _slices(ids, t, step, origin)
    row = pd.Index(pd.unique(np.sort(ids))).get_indexer(ids)
    order = np.lexsort((np.arange(len(t)), t, dist, k, row))
    keep = order[~pd.DataFrame({"r": row[order], "k": k[order]}).duplicated().to_numpy()]
    dropped = len(t) - len(keep)
    late = 0
    if cap is not None:
        late = int((k[keep] >= cap).sum())
        keep = keep[k[keep] < cap]
    arr = np.full((int(row.max()) + 1, int(k[keep].max()) + 1, len(variables)), np.nan)
    arr[row[keep], k[keep]] = df[list(variables)].to_numpy(dtype=float)[keep]
    return arr, dropped, late


def _check_columns(df: pd.DataFrame, id_col: str, time_col: str, name: str) -> list[str]:
    for col, what in ((id_col, "id_col (--id-col)"), (time_col, "time_col (--time-col)")):
        if col not in df.columns:
            raise DataError(f"source {name!r}: {what} {col!r} is not a column; columns are {list(df.columns)}")
    if len(df) == 0:
        raise DataError(f"source {name!r} has 0 rows (0 sequences); each source needs at least 2 sequences")
    if df[id_col].isna().any():
        raise DataError(f"source {name!r}: id column {id_col!r} is empty in {int(df[id_col].isna().sum())} rows")
    variables = [c for c in df.columns if c not in (id_col, time_col)]
    if not variables:
        raise DataError(f"source {name!r} has no variable columns besides {id_col!r} and {time_col!r}")
    for v in variables:
        if not pd.api.types.is_numeric_dtype(df[v]) or pd.api.types.is_bool_dtype(df[v]):
            bad = pd.to_numeric(df[v], errors="coerce").isna() & df[v].notna()
            example = df[v][bad].iloc[0] if bad.any() else df[v].iloc[0]
            raise DataError(f"source {name!r}: column {v!r} is not numeric (dtype {df[v].dtype}, e.g. "
                            f"{str(example)!r}); variables must be numbers, empty = missing")
    return variables


def _grid(frames: Mapping[str, pd.DataFrame], id_col: str, time_col: str,
          time_step: float | None) -> tuple[dict[str, np.ndarray], float, bool]:
    times, kinds, diffs = {}, {}, []
    for name, df in frames.items():
        times[name], kinds[name] = _times(df, time_col, name)
        diffs.append(_diffs(df[id_col].to_numpy(), times[name]))
    if len(set(kinds.values())) > 1:
        raise DataError(f"time column {time_col!r} holds dates in {[n for n, k in kinds.items() if k]} but "
                        f"numbers in {[n for n, k in kinds.items() if not k]}; use one kind in every file")
    dates = any(kinds.values())
    if time_step is not None:
        if not (isinstance(time_step, int | float) and math.isfinite(time_step) and time_step > 0):
            raise ConfigError(f"--time-step must be a finite number > 0, got {time_step!r}")
        return times, float(time_step), dates
    return times, infer_step(np.concatenate(diffs), dates, time_col), dates


def _global_start(times: Mapping[str, np.ndarray], origin: str, start: float | None, time_col: str) -> float | None:
    """The global origin: ``start`` when given (no visit may precede it), else the earliest time."""
    if origin == "sequence":
        if start is not None:
            raise ConfigError("start applies to origin='global' only")
        return None
    first = min(float(t.min()) for t in times.values())
    if start is None:
        return first
    if not (isinstance(start, int | float) and math.isfinite(start)):
        raise ConfigError(f"start must be a finite number, got {start!r}")
    if first < start - 1e-9:
        raise DataError(f"time column {time_col!r} has a visit at {first:g}, before the grid's origin {start:g} "
                        "(the earliest time of the training data)")
    return float(start)


def _too_many_slices(step: float, dates: bool) -> DataError:
    return DataError(f"the time grid (step {step:g}{' days' if dates else ''}) gives more than {MAX_SLICES} "
                     "slices; give a coarser --time-step or a --max-slices cap")


def grid_plan(keys: Mapping[str, pd.DataFrame], id_col: str, time_col: str, *, time_step: float | None = None,
              max_slices: int | None = None, origin: str = "sequence") -> dict:
    """The grid :func:`align_panel` would lay over tables with these id and time columns (``keys``:
    ``{name: table}``, other columns ignored), without the variables: ``{"grid": align_panel's
    keyword arguments (time_step, max_slices, origin, start), "T": slices, "unit": ...}``; for
    files read in chunks, each chunk then aligned with ``align_panel(chunk, ..., **grid)``."""
    times, step, dates = _grid(keys, id_col, time_col, time_step)
    start = _global_start(times, origin, None, time_col)
    T = max(int(_slices(df[id_col].to_numpy(), times[n], step, start)[0].max()) + 1 for n, df in keys.items())
    if max_slices is not None:
        T = min(T, max_slices)
    elif T > MAX_SLICES:
        raise _too_many_slices(step, dates)
    grid = {"time_step": step, "max_slices": max(T, 2), "origin": origin, "start": start}
    return {"grid": grid, "T": T, "unit": "days" if dates else f"{time_col} units"}


def align_panel(frames: Mapping[str, pd.DataFrame], id_col: str, time_col: str, *,
                time_step: float | None = None, max_slices: int | None = None, origin: str = "sequence",
                start: float | None = None) -> Panel:
    """``{source name: long table}`` -> :class:`Panel` (rules in the module docstring).

    start: origin="global" only: the grid's time 0 (in the time column's terms, days since
    1970-01-01 for dates; :attr:`Panel.start`), default the earliest time over ``frames``.
    Visits before it are refused (DataError).
    Every column but ``id_col`` and ``time_col`` is a variable (numeric; empty = missing);
    columns may differ between tables (the union is the variable set)."""
    if origin not in ("sequence", "global"):
        raise ConfigError(f"--time-origin must be 'sequence' or 'global', got {origin!r}")
    if max_slices is not None and (not isinstance(max_slices, int) or max_slices < 2):
        raise ConfigError(f"--max-slices must be an int >= 2, got {max_slices!r}")
    variables = {name: _check_columns(df, id_col, time_col, name) for name, df in frames.items()}
    times, step, dates = _grid(frames, id_col, time_col, time_step)
    cap = max_slices if max_slices is not None else MAX_SLICES + 1
    start = _global_start(times, origin, start, time_col)
    tables, dropped, late = {}, {}, {}
    for name, df in frames.items():
        tables[name], dropped[name], late[name] = _table(df, id_col, times[name], step, start, variables[name], cap)
    T = max(a.shape[1] for a in tables.values())
    if max_slices is None and (T > MAX_SLICES or any(late.values())):
        raise _too_many_slices(step, dates)
    sources = []
    for name, a in tables.items():
        pad = np.full((a.shape[0], T - a.shape[1], a.shape[2]), np.nan)
        sources.append(Source(torch.from_numpy(np.concatenate([a, pad], 1)), None, variables[name], name))
    panel = Panel(Sources(sources), step, "days" if dates else f"{time_col} units", dropped,
                  {k: v for k, v in late.items() if v}, origin, 0.0 if start is None else start)
    for w in panel.warnings():
        log.warning(w)
    return panel
