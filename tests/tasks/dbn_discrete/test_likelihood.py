"""Exact masked log-likelihood of a discrete DBN: brute-force enumeration, pgmpy's variable
elimination on ALARM, gradients, masked cells never read, bad input."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from data_gen.discrete_dbn import random_discrete_dbn
from taskdd.errors import DataError
from taskdd.tasks.dbn_discrete import DiscreteDBN, Evidence


def joint_table(dbn: DiscreteDBN, T: int) -> torch.Tensor:
    """P of every complete record: a tensor with one axis per cell ``(t, j)`` (``t * d + j``),
    the product of all CPT entries, built by broadcasting each CPT over the cells it names."""
    s, d = dbn.structure, dbn.d
    shape = [dbn.cards[j] for _ in range(T) for j in range(d)]
    joint = torch.ones(shape, dtype=torch.float64)
    for t in range(T):
        for j, v in enumerate(s.variables):
            axes = [(t - 1) * d + s.index(q) for q in (s.inter[v] if t else [])]
            axes += [t * d + s.index(q) for q in s.intra[v]] + [t * d + j]
            table = (dbn.cpt0 if t == 0 else dbn.cpt)[j]
            order = sorted(range(len(axes)), key=axes.__getitem__)
            view = [1] * len(shape)
            for a in axes:
                view[a] = shape[a]
            joint = joint * table.permute(order).reshape(view)
    return joint


def brute_force(dbn: DiscreteDBN, x: torch.Tensor) -> torch.Tensor:
    """log P(observed) of each record: the joint summed over every completion of its missing cells."""
    joint = joint_table(dbn, x.shape[1])
    out = [joint[tuple(slice(None) if c < 0 else c for c in rec.reshape(-1).tolist())].sum() for rec in x]
    return torch.stack(out).log()


def _masked(dbn, n, T, p, seed):
    g = torch.Generator().manual_seed(seed)
    x = dbn.sample(n, T, generator=g)
    return x.masked_fill(torch.rand(x.shape, generator=g) < p, -1)


MODES = ("auto", "pattern", "single")


def _check_all_groupings(dbn, x):
    ref = brute_force(dbn, x)
    for mode in MODES:
        ll = Evidence(dbn.structure, dbn.cards, x, grouping=mode).log_likelihood(dbn, reduce="none")
        torch.testing.assert_close(ll, ref, rtol=0, atol=1e-9, msg=lambda m: f"grouping={mode}: {m}")
    torch.testing.assert_close(dbn.log_likelihood(x), ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_static_network_matches_brute_force(seed):
    dbn = random_discrete_dbn(4, cards=(2, 4), static=True, seed=seed)
    _check_all_groupings(dbn, _masked(dbn, 12, 1, 0.4, seed))


@pytest.mark.parametrize("seed,T,inter", [(0, 3, None), (1, 4, None), (2, 3, 5), (3, 4, 1), (4, 3, 0)])
def test_two_slice_network_matches_brute_force(seed, T, inter):
    dbn = random_discrete_dbn(3, cards=(2, 3) if T == 4 else (2, 4), n_inter_edges=inter, seed=seed)
    x = _masked(dbn, 8, T, 0.4, seed)
    x[:2, :, seed % 3] = -1  # a variable hidden in some records, as a source would
    _check_all_groupings(dbn, x)


def test_groupings_agree_on_sources_that_hide_variables():
    dbn = random_discrete_dbn(8, seed=4)
    x = dbn.sample(120, 5, generator=torch.Generator().manual_seed(0))
    for k in range(4):
        x[30 * k:30 * (k + 1), :, [2 * k, 2 * k + 1]] = -1
    x = x.masked_fill(torch.rand(x.shape, generator=torch.Generator().manual_seed(1)) < 0.05, -1)
    lls = [Evidence(dbn.structure, dbn.cards, x, grouping=m).log_likelihood(dbn, reduce="none") for m in MODES[:2]]
    torch.testing.assert_close(lls[0], lls[1], rtol=1e-12, atol=1e-10)


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


@pytest.mark.parametrize("mode", MODES)
def test_gradient_matches_finite_differences(mode):
    dbn = random_discrete_dbn(3, cards=(2, 3), seed=7)
    x = _masked(dbn, 10, 3, 0.4, 7)
    ev = Evidence(dbn.structure, dbn.cards, x, grouping=mode)
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
    (lambda x: x.index_put((torch.tensor([0]),) * 2 + (torch.tensor([1]),), torch.tensor(9)), r"x\[0, 0, 1\] = 9"),
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
    with pytest.raises(DataError, match="grouping"):
        Evidence(dbn.structure, dbn.cards, dbn.sample(4, 2), grouping="best")


def test_an_intractable_interface_is_refused_with_a_data_error(monkeypatch):
    import taskdd.tasks.dbn_discrete.likelihood as lik

    dbn = random_discrete_dbn(6, seed=1)
    x = dbn.sample(10, 3)
    x[:, :, :] = -1
    x[:, 2, 0] = 0
    monkeypatch.setattr(lik, "MAX_TABLE_ENTRIES", 100)
    with pytest.raises(DataError, match="slice interface has too many unobserved variables"):
        Evidence(dbn.structure, dbn.cards, x).log_likelihood(dbn)
