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
import time
from dataclasses import dataclass

import pandas as pd
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd import distill, make_generator
from taskdd.tasks.dbn import baselines
from taskdd.cases import CaseStudy, RunContext
from taskdd.plots import curves, metric_vs_budget
from taskdd.tasks.dbn.task import DBNLikelihoodTask, mean_test_ll, parameter_error

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class Config:
    """Default problem: d=8, K=3 sources each hiding 3 variables, noise 0.3, 2000 sequences per
    source, T=5 (with 200 per source the sources hold less than a clean 150-sequence subset)."""

    d: int = 8
    K: int = 3
    hidden_per_source: int = 3
    noise: float = 0.3
    n_per_source: int = 2000
    T: int = 5
    n_test: int = 2000
    ipcs: tuple[int, ...] = (2, 5, 10, 20, 50, 100)
    seeds: int = 10
    dtype: str = "float64"
    # exact method (autograd through the fit and the Kalman likelihood)
    steps: int = 150
    lr: float = 0.05
    score_on: str = "all"
    schedule: str = "all"
    eval_every: int = 10
    # zeroth-order method (the paper's estimator): part j, scored on the other sources
    methods: tuple[str, ...] = ("exact", "zeroth_order")
    zo_steps: int = 600
    zo_directions: int = 4
    zo_smoothing: float = 0.01
    zo_lr: float = 0.05
    zo_score_on: str = "others"
    zo_schedule: str = "cyclic"
    zo_seeds: int = 3
    # data regime: direct_fit and sub against sequences per source
    regime_n: tuple[int, ...] = (200, 500, 2000)
    regime_ipcs: tuple[int, ...] = (10, 50)
    regime_seeds: int = 3


def _problem(cfg: Config, seed: int, n_per_source: int):
    dbn = random_dbn(cfg.d, seed=seed)
    return make_sources(dbn, n_per_source=n_per_source, T=cfg.T, K=cfg.K, hidden_per_source=cfg.hidden_per_source,
                        noise=cfg.noise, n_test=cfg.n_test, seed=seed)


def _model_metrics(model, prob) -> dict[str, float]:
    return {"test_ll": mean_test_ll(model, prob.test), **parameter_error(model, prob.truth)}


def _baselines(cfg: Config, prob, sources, clean, seed: int) -> dict:
    structure = prob.truth.structure
    t0 = time.perf_counter()
    ceiling = baselines.direct_fit(structure, sources)
    out = {"wall_time_direct_fit_s": time.perf_counter() - t0, "flat": {}, "sub": {}}
    for name, model in (("direct_fit", ceiling), ("full_clean", baselines.full_clean(structure, clean)),
                        ("impute", baselines.impute(structure, sources))):
        out["flat"][name] = _model_metrics(model, prob)
    for ipc in cfg.ipcs:
        out["sub"][str(ipc)] = _model_metrics(baselines.sub(structure, clean, cfg.K * ipc, make_generator(seed)), prob)
    return out


def _distill_settings(cfg: Config, label: str) -> tuple[dict, str]:
    if label == "exact":
        return dict(method="exact", steps=cfg.steps, lr=cfg.lr, schedule=cfg.schedule), cfg.score_on
    return (dict(method="zeroth_order", steps=cfg.zo_steps, lr=cfg.zo_lr, schedule=cfg.zo_schedule,
                 method_options={"directions": cfg.zo_directions, "smoothing": cfg.zo_smoothing}), cfg.zo_score_on)


def run_merge(cfg: Config, ctx: RunContext) -> None:
    dtype = _DTYPES[cfg.dtype]
    curve_rows = []
    for seed in range(ctx.seed, ctx.seed + cfg.seeds):
        prob = _problem(cfg, seed, cfg.n_per_source)
        sources = prob.sources.to(ctx.device, dtype)
        clean, test = prob.full_clean.to(ctx.device, dtype), prob.test.to(ctx.device, dtype)
        base = ctx.unit(f"baselines_seed{seed}", lambda: _baselines(cfg, prob, sources, clean, seed))
        for name, metrics in base["flat"].items():
            ctx.results.add(name, None, seed, metrics)
        ctx.timings.add("direct_fit", None, seed, {"wall_time_s": base["wall_time_direct_fit_s"]})
        for ipc in cfg.ipcs:
            ctx.results.add("sub", ipc, seed, base["sub"][str(ipc)])
            labels = [m for m in cfg.methods if m == "exact" or seed < ctx.seed + cfg.zo_seeds]
            for label in labels:
                kw, score_on = _distill_settings(cfg, label)
                key = f"{label}_ipc{ipc}_seed{seed}"

                def work():
                    task = DBNLikelihoodTask(prob.truth.structure, score_on=score_on, truth=prob.truth)
                    res = distill(task, sources, ipc, seed=seed, device=ctx.device, test=test,
                                  eval_every=cfg.eval_every, quiet=ctx.quiet, **kw, **ctx.checkpointing(key))
                    return {"metrics": task.evaluate(res.synthetic, test), "steps": len(res.history),
                            "wall_time_s": res.history[-1]["wall_time"],
                            "curve": [[h["step"], h["test_ll"], h["wall_time"]] for h in res.history if "test_ll" in h]}

                out = ctx.unit(key, work)
                ctx.results.add(f"distilled_{label}", ipc, seed, out["metrics"])
                ctx.timings.add(f"distilled_{label}", ipc, seed,
                                {"wall_time_s": out["wall_time_s"], "time_per_step_s": out["wall_time_s"] / out["steps"]})
                curve_rows += [{"method": f"distilled_{label}", "ipc": ipc, "seed": seed, "step": st,
                                "test_ll": ll, "wall_time": wt} for st, ll, wt in out["curve"]]
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
    rows = []
    dtype = _DTYPES[cfg.dtype]
    for n in cfg.regime_n:
        for seed in range(ctx.seed, ctx.seed + cfg.regime_seeds):
            rows += ctx.unit(f"regime_n{n}_seed{seed}", lambda: _regime_rows(cfg, ctx, n, seed, dtype))
    _report_regime(pd.DataFrame(rows), ctx)


def _regime_rows(cfg: Config, ctx: RunContext, n: int, seed: int, dtype) -> list[dict]:
    prob = _problem(cfg, seed, n)
    sources, clean = prob.sources.to(ctx.device, dtype), prob.full_clean.to(ctx.device, dtype)
    structure = prob.truth.structure
    rows = [{"n_per_source": n, "seed": seed, "method": "direct_fit", "ipc": None,
             "test_ll": mean_test_ll(baselines.direct_fit(structure, sources), prob.test)}]
    for ipc in cfg.regime_ipcs:
        if cfg.K * ipc <= len(clean):
            m = baselines.sub(structure, clean, cfg.K * ipc, make_generator(seed))
            rows.append({"n_per_source": n, "seed": seed, "method": f"sub_ipc{ipc}", "ipc": ipc,
                         "test_ll": mean_test_ll(m, prob.test)})
    return rows


def _report_regime(df: pd.DataFrame, ctx: RunContext) -> None:
    for r in df.itertuples():
        ctx.results.add(r.method.split("_ipc")[0], r.ipc, r.seed, {"test_ll": r.test_ll},
                        case=f"{ctx.case}:n_per_source={r.n_per_source}")
    ctx.report("\ndata regime: mean test LL against sequences per source")
    ctx.report(df.groupby(["method", "n_per_source"])["test_ll"].mean().unstack().to_string())
    ctx.save_figure(curves(df.assign(n=df.n_per_source), "n", "test_ll", "method",
                           title="direct_fit vs sub against sequences per source"), "regime")


def run(cfg: Config, ctx: RunContext) -> None:
    run_merge(cfg, ctx)
    if cfg.regime_n:
        run_regime(cfg, ctx)


CASE = CaseStudy("dbn-merge", Config, run,
                 quick={"seeds": 3, "ipcs": (2, 20), "methods": ("exact",), "regime_n": (), "steps": 100},
                 description="paper Fig. 2-3: merge K partial noisy sources into a distilled set for a DBN")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "dbn-merge", *sys.argv[1:]]))
