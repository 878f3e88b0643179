"""A stack of ``E`` MLPs held as one flat parameter tensor ``[E, P]``.

Each network's ``P`` numbers are its layers' weights ``[out, in]`` and biases ``[out]`` in order;
:meth:`MLP.layers` views them as ``W_l [E, out, in]``, ``b_l [E, 1, out]``. One flat tensor makes
an optimiser step a handful of tensor ops whatever the depth (:mod:`taskdd.nets.adam`), and a pool
of networks one tensor to index, save and restore. One network may also be given alone as
``[P]``: its layers are then ``W_l [out, in]``, ``b_l [out]`` and applied by ``F.linear`` (what
``nn.Linear`` computes, to the bit).

:meth:`MLP.forward_d2` also returns the second derivative along one input, by an explicit pass (no
nested autograd). For a hidden layer ``a = tanh(z)``,

    z' = a'_prev W^T,  z'' = a''_prev W^T,  a' = s z',  a'' = s z'' - 2 a s z'^2,  s = 1 - a^2,

and ``(a, a', a'')`` go through each layer in one batched matmul.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from taskdd.errors import ConfigError, DataError, require_int

__all__ = ["ACTIVATIONS", "INIT_LAWS", "MLP"]

#: activation name -> (function, the nn.Module that computes it)
ACTIVATIONS = {"tanh": (torch.tanh, nn.Tanh), "relu": (torch.relu, nn.ReLU), "gelu": (F.gelu, nn.GELU)}
#: "glorot_normal": N(0, 2 / (fan_in + fan_out)) weights, zero biases (deepxde's FNN default), drawn
#: in float64; "torch_linear": weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's
#: nn.Linear default), drawn in the target dtype.
INIT_LAWS = ("glorot_normal", "torch_linear")


def _affine(h: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """``h W^T + b``: one network (``w [out, in]``) by ``F.linear``, a stack (``w [E, out, in]``,
    ``b [E, 1, out]``) by a batched matmul."""
    return F.linear(h, w, b) if w.ndim == 2 else torch.matmul(h, w.transpose(1, 2)) + b




@dataclass(frozen=True)
class MLP:
    """``d_in -> width x depth (activation) -> d_out``; ``depth`` hidden layers (0: one linear map).

    init_law: one of :data:`INIT_LAWS`. The methods take parameters ``flat [E, P]`` (``P =
    n_params``) of ``E`` networks and inputs ``[n, d_in]`` shared by the networks or ``[E, n,
    d_in]``; ``layers``, ``features`` and ``forward`` also take one network's ``[P]``.
    """

    d_in: int
    d_out: int
    width: int
    depth: int
    activation: str = "tanh"
    init_law: str = "glorot_normal"

    def __post_init__(self):
        for name, lo in (("d_in", 1), ("d_out", 1), ("width", 1), ("depth", 0)):
            require_int(f"network {name}", getattr(self, name), lo)
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"network activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.init_law not in INIT_LAWS:
            raise ConfigError(f"network init_law must be one of {list(INIT_LAWS)}, got {self.init_law!r}")

    @property
    def sizes(self) -> list[int]:
        return [self.d_in] + [self.width] * self.depth + [self.d_out]

    @property
    def n_params(self) -> int:
        return sum((i + 1) * o for i, o in zip(self.sizes[:-1], self.sizes[1:]))

    def init(self, n_models: int, generator: torch.Generator, *, device=None,
             dtype: torch.dtype = torch.float32) -> Tensor:
        """Fresh parameters ``[n_models, P]`` drawn on CPU with ``generator`` (layer by layer,
        weights then biases), then moved to ``device``."""
        require_int("network n_models", n_models, 1)
        parts = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            if self.init_law == "glorot_normal":
                std = math.sqrt(2.0 / (fan_in + fan_out))
                parts += [torch.randn(n_models, fan_out * fan_in, generator=generator, dtype=torch.float64) * std,
                          torch.zeros(n_models, fan_out, dtype=torch.float64)]
            else:
                for shape in ((n_models, fan_out, fan_in), (n_models, fan_out)):
                    u = torch.rand(shape, generator=generator, dtype=dtype)
                    parts.append(((2 * u - 1) / fan_in**0.5).reshape(n_models, -1))
        return torch.cat(parts, 1).to(device=device, dtype=dtype)

    def layers(self, flat: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Views ``[(W [E, out, in], b [E, 1, out]), ...]`` of ``flat [E, P]``, or ``[(W [out, in],
        b [out]), ...]`` of one network's ``flat [P]``.

        One ``split`` (its backward is one ``cat``, where per-layer slicing would zero-fill a
        full-size gradient per slice)."""
        if flat.ndim not in (1, 2) or flat.shape[-1] != self.n_params:
            raise DataError(f"network parameters must have shape [E, {self.n_params}] or [{self.n_params}], "
                            f"got {tuple(flat.shape)}")
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        parts = flat.split([n for i, o in pairs for n in (i * o, o)], dim=-1)
        if flat.ndim == 1:
            return [(parts[2 * k].view(o, i), parts[2 * k + 1]) for k, (i, o) in enumerate(pairs)]
        return [(parts[2 * k].view(-1, o, i), parts[2 * k + 1].unsqueeze(1)) for k, (i, o) in enumerate(pairs)]

    def features(self, flat: Tensor, inputs: Tensor) -> Tensor:
        """The last hidden layer's activations ``[E, n, width]`` (``[..., width]`` for one network
        ``flat [P]``); the inputs when ``depth = 0``."""
        return self._hidden(self.layers(flat), flat, inputs)

    def forward(self, flat: Tensor, inputs: Tensor) -> Tensor:
        """Outputs ``[E, n, d_out]`` of ``flat [E, P]`` at inputs ``[n, d_in]`` or ``[E, n, d_in]``;
        ``[..., d_out]`` of one network ``flat [P]`` at inputs ``[..., d_in]`` (``F.linear``)."""
        layers = self.layers(flat)
        return _affine(self._hidden(layers, flat, inputs), *layers[-1])

    def _check_inputs(self, flat: Tensor, inputs: Tensor) -> None:
        if inputs.shape[-1:] != (self.d_in,) or (flat.ndim == 2 and inputs.ndim not in (2, 3)):
            want = "[..., {0}]" if flat.ndim == 1 else "[n, {0}] or [E, n, {0}]"
            raise DataError(f"network inputs must have shape {want.format(self.d_in)}, got {tuple(inputs.shape)}")
        if flat.ndim == 2 and inputs.ndim == 3 and inputs.shape[0] != flat.shape[0]:
            raise DataError(f"per-network inputs {tuple(inputs.shape)} do not match {flat.shape[0]} networks")

    def _hidden(self, layers, flat: Tensor, inputs: Tensor) -> Tensor:
        self._check_inputs(flat, inputs)
        act = ACTIVATIONS[self.activation][0]
        h = inputs
        for w, b in layers[:-1]:
            h = act(_affine(h, w, b))
        return h

    def forward_d2(self, flat: Tensor, inputs: Tensor, *, dim: int = 0,
                   n_deriv: int | None = None) -> tuple[Tensor, Tensor]:
        """``(u [E, n, d_out], d^2u / d inputs[..., dim]^2 [E, n_deriv, d_out])``, tanh only.

        The derivative is computed at the first ``n_deriv`` rows only (default: all): one pass
        gives, e.g., a PDE residual's ``u, u_xx`` at collocation points and plain values at
        boundary and data points, with one matmul per layer for all of them."""
        if self.activation != "tanh":
            raise ConfigError(f"the explicit second-derivative pass needs activation 'tanh', "
                              f"got {self.activation!r}")
        if not (isinstance(dim, int) and 0 <= dim < self.d_in):
            raise DataError(f"dim must be an input index in [0, {self.d_in}), got {dim!r}")
        if flat.ndim != 2:
            raise DataError(f"the second-derivative pass takes parameters [E, P], got {tuple(flat.shape)}")
        layers = self.layers(flat)
        self._check_inputs(flat, inputs)
        n = inputs.shape[-2]
        nd = n if n_deriv is None else n_deriv
        if not (isinstance(nd, int) and 0 <= nd <= n):
            raise DataError(f"n_deriv must be in [0, {n}], got {n_deriv!r}")
        w, b = layers[0]
        z = torch.matmul(inputs, w.transpose(1, 2)) + b     # [E, n, width]
        dz = w[:, :, dim].unsqueeze(1)                      # [E, 1, width]: dz/dx of the first layer
        d2z = None                                          # zero in the first layer
        for k in range(1, len(layers)):
            a = torch.tanh(z)
            s = 1 - a * a
            a_d, s_d = (a, s) if nd == n else (a[:, :nd], s[:, :nd])
            sdz = s_d * dz
            a_xx = -2 * a_d * sdz * dz if d2z is None else s_d * d2z - 2 * a_d * sdz * dz
            w, b = layers[k]
            # split, not slicing: its backward is one cat
            z, dz, d2z = torch.matmul(torch.cat([a, sdz, a_xx], 1), w.transpose(1, 2)).split([n, nd, nd], dim=1)
            z = z + b
        return z, (z.new_zeros(z.shape[0], nd, self.d_out) if d2z is None else d2z)

    def to_module(self, params: Tensor) -> nn.Sequential:
        """An ``nn.Sequential`` (Linear, activation, ..., Linear) holding one network ``params [P]``."""
        layers: list[nn.Module] = []
        for k, (fan_in, fan_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            # on the meta device: no init draw from the global RNG (the weights are set below)
            layers.append(nn.Linear(fan_in, fan_out, device="meta", dtype=params.dtype))
            if k < self.depth:
                layers.append(ACTIVATIONS[self.activation][1]())
        net = nn.Sequential(*layers).to_empty(device=params.device)
        with torch.no_grad():
            for lin, (w, b) in zip(net[0::2], self.layers(params.detach())):
                lin.weight.copy_(w)
                lin.bias.copy_(b)
        return net

    @classmethod
    def from_linears(cls, linears: Sequence[nn.Linear], activation: str,
                     init_law: str = "glorot_normal") -> tuple["MLP", Tensor]:
        """``(architecture, params [P] float64 on CPU)`` of the ``Linear`` layers ``linears``
        joined by ``activation``; the hidden layers must share one width."""
        sizes = [linears[0].in_features] + [m.out_features for m in linears]
        if len(set(sizes[1:-1])) > 1:
            raise ConfigError(f"the network's hidden layers must have one width, got layer sizes {sizes}")
        if any(m.bias is None for m in linears):
            raise ConfigError("every Linear layer of the network needs a bias")
        params = torch.cat([t.detach().reshape(-1).double().cpu() for m in linears for t in (m.weight, m.bias)])
        width = sizes[1] if len(sizes) > 2 else 1
        return cls(sizes[0], sizes[-1], width, len(sizes) - 2, activation, init_law), params

    @classmethod
    def from_module(cls, net: nn.Module, init_law: str = "glorot_normal") -> tuple["MLP", Tensor]:
        """``(architecture, params [P])`` of an ``nn.Sequential`` that alternates ``Linear`` and one
        kind of activation module (:data:`ACTIVATIONS`) and ends with ``Linear``."""
        names = {module: name for name, (_, module) in ACTIVATIONS.items()}
        layers = list(net) if isinstance(net, nn.Sequential) else []
        linears, acts = layers[0::2], [names.get(type(m)) for m in layers[1::2]]
        if (not layers or not all(isinstance(m, nn.Linear) for m in linears) or None in acts
                or len(set(acts)) > 1 or len(acts) != len(linears) - 1):
            raise ConfigError(f"the network must be an nn.Sequential alternating Linear and one activation "
                              f"({', '.join(m.__name__ for m in names)}) and ending with Linear, got "
                              f"{[type(m).__name__ for m in layers] if layers else type(net).__name__}")
        return cls.from_linears(linears, acts[0] if acts else "tanh", init_law)
