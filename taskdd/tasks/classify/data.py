"""Classification data: reading ``(X, y)`` arrays or a DataFrame into ``Samples`` and checking it.

The classifier tasks take ``Samples(x=[N, p] float, y=[N] long)`` with labels ``0..C-1``, every
class present. :meth:`taskdd.Samples.from_dataframe` reads a table (the public way);
:func:`as_samples` also takes ``(X, y)`` arrays; :func:`check_samples` validates
it and returns ``C``. Both raise :class:`DataError` naming the problem.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from taskdd.data import Samples
from taskdd.errors import ConfigError, DataError

__all__ = ["as_samples", "check_samples", "check_budget", "class_counts", "one_hot", "sample_per_class",
           "group_by_class"]


def _features(x, what: str) -> Tensor:
    if isinstance(x, pd.DataFrame):
        bad = [c for c in x.columns if not pd.api.types.is_numeric_dtype(x[c])]
        if bad:
            raise DataError(f"{what}: feature columns {bad} are not numeric")
        x = x.to_numpy(dtype=np.float64)
    if isinstance(x, np.ndarray):
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise DataError(f"{what} x must be numeric, got numpy dtype {x.dtype}")
        x = torch.from_numpy(np.ascontiguousarray(x))
    try:
        x = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as e:
        raise DataError(f"{what} x could not be read as a numeric array: {e}") from None
    if x.is_complex():
        raise DataError(f"{what} x must be real, got dtype {x.dtype}")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return x


def _labels(y, what: str) -> Tensor:
    if isinstance(y, pd.Series | pd.DataFrame):
        y = y.to_numpy()
    if isinstance(y, np.ndarray) and not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
        raise DataError(f"{what} y must hold integer class labels 0..C-1, got numpy dtype {y.dtype}; "
                        "encode string labels first (e.g. pandas.factorize)")
    try:
        y = torch.as_tensor(np.array(y) if not isinstance(y, Tensor) else y)
    except (TypeError, ValueError, RuntimeError) as e:
        raise DataError(f"{what} y could not be read as class labels: {e}") from None
    if y.is_floating_point():
        if not torch.isfinite(y).all():
            raise DataError(f"{what} y has {int((~torch.isfinite(y)).sum())} non-finite labels")
        if (y != y.round()).any():
            raise DataError(f"{what} y must hold integer class labels, got non-integer values such as "
                            f"{float(y[y != y.round()][0])}")
    elif y.is_complex() or y.dtype == torch.bool:
        raise DataError(f"{what} y must hold integer class labels, got dtype {y.dtype}")
    return y.long()


def as_samples(data, y=None, *, label: str = "label", what: str = "data") -> Samples:
    """Classification data as ``Samples(x=[N, p] float, y=[N] long)``, validated.

    data: a ``Samples`` with ``x`` and ``y``; an array-like ``X [N, p]`` (numpy, torch, list)
    with integer labels ``y [N]`` in ``0..C-1``; or a DataFrame, read by the public
    :meth:`Samples.from_dataframe` (column ``label`` holds the labels, mapped to codes; the
    other columns are the features; warns when they are far from standardised).
    """
    if isinstance(data, Samples):
        if y is not None:
            raise DataError(f"{what}: give labels inside the Samples or as y, not both")
        s = data
    elif isinstance(data, pd.DataFrame) and y is None:
        s = Samples.from_dataframe(data, label=label)
    else:
        if y is None:
            raise DataError(f"{what}: labels y are missing; pass (X, y), a Samples(x=..., y=...) or a DataFrame")
        s = Samples(x=_features(data, what), y=_labels(y, what))
    check_samples(s, what)
    return s


def check_samples(samples: Samples, what: str = "data") -> int:
    """Validate ``samples`` as classification data; returns the number of classes ``C``.

    Needs ``x [N, p]`` finite floats, ``y [N]`` integer labels in ``0..C-1`` with every class
    present, at least two classes.
    """
    if not isinstance(samples, Samples) or "x" not in samples or "y" not in samples:
        raise DataError(f"{what}: the classifier tasks take Samples(x=[N, p], y=[N]), got {samples!r}")
    x, y = samples["x"], samples["y"]
    if x.ndim != 2:
        raise DataError(f"{what} x must have shape [N, p], got {tuple(x.shape)}; flatten images to [N, p]")
    if x.shape[1] == 0:
        raise DataError(f"{what} x has no features (shape {tuple(x.shape)})")
    if not x.is_floating_point():
        raise DataError(f"{what} x must be floating point, got {x.dtype}")
    if y.ndim != 1:
        raise DataError(f"{what} y must have shape [N], got {tuple(y.shape)}")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise DataError(f"{what} y must be integer class labels (torch.long), got {y.dtype}")
    if int(y.min()) < 0:
        raise DataError(f"{what} y has negative labels (min {int(y.min())}); labels must be 0..C-1")
    n_classes = int(y.max()) + 1
    counts = class_counts(y, n_classes)
    empty = [c for c, k in enumerate(counts.tolist()) if k == 0]
    if empty:
        raise DataError(f"{what}: classes {empty} have no examples; labels must be 0..C-1 with every class present")
    if n_classes < 2:
        raise DataError(f"{what} has a single class; classification needs at least 2")
    return n_classes


def check_budget(samples: Samples, budget: int, n_classes: int) -> None:
    """ConfigError for a bad ``budget`` (images per class); DataError when a class has fewer
    than ``budget`` examples (the random-subset start needs that many)."""
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise ConfigError(f"budget (images per class) must be an int >= 1, got {budget!r}")
    counts = class_counts(samples["y"], n_classes).tolist()
    short = {c: k for c, k in enumerate(counts) if k < budget}
    if short:
        c, k = next(iter(short.items()))
        raise DataError(f"class {c} has {k} examples, fewer than the budget (images per class) {budget}; "
                        f"classes short of examples: {sorted(short)}")


def class_counts(y: Tensor, n_classes: int) -> Tensor:
    """Examples per class, ``[C]`` long."""
    return torch.bincount(y, minlength=n_classes)


def one_hot(y: Tensor, n_classes: int, dtype: torch.dtype) -> Tensor:
    """``[N] long -> [N, C]`` of ``dtype``."""
    return torch.nn.functional.one_hot(y, n_classes).to(dtype)


def sample_per_class(y: Tensor, n_classes: int, m: int, generator: torch.Generator) -> Tensor:
    """Indices ``[C, m]``: ``m`` examples of each class drawn uniformly with replacement."""
    order = torch.argsort(y, stable=True)
    counts = class_counts(y, n_classes)
    starts = counts.cumsum(0) - counts
    u = torch.rand(n_classes, m, generator=generator, dtype=torch.float64).to(y.device)
    return order[starts[:, None] + (u * counts[:, None]).long()]


def group_by_class(x: Tensor, y: Tensor, n_classes: int) -> Tensor:
    """``x [n, p]`` reordered by label into ``[C, n / C, p]``; every class must have ``n / C`` rows."""
    counts = class_counts(y, n_classes)
    if int(counts.min()) == 0 or bool((counts != counts[0]).any()):
        raise DataError(f"the synthetic set needs the same number of rows in every class, got counts "
                        f"{counts.tolist()}")
    return x[torch.argsort(y, stable=True)].reshape(n_classes, int(counts[0]), x.shape[1])
