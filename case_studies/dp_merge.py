"""Differentially private site summaries: distilled-set utility against epsilon.

The dbn-merge problem (K sources, each hiding its own variables, observation noise 0.3): each
source releases an (eps, delta)-DP summary of its sequences (:func:`taskdd.tasks.dbn.privacy.private_summary`;
public pattern = the variables the site measures, public per-variable bounds = the generating
DBN's marginal mean +- ``bound_sds`` marginal std devs, standing for published clinical ranges),
and the hub distils ``ipc`` sequences per source from the private summaries
(``distilled_dp_eps<eps>``; ``eps = inf``: bounded and clipped, no noise). Beside it: ``sub``
(a clean real subset of the same size), ``distilled_nonprivate`` (the same distillation from the
exact summaries) and ``direct_fit`` (the ceiling), at each ``n_per_source``. Metric: clean test
log-likelihood per sequence.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, replace

import pandas as pd
import torch

from case_studies.dbn_common import MethodConfig, ProblemConfig, baseline_methods, distilled_method
from taskdd.cases import CaseStudy, RunContext
from taskdd.plots import curves
from taskdd.study import Study
from taskdd.tasks.dbn.likelihood import state_space
from taskdd.tasks.dbn.privacy import private_summary
from taskdd.tasks.dbn.site import SiteSummaries, SiteSummary
from taskdd.tasks.dbn.summary_likelihood import unrolled_moments


@dataclass(frozen=True)
class Config:
    """problem: the DBN and its sources; T: slices; n_per_source: sequences per source (one
    block each); epsilons: privacy levels (``inf`` = no noise); delta: DP delta; ipc: distilled
    sequences per source; seeds; bound_sds: public bounds in marginal std devs; exact: the
    distillation settings."""

    problem: ProblemConfig = ProblemConfig()
    T: int = 5
    n_per_source: tuple[int, ...] = (2000, 20000)
    epsilons: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, math.inf)
    delta: float = 1e-5
    ipc: int = 20
    seeds: int = 3
    bound_sds: float = 4.0
    exact: MethodConfig = MethodConfig(steps=150, score_on="all")


def public_bounds(truth, T: int, noise: float, k: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per variable: min over slices of mean - k sd and max of mean + k sd (observed = truth + noise)."""
    d = truth.d
    mu, Sigma = unrolled_moments(state_space(truth.to(dtype=torch.float64).parameters_dict()), T)
    sd = (Sigma.diagonal() + noise ** 2).sqrt()
    mu, sd = mu.reshape(T, d), sd.reshape(T, d)
    return (mu - k * sd).min(0).values, (mu + k * sd).max(0).values


def private_sites(prob, sources, cfg: Config, eps: float, seed: int) -> tuple[SiteSummaries, list[dict]]:
    lo, hi = public_bounds(prob.truth, cfg.T, cfg.problem.noise, cfg.bound_sds)
    sites, accounts = [], []
    for j, s in enumerate(sources):
        patterns = torch.unique(s.mask.reshape(len(s), -1), dim=0).reshape(-1, *s.mask.shape[1:])
        g = torch.Generator().manual_seed(10007 * seed + 101 * j + int(1000 * min(eps, 1e6)))
        summary, acc = private_summary(s.values, s.mask, patterns, lo, hi, eps, cfg.delta, g)
        grid = {"step": 1.0, "unit": "t", "slices": cfg.T, "origin_rule": "sequence", "start": 0.0}
        sites.append(SiteSummary(s.name, s.variables, summary, grid, s.noise, {"dp": acc}))
        accounts.append(acc)
    return SiteSummaries(sites), accounts


def _label(eps: float) -> str:
    return "distilled_dp_epsinf" if math.isinf(eps) else f"distilled_dp_eps{eps:g}"


def run(cfg: Config, ctx: RunContext) -> None:
    study = Study(ctx)
    sigma_rows = []
    for n in cfg.n_per_source:
        for seed in study.seeds(cfg.seeds):
            prob = cfg.problem.make(seed, cfg.T, n_per_source=n)
            sources = prob.sources.to(ctx.device, torch.float64)
            clean = prob.full_clean.to(ctx.device, torch.float64)
            test = prob.test.to(ctx.device, torch.float64)
            base = baseline_methods(prob, sources, clean, cfg.problem.K)
            methods = [base["direct_fit"], base["sub"]]
            exact = distilled_method(study, "exact", cfg.exact, prob, sources, test)
            methods.append(replace(exact, name="distilled_nonprivate"))
            for eps in cfg.epsilons:
                sites, acc = private_sites(prob, sources, cfg, eps, seed)
                sigma_rows += [{"n_per_source": n, "seed": seed, "epsilon": eps, "source": j, **{
                    k: a[k] for k in ("sigma", "l2_sensitivity", "rows_with_clipped_values")}} for j, a in enumerate(acc)]
                m = distilled_method(study, "exact", cfg.exact, prob, sites, test)
                methods.append(replace(m, name=_label(eps)))
            study.block(methods, seed=seed, budgets=(cfg.ipc,), setting=f"n_per_source={n}")
            ctx.echo(f"n={n} seed {seed}: done")
    pd.DataFrame(sigma_rows).to_csv(ctx.out / "dp_accounting.csv", index=False)
    report(cfg, ctx)


def report(cfg: Config, ctx: RunContext) -> None:
    df = ctx.results.frame()
    df = df[df.metric == "test_ll"].copy()
    df["n"] = df.case.str.split("=").str[1].astype(int)
    table = df.groupby(["n", "method"])["value"].mean().unstack(0)
    ctx.report("mean clean test log-likelihood per sequence (over seeds):")
    ctx.report(table.to_string())
    piv = df.pivot_table(index=["n", "seed"], columns="method", values="value")
    rows = []
    for n, d in piv.groupby(level=0):
        for e in cfg.epsilons:
            if _label(e) in d:
                rows.append({"n_per_source": n, "epsilon": e, "test_ll": float(d[_label(e)].mean()),
                             "sub": float(d["sub"].mean()), "nonprivate": float(d["distilled_nonprivate"].mean()),
                             "beats_sub_seeds": int((d[_label(e)] > d["sub"]).sum()), "seeds": len(d)})
        beats = [r["epsilon"] for r in rows if r["n_per_source"] == n and r["beats_sub_seeds"] == r["seeds"]]
        ctx.report(f"n_per_source={n}: epsilons where the private distilled set beats sub on every seed: "
                   f"{beats or 'none'}")
    curve = pd.DataFrame(rows)
    curve.to_csv(ctx.out / "dp_utility.csv", index=False)
    plot = curve.assign(eps=[2 * max([e for e in cfg.epsilons if math.isfinite(e)] or [1]) if math.isinf(e) else e
                             for e in curve.epsilon])
    ctx.save_figure(curves(plot, "eps", "test_ll", "n_per_source",
                           title="private distilled set: test LL against epsilon (rightmost: no noise)"), "dp_utility")


CASE = CaseStudy("dp-merge", Config, run,
                 quick={"seeds": 1, "n_per_source": (2000,), "epsilons": (1.0, math.inf), "exact.steps": 50},
                 description="DP site summaries: distilled-set test LL against epsilon, beside sub and non-private")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "dp-merge", *sys.argv[1:]]))
