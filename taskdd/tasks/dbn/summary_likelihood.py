"""Exact DBN log-likelihood from pattern summaries, and the per-pattern choice summary vs rows.

All sequences of one observation pattern ``p`` (``d_p`` observed entries of the unrolled ``T*d``)
contribute ``-(n_p/2) [d_p log 2 pi + log|Sigma_p| + tr(Sigma_p^-1 (S_p + (xbar_p - mu_p)(xbar_p -
mu_p)^T))]``, with ``mu_p, Sigma_p`` the DBN's unrolled mean and covariance (plus the observation
noise on the diagonal) restricted to the observed entries, and ``n_p, xbar_p, S_p`` the pattern's
count, mean and biased scatter (:class:`~taskdd.tasks.dbn.summaries.PatternSummary`). The cost
no longer depends on ``n_p`` but grows as ``(T d)^3`` per pattern; the row-wise Kalman filter
costs ``O(n_p T d^2)``. :func:`prefers_summary` picks the cheaper per pattern, and
:func:`split_rows` splits a source's rows accordingly (rare patterns, e.g. random per-cell
missingness, stay rows). :func:`split_log_likelihood` scores such a split — or a summary read
from a site file, which has no rows — exactly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from taskdd.errors import NonFiniteError
from taskdd.tasks.dbn.likelihood import StateSpace, kalman_log_likelihood
from taskdd.tasks.dbn.summaries import PatternSummary, summarize

__all__ = ["unrolled_moments", "summary_log_likelihood", "prefers_summary", "SplitData", "split_rows",
           "split_source", "split_log_likelihood"]

_LOG_2PI = math.log(2 * math.pi)


def unrolled_moments(ss: StateSpace, T: int) -> tuple[Tensor, Tensor]:
    """Mean ``[T*d]`` and covariance ``[T*d, T*d]`` of the unrolled sequence (time-major),
    differentiable: ``Cov(x_t, x_s) = F^(t-s) P_s`` for ``t >= s``."""
    d = ss.F.shape[0]
    means, covs, powers = [ss.m0], [ss.P0], [torch.eye(d, dtype=ss.F.dtype, device=ss.F.device)]
    for _ in range(1, T):
        means.append(ss.F @ means[-1] + ss.c)
        covs.append(ss.F @ covs[-1] @ ss.F.T + ss.Q)
        powers.append(ss.F @ powers[-1])
    t = torch.arange(T, device=ss.F.device)
    lag = t[:, None] - t[None, :]
    blocks = torch.stack(powers)[lag.clamp(min=0)] @ torch.stack(covs)[None]  # [t, s] = F^(t-s) P_s
    full = torch.where((lag >= 0)[:, :, None, None], blocks, blocks.transpose(0, 1).transpose(-1, -2))
    return torch.stack(means).reshape(T * d), full.permute(0, 2, 1, 3).reshape(T * d, T * d)


def summary_log_likelihood(ss: StateSpace, summary: PatternSummary, obs_var: Tensor) -> Tensor:
    """Summed log-likelihood of each pattern's sequences, ``[P]`` (exact; differentiable w.r.t.
    the state space and ``obs_var``, the ``[d]`` observation-noise variances). Computed in the
    state space's dtype; entries a pattern does not observe are padded with a unit variance."""
    dtype, dev = ss.F.dtype, ss.F.device
    if not len(summary):
        return torch.zeros(0, dtype=dtype, device=dev)
    T, d = summary.T, summary.d
    mu, Sigma = unrolled_moments(ss, T)
    o = summary.masks.reshape(-1, T * d).to(device=dev, dtype=dtype)
    Sigma = Sigma + torch.diag(obs_var.to(dtype).expand(d).repeat(T))
    Sp = o[:, :, None] * o[:, None, :] * Sigma + torch.diag_embed(1 - o)
    L, info = torch.linalg.cholesky_ex(Sp)
    if bool(info.any()):
        raise NonFiniteError("the unrolled covariance of an observation pattern is not positive definite; the DBN's "
                             "noise std devs are too small for this dtype (try float64 or obs_noise > 0)")
    delta = o * (summary.means.to(device=dev, dtype=dtype) - mu)
    A = summary.covs.to(device=dev, dtype=dtype) + delta[:, :, None] * delta[:, None, :]
    quad = (torch.cholesky_inverse(L) * A).sum((1, 2))
    logdet = 2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    n = summary.counts.to(device=dev, dtype=dtype)
    return -0.5 * n * (o.sum(-1) * _LOG_2PI + logdet + quad)


def prefers_summary(count: Tensor, T: int, d: int) -> Tensor:
    """Per pattern, True where the summary score is the cheaper: its ``(T d)^3`` factorisation
    against the Kalman filter's ``2 T d^2`` per sequence (a flop count; ``count [P]``)."""
    return count.to(torch.float64) * (2 * T * d * d) >= float(T * d) ** 3


class SplitData(NamedTuple):
    """One source as scored: pattern ``summary`` plus the ``values``/``mask`` rows of the
    patterns kept as rows (``[0, T, d]`` when none)."""

    summary: PatternSummary
    values: Tensor
    mask: Tensor

    @property
    def n(self) -> int:
        return self.summary.n + self.values.shape[0]


def split_rows(values: Tensor, mask: Tensor | None, *, rule: str = "auto") -> SplitData:
    """Split ``values, mask [N, T, d]`` by pattern: ``rule="auto"`` summarises the patterns for
    which :func:`prefers_summary` holds and keeps the others as rows; ``"summary"`` / ``"rows"``
    force one side."""
    N, T, d = values.shape
    if mask is None:
        mask = torch.ones(N, T, d, dtype=torch.bool, device=values.device)
    _, inverse, counts = torch.unique(mask.reshape(N, -1), dim=0, return_inverse=True, return_counts=True)
    if rule == "auto":
        pick = prefers_summary(counts, T, d)
    else:
        pick = torch.full_like(counts, rule == "summary", dtype=torch.bool)
    as_summary = pick[inverse]
    return SplitData(summarize(values[as_summary], mask[as_summary]), values[~as_summary], mask[~as_summary])


def split_source(source, *, rule: str = "auto") -> SplitData:
    """One source as scored: a site summary (anything with ``as_split()``) as it is, rows
    split by :func:`split_rows` with ``rule``."""
    if hasattr(source, "as_split"):
        return source.as_split()
    return split_rows(source.values, source.mask, rule=rule)


def split_log_likelihood(ss: StateSpace, data: SplitData, obs_var: Tensor) -> Tensor:
    """Summed exact log-likelihood of every sequence of ``data`` (scalar): summaries by
    :func:`summary_log_likelihood`, rows by the Kalman filter; ``obs_var [d]``."""
    total = summary_log_likelihood(ss, data.summary, obs_var).sum()
    if data.values.shape[0]:
        rows = kalman_log_likelihood(ss, data.values.to(ss.F.dtype), data.mask, obs_var)
        total = total + rows.sum()
    return total
