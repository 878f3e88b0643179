"""The classifiers' networks: MLPs of the small-network kit (:class:`taskdd.nets.MLP`) trained on
the cross-entropy.

:class:`MLPSpec` is an architecture without its sizes (hidden width, depth, activation);
:meth:`MLPSpec.network` sizes it for ``p`` inputs and ``C`` classes, with PyTorch's default
``nn.Linear`` init law, U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Parameters of ``E`` networks are one
flat tensor ``[E, P]`` (one network alone: ``[P]``); training is the kit's functional Adam with
``torch.optim.Adam``'s formula.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from taskdd.errors import ConfigError
from taskdd.nets import MLP, AdamConfig, AdamState, train

__all__ = ["ACTIVATIONS", "MLPSpec", "ensemble_forward", "ensemble_loss", "EnsembleTrainer", "train_ensemble",
           "accuracy"]

ACTIVATIONS = ("relu", "gelu")


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

    def network(self, d_in: int, n_out: int) -> MLP:
        """The architecture for ``d_in`` inputs and ``n_out`` classes."""
        return MLP(d_in, n_out, self.width, self.depth, self.activation, "torch_linear")

    def init(self, net: MLP, generator: torch.Generator, *, n_models: int | None = None, device=None,
             dtype: torch.dtype | None = None) -> Tensor:
        """Fresh parameters for ``net`` (from :meth:`network`): ``[n_models, P]``, or one network's
        ``[P]`` when ``n_models`` is None; in ``dtype`` (default: torch's default dtype)."""
        params = net.init(n_models or 1, generator, device=device, dtype=dtype or torch.get_default_dtype())
        return params[0] if n_models is None else params


def ensemble_forward(net: MLP, params: Tensor, x: Tensor) -> Tensor:
    """Logits ``[E, n, C]`` of ``E`` networks ``params [E, P]`` for shared inputs ``x [n, p]``."""
    return net.forward(params, x)


def ensemble_loss(net: MLP, params: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Scalar: the sum over the ``E`` networks of each one's mean cross-entropy on ``(x [n, p],
    y [n])``, so its gradient w.r.t. network ``k`` is network ``k``'s own."""
    logits = net.forward(params, x)
    return F.cross_entropy(logits.flatten(0, 1), y.repeat(logits.shape[0]), reduction="sum") / len(y)


class EnsembleTrainer:
    """Adam (``torch.optim.Adam``'s formula) on the cross-entropy of ``E`` networks, each on its
    own. params: ``[E, P]``."""

    def __init__(self, net: MLP, params: Tensor, lr: float):
        self.net = net
        self._p = params.detach()
        self._state = AdamState.zeros(self._p)
        self._adam = AdamConfig(lr=lr, eps_inside_sqrt=False)

    def step(self, x: Tensor, y: Tensor) -> None:
        """One Adam step on the batch ``x [n, p]``, ``y [n]``."""
        x = x.detach()
        self._p, self._state = train(self._p, self._state, lambda p: ensemble_loss(self.net, p, x, y), 1,
                                     self._adam)

    @property
    def params(self) -> Tensor:
        """The current parameters ``[E, P]`` (detached)."""
        return self._p


def train_ensemble(net: MLP, params: Tensor, x: Tensor, y: Tensor, *, steps: int, lr: float) -> Tensor:
    """``steps`` full-batch Adam steps of :class:`EnsembleTrainer` on ``(x [n, p], y [n])``."""
    trainer = EnsembleTrainer(net, params, lr)
    for _ in range(steps):
        trainer.step(x, y)
    return trainer.params


def accuracy(net: MLP, params: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """Test accuracy of each of the ``E`` networks, ``[E]``."""
    with torch.no_grad():
        return (net.forward(params, x).argmax(-1) == y).to(x.dtype).mean(-1)
