"""Random discrete DBNs for tests, benchmarks and synthetic case studies."""

from __future__ import annotations

import torch

from data_gen.dbn import random_dbn
from taskdd.device import make_generator
from taskdd.errors import ConfigError
from taskdd.tasks.dbn_discrete import DiscreteDBN


def random_discrete_dbn(d: int = 8, *, cards: tuple[int, int] = (2, 4), n_intra_edges: int | None = None,
                        n_inter_edges: int | None = None, max_intra_parents: int = 2,
                        concentration: float = 1.0, static: bool = False, seed: int = 0,
                        dtype: torch.dtype = torch.float64) -> DiscreteDBN:
    """A random discrete DBN over ``x0 .. x{d-1}``: the graph of :func:`data_gen.dbn.random_dbn`
    (same edge arguments; ``static=True`` drops the transition and its inter edges), cardinalities
    uniform in ``cards`` (inclusive), every CPT row drawn from ``Dirichlet(concentration)``."""
    lo, hi = cards
    if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
        raise ConfigError(f"cards must be a pair of ints 1 <= lo <= hi, got {cards!r}")
    if not concentration > 0:
        raise ConfigError(f"concentration must be > 0, got {concentration!r}")
    inter_edges = 0 if static else n_inter_edges
    s = random_dbn(d, n_intra_edges=n_intra_edges, n_inter_edges=inter_edges,
                   max_intra_parents=max_intra_parents, seed=seed).structure
    g = make_generator(seed + 1)
    card = [int(c) for c in torch.randint(lo, hi + 1, (d,), generator=g)]
    alpha = torch.tensor(float(concentration), dtype=torch.float64)

    def table(parents: list[str], j: int) -> torch.Tensor:
        shape = [card[s.index(p)] for p in parents] + [card[j]]
        gamma = torch._standard_gamma(alpha.expand(shape).contiguous(), generator=g)
        return (gamma / gamma.sum(-1, keepdim=True)).to(dtype)

    cpt0 = [table(s.intra[v], j) for j, v in enumerate(s.variables)]
    cpt = None if static else [table(s.inter[v] + s.intra[v], j) for j, v in enumerate(s.variables)]
    return DiscreteDBN(s, card, cpt0, cpt)
