"""Small MLPs as (module, parameter dict) pairs for ``torch.func.functional_call``.

The module lives on the ``meta`` device and holds no numbers; parameters are plain tensors drawn
from a ``torch.Generator`` (PyTorch's default ``nn.Linear`` law, U(-1/sqrt(fan_in), 1/sqrt(fan_in))),
optionally stacked with a leading model dimension ``[E, ...]`` to train ``E`` networks at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from taskdd.errors import ConfigError

__all__ = ["ACTIVATIONS", "MLPSpec", "Params", "ensemble_forward", "EnsembleTrainer", "train_ensemble", "accuracy"]

Params = dict[str, Tensor]


ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU}


@dataclass(frozen=True)
class MLPSpec:
    """An MLP with ``depth`` hidden layers of ``width`` units and ``activation`` ("relu" | "gelu")."""

    width: int = 512
    depth: int = 1
    activation: str = "relu"

    def __post_init__(self):
        for name, val, lo in (("width", self.width, 1), ("depth", self.depth, 0)):
            if not isinstance(val, int) or isinstance(val, bool) or val < lo:
                raise ConfigError(f"MLP {name} must be an int >= {lo}, got {val!r}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"MLP activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")

    def module(self, d_in: int, n_out: int) -> nn.Sequential:
        """The architecture (on the meta device: shapes only)."""
        layers: list[nn.Module] = []
        d = d_in
        for _ in range(self.depth):
            layers += [nn.Linear(d, self.width, device="meta"), ACTIVATIONS[self.activation]()]
            d = self.width
        layers.append(nn.Linear(d, n_out, device="meta"))
        return nn.Sequential(*layers)

    def init(self, module: nn.Module, generator: torch.Generator, *, n_models: int | None = None,
             device=None, dtype: torch.dtype | None = None) -> Params:
        """Fresh parameters for ``module``; shapes ``[n_models, ...]`` when ``n_models`` is given."""
        lead = () if n_models is None else (n_models,)
        out = {}
        for name, p in module.named_parameters():
            fan_in = p.shape[1] if p.ndim == 2 else module.get_submodule(name.rsplit(".", 1)[0]).in_features
            u = torch.rand(lead + tuple(p.shape), generator=generator, dtype=dtype or torch.get_default_dtype())
            out[name] = ((2 * u - 1) / fan_in**0.5).to(device)
        return out


def ensemble_forward(module: nn.Module, params: Params, x: Tensor) -> Tensor:
    """Logits ``[E, n, C]`` of ``E`` stacked networks for shared inputs ``x [n, p]``."""
    return torch.func.vmap(functional_call, in_dims=(None, 0, None))(module, params, (x,))


class EnsembleTrainer:
    """Adam on the cross-entropy of ``E`` stacked networks, each on its own (losses summed, so
    every network gets exactly the update it would get alone). params: stacked ``[E, ...]``."""

    def __init__(self, module: nn.Module, params: Params, lr: float):
        self.module = module
        self._p = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
        self._opt = torch.optim.Adam(list(self._p.values()), lr=lr, fused=True)

    def step(self, x: Tensor, y: Tensor) -> None:
        """One Adam step on the batch ``x [n, p]``, ``y [n]``."""
        with torch.enable_grad():
            logits = ensemble_forward(self.module, self._p, x.detach())
            loss = F.cross_entropy(logits.flatten(0, 1), y.repeat(logits.shape[0]), reduction="sum") / len(y)
            self._opt.zero_grad(set_to_none=True)
            loss.backward()
            self._opt.step()

    @property
    def params(self) -> Params:
        """The current parameters (detached)."""
        return {k: v.detach() for k, v in self._p.items()}


def train_ensemble(module: nn.Module, params: Params, x: Tensor, y: Tensor, *, steps: int,
                   lr: float) -> Params:
    """``steps`` full-batch Adam steps of :class:`EnsembleTrainer` on ``(x [n, p], y [n])``."""
    trainer = EnsembleTrainer(module, params, lr)
    for _ in range(steps):
        trainer.step(x, y)
    return trainer.params


def accuracy(module: nn.Module, params: Params, x: Tensor, y: Tensor) -> Tensor:
    """Test accuracy of each stacked network, ``[E]``."""
    with torch.no_grad():
        return (ensemble_forward(module, params, x).argmax(-1) == y).to(x.dtype).mean(-1)
