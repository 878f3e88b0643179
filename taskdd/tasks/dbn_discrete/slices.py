"""The factors of one slice of one record group, and their elimination plan.

Variable ids: slice 0 uses ``0 .. d-1``; a later slice uses ``k`` for variable ``k`` of slice
``t-1`` and ``d + k`` for slice ``t``. A CPT axis whose cell is fixed (observed in every record of
the group) is indexed with the records' codes; a CPT whose axes are all fixed is a vector of
probabilities per record (its log goes straight into the result). The message from slice ``t-1``
ranges over the interface variables that are not fixed there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn_discrete.elimination import Plan, make_plan

__all__ = ["Gather", "SliceSpec", "slice_spec", "table_shape", "flat_index"]


@dataclass(frozen=True)
class Gather:
    """CPT ``j`` indexed on its axes ``fixed`` at the codes of cells ``cells`` (``(slice offset:
    0 = t, -1 = t-1, variable)``); its axes ``free`` (in table order) remain, with scope ``scope``."""

    j: int
    fixed: tuple[int, ...]
    free: tuple[int, ...]
    cells: tuple[tuple[int, int], ...]
    scope: tuple[int, ...]


def table_shape(structure: DBNStructure, cards: Sequence[int], v: str, first: bool) -> tuple[int, ...]:
    """Shape of the CPT of ``v``: ``(*cards of inter parents (not in the first slice), *cards of
    intra parents, cards[v])``."""
    return tuple(cards[c] for _, c in _cpt_axes(structure, v, first))


def flat_index(g: Gather, shape: Sequence[int], codes: Tensor, t: int, offset: int) -> Tensor:
    """Positions in the flattened (concatenated) tables, starting at ``offset``, of CPT ``g.j``
    indexed at the codes ``[B, T, d]`` of slice ``t``: Long ``[B, *cards of the free axes]``."""
    strides = [math.prod(shape[a + 1:]) for a in range(len(shape))]
    lin = torch.full((codes.shape[0],), offset, dtype=torch.long, device=codes.device)
    for a, (dt, k) in zip(g.fixed, g.cells):
        lin = lin + codes[:, t + dt, k] * strides[a]
    free = torch.zeros((), dtype=torch.long, device=codes.device)
    for a in g.free:
        free = free.unsqueeze(-1) + torch.arange(shape[a], device=codes.device) * strides[a]
    return lin.view(-1, *[1] * len(g.free)) + free


@dataclass(frozen=True)
class SliceSpec:
    """Factors: the message (if ``message``), ``factors`` (CPTs, indexed where fixed),
    ``indicators`` (variables of slice ``t`` observed in some records only); ``families``: CPTs
    fully fixed; ``plan``: their elimination (None: nothing to eliminate or multiply)."""

    message: bool
    factors: tuple[Gather, ...]
    families: tuple[Gather, ...]
    indicators: tuple[int, ...]
    plan: Plan | None


def _cpt_axes(s: DBNStructure, v: str, first: bool, parents: tuple[dict, dict] | None = None) -> list[tuple[int, int]]:
    """The CPT axes of ``v`` as cells ``(offset, variable)``: inter parents, intra parents, ``v``.
    parents: ``(structure.intra, structure.inter)`` when the caller already holds them."""
    intra, inter = parents or (s.intra, s.inter)
    cells = [] if first else [(-1, s.index(p)) for p in inter[v]]
    return cells + [(0, s.index(p)) for p in intra[v]] + [(0, s.index(v))]


def slice_spec(structure: DBNStructure, cards: Sequence[int], interface: Sequence[int], fixed_prev: Tensor | None,
               fixed: Tensor, partial: Tensor, last: bool) -> SliceSpec:
    """Spec of a slice whose cells ``fixed [d]`` / ``partial [d]`` are observed in all / some
    records (``fixed_prev``: the same for slice ``t-1``, None for slice 0); ``last``: no message
    goes on."""
    d, first = structure.d, fixed_prev is None
    off = 0 if first else d
    fixed_of = {0: fixed.tolist(), -1: [] if first else fixed_prev.tolist()}

    def vid(cell: tuple[int, int]) -> int:
        return cell[1] if cell[0] == -1 else off + cell[1]

    parents = (structure.intra, structure.inter)
    factors, families = [], []
    for v in structure.variables:
        axes = _cpt_axes(structure, v, first, parents)
        fx = [a for a, c in enumerate(axes) if fixed_of[c[0]][c[1]]]
        free = [a for a in range(len(axes)) if a not in fx]
        g = Gather(structure.index(v), tuple(fx), tuple(free), tuple(axes[a] for a in fx),
                   tuple(vid(axes[a]) for a in free))
        (factors if free else families).append(g)
    message = not first and any(not fixed_of[-1][k] for k in interface)
    msg_scope = [tuple(k for k in interface if not fixed_of[-1][k])] if message else []
    indicators = tuple(j for j in range(d) if bool(partial[j]))
    scopes = msg_scope + [g.scope for g in factors] + [(off + j,) for j in indicators]
    batched = [True] * len(msg_scope) + [bool(g.cells) for g in factors] + [True] * len(indicators)
    keep = () if last else tuple(off + k for k in interface if not fixed_of[0][k])
    plan = None
    if scopes:
        cards_of = {i: cards[i % d] for i in range(2 * d)}
        plan = make_plan(scopes, batched, cards_of, keep)
    return SliceSpec(message, tuple(factors), tuple(families), indicators, plan)
