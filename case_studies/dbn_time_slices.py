"""The paper's Figure 4: final clean test log-likelihood and time per step against the number of
time slices T (2..10 for both methods; 20 and 50 for the exact method only)."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from case_studies.dbn_common import DTYPES, METHODS, MethodConfig, ProblemConfig, baseline_methods, distilled_method
from taskdd.cases import CaseStudy, RunContext
from taskdd.overrides import check_names
from taskdd.plots import curves
from taskdd.study import Study


@dataclass(frozen=True)
class Config:
    """problem: the DBN and its sources as in dbn-merge (set as ``problem.n_test=...``), with
    sequences of each T in Ts; ipc: sequences per source in the distilled set; methods: exact
    and/or zeroth_order (the latter up to T = zo_max_T), with their settings exact /
    zeroth_order (:class:`~case_studies.dbn_common.MethodConfig`, ``--set zeroth_order.steps=...``)."""

    Ts: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 50)
    zo_max_T: int = 10
    ipc: int = 10
    seeds: int = 3
    problem: ProblemConfig = ProblemConfig(n_test=1000)
    dtype: str = "float64"
    methods: tuple[str, ...] = METHODS
    exact: MethodConfig = MethodConfig(steps=150, score_on="all")
    zeroth_order: MethodConfig = MethodConfig(steps=300, schedule="cyclic", score_on="others")

    def __post_init__(self):
        check_names("methods", self.methods, METHODS)


def _methods(cfg: Config, study: Study, T: int, seed: int, device) -> list:
    """The methods of one T and seed, in the order of their rows in results.csv."""
    dtype = DTYPES[cfg.dtype]
    prob = cfg.problem.make(seed, T)
    sources, clean = prob.sources.to(device, dtype), prob.full_clean.to(device, dtype)
    test = prob.test.to(device, dtype)
    base = baseline_methods(prob, sources, clean, cfg.problem.K)
    labels = [m for m in METHODS if m in cfg.methods and (m == "exact" or T <= cfg.zo_max_T)]
    distilled = [distilled_method(study, m, getattr(cfg, m), prob, sources, test) for m in labels]
    return [base["direct_fit"], *distilled, base["full_clean"], base["sub"]]


def run(cfg: Config, ctx: RunContext) -> None:
    study = Study(ctx)
    for T in cfg.Ts:
        for seed in study.seeds(cfg.seeds):
            study.block(_methods(cfg, study, T, seed, ctx.device), seed=seed, budgets=(cfg.ipc,), setting=f"T={T}")
        ctx.echo(f"T={T}: done")
    for table, metric in ((ctx.results, "test_ll"), (ctx.timings, "time_per_step_s")):
        d = table.frame()
        d = d[d.metric == metric].assign(T=lambda f: f.case.str.split("T=").str[1].astype(int))
        ctx.report(f"\n{metric} (mean over seeds) against T:")
        ctx.report(d.groupby(["method", "T"])["value"].mean().unstack().to_string())
        ctx.save_figure(curves(d, "T", "value", "method", title=f"Fig. 4: {metric} against T",
                               logy=metric == "time_per_step_s"), f"fig4_{metric}")


CASE = CaseStudy("dbn-time-slices", Config, run,
                 quick={"Ts": (2, 5), "seeds": 1, "problem.n_per_source": 500, "problem.n_test": 300,
                        "exact.steps": 60, "zeroth_order.steps": 30},
                 description="paper Fig. 4: test LL and time per step against the number of time slices")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "dbn-time-slices", *sys.argv[1:]]))
