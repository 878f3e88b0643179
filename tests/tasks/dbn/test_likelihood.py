import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal

from data_gen.dbn import random_dbn
from taskdd.errors import DataError, NonFiniteError
from taskdd.tasks.dbn import LinearGaussianDBN, fit_dbn

D, T = 3, 4


@pytest.fixture
def dbn():
    return random_dbn(D, n_intra_edges=2, n_inter_edges=5, seed=7, dtype=torch.float64)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def random_mask(shape, seed, p_obs=0.6):
    return torch.rand(shape, generator=gen(seed), dtype=torch.float64) < p_obs


def unrolled_joint(dbn, T):
    """Mean [T*d] and covariance of the unrolled sequence, built directly from the CPDs."""
    p = {k: v.detach().double().numpy() for k, v in dbn.parameters_dict().items()}
    d = dbn.d
    W, c, sd = np.zeros((T * d, T * d)), np.zeros(T * d), np.zeros(T * d)
    for t in range(T):
        sl = slice(t * d, (t + 1) * d)
        W[sl, sl] = p["B0"] if t == 0 else p["B"]
        if t:
            W[sl, (t - 1) * d:t * d] = p["A"]
        c[sl], sd[sl] = (p["b0"], p["s0"]) if t == 0 else (p["b"], p["s"])
    M = np.linalg.inv(np.eye(T * d) - W)
    return M @ c, M @ np.diag(sd ** 2) @ M.T


def brute_force(dbn, values, mask, obs_noise):
    mean, cov = unrolled_joint(dbn, values.shape[1])
    r2 = np.broadcast_to(np.asarray(obs_noise, dtype=float) ** 2, (dbn.d,))
    out = []
    for v, m in zip(values.reshape(len(values), -1).numpy(), mask.reshape(len(values), -1).numpy()):
        if not m.any():
            out.append(0.0)
            continue
        S = cov[np.ix_(m, m)] + np.diag(np.tile(r2, values.shape[1])[m])
        out.append(multivariate_normal.logpdf(v[m], mean[m], S))
    return np.array(out)


@pytest.mark.parametrize("obs_noise", [0.0, 0.4, "vector"])
def test_masked_log_likelihood_equals_brute_force_marginalisation(dbn, obs_noise):
    x = dbn.sample(12, T, generator=gen(1))
    mask = random_mask(x.shape, 2)
    mask[0] = False  # an all-missing sequence has log-likelihood 0
    mask[1] = True
    if obs_noise == "vector":
        obs_noise = torch.tensor([0.1, 0.5, 0.3], dtype=torch.float64)
    ours = dbn.log_likelihood(x, mask, obs_noise=obs_noise)
    ref = brute_force(dbn, x, mask, obs_noise.numpy() if isinstance(obs_noise, torch.Tensor) else obs_noise)
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-9, atol=1e-9)


@settings(max_examples=15, deadline=None)
@given(d=st.integers(1, 3), T=st.integers(1, 3), seed=st.integers(0, 10_000), p_obs=st.sampled_from([0.0, 0.5, 1.0]),
       noise=st.sampled_from([0.0, 0.3]))
def test_any_small_dbn_and_mask_matches_brute_force(d, T, seed, p_obs, noise):
    m = random_dbn(d, n_intra_edges=min(d - 1, 2), seed=seed, dtype=torch.float64)
    x = m.sample(3, T, generator=gen(seed))
    mask = random_mask(x.shape, seed + 1, p_obs)
    np.testing.assert_allclose(m.log_likelihood(x, mask, obs_noise=noise).numpy(), brute_force(m, x, mask, noise),
                               rtol=1e-9, atol=1e-9)


def test_mask_shared_by_all_sequences_equals_brute_force(dbn):
    # one pattern for every sequence (a source hiding a variable, plus one missing slice entry):
    # the filter computes its covariances once and shares them
    x = dbn.sample(9, T, generator=gen(18))
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[..., 1] = False
    mask[:, 2, 0] = False
    ours = dbn.log_likelihood(x, mask, obs_noise=0.25)
    np.testing.assert_allclose(ours.numpy(), brute_force(dbn, x, mask, 0.25), rtol=1e-9)
    np.testing.assert_allclose(dbn.log_likelihood(x, obs_noise=0.25).numpy(),
                               brute_force(dbn, x, torch.ones_like(mask), 0.25), rtol=1e-9)


def test_fully_observed_fast_path_equals_kalman_filter(dbn):
    x = dbn.sample(10, 6, generator=gen(3))
    fast = dbn.log_likelihood(x)
    kalman = dbn.log_likelihood(x, torch.ones_like(x, dtype=torch.bool))
    torch.testing.assert_close(fast, kalman, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fast.numpy(), brute_force(dbn, x, torch.ones_like(x, dtype=torch.bool), 0.0), rtol=1e-9)


def test_single_slice_sequences_use_the_first_slice_only(dbn):
    x = dbn.sample(5, 1, generator=gen(4))
    mask = random_mask(x.shape, 5)
    np.testing.assert_allclose(dbn.log_likelihood(x, mask, 0.2).numpy(), brute_force(dbn, x, mask, 0.2), rtol=1e-9)
    np.testing.assert_allclose(dbn.log_likelihood(x).numpy(), brute_force(dbn, x, ~random_mask(x.shape, 0, 0.0), 0.0),
                               rtol=1e-9)


def test_masked_values_do_not_change_likelihood(dbn):
    x = dbn.sample(8, T, generator=gen(6))
    mask = random_mask(x.shape, 7)
    garbage = torch.where(mask, x, torch.full_like(x, float("nan")))
    other = torch.where(mask, x, 1e6 * torch.randn(x.shape, generator=gen(8), dtype=x.dtype))
    ll = dbn.log_likelihood(x, mask, obs_noise=0.3)
    torch.testing.assert_close(dbn.log_likelihood(garbage, mask, obs_noise=0.3), ll, rtol=0, atol=0)
    torch.testing.assert_close(dbn.log_likelihood(other, mask, obs_noise=0.3), ll, rtol=0, atol=0)
    v = garbage.clone().requires_grad_(True)
    dbn.log_likelihood(v, mask, obs_noise=0.3).sum().backward()
    assert torch.isfinite(v.grad).all() and (v.grad[~mask] == 0).all()


def test_pyro_gaussian_hmm_agrees_with_brute_force_and_ours(dbn):
    from pyro.distributions import GaussianHMM, MultivariateNormal, Normal

    from taskdd.tasks.dbn import state_space

    x = dbn.sample(6, T, generator=gen(9))
    mask = random_mask(x.shape, 10)
    noise = 0.3
    ss = state_space(dbn.parameters_dict())
    d = dbn.d
    trans_matrix = torch.stack([torch.zeros(d, d, dtype=x.dtype)] + [ss.F.T] * (T - 1))
    trans_dist = MultivariateNormal(torch.stack([ss.m0] + [ss.c] * (T - 1)),
                                    torch.stack([ss.P0] + [ss.Q] * (T - 1)))
    # hidden entry: zero observation-matrix column, unit noise, y = 0 (adds -log(2 pi)/2 each)
    obs_matrix = torch.diag_embed(mask.double())
    obs_dist = Normal(torch.zeros_like(x), torch.where(mask, noise, 1.0).double()).to_event(1)
    init = MultivariateNormal(torch.zeros(d, dtype=x.dtype), torch.eye(d, dtype=x.dtype))
    hmm = GaussianHMM(init, trans_matrix, trans_dist, obs_matrix, obs_dist)
    pyro_ll = hmm.log_prob(torch.where(mask, x, 0.0)) + 0.5 * math.log(2 * math.pi) * (~mask).sum((1, 2))
    # pyro's own float64 round-off is ~1e-7 relative here; ours matches brute force to 1e-9
    np.testing.assert_allclose(pyro_ll.numpy(), brute_force(dbn, x, mask, noise), rtol=1e-6)
    torch.testing.assert_close(dbn.log_likelihood(x, mask, obs_noise=noise), pyro_ll, rtol=1e-6, atol=0)


def test_gradcheck_of_likelihood_of_fit_wrt_values(dbn):
    x = dbn.sample(7, 3, generator=gen(11)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda v: fit_dbn(dbn.structure, v).log_likelihood(v), (x,), fast_mode=True)
    mask = random_mask(x.shape, 12, 0.8)
    mask[:, 0] = True
    assert torch.autograd.gradcheck(
        lambda v: fit_dbn(dbn.structure, v, mask).log_likelihood(v, mask, obs_noise=0.2), (x,), fast_mode=True)


def test_gradcheck_of_masked_likelihood_wrt_parameters(dbn):
    x = dbn.sample(4, 3, generator=gen(13))
    mask = random_mask(x.shape, 14)
    s = dbn.structure
    p = dbn.parameters_dict()
    theta = [p["B0"][s.intra_mask], p["b0"], p["s0"], p["B"][s.intra_mask], p["A"][s.inter_mask], p["b"], p["s"]]
    theta = [t.clone().requires_grad_(True) for t in theta]

    def ll(B0w, b0, s0, Bw, Aw, b, sd):
        z = torch.zeros(D, D, dtype=x.dtype)
        m = LinearGaussianDBN(s, B0=z.masked_scatter(s.intra_mask, B0w), b0=b0, s0=s0,
                              B=z.masked_scatter(s.intra_mask, Bw), A=z.masked_scatter(s.inter_mask, Aw), b=b, s=sd)
        return m.log_likelihood(x, mask, obs_noise=0.3)

    assert torch.autograd.gradcheck(ll, tuple(theta), fast_mode=True)


def test_float32_kalman_filter_matches_float64(dbn):
    x = dbn.sample(64, 20, generator=gen(15))
    mask = random_mask(x.shape, 16)
    ll64 = dbn.log_likelihood(x, mask)
    ll32 = dbn.to(dtype=torch.float32).log_likelihood(x.float(), mask)
    torch.testing.assert_close(ll32.double(), ll64, rtol=1e-4, atol=1e-3)


def test_degenerate_covariance_raises_non_finite_error(dbn):
    p = dbn.to(dtype=torch.float32).parameters_dict()
    tiny = LinearGaussianDBN(dbn.structure, **{**p, "s": torch.full_like(p["s"], 1e-30)})
    x = tiny.sample(2, 3, generator=gen(19))
    with pytest.raises(NonFiniteError, match="not positive definite"):
        tiny.log_likelihood(x, torch.ones_like(x, dtype=torch.bool))


def test_bad_obs_noise_and_shapes_raise(dbn):
    x = dbn.sample(2, 3, generator=gen(17))
    with pytest.raises(DataError, match="obs_noise"):
        dbn.log_likelihood(x, obs_noise=-1.0)
    with pytest.raises(DataError, match="obs_noise"):
        dbn.log_likelihood(x, obs_noise=torch.ones(5, dtype=x.dtype))
    with pytest.raises(DataError, match=r"\[N, T, 3\]"):
        dbn.log_likelihood(x[..., :2])


def test_repeated_masks_share_covariances_and_equal_brute_force(dbn):
    # 10 sequences, 3 distinct masks (missed visits repeat): one covariance pass per mask
    x = dbn.sample(10, T, generator=gen(20))
    kinds = torch.ones(3, T, D, dtype=torch.bool)
    kinds[1, 1] = False
    kinds[2, :, 0] = False
    mask = kinds[torch.tensor([0, 1, 2, 1, 0, 2, 2, 1, 0, 1])]
    noise = torch.tensor([0.2, 0.4, 0.3], dtype=torch.float64)
    np.testing.assert_allclose(dbn.log_likelihood(x, mask, obs_noise=noise).numpy(),
                               brute_force(dbn, x, mask, noise.numpy()), rtol=1e-9, atol=1e-9)


def test_per_variable_noise_equals_brute_force_with_a_shared_mask(dbn):
    x = dbn.sample(6, T, generator=gen(21))
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[..., 2] = False
    noise = [0.05, 0.6, 0.3]
    np.testing.assert_allclose(dbn.log_likelihood(x, mask, obs_noise=noise).numpy(),
                               brute_force(dbn, x, mask, np.array(noise)), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("shared", [True, False])
def test_a_number_equals_the_vector_filled_with_it(dbn, shared):
    x = dbn.sample(8, T, generator=gen(22))
    mask = random_mask(x.shape, 23) if not shared else torch.ones_like(x, dtype=torch.bool)
    one = dbn.log_likelihood(x, mask, obs_noise=0.35)
    vec = dbn.log_likelihood(x, mask, obs_noise=torch.full((D,), 0.35, dtype=torch.float64))
    torch.testing.assert_close(vec, one, rtol=0, atol=0)


def test_obs_noise_gradient_flows_to_a_per_variable_tensor(dbn):
    x = dbn.sample(5, T, generator=gen(24))
    noise = torch.tensor([0.2, 0.3, 0.4], dtype=torch.float64, requires_grad=True)
    dbn.log_likelihood(x, random_mask(x.shape, 25), obs_noise=noise).sum().backward()
    assert noise.grad is not None and (noise.grad != 0).all()


@pytest.mark.parametrize("bad", [[0.1, -0.2, 0.3], [0.1, float("nan"), 0.3], [[0.1] * 3], "big", True])
def test_bad_per_variable_noise_is_a_data_error_naming_obs_noise(dbn, bad):
    x = dbn.sample(2, 3, generator=gen(26))
    with pytest.raises(DataError, match="obs_noise"):
        dbn.log_likelihood(x, obs_noise=bad)


@pytest.mark.parametrize("repeat", [True, False])
def test_noise_per_sequence_equals_brute_force(dbn, repeat):
    # [N, d] rows: e.g. sources of different noise in one call; grouped when (mask, row) pairs repeat
    x = dbn.sample(8, T, generator=gen(27))
    mask = torch.ones_like(x, dtype=torch.bool) if repeat else random_mask(x.shape, 28)
    rows = torch.tensor([[0.2, 0.4, 0.3], [0.5, 0.1, 0.3]], dtype=torch.float64)[torch.arange(8) % 2]
    ours = dbn.log_likelihood(x, mask, obs_noise=rows).numpy()
    ref = np.concatenate([brute_force(dbn, x[i:i + 1], mask[i:i + 1], rows[i].numpy()) for i in range(8)])
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
