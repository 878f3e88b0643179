"""A stack of ``E`` tanh MLPs ``(x, alpha) -> u`` held as one flat parameter tensor ``[E, P]``,
with an explicit forward pass for ``u`` and ``u_xx`` (no nested autograd).

Each network's ``P`` numbers are its layers' weights ``[out, in]`` and biases ``[out]`` in order;
:meth:`MLPSpec.layers` views them as ``W_l [E, out, in]``, ``b_l [E, 1, out]``. Keeping one flat
tensor makes an optimiser step a handful of tensor ops whatever the depth. For a hidden layer
``a = tanh(z)`` the x-derivatives follow from

    z' = a'_prev W^T,  z'' = a''_prev W^T,  a' = s z',  a'' = s z'' - 2 a s z'^2,  s = 1 - a^2,

and ``(a, a', a'')`` go through each layer in one batched matmul.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from taskdd.errors import ConfigError, DataError

__all__ = ["MLPSpec", "stack_inputs"]


def stack_inputs(x: Tensor, alpha: Tensor) -> Tensor:
    """``[n, 2]`` network inputs from ``x [n]`` and ``alpha [n]``."""
    if x.ndim != 1 or alpha.shape != x.shape:
        raise DataError(f"x and alpha must both have shape [n], got {tuple(x.shape)} and {tuple(alpha.shape)}")
    return torch.stack([x, alpha], -1)


@dataclass(frozen=True)
class MLPSpec:
    """``2 -> width x depth (tanh) -> 1``; Glorot-normal weights, zero biases (deepxde's FNN default)."""

    width: int = 32
    depth: int = 2

    def __post_init__(self):
        for name, v in (("width", self.width), ("depth", self.depth)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"network {name} must be an int >= 1, got {v!r}")

    @property
    def sizes(self) -> list[int]:
        return [2] + [self.width] * self.depth + [1]

    @property
    def n_params(self) -> int:
        return sum((i + 1) * o for i, o in zip(self.sizes[:-1], self.sizes[1:]))

    def init(self, n_models: int, generator: torch.Generator, *, device=None,
             dtype: torch.dtype = torch.float32) -> Tensor:
        """Fresh parameters ``[n_models, P]``, drawn on CPU (float64) with ``generator``, then moved."""
        parts = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            std = math.sqrt(2.0 / (fan_in + fan_out))
            parts += [torch.randn(n_models, fan_out * fan_in, generator=generator, dtype=torch.float64) * std,
                      torch.zeros(n_models, fan_out, dtype=torch.float64)]
        return torch.cat(parts, 1).to(device=device, dtype=dtype)

    def layers(self, flat: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Views ``[(W [E, out, in], b [E, 1, out]), ...]`` of ``flat [E, P]``.

        One ``split`` (its backward is one ``cat``, where per-layer slicing would zero-fill a
        full-size gradient per slice)."""
        if flat.ndim != 2 or flat.shape[1] != self.n_params:
            raise DataError(f"network parameters must have shape [E, {self.n_params}], got {tuple(flat.shape)}")
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        parts = flat.split([n for i, o in pairs for n in (i * o, o)], dim=1)
        return [(parts[2 * k].view(-1, o, i), parts[2 * k + 1].unsqueeze(1)) for k, (i, o) in enumerate(pairs)]

    def forward(self, flat: Tensor, inputs: Tensor) -> Tensor:
        """``u [E, n]`` at ``inputs [n, 2]`` (shared by the networks) or ``[E, n, 2]``."""
        layers = self.layers(flat)
        h = inputs
        for k, (w, b) in enumerate(layers):
            h = torch.matmul(h, w.transpose(1, 2)) + b
            if k < len(layers) - 1:
                h = torch.tanh(h)
        return h.squeeze(-1)

    def forward_uxx(self, flat: Tensor, inputs: Tensor, n_deriv: int | None = None) -> tuple[Tensor, Tensor]:
        """``(u [E, n], u_xx [E, n_deriv])`` at ``inputs [n, 2]`` or ``[E, n, 2]`` (x is column 0).

        ``u_xx`` is computed at the first ``n_deriv`` rows only (default: all): one pass gives the
        PDE residual's ``u, u_xx`` at the collocation points and plain values at boundary and data
        points, with one matmul per layer for all of them."""
        layers = self.layers(flat)
        n = inputs.shape[-2]
        nd = n if n_deriv is None else n_deriv
        if not 0 <= nd <= n:
            raise DataError(f"n_deriv must be in [0, {n}], got {n_deriv!r}")
        w, b = layers[0]
        z = torch.matmul(inputs, w.transpose(1, 2)) + b     # [E, n, width]
        dz = w[:, :, 0].unsqueeze(1)                        # [E, 1, width]: dz/dx of the first layer
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
        return z.squeeze(-1), d2z.squeeze(-1)
