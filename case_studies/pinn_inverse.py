"""The inverse PINN problem: the PDE coefficient is unknown and learned with the network from the
data, so the data are essential (physics alone fits every coefficient).

Family ``poisson-k`` (:mod:`taskdd.tasks.pinn.coef`): ``-k u'' = pi^2 sin(pi x)`` on [0, 1],
``u(0) = alpha``, ``u(1) = 0``, true ``k = 1``; ``--set pde=heat-k`` (with a prior such as ``--set
task.coef=0.2``) runs the same study on space and time, the ``heat`` family with its diffusivity
unknown (true 0.1). Data as in pinn-ood: noisy measurements with alpha
from the lower tail of N(0, 1), clean test curves from the upper tail. Every method is judged the
same way: ``eval_models`` fresh networks, each with its own coefficient started at the prior
``task.coef`` (2.0), trained ``eval_steps`` Adam steps; ``test_rel_l2`` (test tail),
``train_rel_l2`` (training tail), ``coef`` (mean learned k) and ``coef_rel_err``.

Methods (results.csv): at each budget ``distilled`` (learner physics on the training tail, k
learned), ``random_subset`` (the distillation's start) and ``d_optimal`` (the locally D-optimal
real measurements for k at the prior, :func:`~taskdd.tasks.pinn.inverse.d_optimal_subset`);
without a budget ``all_data`` (all measurements, physics on the training tail, k learned),
``wrong_coef`` (all data, the physics with k fixed at the prior), ``fullphys_learned_coef`` (all
data, physics over the whole declared range, k learned: no distillation), ``oracle`` (all data,
physics over the whole range with the true k). Figures: error against alpha, the learned
coefficient and the errors against the budget.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from case_studies.pinn_ood import StudySettings, _Setting, _setting, _table
from taskdd import make_generator
from taskdd.cases import CaseStudy, RunContext
from taskdd.plots import metric_vs_budget
from taskdd.study import Cell, Method, Study
from taskdd.tasks.pinn import InversePINNTask, rel_l2_by_alpha
from taskdd.tasks.pinn.inverse import d_optimal_subset
from taskdd.tasks.pinn.plots import error_vs_alpha

METRICS = ("test_rel_l2", "train_rel_l2", "coef_rel_err", "coef")


@dataclass(frozen=True)
class Config(StudySettings):
    """:class:`~case_studies.pinn_ood.StudySettings` (3 seeds here) and: pde: a registered
    CoefFamily; task: the :class:`InversePINNTask` settings (its coef is the prior, also the
    ``wrong_coef`` physics and the ``d_optimal`` design point)."""

    seeds: int = 3
    pde: str = "poisson-k"
    task: InversePINNTask = field(default_factory=InversePINNTask)

    def __post_init__(self):
        InversePINNTask(pde=self.pde)  # a CoefFamily, or a ConfigError naming the problem
        super().__post_init__()


def _judge(s: _Setting, task: InversePINNTask, x, alpha, y) -> dict[str, Any]:
    """Fresh networks (the evaluation generator, shared by all methods) trained on ``x, alpha, y``."""
    model = task.train_networks(x, alpha, y, task.eval_models, make_generator(10_000 + s.seed))
    return {"metrics": task.metrics(model, s.prob.test),
            "err_alpha": rel_l2_by_alpha(model.predict, s.grid, s.grid_x).tolist()}


def _references(s: _Setting) -> list[Method]:
    train, full = s.prob.train, s.prob.alpha_range
    data = (train["x"], train["alpha"], train["y"])
    tasks = {"all_data": s.base, "wrong_coef": s.task(learn_coef=False),
             "fullphys_learned_coef": s.task(physics_range=full),
             "oracle": s.task(physics_range=full, learn_coef=False, coef=s.base.true_coef)}
    return [Method(name, lambda c, t=t: _judge(s, t, *data), budgeted=False) for name, t in tasks.items()]


def _subsets(s: _Setting) -> list[Method]:
    def pick(c: Cell, how: str) -> dict[str, Any]:
        init = (s.base.init_synthetic(s.prob.train, c.budget, make_generator(c.seed)) if how == "random_subset"
                else d_optimal_subset(s.base.problem, s.prob.train, c.budget, s.base.coef))
        return {**_judge(s, s.base, init["x"], init["alpha"], init["y"]),
                "set": {k: init[k].detach().cpu().tolist() for k in ("x", "alpha", "y")}}
    return [Method(how, lambda c, how=how: pick(c, how)) for how in ("random_subset", "d_optimal")]


def _distilled(cfg: Config, study: Study, s: _Setting) -> Method:
    def evaluate(res) -> dict[str, Any]:
        syn = res.synthetic
        return {**_judge(s, s.base, syn["x"], syn["alpha"], syn["y"]),
                "set": {k: syn[k].detach().cpu().tolist() for k in ("x", "alpha", "y")}}
    return Method("distilled", lambda c: study.distill(c, s.base, s.prob.train, steps=cfg.steps, lr=cfg.lr,
                                                       lr_schedule=cfg.lr_schedule, evaluate=evaluate))


def _figures(cfg: Config, ctx: RunContext, units: dict, s: _Setting) -> None:
    big = 20 if 20 in cfg.budgets else max(cfg.budgets)
    alphas = np.linspace(-cfg.alpha_limit, cfg.alpha_limit, cfg.grid_alphas)
    first = min(units)
    errs = {m: np.array([units[sd][(m, b)]["err_alpha"] for sd in units])
            for m, b in (("all_data", None), ("wrong_coef", None), ("fullphys_learned_coef", None),
                         ("oracle", None), ("random_subset", big), ("d_optimal", big), ("distilled", big))
            if (m, b) in units[first]}
    ctx.save_figure(error_vs_alpha(alphas, errs, s.prob.train_range, s.prob.test_range,
                                   title=f"{cfg.pde}: error against alpha (budget {big} for sets)"), "error_vs_alpha")
    frame = ctx.results.frame()
    learned = ("distilled", "random_subset", "d_optimal", "all_data", "fullphys_learned_coef", "oracle")
    for metric, label, methods in (("coef", "learned coefficient k", learned),
                                   ("coef_rel_err", "coefficient rel. error", learned),
                                   ("test_rel_l2", "OOD relative L2 error", None)):
        title = f"{cfg.pde}: {label} against budget" + ("" if methods is None else " (wrong_coef: the prior)")
        ctx.save_figure(metric_vs_budget(frame, metric, ylabel=label, methods=methods, title=title),
                        f"{metric}_vs_budget")


def run(cfg: Config, ctx: RunContext) -> None:
    """Seeds in the outer loop; results.csv and the figures are rewritten after each seed."""
    study = Study(ctx)
    units: dict[int, dict] = {}
    for seed in study.seeds(cfg.seeds):
        s = _setting(cfg, cfg.pde, seed, ctx.device)
        methods = [*_references(s), *_subsets(s), _distilled(cfg, study, s)]
        units[seed] = study.block(methods, seed=seed, budgets=cfg.budgets)
        _figures(cfg, ctx, units, s)
        ctx.results.save(ctx.out / "results.csv")
        ctx.echo(f"seed {seed} done")
    for metric in METRICS:
        table = _table(ctx.results.frame(), metric).to_string()
        ctx.report(f"\n{metric} (mean ± std over {cfg.seeds} seeds)\n{table}")


CASE = CaseStudy("pinn-inverse", Config, run,
                 quick={"seeds": 1, "budgets": (20,), "steps": 150, "n_test_alphas": 4, "n_test_x": 21,
                        "task.eval_models": 2, "grid_alphas": 9, "grid_x": 21},
                 description="PINN inverse problem: an unknown PDE coefficient learned from distilled data")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "pinn-inverse", *sys.argv[1:]]))
