"""Matching objectives: gradient matching (Zhao et al. 2021) and distribution matching (Zhao &
Bilen 2023). Both compare per-class statistics of real and synthetic data under one network.

Inputs are grouped by class: ``x [C, m, p]``, with the same ``m`` within one tensor (real and
synthetic may differ). Everything is written with ``torch.func`` so the result is differentiable
w.r.t. the synthetic inputs by ordinary autograd, and still computes under ``torch.no_grad()``
(zeroth-order distillation).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.func import grad, vmap

from taskdd.nets import MLP

__all__ = ["class_gradients", "gradient_distance", "gradient_matching_loss", "distribution_matching_loss"]


def class_gradients(net: MLP, params: Tensor, x: Tensor) -> Tensor:
    """Gradient of the mean cross-entropy of each class's examples w.r.t. one network's ``params [P]``.

    x: [C, m, p], row ``c`` labelled ``c``. Returns ``[C, P]``.
    """
    def loss(p: Tensor, xc: Tensor, yc: Tensor) -> Tensor:
        return F.cross_entropy(net.forward(p, xc), yc)

    C, m = x.shape[:2]
    y = torch.arange(C, device=x.device)[:, None].expand(C, m)
    return vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)


def gradient_distance(net: MLP, a: Tensor, b: Tensor) -> Tensor:
    """DC's layer-wise distance: sum over classes, weight matrices and output units of
    ``1 - cos`` between the two gradients' rows. Biases are left out, as in the paper.

    a, b: ``[C, P]`` from :func:`class_gradients` (read as ``net``'s layers).
    """
    total = 0
    for (wa, _), (wb, _) in zip(net.layers(a), net.layers(b)):  # weights [C, out, in]
        total = total + (1 - F.cosine_similarity(wa, wb, dim=-1, eps=1e-8)).sum()
    return total


def gradient_matching_loss(net: MLP, params: Tensor, x_real: Tensor, x_syn: Tensor) -> Tensor:
    """Distance between per-class gradients on real ``[C, m, p]`` and synthetic ``[C, k, p]`` data."""
    with torch.no_grad():
        g_real = class_gradients(net, params, x_real)
    return gradient_distance(net, g_real, class_gradients(net, params, x_syn))


def distribution_matching_loss(net: MLP, params: Tensor, x_real: Tensor, x_syn: Tensor) -> Tensor:
    """Sum over classes of the squared distance between mean embeddings (``net``'s last hidden
    layer, one network ``params [P]``) of real ``[C, m, p]`` and synthetic ``[C, k, p]`` data
    (maximum mean discrepancy with a random network's features)."""
    with torch.no_grad():
        mu_real = net.features(params, x_real).mean(1)
    return ((mu_real - net.features(params, x_syn).mean(1)) ** 2).sum()
