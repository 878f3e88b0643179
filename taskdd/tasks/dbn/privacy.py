"""Differentially private pattern summaries: the Gaussian mechanism on bounded patients.

Neighbouring data sets differ by one patient (one sequence added or removed). The released
statistics are, for every pattern of a **public** pattern set (fixed before seeing the data, e.g.
by the site's protocol: which variables it measures; rows of other patterns are dropped, and a
pattern with no member is released too), the count ``n_p``, the sum ``s_p = sum_i u_i`` and the
second-moment sum ``M_p = sum_i u_i u_i^T`` of the bounded entries
``u = clip((x - mid) / half, -1, 1)``, where ``[mid - half, mid + half]`` are the public per-variable
bounds. One patient changes one pattern's ``(n, s, M)`` by at most ``(1, sqrt(d_p), d_p)`` in L2 /
Frobenius norm, so the L2 sensitivity of the whole release is ``sqrt(1 + D + D^2)``,
``D = max_p d_p``. Each released number gets independent ``N(0, sigma^2)`` noise (``M``
symmetrised: its noise is drawn on the upper triangle, which the sensitivity above bounds), with
``sigma`` from the analytic Gaussian mechanism (Balle & Wang 2018, Thm. 8): the smallest ``sigma``
with ``Phi(Delta/(2 sigma) - eps sigma/Delta) - e^eps Phi(-Delta/(2 sigma) - eps sigma/Delta) <= delta``.
Means and scatters are then derived (count floored at 1, scatter projected onto the PSD cone):
post-processing, as is everything downstream (distillation inherits the guarantee).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn.summaries import PatternSummary

__all__ = ["gaussian_delta", "analytic_gaussian_sigma", "BoundedSums", "bounded_sums", "release", "private_summary"]


def _Phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def gaussian_delta(eps: float, sigma: float, sensitivity: float) -> float:
    """The exact delta(eps) of the Gaussian mechanism with noise ``sigma`` (Balle & Wang 2018, Thm. 8)."""
    a, b = sensitivity / (2 * sigma), eps * sigma / sensitivity
    tail = _Phi(-a - b)
    return _Phi(a - b) - (math.exp(eps) * tail if tail > 0 else 0.0)


def analytic_gaussian_sigma(eps: float, delta: float, sensitivity: float = 1.0) -> float:
    """Smallest ``sigma`` for which the Gaussian mechanism is (eps, delta)-DP (bisection on
    :func:`gaussian_delta`, decreasing in sigma; relative precision 1e-12)."""
    if not (eps > 0 and math.isfinite(eps)) or not 0 < delta < 1 or not sensitivity > 0:
        raise ConfigError(f"need eps > 0 finite, 0 < delta < 1 and sensitivity > 0, got {eps}, {delta}, {sensitivity}")
    lo, hi = 1e-12 * sensitivity, sensitivity
    while gaussian_delta(eps, hi, sensitivity) > delta:
        lo, hi = hi, 2 * hi
    while hi - lo > 1e-12 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if gaussian_delta(eps, mid, sensitivity) > delta else (lo, mid)
    return hi


def _bounded(values: Tensor, mask: Tensor, lo: Tensor, hi: Tensor) -> Tensor:
    mid, half = (hi + lo) / 2, (hi - lo) / 2
    return torch.where(mask, ((values.double() - mid) / half).clamp(-1, 1), torch.zeros((), dtype=torch.float64))


class BoundedSums(NamedTuple):
    """Additive (over disjoint row sets) statistics of bounded rows over the public patterns:
    ``n [P]``, ``s [P, T*d]``, ``M [P, T*d, T*d]`` (in bounded units), rows outside the public
    patterns and rows with a clipped value."""

    n: Tensor
    s: Tensor
    M: Tensor
    dropped: int
    clipped: int

    def __add__(self, other: "BoundedSums") -> "BoundedSums":  # type: ignore[override]
        return BoundedSums(*(a + b for a, b in zip(self, other)))


def _check_bounds(lo, hi, d: int) -> tuple[Tensor, Tensor]:
    lo, hi = torch.as_tensor(lo, dtype=torch.float64), torch.as_tensor(hi, dtype=torch.float64)
    if lo.shape != (d,) or hi.shape != (d,) or not bool((hi > lo).all()):
        raise ConfigError(f"DP bounds need lo < hi, one pair per variable ({d}), got {lo.tolist()} / {hi.tolist()}")
    return lo, hi


def bounded_sums(values: Tensor, mask: Tensor, patterns: Tensor, lo, hi) -> BoundedSums:
    """:class:`BoundedSums` of ``values, mask [N, T, d]`` over the public ``patterns [P, T, d]``."""
    N, T, d = values.shape
    lo, hi = _check_bounds(lo, hi, d)
    P = patterns.shape[0]
    if patterns.shape[1:] != (T, d) or P == 0:
        raise DataError(f"public patterns must be a bool [P, T={T}, d={d}] tensor, got {tuple(patterns.shape)}")
    which = (mask.reshape(N, 1, -1) == patterns.reshape(1, P, -1)).all(-1)          # [N, P]
    member = which.any(-1)
    u = _bounded(values, mask, lo, hi).reshape(N, -1)
    M = torch.stack([u[which[:, p]].T @ u[which[:, p]] for p in range(P)])
    clipped = int((mask & ((values.double() < lo) | (values.double() > hi))).any((1, 2))[member].sum())
    return BoundedSums(which.sum(0).to(torch.float64), which.T.to(torch.float64) @ u, M, int(N - member.sum()),
                       clipped)


def release(sums: BoundedSums, patterns: Tensor, lo, hi, eps: float, delta: float,
            generator: torch.Generator) -> tuple[PatternSummary, dict]:
    """The (eps, delta)-DP summary from ``sums`` (module docstring; ``eps=inf``: no noise), in
    the data's units, and its accounting."""
    P, T, d = patterns.shape
    lo, hi = _check_bounds(lo, hi, d)
    o = patterns.reshape(P, -1).to(torch.float64)
    D = int(o.sum(-1).max())
    sens = math.sqrt(1 + D + D * D)
    sigma = 0.0 if math.isinf(eps) else analytic_gaussian_sigma(eps, delta, sens)

    def noise(*shape):
        return sigma * torch.randn(*shape, generator=generator, dtype=torch.float64)
    n = (sums.n + noise(P)).clamp(min=1)
    E = noise(P, T * d, T * d).triu()
    mean_u = (sums.s + noise(P, T * d)) * o / n[:, None]
    M = (sums.M + E + E.triu(1).transpose(-1, -2)) * o[:, :, None] * o[:, None, :]
    w, V = torch.linalg.eigh(M / n[:, None, None] - mean_u[:, :, None] * mean_u[:, None, :])
    cov_u = (V * w.clamp(min=0)[:, None, :]) @ V.transpose(-1, -2)
    mid, half = ((hi + lo) / 2).repeat(T), ((hi - lo) / 2).repeat(T)
    oo = o[:, :, None] * o[:, None, :]
    summary = PatternSummary(patterns, n, (mean_u * half + mid) * o, cov_u * half[:, None] * half[None, :] * oo)
    accounting = {"mechanism": "Gaussian (analytic calibration, Balle & Wang 2018)", "epsilon": eps, "delta": delta,
                  "neighbouring": "one patient (sequence) added or removed", "l2_sensitivity": sens, "sigma": sigma,
                  "bounds": {"lo": lo.tolist(), "hi": hi.tolist()}, "public_patterns": P,
                  "rows_dropped_other_patterns": sums.dropped, "rows_with_clipped_values": sums.clipped}
    return summary, accounting


def private_summary(values: Tensor, mask: Tensor, patterns: Tensor, lo, hi, eps: float, delta: float,
                    generator: torch.Generator) -> tuple[PatternSummary, dict]:
    """(eps, delta)-DP summary of ``values, mask [N, T, d]`` over the public ``patterns [P, T, d]``
    (bool) with public per-variable bounds ``lo < hi [d]``: :func:`bounded_sums` then
    :func:`release`. Returns the summary (data's units) and the accounting."""
    return release(bounded_sums(values, mask, patterns, lo, hi), patterns, lo, hi, eps, delta, generator)
