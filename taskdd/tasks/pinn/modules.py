"""Between torch modules and the flat parameter layout of :class:`MLPSpec`.

:func:`spec_of_module` reads a tanh MLP given as a deepxde ``FNN`` (``net.linears`` +
``net.activation``) or an ``nn.Sequential`` of ``Linear`` / ``Tanh`` layers: its architecture and
its weights ``[P]``. :func:`to_module` builds an ``nn.Sequential`` from flat weights (to export a
trained network, or to time a plain torch loop against the batched solver).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from taskdd.errors import ConfigError
from taskdd.tasks.pinn.networks import MLPSpec

__all__ = ["spec_of_module", "to_module"]


def _linears_of(net: nn.Module) -> list[nn.Linear]:
    if hasattr(net, "linears"):  # deepxde.nn.FNN
        if getattr(net, "_input_transform", None) is not None or getattr(net, "_output_transform", None) is not None:
            raise ConfigError("a deepxde FNN with input/output transforms is not supported: the task's networks "
                              "are plain MLPs (x, alpha) -> u")
        act = net.activation
        probe = torch.linspace(-2, 2, 9)
        if isinstance(act, list) or not torch.allclose(act(probe), torch.tanh(probe)):
            raise ConfigError("the deepxde FNN must use 'tanh' in every hidden layer")
        return list(net.linears)
    if isinstance(net, nn.Sequential):
        layers = list(net)
        linears = layers[0::2]
        acts = layers[1::2]
        if (not all(isinstance(m, nn.Linear) for m in linears) or not all(isinstance(m, nn.Tanh) for m in acts)
                or len(acts) != len(linears) - 1):
            raise ConfigError(f"an nn.Sequential network must alternate Linear and Tanh and end with Linear, "
                              f"got {[type(m).__name__ for m in layers]}")
        return linears
    raise ConfigError(f"network must be a deepxde FNN or an nn.Sequential of Linear/Tanh, got {type(net).__name__}")


def spec_of_module(net: nn.Module) -> tuple[MLPSpec, Tensor]:
    """``(spec, params [P])`` of ``net``: ``2 -> width x depth (tanh) -> 1`` with equal widths."""
    linears = _linears_of(net)
    sizes = [linears[0].in_features] + [m.out_features for m in linears]
    hidden = sizes[1:-1]
    if sizes[0] != 2 or sizes[-1] != 1 or not hidden or len(set(hidden)) != 1:
        raise ConfigError(f"the network must map 2 inputs (x, alpha) through hidden layers of one width to 1 "
                          f"output, got layer sizes {sizes}")
    if any(m.bias is None for m in linears):
        raise ConfigError("every Linear layer of the network needs a bias")
    params = torch.cat([t.detach().reshape(-1).double().cpu() for m in linears for t in (m.weight, m.bias)])
    return MLPSpec(hidden[0], len(hidden)), params


def to_module(spec: MLPSpec, params: Tensor) -> nn.Sequential:
    """An ``nn.Sequential`` (Linear, Tanh, ..., Linear) holding the flat weights ``params [P]``."""
    sizes = spec.sizes
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(fan_in, fan_out)] + ([nn.Tanh()] if i < len(sizes) - 2 else [])
    net = nn.Sequential(*layers).to(device=params.device, dtype=params.dtype)
    with torch.no_grad():
        for lin, (w, b) in zip(net[0::2], spec.layers(params.detach()[None])):
            lin.weight.copy_(w[0])
            lin.bias.copy_(b[0, 0])
    return net
