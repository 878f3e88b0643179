"""What the DBN case studies (dbn-merge, dbn-time-slices) share: the problem settings, the
distillation methods' settings, the baselines and the distillation, as
:class:`taskdd.study.Method` rows.

Both cases' configs embed ``problem: ProblemConfig`` (``--set problem.noise=0.5``) and one
``MethodConfig`` per distillation method, named after it (``--set exact.steps=100``,
``--set zeroth_order.directions=8``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

import torch

from data_gen.dbn import DBNProblem, make_sources, random_dbn
from taskdd import make_generator
from taskdd.study import Cell, Method, Study
from taskdd.tasks.dbn import baselines
from taskdd.tasks.dbn.task import DBNLikelihoodTask, mean_test_ll, parameter_error

__all__ = ["DTYPES", "METHODS", "ProblemConfig", "MethodConfig", "model_metrics", "baseline_methods",
           "distilled_method"]

DTYPES = {"float32": torch.float32, "float64": torch.float64}
#: the distillation methods (``taskdd.distill`` estimators) the DBN cases compare
METHODS = ("exact", "zeroth_order")


@dataclass(frozen=True)
class ProblemConfig:
    """A random linear-Gaussian DBN over ``d`` variables (``data_gen.dbn.random_dbn``) and ``K``
    sources of ``n_per_source`` sequences, each hiding ``hidden_per_source`` variables and adding
    noise of std ``noise``; ``n_test`` clean test sequences. Default: d=8, K=3, 3 hidden per
    source, noise 0.3, 2000 sequences per source (with 200 per source the sources hold less than a
    clean 150-sequence subset)."""

    d: int = 8
    K: int = 3
    hidden_per_source: int = 3
    noise: float = 0.3
    n_per_source: int = 2000
    n_test: int = 2000

    def make(self, seed: int, T: int, n_per_source: int | None = None) -> DBNProblem:
        """The problem of ``seed`` with sequences of ``T`` slices (``n_per_source`` overrides)."""
        dbn = random_dbn(self.d, seed=seed)
        return make_sources(dbn, n_per_source=n_per_source or self.n_per_source, T=T, K=self.K,
                            hidden_per_source=self.hidden_per_source, noise=self.noise, n_test=self.n_test, seed=seed)


@dataclass(frozen=True)
class MethodConfig:
    """One distillation method's settings: steps and lr of the outer Adam; schedule: "all" (every
    part each step) | "cyclic" (part ``step % K``, the paper's algorithm); score_on: "all"
    sources | "others" (all but the updated part's own); directions / smoothing: the
    zeroth-order estimator's Gaussian directions per step and their scale (unused by exact)."""

    steps: int = 150
    lr: float = 0.05
    schedule: Literal["all", "cyclic"] = "all"
    score_on: Literal["all", "others"] = "all"
    directions: int = 4
    smoothing: float = 0.01

    def distill_kwargs(self, method: str) -> dict[str, Any]:
        """Keyword arguments of :func:`taskdd.distill` (and the task's ``score_on``) for ``method``."""
        kw: dict[str, Any] = dict(method=method, steps=self.steps, lr=self.lr, schedule=self.schedule,
                                  score_on=self.score_on)
        if method == "zeroth_order":
            kw["method_options"] = {"directions": self.directions, "smoothing": self.smoothing}
        return kw


def model_metrics(model: Any, prob: DBNProblem) -> dict[str, float]:
    """Clean test log-likelihood per sequence and parameter errors against the truth."""
    return {"test_ll": mean_test_ll(model, prob.test), **parameter_error(model, prob.truth)}


def _direct_fit(prob: DBNProblem, sources) -> dict:
    t0 = time.perf_counter()
    model = baselines.direct_fit(prob.truth.structure, sources)
    return {"metrics": model_metrics(model, prob), "timing": {"wall_time_s": time.perf_counter() - t0}}


def baseline_methods(prob: DBNProblem, sources, clean, K: int) -> dict[str, Method]:
    """``direct_fit`` (marginal-likelihood fit to the sources: the ceiling, timed), ``full_clean``,
    ``impute`` (no budget) and ``sub`` (a clean real subset of ``K * budget`` sequences)."""
    structure = prob.truth.structure
    return {
        "direct_fit": Method("direct_fit", lambda c: _direct_fit(prob, sources), budgeted=False),
        "full_clean": Method("full_clean", lambda c: {"metrics": model_metrics(baselines.full_clean(structure, clean),
                                                                               prob)}, budgeted=False),
        "impute": Method("impute", lambda c: {"metrics": model_metrics(baselines.impute(structure, sources), prob)},
                         budgeted=False),
        "sub": Method("sub", lambda c: {"metrics": model_metrics(
            baselines.sub(structure, clean, K * c.budget, make_generator(c.seed)), prob)}),
    }


def distilled_method(study: Study, label: str, settings: MethodConfig, prob: DBNProblem, sources, judge_on,
                     **distill_kwargs) -> Method:
    """``distilled_<label>``: a :class:`DBNLikelihoodTask` distillation of ``sources`` with method
    ``label`` and its ``settings``, judged on the test set ``judge_on``; its payload keeps the
    test-LL curve (``[step, test_ll, wall_time]`` rows, when ``distill_kwargs`` evaluate during
    the run: ``test=..., eval_every=...``)."""
    kw = {**settings.distill_kwargs(label), **distill_kwargs}
    score_on = kw.pop("score_on")

    def work(cell: Cell) -> dict:
        task = DBNLikelihoodTask(prob.truth.structure, score_on=score_on, truth=prob.truth)
        return study.distill(cell, task, sources, evaluate=lambda r: {
            "metrics": task.evaluate(r.synthetic, judge_on),
            "curve": [[h["step"], h["test_ll"], h["wall_time"]] for h in r.history if "test_ll" in h]},
            **kw)
    return Method(f"distilled_{label}", work)
