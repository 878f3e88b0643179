"""deepxde's Model.train and the batched solver train the same network to the same weights."""

import numpy as np
import pytest
import torch

from data_gen.pinn import make_pinn_problem
from taskdd import make_generator
from taskdd.tasks.pinn import PDEFamily, PINNTask
from taskdd.tasks.pinn.deepxde_learner import train_deepxde


# -u'' + u' = 2 - 2x on [0, 1], a flux u'(0) = alpha, u(1) = 0: u = alpha (e^x - e) + 1 - x^2
FLUX = PDEFamily("flux-test", lambda x, u, d: -d.u_xx + d.u_x - (2 - 2 * x), domain=(0.0, 1.0),
                 boundary=lambda x, alpha: torch.where(x < 0.5, alpha, torch.zeros_like(alpha)), uses_u_x=True,
                 neumann=(True, False), reference=lambda x, alpha: alpha * (np.exp(x) - np.e) + 1 - x**2)


@pytest.mark.parametrize("pde", ["poisson", "advection-diffusion", FLUX])
def test_deepxde_and_the_batched_solver_agree_after_100_adam_steps(pde):
    prob = make_pinn_problem(pde, n_train=40, seed=0)
    task = PINNTask(pde=pde, physics_range=prob.train_range, n_interior=64, n_boundary=16)
    x, a, y = (prob.train[k] for k in ("x", "alpha", "y"))
    ref = train_deepxde(task, x, a, y, 1, make_generator(3), steps=100)
    ours = task.train_networks(x, a, y, 1, make_generator(3), steps=100)
    assert (ref.params - ours.params).abs().max() < 1e-4
    assert ref.params.dtype == torch.float32 and torch.get_default_device() == torch.device("cpu")
