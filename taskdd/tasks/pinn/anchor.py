"""Anchoring synthetic labels to the real measurements near them.

A synthetic point ``(x_s, alpha_s, y_s)`` inside the measured region should carry a label close to
what the measurements around it say; outside it (the extrapolation the set is for) nothing
constrains it. :func:`label_anchor` is the penalty ``mean_s rho_s (y_s - ybar_s)^2`` with
``ybar_s`` the Gaussian-kernel mean of the real labels around ``(x_s, alpha_s)`` and ``rho_s =
W_s / (W_s + 1)`` (``W_s`` the kernel mass there: about 1 amid the data, 0 far from it). The
kernel's widths are ``bandwidth`` times the real inputs' spread (max - min) per coordinate. Only
the labels are pulled: the kernel weights are computed from detached inputs.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from taskdd.errors import ConfigError

__all__ = ["label_anchor"]


def label_anchor(synthetic: Any, real: Any, bandwidth: float) -> Tensor:
    """The anchor penalty (module doc), a scalar differentiable in ``synthetic["y"]``; both sets are
    indexed by "x" (``[n]`` or ``[n, dim]``), "alpha" and "y" (``[n]``)."""
    if not bandwidth > 0:
        raise ConfigError(f"the label anchor's bandwidth must be > 0, got {bandwidth!r}")
    pts = [(synthetic[k].detach(), real[k].detach()) for k in ("x", "alpha")]
    sq = 0.0
    for s, r in pts:
        s, r = (s[:, None], r[:, None]) if s.ndim == 1 else (s, r)
        width = bandwidth * (r.amax(0) - r.amin(0)).clamp_min(1e-12)
        sq = sq + (((s[:, None, :] - r[None, :, :]) / width) ** 2).sum(-1)
    k = (-0.5 * sq).exp()                                    # [S, N]
    mass = k.sum(1)
    ybar = (k @ real["y"].to(k)) / mass.clamp_min(1e-30)
    rho = mass / (mass + 1)
    return (rho * (synthetic["y"] - ybar) ** 2).mean()
