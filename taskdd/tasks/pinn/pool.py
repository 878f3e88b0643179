"""A pool of networks trained continuously while the synthetic set changes (truncated unrolling).

Each call to :meth:`NetworkPool.advance` takes ``steps`` Adam steps of every network with the
graph kept, so an outer loss on the result reaches the synthetic set through those steps only
(earlier steps are detached: truncated backpropagation of depth ``steps``). Network ``k`` has a
fixed lifetime, spread evenly over ``lifetimes = (lo, hi)`` inner steps, so the pool always mixes
young and old networks; when a network reaches its lifetime it is re-initialised (with the step's
generator) and first trained ``warmup`` steps without graph, so every network that enters the
outer loss is at least ``warmup`` steps old. Each network keeps its own Adam state and step count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
from torch import Tensor

from taskdd.errors import CheckpointError, ConfigError
from taskdd.nets import MLP, AdamConfig, AdamState, LossFn, train

__all__ = ["NetworkPool"]


@dataclass
class NetworkPool:
    """``size`` networks of architecture ``spec`` with staggered lifetimes (see module doc)."""

    spec: MLP
    adam: AdamConfig
    size: int = 4
    warmup: int = 300
    lifetimes: tuple[int, int] = (500, 2000)

    def __post_init__(self):
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 1:
            raise ConfigError(f"pool_size must be an int >= 1, got {self.size!r}")
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ConfigError(f"warmup must be an int >= 0, got {self.warmup!r}")
        lo, hi = self.lifetimes
        if not (isinstance(lo, int) and isinstance(hi, int) and self.warmup < lo <= hi):
            raise ConfigError(f"lifetimes must be ints (lo, hi) with warmup ({self.warmup}) < lo <= hi, "
                              f"got {self.lifetimes!r}")
        self.params: Tensor | None = None
        self.state: AdamState | None = None
        self.age: Tensor | None = None

    @property
    def lifetime(self) -> Tensor:
        """``[size]`` long: each network's age at re-initialisation."""
        return torch.linspace(*self.lifetimes, self.size, dtype=torch.float64).round().long()

    def refresh(self, loss_fn: LossFn, generator: torch.Generator, like: Tensor) -> None:
        """Create the pool (on ``like``'s device and dtype) or re-initialise the networks that
        reached their lifetime; train the new ones ``warmup`` steps on ``loss_fn`` (no graph)."""
        if self.params is None:
            due = torch.ones(self.size, dtype=torch.bool)
            self.params = self.spec.init(self.size, generator, device=like.device, dtype=like.dtype)
            self.state = AdamState.zeros(self.params)
            self.age = torch.zeros(self.size, dtype=torch.long)
        else:
            self.params = self.params.to(like)
            self.state = AdamState(*(t.to(like) for t in (self.state.m, self.state.v, self.state.t)))
            due = self.age >= self.lifetime
            if due.any():
                idx = due.nonzero()[:, 0].to(like.device)
                fresh = self.spec.init(len(idx), generator, device=like.device, dtype=like.dtype)
                self.params = self.params.index_copy(0, idx, fresh)
                self.state = self._put(idx, AdamState.zeros(fresh))
                self.age[due] = 0
        if due.any():
            idx = due.nonzero()[:, 0].to(like.device)
            sub = AdamState(*(t.index_select(0, idx) for t in (self.state.m, self.state.v, self.state.t)))
            p, s = train(self.params.index_select(0, idx), sub, loss_fn, self.warmup, self.adam)
            self.params = self.params.index_copy(0, idx, p)
            self.state = self._put(idx, s)
            self.age[due] += self.warmup

    def _put(self, idx: Tensor, sub: AdamState) -> AdamState:
        """The pool's Adam state with rows ``idx`` replaced by ``sub``."""
        return AdamState(self.state.m.index_copy(0, idx, sub.m), self.state.v.index_copy(0, idx, sub.v),
                         self.state.t.index_copy(0, idx, sub.t))

    def advance(self, loss_fn: LossFn, steps: int) -> Tensor:
        """Train every network ``steps`` Adam steps with the graph kept; store the detached result
        and return the differentiable parameters ``[size, P]``."""
        if self.params is None:
            raise ConfigError("the pool is empty: call refresh() first")
        params, state = train(self.params, self.state, loss_fn, steps, self.adam, create_graph=True)
        self.params, self.state = params.detach(), state.detach()
        self.age += steps
        return params

    def state_dict(self) -> dict[str, Any]:
        if self.params is None:
            return {}
        return {"params": self.params.detach().cpu(), "m": self.state.m.cpu(), "v": self.state.v.cpu(),
                "t": self.state.t.cpu(), "age": self.age.clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not state:
            self.params = self.state = self.age = None
            return
        try:
            params, age = state["params"], state["age"]
            adam = AdamState(state["m"], state["v"], state["t"])
        except KeyError as e:
            raise CheckpointError(f"PINN pool state lacks {e.args[0]!r}") from None
        if tuple(params.shape) != (self.size, self.spec.n_params) or tuple(age.shape) != (self.size,):
            raise CheckpointError(f"PINN pool state has parameters {tuple(params.shape)}, expected "
                                  f"({self.size}, {self.spec.n_params})")
        self.params, self.state, self.age = params, adam, age.clone().long()
