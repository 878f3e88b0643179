"""The PINN learner through deepxde's own training loop (``Model.train``): the reference that
the batched solver is checked and timed against.

Same problem, points, loss weights, architecture and initial weights as :class:`PINNTask`'s
learner, for 1D families and families on a geometry alike: the PDE residual on the interior
collocation points (anchors of a deepxde ``Hypercube`` over the inputs and alpha; the family's
``deepxde_pde``), the boundary and initial values and the measurements as ``PointSetBC`` terms
(Neumann points: ``PointSetOperatorBC`` on ``u_x`` in 1D, on the outward normal derivative on a
geometry), Adam with the task's ``inner_lr``. deepxde trains in float32 on torch's default
device; the result is returned in the data's dtype and device.
"""

from __future__ import annotations

import io
import logging
from contextlib import redirect_stdout
from functools import partial

import numpy as np
import torch
from torch import Tensor

from taskdd.tasks.pinn.dde_import import import_deepxde, isolated_globals
from taskdd.tasks.pinn.losses import stack_inputs
from taskdd.tasks.pinn.problems import Collocation
from taskdd.tasks.pinn.task import PINNModel, PINNTask

__all__ = ["deepxde_model", "train_deepxde"]

log = logging.getLogger(__name__)


def deepxde_model(task: PINNTask, x: Tensor, alpha: Tensor, y: Tensor, init: Tensor):
    """A compiled ``deepxde.Model`` for ``task``'s learner on the measurements ``x, alpha, y [n]``,
    its FNN set to the flat parameters ``init [P]`` (layout of :class:`~taskdd.nets.MLP`)."""
    dde = import_deepxde()
    colloc = task.collocation("learner", torch.empty(0, dtype=torch.float32))
    lo, hi = task.physics_range
    x_lo, x_hi = (task.problem.domain if task.problem.dim == 1 else (list(v) for v in task.problem.box()))
    with isolated_globals(), redirect_stdout(io.StringIO()):
        net = dde.nn.FNN(task.spec.sizes, "tanh", "Glorot normal")
        with torch.no_grad():
            for linear, (w, b) in zip(net.linears, task.spec.layers(init.detach().float().cpu()[None])):
                linear.weight.copy_(w[0])
                linear.bias.copy_(b[0, 0])
        bcs, weights = _boundary_terms(dde, task, colloc)
        weights = [task.pde_weight, *weights]
        if x.shape[0] > 0:
            pts = stack_inputs(x, alpha).detach().float().cpu().numpy()
            bcs.append(dde.icbc.PointSetBC(pts, y.detach().float().cpu()[:, None].numpy()))
            weights.append(task.data_weight)
        box = dde.geometry.Hypercube([*np.atleast_1d(x_lo), lo], [*np.atleast_1d(x_hi), hi])
        data = dde.data.PDE(box, task.problem.deepxde_pde(), bcs, num_domain=0, num_boundary=0,
                            anchors=colloc.interior.numpy())
        model = dde.Model(data, net)
        model.compile("adam", lr=task.inner_lr, loss_weights=weights, verbose=0)
    return model


def _boundary_terms(dde, task: PINNTask, colloc: Collocation) -> tuple[list, list[float]]:
    """deepxde terms for the boundary (and initial) points: ``PointSetBC`` on the Dirichlet ones and
    one ``PointSetOperatorBC`` per derivative direction at the Neumann ones (``u_x`` in 1D, the
    outward normal on a geometry), each weighted by its share of the points so that the sum is the
    task's one boundary mean (weight ``bc_weight``)."""
    points, values = colloc.boundary, colloc.boundary_u
    dirs = (torch.zeros(len(points), task.problem.dim) if colloc.neumann_dir is None
            else colloc.neumann_dir.float())
    bcs, weights = [], []
    for d in torch.unique(dirs, dim=0):
        pick = (dirs == d).all(1)
        pts, vals = points[pick].numpy(), values[pick][:, None].numpy()
        if not d.any():
            bcs.append(dde.icbc.PointSetBC(pts, vals))
        else:
            bcs.append(dde.icbc.PointSetOperatorBC(pts, vals, partial(_directional, dde, d.tolist())))
        weights.append(task.bc_weight * float(pick.sum()) / len(points))
    return bcs, weights


def _directional(dde, direction: list[float], inputs: Tensor, u: Tensor, _) -> Tensor:
    """``sum_j direction_j du/dx_j`` in deepxde's operator form."""
    return sum(c * dde.grad.jacobian(u, inputs, i=0, j=j) for j, c in enumerate(direction) if c)


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
