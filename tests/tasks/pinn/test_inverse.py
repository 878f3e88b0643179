"""The inverse problem: a learned PDE coefficient per network, its residual, its recovery from data,
the D-optimal design baseline, and bad input."""

import math

import numpy as np
import pytest
import torch

import taskdd
from data_gen.pinn import make_pinn_problem, reference_solution
from taskdd import get_task, make_generator
from taskdd.errors import ConfigError
from taskdd.nets import MLP
from taskdd.tasks.pinn import CoefFamily, InversePINNTask, PINNTask
from taskdd.tasks.pinn import get_problem as get_problem_named
from taskdd.tasks.pinn.baselines import as_fixed_set
from taskdd.tasks.pinn.coef import POISSON_K, CoefMLP
from taskdd.tasks.pinn.inverse import coef_sensitivity, d_optimal_subset
from taskdd.tasks.pinn.losses import LossTerms

SMALL = dict(width=8, depth=1, n_interior=16, n_boundary=4, score_interior=16, score_boundary=4, unroll=2,
             pool_size=2, warmup=2, lifetimes=(30, 40), eval_models=1, eval_steps=20)


@pytest.fixture(scope="module")
def prob():
    return make_pinn_problem("poisson-k", n_train=80, n_test_alphas=3, n_test_x=21, seed=0)


def test_the_data_follow_the_true_coefficient(prob):
    x, a = prob.test["x"].double(), prob.test["alpha"].double()
    exact = torch.sin(math.pi * x) / POISSON_K.true_coef + a * (1 - x)
    assert torch.allclose(reference_solution("poisson-k", x, a), exact, atol=1e-12)
    assert POISSON_K.at(2.0).reference(np.array([0.5]), np.array([0.0]))[0] == pytest.approx(0.5)


def test_coef_mlp_is_the_network_plus_one_coefficient_column(device):
    net = MLP(2, 1, 8, 2)
    spec = CoefMLP(net, 2.0, 10.0)
    p = spec.init(3, make_generator(0), device=device)
    assert p.shape == (3, net.n_params + 1) and spec.n_params == net.n_params + 1
    assert torch.allclose(spec.coef(p), torch.full((3,), 2.0, device=device))
    inputs = torch.rand(5, 2, device=device)
    assert torch.equal(spec.forward(p, inputs), net.forward(p[:, :-1], inputs))
    assert torch.equal(spec.forward_d2(p, inputs)[1], net.forward_d2(p[:, :-1], inputs)[1])
    assert torch.equal(spec.to_module(p[0])(inputs), net.to_module(p[0, :-1])(inputs))


def test_each_network_residual_uses_its_own_coefficient(prob, device):
    """LossTerms with learned k = that of a fixed-k family with the same weights, network by network."""
    task = InversePINNTask(physics_range=prob.train_range, **SMALL)
    p = task.spec.init(2, make_generator(1), device=device, dtype=torch.float64)
    p[:, -1] = torch.log(torch.tensor([0.7, 1.6], device=device, dtype=torch.float64)) / task.spec.scale
    colloc = task.collocation("learner", p)
    x, a, y = (prob.train[k][:10].to(device, torch.float64) for k in ("x", "alpha", "y"))
    got = LossTerms(task.spec, task.problem, colloc, x, a, y)(p)
    for e, k in enumerate((0.7, 1.6)):
        want = LossTerms(task.spec.net, POISSON_K.at(k), colloc, x, a, y)(p[e:e + 1, :-1])
        for g, w in zip(got, want):
            assert g[e].item() == pytest.approx(w[0].item(), rel=1e-12)


def test_gradient_reaches_the_coefficient_and_the_synthetic_points(prob):
    task = InversePINNTask(width=3, depth=1, n_interior=5, n_boundary=2, score_interior=6, score_boundary=2, unroll=3,
                           warmup=2, lifetimes=(50, 50), pool_size=2, inner_lr=0.05, physics_range=prob.train_range)
    train = prob.train.to(dtype=torch.float64).subset(slice(0, 8))
    syn = task.init_synthetic(train, 3, make_generator(0))
    task.fit(syn, generator=make_generator(1))
    start = task.state_dict()

    def objective(x, alpha, y):
        task.load_state_dict(start)
        return task.score(task.fit(syn.with_learnable([x, alpha, y])), train)

    inputs = tuple(p.detach().clone().requires_grad_(True) for p in syn.parameters())
    assert torch.autograd.gradcheck(objective, inputs, eps=1e-6, atol=1e-5, rtol=1e-4)
    colloc = task.collocation("score", task.pool.params)
    p = task.pool.params.clone().requires_grad_(True)
    loss = LossTerms(task.spec, task.problem, colloc, train["x"], train["alpha"], train["y"]).weighted(
        p, task.score_weights).sum()
    (g,) = torch.autograd.grad(loss, p)
    assert (g[:, -1].abs() > 0).all()


def test_all_data_recover_the_coefficient_and_a_wrong_prior_does_not(prob, device):
    kw = dict(physics_range=prob.train_range, width=16, n_interior=64, n_boundary=16, eval_models=2,
              eval_steps=3000)
    data = as_fixed_set(prob.train.to(device))
    test = prob.test.to(device)
    learned = InversePINNTask(**kw).evaluate(data, test)
    assert learned["coef_rel_err"] < 0.05 and learned["train_rel_l2"] < 0.05
    wrong = InversePINNTask(learn_coef=False, **kw).evaluate(data, test)
    assert wrong["coef"] == 2.0 and wrong["coef_rel_err"] == 1.0 and wrong["train_rel_l2"] > 5 * learned["train_rel_l2"]


def test_d_optimal_picks_the_largest_sensitivities(prob):
    s = coef_sensitivity(POISSON_K, prob.train["x"], prob.train["alpha"], 2.0)
    x = prob.train["x"].double().numpy()
    assert np.allclose(s, -np.sin(np.pi * x) / 4, atol=1e-6)     # du/dk of sin(pi x) / k
    chosen = d_optimal_subset(POISSON_K, prob.train, 7, 2.0)
    brute = np.sort(np.abs(np.sin(np.pi * x)))[-7:]
    assert np.allclose(np.sort(np.abs(np.sin(np.pi * chosen["x"].double().numpy()))), brute, atol=1e-6)
    assert not chosen.learnable


def test_distillation_runs_and_evaluate_reports_the_coefficient(prob):
    task = get_task("pinn-inverse", physics_range=prob.train_range, score_range=prob.alpha_range, **SMALL)
    res = taskdd.distill(task, prob.train, 5, steps=3, lr=0.01, seed=0, device="cpu", dtype=None, quiet=True,
                         test=prob.test)
    assert {"test_rel_l2", "train_rel_l2", "coef", "coef_rel_err"} <= set(res.history[-1])
    assert res.config["task_config"]["pde"] == "poisson-k" and res.config["task_config"]["coef"] == 2.0
    assert type(task.with_options(coef=3.0)) is InversePINNTask


def test_bad_input_is_a_config_error():
    with pytest.raises(ConfigError, match="needs a PDE family with a coefficient"):
        InversePINNTask(pde="poisson")
    with pytest.raises(ConfigError, match="coef must be a finite number > 0, got -1"):
        InversePINNTask(coef=-1)
    with pytest.raises(ConfigError, match="scale must be a finite number > 0"):
        InversePINNTask(coef_scale=0)
    with pytest.raises(ConfigError, match="coef_pde must be callable"):
        CoefFamily("bad", None, lambda x, a: x)
    with pytest.raises(ConfigError, match="need a CoefFamily"):
        LossTerms(CoefMLP(MLP(2, 1, 4, 1), 1.0), PINNTask().problem, PINNTask().collocation("learner", torch.zeros(1)),
                  torch.zeros(1), torch.zeros(1), torch.zeros(1))
    with pytest.raises(ConfigError, match="no coef_reference"):
        coef_sensitivity(CoefFamily("no-ref", lambda x, u, d, k: d.u_xx, lambda x, a: a), torch.zeros(1),
                         torch.zeros(1), 1.0)


def test_label_anchor_pulls_labels_amid_the_data_to_the_local_mean_and_leaves_far_ones_free():
    from taskdd.tasks.pinn.anchor import label_anchor
    g = torch.Generator().manual_seed(0)
    real = {"x": torch.rand(400, generator=g, dtype=torch.float64),
            "alpha": -3 + 2 * torch.rand(400, generator=g, dtype=torch.float64)}
    real["y"] = 2.0 + 0.1 * torch.randn(400, generator=g, dtype=torch.float64)     # a flat field, noisy
    syn = {"x": torch.tensor([0.5, 0.5], dtype=torch.float64), "alpha": torch.tensor([-2.0, 2.5], dtype=torch.float64),
           "y": torch.tensor([3.0, 7.0], dtype=torch.float64, requires_grad=True)}
    pen = label_anchor(syn, real, 0.1)
    (grad,) = torch.autograd.grad(pen, syn["y"])
    assert pen.item() == pytest.approx(0.5 * 1.0, rel=0.05)      # amid the data: (3 - ~2)^2, rho ~ 1; far: ~0
    assert grad[0].item() == pytest.approx(1.0, rel=0.05) and abs(grad[1].item()) < 1e-12
    syn["y"] = torch.tensor([2.0, -5.0], dtype=torch.float64)
    assert label_anchor(syn, real, 0.1).item() < 1e-3
    with pytest.raises(ConfigError, match="bandwidth must be > 0, got 0"):
        label_anchor(syn, real, 0)


def test_the_anchor_enters_the_inverse_objective():
    prob = make_pinn_problem("poisson-k", n_train=40, n_test_alphas=2, n_test_x=11, seed=0)
    kw = dict(physics_range=prob.train_range, score_range=prob.alpha_range, **SMALL)
    plain, anchored = InversePINNTask(**kw), InversePINNTask(anchor_weight=2.0, **kw)
    syn = plain.init_synthetic(prob.train, 5, taskdd.make_generator(0))
    with torch.no_grad():
        syn["y"].add_(1.0)  # labels off the data
    a, b = (t.objective(syn, prob.train, generator=taskdd.make_generator(1)) for t in (plain, anchored))
    from taskdd.tasks.pinn.anchor import label_anchor
    assert (a - b).item() == pytest.approx(2.0 * label_anchor(syn, prob.train, 0.1).item(), rel=1e-5)
    assert label_anchor(syn, prob.train, 0.1).item() > 0.1
    with pytest.raises(ConfigError, match="anchor_weight must be a number >= 0, got -1"):
        InversePINNTask(anchor_weight=-1, **kw)


def test_heat_k_is_an_inverse_family_on_space_and_time():
    from taskdd.tasks.pinn import CoefGeometryFamily
    family = get_problem_named("heat-k")
    assert isinstance(family, CoefGeometryFamily) and family.true_coef == 0.1 and family.at(0.3).true_coef == 0.3
    g = torch.Generator().manual_seed(0)
    x, a = torch.rand(40, 2, generator=g, dtype=torch.float64), -3 + 2 * torch.rand(40, generator=g, dtype=torch.float64)
    y = reference_solution("heat-k", x, a)
    torch.testing.assert_close(y, reference_solution("heat", x, a))         # the same solution as heat at k = 0.1
    k = torch.tensor([[0.1], [0.3]], dtype=torch.float64)                      # two networks' coefficients
    params = torch.zeros(2, 1, dtype=torch.float64)

    class Exact:                                                               # the k = 0.1 solution for both
        def forward(self, prm, pts):
            u = pts[..., 2] * (1 - pts[..., 0]) + torch.sin(math.pi * pts[..., 0]) * torch.exp(
                -0.1 * math.pi**2 * pts[..., 1])
            return u[..., None] + 0 * prm.sum(-1)[:, None, None]
    inputs = torch.cat([x, a[:, None]], 1)
    u, d = family.partials(Exact(), params, inputs)
    r = family.residual_with(k, x, u, d)
    assert r[0].abs().max() < 1e-10 and r[1].abs().max() > 0.01             # each network's own k


def test_the_inverse_task_learns_the_diffusivity_of_heat_k():
    prob = make_pinn_problem("heat-k", n_train=120, n_test_alphas=2, n_test_x=5, noise=0.0, seed=0)
    task = InversePINNTask(pde="heat-k", coef=0.3, physics_range=prob.train_range, score_range=prob.alpha_range,
                           width=16, depth=2, n_interior=64, n_boundary=16, eval_models=2, eval_steps=800)
    tr = prob.train
    model = task.train_networks(tr["x"], tr["alpha"], tr["y"], 2, make_generator(0))
    m = task.metrics(model, prob.test)
    assert m["coef_rel_err"] < 0.5                            # from the prior 0.3 (200% off): 26% after 800 steps
    assert math.isfinite(m["test_rel_l2"])
    syn = d_optimal_subset(task.problem, tr, 10, 0.3)         # the design baseline works on a geometry too
    assert syn["x"].shape == (10, 2)
    with pytest.raises(ConfigError, match="CoefFamily or CoefGeometryFamily"):
        InversePINNTask(pde="heat")
