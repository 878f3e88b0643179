"""Baselines of the dbn-discrete task: EM's expected counts against brute-force posteriors, the
direct fit on complete data is the counting fit, mode imputation, sub, free_counts."""

import itertools

import pytest
import torch

from data_gen.discrete_dbn import random_discrete_dbn
from data_gen.discrete_merge import make_hospitals
from taskdd import ConfigError, Source, Sources, make_generator
from taskdd.tasks.dbn_discrete import Evidence, baselines
from taskdd.tasks.dbn_discrete.learner import expected_counts, one_hot
from taskdd.tasks.dbn_discrete.task import codes, mean_ll


@pytest.fixture(scope="module")
def prob():
    truth = random_discrete_dbn(4, cards=(2, 3), concentration=0.7, seed=5)
    return make_hospitals(truth, n_per_source=200, T=2, K=2, keep=(0.7, 0.8), cell_missing=0.1, n_test=500, seed=5)


def test_probability_times_gradient_is_the_posterior_expected_count(prob):
    """The E-step identity direct_fit relies on, checked by enumerating every completion."""
    truth, x = prob.truth, codes(prob.sources[0])[:6]
    leaves = [c.detach().clone().requires_grad_(True) for c in truth.cpt0 + truth.cpt]
    d = truth.d
    model = type(truth)(truth.structure, truth.cards, leaves[:d], leaves[d:])
    grads = torch.autograd.grad(Evidence(truth.structure, truth.cards, x).log_likelihood(model), leaves)
    got = [p.detach() * g for p, g in zip(leaves, grads)]
    want = [torch.zeros_like(g) for g in got]
    for rec in x:
        miss = (rec < 0).nonzero().tolist()
        fills = list(itertools.product(*[range(truth.cards[j]) for _, j in miss]))
        full = rec.repeat(len(fills), 1, 1)
        for k, f in enumerate(fills):
            for (t, j), v in zip(miss, f):
                full[k, t, j] = v
        post = truth.log_likelihood(full).softmax(0)
        c0, c = expected_counts(truth.structure, truth.cards, one_hot(full, truth.cards), post)
        want = [w + h for w, h in zip(want, c0 + c)]
    for a, b in zip(got, want):
        assert torch.allclose(a, b, atol=1e-10)


def test_direct_fit_on_complete_data_is_the_counting_fit(prob):
    S, cards = prob.truth.structure, prob.truth.cards
    clean = prob.full_clean
    src = Sources([clean.subset(slice(0, 200)), Source(clean.values[200:], None, clean.variables, "b")])
    got = baselines.direct_fit(S, cards, src, alpha=0.5, max_iter=3)
    want = baselines.full_clean(S, cards, clean, alpha=0.5)
    for a, b in zip(got.cpt0 + got.cpt, want.cpt0 + want.cpt):
        assert torch.allclose(a, b, atol=1e-12)


def test_direct_fit_beats_imputation_and_a_small_clean_subset(prob):
    S, cards, test = prob.truth.structure, prob.truth.cards, codes(prob.test)
    direct = mean_ll(baselines.direct_fit(S, cards, prob.sources), test)
    assert direct > mean_ll(baselines.impute(S, cards, prob.sources), test)
    assert direct > mean_ll(baselines.sub(S, cards, prob.full_clean, 20, make_generator(0)), test)


def test_impute_fills_missing_cells_with_the_mode():
    from taskdd.tasks.dbn.structure import DBNStructure
    S = DBNStructure(["a", "b"], {"b": ["a"]})
    v = torch.tensor([[[0.0, 1.0]], [[1.0, 1.0]], [[1.0, float("nan")]], [[float("nan"), 0.0]]])
    got = baselines.impute(S, (2, 2), Sources([Source(v, None, ["a", "b"])]), alpha=1.0)
    filled = torch.tensor([[[0, 1]], [[1, 1]], [[1, 1]], [[1, 0]]])
    want = baselines.counts_fit(S, (2, 2), filled, alpha=1.0)
    for a, b in zip(got.cpt0, want.cpt0):
        assert torch.allclose(a, b)


def test_free_counts_improve_on_their_start_and_sub_checks_its_size(prob):
    S, cards = prob.truth.structure, prob.truth.cards
    start = baselines.impute(S, cards, prob.sources)
    free = baselines.free_counts(S, cards, prob.sources, 8.0, steps=40, init=start)
    ll = [sum(float(Evidence(S, cards, codes(s)).log_likelihood(m)) for s in prob.sources) for m in (start, free)]
    assert ll[1] > ll[0]
    with pytest.raises(ConfigError, match="sub size"):
        baselines.sub(S, cards, prob.full_clean, 0, make_generator(0))
    with pytest.raises(ConfigError, match="mass"):
        baselines.free_counts(S, cards, prob.sources, 0.0)
