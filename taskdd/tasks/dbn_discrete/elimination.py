"""Variable-elimination plans: a min-fill order on the factors' interaction graph, compiled once
into pairwise ``torch.einsum`` calls and run batched with per-record rescaling,
so that long products never underflow.

A plan knows scopes (tuples of integer variable ids), cardinalities and which inputs carry a
leading batch axis (``[B, *cards(scope)]``; the others are ``[*cards(scope)]``, CPTs); tensors
come at run time. One einsum over all variables at once is what this avoids: for ALARM with a
batch index it asked for 220 GB, while the largest clique of the min-fill order holds 144 entries
per record. The products inside one elimination step are split into pairs in a greedy
smallest-result order fixed at compile time: with three or more operands ``torch.einsum`` searches
a contraction path (opt_einsum) on every call, which costs more than the arithmetic here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Sequence

import torch
from torch import Tensor

__all__ = ["Plan", "make_plan", "run_plan"]

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY"
_BATCH = -1  # the batch axis, as a pseudo-variable
_BATCH_SIZE = 10 ** 4  # its weight when ordering pairwise products


@dataclass(frozen=True)
class Op:
    """``slots[out] = einsum(equation, *slots[inputs])`` (one or two inputs); ``rescale``: divide
    by the per-record maximum (the end of one elimination step on batched factors)."""

    inputs: tuple[int, ...]
    equation: str
    out: int
    rescale: bool


@dataclass(frozen=True)
class Plan:
    """Ops over ``n_inputs`` input slots; the last op's result has scope ``keep`` (batched if
    ``batched``). ``max_clique``: the largest table the elimination order forms, per record."""

    n_inputs: int
    ops: tuple[Op, ...]
    keep: tuple[int, ...]
    batched: bool
    max_clique: int


def _size(scope: frozenset[int], cards: dict[int, int]) -> int:
    n = 1
    for v in scope:
        n *= _BATCH_SIZE if v == _BATCH else cards[v]
    return n


def _min_fill_var(adj: dict[int, set[int]], candidates: set[int], cards: dict[int, int]) -> int:
    """The candidate whose elimination adds the fewest fill edges (ties: smallest clique, then id)."""
    def cost(v: int) -> tuple[int, int, int]:
        nb = sorted(adj[v])
        fill = sum(1 for i, a in enumerate(nb) for b in nb[i + 1:] if b not in adj[a])
        return fill, _size(frozenset(nb) | {v}, cards), v
    return min(candidates, key=cost)


def _op(ins: Sequence[tuple[int, tuple[int, ...]]], out: tuple[int, ...], slot: int) -> Op:
    """Op multiplying the ``(slot, scope)`` inputs and summing to scope ``out``."""
    letter: dict[int, str] = {}
    for v in [u for _, sc in ins for u in sc] + list(out):
        if v not in letter:
            letter[v] = "Z" if v == _BATCH else _LETTERS[len(letter) - (_BATCH in letter)]
    terms = ",".join("".join(letter[v] for v in sc) for _, sc in ins)
    return Op(tuple(i for i, _ in ins), terms + "->" + "".join(letter[v] for v in out), slot, False)


def _pairwise(live: list[tuple[int, tuple[int, ...]]], out: tuple[int, ...], cards: dict[int, int],
              next_slot: int) -> tuple[list[Op], tuple[int, ...], int]:
    """Ops multiplying the ``(slot, scope)`` factors in ``live`` into one of scope ``out``, two at
    a time (smallest result first), each product summing out the variables nobody else needs."""
    ops, live, keep = [], list(live), set(out)
    while len(live) > 1 or tuple(live[0][1]) != tuple(out):
        best, sets = None, [frozenset(s) for _, s in live]
        occ = Counter(v for s in sets for v in s)  # how many live factors hold each variable
        sizes = [_size(s, cards) for s in sets]
        pairs = [(a, b) for a in range(len(live)) for b in range(a + 1, len(live))] or [(0, 0)]
        for a, b in pairs:
            both = sets[a] | sets[b]
            res = frozenset(v for v in both if v in keep or occ[v] > (v in sets[a]) + (v in sets[b] and a != b))
            key = (_size(res, cards), sizes[a] + sizes[b])
            if best is None or key < best[0]:
                best = (key, a, b, res)
        _, a, b, res = best
        scope = tuple(v for v in out if v in res) if len(live) <= 2 else tuple(sorted(res))
        ins = [live[a]] if a == b else [live[a], live[b]]
        ops.append(_op(ins, scope, next_slot))
        live = [f for k, f in enumerate(live) if k not in (a, b)] + [(next_slot, scope)]
        next_slot += 1
    return ops, live[0][1], next_slot


def make_plan(scopes: Sequence[Sequence[int]], batched: Sequence[bool], cards: dict[int, int],
              keep: Sequence[int] = ()) -> Plan:
    """Min-fill elimination plan for the product of factors with ``scopes`` (``batched[i]``: factor
    ``i`` has a leading batch axis), summing out every variable not in ``keep``; the result has
    scope ``keep`` in that order (after the batch axis, if any input is batched)."""
    slots = {i: (_BATCH,) * bool(b) + tuple(s) for i, (s, b) in enumerate(zip(scopes, batched))}
    adj: dict[int, set[int]] = {v: set() for s in scopes for v in s}
    for s in scopes:
        for v in s:
            adj[v].update(u for u in s if u != v)
    todo, ops, nxt, max_clique = set(adj) - set(keep), [], len(slots), 1
    while todo:
        v = _min_fill_var(adj, todo, cards)
        inputs = sorted(i for i, s in slots.items() if v in s)
        clique = {u for i in inputs for u in slots[i]}
        max_clique = max(max_clique, _size(frozenset(clique - {_BATCH}), cards))
        out = tuple(sorted(clique - {v}))
        step, out, nxt = _pairwise([(i, slots.pop(i)) for i in inputs], out, cards, nxt)
        ops += step[:-1] + [replace(step[-1], rescale=_BATCH in out)]
        slots[nxt - 1] = out
        for a in adj[v]:
            adj[a].update(u for u in adj[v] if u != a)
            adj[a].discard(v)
        del adj[v]
        todo.discard(v)
    is_b = any(_BATCH in s for s in slots.values())
    final = (_BATCH,) * is_b + tuple(keep)
    if len(slots) > 1 or next(iter(slots.values())) != final:
        step, _, nxt = _pairwise(list(slots.items()), final, cards, nxt)
        ops += step[:-1] + [replace(step[-1], rescale=is_b)]
    return Plan(len(scopes), tuple(ops), tuple(keep), is_b, max_clique)


def run_plan(plan: Plan, factors: Sequence[Tensor], n: int) -> tuple[Tensor, Tensor]:
    """Run ``plan`` on ``factors``. Returns ``(table [n, *cards(keep)], log_scale [n])``: the
    exact result is ``table * exp(log_scale)``; each batched elimination result is divided by its
    per-record maximum (a constant for autograd, so gradients stay exact)."""
    slots: dict[int, Tensor] = dict(enumerate(factors))
    ref = factors[0]
    log_scale = torch.zeros(n, dtype=ref.dtype, device=ref.device)
    last = len(factors) - 1
    for op in plan.ops:
        out = torch.einsum(op.equation, *[slots.pop(i) for i in op.inputs])
        if op.rescale:
            s = out.detach().flatten(1).amax(1) if out.ndim > 1 else out.detach()
            s = s.clamp_min(torch.finfo(out.dtype).tiny)
            out = out / s.view(-1, *([1] * (out.ndim - 1)))
            log_scale = log_scale + s.log()
        slots[op.out] = out
        last = op.out
    table = slots[last]
    if not plan.batched:
        table = table.expand(n, *table.shape)
    return table, log_scale
