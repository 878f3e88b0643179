"""Variable-elimination plans: a min-fill order on the factors' interaction graph, compiled once
into contraction steps and run batched (one ``torch.einsum`` per eliminated variable) with
per-record rescaling, so that long products never underflow.

A plan knows only scopes (tuples of integer variable ids) and cardinalities; the tensors come at
run time. A batched factor has a leading batch axis ``[B, *cards(scope)]``; an unbatched one is
``[*cards(scope)]`` (a CPT). One einsum over all variables at once is what this avoids: for ALARM
with a batch index it asked for 220 GB, while the largest clique of the min-fill order holds 144
entries per record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

__all__ = ["Plan", "make_plan", "run_plan"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"
_BATCH = "Z"


@dataclass(frozen=True)
class Step:
    """Multiply factors ``inputs`` (slots) and sum out ``eliminate``; the result goes to a new
    slot with scope ``scope``."""

    inputs: tuple[int, ...]
    scope: tuple[int, ...]
    eliminate: tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    """Steps over ``n_inputs`` input slots; the last step's result has scope ``keep``."""

    n_inputs: int
    steps: tuple[Step, ...]
    keep: tuple[int, ...]
    max_clique: int


def _min_fill_var(adj: dict[int, set[int]], candidates: set[int], cards: dict[int, int]) -> int:
    """The candidate whose elimination adds the fewest fill edges (ties: smallest clique, then id)."""
    def cost(v: int) -> tuple[int, int, int]:
        nb = sorted(adj[v])
        fill = sum(1 for i, a in enumerate(nb) for b in nb[i + 1:] if b not in adj[a])
        weight = cards[v]
        for u in nb:
            weight *= cards[u]
        return fill, weight, v
    return min(candidates, key=cost)


def make_plan(scopes: Sequence[Sequence[int]], cards: dict[int, int], keep: Sequence[int] = ()) -> Plan:
    """Min-fill elimination plan for the product of factors with ``scopes``, summing out every
    variable not in ``keep``; the result has scope ``keep`` (in that order)."""
    slots = [tuple(s) for s in scopes]
    live = set(range(len(slots)))
    adj: dict[int, set[int]] = {v: set() for s in slots for v in s}
    for s in slots:
        for v in s:
            adj[v].update(u for u in s if u != v)
    keep = tuple(keep)
    todo = set(adj) - set(keep)
    steps, max_clique = [], 1
    while todo:
        v = _min_fill_var(adj, todo, cards)
        inputs = tuple(sorted(i for i in live if v in slots[i]))
        clique = sorted({u for i in inputs for u in slots[i]})
        size = 1
        for u in clique:
            size *= cards[u]
        max_clique = max(max_clique, size)
        scope = tuple(u for u in clique if u != v)
        steps.append(Step(inputs, scope, (v,)))
        live.difference_update(inputs)
        live.add(len(slots))
        slots.append(scope)
        for a in adj[v]:
            adj[a].update(u for u in adj[v] if u != a)
            adj[a].discard(v)
        del adj[v]
        todo.discard(v)
    steps.append(Step(tuple(sorted(live)), keep, ()))
    return Plan(len(scopes), tuple(steps), keep, max_clique)


def _contract(step: Step, factors: list[Tensor | None], scopes: list[tuple[int, ...]],
              batch: list[bool]) -> tuple[Tensor, bool]:
    letter: dict[int, str] = {}
    for i in step.inputs:
        for v in scopes[i]:
            letter.setdefault(v, _LETTERS[len(letter)])
    batched = any(batch[i] for i in step.inputs)
    terms, ops = [], []
    for i in step.inputs:
        terms.append((_BATCH if batch[i] else "") + "".join(letter[v] for v in scopes[i]))
        ops.append(factors[i])
    out = (_BATCH if batched else "") + "".join(letter[v] for v in step.scope)
    return torch.einsum(",".join(terms) + "->" + out, *ops), batched


def run_plan(plan: Plan, scopes: Sequence[Sequence[int]], factors: Sequence[Tensor],
             batched: Sequence[bool], n: int) -> tuple[Tensor, Tensor]:
    """Run ``plan`` on ``factors``. Returns ``(table [n, *cards(keep)], log_scale [n])``: the
    exact result is ``table * exp(log_scale)``; each batched intermediate is divided by its
    per-record maximum (a constant for autograd, so gradients stay exact)."""
    slots: list[Tensor | None] = list(factors)
    sc = [tuple(s) for s in scopes]
    bt = list(batched)
    ref = factors[0]
    log_scale = torch.zeros(n, dtype=ref.dtype, device=ref.device)
    for step in plan.steps:
        out, is_b = _contract(step, slots, sc, bt)
        for i in step.inputs:
            slots[i] = None  # free memory early
        if is_b and out.ndim > 1:
            s = out.detach().flatten(1).amax(1).clamp_min(torch.finfo(out.dtype).tiny)
            out = out / s.view(-1, *([1] * (out.ndim - 1)))
            log_scale = log_scale + s.log()
        elif is_b:
            s = out.detach().clamp_min(torch.finfo(out.dtype).tiny)
            out = out / s
            log_scale = log_scale + s.log()
        slots.append(out)
        sc.append(step.scope)
        bt.append(is_b)
    table = slots[-1]
    if not bt[-1]:
        table = table.expand(n, *table.shape)
    return table, log_scale
