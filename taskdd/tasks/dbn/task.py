"""The DBN likelihood task (Kungurtsev et al. 2024, Fig. 1): merge K partial, noisy sources.

Synthetic set: K parts (part j initialised from source j), ``ipc`` fully observed sequences each,
learnable ``values [ipc, T, d]``. Learner: :meth:`LinearGaussianDBN.fit` (closed-form per-node
least squares) on the whole synthetic set — or pgmpy's ``LinearGaussianBayesianNetwork`` as a
black box (``learner="pgmpy"``, zeroth-order only). Score: mean per-sequence marginal
log-likelihood of the real sources under the fitted DBN, with each source's observation noise;
``score_on="others"`` (the paper) scores the sources other than the part being updated, ``"all"``
every source. The score is exact either way it is computed (``score_by``): per observation
pattern from the pattern's count, mean and scatter (:mod:`taskdd.tasks.dbn.summary_likelihood`,
cost independent of the number of sequences) or row by row (Kalman filter); ``"auto"`` picks the
cheaper per pattern. Sources may be rows (``Sources``) or site summaries
(:class:`taskdd.tasks.dbn.site.SiteSummaries`). Evaluate: mean per-sequence log-likelihood of
clean test sequences, plus parameter error against the ground truth when known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Mapping

import torch
from torch import Tensor

from taskdd.cache import IdentityCache
from taskdd.data import Source, Sources
from taskdd.errors import ConfigError, DataError
from taskdd.registry import register_task
from taskdd.synthetic import SyntheticSet
from taskdd.task import Task
from taskdd.tasks.dbn.model import LinearGaussianDBN
from taskdd.tasks.dbn.noise import NoiseSpec, check_obs_noise, noise_per_source, noise_to_json
from taskdd.tasks.dbn.likelihood import state_space
from taskdd.tasks.dbn.site import SiteSummaries, SiteSummary, observed_moments, sample_summary
from taskdd.tasks.dbn.structure import DBNStructure, check_sources_match
from taskdd.tasks.dbn.summaries import summarize
from taskdd.tasks.dbn.summary_likelihood import SplitData, split_log_likelihood, split_source

__all__ = ["DBNLikelihoodTask", "smallest_ipc", "mean_test_ll", "parameter_error"]


def smallest_ipc(structure: DBNStructure, n_parts: int) -> int:
    """Smallest sequences-per-part for which every node's regression has more rows than
    unknowns (the first slice is the binding one: one row per sequence)."""
    need = max(structure.n_unknowns(v, first_slice=True) for v in structure.variables)
    return need // n_parts + 1


def mean_test_ll(model: LinearGaussianDBN, test: Source) -> float:
    """Mean per-sequence log-likelihood of ``test`` (its own mask; no observation noise)."""
    with torch.no_grad():
        return float(model.log_likelihood(test.values, test.mask).mean())


def parameter_error(model: LinearGaussianDBN, truth: LinearGaussianDBN) -> dict[str, float]:
    """RMS error of the edge weights (intra + inter, both slices) and of the noise std devs."""
    p, q = model.parameters_dict(), truth.parameters_dict()
    s = model.structure
    w = torch.cat([(p["B0"] - q["B0"].to(p["B0"]))[s.intra_mask], (p["B"] - q["B"].to(p["B"]))[s.intra_mask],
                   (p["A"] - q["A"].to(p["A"]))[s.inter_mask]])
    n = torch.cat([p["s0"] - q["s0"].to(p["s0"]), p["s"] - q["s"].to(p["s"])])
    return {"weight_rmse": float(w.pow(2).mean().sqrt()) if w.numel() else 0.0,
            "noise_rmse": float(n.pow(2).mean().sqrt())}


def _check_noise_spec(obs_noise, d: int) -> None:
    """What can be checked of a task's ``obs_noise`` before the sources are known (ConfigError)."""
    if obs_noise is None:
        return
    if isinstance(obs_noise, Mapping):
        for k, v in obs_noise.items():
            check_obs_noise(v, d, f"obs_noise[{k!r}]", ConfigError)
        return
    try:
        rows = obs_noise if isinstance(obs_noise, Tensor) else torch.as_tensor(obs_noise, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        rows = None
    if rows is None or rows.ndim < 2:
        check_obs_noise(obs_noise, d, "obs_noise", ConfigError)
    else:
        for j, row in enumerate(rows):
            check_obs_noise(row, d, f"obs_noise[{j}]", ConfigError)


@register_task("dbn")
@dataclass
class DBNLikelihoodTask(Task):
    """Distil K partial, noisy sequence sources for a linear-Gaussian DBN of known structure.

    structure: the DBN's variables and parents. score_on: "others" | "all". obs_noise: the
    sources' observation-noise std devs — a number, a ``[d]`` vector (per variable, in
    ``structure.variables`` order), a ``[K, d]`` array (row j for source j) or a mapping
    ``{source name: number or [d]}`` (see :mod:`taskdd.tasks.dbn.noise`); None = each source's
    ``Source.noise``, which must be set.
    ridge: learner's L2 penalty. fill_noise: std (in units of each variable's std) of the noise
    added to hidden entries at initialisation. learner: "own" (differentiable) | "pgmpy"
    (black box, zeroth-order only). truth: generating DBN, when known (adds parameter errors).
    Budget = ipc, sequences per part; the set holds ``K * ipc`` sequences.
    """

    structure: DBNStructure
    score_on: Literal["others", "all"] = "others"
    obs_noise: NoiseSpec | None = None
    ridge: float = 1e-6
    fill_noise: float = 0.1
    learner: Literal["own", "pgmpy"] = "own"
    truth: LinearGaussianDBN | None = field(default=None, repr=False)
    score_by: Literal["auto", "summaries", "rows"] = "auto"
    init: Literal["auto", "rows", "summaries"] = "auto"
    _splits: IdentityCache = field(default_factory=IdentityCache, init=False, repr=False, compare=False)

    def __post_init__(self):
        if not isinstance(self.structure, DBNStructure):
            raise ConfigError(f"structure must be a DBNStructure, got {type(self.structure).__name__}")
        if self.score_on not in ("others", "all"):
            raise ConfigError(f"score_on must be 'others' or 'all', got {self.score_on!r}")
        if self.learner not in ("own", "pgmpy"):
            raise ConfigError(f"learner must be 'own' or 'pgmpy', got {self.learner!r}")
        if self.score_by not in ("auto", "summaries", "rows"):
            raise ConfigError(f"score_by must be 'auto', 'summaries' or 'rows', got {self.score_by!r}")
        if self.init not in ("auto", "rows", "summaries"):
            raise ConfigError(f"init must be 'auto', 'rows' or 'summaries', got {self.init!r}")
        _check_noise_spec(self.obs_noise, self.structure.d)
        if not self.ridge >= 0 or not self.fill_noise >= 0:
            raise ConfigError(f"ridge and fill_noise must be >= 0, got {self.ridge!r}, {self.fill_noise!r}")
        self.differentiable = self.learner == "own"

    def config(self) -> dict:
        return {"variables": list(self.structure.variables), "intra": self.structure.intra,
                "inter": self.structure.inter, "score_on": self.score_on, "obs_noise": noise_to_json(self.obs_noise),
                "ridge": self.ridge, "fill_noise": self.fill_noise, "learner": self.learner,
                "score_by": self.score_by, "init": self.init}

    # --- checks ----------------------------------------------------------------------------
    def validate(self, sources: Sources, budget: int) -> None:
        if not isinstance(sources, (Sources, SiteSummaries)):
            raise DataError(f"the dbn task takes taskdd.Sources or SiteSummaries, got {type(sources).__name__}")
        if self.init == "rows" and isinstance(sources, SiteSummaries):
            raise ConfigError("init='rows' copies real rows, but site summaries have none; use init='summaries' "
                              "(draws from each observation pattern's Gaussian) or 'auto'")
        if check_sources_match(self.structure, sources) < 2:
            raise DataError("sequences need T >= 2 time slices for a dynamic model")
        for s in sources:
            if len(s) < 2:
                raise DataError(f"source {s.name!r} has {len(s)} sequence; each source needs at least 2")
            if budget > len(s):
                raise ConfigError(f"budget (ipc) {budget} is larger than source {s.name!r} ({len(s)} sequences)")
        noise_per_source(self.obs_noise, sources, self.structure.d)
        low = smallest_ipc(self.structure, len(sources))
        if budget < low:
            raise ConfigError(f"budget (ipc) {budget} is too small for the fit: with {len(sources)} parts the "
                              f"first-slice regressions need ipc >= {low}")

    def _ordered(self, sources):
        if sources.variables == self.structure.variables:
            return sources
        return type(sources)([s.reorder(self.structure.variables) for s in sources])

    # --- the four methods ------------------------------------------------------------------
    def init_synthetic(self, sources: Sources | SiteSummaries, budget: int, generator: torch.Generator) -> SyntheticSet:
        """Part j: ``budget`` rows of source j (``init="rows"``; the default for Sources) or draws
        from its pattern summaries (``"summaries"``; the default for SiteSummaries), hidden
        entries filled with the other sources' observed mean plus ``fill_noise`` x std noise."""
        sources = self._ordered(sources)
        if self.init == "summaries" or isinstance(sources, SiteSummaries):
            return self._init_from_summaries(sources, budget, generator)
        parts = []
        for j, s in enumerate(sources):
            others = [o for i, o in enumerate(sources) if i != j] or [s]
            num = sum((o.values * o.mask).sum((0, 1)) for o in others)
            cnt = sum(o.mask.sum((0, 1)) for o in others).clamp(min=1)
            mean = num / cnt
            var = sum(((o.values - mean) ** 2 * o.mask).sum((0, 1)) for o in others) / cnt
            idx = torch.randperm(len(s), generator=generator)[:budget].to(s.values.device)
            vals, mask = s.values[idx], s.mask[idx]
            noise = torch.randn(vals.shape, generator=generator, dtype=vals.dtype).to(vals.device)
            fill = mean + self.fill_noise * var.sqrt() * noise
            parts.append({"values": torch.where(mask, vals, fill)})
        return SyntheticSet(parts, learnable=["values"], part_names=sources.names,
                            meta={"variables": list(self.structure.variables)})

    def _init_from_summaries(self, sources, budget: int, generator: torch.Generator) -> SyntheticSet:
        summaries = [s.summary if isinstance(s, SiteSummary) else summarize(s.values, s.mask) for s in sources]
        dtype = sources.dtype
        parts = []
        for j, sm in enumerate(summaries):
            cnt, mean, m2 = observed_moments([o for i, o in enumerate(summaries) if i != j] or [sm])
            vals, mask = sample_summary(sm, budget, generator)
            noise = torch.randn(vals.shape, generator=generator, dtype=torch.float64)
            fill = mean.cpu() + self.fill_noise * (m2.cpu() / cnt.cpu().clamp(min=1)).sqrt() * noise
            parts.append({"values": torch.where(mask, vals, fill).to(sources.device, dtype)})
        return SyntheticSet(parts, learnable=["values"], part_names=sources.names,
                            meta={"variables": list(self.structure.variables)})

    def fit(self, synthetic: SyntheticSet, *, generator=None) -> LinearGaussianDBN:
        values = synthetic["values"]
        if self.learner == "pgmpy":
            from taskdd.tasks.dbn.pgmpy_bridge import fit_pgmpy_dbn  # pgmpy loads only for this learner

            return fit_pgmpy_dbn(self.structure, values.detach()).to(values.device, values.dtype)
        return LinearGaussianDBN.fit_to(self.structure, values, ridge=self.ridge)

    def score(self, model: LinearGaussianDBN, sources: Sources, *, part: int | None = None,
              generator=None) -> Tensor:
        noise = noise_per_source(self.obs_noise, sources, self.structure.d)
        use = [i for i in range(len(sources))
               if self.score_on == "all" or part is None or len(sources) == 1 or i != part]
        if self.score_by == "rows" and isinstance(sources, Sources):
            ordered = self._ordered(sources)
            total = sum(model.log_likelihood(ordered[i].values, ordered[i].mask, obs_noise=noise[i]).sum()
                        for i in use)
            return total / sum(len(ordered[i]) for i in use)
        ss = state_space(model.parameters_dict())
        splits = [self._splits.get(sources[i], lambda s=sources[i]: self._split(s)) for i in use]
        total = sum(split_log_likelihood(ss, sp, torch.as_tensor(noise[i], dtype=model.dtype, device=model.device)
                                         .square().expand(self.structure.d)) for i, sp in zip(use, splits))
        return total / sum(sp.n for sp in splits)

    def _split(self, source) -> SplitData:
        """``source`` (rows or a site summary, any variable order) split by pattern for the score."""
        if source.variables != self.structure.variables:
            source = source.reorder(self.structure.variables)
        return split_source(source, rule={"auto": "auto", "summaries": "summary"}.get(self.score_by, "rows"))

    def evaluate(self, synthetic: SyntheticSet, test: Source, *, generator=None) -> dict[str, float]:
        with torch.no_grad():
            model = self.fit(synthetic)
        if isinstance(test, Sources):
            test = test[0]
        test = test.reorder(self.structure.variables) if test.variables != self.structure.variables else test
        out = {"test_ll": mean_test_ll(model, test)}
        if self.truth is not None:
            out.update(parameter_error(model, self.truth))
        return out
