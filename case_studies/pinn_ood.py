"""PINN measurements distilled for out-of-distribution boundary conditions (paper Fig. 5).

For each PDE family (Poisson, nonlinear) and seed (which draws the training alphas, x and noise,
the test alphas, the distillation and the networks), the training measurements have alpha from
the lower tail of N(0, 1) and noisy y; the test curves have alpha from the upper tail, clean.
Every set is judged by the same protocol: ``eval_models`` fresh networks trained ``eval_steps``
Adam steps with the task's learner, relative L2 error on the test tail (``test_rel_l2``) and on
the training tail (``train_rel_l2``).

Methods (results.csv): ``distilled`` (PINN learner), ``random_subset`` (the distillation's
starting point) and ``distilled_mlp`` (distilled for and judged with the data-only learner) at
each budget, the ablation ``distilled_alpha_in_range`` (alphas held in the training tail) at the
``ablation_budgets`` (default: the largest budget only, to save a third of the run); references without a
budget: ``all_data`` (PINN on all noisy data, physics over the training tail),
``all_data_fullphys`` (physics over the whole declared range), ``physics_only`` (no data,
physics over the whole range), ``deepxde_all_data`` (deepxde ``Model.train`` on all data),
``mlp_all_data`` (data-only learner on all data), ``zero`` and ``alpha_agnostic`` (a polynomial
in x fitted to all data, blind to alpha). Figures per PDE: the solution at a test alpha, the error
against alpha across both tails, where the distilled alphas went, the outer loss curves.
Families on a geometry (``poisson2d``, ``heat``: ``--set pdes=heat``) run without the 1D-only
reference ``alpha_agnostic``; their test curves are grids of
``n_test_x`` values per input, and the solution figure is a line along the first input.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from data_gen.pinn import PINNProblem, curves, line_curve, make_pinn_problem
from taskdd import Samples, make_generator
from taskdd.cases import CaseStudy, RunContext
from taskdd.study import Cell, Method, Study
from taskdd.distill import LR_SCHEDULES
from taskdd.errors import ConfigError
from taskdd.overrides import check_names
from taskdd.plots import curves as curve_plot
from taskdd.plots import metric_vs_budget
from taskdd.tasks.pinn import PINNTask, rel_l2_by_alpha, split_rel_l2
from taskdd.tasks.pinn.baselines import AlphaAgnosticFit, empty_set, zero_predictor
from taskdd.tasks.pinn.deepxde_learner import train_deepxde
from taskdd.tasks.pinn.metrics import Predictor
from taskdd.tasks.pinn.plots import alpha_histogram, error_vs_alpha, solution_at_alpha
from taskdd.tasks.pinn.families import get_problem, pde_names

DISTILLED = ("distilled", "distilled_alpha_in_range", "distilled_mlp")
_PER_SETTING = ("pde", "physics_range", "score_range")
REFERENCES = ("all_data", "all_data_fullphys", "physics_only", "deepxde_all_data", "mlp_all_data", "zero",
              "alpha_agnostic")
_NEEDED = ("distilled", "all_data", "all_data_fullphys")  # the figures and tables draw on these


@dataclass(frozen=True)
class StudySettings:
    """The settings the PINN case studies share. budgets: synthetic points; seeds: number of seeds
    (base from --seed); steps: outer Adam steps of every distillation; lr: the outer step size;
    lr_schedule: its schedule ("cosine": from lr down to 0). n_train, quantile, alpha_limit,
    noise, n_test_alphas, n_test_x: the data (``data_gen.pinn.make_pinn_problem``). plot_alpha:
    the test alpha of the solution figure; grid_alphas / grid_x: the error-against-alpha curves."""

    budgets: tuple[int, ...] = (10, 20, 50)
    seeds: int = 5
    steps: int = 450
    lr: float = 0.05
    lr_schedule: str = "cosine"
    n_train: int = 200
    quantile: float = 0.16
    alpha_limit: float = 3.0
    noise: float = 0.1
    n_test_alphas: int = 20
    n_test_x: int = 101
    plot_alpha: float = 2.0
    grid_alphas: int = 25
    grid_x: int = 51

    def __post_init__(self):
        if not self.budgets or min(self.budgets) < 1 or max(self.budgets) > self.n_train:
            raise ConfigError(f"budgets must be in [1, n_train={self.n_train}], got {self.budgets!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {sorted(LR_SCHEDULES)}, got {self.lr_schedule!r}")


@dataclass(frozen=True)
class Config(StudySettings):
    """:class:`StudySettings` and: pdes: PDE families; ablation_budgets: the budgets at which the
    ``distilled_alpha_in_range`` ablation runs. steps / lr: Poisson, budget 50, seed 0-3: 300
    constant-step iterations end at test error 0.06-0.17 and the score stops improving after
    about 200 (a constant step keeps a noisy hypergradient moving the set); 450 steps reached
    0.04-0.07 on seeds 1 and 2, cosine or constant alike (a distillation and its evaluation:
    4.5-5 minutes on one CPU core in the full run).
    mlp_lr: the outer step size of ``distilled_mlp``: at 0.05 its outer loss rose from about 1
    to 9-37 within 300 steps at budgets 20 and 50 (the data-only networks' curvature blows up
    the score's PDE term), at 0.01 it stays near 1.
    task: the :class:`PINNTask` settings (``--set task.width=64``): its learner and pool (width,
    depth, inner_lr, unroll, pool_size, ...) and evaluation protocol (eval_models / eval_steps,
    also the deepxde reference's); its pde, physics_range and score_range come from ``pdes`` and
    the data, so they are not set here. skip: methods not to run (any of DISTILLED and
    REFERENCES but distilled, all_data, all_data_fullphys; ``--set skip=distilled_mlp,mlp_all_data``
    saves three of the seven distillations of a seed)."""

    pdes: tuple[str, ...] = ("poisson", "nonlinear")
    ablation_budgets: tuple[int, ...] = (50,)
    mlp_lr: float = 0.01
    task: PINNTask = field(default_factory=PINNTask)
    skip: tuple[str, ...] = ()

    def __post_init__(self):
        check_names("pdes", self.pdes, pde_names())
        for name in self.pdes:
            get_problem(name)  # an entry point's family: loaded and registered now
        check_names("skip", self.skip, [m for m in (*DISTILLED, *REFERENCES) if m not in _NEEDED])
        super().__post_init__()
        if not set(self.ablation_budgets) <= set(self.budgets):
            raise ConfigError(f"ablation_budgets {self.ablation_budgets!r} must be among budgets {self.budgets!r}")
        for name in _PER_SETTING:
            if getattr(self.task, name) != getattr(PINNTask(), name):
                raise ConfigError(f"task.{name} is set per PDE from pdes and the data; got {getattr(self.task, name)!r}")


@dataclass(frozen=True)
class _Setting:
    """One PDE and seed: the data, the tasks, and the curves every method is judged on."""

    prob: PINNProblem
    base: PINNTask
    grid: Samples
    grid_x: int
    plot: Samples
    seed: int

    def task(self, **changes) -> PINNTask:
        return self.base.with_options(**changes)

    def judge(self, predict: Predictor) -> dict[str, Any]:
        """Metrics, error against alpha and the solution at the plot alpha of one predictor."""
        return {"metrics": split_rel_l2(predict, self.prob.test),
                "err_alpha": rel_l2_by_alpha(predict, self.grid, self.grid_x).tolist(),
                "solution": predict(self.plot["x"], self.plot["alpha"]).mean(0).tolist()}

    def train_and_judge(self, task: PINNTask, x, alpha, y) -> dict[str, Any]:
        """Fresh networks (the evaluation generator, shared by all methods) on ``x, alpha, y``."""
        model = task.train_networks(x, alpha, y, task.eval_models, make_generator(10_000 + self.seed))
        return self.judge(model.predict)


def _setting(cfg: Config, pde: str, seed: int, device: torch.device) -> _Setting:
    prob = make_pinn_problem(pde, n_train=cfg.n_train, n_test_alphas=cfg.n_test_alphas, n_test_x=cfg.n_test_x,
                             quantile=cfg.quantile, alpha_limit=cfg.alpha_limit, noise=cfg.noise, seed=seed)
    prob = PINNProblem(prob.pde, prob.train.to(device), prob.test.to(device), prob.train_range, prob.test_range,
                       prob.alpha_range, prob.noise)
    base = cfg.task.with_options(pde=pde, physics_range=prob.train_range, score_range=prob.alpha_range)
    alphas = torch.linspace(-cfg.alpha_limit, cfg.alpha_limit, cfg.grid_alphas, dtype=torch.float64)
    grid = curves(prob.pde, alphas, cfg.grid_x).to(device, torch.float32)
    plot = line_curve(prob.pde, cfg.plot_alpha, cfg.grid_x).to(device, torch.float32)
    return _Setting(prob, base, grid, len(grid) // cfg.grid_alphas, plot, seed)


def _references(s: _Setting, skip: tuple[str, ...]) -> list[Method]:
    """The references without a budget, judged by the same protocol."""
    train = s.prob.train
    x, a, y = train["x"], train["alpha"], train["y"]
    full = s.task(physics_range=s.prob.alpha_range)
    none = empty_set(x)
    work = {
        "all_data": lambda: s.train_and_judge(s.base, x, a, y),
        "all_data_fullphys": lambda: s.train_and_judge(full, x, a, y),
        "physics_only": lambda: s.train_and_judge(full, none["x"], none["alpha"], none["y"]),
        "deepxde_all_data": lambda: s.judge(train_deepxde(s.base, x, a, y, s.base.eval_models,
                                                          make_generator(10_000 + s.seed)).predict),
        "mlp_all_data": lambda: s.train_and_judge(s.task(learner="mlp"), x, a, y),
        "zero": lambda: s.judge(zero_predictor),
        "alpha_agnostic": lambda: s.judge(AlphaAgnosticFit.fit(train)),
    }
    if s.prob.pde.dim > 1:  # the polynomial in x is 1D only
        del work["alpha_agnostic"]
    return [Method(name, lambda c, fn=fn: fn(), budgeted=False) for name, fn in work.items() if name not in skip]


def _distilled(cfg: Config, study: Study, s: _Setting, method: str) -> Method:
    """``method`` (one of DISTILLED) at each budget: a distillation judged like the references."""
    task = {"distilled": s.base, "distilled_alpha_in_range": s.task(alpha_in_range=True),
            "distilled_mlp": s.task(learner="mlp")}[method]
    lr = cfg.mlp_lr if method == "distilled_mlp" else cfg.lr

    def evaluate(res) -> dict[str, Any]:
        syn = res.synthetic
        return {**s.train_and_judge(task, syn["x"], syn["alpha"], syn["y"]),
                "set": {k: syn[k].detach().cpu().tolist() for k in ("x", "alpha", "y")},
                "scores": [h["score"] for h in res.step_rows]}

    when = (lambda c: c.budget in cfg.ablation_budgets) if method == "distilled_alpha_in_range" else None
    return Method(method, lambda c: study.distill(c, task, s.prob.train, steps=cfg.steps, lr=lr,
                                                  lr_schedule=cfg.lr_schedule, evaluate=evaluate), when=when)


def _table(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    d = frame[frame.metric == metric].copy()
    d["budget"] = d.budget.map(lambda b: "-" if pd.isna(b) else str(int(b)))
    g = d.groupby(["method", "budget"])["value"]
    return (g.mean().map("{:.4f}".format) + " ± " + g.std(ddof=0).fillna(0).map("{:.4f}".format)).unstack("budget")


def _figures(cfg: Config, ctx: RunContext, pde: str, units: dict, s0: _Setting) -> None:
    """The four figures of one PDE over the seeds in ``units`` (seed -> (method, budget) -> unit)."""
    prob = s0.prob
    big = max(cfg.budgets)
    first = min(units)
    sol = {m: np.array(units[first][(m, None)]["solution"]) for m in ("all_data", "all_data_fullphys")}
    sol["distilled"] = np.array(units[first][("distilled", big)]["solution"])
    px = s0.plot["x"] if s0.plot["x"].ndim == 1 else s0.plot["x"][:, 0]
    ctx.save_figure(solution_at_alpha(px.cpu().numpy(), s0.plot["y"].cpu().numpy(), sol, cfg.plot_alpha,
                                      title=f"{pde}: solution at test alpha (seed {first}, budget {big})"
                                      + ("" if s0.plot["x"].ndim == 1 else ", other inputs mid-box")),
                    f"{pde}_solution")
    alphas = np.linspace(-cfg.alpha_limit, cfg.alpha_limit, cfg.grid_alphas)
    errs = {m: np.array([units[sd][(m, b)]["err_alpha"] for sd in units])
            for m, b in (("all_data", None), ("all_data_fullphys", None), ("physics_only", None),
                         ("random_subset", big), ("distilled", big), ("distilled_alpha_in_range", big))
            if (m, b) in units[first]}
    ctx.save_figure(error_vs_alpha(alphas, errs, prob.train_range, prob.test_range,
                                   title=f"{pde}: error against alpha (budget {big} for sets)"),
                    f"{pde}_error_vs_alpha")
    where = {m: np.concatenate([units[sd][(m, big)]["set"]["alpha"] for sd in units])
             for m in ("distilled", "distilled_mlp", "distilled_alpha_in_range") if (m, big) in units[first]}
    ctx.save_figure(alpha_histogram(prob.train["alpha"].cpu().numpy(), where, prob.train_range, prob.test_range,
                                    title=f"{pde}: distilled alphas (budget {big}, all seeds)"), f"{pde}_alphas")
    rows = [{"step": i + 1, "outer_loss": -v, "budget": b, "seed": sd}
            for sd in units for (m, b), u in units[sd].items() if m == "distilled" for i, v in enumerate(u["scores"])]
    loss = pd.DataFrame(rows)
    loss["outer_loss"] = loss.groupby(["budget", "seed"])["outer_loss"].transform(
        lambda v: v.rolling(max(1, len(v) // 20), min_periods=1).mean())
    ctx.save_figure(curve_plot(loss, "step", "outer_loss", "budget", logy=True,
                               title=f"{pde}: outer loss of the pool (rolling mean, mean over seeds)"),
                    f"{pde}_outer_loss")
    ctx.save_figure(metric_vs_budget(ctx.results.frame().query(f"case == '{ctx.case}:pde={pde}'"), "test_rel_l2",
                                     title=f"{pde}: OOD relative L2 error"), f"{pde}_test_rel_l2")


def _random_subset(s: _Setting) -> Method:
    """The distillation's starting point (the task's ``init_synthetic``), judged as is."""
    def work(c: Cell) -> dict[str, Any]:
        init = s.base.init_synthetic(s.prob.train, c.budget, make_generator(c.seed))
        return s.train_and_judge(s.base, init["x"], init["alpha"], init["y"])
    return Method("random_subset", work)


def run(cfg: Config, ctx: RunContext) -> None:
    """Seeds in the outer loop: after each seed results.csv, the figures and the tables are
    rewritten, so a run stopped early leaves complete results for the seeds it finished."""
    study = Study(ctx)
    units: dict[str, dict[int, dict]] = {pde: {} for pde in cfg.pdes}
    for seed in study.seeds(cfg.seeds):
        for pde in cfg.pdes:
            s = _setting(cfg, pde, seed, ctx.device)
            methods = [*_references(s, cfg.skip), _random_subset(s),
                       *(_distilled(cfg, study, s, m) for m in DISTILLED if m not in cfg.skip)]
            units[pde][seed] = study.block(methods, seed=seed, budgets=cfg.budgets, setting=f"pde={pde}")
            _figures(cfg, ctx, pde, units[pde], s)
            ctx.echo(f"{pde} seed {seed} done")
        ctx.results.save(ctx.out / "results.csv")
    for pde in cfg.pdes:
        frame = ctx.results.frame()
        frame = frame[frame.case == f"{ctx.case}:pde={pde}"]
        for metric in ("test_rel_l2", "train_rel_l2"):
            ctx.report(f"\n{pde}: {metric} (mean ± std over {cfg.seeds} seeds)\n{_table(frame, metric).to_string()}")


CASE = CaseStudy("pinn-ood", Config, run,
                 quick={"seeds": 1, "budgets": (10,), "ablation_budgets": (), "steps": 300, "n_test_alphas": 4,
                        "n_test_x": 21, "task.eval_models": 2, "task.eval_steps": 1000, "grid_alphas": 9, "grid_x": 21,
                        "task.unroll": 10, "task.pool_size": 2},
                 description="PINN measurements distilled for out-of-distribution boundary conditions (Fig. 5)")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "pinn-ood", *sys.argv[1:]]))
