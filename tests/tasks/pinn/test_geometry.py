"""Families on 2D space and on (x, t): the shipped ``poisson2d`` and ``heat``, a plugin author's
2D family, collocation, bad input, and a tiny distillation."""

import math

import numpy as np
import pytest
import torch

import taskdd
from data_gen.pinn import curves, line_curve, make_pinn_problem, reference_solution
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.pinn import GeometryFamily, PINNTask, get_problem, import_deepxde, register_pde
from taskdd.tasks.pinn.families import PROBLEMS
from taskdd.tasks.pinn.losses import LossTerms
from taskdd.tasks.pinn.modules import pinn_network
from taskdd.tasks.pinn.problems import Collocation, sample_collocation

# --- the plugin author's part: 2D Laplace on [0, 1] x [0, 2], u = alpha x y + x^2 - y^2 ---------------
dde = import_deepxde()  # deepxde, leaving torch's global defaults alone


def laplace(x, u, d):                       # x [n, 2]; d.du(i), d.d2u(i): [E, n] like u
    return d.d2u(0) + d.d2u(1)


def exact_t(x, alpha):                      # torch: the boundary data
    return alpha * x[:, 0] * x[:, 1] + x[:, 0] ** 2 - x[:, 1] ** 2


def exact(x, alpha):                        # numpy float64 [N, 2], [N] -> [N]
    return alpha * x[:, 0] * x[:, 1] + x[:, 0] ** 2 - x[:, 1] ** 2


LAPLACE = GeometryFamily("laplace-test", laplace, dde.geometry.Rectangle([0.0, 0.0], [1.0, 2.0]), exact_t,
                         reference=exact)
# ---------------------------------------------------------------------------------------------------

SMALL = dict(width=8, depth=1, n_interior=32, n_boundary=8, score_interior=32, score_boundary=8, unroll=2,
             pool_size=2, warmup=2, lifetimes=(30, 40), eval_models=1, eval_steps=20)

# the shipped families' closed forms in torch (float64), to differentiate by autograd
CLOSED = {
    "poisson2d": lambda p: (torch.sin(math.pi * p[..., 0]) * torch.sin(math.pi * p[..., 1])
                            + p[..., 2] * torch.sin(math.pi * p[..., 1]) * torch.sinh(math.pi * (1 - p[..., 0]))
                            / math.sinh(math.pi)),
    "heat": lambda p: p[..., 2] * (1 - p[..., 0]) + torch.sin(math.pi * p[..., 0]) * torch.exp(
        -0.1 * math.pi**2 * p[..., 1]),
}


class _ClosedForm:
    """A 'network stack' whose every member is the closed form ``u(inputs..., alpha)``."""

    def __init__(self, fn):
        self.fn = fn

    def forward(self, params, pts):
        return self.fn(pts)[..., None] + 0 * params.sum(-1)[:, None, None]


def _points(family, n=50, seed=0):
    lo, hi = family.box()
    g = torch.Generator().manual_seed(seed)
    x = torch.as_tensor(lo) + torch.as_tensor(hi - lo) * torch.rand(n, family.dim, generator=g, dtype=torch.float64)
    return x, -3 + 6 * torch.rand(n, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("name", ["poisson2d", "heat"])
def test_shipped_residual_vanishes_on_the_closed_form(name):
    family = get_problem(name)
    x, alpha = _points(family)
    inputs, zero = torch.cat([x, alpha[:, None]], 1), torch.zeros(2, 1, dtype=torch.float64)
    u, d = family.partials(_ClosedForm(CLOSED[name]), zero, inputs)
    r = family.residual(x, u, d)
    assert r.shape == (2, 50) and r.abs().max() < 1e-10
    assert torch.allclose(reference_solution(name, x, alpha), CLOSED[name](inputs), atol=1e-12, rtol=0)
    wrong = _ClosedForm(lambda p: CLOSED[name](p) + p[..., 0] ** 3)  # the check can fail
    u, d = family.partials(wrong, zero, inputs)
    assert family.residual(x, u, d).abs().max() > 0.1


@pytest.mark.parametrize("name", ["poisson2d", "heat", "laplace-test"])
def test_collocation_shapes_and_boundary_data_match_the_reference(name):
    family = LAPLACE if name == "laplace-test" else get_problem(name)
    c = sample_collocation((-3.0, -1.0), 40, 12, pde=family, dtype=torch.float64)
    assert c.interior.shape == (40, 3) and c.boundary.shape == (24, 3) and c.boundary_u.shape == (24,)
    lo, hi = family.box()
    assert (c.interior[:, :2] >= torch.as_tensor(lo)).all() and (c.interior[:, :2] <= torch.as_tensor(hi)).all()
    assert c.interior[:, 2].min() >= -3 and c.interior[:, 2].max() <= -1
    on_edge = ((c.boundary[:, :2] == torch.as_tensor(lo)) | (c.boundary[:, :2] == torch.as_tensor(hi))).any(1)
    assert on_edge.all()
    if name == "heat":
        assert (c.boundary[12:, 1] == 0).all()  # the initial points, t = 0
    ref = reference_solution(family, c.boundary[:, :2], c.boundary[:, 2])
    assert torch.allclose(c.boundary_u, ref, atol=1e-12)


def test_collocation_does_not_depend_on_the_global_random_state():
    np.random.seed(1)
    first = sample_collocation((-3.0, -1.0), 16, 8, pde="heat")
    np.random.seed(2)
    state = np.random.get_state()[1].copy()
    second = sample_collocation((-3.0, -1.0), 16, 8, pde="heat")
    assert all(a is b is None or torch.equal(a, b) for a, b in zip(vars(first).values(), vars(second).values()))
    assert np.array_equal(np.random.get_state()[1], state)  # and leaves it alone


def test_partials_match_finite_differences():
    spec = pinn_network(8, 2, 3)
    params = spec.init(2, torch.Generator().manual_seed(0), dtype=torch.float64)
    pts = torch.rand(10, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    u, d = get_problem("poisson2d").partials(spec, params, pts)
    h = 1e-4
    for i in range(2):
        e = torch.zeros(3, dtype=torch.float64)
        e[i] = h
        f = lambda p: spec.forward(params, p).squeeze(-1)  # noqa: E731
        assert torch.allclose(d.du(i), (f(pts + e) - f(pts - e)) / (2 * h), atol=1e-7)
        assert torch.allclose(d.d2u(i), (f(pts + e) - 2 * u + f(pts - e)) / h**2, atol=1e-4)
    with pytest.raises(ConfigError, match="d2u"):
        get_problem("heat").partials(spec, params, pts)[1].d2u(1)


def test_plugin_author_family_distils_and_records_its_name():
    register_pde(LAPLACE, replace=True)
    try:
        prob = make_pinn_problem("laplace-test", n_train=40, n_test_alphas=2, n_test_x=5, seed=0)
        assert prob.train["x"].shape == (40, 2) and prob.test["x"].shape == (2 * 2 * 25, 2)
        task = PINNTask(pde="laplace-test", physics_range=prob.train_range, score_range=prob.alpha_range, **SMALL)
        result = taskdd.distill(task, prob.train, 5, steps=2, lr=0.01, seed=0, test=prob.test, quiet=True)
        assert math.isfinite(result.history[-1]["test_rel_l2"])
        assert result.config["task_config"]["pde"] == "laplace-test"
    finally:
        PROBLEMS.pop("laplace-test", None)


def test_bad_geometry_and_conditions_are_config_errors():
    with pytest.raises(ConfigError, match=r"geometry must be a deepxde geometry of 2\+ dimensions"):
        GeometryFamily("bad", laplace, dde.geometry.Interval(0, 1), exact_t).dim
    with pytest.raises(ConfigError, match=r"geometry must be a deepxde geometry .* got 'unit square'"):
        GeometryFamily("bad", laplace, lambda: "unit square", exact_t).dim
    xt = dde.geometry.GeometryXTime(dde.geometry.Interval(0, 1), dde.geometry.TimeDomain(0, 1))
    with pytest.raises(ConfigError, match="initial condition is required"):
        GeometryFamily("bad", laplace, xt, exact_t).dim
    with pytest.raises(ConfigError, match="only for GeometryXTime"):
        GeometryFamily("bad", laplace, dde.geometry.Rectangle([0, 0], [1, 1]), exact_t, initial=exact_t).dim
    with pytest.raises(ConfigError, match="second"):
        GeometryFamily("bad", laplace, dde.geometry.Rectangle([0, 0], [1, 1]), exact_t, second=(2,)).dim
    with pytest.raises(ConfigError, match="callable"):
        GeometryFamily("bad", None, dde.geometry.Rectangle([0, 0], [1, 1]), exact_t)
    with pytest.raises(ConfigError, match="explicit"):
        PINNTask(pde=LAPLACE, derivatives="explicit")


def test_bad_residual_boundary_and_data_shapes():
    bad = GeometryFamily("bad", lambda x, u, d: u.sum(-1), dde.geometry.Rectangle([0, 0], [1, 1]), exact_t)
    colloc = sample_collocation((-1.0, 1.0), 8, 2, pde=bad)
    spec = pinn_network(4, 1, 3)
    terms = LossTerms(spec, bad, colloc, torch.zeros(0, 2), torch.zeros(0), torch.zeros(0))
    with pytest.raises(ConfigError, match="u's shape"):
        terms(spec.init(2, torch.Generator().manual_seed(0)))
    flat = GeometryFamily("bad", laplace, dde.geometry.Rectangle([0, 0], [1, 1]), lambda x, a: a[:, None])
    with pytest.raises(ConfigError, match="boundary"):
        sample_collocation((-1.0, 1.0), 8, 2, pde=flat)
    task = PINNTask(pde="heat", **SMALL)
    with pytest.raises(DataError, match=r"\[n, 2\]"):
        task.learner_loss(torch.zeros(3), torch.zeros(3), torch.zeros(3))
    with pytest.raises(DataError, match=r"\[N, 2\]"):
        reference_solution("heat", torch.zeros(3), torch.zeros(3))


def test_curves_are_grids_and_lines_run_along_the_first_input():
    grid = curves("heat", torch.tensor([0.5, 2.0], dtype=torch.float64), 4)
    assert grid["x"].shape == (32, 2) and torch.equal(grid["alpha"][:16], torch.full((16,), 0.5, dtype=torch.float64))
    assert torch.equal(grid["x"][:16], grid["x"][16:])
    line = line_curve("poisson2d", 1.0, 5)
    assert torch.equal(line["x"][:, 0], torch.linspace(0, 1, 5, dtype=torch.float64))
    assert (line["x"][:, 1] == 0.5).all()
    assert np.allclose(line["y"].numpy(), np.sin(np.pi * line["x"][:, 0].numpy())
                       + np.sinh(np.pi * (1 - line["x"][:, 0].numpy())) / np.sinh(np.pi))


@pytest.mark.parametrize("name", ["heat", "poisson2d", "top-flux"])  # the last: a Neumann edge
def test_tiny_distillation_on_device(device, name):
    name = _square_top_neumann() if name == "top-flux" else name
    prob = make_pinn_problem(name, n_train=30, n_test_alphas=2, n_test_x=4, seed=1)
    task = PINNTask(pde=name, physics_range=prob.train_range, score_range=prob.alpha_range, **SMALL)
    result = taskdd.distill(task, prob.train.to(device), 6, steps=3, lr=0.05, seed=0, test=prob.test.to(device),
                            quiet=True)
    x = result.synthetic["x"]
    assert x.shape == (6, 2) and x.device.type == device.type
    assert (x >= 0).all() and (x <= 1).all()  # projected into the box
    assert all(math.isfinite(result.history[-1][k]) for k in ("test_rel_l2", "train_rel_l2"))


def _square_top_neumann():
    # -lap u = 2 pi^2 sin(pi x) sin(pi y); Dirichlet u = alpha (1 - x) on three edges, du/dn = -pi sin(pi x) on y = 1
    # but at its corners (there the normal would be the diagonal, as deepxde's boundary_normal)
    return GeometryFamily(
        "top-flux", lambda x, u, d: -d.d2u(0) - d.d2u(1) - 2 * math.pi**2 * torch.sin(math.pi * x[:, 0])
        * torch.sin(math.pi * x[:, 1]), dde.geometry.Rectangle([0.0, 0.0], [1.0, 1.0]),
        lambda x, a: torch.where(x[:, 1] > 1 - 1e-9, -math.pi * torch.sin(math.pi * x[:, 0]), a * (1 - x[:, 0])),
        neumann=lambda x: (x[:, 1] > 1 - 1e-9) & (x[:, 0] > 0) & (x[:, 0] < 1),
        reference=lambda x, a: np.sin(np.pi * x[:, 0]) * np.sin(np.pi * x[:, 1]) + a * (1 - x[:, 0]))


def _heat_flux():
    # u_t = 0.1 u_xx, u(0, t) = alpha, a flux u_x(1, t) = alpha / 2 (du/dn at x = 1), u(x, 0) = exact
    return GeometryFamily(
        "heat-flux", lambda x, u, d: d.du(1) - 0.1 * d.d2u(0),
        dde.geometry.GeometryXTime(dde.geometry.Interval(0.0, 1.0), dde.geometry.TimeDomain(0.0, 1.0)),
        lambda x, a: torch.where(x[:, 0] > 0.5, a / 2, a),
        initial=lambda x, a: a * (1 + x[:, 0] / 2) + torch.sin(math.pi * x[:, 0] / 2), second=(0,),
        neumann=lambda x: x[:, 0] > 0.5)


NEUMANN_EXACT = {
    "top-flux": lambda p: torch.sin(math.pi * p[..., 0]) * torch.sin(math.pi * p[..., 1]) + p[..., 2] * (1 - p[..., 0]),
    "heat-flux": lambda p: p[..., 2] * (1 + p[..., 0] / 2) + torch.sin(math.pi * p[..., 0] / 2) * torch.exp(-0.1 * math.pi**2 / 4 * p[..., 1]),
}


@pytest.mark.parametrize("make", [_square_top_neumann, _heat_flux])
def test_neumann_edges_on_a_geometry_compare_the_outward_normal_derivative(make):
    family = make()
    colloc = sample_collocation((-3.0, -1.0), 64, 16, pde=family, dtype=torch.float64)
    on = colloc.neumann_dir.abs().sum(-1) > 0
    assert 0 < on.sum() < 32 and (colloc.neumann_dir[on].abs().sum(-1) == 1).all()
    edge = slice(None) if family.initial is None else slice(0, 16)  # the initial points come after the edges
    assert torch.equal(on[edge], family.neumann(colloc.boundary[edge, :-1])) and not on[edge.stop or 32:].any()
    x0, none = torch.zeros(0, 2, dtype=torch.float64), torch.zeros(0, dtype=torch.float64)
    exact_fn = NEUMANN_EXACT[family.name]
    _, pde, bc = LossTerms(_ClosedForm(exact_fn), family, colloc, x0, none, none)(torch.zeros(2, 3))
    assert pde.max() < 1e-20 and bc.max() < 1e-20
    flipped = Collocation(colloc.interior, colloc.boundary, colloc.boundary_u, -colloc.neumann_dir)  # inward: wrong
    assert LossTerms(_ClosedForm(exact_fn), family, flipped, x0, none, none)(torch.zeros(2, 3))[2].min() > 0.1
    dirichlet = Collocation(colloc.interior, colloc.boundary, colloc.boundary_u)               # Neumann ignored
    assert LossTerms(_ClosedForm(exact_fn), family, dirichlet, x0, none, none)(torch.zeros(2, 3))[2].min() > 0.1
    task = PINNTask(pde=family, physics_range=(-3.0, -1.0), score_range=(-3.0, 3.0), **SMALL)
    model = task.train_networks(x0.float(), none.float(), none.float(), 1, taskdd.make_generator(0), steps=5)
    assert torch.isfinite(model.params).all()


def test_a_bad_neumann_predicate_is_a_config_error():
    family = GeometryFamily("bad-flux", laplace, dde.geometry.Rectangle([0.0, 0.0], [1.0, 2.0]), exact_t,
                            neumann=lambda x: x[:, 0])
    with pytest.raises(ConfigError, match=r"'bad-flux': neumann\(x\) must return a bool tensor \[m\] \(16,\), "
                                          r"got torch.float64 \(16,\)"):
        sample_collocation((-3.0, -1.0), 8, 8, pde=family)
    with pytest.raises(ConfigError, match="'bad-flux': neumann must be callable, got 3"):
        GeometryFamily("bad-flux", laplace, dde.geometry.Rectangle([0.0, 0.0], [1.0, 2.0]), exact_t, neumann=3)
