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
