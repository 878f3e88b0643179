"""What the discrete merge cases (alarm-merge, dbn-discrete-merge) share: the learner and
distillation settings, the baselines and the two distillations as :class:`taskdd.study.Method`
rows, and the report (test LL table, gaps closed, figures).

Methods (results.csv ``method``): ``distilled_exact`` (weighted records), ``distilled_unweighted``
(unit weights), ``sub`` (clean real subset of ``K * ipc`` records), ``impute`` (mode imputation),
``direct_fit`` (EM on all partial sources: the ceiling), ``full_clean``, ``free_counts`` (free
count tables of the unweighted set's mass ``K * ipc``: the unit-weight learner's own bound).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Literal

import pandas as pd

from data_gen.discrete_merge import DiscreteProblem
from case_studies.dbn_merge import gap_table
from taskdd import make_generator
from taskdd.cases import RunContext
from taskdd.overrides import check_names
from taskdd.plots import metric_vs_budget
from taskdd.study import Cell, Method, Study
from taskdd.tasks.dbn_discrete import baselines
from taskdd.tasks.dbn_discrete.task import DiscreteDBNTask, codes, mean_ll

__all__ = ["Settings", "METHODS", "MergeConfig", "run_merge", "merge_methods", "gaps", "report"]

#: every method the discrete merge cases can run, in results order
METHODS = ("direct_fit", "full_clean", "impute", "sub", "distilled_exact", "distilled_unweighted", "free_counts")


@dataclass(frozen=True)
class Settings:
    """alpha: Dirichlet pseudo-count per CPT cell (every learner). steps / lr / schedule /
    score_on: the exact distillation (Adam on the records' logits and log-weights; "all" parts
    each step | "cyclic"; score on "all" sources | "others"). init_weight: each record's starting
    weight. free_steps / free_lr: Adam on free_counts' log count tables; free_ipcs: the IPCs at
    which free_counts runs (empty: every IPC; it costs as much as a distillation). em_iter / em_tol: the
    direct fit's EM (stops when the mean LL per record gains less than em_tol)."""

    alpha: float = 1.0
    steps: int = 200
    lr: float = 0.1
    schedule: Literal["all", "cyclic"] = "all"
    score_on: Literal["all", "others"] = "all"
    init_weight: float = 1.0
    free_steps: int = 200
    free_lr: float = 0.1
    free_ipcs: tuple[int, ...] = (20,)
    em_iter: int = 100
    em_tol: float = 1e-5


def _timed(fn, test) -> dict:
    t0 = time.perf_counter()
    model = fn()
    wall = time.perf_counter() - t0
    return {"metrics": {"test_ll": mean_ll(model, test)}, "timing": {"wall_time_s": wall}}


@dataclass(frozen=True)
class MergeConfig:
    """What both discrete merge cases set: sources of n_per_source records (sequences) missing
    cell_missing of the recorded cells, n_test clean test records; ipcs: records per source in
    the distilled set; seeds: number of seeds (base seed from --seed); methods: which of
    :data:`METHODS` to run; learner: the learner's and distillation's settings
    (``--set learner.steps=...``)."""

    n_per_source: int = 2000
    cell_missing: float = 0.05
    ipcs: tuple[int, ...] = (2, 5, 10, 20, 50)
    seeds: int = 5
    methods: tuple[str, ...] = METHODS
    learner: Settings = Settings()

    def __post_init__(self):
        check_names("methods", self.methods, METHODS)


def run_merge(cfg: MergeConfig, ctx: RunContext, make_problem: Callable[[int], DiscreteProblem]) -> None:
    """Every method of ``cfg`` at every IPC for each seed's problem, then :func:`report`."""
    study = Study(ctx)
    for seed in study.seeds(cfg.seeds):
        study.block(merge_methods(study, make_problem(seed), cfg.learner, cfg.methods), seed=seed, budgets=cfg.ipcs)
        ctx.echo(f"seed {seed}: done")
    report(ctx)


def merge_methods(study: Study, prob: DiscreteProblem, cfg: Settings, methods=METHODS) -> list[Method]:
    """The :data:`METHODS` named in ``methods`` as rows of a study block (seeded per cell)."""
    S, cards, a = prob.truth.structure, prob.truth.cards, cfg.alpha
    src, test, clean = prob.sources, codes(prob.test), prob.full_clean
    K = len(src)

    def distilled(weighted: bool):
        def work(cell: Cell) -> dict:
            task = DiscreteDBNTask(S, cards, alpha=a, weighted=weighted, init_weight=cfg.init_weight,
                                   score_on=cfg.score_on)
            return study.distill(cell, task, src, evaluate=lambda r: {"metrics": task.evaluate(r.synthetic, prob.test)},
                                 method="exact", steps=cfg.steps, lr=cfg.lr, schedule=cfg.schedule)
        return work

    rows = {
        "direct_fit": Method("direct_fit", lambda c: _timed(lambda: baselines.direct_fit(
            S, cards, src, a, max_iter=cfg.em_iter, tol=cfg.em_tol), test), budgeted=False),
        "full_clean": Method("full_clean", lambda c: _timed(lambda: baselines.full_clean(S, cards, clean, a), test),
                             budgeted=False),
        "impute": Method("impute", lambda c: _timed(lambda: baselines.impute(S, cards, src, a), test), budgeted=False),
        "sub": Method("sub", lambda c: _timed(lambda: baselines.sub(S, cards, clean, K * c.budget,
                                                                    make_generator(c.seed), a), test)),
        "distilled_exact": Method("distilled_exact", distilled(True)),
        "distilled_unweighted": Method("distilled_unweighted", distilled(False)),
        "free_counts": Method("free_counts", lambda c: _timed(lambda: baselines.free_counts(
            S, cards, src, float(K * c.budget), a, steps=cfg.free_steps, lr=cfg.free_lr), test),
                              when=lambda c: not cfg.free_ipcs or c.budget in cfg.free_ipcs),
    }
    return [rows[m] for m in METHODS if m in methods]


def gaps(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    """:func:`case_studies.dbn_merge.gap_table` of ``method`` (seeds beating sub, fraction of the
    sub -> full_clean / direct_fit gaps closed) plus the seeds where it beats impute."""
    ll = frame[frame.metric == "test_ll"]
    table = gap_table(frame, method)
    if table.empty:
        return table
    table = table[table.index.isin(ll[ll.method == method].budget.dropna().astype(int))]  # IPCs it ran at
    piv = ll.pivot_table(index=["budget", "seed"], columns="method", values="value")[method]
    imp = ll[(ll.method == "impute") & ll.budget.isna()].set_index("seed").value
    table["beats_impute"] = [int((piv.loc[ipc] > imp.loc[piv.loc[ipc].index]).sum()) for ipc in table.index]
    return table.assign(method=method).reset_index().set_index(["method", "ipc"])


def report(ctx: RunContext) -> None:
    """Print the test-LL table and the gaps closed (gaps.csv); save the figures."""
    frame = ctx.results.frame()
    for metric in ("test_ll", "test_ll_rounded", "total_weight"):
        sel = frame[frame.metric == metric]
        if not sel.empty:
            ctx.report(f"{metric} per record (mean, std over seeds):")
            table = sel.groupby(["method", "budget"], dropna=False)["value"].agg(["mean", "std", "count"])
            ctx.report(table.to_string())
    table = pd.concat([gaps(frame, m) for m in ("distilled_exact", "distilled_unweighted", "free_counts")])
    if not table.empty:
        ctx.report("\nseeds beating sub / impute; fraction of the sub -> direct_fit gap closed (min / mean):")
        ctx.report(table.to_string())
        table.to_csv(ctx.out / "gaps.csv")
    ctx.save_figure(metric_vs_budget(frame, "test_ll", title=f"{ctx.case}: clean test log-likelihood",
                                     ylabel="mean test LL per record"), "test_ll")
    ctx.save_figure(metric_vs_budget(frame, "test_ll", relative_to="direct_fit",
                                     title=f"{ctx.case}: test LL relative to the direct fit (the ceiling)"),
                    "test_ll_vs_direct_fit")
