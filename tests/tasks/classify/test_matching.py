"""Gradient matching, distribution matching, unrolled SGD and the classifiers' networks, against
plain autograd / torch.optim references on nn.Sequential copies of the networks."""

import pytest
import torch
import torch.nn.functional as F

from taskdd.errors import ConfigError
from taskdd.tasks.classify.matching import (class_gradients, distribution_matching_loss, gradient_distance,
                                            gradient_matching_loss)
from taskdd.tasks.classify.networks import MLPSpec, train_ensemble
from taskdd.tasks.classify.unrolled import unrolled_sgd

C, P = 3, 4


def net(width=6, depth=1, seed=0, activation="relu"):
    spec = MLPSpec(width, depth, activation)
    mlp = spec.network(P, C)
    return mlp, spec.init(mlp, torch.Generator().manual_seed(seed), dtype=torch.float64)


def inputs(m, seed=1):
    return torch.randn(C, m, P, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def flat_grads(module):
    return torch.cat([p.grad.reshape(-1) for p in module.parameters()])


def test_init_draws_the_default_linear_law_from_the_generator_only():
    mlp, _ = net(width=50)
    state = torch.random.get_rng_state()
    a = MLPSpec(50).init(mlp, torch.Generator().manual_seed(3))
    b = MLPSpec(50).init(mlp, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a, b) and a.shape == (mlp.n_params,)
    (w1, _), (_, b2) = mlp.layers(a)
    assert w1.abs().max() <= 1 / P**0.5 and b2.abs().max() <= 1 / 50**0.5
    stacked = MLPSpec(50).init(mlp, torch.Generator().manual_seed(3), n_models=4)
    assert stacked.shape == (4, mlp.n_params)


def test_one_network_computes_what_its_nn_sequential_computes_to_the_bit():
    mlp, params = net(width=7, depth=2, activation="gelu")
    x = inputs(5).flatten(0, 1)
    with torch.no_grad():
        assert torch.equal(mlp.forward(params, x), mlp.to_module(params)(x))


def test_class_gradients_equal_a_per_class_autograd_loop():
    mlp, params = net()
    x = inputs(5)
    got = class_gradients(mlp, params, x)
    assert got.shape == (C, mlp.n_params)
    for c in range(C):
        module = mlp.to_module(params)
        F.cross_entropy(module(x[c]), torch.full((5,), c)).backward()
        torch.testing.assert_close(got[c], flat_grads(module))


def test_gradient_distance_is_zero_for_parallel_rows_and_ignores_biases():
    mlp, params = net(activation="gelu")  # no all-zero rows (an idle ReLU unit counts 1)
    g = class_gradients(mlp, params, inputs(5))
    scaled = g.clone()
    for w, b in mlp.layers(scaled):  # views: scale the weight rows, flip the biases
        w.mul_(3)
        b.mul_(-1)
    assert float(gradient_distance(mlp, g, scaled)) == pytest.approx(0.0, abs=1e-10)
    rows = sum(C * w.shape[1] for w, _ in mlp.layers(g))
    assert float(gradient_distance(mlp, g, -g)) == pytest.approx(2.0 * rows)


def test_distribution_matching_loss_is_the_squared_distance_of_class_mean_embeddings():
    mlp, params = net()
    (w1, b1), _ = mlp.layers(params)
    xr, xs = inputs(7, seed=2), inputs(2, seed=3)
    emb = lambda x: torch.relu(x @ w1.T + b1)  # noqa: E731
    ref = ((emb(xr).mean(1) - emb(xs).mean(1)) ** 2).sum()
    torch.testing.assert_close(distribution_matching_loss(mlp, params, xr, xs), ref)


def test_matching_losses_compute_under_no_grad():
    mlp, params = net(activation="gelu")
    xr, xs = inputs(7, seed=2), inputs(2, seed=3)
    with torch.no_grad():
        assert float(gradient_matching_loss(mlp, params, xr, xs)) > 0


def test_unrolled_sgd_matches_torch_sgd_and_trains_under_no_grad():
    mlp, params = net()
    x = inputs(4).flatten(0, 1)
    y = torch.arange(C).repeat_interleave(4)
    module = mlp.to_module(params)
    opt = torch.optim.SGD(module.parameters(), lr=0.3)
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(module(x), y).backward()
        opt.step()
    with torch.no_grad():
        got = unrolled_sgd(mlp, params, x, y, steps=5, lr=0.3)
    torch.testing.assert_close(got, torch.cat([p.detach().reshape(-1) for p in module.parameters()]))


def test_train_ensemble_is_torch_adam_for_each_network_alone():
    spec = MLPSpec(8)
    mlp = spec.network(P, C)
    stacked = spec.init(mlp, torch.Generator().manual_seed(0), n_models=3, dtype=torch.float64)
    x = inputs(4).flatten(0, 1)
    y = torch.arange(C).repeat_interleave(4)
    together = train_ensemble(mlp, stacked, x, y, steps=20, lr=1e-2)
    for k in range(3):
        module = mlp.to_module(stacked[k])
        opt = torch.optim.Adam(module.parameters(), lr=1e-2)
        for _ in range(20):
            opt.zero_grad()
            F.cross_entropy(module(x), y).backward()
            opt.step()
        want = torch.cat([p.detach().reshape(-1) for p in module.parameters()])
        torch.testing.assert_close(together[k], want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kwargs, match", [({"width": 0}, "MLP width must be an int >= 1, got 0"),
                                           ({"depth": -1}, "MLP depth must be an int >= 0, got -1"),
                                           ({"activation": "tanh"}, "activation must be one of")])
def test_bad_network_settings_raise_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MLPSpec(**kwargs)
