"""deepxde's Model.train and the batched solver train the same network to the same weights."""

import pytest
import torch

from data_gen.pinn import make_pinn_problem
from taskdd import make_generator
from taskdd.tasks.pinn import PINNTask
from taskdd.tasks.pinn.deepxde_learner import train_deepxde


@pytest.mark.parametrize("pde", ["poisson", "advection-diffusion"])  # the second: u_x and a Neumann edge
def test_deepxde_and_the_batched_solver_agree_after_100_adam_steps(pde):
    prob = make_pinn_problem(pde, n_train=40, seed=0)
    task = PINNTask(pde=pde, physics_range=prob.train_range, n_interior=64, n_boundary=16)
    x, a, y = (prob.train[k] for k in ("x", "alpha", "y"))
    ref = train_deepxde(task, x, a, y, 1, make_generator(3), steps=100)
    ours = task.train_networks(x, a, y, 1, make_generator(3), steps=100)
    assert (ref.params - ours.params).abs().max() < 1e-4
    assert ref.params.dtype == torch.float32 and torch.get_default_device() == torch.device("cpu")
