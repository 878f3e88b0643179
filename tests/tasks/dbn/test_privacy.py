"""DP summaries: the analytic Gaussian mechanism's calibration and the released statistics."""

import math

import pytest
import torch
from scipy import integrate

from data_gen.dbn import random_dbn
from taskdd.errors import ConfigError
from taskdd.tasks.dbn.privacy import analytic_gaussian_sigma, gaussian_delta, private_summary
from taskdd.tasks.dbn.summaries import summarize


def delta_by_privacy_loss(eps, sigma, sens):
    """delta(eps) = E[(1 - e^(eps - L))_+], L ~ N(eta, 2 eta), eta = sens^2 / (2 sigma^2): the
    privacy-loss definition, integrated numerically (independent of the closed form)."""
    eta = sens ** 2 / (2 * sigma ** 2)
    sd = math.sqrt(2 * eta)
    f = lambda x: (1 - math.exp(eps - x)) * math.exp(-(x - eta) ** 2 / (2 * sd * sd)) / (sd * math.sqrt(2 * math.pi))
    return integrate.quad(f, eps, eta + 40 * sd, epsabs=1e-14, epsrel=1e-10, limit=200)[0]


@pytest.mark.parametrize("eps,sigma,sens", [(0.5, 2.0, 1.0), (1.0, 3.0, 1.0), (4.0, 10.0, 25.5), (8.0, 0.3, 1.0)])
def test_closed_form_delta_equals_the_privacy_loss_integral(eps, sigma, sens):
    want = delta_by_privacy_loss(eps, sigma, sens)
    assert gaussian_delta(eps, sigma, sens) == pytest.approx(want, rel=1e-7, abs=1e-15)


@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0, 4.0, 8.0])
def test_calibrated_sigma_meets_delta_exactly_and_beats_the_classical_bound(eps):
    delta, sens = 1e-5, 25.5
    sigma = analytic_gaussian_sigma(eps, delta, sens)
    assert gaussian_delta(eps, sigma, sens) <= delta
    assert gaussian_delta(eps, sigma * (1 - 1e-9), sens) > delta
    assert delta_by_privacy_loss(eps, sigma, sens) == pytest.approx(delta, rel=1e-6)
    if eps <= 1:
        assert sigma < sens * math.sqrt(2 * math.log(1.25 / delta)) / eps


def test_bad_privacy_parameters_are_refused():
    with pytest.raises(ConfigError):
        analytic_gaussian_sigma(0.0, 1e-5)
    with pytest.raises(ConfigError):
        analytic_gaussian_sigma(1.0, 1.5)


@pytest.fixture
def data():
    dbn = random_dbn(3, seed=1, dtype=torch.float64)
    x = dbn.sample(3000, 3, generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[1000:, :, 0] = False
    mask[2990:, 1] = False  # a pattern outside the public set: dropped
    return x, mask, torch.stack([torch.ones(3, 3, dtype=torch.bool), mask[1000]])


def test_without_noise_and_with_wide_bounds_the_summary_is_the_exact_one(data):
    x, mask, patterns = data
    got, acc = private_summary(x, mask, patterns, torch.full((3,), -1e3), torch.full((3,), 1e3), math.inf, 1e-5,
                               torch.Generator().manual_seed(0))
    got, want = got.canonical(), summarize(x[:2990], mask[:2990])
    assert torch.equal(got.counts, want.counts) and acc["rows_dropped_other_patterns"] == 10
    assert torch.allclose(got.means, want.means, atol=1e-9) and torch.allclose(got.covs, want.covs, atol=1e-8)


def test_released_counts_carry_noise_of_the_calibrated_scale(data):
    x, mask, patterns = data
    lo, hi = torch.full((3,), -5.0), torch.full((3,), 5.0)
    counts = torch.stack([private_summary(x, mask, patterns, lo, hi, 1.0, 1e-5, torch.Generator().manual_seed(k))[0].counts
                          for k in range(200)])
    _, acc = private_summary(x, mask, patterns, lo, hi, 1.0, 1e-5, torch.Generator().manual_seed(0))
    assert acc["l2_sensitivity"] == pytest.approx(math.sqrt(1 + 9 + 81))
    assert acc["sigma"] == pytest.approx(analytic_gaussian_sigma(1.0, 1e-5, math.sqrt(91)))
    sd = float(counts[:, 0].std())
    assert 0.85 * acc["sigma"] < sd < 1.15 * acc["sigma"]
