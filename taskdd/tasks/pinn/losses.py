"""Per-network losses of a stack of PINNs ``(x, alpha) -> u``: data misfit, PDE residual,
boundary residual.

Every function takes the architecture ``spec`` (a :class:`~taskdd.nets.MLP` with 2 inputs and 1
output) and parameters ``[E, P]`` of ``E`` networks and returns ``[E]`` mean squared errors.
:class:`LossTerms` evaluates all three with one forward pass through the networks (collocation,
boundary and data points stacked).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from taskdd.errors import DataError
from taskdd.nets import MLP
from taskdd.tasks.pinn.problems import Collocation, PDEProblem

__all__ = ["LossWeights", "LossTerms", "data_misfit", "stack_inputs"]


def stack_inputs(x: Tensor, alpha: Tensor) -> Tensor:
    """``[n, 2]`` network inputs from ``x [n]`` and ``alpha [n]``."""
    if x.ndim != 1 or alpha.shape != x.shape:
        raise DataError(f"x and alpha must both have shape [n], got {tuple(x.shape)} and {tuple(alpha.shape)}")
    return torch.stack([x, alpha], -1)


@dataclass(frozen=True)
class LossWeights:
    """Weights of the data, PDE and boundary terms."""

    data: float = 1.0
    pde: float = 1.0
    bc: float = 1.0


def data_misfit(spec: MLP, params: Tensor, x: Tensor, alpha: Tensor, y: Tensor) -> Tensor:
    """``[E]`` mean of ``(u(x, alpha) - y)^2`` over the ``n`` points (``x, alpha, y [n]``);
    zero when ``n = 0``."""
    if x.shape[0] == 0:
        return params.new_zeros(params.shape[0])
    return ((spec.forward(params, stack_inputs(x, alpha)).squeeze(-1) - y) ** 2).mean(-1)


class LossTerms:
    """The data misfit on ``x, alpha, y [n]`` and the PDE and boundary residuals at ``colloc``,
    from one pass: ``terms(params [E, P]) -> (misfit, pde, bc)``, each ``[E]`` (misfit zero when
    ``n = 0``). The stacked inputs are built once, so a training loop reuses them every step."""

    def __init__(self, spec: MLP, problem: PDEProblem, colloc: Collocation, x: Tensor, alpha: Tensor,
                 y: Tensor):
        self.spec, self.problem, self.y = spec, problem, y
        self.n_interior, self.n_boundary = colloc.interior.shape[0], colloc.boundary.shape[0]
        self.x_interior = colloc.interior[:, 0]
        self.boundary_u = colloc.boundary_u
        self.inputs = torch.cat([colloc.interior, colloc.boundary, stack_inputs(x, alpha).to(colloc.interior)])

    def __call__(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        u, u_xx = (t.squeeze(-1) for t in self.spec.forward_d2(params, self.inputs, n_deriv=self.n_interior))
        u_in, u_bc, u_data = u.split([self.n_interior, self.n_boundary, self.y.shape[0]], dim=1)
        pde = (self.problem.residual(self.x_interior, u_in, u_xx) ** 2).mean(-1)
        bc = ((u_bc - self.boundary_u) ** 2).mean(-1)
        misfit = ((u_data - self.y) ** 2).mean(-1) if self.y.shape[0] else torch.zeros_like(bc)
        return misfit, pde, bc

    def weighted(self, params: Tensor, weights: LossWeights) -> Tensor:
        """``[E]``: the weighted sum of the three terms."""
        misfit, pde, bc = self(params)
        return weights.data * misfit + weights.pde * pde + weights.bc * bc
