"""Gradient matching, distribution matching, unrolled SGD and the MLP helpers, against plain
autograd / torch.optim references."""

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from taskdd.errors import ConfigError
from taskdd.tasks.classify.matching import (class_gradients, distribution_matching_loss, gradient_distance,
                                            gradient_matching_loss)
from taskdd.tasks.classify.networks import MLPSpec, train_ensemble
from taskdd.tasks.classify.unrolled import unrolled_sgd

C, P = 3, 4


def net(width=6, depth=1, seed=0, activation="relu"):
    spec = MLPSpec(width, depth, activation)
    module = spec.module(P, C)
    return module, spec.init(module, torch.Generator().manual_seed(seed), dtype=torch.float64)


def inputs(m, seed=1):
    return torch.randn(C, m, P, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_init_draws_the_default_linear_law_from_the_generator_only():
    module, _ = net(width=50)
    state = torch.random.get_rng_state()
    a = MLPSpec(50).init(module, torch.Generator().manual_seed(3))
    b = MLPSpec(50).init(module, torch.Generator().manual_seed(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert a["0.weight"].abs().max() <= 1 / P**0.5 and a["2.bias"].abs().max() <= 1 / 50**0.5
    stacked = MLPSpec(50).init(module, torch.Generator().manual_seed(3), n_models=4)
    assert stacked["0.weight"].shape == (4, 50, P)


def test_class_gradients_equal_a_per_class_autograd_loop():
    module, params = net()
    x = inputs(5)
    got = class_gradients(module, params, x)
    for c in range(C):
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        loss = F.cross_entropy(functional_call(module, p, (x[c],)), torch.full((5,), c))
        ref = torch.autograd.grad(loss, list(p.values()))
        for k, r in zip(p, ref):
            torch.testing.assert_close(got[k][c], r)


def test_gradient_distance_is_zero_for_parallel_rows_and_ignores_biases():
    module, params = net(activation="gelu")  # no all-zero rows (an idle ReLU unit counts 1)
    g = class_gradients(module, params, inputs(5))
    scaled = {k: (3 * v if v.ndim == 3 else -v) for k, v in g.items()}
    assert float(gradient_distance(g, scaled)) == pytest.approx(0.0, abs=1e-10)
    flipped = {k: -v for k, v in g.items()}
    rows = sum(v.shape[0] * v.shape[1] for v in g.values() if v.ndim == 3)
    assert float(gradient_distance(g, flipped)) == pytest.approx(2.0 * rows)


def test_distribution_matching_loss_is_the_squared_distance_of_class_mean_embeddings():
    module, params = net()
    embed = module[:-1]
    hidden = {k: v for k, v in params.items() if k.startswith("0.")}
    xr, xs = inputs(7, seed=2), inputs(2, seed=3)
    emb = lambda x: torch.relu(x @ hidden["0.weight"].T + hidden["0.bias"])  # noqa: E731
    ref = ((emb(xr).mean(1) - emb(xs).mean(1)) ** 2).sum()
    torch.testing.assert_close(distribution_matching_loss(embed, hidden, xr, xs), ref)


def test_matching_losses_compute_under_no_grad():
    module, params = net(activation="gelu")
    xr, xs = inputs(7, seed=2), inputs(2, seed=3)
    with torch.no_grad():
        assert float(gradient_matching_loss(module, params, xr, xs)) > 0


def test_unrolled_sgd_matches_torch_sgd_and_trains_under_no_grad():
    module, params = net()
    x = inputs(4).flatten(0, 1)
    y = torch.arange(C).repeat_interleave(4)
    p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    opt = torch.optim.SGD(list(p.values()), lr=0.3)
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(functional_call(module, p, (x,)), y).backward()
        opt.step()
    with torch.no_grad():
        got = unrolled_sgd(module, params, x, y, steps=5, lr=0.3)
    for k in p:
        torch.testing.assert_close(got[k], p[k].detach())


def test_train_ensemble_trains_each_network_as_if_alone():
    spec = MLPSpec(8)
    module = spec.module(P, C)
    stacked = spec.init(module, torch.Generator().manual_seed(0), n_models=3, dtype=torch.float64)
    x = inputs(4).flatten(0, 1)
    y = torch.arange(C).repeat_interleave(4)
    together = train_ensemble(module, stacked, x, y, steps=20, lr=1e-2)
    alone = train_ensemble(module, {k: v[1:2] for k, v in stacked.items()}, x, y, steps=20, lr=1e-2)
    for k in together:
        torch.testing.assert_close(together[k][1:2], alone[k])


@pytest.mark.parametrize("kwargs, match", [({"width": 0}, "MLP width must be an int >= 1, got 0"),
                                           ({"depth": -1}, "MLP depth must be an int >= 0, got -1"),
                                           ({"activation": "tanh"}, "activation must be one of")])
def test_bad_network_settings_raise_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        MLPSpec(**kwargs)
