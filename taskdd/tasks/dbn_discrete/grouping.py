"""Group records by observation pattern for exact scoring.

Inside a group, a cell observed in every record is *instantiated* (its CPT axes are indexed with
the records' codes, so it leaves the elimination); a cell observed in some records only enters
as an indicator factor (one-hot, all ones where missing); a cell missing everywhere is summed
out. One group per distinct pattern makes the cliques (and, along time, the messages over the
slice interface) as small as the data allow, but costs one run of Python-level contractions per
pattern; one group for everything is the reverse. :func:`group_patterns` sweeps the patterns in
an order that puts similar ones side by side and merges the next pattern into the current group
whenever a simple cost model says the merged group is cheaper than two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["Group", "group_patterns"]

# Cost model, in units of "table entries per record": a group pays a fixed overhead per variable
# and slice (Python-level contraction calls), and each record pays for its messages (the free
# interface variables of a slice) and its free cells.
_OVERHEAD_PER_CELL = 20000.0
_CELL = 16.0


@dataclass(frozen=True)
class Group:
    """Records ``rows`` (indices into the distinct rows); ``fixed [T, d]``: observed in all of
    them; ``partial [T, d]``: observed in some but not all."""

    rows: Tensor
    fixed: Tensor
    partial: Tensor


def _work(missing: np.ndarray, log_cards: np.ndarray, max_card: int) -> float:
    """Per-record cost of a group whose union of missing cells is ``missing [T, d]`` (bool);
    ``log_cards [d]``: log cardinalities, 0 outside the slice interface."""
    msgs = np.exp(missing @ log_cards)  # [T]: table size of each slice's outgoing message
    cliques = np.maximum(np.concatenate([[1.0], msgs[:-1]]), msgs).sum()  # the frontier of a forward step
    return float(cliques) * max_card ** 4 + _CELL * float(missing.sum())


def group_patterns(observed: Tensor, cards: Sequence[int], interface: Sequence[int],
                   mode: str = "auto") -> list[Group]:
    """Groups covering every record of ``observed [U, T, d]`` (bool, True = observed) once.
    mode: ``"auto"`` (the cost model), ``"pattern"`` (one group per pattern) or ``"single"``
    (one group)."""
    U, T, d = observed.shape
    pats, inverse, counts = torch.unique(observed.reshape(U, -1), dim=0, return_inverse=True, return_counts=True)
    missing = ~pats.reshape(-1, T, d)
    freq = missing.reshape(len(pats), -1).float().mul(counts.unsqueeze(1)).sum(0)
    cols = torch.argsort(freq, descending=True, stable=True)
    keyed = sorted(range(len(pats)), key=lambda p: missing[p].reshape(-1)[cols].tolist())
    log_cards = np.array([math.log(c) if k in set(interface) else 0.0 for k, c in enumerate(cards)])
    miss = missing.numpy().astype(np.float64)

    def work(m: np.ndarray) -> float:
        return _work(m, log_cards, max(cards))
    overhead = _OVERHEAD_PER_CELL * T * d
    members: list[list[int]] = []
    union, n = None, 0
    for p in keyed:
        m, c = miss[p], int(counts[p])
        if union is not None:
            merged = np.maximum(union, m)
            if mode == "single" or mode == "auto" and overhead + (n + c) * work(merged) <= \
                    2 * overhead + n * work(union) + c * work(m):
                members[-1].append(p)
                union, n = merged, n + c
                continue
        members.append([p])
        union, n = m, c
    by_pattern = torch.split(torch.argsort(inverse, stable=True), counts.tolist())
    groups = []
    for ps in members:
        rows = torch.cat([by_pattern[p] for p in ps])
        obs = pats[ps].reshape(-1, T, d)
        groups.append(Group(rows, obs.all(0), obs.any(0) & ~obs.all(0)))
    return groups
