"""Reference case: distil linear-regression data for a ridge learner.

Methods: ``distilled_exact``, ``distilled_zeroth_order`` against ``random`` (a real subset of
the same size, the initialisation) and ``full`` (all training data). Metric: test MSE / R^2.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from data_gen.regression import make_regression
from taskdd import distill, make_generator
from taskdd.cases import CaseStudy, RunContext
from taskdd.plots import metric_vs_budget
from taskdd.study import Method, Study
from taskdd.synthetic import SyntheticSet
from taskdd.tasks.ridge import RidgeRegressionTask


@dataclass(frozen=True)
class Config:
    """budgets: synthetic rows; seeds: number of seeds (base seed from --seed)."""

    budgets: tuple[int, ...] = (3, 10, 30)
    seeds: int = 5
    n_train: int = 2000
    n_test: int = 2000
    p: int = 8
    noise: float = 0.5
    steps: int = 300
    zo_steps: int = 300
    zo_directions: int = 16
    lr: float = 0.05


def run(cfg: Config, ctx: RunContext) -> None:
    task = RidgeRegressionTask()
    study = Study(ctx)
    for seed in study.seeds(cfg.seeds):
        prob = make_regression(cfg.n_train, cfg.n_test, cfg.p, cfg.noise, seed=seed)
        test = prob.test.to(ctx.device)

        def judge(s: SyntheticSet, test=test) -> dict:
            return {"metrics": task.evaluate(s, test)}

        def distilled(method: str, steps: int, opts: dict | None, prob=prob, judge=judge) -> Method:
            return Method(f"distilled_{method}", lambda c: study.distill(
                c, task, prob.train, method=method, steps=steps, lr=cfg.lr, method_options=opts,
                evaluate=lambda r: judge(r.synthetic)))

        full = SyntheticSet([{"x": prob.train["x"], "y": prob.train["y"]}], learnable=[])
        study.block([Method("full", lambda c, full=full: judge(full), budgeted=False),
                     Method("random", lambda c, prob=prob: judge(task.init_synthetic(prob.train, c.budget,
                                                                                      make_generator(c.seed)))),
                     distilled("exact", cfg.steps, None),
                     distilled("zeroth_order", cfg.zo_steps, {"directions": cfg.zo_directions})],
                    seed=seed, budgets=cfg.budgets)
        ctx.echo(f"seed {seed} done")
    ctx.report(ctx.results.summary("test_mse").to_string())
    ctx.save_figure(metric_vs_budget(ctx.results.frame(), "test_mse", title="ridge: test MSE"), "test_mse")


CASE = CaseStudy("ridge-demo", Config, run, quick={"seeds": 2, "budgets": (5,), "steps": 100, "zo_steps": 50,
                                                    "n_train": 300, "n_test": 300},
                 description="distil regression data for a ridge learner (reference task)")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "ridge-demo", *sys.argv[1:]]))
