"""The soft-count learner: one-hot records give the hard counts, weights scale them, the CPTs
are differentiable w.r.t. the records (finite differences), rounding, and bad input."""

import itertools

import pytest
import torch

from taskdd import DataError
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn_discrete.learner import (expected_counts, fit_cpts, one_hot, record_probs, round_records,
                                               state_mask)

S = DBNStructure(["a", "b", "c"], {"b": ["a"], "c": ["a", "b"]}, {"a": ["a"], "c": ["b"]})
CARDS = (2, 3, 4)


def _codes(n, T, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randint(0, k, (n, T), generator=g) for k in CARDS], -1)


def _hard_counts(x, child, prev, now, first):
    """Counts by looping over records and slices (the reference)."""
    shape = [CARDS[p] for p in prev] + [CARDS[p] for p in now] + [CARDS[child]]
    out = torch.zeros(shape, dtype=torch.float64)
    ts = [0] if first else range(1, x.shape[1])
    for rec in x:
        for t in ts:
            key = tuple(int(rec[t - 1, p]) for p in prev) + tuple(int(rec[t, p]) for p in now) + (int(rec[t, child]),)
            out[key] += 1
    return out


def test_one_hot_records_reproduce_the_hard_counts_exactly():
    x = _codes(7, 3)
    c0, c = expected_counts(S, CARDS, one_hot(x, CARDS))
    idx = S.index
    for j, v in enumerate(S.variables):
        intra, inter = [idx(p) for p in S.intra[v]], [idx(p) for p in S.inter[v]]
        assert torch.equal(c0[j], _hard_counts(x, j, [], intra, True))
        assert torch.equal(c[j], _hard_counts(x, j, inter, intra, False))


def test_integer_weights_equal_repeated_records():
    x = _codes(4, 2, seed=1)
    w = torch.tensor([1.0, 3.0, 0.0, 2.0], dtype=torch.float64)
    rep = torch.repeat_interleave(x, w.long(), dim=0)
    got = fit_cpts(S, CARDS, one_hot(x, CARDS), w, alpha=0.5)
    want = fit_cpts(S, CARDS, one_hot(rep, CARDS), None, alpha=0.5)
    for a, b in zip(got[0] + got[1], want[0] + want[1]):
        assert torch.allclose(a, b, atol=1e-14)


def test_cpts_are_smoothed_normalised_counts():
    x = _codes(5, 1, seed=2)
    cpt0, cpt = fit_cpts(S, CARDS, one_hot(x, CARDS), alpha=2.0)
    assert cpt is None
    counts = _hard_counts(x, 2, [], [0, 1], True)
    assert torch.allclose(cpt0[2], (counts + 2) / (counts + 2).sum(-1, keepdim=True))
    # a parent configuration never seen gives the uniform row
    assert torch.allclose(cpt0[2][counts.sum(-1) == 0], torch.full((4,), 0.25, dtype=torch.float64))


def test_soft_counts_are_the_expectation_over_independent_hard_records():
    """A soft record's counts = the expected counts of hard records drawn entry by entry."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 2, 3, 4, generator=g, dtype=torch.float64)
    p = record_probs(logits, CARDS)
    got = expected_counts(S, CARDS, p)
    want = [torch.zeros_like(t) for t in got[0] + got[1]]
    for combo in itertools.product(*[range(CARDS[j]) for _ in range(2) for j in range(3)]):
        x = torch.tensor(combo).view(1, 2, 3)
        prob = torch.prod(torch.stack([p[0, t, j, x[0, t, j]] for t in range(2) for j in range(3)]))
        c0, c = expected_counts(S, CARDS, one_hot(x, CARDS))
        want = [w + prob * h for w, h in zip(want, c0 + c)]
    for a, b in zip(got[0] + got[1], want):
        assert torch.allclose(a, b, atol=1e-12)


def test_cpt_gradient_matches_finite_differences():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(3, 2, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    logw = torch.randn(3, generator=g, dtype=torch.float64, requires_grad=True)
    probe = [torch.rand(c.shape, generator=g, dtype=torch.float64)
             for c in fit_cpts(S, CARDS, record_probs(logits.detach(), CARDS))[0]]

    def f(lg, lw):
        cpt0, cpt = fit_cpts(S, CARDS, record_probs(lg, CARDS), lw.exp(), alpha=0.7)
        return sum((c.log() * q).sum() for c, q in zip(cpt0, probe)) + sum(c.log().sum() for c in cpt)
    assert torch.autograd.gradcheck(f, (logits, logw))


def test_padding_states_get_no_probability_and_rounding_picks_the_mode():
    logits = torch.zeros(2, 1, 3, 4, dtype=torch.float64)
    logits[0, 0, 0, 3] = 9.0  # state 3 does not exist for a (card 2)
    logits[1, 0, 1, 2] = 1.0
    p = record_probs(logits, CARDS)
    assert torch.all(p[..., ~state_mask(CARDS)] == 0)
    assert torch.allclose(p.sum(-1), torch.ones(2, 1, 3, dtype=torch.float64))
    r = round_records(logits, CARDS)
    assert r[0, 0, 0] in (0, 1) and r[1, 0, 1] == 2


def test_bad_input_raises_data_errors():
    x = _codes(3, 1)
    with pytest.raises(DataError, match="alpha"):
        fit_cpts(S, CARDS, one_hot(x, CARDS), alpha=0.0)
    with pytest.raises(DataError, match="not a category code"):
        one_hot(torch.tensor([[[0, 3, 0]]]), CARDS)
    with pytest.raises(DataError, match="weights"):
        expected_counts(S, CARDS, one_hot(x, CARDS), torch.ones(2, dtype=torch.float64))
    with pytest.raises(DataError, match="integer"):
        one_hot(x.double(), CARDS)
