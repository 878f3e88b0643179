"""The hypergradient estimators: exact (autograd through fit) and zeroth order (Gaussian smoothing)."""

import pytest
import torch

from data_gen.regression import make_regression
from taskdd import ConfigError, NonFiniteError, SyntheticSet, Task, TaskError, distill, make_generator
from taskdd.distill.estimators import ExactGradient, ZerothOrderGradient, get_method
from taskdd.tasks.ridge import RidgeRegressionTask


@pytest.fixture
def problem():
    return make_regression(n_train=200, n_test=200, p=4, noise=0.3, seed=1, dtype=torch.float64)


def _flat(grads):
    return torch.cat([g.flatten() for g in grads])


class Quadratic(Task):
    """objective(S) = -sum (A s - b)^2 over the flattened learnable tensor s (float64)."""

    def __init__(self, dim=4, seed=0):
        g = make_generator(seed)
        self.A = torch.randn(dim, dim, generator=g, dtype=torch.float64)
        self.b = torch.randn(dim, generator=g, dtype=torch.float64)

    def init_synthetic(self, sources, budget, generator):
        return SyntheticSet([{"s": torch.randn(self.A.shape[1], generator=generator, dtype=torch.float64)}], ["s"])

    def fit(self, synthetic, *, generator=None):
        return synthetic["s"]

    def score(self, model, sources, *, part=None, generator=None):
        return -((self.A @ model - self.b) ** 2).sum()

    def evaluate(self, synthetic, test, *, generator=None):
        return {}

    def gradient(self, s):
        return -2 * self.A.T @ (self.A @ s - self.b)


class InnerGradientDescent(Task):
    """A learner with its own autograd loop: ``fit`` takes a few gradient steps of a linear
    model on the synthetic (x, y) with ``torch.autograd.grad`` (differentiably)."""

    inner_steps, inner_lr = 5, 0.1

    def init_synthetic(self, sources, budget, generator):
        idx = torch.randperm(len(sources), generator=generator)[:budget]
        return SyntheticSet([{"x": sources["x"][idx], "y": sources["y"][idx]}], ["x", "y"])

    def fit(self, synthetic, *, generator=None):
        x, y = synthetic["x"], synthetic["y"]
        w = torch.zeros(x.shape[1], dtype=x.dtype, requires_grad=True)
        for _ in range(self.inner_steps):
            loss = ((x @ w - y) ** 2).mean()
            (g,) = torch.autograd.grad(loss, w, create_graph=True)
            w = w - self.inner_lr * g
        return w

    def score(self, model, sources, *, part=None, generator=None):
        return -((sources["x"] @ model - sources["y"]) ** 2).mean()

    def evaluate(self, synthetic, test, *, generator=None):
        return {}


# --- exact ----------------------------------------------------------------------------------
def test_exact_hypergradient_passes_gradcheck(problem):
    task = RidgeRegressionTask(ridge=1e-2)
    syn = task.init_synthetic(problem.train, 5, make_generator(0))
    x0, y0 = syn["x"].detach(), syn["y"].detach()

    def f(x, y):
        return task.objective(syn.with_learnable([x, y]), problem.train)

    assert torch.autograd.gradcheck(f, (x0.clone().requires_grad_(), y0.clone().requires_grad_()))


def test_exact_gradient_is_the_analytic_gradient_of_a_quadratic():
    task = Quadratic()
    syn = task.init_synthetic(None, 1, make_generator(0))
    score, (g,) = ExactGradient()(task, syn, None, None, make_generator(1))
    s = syn["s"].detach()
    torch.testing.assert_close(g, task.gradient(s), rtol=1e-12, atol=1e-12)
    assert score == float(task.score(s, None))


def test_exact_refuses_an_objective_without_a_gradient_and_a_non_scalar_one():
    class NoGraph(Quadratic):
        def fit(self, synthetic, *, generator=None):
            return synthetic["s"].detach()

    class Vector(Quadratic):
        def score(self, model, sources, *, part=None, generator=None):
            return model

    for cls, needle in ((NoGraph, "no gradient"), (Vector, "scalar tensor")):
        task = cls()
        with pytest.raises(TaskError, match=needle):
            ExactGradient()(task, task.init_synthetic(None, 1, make_generator(0)), None, None, make_generator(0))


def test_a_non_finite_objective_is_a_non_finite_error_for_both_estimators():
    class Nan(Quadratic):
        def score(self, model, sources, *, part=None, generator=None):
            return super().score(model, sources) * float("nan")

    task = Nan()
    syn = task.init_synthetic(None, 1, make_generator(0))
    for est in (ExactGradient(), ZerothOrderGradient(directions=1)):
        with pytest.raises(NonFiniteError, match="non-finite"):
            est(task, syn, None, None, make_generator(0))


# --- zeroth order ---------------------------------------------------------------------------
def test_one_antithetic_pair_on_a_quadratic_is_the_directional_derivative_times_the_direction():
    """For a quadratic the antithetic difference is exact at any smoothing: g_hat = (g . u) u."""
    task = Quadratic()
    syn = task.init_synthetic(None, 1, make_generator(0))
    gen = make_generator(5)
    u = torch.randn(4, generator=make_generator(5), dtype=torch.float64)
    _, (g_hat,) = ZerothOrderGradient(directions=1, smoothing=0.7)(task, syn, None, None, gen)
    g = task.gradient(syn["s"].detach())
    torch.testing.assert_close(g_hat, (g @ u) * u, rtol=1e-10, atol=1e-10)


def test_zeroth_order_converges_to_the_exact_gradient_with_many_directions():
    task = Quadratic(dim=4, seed=3)
    syn = task.init_synthetic(None, 1, make_generator(0))
    g = task.gradient(syn["s"].detach())
    err = {}
    for n in (10, 4000):
        _, (g_hat,) = ZerothOrderGradient(directions=n, smoothing=1e-2)(task, syn, None, None, make_generator(1))
        err[n] = float((g_hat - g).norm() / g.norm())
    assert err[4000] < 0.1 and err[4000] < err[10] / 4  # error ~ sqrt(dim / n)


def test_zeroth_order_estimate_aligns_with_the_exact_gradient(problem):
    task = RidgeRegressionTask(ridge=1e-2)
    syn = task.init_synthetic(problem.train, 5, make_generator(0))
    _, exact = ExactGradient()(task, syn, problem.train, None, make_generator(1))
    _, zo = ZerothOrderGradient(directions=4000, smoothing=1e-4)(task, syn, problem.train, None, make_generator(2))
    assert torch.nn.functional.cosine_similarity(_flat(exact), _flat(zo), dim=0) > 0.9


def test_zeroth_order_works_with_a_learner_that_runs_its_own_autograd_loop(problem):
    task = InnerGradientDescent()
    syn = task.init_synthetic(problem.train, 8, make_generator(0))
    score, zo = ZerothOrderGradient(directions=3000, smoothing=1e-4)(task, syn, problem.train, None,
                                                                     make_generator(2))
    _, exact = ExactGradient()(task, syn, problem.train, None, make_generator(1))
    assert not any(g.requires_grad for g in zo) and score == pytest.approx(float(task.objective(syn, problem.train).detach()))
    assert torch.nn.functional.cosine_similarity(_flat(exact), _flat(zo), dim=0) > 0.9
    res = distill(task, problem.train, 8, method="zeroth_order", steps=3, device="cpu", quiet=True)
    assert res.n_steps == 3 and torch.isfinite(res.synthetic["x"]).all()


def test_zeroth_order_leaves_no_graph_to_the_synthetic_set(problem):
    task = RidgeRegressionTask()
    syn = task.init_synthetic(problem.train, 5, make_generator(0))
    params = [p.detach().requires_grad_(True) for p in syn.parameters()]
    syn = syn.with_learnable(params)
    _, grads = ZerothOrderGradient(directions=2)(task, syn, problem.train, None, make_generator(0))
    assert all(p.grad is None for p in params) and not any(g.requires_grad for g in grads)


# --- options --------------------------------------------------------------------------------
@pytest.mark.parametrize("options, needle", [
    ({"directions": 0}, "directions must be an int >= 1, got 0"),
    ({"directions": 2.0}, "directions must be an int"), ({"directions": True}, "directions must be an int"),
    ({"smoothing": 0}, "smoothing must be a finite number > 0, got 0"),
    ({"smoothing": float("nan")}, "smoothing"), ({"smoothing": "0.1"}, "smoothing"),
    ({"directons": 3}, "unknown option 'directons'; accepted options: directions, smoothing"),
])
def test_bad_zeroth_order_options_raise_config_error(options, needle):
    with pytest.raises(ConfigError) as e:
        get_method("zeroth_order", **options)
    assert needle in str(e.value)


def test_an_unknown_method_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known methods: exact, zeroth_order"):
        get_method("newton")


def test_exact_takes_no_options():
    with pytest.raises(ConfigError, match="unknown option 'directions'; accepted options: \\(none\\)"):
        get_method("exact", directions=3)

