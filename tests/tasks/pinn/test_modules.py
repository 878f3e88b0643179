"""The PINN's networks: their architecture, a deepxde FNN or an nn.Sequential brought into the flat
layout, and trained networks exported."""

import pytest
import torch
from torch import nn

from taskdd import make_generator
from taskdd.errors import ConfigError
from taskdd.tasks.pinn import PINNModel, PINNTask
from taskdd.tasks.pinn.dde_import import import_deepxde, isolated_globals
from taskdd.tasks.pinn.modules import pinn_network, spec_of_module


def test_the_pinn_network_is_deepxdes_default_fnn():
    spec = pinn_network(32, 2)
    assert spec.sizes == [2, 32, 32, 1] and (spec.activation, spec.init_law) == ("tanh", "glorot_normal")
    assert spec.n_params == 3 * 32 + 33 * 32 + 33
    params = spec.init(2, make_generator(5))
    assert all((bias == 0).all() for _, bias in spec.layers(params))
    with pytest.raises(ConfigError, match="network depth must be an int >= 1, got 0"):
        pinn_network(32, 0)


def test_a_deepxde_fnn_gives_its_architecture_and_the_same_function():
    dde = import_deepxde()
    with isolated_globals():
        net = dde.nn.FNN([2, 7, 7, 7, 1], "tanh", "Glorot normal")
    spec, params = spec_of_module(net)
    assert (spec.width, spec.depth) == (7, 3)
    inputs = torch.rand(11, 2)
    with torch.no_grad():
        assert torch.allclose(spec.forward(params[None].float(), inputs)[0], net(inputs), atol=1e-6)
    task = PINNTask.for_network(net, pde="nonlinear")
    assert (task.width, task.depth, task.pde) == (7, 3, "nonlinear")


def test_exported_modules_compute_what_the_batched_networks_compute():
    spec = pinn_network(5, 2)
    params = spec.init(3, make_generator(0), dtype=torch.float64)
    inputs = torch.rand(13, 2, dtype=torch.float64)
    modules = PINNModel(spec, params).to_modules()
    want = PINNModel(spec, params).predict(inputs[:, 0], inputs[:, 1])
    for k, m in enumerate(modules):
        with torch.no_grad():
            assert torch.allclose(m(inputs)[:, 0], want[k])
        back_spec, back = spec_of_module(m)
        assert back_spec == spec and torch.equal(back, params[k])
    assert isinstance(modules[0], nn.Sequential)


@pytest.mark.parametrize("net, match", [
    (nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)), "alternate Linear and Tanh"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1)), r"layer sizes \[3, 4, 1\]"),
    (nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1)), "one width"),
    (nn.Linear(2, 1), "deepxde FNN or an nn.Sequential"),
])
def test_unsupported_networks_are_config_errors(net, match):
    with pytest.raises(ConfigError, match=match):
        PINNTask.for_network(net)


def test_a_deepxde_fnn_with_another_activation_is_a_config_error():
    dde = import_deepxde()
    with isolated_globals():
        net = dde.nn.FNN([2, 4, 1], "relu", "Glorot normal")
    with pytest.raises(ConfigError, match="tanh"):
        spec_of_module(net)
