"""``Samples``: named tensors sharing their first dimension (i.i.d. data), and reading a table.

``Samples(x=..., y=...)`` holds regression, classification or PINN measurement data.
:meth:`Samples.from_dataframe` reads a user's own classification table: feature columns become
``x [N, p]``, the label column becomes integer codes ``y [N]`` in ``0..C-1`` with the original
labels kept in ``Samples.classes``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from taskdd.errors import ConfigError, DataError, DataWarning

__all__ = ["Samples", "STANDARDISED_STD", "STANDARDISED_MEAN"]

#: a feature column counts as standardised when its std lies in this range ...
STANDARDISED_STD = (0.1, 10.0)
#: ... and its |mean| is at most this many stds
STANDARDISED_MEAN = 3.0


@dataclass(frozen=True)
class Samples:
    """Named tensors sharing their first dimension ``N`` (e.g. ``x [N, p]`` and ``y [N]``).

    All float tensors must be finite. Use for i.i.d. data: regression, classification, PINN
    measurements. Built by :meth:`from_dataframe`, it also records where the tensors came from:
    ``features`` (the feature column names, in ``x``'s column order), ``classes`` (the original
    label of each code: code ``c`` is ``classes[c]``) and ``scaling`` (``(mean [p], std [p])``
    when standardised: ``x = (raw - mean) / std``); all three are None otherwise.
    """

    tensors: dict[str, Tensor] = field(default_factory=dict)
    features: tuple[str, ...] | None = None
    classes: tuple[Any, ...] | None = None
    scaling: tuple[Tensor, Tensor] | None = None

    def __init__(self, **tensors):
        if not tensors:
            raise DataError("Samples needs at least one named tensor")
        out: dict[str, Tensor] = {}
        n = None
        for k, v in tensors.items():
            t = torch.as_tensor(v) if not isinstance(v, np.ndarray) else torch.from_numpy(np.ascontiguousarray(v))
            if t.ndim == 0:
                raise DataError(f"Samples[{k!r}] must have a first (sample) dimension, got a scalar")
            if n is None:
                n = t.shape[0]
            elif t.shape[0] != n:
                raise DataError(f"Samples[{k!r}] has {t.shape[0]} rows but the others have {n}")
            if t.is_floating_point() and not torch.isfinite(t).all():
                raise DataError(f"Samples[{k!r}] has {int((~torch.isfinite(t)).sum())} non-finite values")
            out[k] = t
        if n == 0:
            raise DataError("Samples has 0 rows")
        object.__setattr__(self, "tensors", out)
        for k in ("features", "classes", "scaling"):
            object.__setattr__(self, k, None)

    @classmethod
    def from_dataframe(cls, df: pd.DataFrame, label: str = "label", *, features: Sequence[str] | None = None,
                       standardize: bool = False, like: "Samples | None" = None,
                       dtype: torch.dtype | None = None, warn: bool = True) -> "Samples":
        """A classification table -> ``Samples(x=[N, p] float, y=[N] long)``.

        label: the label column; its distinct values (numbers, strings, categories) become codes
        ``0..C-1`` in sorted order (a categorical column keeps its category order), kept in
        ``.classes``. features: the feature columns (default: every column but ``label``); they
        must be numeric and free of NaN. standardize: centre and scale every feature column by
        its mean and std over ``df`` (a constant column is only centred), kept in ``.scaling``.
        like: a ``Samples`` made by this method (the training set) whose features, classes and
        scaling this table takes over: use it for the test set. dtype: of ``x`` (default: torch's
        default dtype). warn: emit a :class:`~taskdd.errors.DataWarning` when the final ``x`` is
        far from standardised (some column's std outside ``STANDARDISED_STD`` or
        ``|mean| > STANDARDISED_MEAN * std``): distillation and the networks that evaluate a set
        work poorly on raw scales. Bad input raises :class:`DataError` naming the columns.
        """
        if not isinstance(df, pd.DataFrame):
            raise DataError(f"Samples.from_dataframe takes a pandas DataFrame, got {type(df).__name__}")
        if like is not None and (features is not None or standardize):
            raise ConfigError("give either like= (take the features, classes and scaling of another Samples) "
                              "or features= / standardize=, not both")
        if like is not None and (like.features is None or like.classes is None):
            raise ConfigError("like= must be a Samples made by Samples.from_dataframe (it has no features/classes)")
        cols = list(like.features) if like is not None else _feature_columns(df, label, features)
        raw = _feature_matrix(df, cols)
        y, classes = _label_codes(df, label, like.classes if like is not None else None)
        scaling = like.scaling if like is not None else (_scaling(raw) if standardize else None)
        x = torch.from_numpy(raw)
        if scaling is not None:
            x = (x - scaling[0].double()) / scaling[1].double()
        if warn:
            _warn_if_not_standardised(x, cols)
        out = cls(x=x.to(dtype or torch.get_default_dtype()), y=y)
        object.__setattr__(out, "features", tuple(cols))
        object.__setattr__(out, "classes", classes)
        object.__setattr__(out, "scaling", scaling)
        return out

    def __getitem__(self, k: str) -> Tensor:
        try:
            return self.tensors[k]
        except KeyError:
            raise DataError(f"Samples has no tensor {k!r}; it has {list(self.tensors)}") from None

    def __contains__(self, k: str) -> bool:
        return k in self.tensors

    def __len__(self) -> int:
        return next(iter(self.tensors.values())).shape[0]

    def keys(self):
        return self.tensors.keys()

    @property
    def device(self) -> torch.device:
        return next(iter(self.tensors.values())).device

    def _like_self(self, tensors: dict[str, Tensor]) -> "Samples":
        out = Samples(**tensors)
        for k in ("features", "classes", "scaling"):
            object.__setattr__(out, k, getattr(self, k))
        return out

    def to(self, device=None, dtype: torch.dtype | None = None) -> "Samples":
        """Move every tensor; ``dtype`` applies to floating tensors only."""
        return self._like_self({k: v.to(device=device, dtype=dtype if v.is_floating_point() else None)
                                for k, v in self.tensors.items()})

    def subset(self, index) -> "Samples":
        return self._like_self({k: v[index] for k, v in self.tensors.items()})

    def __repr__(self) -> str:
        return "Samples(" + ", ".join(f"{k}: {tuple(v.shape)}" for k, v in self.tensors.items()) + ")"


def _feature_columns(df: pd.DataFrame, label: str, features: Sequence[str] | None) -> list[str]:
    if label not in df.columns:
        raise DataError(f"label column {label!r} is not a column; columns are {list(df.columns)}")
    if features is None:
        cols = [c for c in df.columns if c != label]
    else:
        cols = list(features)
        unknown = [c for c in cols if c not in df.columns]
        if unknown:
            raise DataError(f"feature columns {unknown} are not columns; columns are {list(df.columns)}")
        if label in cols:
            raise DataError(f"the label column {label!r} is also in features={cols}")
    if not cols:
        raise DataError(f"no feature columns: the table has only the label column {label!r}")
    return cols


def _feature_matrix(df: pd.DataFrame, cols: list[str]) -> np.ndarray:
    """``[N, p]`` float64 from ``cols``; DataError naming non-numeric columns and columns with NaN."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"feature columns {missing} are not columns; columns are {list(df.columns)}")
    if len(df) == 0:
        raise DataError("the table has 0 rows")
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise DataError(f"feature columns {bad} are not numeric (dtypes {[str(df[c].dtype) for c in bad]}); "
                        "encode them as numbers or leave them out with features=[...]")
    raw = df[cols].to_numpy(dtype=np.float64, copy=True)
    nan = {c: int(k) for c, k in zip(cols, (~np.isfinite(raw)).sum(0)) if k}
    if nan:
        raise DataError(f"feature columns {list(nan)} have missing or non-finite values (counts {nan}); "
                        "drop or fill those rows first")
    return raw


def _label_codes(df: pd.DataFrame, label: str, classes: tuple | None) -> tuple[Tensor, tuple]:
    """Codes ``[N]`` long of ``df[label]`` against ``classes`` (derived when None), and the classes."""
    if label not in df.columns:
        raise DataError(f"label column {label!r} is not a column; columns are {list(df.columns)}")
    col = df[label]
    if col.isna().any():
        raise DataError(f"label column {label!r} has {int(col.isna().sum())} missing values")
    if classes is None:
        if isinstance(col.dtype, pd.CategoricalDtype):
            present = set(col.unique())
            classes = tuple(c for c in col.cat.categories.tolist() if c in present)
        else:
            try:
                classes = tuple(np.unique(col.to_numpy()).tolist())
            except TypeError:
                raise DataError(f"label column {label!r} mixes values that cannot be sorted "
                                f"(types {sorted({type(v).__name__ for v in col})})") from None
    codes = pd.Index(list(classes)).get_indexer(col.to_numpy()).astype(np.int64)
    if (codes < 0).any():
        unknown = pd.unique(col.to_numpy()[codes < 0]).tolist()
        raise DataError(f"label column {label!r} has values {unknown[:10]} that are not among the classes "
                        f"{list(classes)}")
    return torch.from_numpy(codes), classes


def _scaling(raw: np.ndarray) -> tuple[Tensor, Tensor]:
    """Mean and std (ddof 0) per column, ``[p]`` float64; a constant column gets std 1."""
    mean, std = raw.mean(0), raw.std(0)
    return torch.from_numpy(mean), torch.from_numpy(np.where(std > 0, std, 1.0))


def _warn_if_not_standardised(x: Tensor, cols: list[str]) -> None:
    mean, std = x.mean(0), x.std(0, unbiased=False)
    lo, hi = STANDARDISED_STD
    far = (std > 0) & ((std < lo) | (std > hi) | (mean.abs() > STANDARDISED_MEAN * std))
    if not far.any():
        return
    off = torch.maximum(std.log10().abs(), (mean.abs() / std).log10())  # decades from standardised
    worst = [j for j in torch.argsort(off, descending=True).tolist() if far[j]]
    names = [cols[j] for j in worst]
    shown = ", ".join(f"{cols[j]!r} (mean {float(mean[j]):.3g}, std {float(std[j]):.3g})" for j in worst[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    warnings.warn(
        f"{len(names)} of {len(cols)} feature columns are far from standardised (std outside [{lo}, {hi}] "
        f"or |mean| > {STANDARDISED_MEAN} std): {shown}{more}. Distilled sets and the networks that evaluate "
        "them do much worse on raw scales: pass standardize=True (and like=train for the test table), or "
        "standardise yourself with the training table's statistics: (df[c] - mean) / std.",
        DataWarning, stacklevel=3)
