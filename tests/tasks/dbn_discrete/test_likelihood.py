"""Exact masked log-likelihood of a discrete DBN: brute-force enumeration, pgmpy's variable
elimination on ALARM, gradients, masked cells never read, bad input."""

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from data_gen.discrete_dbn import random_discrete_dbn
from taskdd.errors import DataError
from taskdd.tasks.dbn_discrete import DiscreteDBN, Evidence


def _joint(dbn: DiscreteDBN, y: torch.Tensor) -> float:
    """P of one complete record ``y [T, d]``: the product of its CPT entries."""
    s, p = dbn.structure, 1.0
    for t in range(y.shape[0]):
        for j, v in enumerate(s.variables):
            idx = [int(y[t - 1, s.index(q)]) for q in (s.inter[v] if t else [])]
            idx += [int(y[t, s.index(q)]) for q in s.intra[v]] + [int(y[t, j])]
            p *= float((dbn.cpt0 if t == 0 else dbn.cpt)[j][tuple(idx)])
    return p


def brute_force(dbn: DiscreteDBN, x: torch.Tensor) -> torch.Tensor:
    """log P(observed) of each record by summing the joint over every completion."""
    out = []
    for rec in x:
        free = (rec < 0).nonzero().tolist()
        total = 0.0
        for vals in itertools.product(*[range(dbn.cards[j]) for _, j in free]):
            y = rec.clone()
            for (t, j), v in zip(free, vals):
                y[t, j] = v
            total += _joint(dbn, y)
        out.append(total)
    return torch.tensor(out, dtype=torch.float64).log()


def _masked(dbn, n, T, p, seed):
    g = torch.Generator().manual_seed(seed)
    x = dbn.sample(n, T, generator=g)
    return x.masked_fill(torch.rand(x.shape, generator=g) < p, -1)


@pytest.mark.parametrize("seed", range(4))
def test_static_network_matches_brute_force(seed):
    dbn = random_discrete_dbn(4, cards=(2, 4), static=True, seed=seed)
    x = _masked(dbn, 12, 1, 0.4, seed)
    torch.testing.assert_close(dbn.log_likelihood(x), brute_force(dbn, x), rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed,T", [(0, 3), (1, 4), (2, 3), (3, 4)])
def test_two_slice_network_matches_brute_force(seed, T):
    dbn = random_discrete_dbn(3, cards=(2, 3) if T == 4 else (2, 4), seed=seed)
    x = _masked(dbn, 8, T, 0.4, seed)
    torch.testing.assert_close(dbn.log_likelihood(x), brute_force(dbn, x), rtol=0, atol=1e-9)


def test_a_record_with_nothing_observed_has_probability_one():
    dbn = random_discrete_dbn(5, seed=3)
    x = _masked(dbn, 4, 6, 0.3, 3)
    x[1] = -1
    assert abs(float(dbn.log_likelihood(x)[1])) < 1e-12


def test_sum_reduction_counts_repeated_rows():
    dbn = random_discrete_dbn(4, seed=5)
    x = _masked(dbn, 6, 2, 0.3, 5).repeat(3, 1, 1)
    ev = Evidence(dbn.structure, dbn.cards, x)
    assert ev.rows.shape[0] <= 6
    torch.testing.assert_close(ev.log_likelihood(dbn), dbn.log_likelihood(x).sum(), rtol=1e-12, atol=1e-12)
