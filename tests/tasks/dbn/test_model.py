import numpy as np
import pytest
import torch

from data_gen.dbn import random_dbn
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn import LinearGaussianDBN, fit_dbn, state_space


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def truth():
    return random_dbn(8, seed=0, dtype=torch.float64)


@pytest.fixture(scope="module")
def big_sample(truth):
    return truth.sample(20_000, 5, generator=gen(1))


def test_fit_recovers_generating_parameters_from_20k_sequences(truth, big_sample):
    fitted = truth.fit(big_sample)
    for k, v in truth.parameters_dict().items():
        err = (fitted.parameters_dict()[k] - v).abs().max().item()
        assert err < 0.05, f"{k} off by {err}"


def test_fit_keeps_the_structure_zeros(truth, big_sample):
    fitted = fit_dbn(truth.structure, big_sample[:50])
    s = truth.structure
    assert (fitted.B0[~s.intra_mask] == 0).all() and (fitted.B[~s.intra_mask] == 0).all()
    assert (fitted.A[~s.inter_mask] == 0).all()


def test_sample_moments_match_the_state_space_form(truth, big_sample):
    ss = state_space(truth.parameters_dict())
    torch.testing.assert_close(big_sample[:, 0].mean(0), ss.m0, atol=0.03, rtol=0)
    m1 = ss.F @ ss.m0 + ss.c
    torch.testing.assert_close(big_sample[:, 1].mean(0), m1, atol=0.03, rtol=0)
    torch.testing.assert_close(torch.cov(big_sample[:, 0].T), ss.P0, atol=0.05, rtol=0)


def test_masked_fit_is_complete_case_least_squares_per_node(truth):
    x = truth.sample(300, 4, generator=gen(2))
    mask = torch.rand(x.shape, generator=gen(3), dtype=torch.float64) < 0.8
    fitted = truth.fit(torch.where(mask, x, torch.nan), mask, ridge=0.0)
    s, d = truth.structure, truth.d
    xn, mn = x.numpy(), mask.numpy()
    for i in range(d):
        # t >= 1 rows: child i, intra parents at t, inter parents at t-1, all observed
        pi, pa = np.flatnonzero(s.intra_mask[i]), np.flatnonzero(s.inter_mask[i])
        rows_y, rows_z = [], []
        for n in range(len(xn)):
            for t in range(1, xn.shape[1]):
                if mn[n, t, i] and mn[n, t, pi].all() and mn[n, t - 1, pa].all():
                    rows_y.append(xn[n, t, i])
                    rows_z.append(np.concatenate([xn[n, t, pi], xn[n, t - 1, pa], [1.0]]))
        Z, y = np.array(rows_z), np.array(rows_y)
        coef = np.linalg.lstsq(Z, y, rcond=None)[0]
        np.testing.assert_allclose(fitted.B[i, pi].numpy(), coef[:len(pi)], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fitted.A[i, pa].numpy(), coef[len(pi):-1], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fitted.b[i].item(), coef[-1], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(fitted.s[i].item() ** 2, np.mean((y - Z @ coef) ** 2), rtol=1e-8)


def test_fit_is_the_same_in_float32(truth):
    x = truth.sample(400, 5, generator=gen(4))
    f64 = truth.fit(x)
    f32 = truth.fit(x.float())
    assert f32.dtype == torch.float32
    for k, v in f64.parameters_dict().items():
        torch.testing.assert_close(f32.parameters_dict()[k].double(), v, atol=1e-4, rtol=1e-4)


def test_fit_needs_two_slices_and_rows_for_every_node(truth):
    x = truth.sample(10, 3, generator=gen(5))
    with pytest.raises(DataError, match="T >= 2"):
        truth.fit(x[:, :1])
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[:, 0, 3] = False
    with pytest.raises(DataError, match=r"first slice: nodes \['x3'\]"):
        truth.fit(x, mask)


def test_negative_ridge_is_a_config_error(truth):
    with pytest.raises(ConfigError, match="ridge must be"):
        truth.fit(truth.sample(4, 3, generator=gen(6)), ridge=-1.0)


def test_constructor_rejects_weights_off_the_structure_and_bad_std(truth):
    p = truth.parameters_dict()
    s = truth.structure
    i, j = (~s.inter_mask).nonzero()[0].tolist()
    A = p["A"].clone()
    A[i, j] = 0.5
    with pytest.raises(DataError, match=rf"A has 1 nonzero entries outside.*'x{i}', 'x{j}'"):
        LinearGaussianDBN(s, **{**p, "A": A})
    with pytest.raises(DataError, match="s0"):
        LinearGaussianDBN(s, **{**p, "s0": -p["s0"]})
    with pytest.raises(DataError, match=r"b must be a float tensor of shape \(8,\)"):
        LinearGaussianDBN(s, **{**p, "b": p["b"][:3]})
    with pytest.raises(DataError, match="share one dtype"):
        LinearGaussianDBN(s, **{**p, "b": p["b"].float()})


def test_to_parameters_dict_and_repr(truth):
    m = truth.to(dtype=torch.float32)
    assert m.dtype == torch.float32 and m.device == torch.device("cpu")
    assert set(m.parameters_dict()) == {"B0", "b0", "s0", "B", "A", "b", "s"}
    assert "LinearGaussianDBN(d=8" in repr(m) and "float32" in repr(m)


def test_sample_is_deterministic_and_shaped(truth):
    a = truth.sample(5, 7, generator=gen(9))
    b = truth.sample(5, 7, generator=gen(9))
    assert a.shape == (5, 7, 8) and torch.equal(a, b)
    assert not torch.equal(a, truth.sample(5, 7, generator=gen(10)))


def test_model_moves_to_the_device_and_computes_there(truth, device):
    m = truth.to(device, torch.float32)
    x = m.sample(16, 4, generator=gen(11))
    assert x.device.type == device.type
    mask = torch.rand(x.shape, generator=gen(12)).to(device) < 0.7
    ll = m.log_likelihood(x, mask, obs_noise=0.2)
    ref = truth.log_likelihood(x.cpu().double(), mask.cpu(), obs_noise=0.2)
    torch.testing.assert_close(ll.cpu().double(), ref, rtol=1e-4, atol=1e-3)
    assert m.fit(x).B.device.type == device.type
