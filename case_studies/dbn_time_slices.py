"""The paper's Figure 4: final clean test log-likelihood and time per step against the number of
time slices T (2..10 for both methods; 20 and 50 for the exact method only)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

import torch

from case_studies.dbn_merge import Config as MergeConfig, _model_metrics, _problem
from taskdd import distill, make_generator
from taskdd.tasks.dbn import baselines
from taskdd.cases import CaseStudy, RunContext
from taskdd.plots import curves
from taskdd.tasks.dbn.task import DBNLikelihoodTask


@dataclass(frozen=True)
class Config:
    """Problem as in dbn-merge (d=8, K=3, 3 hidden per source, noise 0.3) at one IPC."""

    Ts: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50)
    zo_max_T: int = 10
    ipc: int = 10
    seeds: int = 3
    n_per_source: int = 2000
    n_test: int = 1000
    d: int = 8
    K: int = 3
    hidden_per_source: int = 3
    noise: float = 0.3
    dtype: str = "float64"
    steps: int = 150
    lr: float = 0.05
    zo_steps: int = 300
    zo_directions: int = 4
    zo_smoothing: float = 0.01
    methods: tuple[str, ...] = ("exact", "zeroth_order")


def _one(cfg: Config, ctx: RunContext, T: int, seed: int) -> dict:
    """Baselines and distillations for one T and seed (a resumable unit)."""
    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    mcfg = replace(MergeConfig(), d=cfg.d, K=cfg.K, hidden_per_source=cfg.hidden_per_source, noise=cfg.noise,
                   n_per_source=cfg.n_per_source, n_test=cfg.n_test, T=T)
    prob = _problem(mcfg, seed, cfg.n_per_source)
    sources, clean = prob.sources.to(ctx.device, dtype), prob.full_clean.to(ctx.device, dtype)
    structure = prob.truth.structure
    out = {"metrics": {}, "time_per_step_s": {}}
    for name, model in (("direct_fit", baselines.direct_fit(structure, sources)),
                        ("full_clean", baselines.full_clean(structure, clean)),
                        ("sub", baselines.sub(structure, clean, cfg.K * cfg.ipc, make_generator(seed)))):
        out["metrics"][name] = _model_metrics(model, prob)
    runs = [("exact", dict(method="exact", steps=cfg.steps, lr=cfg.lr), "all")]
    if T <= cfg.zo_max_T:
        runs.append(("zeroth_order", dict(method="zeroth_order", steps=cfg.zo_steps, lr=cfg.lr, schedule="cyclic",
                                          method_options={"directions": cfg.zo_directions,
                                                          "smoothing": cfg.zo_smoothing}), "others"))
    for label, kw, score_on in runs:
        if label not in cfg.methods:
            continue
        task = DBNLikelihoodTask(structure, score_on=score_on, truth=prob.truth)
        res = distill(task, sources, cfg.ipc, seed=seed, device=ctx.device, quiet=True, **kw,
                      **ctx.checkpointing(f"{label}_T{T}_seed{seed}"))
        out["metrics"][f"distilled_{label}"] = task.evaluate(res.synthetic, prob.test.to(ctx.device, dtype))
        out["time_per_step_s"][f"distilled_{label}"] = res.history[-1]["wall_time"] / len(res.history)
    return out


def run(cfg: Config, ctx: RunContext) -> None:
    for T in cfg.Ts:
        for seed in range(ctx.seed, ctx.seed + cfg.seeds):
            out = ctx.unit(f"T{T}_seed{seed}", lambda: _one(cfg, ctx, T, seed))
            for name, m in out["metrics"].items():
                budget = None if name in ("direct_fit", "full_clean") else cfg.ipc
                ctx.results.add(name, budget, seed, m, case=f"{ctx.case}:T={T}")
            for name, t in out["time_per_step_s"].items():
                ctx.timings.add(name, cfg.ipc, seed, {"time_per_step_s": t}, case=f"{ctx.case}:T={T}")
        ctx.echo(f"T={T}: done")
    for table, metric in ((ctx.results, "test_ll"), (ctx.timings, "time_per_step_s")):
        d = table.frame()
        d = d[d.metric == metric].assign(T=lambda f: f.case.str.split("T=").str[1].astype(int))
        ctx.report(f"\n{metric} (mean over seeds) against T:")
        ctx.report(d.groupby(["method", "T"])["value"].mean().unstack().to_string())
        ctx.save_figure(curves(d, "T", "value", "method", title=f"Fig. 4: {metric} against T",
                               logy=metric == "time_per_step_s"), f"fig4_{metric}")


CASE = CaseStudy("dbn-time-slices", Config, run,
                 quick={"Ts": (2, 5), "seeds": 1, "n_per_source": 500, "n_test": 300, "steps": 60,
                        "zo_steps": 30},
                 description="paper Fig. 4: test LL and time per step against the number of time slices")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "dbn-time-slices", *sys.argv[1:]]))
