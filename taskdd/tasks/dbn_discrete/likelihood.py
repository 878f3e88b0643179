"""Exact marginal log-likelihood of partially observed categorical records under a discrete DBN.

Records are compiled once (:class:`Evidence`): distinct rows are kept with their counts, and each
observed cell becomes an indicator vector (one-hot; a missing cell contributes no factor at all,
so its value is never read). The sum over the missing entries is variable elimination in a
min-fill order of each slice's factor graph (``taskdd.tasks.dbn_discrete.elimination``), batched
over all distinct rows at once; along time a forward pass carries a message over the slice
interface (the variables of slice ``t-1`` that are inter-slice parents), rescaled per record at
every step so long sequences do not underflow. Everything is differentiable w.r.t. the CPTs.

Why one order for all records rather than one contraction per observation pattern: with cells
missing at random nearly every record has its own pattern, and a per-pattern loop is dominated by
Python overhead; an observed cell as an indicator factor is exact and costs one clique's worth of
multiply-adds per record.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from taskdd.errors import DataError
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn_discrete.elimination import Plan, make_plan, run_plan

__all__ = ["Evidence", "check_codes"]


def check_codes(x: Tensor, cards: Sequence[int], what: str = "x") -> None:
    """DataError unless ``x`` is an integer ``[N, T, d]`` tensor, ``N, T >= 1``, with codes in
    ``[-1, cards[j] - 1]`` in column ``j`` (-1 = missing)."""
    d = len(cards)
    if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[-1] != d:
        got = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise DataError(f"{what} must be an integer tensor of shape [N, T, {d}], got {got}")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise DataError(f"{what} must hold integer category codes (-1 = missing), got dtype {x.dtype}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataError(f"{what} has an empty record or time axis: shape {tuple(x.shape)}")
    hi = torch.tensor(cards, device=x.device)
    bad = (x < -1) | (x >= hi)
    if bool(bad.any()):
        n, t, j = (int(i) for i in bad.nonzero()[0])
        raise DataError(f"{what}[{n}, {t}, {j}] = {int(x[n, t, j])} is not a category code of variable {j} "
                        f"(expected -1 for missing or 0..{cards[j] - 1})")


class Evidence:
    """Records compiled once for repeated exact scoring (distinct rows counted, plans cached).

    structure: the DBN graph; cards: categories per variable; x: integer ``[N, T, d]``,
    -1 = missing. ``log_likelihood(dbn)`` returns the exact ``log P(observed cells)`` of each
    record (``reduce="none"``, ``[N]``) or their sum (``reduce="sum"``).
    """

    def __init__(self, structure: DBNStructure, cards: Sequence[int], x: Tensor):
        if not isinstance(structure, DBNStructure):
            raise DataError(f"structure must be a DBNStructure, got {type(structure).__name__}")
        self.structure = structure
        self.cards = tuple(int(c) for c in cards)
        if len(self.cards) != structure.d:
            raise DataError(f"cards must give {structure.d} cardinalities, got {len(self.cards)}")
        check_codes(x, self.cards)
        self.n, self.T, d = x.shape
        rows, inverse, counts = torch.unique(x.long().reshape(self.n, -1), dim=0, return_inverse=True,
                                             return_counts=True)
        self.rows = rows.reshape(-1, self.T, d)  # [U, T, d]
        self.inverse, self.counts = inverse, counts
        seen = (self.rows >= 0).any(0)  # [T, d]: observed in some record
        self._observed = [tuple(int(j) for j in seen[t].nonzero().flatten()) for t in range(self.T)]
        inter = structure.inter
        self.interface = tuple(sorted({structure.index(p) for ps in inter.values() for p in ps}))
        self._plans: dict[tuple, Plan] = {}
        self._indicators: dict[tuple, list[Tensor]] = {}

    # --- factor scopes ----------------------------------------------------------------------
    def _scopes(self, t: int) -> list[tuple[int, ...]]:
        """Scopes of slice ``t``'s factors: (message,) CPTs, indicators. Slice 0 uses ids 0..d-1;
        later slices use ``k`` for slice ``t-1`` and ``d + k`` for slice ``t``."""
        s, d = self.structure, self.structure.d
        off = 0 if t == 0 else d
        scopes = [] if t == 0 or not self.interface else [self.interface]
        for v in s.variables:
            intra = tuple(off + s.index(p) for p in s.intra[v])
            inter = () if t == 0 else tuple(s.index(p) for p in s.inter[v])
            scopes.append(inter + intra + (off + s.index(v),))
        scopes += [(off + j,) for j in self._observed[t]]
        return scopes

    def _plan(self, t: int) -> Plan:
        last = t == self.T - 1
        key = (min(t, 1), last, self._observed[t])
        if key not in self._plans:
            d = self.structure.d
            keep = () if last else tuple((0 if t == 0 else d) + k for k in self.interface)
            cards = {i: self.cards[i % d] for i in range(2 * d)}
            self._plans[key] = make_plan(self._scopes(t), cards, keep)
        return self._plans[key]

    def _indicator(self, t: int, like: Tensor) -> list[Tensor]:
        """One-hot ``[U, card]`` per variable observed somewhere in slice ``t`` (all-ones rows
        where the record misses it): the only place the codes are read."""
        key = (t, like.dtype, like.device)
        if key not in self._indicators:
            out = []
            for j in self._observed[t]:
                code = self.rows[:, t, j].to(like.device)
                hot = torch.nn.functional.one_hot(code.clamp_min(0), self.cards[j]).to(like.dtype)
                out.append(torch.where((code >= 0).unsqueeze(1), hot, torch.ones_like(hot)))
            self._indicators[key] = out
        return self._indicators[key]

    # --- scoring ----------------------------------------------------------------------------
    def log_likelihood(self, dbn: "object", reduce: str = "sum") -> Tensor:
        """``log P(observed cells)`` under ``dbn`` (a ``DiscreteDBN`` of the same structure and
        cards): ``[N]`` for ``reduce="none"``, a scalar for ``"sum"``. Differentiable w.r.t. the
        CPTs."""
        if reduce not in ("sum", "none"):
            raise DataError(f"reduce must be 'sum' or 'none', got {reduce!r}")
        self._check_model(dbn)
        ref = dbn.cpt0[0]
        u = self.rows.shape[0]
        msg, log_scale = None, torch.zeros(u, dtype=ref.dtype, device=ref.device)
        for t in range(self.T):
            cpts = list(dbn.cpt0 if t == 0 else dbn.cpt)
            head = [] if msg is None else [msg]
            factors = head + cpts + self._indicator(t, ref)
            batched = [True] * len(head) + [False] * len(cpts) + [True] * len(self._observed[t])
            msg, scale = run_plan(self._plan(t), self._scopes(t), factors, batched, u)
            log_scale = log_scale + scale
            if not self.interface:  # slices independent: the message is the slice's probability
                log_scale, msg = log_scale + msg.log(), None
        ll = log_scale if msg is None else log_scale + msg.log()
        if reduce == "sum":
            return (ll * self.counts.to(ll.device, ll.dtype)).sum()
        return ll[self.inverse.to(ll.device)]

    def _check_model(self, dbn: "object") -> None:
        if getattr(dbn, "structure", None) != self.structure or tuple(getattr(dbn, "cards", ())) != self.cards:
            raise DataError("the model's structure or cards differ from those the evidence was compiled for")
        if self.T > 1 and getattr(dbn, "cpt", None) is None:
            raise DataError(f"records have T = {self.T} slices but the model is static (cpt=None); "
                            "a static network scores only T = 1 records")
