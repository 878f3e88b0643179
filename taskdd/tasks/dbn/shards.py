"""Summaries of many shards computed in parallel and merged exactly.

A shard is any picklable job that a worker function turns into a
:class:`~taskdd.tasks.dbn.summaries.PatternSummary` (by default ``(values, mask)`` numpy arrays,
``[n, T, d]``); the per-shard summaries combine by the parallel-variance formula
(:func:`~taskdd.tasks.dbn.summaries.merge_summaries`), so the result equals the summary of all
rows at once up to float64 rounding. Engines: ``serial``, ``process`` (a local process pool) or
``ray`` (:func:`taskdd.parallel.map_jobs`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

from taskdd.errors import DataError
from taskdd.parallel import map_jobs
from taskdd.tasks.dbn.summaries import PatternSummary, merge_summaries, summarize

__all__ = ["summarize_arrays", "summarize_shards"]


def summarize_arrays(shard: tuple[np.ndarray, np.ndarray]) -> PatternSummary:
    """The summary of one ``(values [n, T, d] float, mask [n, T, d] bool)`` shard."""
    values, mask = shard
    if values.shape != mask.shape or values.ndim != 3:
        raise DataError(f"a shard is (values, mask) of one shape [n, T, d], got {values.shape} and {mask.shape}")
    return summarize(torch.from_numpy(np.asarray(values, dtype=np.float64)), torch.from_numpy(np.asarray(mask, bool)))


def summarize_shards(shards: Sequence[Any], *, fn: Callable[[Any], PatternSummary] = summarize_arrays,
                     engine: str = "serial", workers: int = 1, address: str | None = None) -> PatternSummary:
    """``fn`` over ``shards`` on ``engine`` (serial | process | ray), merged in shard order."""
    if not shards:
        raise DataError("summarize_shards needs at least one shard")
    return merge_summaries(map_jobs(fn, list(shards), engine=engine, workers=workers, address=address))
