"""deepxde's Model.train and the batched solver train the same network to the same weights."""

import numpy as np
import pytest
import torch

from data_gen.pinn import make_pinn_problem
from taskdd import make_generator
from taskdd.tasks.pinn import GeometryFamily, PDEFamily, PINNTask, import_deepxde
from taskdd.tasks.pinn.deepxde_learner import train_deepxde


# -u'' + u' = 2 - 2x on [0, 1], a flux u'(0) = alpha, u(1) = 0: u = alpha (e^x - e) + 1 - x^2
FLUX = PDEFamily("flux-test", lambda x, u, d: -d.u_xx + d.u_x - (2 - 2 * x), domain=(0.0, 1.0),
                 boundary=lambda x, alpha: torch.where(x < 0.5, alpha, torch.zeros_like(alpha)), uses_u_x=True,
                 neumann=(True, False), reference=lambda x, alpha: alpha * (np.exp(x) - np.e) + 1 - x**2)


def _right_flux():
    # Laplace on the unit square, u = alpha x y + x^2 - y^2: Dirichlet data on three edges, the flux
    # du/dn = u_x = alpha y + 2 on x = 1 (an outward-normal term for deepxde's operator BC)
    dde = import_deepxde()
    return GeometryFamily("right-flux", lambda x, u, d: d.d2u(0) + d.d2u(1), dde.geometry.Rectangle([0, 0], [1, 1]),
                          lambda x, a: torch.where(x[:, 0] > 1 - 1e-9, a * x[:, 1] + 2,
                                                   a * x[:, 0] * x[:, 1] + x[:, 0] ** 2 - x[:, 1] ** 2),
                          neumann=lambda x: x[:, 0] > 1 - 1e-9,
                          reference=lambda x, a: a * x[:, 0] * x[:, 1] + x[:, 0] ** 2 - x[:, 1] ** 2)


@pytest.mark.parametrize("pde", ["poisson", "advection-diffusion", FLUX, "heat", "poisson2d", "right-flux"])
def test_deepxde_and_the_batched_solver_agree_after_100_adam_steps(pde):
    pde = _right_flux() if pde == "right-flux" else pde
    prob = make_pinn_problem(pde, n_train=40, seed=0)
    task = PINNTask(pde=pde, physics_range=prob.train_range, n_interior=64, n_boundary=16)
    x, a, y = (prob.train[k] for k in ("x", "alpha", "y"))
    ref = train_deepxde(task, x, a, y, 1, make_generator(3), steps=100)
    ours = task.train_networks(x, a, y, 1, make_generator(3), steps=100)
    assert (ref.params - ours.params).abs().max() < 1e-4
    assert ref.params.dtype == torch.float32 and torch.get_default_device() == torch.device("cpu")
