"""A site's data as pattern summaries: what travels instead of patient rows.

:class:`SiteSummary` is one source (a clinic) summarised per observation pattern
(:class:`~taskdd.tasks.dbn.summaries.PatternSummary`) with its variable names and time grid;
:class:`SiteSummaries` is several over one variable set, the stand-in for
:class:`~taskdd.data.Sources` that :class:`~taskdd.tasks.dbn.task.DBNLikelihoodTask` accepts.
What works from summaries alone: the exact score, standardisation (:func:`site_scaling`),
the starting set (:func:`sample_summary`: draws from each pattern's Gaussian), the direct fit and
observation-noise estimation (:mod:`taskdd.tasks.dbn.baselines`). What needs rows, so must be
given: the structure (structure learning).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import torch
from torch import Tensor

from taskdd.data import VariableCollection
from taskdd.errors import DataError
from taskdd.tasks.dbn.scaling import Scaling
from taskdd.tasks.dbn.summaries import PatternSummary
from taskdd.tasks.dbn.summary_likelihood import SplitData

__all__ = ["SiteSummary", "SiteSummaries", "observed_moments", "site_scaling", "sample_summary"]

_GRID_KEYS = ("step", "unit", "origin_rule", "start")


@dataclass(frozen=True)
class SiteSummary:
    """``name``, ``variables`` (the last axis of ``summary``), ``summary``, ``grid`` (the time grid,
    :meth:`Panel.to_json` form), ``noise`` (known observation-noise std, or None), ``info``
    (provenance: id/time columns, rows read, ...)."""

    name: str
    variables: tuple[str, ...]
    summary: PatternSummary
    grid: dict
    noise: float | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "variables", tuple(str(v) for v in self.variables))
        if len(self.variables) != self.summary.d or len(set(self.variables)) != self.summary.d:
            raise DataError(f"site {self.name!r}: {len(self.variables)} variable names for d={self.summary.d}, "
                            f"or repeated names: {list(self.variables)}")

    def __len__(self) -> int:
        return self.summary.n

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self), self.summary.T, self.summary.d

    @property
    def mask_any(self) -> Tensor:
        """Which variables the site ever observes, ``[d]``."""
        return self.summary.masks.any(0).any(0)

    def as_split(self) -> SplitData:
        T, d = self.summary.T, self.summary.d
        empty = torch.zeros(0, T, d, dtype=torch.float64, device=self.summary.masks.device)
        return SplitData(self.summary, empty, empty.bool())

    def to(self, device=None, dtype: torch.dtype | None = None) -> "SiteSummary":
        """On ``device``; summaries stay float64 whatever ``dtype`` (the score casts)."""
        return replace(self, summary=self.summary.to(device))

    def reorder(self, variables: Sequence[str], T: int | None = None) -> "SiteSummary":
        """Over ``variables`` (a superset of ours; absent ones never observed) and ``T`` slices
        (>= ours; later slices never observed)."""
        unknown = sorted(set(self.variables) - set(variables))
        if unknown:
            raise DataError(f"site {self.name!r} has variables {unknown} that are not in {list(variables)}")
        s, T0, d = self.summary, self.summary.T, len(variables)
        T = T0 if T is None else T
        pos = torch.tensor([t * d + list(variables).index(v) for t in range(T0) for v in self.variables])
        P = len(s)
        masks = torch.zeros(P, T * d, dtype=torch.bool, device=s.masks.device)
        means = torch.zeros(P, T * d, dtype=torch.float64, device=s.masks.device)
        covs = torch.zeros(P, T * d, T * d, dtype=torch.float64, device=s.masks.device)
        masks[:, pos], means[:, pos] = s.masks.reshape(P, -1), s.means
        covs[:, pos[:, None], pos[None, :]] = s.covs
        return replace(self, variables=tuple(variables), grid={**self.grid, "slices": T},
                       summary=PatternSummary(masks.reshape(P, T, d), s.counts, means, covs).canonical())

    def standardized(self, scaling: Scaling) -> "SiteSummary":
        """In standard units ``(x - mean) / std`` (our variables must be the scaling's, in order)."""
        if tuple(scaling.variables) != self.variables:
            raise DataError(f"site {self.name!r}: scaling variables {list(scaling.variables)} differ from ours")
        s, T = self.summary, self.summary.T
        mean, std = scaling.mean.repeat(T).to(s.means.device), scaling.std.repeat(T).to(s.means.device)
        o = s.masks.reshape(len(s), -1).to(torch.float64)
        return replace(self, summary=PatternSummary(s.masks, s.counts, o * (s.means - mean) / std,
                                                    s.covs / (std[:, None] * std[None, :])))


class SiteSummaries(VariableCollection[SiteSummary]):
    """Several sites over the union of their variables and the longest grid (others padded with
    never-observed entries); their grids must agree in step, unit and origin."""

    what = "site"

    def __init__(self, sites: Sequence[SiteSummary]):
        sites = list(sites)
        if not sites or not all(isinstance(s, SiteSummary) for s in sites):
            raise DataError("SiteSummaries needs one or more SiteSummary objects")
        grids = {tuple(s.grid.get(k) for k in _GRID_KEYS) for s in sites}
        if len(grids) > 1:
            raise DataError(f"site summaries were made on different time grids {sorted(map(str, grids))} "
                            f"({', '.join(_GRID_KEYS)}); summarise every site with the same --time-step and origin")
        self._T = max(s.summary.T for s in sites)
        super().__init__(sites)

    def _fit(self, site: SiteSummary, variables: tuple[str, ...]) -> SiteSummary:
        return site if (site.variables == variables and site.summary.T == self._T) else site.reorder(variables, self._T)

    @property
    def device(self) -> torch.device:
        return self._members[0].summary.masks.device

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64

    def to(self, device=None, dtype: torch.dtype | None = None) -> "SiteSummaries":
        return SiteSummaries([s.to(device) for s in self._members])

    def reorder(self, variables: Sequence[str]) -> "SiteSummaries":
        return SiteSummaries([s.reorder(variables) for s in self._members])

    def hidden_everywhere(self) -> list[str]:
        seen = torch.stack([s.mask_any for s in self._members]).any(0)
        return [v for v, ok in zip(self.variables, seen.tolist()) if not ok]


def observed_moments(summaries: Sequence[PatternSummary]) -> tuple[Tensor, Tensor, Tensor]:
    """Per variable, over the observed cells of all ``summaries`` (one variable order): count,
    mean and sum of squared deviations from that mean, ``[d]`` each, float64."""
    d = summaries[0].d
    stats = []
    for s in summaries:
        w = s.counts[:, None, None] * s.masks.to(torch.float64)  # [P, T, d]
        stats.append((w, s.means.reshape(len(s), -1, d), s.covs.diagonal(dim1=-2, dim2=-1).reshape(len(s), -1, d)))
    cnt = sum(w.sum((0, 1)) for w, _, _ in stats)
    mean = sum((w * m).sum((0, 1)) for w, m, _ in stats) / cnt.clamp(min=1)
    m2 = sum((w * (v + (m - mean) ** 2)).sum((0, 1)) for w, m, v in stats)
    return cnt, mean, m2


def site_scaling(sites: SiteSummaries) -> Scaling:
    """:meth:`Scaling.fit` from summaries: each variable's mean and (n-1) std over observed cells."""
    return Scaling.from_moments(sites.variables, *observed_moments([s.summary for s in sites]))


def sample_summary(summary: PatternSummary, n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``n`` sequences drawn from the summarised data: a pattern with probability ``n_p / N``,
    then its observed entries from ``N(xbar_p, S_p)`` (a tiny jitter keeps the factor defined
    for singular ``S_p``). Returns ``values, mask [n, T, d]`` (float64, CPU generator)."""
    idx = torch.multinomial(summary.counts.cpu(), n, replacement=True, generator=generator)
    o = summary.masks.cpu()[idx].reshape(n, -1).to(torch.float64)
    S = summary.covs.cpu()[idx]
    scale = (S.diagonal(dim1=-2, dim2=-1).sum(-1) / o.sum(-1).clamp(min=1))[:, None]
    L = torch.linalg.cholesky(S + torch.diag_embed(1 - o + o * (1e-9 * scale + 1e-12)))
    z = torch.randn(n, o.shape[1], generator=generator, dtype=torch.float64)
    x = summary.means.cpu()[idx] + o * (L @ z[..., None])[..., 0]
    shape = (n, summary.T, summary.d)
    return x.reshape(shape), o.bool().reshape(shape)
