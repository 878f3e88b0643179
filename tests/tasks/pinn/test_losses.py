"""The one-pass loss terms against the residuals computed point set by point set."""

import pytest
import torch

from taskdd.errors import DataError
from taskdd.tasks.pinn.losses import LossTerms, LossWeights, data_misfit, stack_inputs
from taskdd.tasks.pinn.modules import pinn_network
from taskdd.tasks.pinn.problems import get_problem, sample_collocation


def test_one_pass_terms_equal_the_separate_residuals():
    spec = pinn_network(5, 2)
    params = spec.init(3, torch.Generator().manual_seed(0), dtype=torch.float64)
    colloc = sample_collocation((-3.0, 1.0), 7, 3, pde="poisson", dtype=torch.float64)
    g = torch.Generator().manual_seed(1)
    x, alpha, y = torch.rand(4, generator=g, dtype=torch.float64), torch.randn(4, generator=g, dtype=torch.float64), \
        torch.randn(4, generator=g, dtype=torch.float64)
    problem = get_problem("nonlinear")
    misfit, pde, bc = LossTerms(spec, problem, colloc, x, alpha, y)(params)
    u, u_xx = spec.forward_d2(params, colloc.interior)
    torch.testing.assert_close(pde, (problem.residual(colloc.interior[:, 0], u[..., 0], u_xx[..., 0]) ** 2).mean(-1))
    torch.testing.assert_close(bc, ((spec.forward(params, colloc.boundary)[..., 0] - colloc.boundary_u) ** 2).mean(-1))
    torch.testing.assert_close(misfit, data_misfit(spec, params, x, alpha, y))
    w = LossWeights(2.0, 0.5, 3.0)
    torch.testing.assert_close(LossTerms(spec, problem, colloc, x, alpha, y).weighted(params, w),
                               2.0 * misfit + 0.5 * pde + 3.0 * bc)


def test_no_measurements_give_a_zero_misfit():
    spec = pinn_network(4, 1)
    params = spec.init(2, torch.Generator().manual_seed(0))
    colloc = sample_collocation((-3.0, -1.0), 5, 2, pde="poisson")
    none = torch.zeros(0)
    misfit, pde, bc = LossTerms(spec, get_problem("poisson"), colloc, none, none, none)(params)
    assert misfit.tolist() == [0.0, 0.0] and (pde > 0).all() and (bc > 0).all()


def test_inputs_of_other_shapes_are_data_errors():
    with pytest.raises(DataError, match=r"x and alpha must both have shape \[n\], got \(3, 1\) and \(3,\)"):
        stack_inputs(torch.zeros(3, 1), torch.zeros(3))


def test_the_general_path_equals_the_explicit_one_and_trains_alike(device):
    """Nested autograd (any residual) against the explicit u_xx pass: losses, their gradients, and
    networks trained by the task with each (float64, so the two agree to rounding)."""
    from data_gen.pinn import make_pinn_problem
    from taskdd import make_generator
    from taskdd.tasks.pinn import PINNTask

    spec = pinn_network(6, 2)
    params = spec.init(3, torch.Generator().manual_seed(0), dtype=torch.float64, device=device).requires_grad_(True)
    colloc = sample_collocation((-3.0, 1.0), 9, 3, pde="nonlinear", dtype=torch.float64, device=device)
    x = alpha = y = torch.linspace(0, 1, 4, dtype=torch.float64, device=device)
    terms = [LossTerms(spec, get_problem("nonlinear"), colloc, x, alpha, y, d) for d in ("explicit", "general")]
    l_exp, l_gen = (t.weighted(params, LossWeights()) for t in terms)
    g_exp, g_gen = (torch.autograd.grad(v.sum(), params)[0] for v in (l_exp, l_gen))
    torch.testing.assert_close(l_gen, l_exp, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_gen, g_exp, rtol=1e-10, atol=1e-10)
    prob = make_pinn_problem("poisson", n_train=20, n_test_alphas=2, n_test_x=5, seed=0, dtype=torch.float64)
    data = [prob.train[k].to(device) for k in ("x", "alpha", "y")]
    nets = [PINNTask(width=8, n_interior=16, n_boundary=4, derivatives=d).train_networks(*data, 2, make_generator(0),
                                                                                            steps=30)
            for d in ("explicit", "general")]
    torch.testing.assert_close(nets[1].params, nets[0].params, rtol=1e-8, atol=1e-8)


def test_an_explicit_pass_that_cannot_serve_is_a_config_error():
    from taskdd.errors import ConfigError
    from taskdd.tasks.pinn import PDEFamily, PINNTask

    fam = PDEFamily("with-u-x", pde=lambda x, u, d: d.u_xx + d.u_x, boundary=lambda x, a: a, uses_u_x=True)
    with pytest.raises(ConfigError, match="needs derivatives='general' or 'auto'"):
        PINNTask(pde=fam, derivatives="explicit")
    with pytest.raises(ConfigError, match=r"derivatives must be one of \['auto', 'explicit', 'general'\], got 'fd'"):
        PINNTask(derivatives="fd")
