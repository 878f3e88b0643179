"""Per-network losses of a stack of PINNs ``(x, alpha) -> u``: data misfit, PDE residual,
boundary residual.

Derivatives for the residual: the explicit pass (:meth:`~taskdd.nets.MLP.forward_d2`, tanh
networks, ``u_xx`` only: the fast path) or the general one, :func:`derivatives_autograd` (nested
reverse-mode autograd over the whole pool at once: any activation, ``u_x`` and ``u_xx``).

Every function takes the architecture ``spec`` (a :class:`~taskdd.nets.MLP` with 2 inputs and 1
output) and parameters ``[E, P]`` of ``E`` networks and returns ``[E]`` mean squared errors.
:class:`LossTerms` evaluates all three with one forward pass through the networks (collocation,
boundary and data points stacked). A family that uses ``u_x`` gets ``u_x, u_xx`` from
:func:`derivatives_autograd` instead of the explicit pass; at Neumann edges the boundary term
compares the derivative along the collocation's ``neumann_dir`` (:func:`directional_derivative`:
``u_x`` in 1D, the outward normal derivative on a geometry) with the family's boundary data. With a
:class:`~taskdd.tasks.pinn.coef.CoefMLP` (the inverse problem) each network's residual uses its own
learned coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from taskdd.errors import ConfigError, DataError
from taskdd.nets import MLP
from taskdd.tasks.pinn.coef import CoefMLP
from taskdd.tasks.pinn.coef_nd import COEF_FAMILIES, CoefGeometryFamily
from taskdd.tasks.pinn.geometry import GeometryFamily
from taskdd.tasks.pinn.problems import Collocation, Family

__all__ = ["DERIVATIVES", "general_path", "LossWeights", "LossTerms", "data_misfit", "stack_inputs",
           "derivatives_autograd", "directional_derivative"]


def stack_inputs(x: Tensor, alpha: Tensor) -> Tensor:
    """``[n, 2]`` network inputs from ``x [n]`` and ``alpha [n]`` (``[n, dim + 1]`` from ``x [n, dim]``)."""
    if x.ndim == 2 and x.shape[1] >= 2 and alpha.ndim == 1 and x.shape[0] == alpha.shape[0]:
        return torch.cat([x, alpha[:, None]], -1)
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


def derivatives_autograd(spec: MLP, params: Tensor, inputs: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(u, u_x, u_xx)``, each ``[E, n]``, of the ``E`` networks ``params [E, P]`` at ``inputs
    [n, 2]`` (``x`` = column 0), by autograd w.r.t. a per-network copy of the inputs (so network
    ``k``'s derivative is its own); the graph is kept, so the result can be differentiated again."""
    with torch.enable_grad():
        pts = inputs.detach().expand(params.shape[0], *inputs.shape).clone().requires_grad_(True)
        u = spec.forward(params, pts).squeeze(-1)
        (du,) = torch.autograd.grad(u.sum(), pts, create_graph=True)
        (d2u,) = torch.autograd.grad(du[..., 0].sum(), pts, create_graph=True)
    return u, du[..., 0], d2u[..., 0]


def directional_derivative(spec: MLP | CoefMLP, params: Tensor, inputs: Tensor, direction: Tensor) -> Tensor:
    """``[E, m]``: the derivative of the ``E`` networks at ``inputs [m, dim + 1]`` along
    ``direction [m, dim]`` over the inputs before alpha, by autograd (graph kept)."""
    with torch.enable_grad():
        pts = inputs.detach().expand(params.shape[0], *inputs.shape).clone().requires_grad_(True)
        (du,) = torch.autograd.grad(spec.forward(params, pts).sum(), pts, create_graph=True)
    return (du[..., :-1] * direction).sum(-1)


#: how LossTerms takes the residual's derivatives: "explicit" (``MLP.forward_d2``, tanh, ``u_xx``
#: only), "general" (:func:`derivatives_autograd`: any activation, ``u_x`` and ``u_xx``), "auto"
#: (explicit unless the family uses ``u_x`` or the activation is not tanh)
DERIVATIVES = ("auto", "explicit", "general")


def general_path(derivatives: str, problem: Family, spec: MLP | CoefMLP) -> bool:
    """Whether ``derivatives`` (one of :data:`DERIVATIVES`) takes the general path for ``problem``
    and networks ``spec``; ConfigError for an unknown setting or an explicit pass that cannot serve
    (a :class:`GeometryFamily` always takes the general path)."""
    if derivatives not in DERIVATIVES:
        raise ConfigError(f"derivatives must be one of {list(DERIVATIVES)}, got {derivatives!r}")
    if isinstance(problem, GeometryFamily):
        if derivatives == "explicit":
            raise ConfigError(f"PDE family {problem.name!r} on a geometry does not take the explicit derivative "
                              f"pass; use derivatives='general' or 'auto'")
        return True
    tanh = getattr(spec, "net", spec).activation == "tanh"
    if derivatives == "explicit" and (problem.uses_u_x or not tanh):
        raise ConfigError(f"the explicit derivative pass takes u_xx of tanh networks only; PDE family "
                          f"{problem.name!r} (uses_u_x={problem.uses_u_x}) needs derivatives='general' or 'auto'")
    return derivatives == "general" or problem.uses_u_x or not tanh


class LossTerms:
    """The data misfit on ``x, alpha, y [n]`` and the PDE and boundary residuals at ``colloc``,
    from one pass: ``terms(params [E, P]) -> (misfit, pde, bc)``, each ``[E]`` (misfit zero when
    ``n = 0``). The stacked inputs are built once, so a training loop reuses them every step.
    derivatives: one of :data:`DERIVATIVES`."""

    def __init__(self, spec: MLP | CoefMLP, problem: Family, colloc: Collocation, x: Tensor, alpha: Tensor,
                 y: Tensor, derivatives: str = "auto"):
        self.general = general_path(derivatives, problem, spec)
        if isinstance(spec, CoefMLP) and not isinstance(problem, COEF_FAMILIES):
            raise ConfigError(f"networks with a learned coefficient need a CoefFamily or CoefGeometryFamily, "
                              f"got {problem!r}")
        self.spec, self.problem, self.y = spec, problem, y
        self.n_interior, self.n_boundary = colloc.interior.shape[0], colloc.boundary.shape[0]
        self.geo = isinstance(problem, GeometryFamily)
        self.x_interior = colloc.interior[:, :-1] if self.geo else colloc.interior[:, 0]
        self.boundary_u = colloc.boundary_u
        self.inputs = torch.cat([colloc.interior, colloc.boundary, stack_inputs(x, alpha).to(colloc.interior)])
        self.interior, self.boundary = colloc.interior, colloc.boundary
        self.neumann_dir = colloc.neumann_dir
        self.neumann = None if self.neumann_dir is None else self.neumann_dir.abs().sum(-1) > 0

    def __call__(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        if self.geo:
            u_in, partials = self.problem.partials(self.spec, params, self.interior)
            u_bc, u_data = self.spec.forward(params, self.inputs[self.n_interior:]).squeeze(-1).split(
                [self.n_boundary, self.y.shape[0]], dim=1)
        elif self.general:
            u_in, u_x, u_xx = derivatives_autograd(self.spec, params, self.interior)
            u_bc, u_data = self.spec.forward(params, self.inputs[self.n_interior:]).squeeze(-1).split(
                [self.n_boundary, self.y.shape[0]], dim=1)
        else:
            u, u_xx = (t.squeeze(-1) for t in self.spec.forward_d2(params, self.inputs, n_deriv=self.n_interior))
            u_in, u_bc, u_data = u.split([self.n_interior, self.n_boundary, self.y.shape[0]], dim=1)
            u_x = None
        if self.neumann is not None:
            u_bc = torch.where(self.neumann, directional_derivative(self.spec, params, self.boundary,
                                                                    self.neumann_dir), u_bc)
        if isinstance(self.problem, CoefGeometryFamily) and isinstance(self.spec, CoefMLP):
            r = self.problem.residual_with(self.spec.coef(params)[:, None], self.x_interior, u_in, partials)
        elif self.geo:
            r = self.problem.residual(self.x_interior, u_in, partials)
        elif isinstance(self.spec, CoefMLP):
            r = self.problem.residual_with(self.spec.coef(params)[:, None], self.x_interior, u_in, u_xx, u_x)
        else:
            r = self.problem.residual(self.x_interior, u_in, u_xx, u_x)
        pde = (r**2).mean(-1)
        bc = ((u_bc - self.boundary_u) ** 2).mean(-1)
        misfit = ((u_data - self.y) ** 2).mean(-1) if self.y.shape[0] else torch.zeros_like(bc)
        return misfit, pde, bc

    def weighted(self, params: Tensor, weights: LossWeights) -> Tensor:
        """``[E]``: the weighted sum of the three terms."""
        misfit, pde, bc = self(params)
        return weights.data * misfit + weights.pde * pde + weights.bc * bc
