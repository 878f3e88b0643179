"""A user's PDE family through the public API, and the traps a plugin author hit before it."""

import dataclasses
import math
import sys

import numpy as np
import pytest
import torch

import taskdd
from data_gen.pinn import curves, make_pinn_problem, reference_solution
from taskdd.errors import ConfigError
from taskdd.tasks.pinn import Derivatives, PDEFamily, PINNTask, get_problem, register_pde
from taskdd.tasks.pinn.families import PROBLEMS
from taskdd.tasks.pinn.losses import LossTerms, derivatives_autograd
from taskdd.tasks.pinn.problems import sample_collocation

# --- the plugin author's part (as in docs/your-own-pde.md) -------------------------------------
# advection-diffusion -u'' + c u' = f on [0, 2], u(0) = alpha, u(2) = 0, with the exact solution
# u = sin(pi x) + alpha h(x), h = (e^{2c} - e^{cx}) / (e^{2c} - 1) (h'' = c h', h(0) = 1, h(2) = 0)
C = 1.0


def adv_diff(x, u, d):                     # d.u_x, d.u_xx: same shape as u
    f = math.pi**2 * torch.sin(math.pi * x) + C * math.pi * torch.cos(math.pi * x)
    return -d.u_xx + C * d.u_x - f


def exact(x, alpha):                       # float64 numpy arrays [N] -> [N]
    return np.sin(np.pi * x) + alpha * (np.exp(2 * C) - np.exp(C * x)) / (np.exp(2 * C) - 1)


ADV = PDEFamily("adv-diff", pde=adv_diff, domain=(0.0, 2.0), uses_u_x=True, reference=exact,
                boundary=lambda x, alpha: torch.where(x < 1.0, alpha, torch.zeros_like(alpha)))
# ------------------------------------------------------------------------------------------------

SMALL = dict(width=8, depth=1, n_interior=16, n_boundary=4, score_interior=16, score_boundary=4, unroll=2,
             pool_size=2, warmup=2, lifetimes=(30, 40), eval_models=1, eval_steps=20)


@pytest.fixture
def registered():
    register_pde(ADV)
    yield ADV
    PROBLEMS.pop("adv-diff", None)


def test_a_registered_family_is_distilled_and_evaluated(registered, tmp_path):
    prob = make_pinn_problem("adv-diff", n_train=40, n_test_alphas=2, n_test_x=11, seed=0)
    assert prob.pde is ADV and 0 <= prob.train["x"].min() and prob.train["x"].max() <= 2
    assert prob.train["x"].max() > 1                     # the whole domain, not [0, 1]
    task = PINNTask(pde="adv-diff", physics_range=prob.train_range, score_range=prob.alpha_range, **SMALL)
    res = taskdd.distill(task, prob.train, 5, steps=3, lr=0.01, seed=0, device="cpu", dtype=None, quiet=True,
                         test=prob.test)
    assert math.isfinite(res.final_score) and math.isfinite(res.history[-1]["test_rel_l2"])
    assert res.config["task_config"]["pde"] == "adv-diff"
    assert task.config()["pde"] == "adv-diff" and task.with_options(width=4).problem is ADV
    assert (res.synthetic["x"] <= 2).all()


def test_the_task_takes_an_unregistered_family_object_and_names_it():
    task = PINNTask(pde=ADV, **SMALL)
    assert task.problem is ADV and task.config()["pde"] == "adv-diff"
    assert task.with_options(unroll=1).problem is ADV
    assert "adv-diff" not in PROBLEMS


def test_register_pde_refuses_a_taken_name_unless_replace(registered):
    other = dataclasses.replace(ADV, domain=(0.0, 1.0))
    with pytest.raises(ConfigError, match=r"pde name 'adv-diff' is taken; pass replace=True"):
        register_pde(other)
    with pytest.raises(ConfigError, match="pde name 'poisson' is taken"):
        register_pde(dataclasses.replace(ADV, name="poisson"))
    register_pde(ADV)                                   # the same object again is fine
    assert register_pde(other, replace=True) is other and get_problem("adv-diff") is other
    with pytest.raises(ConfigError, match=r"unknown pde 'wave'; known pdes: poisson, nonlinear, advection-diffusion, poisson2d, heat, poisson-k, heat-k, adv-diff"):
        get_problem("wave")
    with pytest.raises(ConfigError, match="register_pde takes a PDEFamily or a GeometryFamily, got str"):
        register_pde("adv-diff")


def test_the_family_s_tails_are_the_data_s_default():
    narrow = dataclasses.replace(ADV, quantile=0.3, alpha_limit=1.5)
    prob = make_pinn_problem(narrow, n_train=50, n_test_alphas=2, n_test_x=3)
    assert prob.alpha_range == (-1.5, 1.5) and prob.train["alpha"].min() >= -1.5
    assert prob.train_range[1] == pytest.approx(float(torch.special.ndtri(torch.tensor(0.3, dtype=torch.float64))))
    assert make_pinn_problem(narrow, n_train=5, n_test_alphas=1, n_test_x=3, alpha_limit=2.0).alpha_range == (-2, 2)
    with pytest.raises(ConfigError, match=r"'bad': quantile must be in \(0, 0.5\), got 0.7"):
        dataclasses.replace(ADV, name="bad", quantile=0.7)


def test_bad_families_are_config_errors():
    with pytest.raises(ConfigError, match=r"'bad': domain must be finite with a < b, got \(1.0, 0.0\)"):
        PDEFamily("bad", adv_diff, ADV.boundary, domain=(1.0, 0.0))
    with pytest.raises(ConfigError, match="'bad': pde must be callable"):
        PDEFamily("bad", None, ADV.boundary)


def test_collocation_uses_the_family_boundary_and_domain():
    c = sample_collocation((-3.0, -1.0), 8, 4, pde=ADV, dtype=torch.float64)
    assert set(c.boundary[:, 0].tolist()) == {0.0, 2.0} and c.interior[:, 0].max() > 1
    shifted = dataclasses.replace(ADV, boundary=lambda x, alpha: alpha + 10 * x)
    c = sample_collocation((-3.0, -1.0), 8, 4, pde=shifted, dtype=torch.float64)
    torch.testing.assert_close(c.boundary_u, c.boundary[:, 1] + 10 * c.boundary[:, 0])
    with pytest.raises(ConfigError, match=r"boundary\(x, alpha\) must return a tensor of the shape of x \(8,\)"):
        sample_collocation((-3.0, -1.0), 8, 4, pde=dataclasses.replace(ADV, boundary=lambda x, a: 0.0))


def test_reference_is_the_family_s_and_its_absence_is_a_config_error():
    x = torch.linspace(0, 2, 5, dtype=torch.float64)
    a = torch.full_like(x, -2.0)
    torch.testing.assert_close(reference_solution(ADV, x, a), torch.as_tensor(exact(x.numpy(), a.numpy())))
    cv = curves(ADV, torch.tensor([1.0]), 3)
    torch.testing.assert_close(cv["x"], torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64))
    bare = dataclasses.replace(ADV, name="bare", reference=None)
    with pytest.raises(ConfigError, match="PDE family 'bare' has no reference solution"):
        reference_solution(bare, x, a)
    with pytest.raises(ConfigError, match="PDE family 'bare' has no reference solution"):
        make_pinn_problem(bare, n_train=4, n_test_alphas=1, n_test_x=3)


def test_with_options_keeps_a_subclass():
    class MyTask(PINNTask):
        pass

    assert type(MyTask(**SMALL).with_options(width=4)) is MyTask


def _net(dtype=torch.float64):
    spec = PINNTask(**SMALL).spec
    return spec, spec.init(3, torch.Generator().manual_seed(0), dtype=dtype)


def test_autograd_derivatives_match_the_explicit_pass_and_torch_func():
    spec, params = _net()
    pts = torch.rand(7, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    u, u_x, u_xx = derivatives_autograd(spec, params, pts)
    u2, u_xx2 = (t.squeeze(-1) for t in spec.forward_d2(params, pts))
    torch.testing.assert_close(u, u2)
    torch.testing.assert_close(u_xx, u_xx2)

    def one(p, pt):                                     # one network, one point -> scalar
        return spec.forward(p[None], pt[None])[0, 0, 0]

    jac = torch.func.vmap(torch.func.vmap(torch.func.jacrev(one, argnums=1), (None, 0)), (0, None))(params, pts)
    torch.testing.assert_close(u_x, jac[..., 0])


def test_the_residual_receives_u_x_and_vanishes_on_the_exact_solution():
    x = torch.linspace(0, 2, 9, dtype=torch.float64, requires_grad=True)
    u = torch.as_tensor(exact(x.detach().numpy(), np.full(9, -1.5)))
    u_x = math.pi * torch.cos(math.pi * x) - 1.5 * (-C * torch.exp(C * x)) / (math.exp(2 * C) - 1)
    u_xx = -math.pi**2 * torch.sin(math.pi * x) - 1.5 * (-C * C * torch.exp(C * x)) / (math.exp(2 * C) - 1)
    assert ADV.residual(x, u, u_xx, u_x).abs().max() < 1e-10
    with pytest.raises(ConfigError, match="uses u_x, but no u_x was given"):
        ADV.residual(x, u, u_xx)
    inputs = torch.stack([x.detach(), torch.full((9,), -1.5, dtype=torch.float64)], 1).requires_grad_(True)
    exact_t = torch.sin(math.pi * inputs[:, :1]) + inputs[:, 1:] * (math.exp(2 * C) - torch.exp(C * inputs[:, :1])) \
        / (math.exp(2 * C) - 1)
    assert ADV.deepxde_pde()(inputs, exact_t).abs().max() < 1e-10


def test_loss_terms_of_a_u_x_family_use_the_autograd_path():
    spec, params = _net()
    colloc = sample_collocation((-3.0, -1.0), 6, 2, pde=ADV, dtype=torch.float64)
    none = torch.zeros(0, dtype=torch.float64)
    misfit, pde, bc = LossTerms(spec, ADV, colloc, none, none, none)(params)
    u, u_x, u_xx = derivatives_autograd(spec, params, colloc.interior)
    torch.testing.assert_close(pde, (adv_diff(colloc.interior[:, 0], u, Derivatives(u_x, u_xx)) ** 2).mean(-1))
    u_bc = spec.forward(params, colloc.boundary).squeeze(-1)
    torch.testing.assert_close(bc, ((u_bc - colloc.boundary_u) ** 2).mean(-1))
    assert (misfit == 0).all()


def _neumann_family():
    # -u'' = pi^2 sin(pi x), u(0) = alpha, u'(1) = 0: u = sin(pi x) + alpha + pi x
    return PDEFamily("neu", pde=lambda x, u, d: -d.u_xx - math.pi**2 * torch.sin(math.pi * x),
                     boundary=lambda x, alpha: torch.where(x < 0.5, alpha, torch.zeros_like(alpha)),
                     neumann=(False, True), reference=lambda x, alpha: np.sin(np.pi * x) + alpha + np.pi * x)


def test_a_neumann_edge_compares_u_x_with_the_boundary_data():
    fam = _neumann_family()
    spec, params = _net()
    colloc = sample_collocation((-3.0, -1.0), 6, 3, pde=fam, dtype=torch.float64)
    none = torch.zeros(0, dtype=torch.float64)
    _, _, bc = LossTerms(spec, fam, colloc, none, none, none)(params)
    u, u_x, _ = derivatives_autograd(spec, params, colloc.boundary)
    at_b = colloc.boundary[:, 0] == 1
    torch.testing.assert_close(bc, (torch.where(at_b, u_x, u - colloc.boundary[:, 1]) ** 2).mean(-1))
    assert fam.neumann_mask(colloc.boundary[:, 0]).tolist() == at_b.tolist()
    task = PINNTask(pde=fam, **SMALL)
    with torch.no_grad():                               # autograd derivatives work under no_grad too
        assert torch.isfinite(task.learner_loss(none, none, none)(params)).all()
    with pytest.raises(ConfigError, match=r"'neu': neumann must be a pair of bools \(at a, at b\), got 1"):
        dataclasses.replace(fam, neumann=1)


def test_shipped_advection_diffusion_satisfies_its_pde_and_boundary():
    family = get_problem("advection-diffusion")
    assert family.uses_u_x and family.neumann == (False, False)
    x = torch.linspace(0, 1, 11, dtype=torch.float64, requires_grad=True)
    alpha = torch.full((11,), 2.5, dtype=torch.float64)
    u = torch.sin(math.pi * x) + alpha * (math.e - torch.exp(x)) / (math.e - 1)   # the closed form, by hand
    u_x, = torch.autograd.grad(u.sum(), x, create_graph=True)
    u_xx, = torch.autograd.grad(u_x.sum(), x)
    assert family.residual(x, u, u_xx, u_x).abs().max() < 1e-10
    assert family.residual(x, u + x**3, u_xx + 6 * x, u_x + 3 * x**2).abs().max() > 0.1  # the check can fail
    torch.testing.assert_close(reference_solution("advection-diffusion", x.detach(), alpha), u.detach())
    edges = torch.tensor([0.0, 1.0], dtype=torch.float64)
    torch.testing.assert_close(family.boundary_value(edges, alpha[:2]), torch.tensor([2.5, 0.0], dtype=torch.float64))
    assert u[0].item() == pytest.approx(2.5) and u[-1].item() == pytest.approx(0.0, abs=1e-12)


def _install_plugin(tmp_path, monkeypatch, value):
    """A package 'mypdes' on sys.path with a taskdd.pdes entry point 'my-adv' = ``value``."""
    (tmp_path / "mypdes.py").write_text(
        "import dataclasses\nfrom taskdd.tasks.pinn import get_problem\n"
        "FAMILY = dataclasses.replace(get_problem('advection-diffusion'), name='my-adv')\n"
        "WRONG_NAME = dataclasses.replace(FAMILY, name='other')\n")
    info = tmp_path / "mypdes-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mypdes\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[taskdd.pdes]\nmy-adv = {value}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(PROBLEMS, "my-adv", raising=False)
    monkeypatch.delitem(sys.modules, "mypdes", raising=False)


def test_a_family_from_an_entry_point_is_found_by_name(tmp_path, monkeypatch):
    from case_studies.pinn_ood import Config
    from taskdd.tasks.pinn import pde_names
    _install_plugin(tmp_path, monkeypatch, "mypdes:FAMILY")
    assert "my-adv" in pde_names() and "my-adv" not in PROBLEMS            # listed, not loaded yet
    assert Config(pdes=("my-adv",)).pdes == ("my-adv",)                    # the case study's check loads it
    assert get_problem("my-adv").name == "my-adv" and PROBLEMS["my-adv"].uses_u_x
    assert PINNTask(pde="my-adv").config()["pde"] == "my-adv"


@pytest.mark.parametrize("value, message", [
    ("mypdes:WRONG_NAME", r"entry point 'my-adv' = 'mypdes:WRONG_NAME' in group 'taskdd.pdes' must name a "
                          r"PDEFamily or GeometryFamily called 'my-adv'"),
    ("mypdes:MISSING", r"pde 'my-adv' \(entry point 'mypdes:MISSING'\) cannot be loaded"),
])
def test_a_bad_entry_point_is_a_config_error(tmp_path, monkeypatch, value, message):
    _install_plugin(tmp_path, monkeypatch, value)
    with pytest.raises(ConfigError, match=message):
        get_problem("my-adv")
