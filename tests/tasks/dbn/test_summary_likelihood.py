import pytest
import torch

from data_gen.dbn import random_dbn
from taskdd.tasks.dbn import state_space
from taskdd.tasks.dbn.summary_likelihood import (prefers_summary, split_log_likelihood, split_rows,
                                                 summary_log_likelihood, unrolled_moments)
from taskdd.tasks.dbn.summaries import summarize

D, T = 3, 4


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def dbn():
    return random_dbn(D, n_intra_edges=2, n_inter_edges=5, seed=7, dtype=torch.float64)


def mixed_patterns(n, seed):
    """A few repeated patterns (sources hiding variables, a missed visit) plus random per-cell masks."""
    g = gen(seed)
    base = torch.ones(3, T, D, dtype=torch.bool)
    base[1, :, 0] = False
    base[2, 1] = False
    mask = base[torch.randint(0, 3, (n,), generator=g)]
    rare = torch.rand(n, generator=g) < 0.2
    mask[rare] = torch.rand(int(rare.sum()), T, D, generator=g) < 0.7
    return mask


def noisy(dbn, n, seed, noise):
    x = dbn.sample(n, T, generator=gen(seed))
    return x + noise * torch.randn(x.shape, generator=gen(seed + 1), dtype=x.dtype)


def test_unrolled_moments_match_sampled_moments(dbn):
    x = dbn.sample(200000, T, generator=gen(3)).reshape(200000, -1)
    mu, Sigma = unrolled_moments(state_space(dbn.parameters_dict()), T)
    assert torch.allclose(mu, x.mean(0), atol=0.03)
    assert torch.allclose(Sigma, torch.cov(x.T), atol=0.05 * Sigma.abs().max())


@pytest.mark.parametrize("noise", [0.0, 0.3, "vector"])
def test_summary_score_equals_rowwise_kalman(dbn, noise):
    sd = torch.tensor([0.1, 0.5, 0.25], dtype=torch.float64) if noise == "vector" else torch.tensor(noise).double()
    x, mask = noisy(dbn, 400, 1, sd), mixed_patterns(400, 2)
    rows = dbn.log_likelihood(x, mask, obs_noise=sd.expand(D)).sum()
    ss = state_space(dbn.parameters_dict())
    full = summary_log_likelihood(ss, summarize(x, mask), sd.expand(D).square()).sum()
    auto = split_log_likelihood(ss, split_rows(x, mask), sd.expand(D).square())
    assert float(abs(full - rows) / abs(rows)) < 1e-9
    assert float(abs(auto - rows) / abs(rows)) < 1e-9


def test_auto_split_keeps_rare_patterns_as_rows_and_summarises_frequent_ones(dbn):
    x, mask = dbn.sample(3000, T, generator=gen(1)), mixed_patterns(3000, 2)
    split = split_rows(x, mask)
    counts = summarize(x, mask).counts
    want = prefers_summary(counts, T, D)
    assert split.summary.n == int(counts[want].sum()) and split.values.shape[0] == int(counts[~want].sum())
    assert len(split.summary) == 3 and split.values.shape[0] > 0  # the three repeated patterns
    assert bool(prefers_summary(torch.tensor([10 ** 6]), 50, 8)) and not bool(prefers_summary(torch.tensor([1]), 2, 2))


def test_summary_score_gradients_pass_gradcheck(dbn):
    x, mask = noisy(dbn, 60, 4, 0.2), mixed_patterns(60, 5)
    summary = summarize(x, mask)
    p = {k: v.clone().requires_grad_(True) for k, v in dbn.parameters_dict().items()}
    names = list(p)

    def f(*args):
        return summary_log_likelihood(state_space(dict(zip(names, args[:-1]))), summary, args[-1]).sum()
    r2 = torch.full((D,), 0.04, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (*p.values(), r2))


def test_summary_gradients_equal_rowwise_gradients(dbn):
    x, mask = noisy(dbn, 300, 6, 0.3), mixed_patterns(300, 7)
    p = {k: v.clone().requires_grad_(True) for k, v in dbn.parameters_dict().items()}
    r2 = torch.full((D,), 0.09, dtype=torch.float64)
    from taskdd.tasks.dbn import kalman_log_likelihood
    g_rows = torch.autograd.grad(kalman_log_likelihood(state_space(p), x, mask, r2).sum(), list(p.values()))
    g_sum = torch.autograd.grad(summary_log_likelihood(state_space(p), summarize(x, mask), r2).sum(), list(p.values()))
    for a, b in zip(g_rows, g_sum):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-9 * float(a.abs().max()))
