"""The paper's Figures 2 and 3, plus the data-regime study (Kungurtsev et al. 2024).

K sources from one random linear-Gaussian DBN, each hiding its own variables and adding noise,
are distilled into K * ipc fully observed sequences. Reported beside every baseline of the same
size: ``sub`` (clean real subset, D^sub), ``full_clean``, ``direct_fit`` (marginal-likelihood fit
to all sources: the ceiling), ``impute``. Figure 2: clean test log-likelihood against IPC; Figure
3: test log-likelihood against distillation step; regime: ``direct_fit`` and ``sub`` against the
number of sequences per source.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import pandas as pd

from case_studies.dbn_common import (DTYPES, METHODS, MethodConfig, ProblemConfig, baseline_methods,
                                     distilled_method)
from taskdd.cases import CaseStudy, RunContext
from taskdd.overrides import check_names
from taskdd.plots import curves, metric_vs_budget
from taskdd.study import Study


@dataclass(frozen=True)
class Config:
    """problem: the DBN and its sources (:class:`case_studies.dbn_common.ProblemConfig`, set as
    ``problem.noise=...``); T: time slices; ipcs: sequences per source in the distilled set;
    seeds: number of seeds (base seed from --seed); dtype: float32 | float64.
    methods: exact (autograd through the fit and the Kalman likelihood) and/or zeroth_order (the
    paper's estimator, on the first zo_seeds seeds); exact / zeroth_order: their settings
    (:class:`~case_studies.dbn_common.MethodConfig`, set as ``exact.steps=...``). eval_every:
    test LL every N steps for Figure 3. Data regime: direct_fit and sub against sequences per
    source (regime_n), at regime_ipcs, over regime_seeds seeds."""

    problem: ProblemConfig = ProblemConfig()
    T: int = 5
    ipcs: tuple[int, ...] = (2, 5, 10, 20, 50, 100)
    seeds: int = 10
    dtype: str = "float64"
    methods: tuple[str, ...] = METHODS
    exact: MethodConfig = MethodConfig(steps=150, score_on="all")
    zeroth_order: MethodConfig = MethodConfig(steps=600, schedule="cyclic", score_on="others")
    zo_seeds: int = 3
    eval_every: int = 10
    regime_n: tuple[int, ...] = (200, 500, 2000)
    regime_ipcs: tuple[int, ...] = (10, 50)
    regime_seeds: int = 3

    def __post_init__(self):
        check_names("methods", self.methods, METHODS)


def run_merge(cfg: Config, ctx: RunContext) -> None:
    dtype = DTYPES[cfg.dtype]
    study = Study(ctx)
    curve_rows = []
    for seed in study.seeds(cfg.seeds):
        prob = cfg.problem.make(seed, cfg.T)
        sources = prob.sources.to(ctx.device, dtype)
        clean, test = prob.full_clean.to(ctx.device, dtype), prob.test.to(ctx.device, dtype)
        base = baseline_methods(prob, sources, clean, cfg.problem.K)
        zo_seed = seed < ctx.seed + cfg.zo_seeds
        methods = [base["direct_fit"], base["full_clean"], base["impute"], base["sub"],
                   *(distilled_method(study, m, getattr(cfg, m), prob, sources, test, test=test,
                                      eval_every=cfg.eval_every)
                     for m in cfg.methods if m == "exact" or zo_seed)]
        got = study.block(methods, seed=seed, budgets=cfg.ipcs)
        curve_rows += [{"method": m, "ipc": ipc, "seed": seed, "step": st, "test_ll": ll, "wall_time": wt}
                       for (m, ipc), out in got.items() for st, ll, wt in out.get("curve", [])]
        ctx.echo(f"seed {seed}: done")
    frame = ctx.results.frame()
    curves_df = pd.DataFrame(curve_rows)
    curves_df.to_csv(ctx.out / "curves.csv", index=False)
    _print_and_plot_fig2(frame, ctx)
    if not curves_df.empty:
        for label, d in curves_df.groupby("method"):
            ctx.save_figure(curves(d, "step", "test_ll", "ipc", title=f"Fig. 3: {label} test LL per step"),
                            f"fig3_{label}")


def _print_and_plot_fig2(frame: pd.DataFrame, ctx: RunContext) -> None:
    ll = frame[frame.metric == "test_ll"]
    table = ll.groupby(["method", "budget"], dropna=False)["value"].agg(["mean", "std", "count"])
    ctx.report("test log-likelihood per sequence (mean, std over seeds):")
    ctx.report(table.to_string())
    gaps = gap_table(frame)
    if not gaps.empty:
        ctx.report("\nfraction of gap closed by distilled_exact (per seed: min / mean):")
        ctx.report(gaps.to_string())
        gaps.to_csv(ctx.out / "gaps.csv")
    ctx.save_figure(metric_vs_budget(frame, "test_ll", title="Fig. 2: clean test log-likelihood",
                                     ylabel="mean test LL per sequence"), "fig2_test_ll")
    ctx.save_figure(metric_vs_budget(frame, "test_ll", relative_to="direct_fit",
                                     title="Fig. 2: test LL relative to the direct fit (the ceiling)"),
                    "fig2_test_ll_vs_direct_fit")


def gap_table(frame: pd.DataFrame, method: str = "distilled_exact") -> pd.DataFrame:
    """Per IPC: how many seeds beat sub, and the fraction of the sub->full_clean and
    sub->direct_fit gaps that ``method`` closes (min and mean over seeds)."""
    ll = frame[frame.metric == "test_ll"]
    piv = ll.pivot_table(index=["seed", "budget"], columns="method", values="value", dropna=False)
    flat = ll[ll.budget.isna()].pivot_table(index="seed", columns="method", values="value")
    if method not in piv.columns:
        return pd.DataFrame()
    rows = []
    for ipc, d in piv.reset_index().groupby("budget"):
        d = d.set_index("seed")
        ref = flat.loc[d.index]
        dist, sub_ = d[method], d["sub"]
        rows.append({"ipc": int(ipc), "seeds": len(d), "beats_sub": int((dist > sub_).sum()),
                     "gap_full_clean_min": float(((dist - sub_) / (ref["full_clean"] - sub_)).min()),
                     "gap_full_clean_mean": float(((dist - sub_) / (ref["full_clean"] - sub_)).mean()),
                     "gap_direct_fit_min": float(((dist - sub_) / (ref["direct_fit"] - sub_)).min()),
                     "gap_direct_fit_mean": float(((dist - sub_) / (ref["direct_fit"] - sub_)).mean())})
    return pd.DataFrame(rows).set_index("ipc")


def run_regime(cfg: Config, ctx: RunContext) -> None:
    """direct_fit and sub against sequences per source: when do partial, noisy sources carry
    less than a clean subset?"""
    dtype = DTYPES[cfg.dtype]
    study = Study(ctx)
    for n in cfg.regime_n:
        for seed in study.seeds(cfg.regime_seeds):
            prob = cfg.problem.make(seed, cfg.T, n_per_source=n)
            sources, clean = prob.sources.to(ctx.device, dtype), prob.full_clean.to(ctx.device, dtype)
            base = baseline_methods(prob, sources, clean, cfg.problem.K)
            sub = replace(base["sub"], when=lambda c, n=len(clean): cfg.problem.K * c.budget <= n)
            study.block([base["direct_fit"], sub], seed=seed, budgets=cfg.regime_ipcs, setting=f"n_per_source={n}")
    _report_regime(ctx)


def _report_regime(ctx: RunContext) -> None:
    df = ctx.results.frame()
    df = df[df.case.str.startswith(f"{ctx.case}:n_per_source=") & (df.metric == "test_ll")].copy()
    df["n"] = df.case.str.split("=").str[1].astype(int)
    df["method"] = [m if pd.isna(b) else f"{m}_ipc{int(b)}" for m, b in zip(df.method, df.budget)]
    df = df.rename(columns={"value": "test_ll"})
    ctx.report("\ndata regime: mean test LL against sequences per source")
    ctx.report(df.groupby(["method", "n"])["test_ll"].mean().unstack().to_string())
    ctx.save_figure(curves(df, "n", "test_ll", "method", title="direct_fit vs sub against sequences per source"),
                    "regime")


def run(cfg: Config, ctx: RunContext) -> None:
    run_merge(cfg, ctx)
    if cfg.regime_n:
        run_regime(cfg, ctx)


CASE = CaseStudy("dbn-merge", Config, run,
                 quick={"seeds": 3, "ipcs": (2, 20), "methods": ("exact",), "regime_n": (), "exact.steps": 100},
                 description="paper Fig. 2-3: merge K partial noisy sources into a distilled set for a DBN")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "dbn-merge", *sys.argv[1:]]))
