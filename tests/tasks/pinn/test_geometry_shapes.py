"""Families on geometries that are not boxes (a disk, a disk in time): points inside, boundary
points and normals from deepxde, projection of synthetic points, data and a tiny distillation."""

import math

import numpy as np
import pytest
import torch

import taskdd
from data_gen.pinn import make_pinn_problem
from taskdd.errors import ConfigError
from taskdd.tasks.pinn import GeometryFamily, PINNTask, import_deepxde
from taskdd.tasks.pinn.losses import LossTerms
from taskdd.tasks.pinn.problems import sample_collocation

dde = import_deepxde()


def exact_t(p):                                 # u = alpha x + x^2 - y^2 (harmonic), p = (x, y, alpha)
    return p[..., 2] * p[..., 0] + p[..., 0] ** 2 - p[..., 1] ** 2


def disk_family(neumann=None):
    # Laplace on the unit disk; Dirichlet u = exact, or the flux du/dn = alpha x + 2 x^2 - 2 y^2 where neumann says
    def boundary(x, a):
        flux = a * x[:, 0] + 2 * x[:, 0] ** 2 - 2 * x[:, 1] ** 2
        value = a * x[:, 0] + x[:, 0] ** 2 - x[:, 1] ** 2
        return value if neumann is None else torch.where(neumann(x), flux, value)
    return GeometryFamily("disk", lambda x, u, d: d.d2u(0) + d.d2u(1), dde.geometry.Disk([0.0, 0.0], 1.0), boundary,
                          neumann=neumann, reference=lambda x, a: a * x[:, 0] + x[:, 0] ** 2 - x[:, 1] ** 2)


class _ClosedForm:
    def forward(self, params, pts):
        return exact_t(pts)[..., None] + 0 * params.sum(-1)[:, None, None]


@pytest.mark.parametrize("neumann", [None, lambda x: x[:, 0] > 0], ids=["dirichlet", "flux on the right half"])
def test_points_lie_in_and_on_the_disk_and_the_exact_solution_has_zero_loss(neumann):
    family = disk_family(neumann)
    assert not family.is_box and family.dim == 2
    c = sample_collocation((-3.0, -1.0), 64, 16, pde=family, dtype=torch.float64)
    assert (c.interior[:, :2].norm(dim=1) <= 1 + 1e-6).all() and c.interior[:, 2].min() >= -3
    assert torch.allclose(c.boundary[:, :2].norm(dim=1), torch.ones(32, dtype=torch.float64), atol=1e-6)
    x0, none = torch.zeros(0, 2, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
    _, pde, bc = LossTerms(_ClosedForm(), family, c, x0, none, none)(torch.zeros(2, 3))
    assert pde.max() < 1e-20 and bc.max() < 1e-10
    if neumann is not None:                                      # deepxde's normals: the radius
        on = c.neumann_dir.abs().sum(1) > 0
        assert on.any() and torch.allclose(c.neumann_dir[on], c.boundary[on, :2], atol=1e-6)
        wrong = type(c)(c.interior, c.boundary, c.boundary_u, -c.neumann_dir)
        assert LossTerms(_ClosedForm(), family, wrong, x0, none, none)(torch.zeros(2, 3))[2].min() > 0.1


def test_data_grids_and_projection_stay_in_the_disk():
    family = disk_family()
    prob = make_pinn_problem(family, n_train=50, n_test_alphas=2, n_test_x=9, seed=0)
    assert (prob.train["x"].norm(dim=1) <= 1).all() and prob.train["x"].shape == (50, 2)
    grid = family.grid(9)
    assert (grid.norm(dim=1) <= 1 + 1e-12).all() and 40 < len(grid) < 81      # the corners of the box are out
    assert len(prob.test) == 4 * len(grid)
    x = torch.tensor([[0.2, 0.1], [1.0, 1.0], [-2.0, 0.0], [0.0, -0.99]], dtype=torch.float64)
    family.clamp_(x)
    assert torch.allclose(x[0], torch.tensor([0.2, 0.1], dtype=torch.float64))         # inside: unchanged
    assert torch.allclose(x[[1, 2]].norm(dim=1), torch.ones(2, dtype=torch.float64), atol=1e-6)  # onto the circle
    assert torch.allclose(x[1], torch.tensor([1, 1], dtype=torch.float64) / math.sqrt(2), atol=1e-6)
    assert torch.allclose(x[3], torch.tensor([0.0, -0.99], dtype=torch.float64))


def test_a_disk_in_time_samples_inside_and_distils():
    g = dde.geometry.GeometryXTime(dde.geometry.Disk([0.0, 0.0], 1.0), dde.geometry.TimeDomain(0.0, 1.0))
    heat = GeometryFamily("disk-heat", lambda x, u, d: d.du(2) - 0.1 * (d.d2u(0) + d.d2u(1)), g,
                          lambda x, a: a * torch.ones_like(x[:, 0]), initial=lambda x, a: a + 0 * x[:, 0],
                          second=(0, 1), reference=lambda x, a: a)
    assert heat.dim == 3 and not heat.is_box
    x = heat.sample_uniform(200, torch.Generator().manual_seed(0))
    assert (x[:, :2].norm(dim=1) <= 1).all() and x[:, 2].min() >= 0 and x[:, 2].max() <= 1
    prob = make_pinn_problem(heat, n_train=30, n_test_alphas=2, n_test_x=5, seed=1)
    task = PINNTask(pde=heat, physics_range=prob.train_range, score_range=prob.alpha_range, width=8, depth=1,
                    n_interior=32, n_boundary=8, score_interior=32, score_boundary=8, unroll=2, pool_size=2,
                    warmup=2, lifetimes=(30, 40), eval_models=1, eval_steps=20)
    res = taskdd.distill(task, prob.train, 5, steps=3, lr=0.5, seed=0, test=prob.test, quiet=True)
    assert (res.synthetic["x"][:, :2].norm(dim=1) <= 1 + 1e-6).all()                   # projected into the disk
    assert math.isfinite(res.history[-1]["test_rel_l2"])


def test_a_one_dimensional_geometry_is_still_refused():
    with pytest.raises(ConfigError, match="geometry must be a deepxde geometry of 2\\+ dimensions"):
        GeometryFamily("seg", lambda x, u, d: u, dde.geometry.Interval(0.0, 1.0), lambda x, a: a)
    assert np.isfinite(disk_family().box()[0]).all()
