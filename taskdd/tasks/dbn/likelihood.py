"""Exact marginal log-likelihood of a linear-Gaussian DBN under missing, noisy observations.

State-space form: the state is the slice ``x_t`` itself. With ``L = (I - B)^{-1}``,
``x_t = F x_{t-1} + c + w_t``, ``F = L A``, ``c = L b``, ``w_t ~ N(0, Q)``,
``Q = L diag(s^2) L^T``; the first slice is ``N(m0, P0)`` with ``m0 = L0 b0``,
``P0 = L0 diag(s0^2) L0^T``, ``L0 = (I - B0)^{-1}``. Observation: ``y_t = x_t + v_t`` on the
observed entries, ``v_t ~ N(0, diag(r^2))``.

A missing entry gets a zero observation row, unit noise variance and ``y = 0``: it adds no
information and exactly ``-log(2 pi) / 2`` to the log-likelihood, which is taken out again. So
every sequence runs through the same batched Kalman filter whatever its mask (``[N, d, d]``
Cholesky factors per step, O(T) time).
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple

import torch
from torch import Tensor

from taskdd.errors import NonFiniteError

__all__ = ["StateSpace", "state_space", "regression_log_likelihood", "kalman_log_likelihood"]

_LOG_2PI = math.log(2 * math.pi)


class StateSpace(NamedTuple):
    """``m0 [d]``, ``P0 [d, d]``: first slice; ``F [d, d]``, ``c [d]``, ``Q [d, d]``: transition."""

    m0: Tensor
    P0: Tensor
    F: Tensor
    c: Tensor
    Q: Tensor


def state_space(p: Mapping[str, Tensor]) -> StateSpace:
    """The DBN parameters ``{B0, b0, s0, B, A, b, s}`` in state-space form (differentiable)."""
    eye = torch.eye(p["B"].shape[0], dtype=p["B"].dtype, device=p["B"].device)
    L0 = torch.linalg.inv(eye - p["B0"])
    L = torch.linalg.inv(eye - p["B"])
    P0 = (L0 * p["s0"].square()) @ L0.T
    Q = (L * p["s"].square()) @ L.T
    return StateSpace(L0 @ p["b0"], _sym(P0), L @ p["A"], L @ p["b"], _sym(Q))


def regression_log_likelihood(p: Mapping[str, Tensor], values: Tensor) -> Tensor:
    """Log-likelihood of fully observed, noise-free sequences, ``[N]``.

    The DBN factorises into one Gaussian regression per node and slice (``det(I - B) = 1`` for a
    DAG), so no filter is needed. values: [N, T, d].
    """
    x0 = values[:, 0]
    r0 = (x0 - x0 @ p["B0"].T - p["b0"]) / p["s0"]
    ll = -0.5 * r0.square().sum(-1) - p["s0"].log().sum()
    if values.shape[1] > 1:
        xt, xp = values[:, 1:], values[:, :-1]
        r = (xt - xt @ p["B"].T - xp @ p["A"].T - p["b"]) / p["s"]
        ll = ll - 0.5 * r.square().sum((1, 2)) - (values.shape[1] - 1) * p["s"].log().sum()
    return ll - 0.5 * _LOG_2PI * values.shape[1] * values.shape[2]


def kalman_log_likelihood(ss: StateSpace, values: Tensor, mask: Tensor | None, obs_var: Tensor) -> Tensor:
    """Marginal log-likelihood of each sequence by a batched Kalman filter, ``[N]``.

    values: [N, T, d]; mask: [N, T, d] bool, True = observed (None = all; masked values are
    never read); obs_var: [d] observation-noise variances of observed entries (may be 0 where
    the state covariance is positive definite). Differentiable w.r.t. everything.
    """
    N, T, d = values.shape
    if mask is None:
        o = values.new_ones(1, T, d)
        y = values
    else:
        o = mask.to(values.dtype)
        y = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
    noise = o * obs_var + (1 - o)
    m, P = ss.m0.expand(N, d), ss.P0[None]
    ll = values.new_zeros(N)
    failed = torch.zeros((), dtype=torch.bool, device=values.device)
    for t in range(T):
        if t:
            m = m @ ss.F.T + ss.c
            P = _sym(ss.F @ P @ ss.F.T + ss.Q)
        ot = o[:, t]
        PH = P * ot[:, None, :]                                  # P H^T, [n, d, d]
        S = ot[:, :, None] * PH + torch.diag_embed(noise[:, t])  # H P H^T + R
        C, info = torch.linalg.cholesky_ex(S)
        failed = failed | (info != 0).any()
        z = torch.linalg.solve_triangular(C, ((y[:, t] - m) * ot)[..., None], upper=False)[..., 0]
        W = torch.linalg.solve_triangular(C, PH.transpose(-1, -2), upper=False)  # C^-1 H P
        ll = ll - 0.5 * z.square().sum(-1) - C.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        m = m + (W.transpose(-1, -2) @ z[..., None])[..., 0]
        P = _sym(P - W.transpose(-1, -2) @ W)
    if failed:
        raise NonFiniteError("the innovation covariance of the Kalman filter is not positive definite; "
                             "the DBN's noise std devs are too small for this dtype (try float64 or obs_noise > 0)")
    return ll - 0.5 * _LOG_2PI * o.sum((1, 2))


def _sym(M: Tensor) -> Tensor:
    return 0.5 * (M + M.transpose(-1, -2))
