"""The inverse PINN task: the PDE coefficient is unknown to the learner and learned with the
networks from the data (deepxde's ``dde.Variable`` pattern), and a measurement-design baseline.

:class:`InversePINNTask` (registered as "pinn-inverse") is :class:`~taskdd.tasks.pinn.PINNTask`
on a :class:`~taskdd.tasks.pinn.coef.CoefFamily` whose networks each carry a coefficient ``k``
(:class:`~taskdd.tasks.pinn.coef.CoefMLP`), started at ``coef`` and trained with the weights by the
same Adam steps; the learner's and the score's residuals use each network's own ``k`` (the score
cannot use the true one: it is unknown). With ``learn_coef=False`` the physics holds the fixed
``coef`` instead (``wrong_coef``: a wrong prior; ``oracle``: the true value). ``evaluate`` adds
``coef`` (mean learned ``k`` over the networks) and ``coef_rel_err`` (mean of ``|k - k_true| /
k_true``) to the solution errors.

:func:`d_optimal_subset` is the classic design baseline: the locally D-optimal choice of
``budget`` real measurements for the coefficient. The Fisher information of measurement ``i``
about ``k`` (Gaussian noise) is ``s_i^2 / sigma^2`` with the sensitivity ``s_i = du/dk (x_i,
alpha_i)`` at the nominal coefficient (the learner's prior), here by a central difference of the
family's ``coef_reference``; a set's information is the sum, so for one coefficient (a 1 x 1
information matrix) the D-optimal set -- the one maximising its determinant, which greedy
selection finds exactly here -- is the ``budget`` measurements of largest ``|s_i|``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from taskdd.data import Samples
from taskdd.errors import ConfigError
from taskdd.registry import register_task
from taskdd.synthetic import SyntheticSet
from taskdd.tasks.pinn.anchor import label_anchor
from taskdd.tasks.pinn.coef import CoefFamily, CoefMLP
from taskdd.tasks.pinn.coef_nd import COEF_FAMILIES, CoefGeometryFamily
from taskdd.tasks.pinn.pool import NetworkPool
from taskdd.tasks.pinn.task import PINNModel, PINNTask

__all__ = ["InversePINNTask", "d_optimal_subset", "coef_sensitivity"]


@register_task("pinn-inverse")
@dataclass
class InversePINNTask(PINNTask):
    """:class:`PINNTask` with the PDE coefficient learned (module doc). pde: a
    :class:`~taskdd.tasks.pinn.coef.CoefFamily` (or, on a geometry,
    :class:`~taskdd.tasks.pinn.coef_nd.CoefGeometryFamily`) or its registered name; coef: the learner's
    initial coefficient (``learn_coef=True``) or its fixed one (False); coef_scale: the
    coefficient's step multiplier (:class:`~taskdd.tasks.pinn.coef.CoefMLP`)."""

    pde: str | CoefFamily | CoefGeometryFamily = "poisson-k"
    coef: float = 2.0
    learn_coef: bool = True
    coef_scale: float = 10.0
    anchor_weight: float = 0.0
    anchor_bandwidth: float = 0.1

    def __post_init__(self):
        super().__post_init__()
        if not isinstance(self.problem, COEF_FAMILIES):
            raise ConfigError(f"the inverse task needs a PDE family with a coefficient (CoefFamily or "
                              f"CoefGeometryFamily), "
                              f"got {self.problem!r}")
        if not (isinstance(self.coef, (int, float)) and math.isfinite(self.coef) and self.coef > 0):
            raise ConfigError(f"coef must be a finite number > 0, got {self.coef!r}")
        if not (isinstance(self.anchor_weight, (int, float)) and self.anchor_weight >= 0):
            raise ConfigError(f"anchor_weight must be a number >= 0, got {self.anchor_weight!r}")
        if not (isinstance(self.anchor_bandwidth, (int, float)) and self.anchor_bandwidth > 0):
            raise ConfigError(f"anchor_bandwidth must be a number > 0, got {self.anchor_bandwidth!r}")
        self.true_coef = self.problem.true_coef
        if self.learn_coef:
            self.spec = CoefMLP(self.spec, float(self.coef), float(self.coef_scale))
        else:
            self.problem = self.problem.at(float(self.coef))
        self.pool = NetworkPool(self.spec, self.adam, self.pool_size, *self._pool_ages())

    def objective(self, synthetic: SyntheticSet, sources: Samples, *, part=None, generator=None) -> Tensor:
        """The score of the fitted pool, less the label anchor when ``anchor_weight > 0``."""
        value = super().objective(synthetic, sources, part=part, generator=generator)
        if not self.anchor_weight:
            return value
        return value - self.anchor_weight * label_anchor(synthetic, sources, self.anchor_bandwidth)

    def coef_of(self, model: PINNModel) -> Tensor:
        """``k [E]`` of the model's networks (the fixed coefficient when it is not learned)."""
        if isinstance(model.spec, CoefMLP):
            return model.spec.coef(model.params.detach())
        return model.params.new_full(model.params.shape[:1], float(self.coef))

    def coef_metrics(self, model: PINNModel) -> dict[str, float]:
        """``coef`` (mean ``k`` over the networks) and ``coef_rel_err`` (mean relative error)."""
        k = self.coef_of(model).double()
        return {"coef": float(k.mean()), "coef_rel_err": float(((k - self.true_coef).abs() / self.true_coef).mean())}

    def metrics(self, model: PINNModel, test: Samples) -> dict[str, float]:
        """The solution errors of :meth:`PINNTask.metrics` and the coefficient's (module doc)."""
        return {**super().metrics(model, test), **self.coef_metrics(model)}


def coef_sensitivity(family: CoefFamily | CoefGeometryFamily, x: Tensor, alpha: Tensor, coef: float, *,
                     rel_step: float = 1e-4) -> np.ndarray:
    """``du/dk [N]`` at ``x, alpha [N]`` and ``k = coef``, by a central difference of the family's
    ``coef_reference`` (step ``rel_step * coef``); ConfigError if the family has none."""
    if family.coef_reference is None:
        raise ConfigError(f"PDE family {family.name!r} has no coef_reference(x, alpha, k): "
                          "no sensitivity to design for")
    xd, ad = x.detach().cpu().double().numpy(), alpha.detach().cpu().double().numpy()
    h = rel_step * coef
    up, down = (np.asarray(family.coef_reference(xd, ad, k=coef + d)) for d in (h, -h))
    return (up - down) / (2 * h)


def d_optimal_subset(family: CoefFamily | CoefGeometryFamily, sources: Samples, budget: int, nominal_coef: float) -> SyntheticSet:
    """The ``budget`` measurements of ``sources`` that are locally D-optimal for the coefficient at
    ``nominal_coef`` (module doc), as a fixed set (nothing learnable). Ties go to the lower index."""
    if not (isinstance(budget, int) and 1 <= budget <= len(sources)):
        raise ConfigError(f"budget must be an int in [1, {len(sources)}], got {budget!r}")
    s = np.abs(coef_sensitivity(family, sources["x"], sources["alpha"], nominal_coef))
    idx = torch.as_tensor(np.argsort(-s, kind="stable")[:budget], device=sources.device)
    return SyntheticSet([{k: sources[k][idx] for k in ("x", "alpha", "y")}], learnable=[])
