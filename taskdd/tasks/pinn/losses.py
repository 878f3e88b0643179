"""Per-network losses of a stack of PINNs: data misfit, PDE residual, boundary residual.

Every function takes the architecture ``spec`` and parameters ``[E, P]`` of ``E`` networks and
returns ``[E]`` mean squared errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from taskdd.tasks.pinn.networks import MLPSpec, stack_inputs
from taskdd.tasks.pinn.problems import Collocation, PDEProblem

__all__ = ["LossWeights", "data_misfit", "physics_residual", "physics_loss"]


@dataclass(frozen=True)
class LossWeights:
    """Weights of the data, PDE and boundary terms."""

    data: float = 1.0
    pde: float = 1.0
    bc: float = 1.0


def data_misfit(spec: MLPSpec, params: Tensor, x: Tensor, alpha: Tensor, y: Tensor) -> Tensor:
    """``[E]`` mean of ``(u(x, alpha) - y)^2`` over the ``n`` points (``x, alpha, y [n]``);
    zero when ``n = 0``."""
    if x.shape[0] == 0:
        return params.new_zeros(params.shape[0])
    return ((spec.forward(params, stack_inputs(x, alpha)) - y) ** 2).mean(-1)


def physics_residual(spec: MLPSpec, params: Tensor, problem: PDEProblem, colloc: Collocation) -> tuple[Tensor, Tensor]:
    """``([E], [E])``: mean squared PDE residual at the interior points and mean squared
    Dirichlet misfit at the boundary points."""
    u, u_xx = spec.forward_uxx(params, colloc.interior)
    pde = (problem.residual(colloc.interior[:, 0], u, u_xx) ** 2).mean(-1)
    bc = ((spec.forward(params, colloc.boundary) - colloc.boundary_u) ** 2).mean(-1)
    return pde, bc


def physics_loss(spec: MLPSpec, params: Tensor, problem: PDEProblem, colloc: Collocation,
                 weights: LossWeights) -> Tensor:
    """``[E]`` weighted PDE + boundary residual."""
    pde, bc = physics_residual(spec, params, problem, colloc)
    return weights.pde * pde + weights.bc * bc
