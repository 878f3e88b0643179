"""The ALARM patient-monitoring network (Beinlich et al. 1989; 37 variables, 509 free
parameters) as a static :class:`~taskdd.tasks.dbn_discrete.DiscreteDBN`.

``data_gen/networks/alarm.bif.gz`` is vendored byte for byte from pgmpy 1.1.2
(``pgmpy/utils/example_models/alarm.bif.gz``, MIT licence; the network itself is from the bnlearn
repository) and read offline with pgmpy's ``BIFReader``: nothing is downloaded."""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path

import torch

from taskdd.tasks.dbn_discrete import DiscreteDBN

__all__ = ["ALARM_BIF", "alarm_network"]

ALARM_BIF = Path(__file__).resolve().parent / "networks" / "alarm.bif.gz"


@lru_cache(maxsize=1)
def _alarm_pgmpy():
    from pgmpy.readwrite import BIFReader

    with gzip.open(ALARM_BIF, "rt") as f:
        return BIFReader(string=f.read()).get_model()


def alarm_network(dtype: torch.dtype = torch.float64) -> DiscreteDBN:
    """The ALARM network: variables in the BIF file's order, state names kept, CPTs in ``dtype``."""
    from taskdd.tasks.dbn_discrete.pgmpy_bridge import from_pgmpy

    return from_pgmpy(_alarm_pgmpy()).to(dtype=dtype)
