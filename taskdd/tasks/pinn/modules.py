"""The PINN task's networks: tanh MLPs ``(x, alpha) -> u`` of the small-network kit
(:class:`taskdd.nets.MLP`), and reading one from a torch module.

:func:`pinn_network` is the architecture; :func:`spec_of_module` reads a deepxde ``FNN``
(``net.linears`` + ``net.activation``) or an ``nn.Sequential`` of ``Linear`` / ``Tanh`` layers:
its architecture and its weights ``[P]``. Trained networks go back to ``nn.Sequential`` with
:meth:`MLP.to_module`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from taskdd.errors import ConfigError
from taskdd.nets import MLP

__all__ = ["pinn_network", "spec_of_module"]


def pinn_network(width: int, depth: int, n_inputs: int = 2) -> MLP:
    """``n_inputs -> width x depth (tanh) -> 1``; Glorot-normal weights, zero biases (deepxde's FNN default)."""
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ConfigError(f"network depth must be an int >= 1, got {depth!r}")
    return MLP(n_inputs, 1, width, depth, "tanh", "glorot_normal")


def _deepxde_linears(net: nn.Module) -> list[nn.Linear]:
    if getattr(net, "_input_transform", None) is not None or getattr(net, "_output_transform", None) is not None:
        raise ConfigError("a deepxde FNN with input/output transforms is not supported: the task's networks "
                          "are plain MLPs (x, alpha) -> u")
    act = net.activation
    probe = torch.linspace(-2, 2, 9)
    if isinstance(act, list) or not torch.allclose(act(probe), torch.tanh(probe)):
        raise ConfigError("the deepxde FNN must use 'tanh' in every hidden layer")
    return list(net.linears)


def spec_of_module(net: nn.Module) -> tuple[MLP, Tensor]:
    """``(spec, params [P])`` of ``net``: ``2 -> width x depth (tanh) -> 1`` with equal widths."""
    if hasattr(net, "linears"):  # deepxde.nn.FNN
        spec, params = MLP.from_linears(_deepxde_linears(net), "tanh")
    elif isinstance(net, nn.Sequential):
        spec, params = MLP.from_module(net)
        if spec.activation != "tanh":
            raise ConfigError(f"an nn.Sequential network must alternate Linear and Tanh and end with Linear, "
                              f"got {[type(m).__name__ for m in net]}")
    else:
        raise ConfigError(f"network must be a deepxde FNN or an nn.Sequential of Linear/Tanh, "
                          f"got {type(net).__name__}")
    if spec.d_in != 2 or spec.d_out != 1 or spec.depth < 1:
        raise ConfigError(f"the network must map 2 inputs (x, alpha) through hidden layers of one width to 1 "
                          f"output, got layer sizes {spec.sizes}")
    return spec, params
