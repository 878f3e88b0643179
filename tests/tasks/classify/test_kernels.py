"""NTK and RBF kernels: against a wide network's empirical NTK, the arc-cosine formula, sklearn."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import rbf_kernel

from taskdd.errors import ConfigError
from taskdd.tasks.classify.kernels import get_kernel, rbf, relu_ntk


def points(n, p=4, seed=0):
    return torch.rand(n, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


def test_relu_ntk_matches_the_empirical_ntk_of_a_wide_network():
    x = points(5)
    d, m = x.shape[1] + 1, 100_000
    g = torch.Generator().manual_seed(1)
    params = {"W": torch.randn(m, d, generator=g, dtype=torch.float64),
              "v": torch.randn(m, generator=g, dtype=torch.float64)}

    def f(p, xi):  # NTK parametrisation, bias as a constant input
        xt = torch.cat([xi, xi.new_ones(1)])
        return p["v"] @ torch.relu(p["W"] @ xt / math.sqrt(d)) / math.sqrt(m)

    jac = torch.func.vmap(torch.func.jacrev(f), in_dims=(None, 0))(params, x)
    empirical = sum(j.flatten(1) @ j.flatten(1).T for j in jac.values())
    torch.testing.assert_close(relu_ntk(x, x), empirical, rtol=0.02, atol=0.0)


def test_relu_ntk_equals_the_arccos_closed_form_and_its_diagonal_is_exact():
    a, b = points(6, seed=2), points(3, seed=3)
    at = np.hstack([a.numpy(), np.ones((6, 1))])
    bt = np.hstack([b.numpy(), np.ones((3, 1))])
    d = at.shape[1]
    s = at @ bt.T / d
    nn = np.outer((at**2).sum(1), (bt**2).sum(1)) / d**2
    theta = np.arccos(np.clip(s / np.sqrt(nn), -1, 1))
    ref = np.sqrt(nn) * (np.sin(theta) + (np.pi - theta) * np.cos(theta)) / (2 * np.pi) + s * (np.pi - theta) / (2 * np.pi)
    np.testing.assert_allclose(relu_ntk(a, b).numpy(), ref, rtol=1e-9)
    np.testing.assert_allclose(relu_ntk(a, a).diagonal().numpy(), (at**2).sum(1) / d, rtol=1e-12)


def test_relu_ntk_gradients_pass_gradcheck():
    a = points(4, seed=4).requires_grad_(True)
    b = points(3, seed=5).requires_grad_(True)
    assert torch.autograd.gradcheck(relu_ntk, (a, b))
    assert torch.autograd.gradcheck(lambda z: relu_ntk(z, z), (a,))


def test_rbf_matches_sklearn():
    a, b = points(5, seed=6), points(4, seed=7)
    np.testing.assert_allclose(rbf(a, b, 0.3).numpy(), rbf_kernel(a.numpy(), b.numpy(), gamma=0.3), rtol=1e-12)


def test_unknown_kernel_is_a_config_error_listing_the_known_ones():
    with pytest.raises(ConfigError, match="unknown kernel 'poly'; known kernels: ntk, rbf"):
        get_kernel("poly")
    with pytest.raises(ConfigError, match="rbf gamma must be a finite number > 0, got -1"):
        get_kernel("rbf", gamma=-1)
