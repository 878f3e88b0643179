"""``DiscreteDBN``: a two-slice DBN over categorical variables (CPTs), exact masked
log-likelihood, ancestral sampling. ``T = 1`` with ``cpt=None`` is a static Bayesian network.

The pgmpy import/export lives in ``taskdd.tasks.dbn_discrete.pgmpy_bridge`` (pgmpy loads only
there)."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from taskdd.errors import DataError
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn_discrete.likelihood import Evidence
from taskdd.tasks.dbn_discrete.slices import table_shape

__all__ = ["DiscreteDBN"]


class DiscreteDBN:
    """Two-slice discrete DBN (T = 1: a static Bayesian network).

    cards: categories per variable (in ``structure.variables`` order).
    cpt0[j]: first-slice probabilities, shape ``(*cards of structure.intra[v_j], cards[j])``.
    cpt[j]: transition (``t >= 1``), shape ``(*cards of structure.inter[v_j] (slice t-1),
    *cards of structure.intra[v_j] (slice t), cards[j])``; None: a static network (T = 1 only).
    Parents follow the order the structure lists them; the last axis sums to 1. All tensors share
    one float dtype and device and may require grad (they are used as given, never detached).
    state_names: optional ``{variable: [name of category 0, 1, ...]}`` for some or all variables.
    ``check=False`` skips the value checks (non-negative, normalised); shapes are always checked.
    """

    def __init__(self, structure: DBNStructure, cards: Sequence[int], cpt0: Sequence[Tensor],
                 cpt: Sequence[Tensor] | None = None,
                 state_names: Mapping[str, Sequence[str]] | None = None, check: bool = True):
        if not isinstance(structure, DBNStructure):
            raise DataError(f"structure must be a DBNStructure, got {type(structure).__name__}")
        self.structure = structure
        self.d = structure.d
        self.cards = _cards(cards, structure)
        self.cpt0 = self._tables(cpt0, "cpt0", first=True, check=check)
        self.cpt = None if cpt is None else self._tables(cpt, "cpt", first=False, check=check)
        kinds = {(c.dtype, c.device) for c in self.cpt0 + (self.cpt or [])}
        if len(kinds) > 1:
            raise DataError(f"CPTs must share one dtype and device, got {sorted(map(str, kinds))}")
        self.state_names = _state_names(state_names, structure, self.cards)

    def _tables(self, tables: Sequence[Tensor], what: str, first: bool, check: bool) -> list[Tensor]:
        if isinstance(tables, Tensor) or not isinstance(tables, Sequence) or len(tables) != self.d:
            raise DataError(f"{what} must be a list of {self.d} tensors (one per variable), got "
                            f"{len(tables) if isinstance(tables, Sequence) else type(tables).__name__}")
        out = list(tables)
        for v, c in zip(self.structure.variables, out):
            want = table_shape(self.structure, self.cards, v, first)
            if not isinstance(c, Tensor) or not c.is_floating_point() or tuple(c.shape) != want:
                got = (c.dtype, tuple(c.shape)) if isinstance(c, Tensor) else type(c).__name__
                raise DataError(f"{what} of {v!r} must be a float tensor of shape {want} (parents, then the "
                                f"variable), got {got}")
            if check:
                _check_probabilities(c.detach(), f"{what} of {v!r}")
        return out

    # --- use --------------------------------------------------------------------------------
    def log_likelihood(self, x: Tensor) -> Tensor:
        """Exact ``log P(observed cells)`` of each record. x: integer ``[N, T, d]``, -1 = missing.
        Returns ``[N]``; missing cells are summed out and their values never read. For repeated
        scoring of the same records compile them once with :class:`Evidence`."""
        return Evidence(self.structure, self.cards, x).log_likelihood(self, reduce="none")

    def sample(self, n: int, T: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` records of ``T`` slices by ancestral sampling: a Long ``[n, T, d]`` tensor."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1 or not isinstance(T, int) or T < 1:
            raise DataError(f"sample needs ints n >= 1 and T >= 1, got n={n!r}, T={T!r}")
        if T > 1 and self.cpt is None:
            raise DataError(f"a static network (cpt=None) samples only T = 1, got T = {T}")
        s = self.structure
        device = self.cpt0[0].device
        x = torch.empty(n, T, self.d, dtype=torch.long, device=device)
        for t in range(T):
            tables = self.cpt0 if t == 0 else self.cpt
            for v in s.order:
                j = s.index(v)
                idx = [x[:, t - 1, s.index(p)] for p in ([] if t == 0 else s.inter[v])]
                idx += [x[:, t, s.index(p)] for p in s.intra[v]]
                probs = tables[j].detach()[tuple(idx)] if idx else tables[j].detach().expand(n, -1)
                x[:, t, j] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
        return x

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "DiscreteDBN":
        """The same network with CPTs moved / cast (differentiably)."""
        move = [c.to(device=device, dtype=dtype) for c in self.cpt0]
        move_t = None if self.cpt is None else [c.to(device=device, dtype=dtype) for c in self.cpt]
        return DiscreteDBN(self.structure, self.cards, move, move_t, self.state_names, check=False)

    def __repr__(self) -> str:
        kind = "static" if self.cpt is None else "two-slice"
        return f"DiscreteDBN({kind}, d={self.d}, cards={list(self.cards)}, variables={list(self.structure.variables)})"


def _cards(cards: Sequence[int], structure: DBNStructure) -> tuple[int, ...]:
    if isinstance(cards, (str, Tensor)) or not isinstance(cards, Sequence) or len(cards) != structure.d:
        raise DataError(f"cards must list {structure.d} cardinalities (one per variable), got {cards!r}")
    bad = [(v, c) for v, c in zip(structure.variables, cards)
           if not isinstance(c, int) or isinstance(c, bool) or c < 1]
    if bad:
        raise DataError(f"cardinalities must be ints >= 1, got {bad}")
    return tuple(cards)


def _check_probabilities(c: Tensor, what: str) -> None:
    if not bool(torch.isfinite(c).all()) or bool((c < 0).any()):
        raise DataError(f"{what} must hold finite probabilities >= 0")
    tol = 1e-6 if c.dtype == torch.float64 else 1e-4  # published tables (ALARM) are rounded to ~1e-7
    err = float((c.sum(-1) - 1).abs().max())
    if err > tol:
        raise DataError(f"{what} must sum to 1 over its last axis (the variable's categories); "
                        f"off by up to {err:.3g}")


def _state_names(names: Mapping[str, Sequence[str]] | None, structure: DBNStructure,
                 cards: tuple[int, ...]) -> dict[str, list[str]] | None:
    if names is None:
        return None
    if not isinstance(names, Mapping):
        raise DataError(f"state_names must map variable -> list of category names, got {type(names).__name__}")
    out = {}
    for v, states in names.items():
        j = structure.index(str(v)) if str(v) in structure.variables else None
        if j is None:
            raise DataError(f"state_names name unknown variable {v!r}; variables are {list(structure.variables)}")
        states = [str(s) for s in states] if not isinstance(states, str) else [states]
        if len(states) != cards[j] or len(set(states)) != len(states):
            raise DataError(f"state_names of {v!r} must be {cards[j]} distinct names, got {states}")
        out[str(v)] = states
    return out or None
