"""The PINN learner through deepxde's own training loop (``Model.train``): the reference that
the batched solver is checked and timed against.

Same problem, points, loss weights, architecture and initial weights as :class:`PINNTask`'s
learner: the PDE residual on the interior collocation points (anchors), the boundary values (``u_x`` at
Neumann edges: ``PointSetOperatorBC``) and the measurements as ``PointSetBC`` terms, Adam with the task's ``inner_lr``. deepxde trains in
float32 on torch's default device; the result is returned in the data's dtype and device.
"""

from __future__ import annotations

import io
import logging
from contextlib import redirect_stdout

import torch
from torch import Tensor

from taskdd.errors import ConfigError
from taskdd.tasks.pinn.dde_import import import_deepxde, isolated_globals
from taskdd.tasks.pinn.losses import stack_inputs
from taskdd.tasks.pinn.task import PINNModel, PINNTask

__all__ = ["deepxde_model", "train_deepxde"]

log = logging.getLogger(__name__)


def deepxde_model(task: PINNTask, x: Tensor, alpha: Tensor, y: Tensor, init: Tensor):
    """A compiled ``deepxde.Model`` for ``task``'s learner on the measurements ``x, alpha, y [n]``,
    its FNN set to the flat parameters ``init [P]`` (layout of :class:`~taskdd.nets.MLP`)."""
    if task.problem.dim > 1:
        raise ConfigError(f"the deepxde learner takes 1D families only; PDE family {task.problem.name!r} "
                          f"has {task.problem.dim} inputs besides alpha")
    dde = import_deepxde()
    colloc = task.collocation("learner", torch.empty(0, dtype=torch.float32))
    lo, hi = task.physics_range
    x_lo, x_hi = task.problem.domain
    with isolated_globals(), redirect_stdout(io.StringIO()):
        net = dde.nn.FNN(task.spec.sizes, "tanh", "Glorot normal")
        with torch.no_grad():
            for linear, (w, b) in zip(net.linears, task.spec.layers(init.detach().float().cpu()[None])):
                linear.weight.copy_(w[0])
                linear.bias.copy_(b[0, 0])
        bcs, weights = _boundary_terms(dde, task, colloc.boundary, colloc.boundary_u)
        weights = [task.pde_weight, *weights]
        if x.shape[0] > 0:
            pts = stack_inputs(x, alpha).detach().float().cpu().numpy()
            bcs.append(dde.icbc.PointSetBC(pts, y.detach().float().cpu()[:, None].numpy()))
            weights.append(task.data_weight)
        data = dde.data.PDE(dde.geometry.Rectangle([x_lo, lo], [x_hi, hi]), task.problem.deepxde_pde(), bcs,
                            num_domain=0, num_boundary=0, anchors=colloc.interior.numpy())
        model = dde.Model(data, net)
        model.compile("adam", lr=task.inner_lr, loss_weights=weights, verbose=0)
    return model


def _boundary_terms(dde, task: PINNTask, points: Tensor, values: Tensor) -> tuple[list, list[float]]:
    """deepxde terms for the edge points ``[m, 2]``: ``PointSetBC`` on the Dirichlet ones and a
    ``PointSetOperatorBC`` on ``u_x`` at the Neumann ones, each weighted by its share of the points so
    that the sum is the task's one boundary mean (weight ``bc_weight``)."""
    mask = task.problem.neumann_mask(points[:, 0])
    mask = torch.zeros(len(points), dtype=torch.bool) if mask is None else mask
    bcs, weights = [], []
    for neumann in (False, True):
        pick = mask == neumann
        if not pick.any():
            continue
        pts, vals = points[pick].numpy(), values[pick][:, None].numpy()
        bcs.append(dde.icbc.PointSetOperatorBC(pts, vals, lambda inputs, u, _: dde.grad.jacobian(u, inputs, i=0, j=0))
                   if neumann else dde.icbc.PointSetBC(pts, vals))
        weights.append(task.bc_weight * float(pick.sum()) / len(points))
    return bcs, weights


def train_deepxde(task: PINNTask, x: Tensor, alpha: Tensor, y: Tensor, n_models: int,
                  generator: torch.Generator, steps: int | None = None) -> PINNModel:
    """``n_models`` networks, each trained by ``deepxde.Model.train`` for ``steps`` (default the
    task's ``eval_steps``) Adam steps from initial weights drawn with ``generator``."""
    steps = task.eval_steps if steps is None else steps
    trained = []
    for init in task.spec.init(n_models, generator, dtype=torch.float32):
        model = deepxde_model(task, x, alpha, y, init)
        out = io.StringIO()
        with isolated_globals(), redirect_stdout(out):
            model.train(iterations=steps, display_every=max(steps, 1), verbose=0)
        log.debug("deepxde: %s", out.getvalue().strip())
        trained.append(torch.cat([t for linear in model.net.linears
                                  for t in (linear.weight.detach().reshape(-1), linear.bias.detach())]))
    return PINNModel(task.spec, torch.stack(trained).to(device=x.device, dtype=x.dtype))
