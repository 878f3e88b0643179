"""The synthetic set: named tensors split into parts, some learnable, some fixed.

A part is a block of rows that the distiller may update on its own (the paper's algorithm
updates the part that came from source ``j`` while scoring against the other sources). Tasks read
the whole set with ``synthetic["name"]`` (parts concatenated along dim 0, differentiable).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import torch
from torch import Tensor

from taskdd.errors import CheckpointError, DataError

__all__ = ["SyntheticSet"]


class SyntheticSet:
    """Parts of named tensors; ``learnable`` names are optimised, the others are fixed.

    parts: one mapping per part, each with the same names; tensors of one name share every
    dimension but the first across parts. ``meta`` is free JSON-able information a task keeps
    (e.g. variable names, the source each part came from).
    """

    def __init__(self, parts: Sequence[Mapping[str, Tensor]], learnable: Iterable[str],
                 *, part_names: Sequence[str] | None = None, meta: Mapping | None = None):
        if len(parts) == 0:
            raise DataError("a SyntheticSet needs at least one part")
        names = list(parts[0])
        for j, p in enumerate(parts):
            if list(p) != names:
                raise DataError(f"part {j} has tensors {list(p)} but part 0 has {names}")
            for k, t in p.items():
                if not isinstance(t, Tensor):
                    raise DataError(f"part {j} tensor {k!r} is a {type(t).__name__}, not a torch.Tensor")
                if t.shape[1:] != parts[0][k].shape[1:]:
                    raise DataError(f"part {j} tensor {k!r} has shape {tuple(t.shape)}, "
                                    f"incompatible with part 0's {tuple(parts[0][k].shape)}")
        learnable = frozenset(learnable)
        unknown = learnable - set(names)
        if unknown:
            raise DataError(f"learnable names {sorted(unknown)} are not tensors of the set ({names})")
        for k in learnable:
            if not parts[0][k].is_floating_point():
                raise DataError(f"learnable tensor {k!r} must be floating point, got {parts[0][k].dtype}")
        self.names: tuple[str, ...] = tuple(names)
        self.learnable: frozenset[str] = learnable
        self.part_names: tuple[str, ...] = tuple(part_names) if part_names is not None else tuple(
            f"part{j}" for j in range(len(parts)))
        if len(self.part_names) != len(parts):
            raise DataError(f"{len(self.part_names)} part names for {len(parts)} parts")
        self.meta: dict = dict(meta or {})
        self.parts: list[dict[str, Tensor]] = []
        for p in parts:
            self.parts.append({k: (t.detach().clone().requires_grad_(True) if k in learnable
                                   else t.detach().clone()) for k, t in p.items()})

    # --- reading -------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Tensor:
        """All parts of tensor ``name`` concatenated along dim 0 (keeps the autograd graph)."""
        if name not in self.names:
            raise DataError(f"synthetic set has no tensor {name!r}; it has {list(self.names)}")
        ts = [p[name] for p in self.parts]
        return ts[0] if len(ts) == 1 else torch.cat(ts, 0)

    @property
    def n_parts(self) -> int:
        return len(self.parts)

    def part_sizes(self) -> list[int]:
        """Rows per part."""
        return [p[self.names[0]].shape[0] for p in self.parts]

    def __len__(self) -> int:
        return sum(self.part_sizes())

    def part_index(self) -> Tensor:
        """``[n]`` long: the part each row of ``self[name]`` belongs to."""
        return torch.cat([torch.full((n,), j, dtype=torch.long) for j, n in enumerate(self.part_sizes())])

    @property
    def device(self) -> torch.device:
        return self.parts[0][self.names[0]].device

    def parameters(self, part: int | None = None) -> list[Tensor]:
        """The learnable leaf tensors, of one part or of all (in part, name order)."""
        parts = self.parts if part is None else [self.parts[part]]
        return [p[k] for p in parts for k in self.names if k in self.learnable]

    # --- making new sets -----------------------------------------------------------------
    def _rebuild(self, parts) -> "SyntheticSet":
        return SyntheticSet(parts, self.learnable, part_names=self.part_names, meta=self.meta)

    def to(self, device=None, dtype: torch.dtype | None = None) -> "SyntheticSet":
        """A copy on ``device``; ``dtype`` applies to floating tensors."""
        return self._rebuild([{k: t.detach().to(device=device, dtype=dtype if t.is_floating_point() else None)
                               for k, t in p.items()} for p in self.parts])

    def detach(self) -> "SyntheticSet":
        """A copy with fresh leaf tensors (no history)."""
        return self._rebuild(self.parts)

    def with_learnable(self, values: Sequence[Tensor], part: int | None = None) -> "SyntheticSet":
        """A non-leaf view: the learnable tensors of ``part`` (or all) replaced by ``values``.

        Used by zeroth-order estimators (perturbed copies) and by functional code. The result
        is read-only in spirit: its tensors are not leaves.
        """
        new = object.__new__(SyntheticSet)
        new.names, new.learnable, new.part_names, new.meta = self.names, self.learnable, self.part_names, self.meta
        it = iter(values)
        new.parts = []
        for j, p in enumerate(self.parts):
            if part is None or j == part:
                new.parts.append({k: (next(it) if k in self.learnable else t) for k, t in p.items()})
            else:
                new.parts.append(dict(p))
        if next(it, None) is not None:
            raise DataError("with_learnable got more tensors than the set has learnable ones")
        return new

    # --- saving ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        """Flat ``{"<j>.<name>": tensor}`` on CPU, for safe saving."""
        return {f"{j}.{k}": t.detach().cpu() for j, p in enumerate(self.parts) for k, t in p.items()}

    def spec(self) -> dict:
        """JSON-able description (names, learnable, part names, meta) to rebuild from a state dict."""
        return {"names": list(self.names), "learnable": sorted(self.learnable),
                "part_names": list(self.part_names), "meta": self.meta}

    @classmethod
    def from_state(cls, spec: Mapping, state: Mapping[str, Tensor]) -> "SyntheticSet":
        """Inverse of :meth:`spec` + :meth:`state_dict`."""
        try:
            parts = [{k: state[f"{j}.{k}"] for k in spec["names"]} for j in range(len(spec["part_names"]))]
            return cls(parts, spec["learnable"], part_names=spec["part_names"], meta=spec.get("meta"))
        except (KeyError, TypeError, DataError) as e:
            raise CheckpointError(f"saved synthetic set does not match its spec: {e}") from None

    def load_state_(self, state: Mapping[str, Tensor]) -> None:
        """Copy saved values into this set's tensors in place (shapes must match)."""
        with torch.no_grad():
            for j, p in enumerate(self.parts):
                for k, t in p.items():
                    key = f"{j}.{k}"
                    if key not in state or tuple(state[key].shape) != tuple(t.shape):
                        raise CheckpointError(f"checkpoint tensor {key!r} is missing or has the wrong shape")
                    t.copy_(state[key].to(t.device, t.dtype))

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{'*' if k in self.learnable else ''}: {tuple(self[k].shape)}" for k in self.names)
        return f"SyntheticSet({self.n_parts} parts {self.part_sizes()}; {shapes}; * = learnable)"
