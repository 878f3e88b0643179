"""PDE families: residual of the analytic solution, the deepxde form, collocation points."""

import math

import pytest
import torch

from taskdd.errors import ConfigError
from taskdd.tasks.pinn.dde_import import import_deepxde, isolated_globals
from taskdd.tasks.pinn.problems import PROBLEMS, get_problem, sample_collocation


def _poisson_solution(inputs):
    x, alpha = inputs[:, :1], inputs[:, 1:]
    return torch.sin(math.pi * x) + alpha * (1 - x)


def test_residual_of_the_analytic_poisson_solution_is_zero():
    x = torch.linspace(0, 1, 101, dtype=torch.float64)
    for alpha in (-3.0, 0.0, 2.5):
        u = torch.sin(math.pi * x) + alpha * (1 - x)
        u_xx = -math.pi**2 * torch.sin(math.pi * x)
        assert get_problem("poisson").residual(x, u, u_xx).abs().max() < 1e-12


def test_deepxde_form_of_the_residual_vanishes_on_the_analytic_solution():
    import_deepxde()
    inputs = torch.rand(50, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    inputs[:, 1] = inputs[:, 1] * 6 - 3
    inputs.requires_grad_(True)
    res = get_problem("poisson").deepxde_pde()(inputs, _poisson_solution(inputs))
    assert res.shape == (50, 1) and res.abs().max() < 1e-10


def test_nonlinear_residual_has_the_cubic_term():
    x, u, u_xx = torch.tensor([0.5]), torch.tensor([2.0]), torch.tensor([0.0])
    assert float(get_problem("nonlinear").residual(x, u, u_xx)) == pytest.approx(8.0 - math.pi**2)


def test_collocation_points_cover_the_range_and_are_deterministic():
    c = sample_collocation((-3.0, -1.0), 64, 16, pde="poisson", dtype=torch.float64)
    assert c.interior.shape == (64, 2) and c.boundary.shape == (32, 2) and c.boundary_u.shape == (32,)
    assert c.interior[:, 0].min() >= 0 and c.interior[:, 0].max() <= 1
    assert c.interior[:, 1].min() >= -3 and c.interior[:, 1].max() <= -1
    assert set(c.boundary[:, 0].tolist()) == {0.0, 1.0}
    at0 = c.boundary[:, 0] == 0
    torch.testing.assert_close(c.boundary_u[at0], c.boundary[at0, 1])
    assert (c.boundary_u[~at0] == 0).all()
    torch.testing.assert_close(sample_collocation((-3.0, -1.0), 64, 16, pde="poisson", dtype=torch.float64).interior, c.interior)


def test_sampling_leaves_global_random_state_alone():
    state = torch.random.get_rng_state()
    import numpy as np
    np_state = np.random.get_state()[1].copy()
    sample_collocation((0.0, 1.0), 10, 4, pde="poisson")
    assert torch.equal(torch.random.get_rng_state(), state)
    assert (np.random.get_state()[1] == np_state).all()


def test_isolated_globals_restores_the_default_device_and_dtype():
    with isolated_globals():
        torch.set_default_device("meta")
        torch.set_default_dtype(torch.float64)
    assert torch.empty(0).device.type == "cpu" and torch.get_default_dtype() == torch.float32
    assert torch.get_default_device() == torch.device("cpu")


def test_bad_problem_settings_are_config_errors():
    with pytest.raises(ConfigError, match=r"unknown pde 'wave'; known pdes: poisson, nonlinear, advection-diffusion, poisson2d, heat"):
        get_problem("wave")
    with pytest.raises(ConfigError, match=r"alpha_range is inverted or empty: got \(lo, hi\) = \(1.0, -1.0\)"):
        sample_collocation((1.0, -1.0), 8, 2, pde="poisson")
    with pytest.raises(ConfigError, match="n_interior must be an int >= 1, got 0"):
        sample_collocation((0.0, 1.0), 0, 2, pde="poisson")
    assert {"poisson", "nonlinear"} <= set(PROBLEMS)
