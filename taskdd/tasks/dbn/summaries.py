"""Observation-pattern summaries of sequence data: count, mean and scatter per pattern.

For a linear-Gaussian DBN the marginal likelihood of all sequences that share one observation
pattern (which of the unrolled ``T*d`` entries are observed) depends on them only through their
count ``n_p``, mean ``xbar_p`` and biased scatter ``S_p = sum_i (x_i - xbar_p)(x_i - xbar_p)^T / n_p``
(:mod:`taskdd.tasks.dbn.summary_likelihood`). :class:`PatternSummary` holds these per pattern,
always in float64, on the unrolled entries (time-major: entry ``t*d + j``); entries a pattern
does not observe are 0 in its mean and scatter. Summaries of disjoint shards combine exactly by
the parallel-variance formula (:func:`merge_summaries`; Chan, Golub & LeVeque 1979).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from taskdd.errors import DataError

__all__ = ["PatternSummary", "summarize", "merge_summaries"]


@dataclass(frozen=True)
class PatternSummary:
    """``masks [P, T, d]`` bool (distinct patterns), ``counts [P]``, ``means [P, T*d]`` and
    ``covs [P, T*d, T*d]`` (biased scatter), all float64 but the masks."""

    masks: Tensor
    counts: Tensor
    means: Tensor
    covs: Tensor

    def __post_init__(self):
        P = self.masks.shape[0]
        if self.masks.ndim != 3 or self.masks.dtype != torch.bool:
            raise DataError(f"summary masks must be a bool [P, T, d] tensor, got {self.masks.dtype} "
                            f"{tuple(self.masks.shape)}")
        Td = self.masks.shape[1] * self.masks.shape[2]
        for name, want in (("counts", (P,)), ("means", (P, Td)), ("covs", (P, Td, Td))):
            got = getattr(self, name)
            if not isinstance(got, Tensor) or tuple(got.shape) != want:
                raise DataError(f"summary {name} must have shape {want}, got "
                                f"{tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__}")
            object.__setattr__(self, name, got.to(torch.float64))
        if P and not bool((self.counts >= 1).all()):
            raise DataError(f"summary counts must be >= 1, got {self.counts.tolist()}")

    @property
    def T(self) -> int:
        return self.masks.shape[1]

    @property
    def d(self) -> int:
        return self.masks.shape[2]

    @property
    def n(self) -> int:
        """Number of sequences summarised."""
        return int(self.counts.sum())

    def __len__(self) -> int:
        return self.masks.shape[0]

    def select(self, keep: Tensor) -> "PatternSummary":
        """The patterns at ``keep`` (a bool ``[P]`` or an index tensor)."""
        return PatternSummary(self.masks[keep], self.counts[keep], self.means[keep], self.covs[keep])

    def canonical(self) -> "PatternSummary":
        """The same patterns in :func:`summarize`'s order (``torch.unique`` of the flat masks)."""
        if not len(self):
            return self
        _, inverse = torch.unique(self.masks.reshape(len(self), -1), dim=0, return_inverse=True)
        order = torch.empty_like(inverse).scatter_(0, inverse, torch.arange(len(self), device=inverse.device))
        return self.select(order)

    def to(self, device=None) -> "PatternSummary":
        return PatternSummary(self.masks.to(device), self.counts.to(device), self.means.to(device),
                              self.covs.to(device))


def _empty(T: int, d: int, device=None) -> PatternSummary:
    f = dict(dtype=torch.float64, device=device)
    return PatternSummary(torch.zeros(0, T, d, dtype=torch.bool, device=device), torch.zeros(0, **f),
                          torch.zeros(0, T * d, **f), torch.zeros(0, T * d, T * d, **f))


def summarize(values: Tensor, mask: Tensor | None = None) -> PatternSummary:
    """Group ``values [N, T, d]`` by ``mask [N, T, d]`` (True = observed; None = all) and
    summarise each pattern (two passes in float64: means, then scatters about them). Masked
    values are never read. Patterns come in the order of ``torch.unique`` on the flat masks."""
    if values.ndim != 3:
        raise DataError(f"values must have shape [N, T, d], got {tuple(values.shape)}")
    N, T, d = values.shape
    if mask is None:
        mask = torch.ones(N, T, d, dtype=torch.bool, device=values.device)
    if N == 0:
        return _empty(T, d, values.device)
    x = torch.where(mask, values.detach().to(torch.float64), torch.zeros((), dtype=torch.float64,
                                                                          device=values.device)).reshape(N, T * d)
    uniq, inverse, counts = torch.unique(mask.reshape(N, T * d), dim=0, return_inverse=True, return_counts=True)
    P = uniq.shape[0]
    means = torch.zeros(P, T * d, dtype=torch.float64, device=values.device).index_add_(0, inverse, x)
    means = means / counts[:, None].to(torch.float64)
    order = torch.argsort(inverse, stable=True)
    covs = torch.zeros(P, T * d, T * d, dtype=torch.float64, device=values.device)
    for p, rows in enumerate(torch.split(order, counts.tolist())):
        if len(rows) > 1:
            dev = x[rows] - means[p]
            covs[p] = dev.T @ dev / len(rows)
    return PatternSummary(uniq.reshape(P, T, d), counts.to(torch.float64), means, covs)


def merge_summaries(parts: Sequence[PatternSummary]) -> PatternSummary:
    """The summary of the union of disjoint shards: per pattern, counts add and means and
    scatters combine by the parallel-variance formula
    ``M2 = M2_a + M2_b + delta delta^T n_a n_b / n`` (``M2 = n S``, ``delta = xbar_b - xbar_a``)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        raise DataError("merge_summaries needs at least one non-empty summary")
    shapes = {(p.T, p.d) for p in parts}
    if len(shapes) > 1:
        raise DataError(f"summaries to merge must share (T, d), got {sorted(shapes)}")
    masks = torch.cat([p.masks for p in parts])
    P, T, d = masks.shape
    uniq, inverse = torch.unique(masks.reshape(P, T * d), dim=0, return_inverse=True)
    counts = torch.cat([p.counts for p in parts])
    means = torch.cat([p.means for p in parts])
    covs = torch.cat([p.covs for p in parts])
    out_n = torch.zeros(uniq.shape[0], dtype=torch.float64, device=masks.device)
    out_mean = torch.zeros(uniq.shape[0], T * d, dtype=torch.float64, device=masks.device)
    out_m2 = torch.zeros(uniq.shape[0], T * d, T * d, dtype=torch.float64, device=masks.device)
    for k in range(P):  # sequential pairwise merges in the order given
        q, nb = int(inverse[k]), counts[k]
        na = out_n[q]
        n = na + nb
        delta = means[k] - out_mean[q]
        out_m2[q] = out_m2[q] + nb * covs[k] + torch.outer(delta, delta) * (na * nb / n)
        out_mean[q] = out_mean[q] + delta * (nb / n)
        out_n[q] = n
    return PatternSummary(uniq.reshape(-1, T, d), out_n, out_mean, out_m2 / out_n[:, None, None])
