"""Exact marginal log-likelihood of a linear-Gaussian DBN under missing, noisy observations.

State-space form: the state is the slice ``x_t`` itself. With ``L = (I - B)^{-1}``,
``x_t = F x_{t-1} + c + w_t``, ``F = L A``, ``c = L b``, ``w_t ~ N(0, Q)``,
``Q = L diag(s^2) L^T``; the first slice is ``N(m0, P0)`` with ``m0 = L0 b0``,
``P0 = L0 diag(s0^2) L0^T``, ``L0 = (I - B0)^{-1}``. Observation: ``y_t = x_t + v_t`` on the
observed entries, ``v_t ~ N(0, diag(r^2))``.

A missing entry gets a zero observation row, unit noise variance and ``y = 0``: it adds no
information and exactly ``-log(2 pi) / 2`` to the log-likelihood, which is taken out again. So
every sequence runs through the same batched Kalman filter whatever its mask (O(T) time).
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
    DAG), so no filter is needed: one ``[N*T, d] @ [d, 3d]`` product gives every slice's
    standardised residuals. values: [N, T, d].
    """
    N, T, d = values.shape
    eye = torch.eye(d, dtype=values.dtype, device=values.device)
    W = (torch.cat([eye - p["B0"], eye - p["B"], -p["A"]]) / torch.cat([p["s0"], p["s"], p["s"]])[:, None]).T
    Y = (values.reshape(N * T, d) @ W).reshape(N, T, 3 * d)
    sq = (Y[:, 0, :d] - p["b0"] / p["s0"]).square().sum(-1)
    if T > 1:
        sq = sq + (Y[:, 1:, d:2 * d] + Y[:, :-1, 2 * d:] - p["b"] / p["s"]).square().sum((1, 2))
    return -0.5 * sq - (p["s0"].log().sum() + (T - 1) * p["s"].log().sum() + 0.5 * _LOG_2PI * T * d)


def kalman_log_likelihood(ss: StateSpace, values: Tensor, mask: Tensor | None, obs_var: Tensor) -> Tensor:
    """Marginal log-likelihood of each sequence by a batched Kalman filter, ``[N]``.

    values: [N, T, d]; mask: [N, T, d] bool, True = observed (None = all; masked values are
    never read); obs_var: observation-noise variances of observed entries, ``[d]`` (every
    sequence) or ``[N, d]`` (per sequence, e.g. each source's rows); may be 0 where the state
    covariance is positive definite. Differentiable w.r.t. everything (with ``[N, d]``, rows
    equal to an earlier row with the same mask take their gradient through that row).

    Covariances and gains depend on the mask (and noise) only: when every sequence has the same
    mask and a ``[d]`` obs_var (``mask=None``, or a source hiding fixed variables) they are
    computed once and shared; otherwise once per distinct (mask, noise) pair (sources of fixed
    hidden variables, missed visits that repeat) when these are at most half the sequences,
    else once per sequence. The predicted means then follow the linear recursion
    ``m_{t+1} = F (I - K_t H_t) m_t + F K_t H_t y_t + c``: one small product per step, and the
    whitened innovations of all steps come out of one batched product.
    """
    N, T, d = values.shape
    per_seq = obs_var.ndim == 2
    if per_seq and mask is None:
        mask = torch.ones(N, T, d, dtype=torch.bool, device=values.device)
    groups = None
    if mask is None:
        patterns, y = values.new_ones(1, T, d), values
    else:
        shared = not per_seq and bool((mask == mask[:1]).all())
        patterns = (mask[:1] if shared else mask).to(values.dtype)
        y = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
        groups = None if shared else _unique_patterns(mask, obs_var if per_seq else None)
    if groups is None:
        whiten, KH, logdet = _covariance_pass(ss, patterns, obs_var[:, None, :] if per_seq else obs_var)
    else:  # one covariance pass per distinct pattern, handed to each sequence that has it
        first, inverse = groups
        whiten, KH, logdet = _covariance_pass(ss, patterns[first], obs_var[first][:, None, :] if per_seq else obs_var)
        whiten, KH, logdet = whiten[:, inverse], KH[:, inverse], logdet[inverse]
    y, o = y.transpose(0, 1), patterns.transpose(0, 1)  # [T, N, d], [T, K, d]
    FKH = ss.F @ KH
    drift = _apply(FKH, y) + ss.c                         # F K_t H_t y_t + c, [T, N, d]
    step = ss.F - FKH                                     # F (I - K_t H_t), [T, K, d, d]
    means = [ss.m0.expand(N, d)]
    for step_t, drift_t in zip(step[:-1].unbind(0), drift[:-1].unbind(0)):  # unbind: O(T) backward
        means.append(_apply(step_t, means[-1]) + drift_t)
    z = _apply(whiten, (y - torch.stack(means)) * o)      # whitened innovations, [T, N, d]
    return -(logdet + 0.5 * _LOG_2PI * patterns.sum((1, 2))).expand(N) - 0.5 * z.square().sum((0, 2))


def _unique_patterns(mask: Tensor, obs_var: Tensor | None) -> tuple[Tensor, Tensor] | None:
    """For the distinct (mask, obs_var row) pairs: the first sequence having each ``[P]`` and each
    sequence's pair ``[N]``, when ``P <= N / 2`` (worth a gather); else None."""
    N = mask.shape[0]
    key = mask.reshape(N, -1)
    if obs_var is not None:
        key = torch.cat([key.to(obs_var.dtype), obs_var.detach()], 1)
    uniq, inverse = torch.unique(key, dim=0, return_inverse=True)
    if 2 * uniq.shape[0] > N:
        return None
    index = torch.arange(N, device=mask.device)
    first = torch.full((uniq.shape[0],), N, device=mask.device).scatter_reduce(0, inverse, index, "amin")
    return first, inverse


def _apply(M: Tensor, v: Tensor) -> Tensor:
    """``M[..., k] @ v[..., n]`` with M ``[..., K, d, d]`` (K = 1: shared, or K = N) and v ``[..., N, d]``."""
    return v @ M[..., 0, :, :].transpose(-1, -2) if M.shape[-3] == 1 else (M @ v[..., None])[..., 0]


def _covariance_pass(ss: StateSpace, patterns: Tensor, obs_var: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Filter covariances for each observation pattern ``[K, T, d]`` (1 = observed, float).

    Returns ``C_t^-1`` and ``K_t H_t`` (``[T, K, d, d]`` each; ``S_t = C_t C_t^T`` is the
    innovation covariance, ``K_t`` the Kalman gain, ``H_t = diag(pattern)``) and
    ``sum_t log det C_t`` ``[K]``. A missing entry has a zero observation row and unit noise.
    """
    K, T, d = patterns.shape
    R = torch.diag_embed(patterns * obs_var + (1 - patterns))
    P = ss.P0[None]
    Cs, Ws, infos = [], [], []
    for t, (o, R_t) in enumerate(zip(patterns.unbind(1), R.unbind(1))):
        if t:
            P = _sym(ss.F @ P @ ss.F.T + ss.Q)
        PH = P * o[:, None, :]                       # P H^T
        C, info = torch.linalg.cholesky_ex(o[:, :, None] * PH + R_t)
        W = torch.linalg.solve_triangular(C, PH.transpose(-1, -2), upper=False)  # C^-1 H P
        P = P - W.transpose(-1, -2) @ W
        Cs.append(C)
        Ws.append(W)
        infos.append(info)
    if torch.stack(infos).any():
        raise NonFiniteError("the innovation covariance of the Kalman filter is not positive definite; "
                             "the DBN's noise std devs are too small for this dtype (try float64 or obs_noise > 0)")
    C, W = torch.stack(Cs), torch.stack(Ws)
    eye = torch.eye(d, dtype=C.dtype, device=C.device)
    Ci = torch.linalg.solve_triangular(C, eye, upper=False)
    KH = W.transpose(-1, -2) @ (Ci * patterns.transpose(0, 1)[:, :, None, :])  # P H^T S^-1 H
    return Ci, KH, C.diagonal(dim1=-2, dim2=-1).log().sum((0, 2))


def _sym(M: Tensor) -> Tensor:
    return 0.5 * (M + M.transpose(-1, -2))
