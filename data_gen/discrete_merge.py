"""Hospitals that each record a different part of a discrete network's variables.

``make_hospitals`` samples records from a :class:`DiscreteDBN` (ALARM, or
:func:`data_gen.discrete_dbn.random_discrete_dbn`) and splits them into ``K`` sources that each
record a random 60-75% of the variables (every variable recorded somewhere) and miss a further 5%
of cells at random, keeping the clean records and a clean test set beside them. Sources hold
category codes as floats (the mask marks recorded cells), as
:class:`taskdd.tasks.dbn_discrete.task.DiscreteDBNTask` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from taskdd.data import Source, Sources
from taskdd.device import make_generator
from taskdd.errors import ConfigError, require_int
from taskdd.tasks.dbn_discrete.model import DiscreteDBN

__all__ = ["make_hospitals", "DiscreteProblem"]


@dataclass(frozen=True)
class DiscreteProblem:
    """Sources and references drawn from one discrete DBN.

    sources: ``K`` partial sources ``"hospital0" ..`` (codes as floats, mask = recorded);
    full_clean: the clean records they were made from (source ``j`` is rows ``j * n_per_source
    ..``); test: clean held-out records; truth: the generating DBN; recorded: the variables
    each source records.
    """

    sources: Sources
    full_clean: Source
    test: Source
    truth: DiscreteDBN
    recorded: list[list[str]]


def _recorded_sets(d: int, K: int, keep: tuple[float, float], g: torch.Generator) -> list[list[int]]:
    """K random variable sets of ``keep`` fractions of ``d`` whose union is every variable."""
    for _ in range(1000):
        sets = []
        for _k in range(K):
            frac = keep[0] + (keep[1] - keep[0]) * float(torch.rand((), generator=g, dtype=torch.float64))
            m = min(d, max(1, round(frac * d)))
            sets.append(sorted(torch.randperm(d, generator=g)[:m].tolist()))
        if len(set().union(*sets)) == d:
            return sets
    raise ConfigError(f"{K} sources recording {keep} of {d} variables never cover every variable; "
                      "use more sources or a larger fraction")


def make_hospitals(dbn: DiscreteDBN, *, n_per_source: int, T: int, K: int, keep: tuple[float, float] = (0.6, 0.75),
                   cell_missing: float = 0.05, n_test: int, seed: int) -> DiscreteProblem:
    """Sample ``K * n_per_source`` training and ``n_test`` test records of ``T`` slices.

    Hospital ``j`` records a random fraction in ``keep`` of the variables (the sets cover every
    variable) and misses each recorded cell with probability ``cell_missing``. Same seed, same
    data. Codes in float64 on CPU.
    """
    if not isinstance(dbn, DiscreteDBN):
        raise ConfigError(f"dbn must be a DiscreteDBN, got {type(dbn).__name__}")
    for name, v in (("n_per_source", n_per_source), ("T", T), ("K", K), ("n_test", n_test)):
        require_int(name, v, 1)
    if not (0 < keep[0] <= keep[1] <= 1):
        raise ConfigError(f"keep must be a range (lo, hi) with 0 < lo <= hi <= 1, got {keep!r}")
    if not 0 <= cell_missing < 1:
        raise ConfigError(f"cell_missing must be in [0, 1), got {cell_missing!r}")
    if T > 1 and dbn.cpt is None:
        raise ConfigError(f"a static network gives T = 1 records only, got T = {T}")
    g = make_generator(seed)
    x = dbn.sample(K * n_per_source + n_test, T, generator=g).cpu().to(torch.float64)
    names = dbn.structure.variables
    sources, recorded = [], []
    for j, rec in enumerate(_recorded_sets(dbn.d, K, keep, g)):
        clean = x[j * n_per_source:(j + 1) * n_per_source]
        mask = torch.rand(clean.shape, generator=g, dtype=torch.float64) >= cell_missing
        hidden = [i for i in range(dbn.d) if i not in rec]
        mask[..., hidden] = False
        sources.append(Source(clean, mask, names, f"hospital{j}"))
        recorded.append([names[i] for i in rec])
    n = K * n_per_source
    return DiscreteProblem(Sources(sources), Source(x[:n], None, names, "full_clean"),
                           Source(x[n:], None, names, "test"), dbn, recorded)
