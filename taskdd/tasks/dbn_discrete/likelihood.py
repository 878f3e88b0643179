"""Exact marginal log-likelihood of partially observed categorical records under a discrete DBN.

Records are compiled once (:class:`Evidence`): distinct rows are kept with their counts and
grouped by observation pattern (``taskdd.tasks.dbn_discrete.grouping``: a cell observed in every
record of a group is instantiated, one observed in some enters as a one-hot indicator, a missing
cell contributes no factor, so its value is never read). Per group and slice the sum over the
missing entries is variable elimination in a min-fill order of the slice's factor graph
(``taskdd.tasks.dbn_discrete.elimination``), batched over the group's records; along time a
forward pass carries a message over the free slice-interface variables (those of slice ``t-1``
that are inter-slice parents), rescaled per record so long sequences do not underflow.
Everything is differentiable w.r.t. the CPTs.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import Tensor

from taskdd.errors import DataError
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn_discrete.elimination import run_plan
from taskdd.tasks.dbn_discrete.grouping import Group, group_patterns
from taskdd.tasks.dbn_discrete.slices import Gather, SliceSpec, flat_index, slice_spec, table_shape

__all__ = ["Evidence", "check_codes", "MAX_TABLE_ENTRIES"]

MAX_TABLE_ENTRIES = 2 ** 31  # the largest elimination table (records x entries) a group may form


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
    """Records compiled once for repeated exact scoring (grouped by observation pattern, distinct
    rows counted, plans cached).

    structure: the DBN graph; cards: categories per variable; x: integer ``[N, T, d]``,
    -1 = missing. ``log_likelihood(dbn)`` returns the exact ``log P(observed cells)`` of each
    record (``reduce="none"``, ``[N]``) or their sum (``reduce="sum"``). grouping: ``"auto"``,
    ``"pattern"`` or ``"single"`` (see :func:`~taskdd.tasks.dbn_discrete.grouping.group_patterns`;
    the result is the same, only the speed differs).
    """

    def __init__(self, structure: DBNStructure, cards: Sequence[int], x: Tensor, grouping: str = "auto"):
        if not isinstance(structure, DBNStructure):
            raise DataError(f"structure must be a DBNStructure, got {type(structure).__name__}")
        self.structure = structure
        self.cards = tuple(int(c) for c in cards)
        if len(self.cards) != structure.d:
            raise DataError(f"cards must give {structure.d} cardinalities, got {len(self.cards)}")
        check_codes(x, self.cards)
        if grouping not in ("auto", "pattern", "single"):
            raise DataError(f"grouping must be 'auto', 'pattern' or 'single', got {grouping!r}")
        self.n, self.T, d = x.shape
        rows, inverse, counts = torch.unique(x.long().reshape(self.n, -1), dim=0, return_inverse=True,
                                             return_counts=True)
        self.rows = rows.reshape(-1, self.T, d)  # [U, T, d]
        self.inverse, self.counts = inverse, counts
        self.interface = tuple(sorted({structure.index(p) for ps in structure.inter.values() for p in ps}))
        self.groups = group_patterns(self.rows.cpu() >= 0, self.cards, self.interface, grouping)
        order = torch.cat([g.rows for g in self.groups])
        self._unsort = torch.empty_like(order)
        self._unsort[order] = torch.arange(len(order))
        self._specs: dict[tuple, SliceSpec] = {}
        self._group_specs: dict[int, list[SliceSpec]] = {}
        self._cache: dict[tuple, list] = {}

    def _specs_of(self, gi: int) -> list[SliceSpec]:
        """The slice specs of group ``gi`` (built once)."""
        if gi not in self._group_specs:
            self._group_specs[gi] = [self._spec(self.groups[gi], t) for t in range(self.T)]
        return self._group_specs[gi]

    def _spec(self, g: Group, t: int) -> SliceSpec:
        prev = None if t == 0 else g.fixed[t - 1]
        key = (t == self.T - 1, None if prev is None else tuple(prev.tolist()),
               tuple(g.fixed[t].tolist()), tuple(g.partial[t].tolist()))
        if key not in self._specs:
            self._specs[key] = slice_spec(self.structure, self.cards, self.interface, prev, g.fixed[t],
                                          g.partial[t], last=key[0])
        spec = self._specs[key]
        if spec.plan is not None and spec.plan.max_clique * len(g.rows) > MAX_TABLE_ENTRIES:
            free = [self.structure.variables[k] for k in self.interface if not g.fixed[t, k]]
            raise DataError(f"exact inference needs a table of {spec.plan.max_clique} entries per record at slice {t} "
                            f"for {len(g.rows)} records (over {MAX_TABLE_ENTRIES}): the slice interface has too many "
                            f"unobserved variables ({free}); observe more of them or use fewer inter-slice parents")
        return spec

    def max_clique(self) -> int:
        """Entries per record of the largest table any group's elimination forms."""
        specs = [s for gi in range(len(self.groups)) for s in self._specs_of(gi)]
        return max([s.plan.max_clique for s in specs if s.plan is not None], default=1)

    def _offsets(self) -> list[list[int]]:
        """Start of each CPT in the flattened tables ``cat(cpt0..., cpt...)``: ``[[slice 0], [t >= 1]]``."""
        s, out, at = self.structure, [], 0
        for first in (True, False):
            sizes = [math.prod(table_shape(s, self.cards, v, first)) for v in s.variables]
            out.append([at + sum(sizes[:j]) for j in range(s.d)])
            at += sum(sizes)
        return out

    def _prepared(self, gi: int, device: torch.device, dtype: torch.dtype) -> dict:
        """Per group, built once: one-hot indicators ``{(t, j): [B, card]}`` (all ones where a
        record misses the cell), the flat positions of its fully observed families ``[B, F]``
        and of each indexed factor ``{(t, i): [B, *free]}``: the only place the codes are read."""
        key = (gi, dtype, device)
        if key not in self._cache:
            g, s = self.groups[gi], self.structure
            codes = self.rows[g.rows].to(device)
            hot = {}
            for t, j in g.partial.nonzero().tolist():
                c = codes[:, t, j]
                h = torch.nn.functional.one_hot(c.clamp_min(0), self.cards[j]).to(dtype)
                hot[(t, j)] = torch.where((c >= 0).unsqueeze(1), h, torch.ones_like(h))
            offsets, fam, fac = self._offsets(), [], {}
            for t, spec in enumerate(self._specs_of(gi)):
                def index(f: Gather) -> Tensor:
                    shape = table_shape(s, self.cards, s.variables[f.j], t == 0)
                    return flat_index(f, shape, codes, t, offsets[min(t, 1)][f.j])
                fam += [index(f) for f in spec.families]
                fac.update({(t, i): index(f) for i, f in enumerate(spec.factors) if f.cells})
            self._cache[key] = {"hot": hot, "fam": torch.stack(fam, 1) if fam else None, "fac": fac}
        return self._cache[key]

    # --- scoring ----------------------------------------------------------------------------
    def log_likelihood(self, dbn: "object", reduce: str = "sum") -> Tensor:
        """``log P(observed cells)`` under ``dbn`` (a ``DiscreteDBN`` of the same structure and
        cards): ``[N]`` for ``reduce="none"``, a scalar for ``"sum"``. Differentiable w.r.t. the
        CPTs."""
        if reduce not in ("sum", "none"):
            raise DataError(f"reduce must be 'sum' or 'none', got {reduce!r}")
        self._check_model(dbn)
        flat = torch.cat([c.reshape(-1) for c in list(dbn.cpt0) + list(dbn.cpt or [])])
        lls = [self._group_ll(dbn, gi, flat) for gi in range(len(self.groups))]
        ll = torch.cat(lls)[self._unsort.to(lls[0].device)]  # [U], distinct rows
        if reduce == "sum":
            return (ll * self.counts.to(ll.device, ll.dtype)).sum()
        return ll[self.inverse.to(ll.device)]

    def _group_ll(self, dbn: "object", gi: int, flat: Tensor) -> Tensor:
        """Forward pass over the slices for the records of group ``gi``: ``[B]``. ``flat``: all
        CPTs flattened and concatenated (slice 0, then the transition)."""
        prep = self._prepared(gi, flat.device, flat.dtype)
        b = len(self.groups[gi].rows)
        log_p = torch.zeros(b, dtype=flat.dtype, device=flat.device)
        if prep["fam"] is not None:  # fully observed families, all slices at once
            log_p = log_p + flat[prep["fam"]].log().sum(1)
        msg = None
        for t, spec in enumerate(self._specs_of(gi)):
            if spec.plan is None:
                continue
            tables = dbn.cpt0 if t == 0 else dbn.cpt
            factors = [msg] if spec.message else []
            factors += [flat[prep["fac"][(t, i)]] if f.cells else tables[f.j] for i, f in enumerate(spec.factors)]
            factors += [prep["hot"][(t, j)] for j in spec.indicators]
            msg, scale = run_plan(spec.plan, factors, b)
            log_p = log_p + scale
            if msg.ndim == 1:  # nothing carried on: the slice's probability
                log_p, msg = log_p + msg.log(), None
        return log_p

    def _check_model(self, dbn: "object") -> None:
        if getattr(dbn, "structure", None) != self.structure or tuple(getattr(dbn, "cards", ())) != self.cards:
            raise DataError("the model's structure or cards differ from those the evidence was compiled for")
        if self.T > 1 and getattr(dbn, "cpt", None) is None:
            raise DataError(f"records have T = {self.T} slices but the model is static (cpt=None); "
                            "a static network scores only T = 1 records")

