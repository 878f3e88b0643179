"""The discrete DBN likelihood task: merge K partially observed categorical sources.

Data: :class:`taskdd.Sources` whose values are category codes ``0 .. card-1`` (as floats; the
mask marks the observed cells). Synthetic set: K parts (part j initialised from source j),
``ipc`` records each; a record holds learnable ``logits [T, d, C]`` (per slice and variable a
probability vector over the states) and a ``log_weight`` (learnable when ``weighted``, else
fixed at ``log(init_weight)``). Learner: Dirichlet-smoothed ML from the records' weighted soft
counts (:mod:`taskdd.tasks.dbn_discrete.learner`), differentiable w.r.t. the records. Score:
mean exact marginal log-likelihood per record of the real sources
(:class:`~taskdd.tasks.dbn_discrete.likelihood.Evidence`, compiled once per source);
``score_on="others"`` (the paper) leaves out the part being updated, ``"all"`` scores every
source. Evaluate: mean test log-likelihood per record of the fitted model (``test_ll``) and of
the model fitted to the records rounded to hard categories (``test_ll_rounded``, what a user
exports), and the distilled set's total weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Sequence

import torch
from torch import Tensor

from taskdd.cache import IdentityCache
from taskdd.data import Source, Sources
from taskdd.errors import ConfigError, DataError
from taskdd.registry import register_task
from taskdd.synthetic import SyntheticSet
from taskdd.task import Task
from taskdd.tasks.dbn.structure import DBNStructure, check_sources_match
from taskdd.tasks.dbn_discrete.learner import fit_cpts, one_hot, record_probs, round_records
from taskdd.tasks.dbn_discrete.likelihood import Evidence, check_codes
from taskdd.tasks.dbn_discrete.model import DiscreteDBN

__all__ = ["DiscreteDBNTask", "codes", "mean_ll", "state_frequencies"]


def codes(source: Source) -> Tensor:
    """A source's category codes as Long ``[N, T, d]``, -1 where missing."""
    v = source.values
    if not bool((v == v.round()).all()):
        raise DataError(f"source {source.name!r} holds non-integer values; categorical sources hold codes 0..card-1")
    return torch.where(source.mask, v.round().long(), torch.full_like(v, -1, dtype=torch.long))


def mean_ll(model: DiscreteDBN, x: Tensor) -> float:
    """Mean log-likelihood per record of codes ``x [N, T, d]`` (-1 = missing)."""
    with torch.no_grad():
        return float(Evidence(model.structure, model.cards, x).log_likelihood(model).detach()) / x.shape[0]


def state_frequencies(sources: Sequence[Source], cards: Sequence[int]) -> Tensor:
    """``[d, C]``: each variable's observed state frequencies over ``sources`` (+1 smoothing)."""
    C = max(cards)
    cnt = torch.ones(len(cards), C, dtype=torch.float64)
    for s in sources:
        x = codes(s).flatten(0, 1).cpu()
        for j in range(len(cards)):
            cnt[j] += torch.bincount(x[:, j][x[:, j] >= 0], minlength=C)[:C].double()
    cnt[torch.arange(C)[None, :] >= torch.as_tensor(list(cards))[:, None]] = 0
    return cnt / cnt.sum(-1, keepdim=True)


@register_task("dbn-discrete")
@dataclass
class DiscreteDBNTask(Task):
    """Distil K partially observed categorical sources for a discrete DBN of known structure.

    structure / cards: the DBN's graph and each variable's number of states. alpha: Dirichlet
    pseudo-count per CPT cell. weighted: learnable record weights (else every weight is
    ``init_weight``). init_weight: starting weight of each record. init_confidence: starting
    logit of a record's observed state (the other states 0); hidden cells start at the log
    state frequencies of the other sources, plus ``fill_noise`` x N(0, 1). score_on: "others" |
    "all". truth: the generating DBN, when known (adds ``truth_ll``: its test log-likelihood).
    Budget = ipc, records per part; the set holds ``K * ipc`` records.
    """

    structure: DBNStructure
    cards: Sequence[int]
    alpha: float = 1.0
    weighted: bool = True
    init_weight: float = 1.0
    init_confidence: float = 4.0
    fill_noise: float = 0.1
    score_on: Literal["others", "all"] = "others"
    truth: DiscreteDBN | None = field(default=None, repr=False)

    def __post_init__(self):
        if not isinstance(self.structure, DBNStructure):
            raise ConfigError(f"structure must be a DBNStructure, got {type(self.structure).__name__}")
        self.cards = tuple(int(c) for c in self.cards)
        if len(self.cards) != self.structure.d or min(self.cards) < 1:
            raise ConfigError(f"cards must give {self.structure.d} cardinalities >= 1, got {list(self.cards)}")
        if self.score_on not in ("others", "all"):
            raise ConfigError(f"score_on must be 'others' or 'all', got {self.score_on!r}")
        for k in ("alpha", "init_weight"):
            if not (isinstance(getattr(self, k), (int, float)) and math.isfinite(getattr(self, k))
                    and getattr(self, k) > 0):
                raise ConfigError(f"{k} must be a finite number > 0, got {getattr(self, k)!r}")
        if not (self.init_confidence >= 0 and self.fill_noise >= 0):
            raise ConfigError(f"init_confidence and fill_noise must be >= 0, got {self.init_confidence!r}, "
                              f"{self.fill_noise!r}")
        self._evidence: IdentityCache[Evidence] = IdentityCache()

    def config(self) -> dict:
        return {"variables": list(self.structure.variables), "intra": self.structure.intra,
                "inter": self.structure.inter, "cards": list(self.cards), "alpha": self.alpha,
                "weighted": self.weighted, "init_weight": self.init_weight,
                "init_confidence": self.init_confidence, "fill_noise": self.fill_noise, "score_on": self.score_on}

    # --- checks ----------------------------------------------------------------------------
    def validate(self, sources: Sources, budget: int) -> None:
        if not isinstance(sources, Sources):
            raise DataError(f"the dbn-discrete task takes taskdd.Sources, got {type(sources).__name__}")
        check_sources_match(self.structure, sources)
        for s in self._ordered(sources):
            check_codes(codes(s), self.cards, f"source {s.name!r}")
            if budget > len(s):
                raise ConfigError(f"budget (ipc) {budget} is larger than source {s.name!r} ({len(s)} records)")

    def _ordered(self, sources: Sources) -> Sources:
        if sources.variables == self.structure.variables:
            return sources
        return Sources([s.reorder(self.structure.variables) for s in sources])

    def evidence(self, source: Source) -> Evidence:
        """The compiled :class:`Evidence` of ``source`` (any variable order; cached while it lives)."""
        def make() -> Evidence:
            ordered = source if source.variables == self.structure.variables else \
                source.reorder(self.structure.variables)
            return Evidence(self.structure, self.cards, codes(ordered))
        return self._evidence.get(source, make)

    # --- the four methods ------------------------------------------------------------------
    def init_synthetic(self, sources: Sources, budget: int, generator: torch.Generator) -> SyntheticSet:
        sources = self._ordered(sources)
        parts = []
        for j, s in enumerate(sources):
            others = [o for i, o in enumerate(sources) if i != j] or [s]
            freq = state_frequencies(others, self.cards).to(s.values.device, s.values.dtype)
            idx = torch.randperm(len(s), generator=generator)[:budget].to(s.values.device)
            x = codes(s)[idx]
            fill = freq.clamp(min=1e-12).log().expand(*x.shape, -1)
            noise = torch.randn(fill.shape, generator=generator, dtype=fill.dtype).to(fill.device)
            seen = one_hot(x.clamp(min=0), self.cards, fill.dtype) * self.init_confidence
            logits = torch.where((x >= 0)[..., None], seen, fill + self.fill_noise * noise)
            log_w = torch.full((budget,), math.log(self.init_weight), dtype=fill.dtype, device=fill.device)
            parts.append({"logits": logits, "log_weight": log_w})
        learnable = ["logits", "log_weight"] if self.weighted else ["logits"]
        return SyntheticSet(parts, learnable=learnable, part_names=sources.names,
                            meta={"variables": list(self.structure.variables), "cards": list(self.cards)})

    def fit(self, synthetic: SyntheticSet, *, generator=None) -> DiscreteDBN:
        probs = record_probs(synthetic["logits"], self.cards)
        return self._model(probs, synthetic["log_weight"].exp())

    def _model(self, probs: Tensor, weights: Tensor) -> DiscreteDBN:
        cpt0, cpt = fit_cpts(self.structure, self.cards, probs, weights, self.alpha)
        return DiscreteDBN(self.structure, self.cards, cpt0, cpt)

    def fit_rounded(self, synthetic: SyntheticSet) -> DiscreteDBN:
        """The model fitted to the records rounded to hard categories (weights kept)."""
        with torch.no_grad():
            logits = synthetic["logits"]
            hard = one_hot(round_records(logits, self.cards), self.cards, logits.dtype)
            return self._model(hard, synthetic["log_weight"].exp())

    def score(self, model: DiscreteDBN, sources: Sources, *, part: int | None = None, generator=None) -> Tensor:
        use = [i for i in range(len(sources))
               if self.score_on == "all" or part is None or len(sources) == 1 or i != part]
        total = sum(self.evidence(sources[i]).log_likelihood(model) for i in use)
        return total / sum(len(sources[i]) for i in use)

    def evaluate(self, synthetic: SyntheticSet, test: Source, *, generator=None) -> dict[str, float]:
        if isinstance(test, Sources):
            test = test[0]
        test = test.reorder(self.structure.variables) if test.variables != self.structure.variables else test
        x = codes(test)
        with torch.no_grad():
            out = {"test_ll": mean_ll(self.fit(synthetic), x),
                   "test_ll_rounded": mean_ll(self.fit_rounded(synthetic), x),
                   "total_weight": float(synthetic["log_weight"].exp().sum())}
        if self.truth is not None:
            out["truth_ll"] = mean_ll(self.truth.to(dtype=synthetic["logits"].dtype), x)
        return out
