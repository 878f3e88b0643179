"""The graph of a two-slice dynamic Bayesian network: intra-slice DAG + edges from slice t-1."""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from taskdd.errors import DataError

__all__ = ["DBNStructure", "check_sources_match"]


class DBNStructure:
    """Variables, intra-slice parents (a DAG) and inter-slice parents (from slice ``t-1``).

    variables: names, in the order of the last axis of the data. intra: ``{child: [parents in
    the same slice]}``. inter: ``{child: [parents in the previous slice]}``. Children absent from
    a mapping have no parents there. Unknown names, repeated names or parents and intra cycles
    (self-edges included) raise :class:`DataError` naming them.

    ``intra_mask`` / ``inter_mask`` are ``[d, d]`` bool CPU tensors, row = child, column = parent.
    The first slice uses the intra edges only.
    """

    def __init__(self, variables: Sequence[str], intra: Mapping[str, Sequence[str]] | None = None,
                 inter: Mapping[str, Sequence[str]] | None = None):
        if isinstance(variables, str):
            raise DataError(f"variables must be a sequence of names, got the string {variables!r}")
        self.variables: tuple[str, ...] = tuple(str(v) for v in variables)
        if not self.variables:
            raise DataError("a DBN structure needs at least one variable, got none")
        dup = sorted({v for v in self.variables if self.variables.count(v) > 1})
        if dup:
            raise DataError(f"variables repeat names {dup}")
        self._index = {v: i for i, v in enumerate(self.variables)}
        self._intra = self._parents(intra or {}, "intra")
        self._inter = self._parents(inter or {}, "inter")
        d = self.d
        self.intra_mask = torch.zeros(d, d, dtype=torch.bool)
        self.inter_mask = torch.zeros(d, d, dtype=torch.bool)
        for mask, parents in ((self.intra_mask, self._intra), (self.inter_mask, self._inter)):
            for c, ps in parents.items():
                for p in ps:
                    mask[self._index[c], self._index[p]] = True
        self.order: tuple[str, ...] = self._topological_order()

    def _parents(self, mapping: Mapping[str, Sequence[str]], what: str) -> dict[str, tuple[str, ...]]:
        if not isinstance(mapping, Mapping):
            raise DataError(f"{what} must map child -> list of parents, got {type(mapping).__name__}")
        unknown = sorted({str(c) for c in mapping if str(c) not in self._index}
                         | {str(p) for ps in mapping.values() for p in _names(ps, what) if str(p) not in self._index})
        if unknown:
            raise DataError(f"{what} edges name unknown variables {unknown}; variables are {list(self.variables)}")
        out = {v: () for v in self.variables}
        for c, ps in mapping.items():
            ps = tuple(str(p) for p in _names(ps, what))
            rep = sorted({p for p in ps if ps.count(p) > 1})
            if rep:
                raise DataError(f"{what} parents of {c!r} repeat {rep}")
            out[str(c)] = ps
        return out

    def _topological_order(self) -> tuple[str, ...]:
        """Kahn's algorithm over the intra DAG, ties broken by variable order."""
        remaining = {v: set(ps) for v, ps in self._intra.items()}
        order: list[str] = []
        while remaining:
            ready = [v for v in self.variables if v in remaining and not remaining[v]]
            if not ready:
                raise DataError(f"intra-slice edges form a cycle: {' -> '.join(self._cycle(remaining))}")
            for v in ready:
                del remaining[v]
                order.append(v)
            for ps in remaining.values():
                ps.difference_update(ready)
        return tuple(order)

    def _cycle(self, remaining: dict[str, set[str]]) -> list[str]:
        """One cycle among ``remaining`` (every node there has a parent there), parent -> child."""
        path = [next(v for v in self.variables if v in remaining)]
        while path[-1] not in path[:-1]:
            path.append(min(remaining[path[-1]], key=self._index.__getitem__))
        cycle = path[path.index(path[-1]):]
        return cycle[::-1]

    # --- reading -------------------------------------------------------------------------
    @property
    def d(self) -> int:
        """Number of variables."""
        return len(self.variables)

    @property
    def intra(self) -> dict[str, list[str]]:
        """``{child: [intra-slice parents]}`` for every variable (a fresh, JSON-able copy)."""
        return {c: list(ps) for c, ps in self._intra.items()}

    @property
    def inter(self) -> dict[str, list[str]]:
        """``{child: [parents at t-1]}`` for every variable (a fresh, JSON-able copy)."""
        return {c: list(ps) for c, ps in self._inter.items()}

    def index(self, node: str | int) -> int:
        """Position of ``node`` (a name or an index) in ``variables``."""
        if isinstance(node, int) and not isinstance(node, bool) and 0 <= node < self.d:
            return node
        if node in self._index:
            return self._index[node]
        raise DataError(f"unknown node {node!r}; variables are {list(self.variables)}")

    def n_unknowns(self, node: str | int, first_slice: bool) -> int:
        """Regression coefficients of ``node``'s CPD, intercept included (first slice: intra
        parents + 1; later slices: intra + inter parents + 1)."""
        v = self.variables[self.index(node)]
        return 1 + len(self._intra[v]) + (0 if first_slice else len(self._inter[v]))

    def check_data(self, values: Tensor, mask: Tensor | None = None) -> None:
        """Raise :class:`DataError` unless ``values`` is a float ``[N, T, d]`` tensor and ``mask``
        None or a bool tensor of the same shape."""
        if not isinstance(values, Tensor) or values.ndim != 3 or values.shape[-1] != self.d:
            raise DataError(f"values must be a tensor of shape [N, T, {self.d}], got "
                            f"{tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__}")
        if not values.is_floating_point():
            raise DataError(f"values must be floating point, got {values.dtype}")
        if values.shape[0] == 0 or values.shape[1] == 0:
            raise DataError(f"values have an empty sequence or time axis: shape {tuple(values.shape)}")
        if mask is not None and (not isinstance(mask, Tensor) or mask.dtype != torch.bool
                                 or mask.shape != values.shape):
            raise DataError(f"mask must be a bool tensor of shape {tuple(values.shape)}, got "
                            f"{(mask.dtype, tuple(mask.shape)) if isinstance(mask, Tensor) else type(mask).__name__}")

    @classmethod
    def from_masks(cls, variables: Sequence[str], intra_mask: Tensor, inter_mask: Tensor) -> "DBNStructure":
        """Structure from ``[d, d]`` bool masks (row = child, column = parent)."""
        variables = tuple(variables)
        d = len(variables)
        for m, what in ((intra_mask, "intra_mask"), (inter_mask, "inter_mask")):
            if tuple(m.shape) != (d, d):
                raise DataError(f"{what} must have shape ({d}, {d}), got {tuple(m.shape)}")

        def parents(m: Tensor) -> dict[str, list[str]]:
            m = m.bool().cpu()
            return {variables[i]: [variables[j] for j in range(d) if m[i, j]] for i in range(d)}

        return cls(variables, parents(intra_mask), parents(inter_mask))

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, DBNStructure) and self.variables == other.variables
                and self._intra == other._intra and self._inter == other._inter)

    def __hash__(self) -> int:
        return hash((self.variables, tuple(self._intra.items()), tuple(self._inter.items())))

    def __repr__(self) -> str:
        return (f"DBNStructure(d={self.d}, intra_edges={int(self.intra_mask.sum())}, "
                f"inter_edges={int(self.inter_mask.sum())}, variables={list(self.variables)})")


def _names(ps: Sequence[str], what: str) -> Sequence[str]:
    if isinstance(ps, str) or not isinstance(ps, Sequence | set | frozenset):
        raise DataError(f"{what} parents must be given as a list of names, got {ps!r}")
    return list(ps)


def check_sources_match(structure: DBNStructure, sources) -> int:
    """DataError unless ``sources`` (Sources or site summaries) carry exactly the structure's
    variables, none hidden in every source, all with one number of time slices T; returns T."""
    if set(sources.variables) != set(structure.variables):
        extra = sorted(set(sources.variables) - set(structure.variables))
        lacking = sorted(set(structure.variables) - set(sources.variables))
        raise DataError(f"source variables do not match the DBN structure: unknown {extra}, absent {lacking}")
    hidden = sources.hidden_everywhere()
    if hidden:
        raise DataError(f"variables {hidden} are hidden in every source; nothing can be learned about them")
    Ts = {s.name: s.shape[1] for s in sources}
    if len(set(Ts.values())) > 1:
        raise DataError(f"sources must share the number of time slices T, got {Ts}")
    return Ts[sources.names[0]]
