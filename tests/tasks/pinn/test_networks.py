"""The batched MLP: the explicit u_xx pass against autograd, shapes and layout."""

import pytest
import torch

from taskdd.errors import ConfigError, DataError
from taskdd.tasks.pinn.networks import MLPSpec, stack_inputs


def test_explicit_second_derivative_equals_autograd():
    spec = MLPSpec(width=7, depth=3)
    params = spec.init(3, torch.Generator().manual_seed(0), dtype=torch.float64)
    params = params + 0.1 * torch.randn(params.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    inputs = torch.rand(11, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 4 - 2
    u, u_xx = spec.forward_uxx(params, inputs)
    xs = inputs.clone().requires_grad_(True)
    for k in range(3):
        u_k = spec.forward(params[k:k + 1], xs)[0]
        (du,) = torch.autograd.grad(u_k.sum(), xs, create_graph=True)  # points don't mix: the sum is per point
        (d2u,) = torch.autograd.grad(du[:, 0].sum(), xs)
        torch.testing.assert_close(u[k], u_k.detach(), rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(u_xx[k], d2u[:, 0], rtol=1e-10, atol=1e-10)


def test_forward_accepts_per_network_inputs():
    spec = MLPSpec(width=5, depth=1)
    params = spec.init(2, torch.Generator().manual_seed(0))
    inputs = torch.rand(2, 6, 2)
    u = spec.forward(params, inputs)
    torch.testing.assert_close(u[1], spec.forward(params[1:], inputs[1])[0])
    u2, _ = spec.forward_uxx(params, inputs)
    torch.testing.assert_close(u2, u)


def test_same_generator_same_networks_and_bias_zero():
    spec = MLPSpec()
    a = spec.init(2, torch.Generator().manual_seed(5))
    b = spec.init(2, torch.Generator().manual_seed(5))
    torch.testing.assert_close(a, b)
    assert a.shape == (2, spec.n_params) and spec.n_params == 3 * 32 + 33 * 32 + 33
    assert all((bias == 0).all() for _, bias in spec.layers(a))


def test_bad_shapes_and_settings_are_typed_errors():
    spec = MLPSpec(width=4, depth=1)
    with pytest.raises(DataError, match=r"network parameters must have shape \[E, 17\], got \(2, 3\)"):
        spec.forward(torch.zeros(2, 3), torch.zeros(5, 2))
    with pytest.raises(DataError, match=r"x and alpha must both have shape \[n\], got \(3, 1\) and \(3,\)"):
        stack_inputs(torch.zeros(3, 1), torch.zeros(3))
    with pytest.raises(ConfigError, match="network width must be an int >= 1, got 0"):
        MLPSpec(width=0)


def test_second_derivative_at_the_first_rows_only_matches_the_full_pass():
    spec = MLPSpec(width=6, depth=2)
    params = spec.init(2, torch.Generator().manual_seed(0), dtype=torch.float64)
    inputs = torch.rand(9, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    u, u_xx = spec.forward_uxx(params, inputs)
    u4, u_xx4 = spec.forward_uxx(params, inputs, n_deriv=4)
    assert u_xx4.shape == (2, 4)
    torch.testing.assert_close(u4, u, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(u_xx4, u_xx[:, :4], rtol=1e-12, atol=1e-12)
    with pytest.raises(DataError, match=r"n_deriv must be in \[0, 9\], got 10"):
        spec.forward_uxx(params, inputs, n_deriv=10)

