"""The ridge reference task: its closed form, its gradient, distillation on it, its typed errors."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import Ridge

import taskdd
from data_gen.regression import make_regression
from taskdd import ConfigError, DataError, Samples, SyntheticSet
from taskdd.tasks.ridge import RidgeRegressionTask


def _set(x, y):
    return SyntheticSet([{"x": x, "y": y}], learnable=["x", "y"])


@pytest.fixture(scope="module")
def prob():
    return make_regression(n_train=300, n_test=300, p=4, noise=0.5, seed=0, dtype=torch.float64)


def test_fit_equals_sklearn_ridge_with_an_unpenalised_intercept(prob):
    x, y = prob.train["x"][:30], prob.train["y"][:30]
    model = RidgeRegressionTask(ridge=0.7).fit(_set(x, y))
    ref = Ridge(alpha=0.7, fit_intercept=True).fit(x.numpy(), y.numpy())
    np.testing.assert_allclose(model.weight.detach().numpy(), ref.coef_, rtol=1e-10)
    assert float(model.bias.detach()) == pytest.approx(float(ref.intercept_), rel=1e-10)


def test_fit_without_ridge_is_least_squares(prob):
    x, y = prob.train["x"], prob.train["y"]
    model = RidgeRegressionTask(ridge=0.0).fit(_set(x, y))
    design = np.c_[x.numpy(), np.ones(len(x))]
    coef = np.linalg.lstsq(design, y.numpy(), rcond=None)[0]
    np.testing.assert_allclose(np.r_[model.weight.detach().numpy(), float(model.bias.detach())], coef, rtol=1e-9)


def test_score_of_the_fit_is_differentiable_in_the_synthetic_data(prob):
    task = RidgeRegressionTask(ridge=0.1)
    real = prob.train.subset(slice(0, 50))
    x0 = prob.train["x"][:6].clone().requires_grad_(True)
    y0 = prob.train["y"][:6].clone().requires_grad_(True)
    # fit only indexes its argument; a dict keeps the graph to x0, y0 (SyntheticSet holds its own leaves)
    assert torch.autograd.gradcheck(lambda x, y: task.score(task.fit({"x": x, "y": y}), real), (x0, y0))


def test_distillation_beats_its_random_start_on_held_out_data(prob):
    task = RidgeRegressionTask()
    start = task.init_synthetic(prob.train, 5, taskdd.make_generator(0))
    res = taskdd.distill(task, prob.train, 5, steps=150, lr=0.05, seed=0, device="cpu", quiet=True)
    before, after = task.evaluate(start, prob.test)["test_mse"], task.evaluate(res.synthetic, prob.test)["test_mse"]
    assert after < 0.5 * before
    assert after < 0.3  # the noise floor is 0.25


def test_evaluate_reports_mse_and_r2(prob):
    task = RidgeRegressionTask(ridge=0.0)
    out = task.evaluate(_set(prob.test["x"], prob.test["y"]), prob.test)  # fitted on the test set itself
    model = task.fit(_set(prob.test["x"], prob.test["y"]))
    resid = (prob.test["y"] - model.predict(prob.test["x"])).detach()
    assert out["test_mse"] == pytest.approx(float(resid.var(unbiased=False)), rel=1e-9)
    assert 0.8 < out["test_r2"] < 1


@pytest.mark.parametrize("make, kw, err, match", [
    (lambda p: p.train, {"ridge": -1.0}, ConfigError, "ridge must be >= 0, got -1.0"),
    (lambda p: Samples(x=torch.zeros(10), y=torch.zeros(10)), {}, DataError, r"x \[N, p\] and y \[N\]"),
    (lambda p: Samples(x=torch.zeros(10, 2)), {}, DataError, r"takes Samples\(x=\[N, p\], y=\[N\]\)"),
    (lambda p: p.train.subset(slice(0, 3)), {}, ConfigError, r"budget 5 is larger than the data \(3 rows\)"),
    (lambda p: p.train, {"ridge": 0.0}, ConfigError, "too small for ridge=0"),
])
def test_bad_input_raises_typed_errors(prob, make, kw, err, match):
    with pytest.raises(err, match=match):
        taskdd.distill("ridge", make(prob), 5 if "ridge" not in kw or kw["ridge"] else 4, steps=1, quiet=True,
                       device="cpu", task_options=kw)
