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


@pytest.mark.parametrize("seed,T,inter", [(0, 3, None), (1, 4, None), (2, 3, 5), (3, 4, 1), (4, 3, 0)])
def test_two_slice_network_matches_brute_force(seed, T, inter):
    dbn = random_discrete_dbn(3, cards=(2, 3) if T == 4 else (2, 4), n_inter_edges=inter, seed=seed)
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


def test_alarm_rows_match_pgmpy_variable_elimination():
    from data_gen.alarm import alarm_network
    from taskdd.tasks.dbn_discrete.pgmpy_bridge import pgmpy_log_likelihood

    dbn = alarm_network()
    x = _masked(dbn, 12, 1, 0.33, 0)
    x[0] = dbn.sample(1, 1, generator=torch.Generator().manual_seed(9))[0]  # fully observed
    x[1, 0, 1:] = -1  # one cell observed
    ours, ref = dbn.log_likelihood(x), pgmpy_log_likelihood(dbn, x)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=0)


def test_gradient_matches_finite_differences():
    dbn = random_discrete_dbn(3, cards=(2, 3), seed=7)
    x = _masked(dbn, 10, 3, 0.4, 7)
    ev = Evidence(dbn.structure, dbn.cards, x)
    tables = [c.clone().requires_grad_(True) for c in dbn.cpt0 + dbn.cpt]

    def ll(*t):  # unnormalised tables are fine for the sum-product: check=False
        return ev.log_likelihood(DiscreteDBN(dbn.structure, dbn.cards, t[:3], t[3:], check=False))

    assert torch.autograd.gradcheck(ll, tables, eps=1e-6, atol=1e-7)


def test_long_float32_sequences_do_not_underflow():
    dbn = random_discrete_dbn(4, seed=2)
    x = _masked(dbn, 5, 300, 0.3, 2)
    ll64 = dbn.log_likelihood(x)
    ll32 = dbn.to(dtype=torch.float32).log_likelihood(x)
    assert bool(torch.isfinite(ll32).all()) and float(ll64.max()) < -200
    torch.testing.assert_close(ll32.double(), ll64, rtol=1e-4, atol=0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**16), p=st.floats(0.1, 0.9), static=st.booleans())
def test_masked_cells_are_never_read(seed, p, static):
    dbn = random_discrete_dbn(4, seed=seed % 7, static=static)
    T = 1 if static else 3
    g = torch.Generator().manual_seed(seed)
    a, b = dbn.sample(6, T, generator=g), dbn.sample(6, T, generator=g)
    hide = torch.rand(a.shape, generator=g) < p
    b = torch.where(hide, b, a)  # same observed cells, different values under the mask
    torch.testing.assert_close(dbn.log_likelihood(a.masked_fill(hide, -1)),
                               dbn.log_likelihood(b.masked_fill(hide, -1)), rtol=0, atol=0)
    assert bool((dbn.log_likelihood(a.masked_fill(hide, -1)) >= dbn.log_likelihood(a) - 1e-12).all())


@pytest.mark.parametrize("bad,match", [
    (lambda x: x.float(), "integer category codes"),
    (lambda x: x[..., :2], "shape"),
    (lambda x: x[:0], "empty"),
    (lambda x: x.index_put((torch.tensor([0]), torch.tensor([0]), torch.tensor([1])), torch.tensor(9)), r"x\[0, 0, 1\] = 9"),
    (lambda x: x - 3, "is not a category code"),
])
def test_bad_records_raise_data_errors(bad, match):
    dbn = random_discrete_dbn(3, seed=0)
    with pytest.raises(DataError, match=match):
        dbn.log_likelihood(bad(dbn.sample(4, 2)))


def test_model_and_evidence_must_agree():
    dbn = random_discrete_dbn(3, seed=0)
    static = random_discrete_dbn(3, seed=0, static=True)
    ev = Evidence(dbn.structure, dbn.cards, dbn.sample(4, 2))
    with pytest.raises(DataError, match="static"):
        Evidence(static.structure, static.cards, dbn.sample(4, 2)).log_likelihood(static)
    with pytest.raises(DataError, match="differ"):
        ev.log_likelihood(random_discrete_dbn(4, seed=0))
    with pytest.raises(DataError, match="reduce"):
        ev.log_likelihood(dbn, reduce="mean")
