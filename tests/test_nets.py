"""The small-network kit: flat batched MLPs against torch modules and autograd, functional Adam
against torch.optim.Adam and finite differences."""

import pytest
import torch
from torch import nn

from taskdd.errors import ConfigError, DataError
from taskdd.nets import MLP, AdamConfig, AdamState, adam_step, train

F64 = torch.float64


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _sequential(net: MLP, params: torch.Tensor) -> nn.Sequential:
    """An nn.Sequential filled from ``params [P]`` by reading the documented layout directly."""
    acts = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}
    layers, offset = [], 0
    for k, (i, o) in enumerate(zip(net.sizes[:-1], net.sizes[1:])):
        lin = nn.Linear(i, o, dtype=params.dtype)
        with torch.no_grad():
            lin.weight.copy_(params[offset:offset + i * o].view(o, i))
            lin.bias.copy_(params[offset + i * o:offset + i * o + o])
        offset += i * o + o
        layers += [lin] + ([acts[net.activation]()] if k < net.depth else [])
    assert offset == net.n_params
    return nn.Sequential(*layers)


@pytest.mark.parametrize("net", [MLP(3, 4, 6, 2, "tanh"), MLP(5, 2, 7, 1, "relu", "torch_linear"),
                                 MLP(2, 3, 4, 3, "gelu", "torch_linear"), MLP(4, 2, 9, 0)])
def test_forward_equals_an_nn_sequential_built_from_the_same_parameters(net):
    params = net.init(3, _gen(0), dtype=F64) + 0.1  # nonzero biases too
    x = torch.randn(10, net.d_in, generator=_gen(1), dtype=F64)
    out = net.forward(params, x)
    assert out.shape == (3, 10, net.d_out)
    for k in range(3):
        with torch.no_grad():
            torch.testing.assert_close(out[k], _sequential(net, params[k])(x), rtol=1e-12, atol=1e-12)
    per_net = torch.randn(3, 10, net.d_in, generator=_gen(2), dtype=F64)
    torch.testing.assert_close(net.forward(params, per_net)[1], net.forward(params[1:2], per_net[1])[0])


def test_one_network_alone_is_computed_as_nn_linear_computes_it():
    net = MLP(3, 2, 5, 2, "relu", "torch_linear")
    params = net.init(2, _gen(0))
    x = torch.randn(4, 6, 3, generator=_gen(1))  # any leading dimensions, as nn.Linear
    with torch.no_grad():
        assert torch.equal(net.forward(params[1], x), net.to_module(params[1])(x))
    torch.testing.assert_close(net.forward(params[1], x[0]), net.forward(params, x[0])[1])
    assert net.features(params[1], x).shape == (4, 6, 5)


def test_features_are_the_last_hidden_activations():
    net = MLP(3, 2, 5, 2, "relu", "torch_linear")
    params = net.init(2, _gen(0), dtype=F64)
    x = torch.randn(4, 3, generator=_gen(1), dtype=F64)
    with torch.no_grad():
        want = _sequential(net, params[1])[:-1](x)
    torch.testing.assert_close(net.features(params, x)[1], want)


def test_to_module_and_from_module_round_trip():
    net = MLP(3, 2, 5, 2, "gelu", "torch_linear")
    params = net.init(1, _gen(0), dtype=F64)[0]
    module = net.to_module(params)
    back, back_params = MLP.from_module(module, init_law="torch_linear")
    assert back == net and torch.equal(back_params, params)
    x = torch.randn(4, 3, dtype=F64)
    with torch.no_grad():
        torch.testing.assert_close(module(x), net.forward(params[None], x)[0])


def test_glorot_init_is_seeded_with_zero_biases_and_the_glorot_spread():
    net = MLP(2, 1, 300, 1)
    a, b = net.init(4, _gen(5)), net.init(4, _gen(5))
    assert torch.equal(a, b) and a.dtype == torch.float32 and a.shape == (4, net.n_params)
    (w1, b1), (w2, b2) = net.layers(a)
    assert (b1 == 0).all() and (b2 == 0).all()
    assert abs(float(w1.std()) - (2 / 302) ** 0.5) < 0.01 and abs(float(w2.std()) - (2 / 301) ** 0.5) < 0.01


def test_torch_linear_init_draws_nn_linears_law_from_the_generator_only():
    net = MLP(3, 2, 4, 1, "relu", "torch_linear")
    state = torch.random.get_rng_state()
    params = net.init(2, _gen(3), dtype=F64)
    assert torch.equal(torch.random.get_rng_state(), state)
    g = _gen(3)  # layer by layer, weights [E, out, in] then biases [E, out], each U(-1, 1) / sqrt(fan_in)
    draws = [(2 * torch.rand(s, generator=g, dtype=F64) - 1) / fan_in**0.5
             for s, fan_in in (((2, 4, 3), 3), ((2, 4), 3), ((2, 2, 4), 4), ((2, 2), 4))]
    torch.testing.assert_close(params, torch.cat([d.reshape(2, -1) for d in draws], 1), rtol=0, atol=0)


@pytest.mark.parametrize("dim", [0, 1])
def test_second_derivative_pass_equals_autograd(dim):
    net = MLP(3, 2, 7, 3)
    params = net.init(3, _gen(0), dtype=F64) + 0.1 * torch.randn(3, net.n_params, generator=_gen(1), dtype=F64)
    inputs = torch.rand(11, 3, dtype=F64, generator=_gen(2)) * 4 - 2
    u, u_dd = net.forward_d2(params, inputs, dim=dim)
    xs = inputs.clone().requires_grad_(True)
    for k in range(3):
        for j in range(2):
            u_kj = net.forward(params[k:k + 1], xs)[0, :, j]
            (du,) = torch.autograd.grad(u_kj.sum(), xs, create_graph=True)  # points don't mix
            (d2u,) = torch.autograd.grad(du[:, dim].sum(), xs)
            torch.testing.assert_close(u[k, :, j], u_kj.detach(), rtol=1e-12, atol=1e-12)
            torch.testing.assert_close(u_dd[k, :, j], d2u[:, dim], rtol=1e-10, atol=1e-10)


def test_second_derivative_at_the_first_rows_only_matches_the_full_pass():
    net = MLP(2, 1, 6, 2)
    params = net.init(2, _gen(0), dtype=F64)
    inputs = torch.rand(9, 2, dtype=F64, generator=_gen(1))
    u, u_dd = net.forward_d2(params, inputs)
    u4, u_dd4 = net.forward_d2(params, inputs, n_deriv=4)
    assert u_dd4.shape == (2, 4, 1)
    torch.testing.assert_close(u4, u, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(u_dd4, u_dd[:, :4], rtol=1e-12, atol=1e-12)
    lin = MLP(2, 1, 6, 0)
    assert lin.forward_d2(lin.init(2, _gen(0)), inputs.float())[1].abs().max() == 0


def test_second_derivative_pass_passes_gradcheck():
    net = MLP(2, 1, 3, 2)
    params = (net.init(2, _gen(0), dtype=F64) + 0.1).requires_grad_(True)
    inputs = torch.rand(5, 2, dtype=F64, generator=_gen(1)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p, x: net.forward_d2(p, x, n_deriv=3), (params, inputs))


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_second_derivative_pass_refuses_other_activations(activation):
    net = MLP(2, 1, 3, 1, activation)
    with pytest.raises(ConfigError, match=f"needs activation 'tanh', got '{activation}'"):
        net.forward_d2(net.init(1, _gen(0)), torch.zeros(4, 2))


def _quadratic(seed, n_models=3, dtype=F64):
    """Per-network losses ``[E]`` of a small regression with a tanh network."""
    net = MLP(2, 1, 5, 1)
    params = net.init(n_models, _gen(seed), dtype=dtype)
    x, y = torch.rand(16, 2, generator=_gen(seed + 1), dtype=dtype), torch.rand(16, 1, generator=_gen(seed + 2),
                                                                                dtype=dtype)
    return params, lambda p: ((net.forward(p, x) - y) ** 2).mean((1, 2))


@pytest.mark.parametrize("fused", [False, True])
def test_torch_formula_equals_torch_optim_adam_for_each_network(fused):
    params, loss = _quadratic(0)
    cfg = AdamConfig(lr=0.05, eps_inside_sqrt=False)
    out, state = train(params, AdamState.zeros(params), loss, 12, cfg)
    for k in range(3):
        p = params[k:k + 1].clone().requires_grad_(True)
        opt = torch.optim.Adam([p], lr=0.05, fused=fused)
        for _ in range(12):
            opt.zero_grad()
            loss(p).sum().backward()
            opt.step()
        torch.testing.assert_close(out[k], p.detach()[0], rtol=1e-12, atol=1e-14)
    assert state.t.tolist() == [12, 12, 12] and not out.requires_grad


def test_eps_inside_sqrt_is_adam_up_to_eps():
    params, loss = _quadratic(1)
    out, _ = train(params, AdamState.zeros(params), loss, 12, AdamConfig(lr=0.05, eps=1e-12))
    ref, _ = train(params, AdamState.zeros(params), loss, 12, AdamConfig(lr=0.05, eps=1e-12, eps_inside_sqrt=False))
    torch.testing.assert_close(out, ref, rtol=1e-9, atol=1e-9)
    assert not torch.equal(out, ref)  # two formulas


@pytest.mark.parametrize("inside", [True, False])
def test_each_network_uses_its_own_step_count(inside):
    params, loss = _quadratic(2, n_models=2)
    cfg = AdamConfig(lr=0.01, eps_inside_sqrt=inside)
    old, old_state = train(params[1:], AdamState.zeros(params[1:]), loss, 40, cfg)  # network 1 is 40 steps old
    stacked = torch.cat([params[:1], old])
    zero = AdamState.zeros(params[:1])
    state = AdamState(torch.cat([zero.m, old_state.m]), torch.cat([zero.v, old_state.v]),
                      torch.cat([zero.t, old_state.t]))
    got, got_state = train(stacked, state, loss, 1, cfg)
    fresh, _ = train(params[:1], AdamState.zeros(params[:1]), loss, 1, cfg)
    older, _ = train(old, old_state, loss, 1, cfg)
    torch.testing.assert_close(got, torch.cat([fresh, older]), rtol=1e-13, atol=1e-15)
    assert got_state.t.tolist() == [1, 41]


@pytest.mark.parametrize("inside", [True, False])
def test_unrolled_hypergradient_matches_finite_differences(inside):
    net = MLP(1, 1, 3, 1)
    params = net.init(2, _gen(0), dtype=F64)
    x = torch.linspace(-1, 1, 4, dtype=F64)[:, None]
    y0 = torch.tensor([0.3, -0.2, 0.5, 0.1], dtype=F64)[:, None].requires_grad_(True)

    def outer(y):
        inner = lambda p: ((net.forward(p, x) - y) ** 2).mean((1, 2))  # noqa: E731
        out, _ = train(params, AdamState.zeros(params), inner, 4, AdamConfig(lr=0.05, eps_inside_sqrt=inside),
                       create_graph=True)
        return (net.forward(out, x) ** 2).sum()

    assert torch.autograd.gradcheck(outer, (y0,))
    (g,) = torch.autograd.grad(outer(y0), y0)
    assert g.abs().sum() > 0


def test_training_works_under_no_grad_and_returns_detached_parameters():
    params, loss = _quadratic(3, dtype=torch.float32)
    with torch.no_grad():
        out, state = train(params, AdamState.zeros(params), loss, 50, AdamConfig(lr=0.05))
    assert (loss(out) < loss(params)).all() and not out.requires_grad and not state.m.requires_grad


@pytest.mark.parametrize("make, error, match", [
    (lambda: MLP(0, 1, 4, 1), ConfigError, "network d_in must be an int >= 1, got 0"),
    (lambda: MLP(2, 1, 0, 1), ConfigError, "network width must be an int >= 1, got 0"),
    (lambda: MLP(2, 1, 4, -1), ConfigError, "network depth must be an int >= 0, got -1"),
    (lambda: MLP(2, 1, 4, 1, "sigmoid"), ConfigError, "activation must be one of"),
    (lambda: MLP(2, 1, 4, 1, init_law="xavier"), ConfigError, "init_law must be one of"),
    (lambda: MLP(2, 1, 4, 1).forward(torch.zeros(2, 3), torch.zeros(5, 2)), DataError,
     r"network parameters must have shape \[E, 17\] or \[17\], got \(2, 3\)"),
    (lambda: MLP(2, 1, 4, 1).forward(torch.zeros(2, 17), torch.zeros(5, 3)), DataError,
     r"inputs must have shape \[n, 2\] or \[E, n, 2\], got \(5, 3\)"),
    (lambda: MLP(2, 1, 4, 1).forward(torch.zeros(2, 17), torch.zeros(3, 5, 2)), DataError,
     r"per-network inputs \(3, 5, 2\) do not match 2 networks"),
    (lambda: MLP(2, 1, 4, 1).forward_d2(torch.zeros(2, 17), torch.zeros(9, 2), n_deriv=10), DataError,
     r"n_deriv must be in \[0, 9\], got 10"),
    (lambda: MLP(2, 1, 4, 1).forward_d2(torch.zeros(2, 17), torch.zeros(9, 2), dim=2), DataError,
     r"dim must be an input index in \[0, 2\), got 2"),
    (lambda: MLP(2, 1, 4, 1).forward_d2(torch.zeros(17), torch.zeros(9, 2)), DataError,
     r"second-derivative pass takes parameters \[E, P\], got \(17,\)"),
    (lambda: MLP.from_module(nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1))), ConfigError,
     "alternating Linear and one activation"),
    (lambda: MLP.from_module(nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1))),
     ConfigError, r"one width, got layer sizes \[2, 4, 5, 1\]"),
    (lambda: AdamConfig(lr=0.0), ConfigError, "Adam lr must be a finite number > 0, got 0.0"),
    (lambda: AdamConfig(beta2=1.0), ConfigError, r"Adam beta2 must be a number in \[0, 1\), got 1.0"),
    (lambda: adam_step(torch.zeros(2, 3), torch.zeros(2, 4), AdamState.zeros(torch.zeros(2, 3)), AdamConfig()),
     DataError, r"params \(2, 3\), grad \(2, 4\)"),
])
def test_bad_settings_and_shapes_raise_typed_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()
