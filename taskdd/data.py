"""Real data containers.

``Source`` / ``Sources`` hold sequence data (``[N, T, d]`` values, a boolean observed mask and
variable names), the input of the DBN task and of any tabular-over-time task. ``Samples`` (named
tensors that share their first dimension: ``x``/``y`` for a classifier, ``x``/``alpha``/``y``
measurements for a PINN) lives in :mod:`taskdd.samples` and is re-exported here. Both validate on
construction and raise :class:`DataError` naming the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Iterator, Mapping, Sequence, TypeVar

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from taskdd.errors import DataError
from taskdd.samples import Samples

__all__ = ["Source", "Sources", "Samples", "VariableCollection"]

M = TypeVar("M")


def _as_float_tensor(x, what: str) -> Tensor:
    if isinstance(x, pd.DataFrame | pd.Series):
        x = x.to_numpy()
    if isinstance(x, np.ndarray):
        if not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_:
            raise DataError(f"{what} must be numeric, got numpy dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, Tensor):
        try:
            x = torch.as_tensor(x)
        except (TypeError, ValueError, RuntimeError) as e:
            raise DataError(f"{what} could not be read as a numeric tensor: {e}") from None
    if x.is_complex() or x.dtype == torch.bool or not (x.is_floating_point() or x.dtype in (
        torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)):
        raise DataError(f"{what} must be real numbers, got dtype {x.dtype}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return x


@dataclass(frozen=True)
class Source:
    """One dataset of sequences: ``values [N, T, d]``, ``mask [N, T, d]`` (True = observed).

    Entries where ``mask`` is False are missing: they may hold NaN on input and are stored as 0,
    never read by a likelihood. ``noise`` is the known observation-noise scale of the source, if
    any (None = unknown).
    """

    values: Tensor
    mask: Tensor
    variables: tuple[str, ...]
    name: str = "source"
    noise: float | None = None

    def __init__(self, values, mask=None, variables: Sequence[str] | None = None,
                 name: str = "source", noise: float | None = None):
        v = _as_float_tensor(values, f"source {name!r} values")
        if v.ndim != 3:
            raise DataError(f"source {name!r} values must have shape [N, T, d], got {tuple(v.shape)}")
        N, T, d = v.shape
        if N == 0:
            raise DataError(f"source {name!r} has 0 sequences; each source needs at least 1")
        if T == 0 or d == 0:
            raise DataError(f"source {name!r} has an empty time or variable axis: shape {tuple(v.shape)}")
        if mask is None:
            m = ~torch.isnan(v)
        else:
            m = torch.as_tensor(mask)
            if m.dtype != torch.bool:
                raise DataError(f"source {name!r} mask must be bool, got {m.dtype}")
            if tuple(m.shape) != tuple(v.shape):
                raise DataError(f"source {name!r} mask shape {tuple(m.shape)} does not match "
                                f"values shape {tuple(v.shape)}")
            m = m.to(v.device)
        bad = m & ~torch.isfinite(v)
        if bad.any():
            idx = tuple(int(i) for i in bad.nonzero()[0])
            raise DataError(f"source {name!r} has {int(bad.sum())} observed non-finite values "
                            f"(first at [n, t, j] = {list(idx)}); mark missing entries in the mask")
        if variables is None:
            variables = tuple(f"x{j}" for j in range(d))
        variables = tuple(str(s) for s in variables)
        if len(variables) != d:
            raise DataError(f"source {name!r} has d={d} variables but {len(variables)} names")
        if len(set(variables)) != d:
            dup = sorted({s for s in variables if variables.count(s) > 1})
            raise DataError(f"source {name!r} repeats variable names {dup}")
        if noise is not None and (not np.isfinite(noise) or noise < 0):
            raise DataError(f"source {name!r} noise must be a finite number >= 0, got {noise}")
        object.__setattr__(self, "values", torch.where(m, v, torch.zeros((), dtype=v.dtype, device=v.device)))
        object.__setattr__(self, "mask", m)
        object.__setattr__(self, "variables", variables)
        object.__setattr__(self, "name", str(name))
        object.__setattr__(self, "noise", None if noise is None else float(noise))

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(N, T, d)``."""
        return tuple(self.values.shape)  # type: ignore[return-value]

    def __len__(self) -> int:
        return self.values.shape[0]

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Source":
        """Copy onto ``device`` / ``dtype`` (mask stays bool)."""
        return Source(self.values.to(device=device, dtype=dtype), self.mask.to(device),
                      self.variables, self.name, self.noise)

    def subset(self, index) -> "Source":
        """The sequences at ``index`` (a slice, index tensor or list)."""
        return Source(self.values[index], self.mask[index], self.variables, self.name, self.noise)

    def observed_fraction(self) -> Tensor:
        """Fraction of observed entries per variable, ``[d]``."""
        return self.mask.float().mean(dim=(0, 1))

    def reorder(self, variables: Sequence[str]) -> "Source":
        """The same data over ``variables`` (a superset of ours): absent ones are all missing."""
        unknown = sorted(set(self.variables) - set(variables))
        if unknown:
            raise DataError(f"source {self.name!r} has variables {unknown} that are not in {list(variables)}")
        N, T, _ = self.shape
        vals = self.values.new_zeros(N, T, len(variables))
        mask = torch.zeros(N, T, len(variables), dtype=torch.bool, device=self.values.device)
        for j, s in enumerate(variables):
            if s in self.variables:
                k = self.variables.index(s)
                vals[..., j] = self.values[..., k]
                mask[..., j] = self.mask[..., k]
        return Source(vals, mask, tuple(variables), self.name, self.noise)

    @classmethod
    def from_dataframe(cls, df: pd.DataFrame, id_col: str, time_col: str, *,
                       variables: Sequence[str] | None = None, name: str = "source",
                       noise: float | None = None) -> "Source":
        """Long table (one row per sequence id and time) -> Source. NaN = missing.

        Rows are ordered by ``time_col`` within each id; sequences shorter than the longest are
        padded with missing entries. ``variables`` defaults to every column but the two keys.
        """
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"source {name!r}: expected a pandas DataFrame, got {type(df).__name__}")
        for col, what in ((id_col, "id_col"), (time_col, "time_col")):
            if col not in df.columns:
                raise DataError(f"source {name!r}: {what} {col!r} is not a column; columns are {list(df.columns)}")
        if len(df) == 0:
            raise DataError(f"source {name!r} has 0 rows")
        if variables is None:
            variables = [c for c in df.columns if c not in (id_col, time_col)]
        missing = [v for v in variables if v not in df.columns]
        if missing:
            raise DataError(f"source {name!r}: unknown variables {missing}; columns are {list(df.columns)}")
        if not variables:
            raise DataError(f"source {name!r} has no variable columns besides {id_col!r} and {time_col!r}")
        for v in variables:
            if not pd.api.types.is_numeric_dtype(df[v]):
                raise DataError(f"source {name!r}: column {v!r} is not numeric (dtype {df[v].dtype})")
        if df[[id_col, time_col]].duplicated().any():
            raise DataError(f"source {name!r}: repeated ({id_col}, {time_col}) pairs")
        df = df.sort_values([id_col, time_col], kind="stable")
        ids = pd.unique(df[id_col])
        pos = df.groupby(id_col, sort=False).cumcount().to_numpy()
        row = pd.Index(ids).get_indexer(df[id_col])
        T = int(pos.max()) + 1
        arr = np.full((len(ids), T, len(variables)), np.nan)
        arr[row, pos] = df[list(variables)].to_numpy(dtype=float)
        return cls(torch.from_numpy(arr).to(torch.get_default_dtype()), None, variables, name, noise)

    def to_dataframe(self, id_col: str = "id", time_col: str = "t") -> pd.DataFrame:
        """Long table with NaN where missing (inverse of :meth:`from_dataframe`)."""
        N, T, d = self.shape
        v = self.values.detach().cpu().double().numpy().copy()
        v[~self.mask.cpu().numpy()] = np.nan
        df = pd.DataFrame(v.reshape(N * T, d), columns=list(self.variables))
        df.insert(0, time_col, np.tile(np.arange(T), N))
        df.insert(0, id_col, np.repeat(np.arange(N), T))
        return df


class VariableCollection(Sequence[M], Generic[M]):
    """Named members (each with ``name``, ``variables`` and ``reorder``) re-expressed over one
    variable order: the union of theirs, in first-seen order. Indexed by position or by name;
    ``what`` names a member in errors. Subclasses give ``_fit(member, variables)`` (the member over
    the union) and their own device/dtype views."""

    what = "member"

    def __init__(self, members: Sequence[M]):
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise DataError(f"{self.what} names must be unique, got {names}")
        variables: list[str] = []
        for m in members:
            variables += [v for v in m.variables if v not in variables]
        self.variables: tuple[str, ...] = tuple(variables)
        self._members = [self._fit(m, self.variables) for m in members]

    def _fit(self, member: M, variables: tuple[str, ...]) -> M:
        return member if member.variables == variables else member.reorder(variables)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, str):
            for m in self._members:
                if m.name == i:
                    return m
            raise DataError(f"no {self.what} named {i!r}; {self.what}s are {self.names}")
        return self._members[i]

    def __len__(self) -> int:
        return len(self._members)

    def __iter__(self) -> Iterator[M]:
        return iter(self._members)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self._members]

    @property
    def d(self) -> int:
        return len(self.variables)


class Sources(VariableCollection[Source]):
    """Several sources over one variable set (the union of theirs, in first-seen order).

    Each source is re-expressed over the union: a variable a source lacks is all missing there.
    """

    what = "source"

    def __init__(self, sources: Sequence[Source] | Source):
        if isinstance(sources, Source):
            sources = [sources]
        sources = list(sources)
        if not sources:
            raise DataError("Sources needs at least one source, got none")
        for s in sources:
            if not isinstance(s, Source):
                raise DataError(f"Sources takes Source objects, got {type(s).__name__}")
        super().__init__(sources)

    @property
    def device(self) -> torch.device:
        return self._members[0].values.device

    @property
    def dtype(self) -> torch.dtype:
        return self._members[0].values.dtype

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Sources":
        return Sources([s.to(device, dtype) for s in self._members])

    def hidden_everywhere(self) -> list[str]:
        """Variables that no source ever observes."""
        seen = torch.stack([s.mask.any(dim=(0, 1)) for s in self._members]).any(0)
        return [v for v, ok in zip(self.variables, seen.tolist()) if not ok]

    @classmethod
    def from_dataframe(cls, df: pd.DataFrame, id_col: str, time_col: str, *,
                       source_col: str | None = None, variables: Sequence[str] | None = None,
                       noise: float | None = None) -> "Sources":
        """One long table -> Sources, split by ``source_col`` (one source when None)."""
        if source_col is None:
            return cls([Source.from_dataframe(df, id_col, time_col, variables=variables, noise=noise)])
        if source_col not in df.columns:
            raise DataError(f"source_col {source_col!r} is not a column; columns are {list(df.columns)}")
        if variables is None:
            variables = [c for c in df.columns if c not in (id_col, time_col, source_col)]
        return cls([Source.from_dataframe(g.drop(columns=[source_col]), id_col, time_col,
                                          variables=variables, name=str(k), noise=noise)
                     for k, g in df.groupby(source_col, sort=False)])

    @classmethod
    def from_dataframes(cls, frames: Mapping[str, pd.DataFrame], id_col: str, time_col: str, *,
                        noise: float | None = None) -> "Sources":
        """``{name: long table}`` -> Sources; columns may differ between tables (union kept)."""
        return cls([Source.from_dataframe(df, id_col, time_col, name=name, noise=noise)
                    for name, df in frames.items()])

    def to_dataframe(self, id_col: str = "id", time_col: str = "t", source_col: str = "source") -> pd.DataFrame:
        """One long table with a ``source_col`` column and NaN where missing."""
        parts = []
        for s in self._members:
            df = s.to_dataframe(id_col, time_col)
            df.insert(0, source_col, s.name)
            parts.append(df)
        return pd.concat(parts, ignore_index=True)

    def __repr__(self) -> str:
        inner = ", ".join(f"{s.name}: {tuple(s.shape)}" for s in self._members)
        return f"Sources({inner}; variables={list(self.variables)})"
