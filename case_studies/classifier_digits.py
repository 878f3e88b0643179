"""Classifier objectives on scikit-learn's digits: KIP, gradient matching, distribution matching
and unrolled training against a random real subset, k-means centres and the full data.

For each seed (which also draws the stratified 70/30 split) and images-per-class budget, every
method is distilled from the same random real subset (the ``random`` baseline) and every set is
judged by the same protocol: fresh MLPs (acc_mlp, acc_mlp_other), logistic regression, 1-NN and,
as ``acc_own``, the task's own learner (KRR for krr and for the baselines; the short unrolled
training for unrolled). Writes results.csv, objective.csv (the distillation objective at the
start and end of each run), agreement.csv, and figures: accuracy against IPC, the distilled
digits, and the early-training agreement of Yang et al. (2024).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_gen.digits import load_digits_split
from taskdd import get_task, make_generator
from taskdd.tasks.classify.analysis import early_training_agreement
from taskdd.cases import CaseStudy, RunContext
from taskdd.distill import DistillResult
from taskdd.overrides import check_names
from taskdd.plots import curves, metric_vs_budget
from taskdd.study import Cell, Method, Study
from taskdd.synthetic import SyntheticSet
from taskdd.tasks.classify import EvalProtocol, KRRTask, full_data, kmeans_centres, random_subset
from taskdd.tasks.classify.plots import image_grid

METHODS = {"krr": "classify-krr", "gm": "classify-gm", "dm": "classify-dm", "unrolled": "classify-unrolled"}
BASELINES = ("random", "kmeans")


@dataclass(frozen=True)
class Config:
    """ipcs: images per class; seeds: number of seeds (base seed from --seed); methods: subset of
    krr, gm, dm, unrolled. <method>_steps / <method>_lr: outer Adam steps and step size.
    protocol: how every set is judged (:class:`EvalProtocol`; ``--set protocol.n_models=2``: its
    fresh networks' initialisations, ``protocol.steps``: their Adam steps).
    agreement_ipc / agreement_epochs: the set size and real-training epochs of the
    early-training agreement (first seed only; skipped when agreement_ipc is not in ipcs)."""

    ipcs: tuple[int, ...] = (1, 10, 50)
    seeds: int = 3
    methods: tuple[str, ...] = ("krr", "gm", "dm", "unrolled")
    krr_steps: int = 1000
    krr_lr: float = 0.01
    gm_steps: int = 500
    gm_lr: float = 0.01
    dm_steps: int = 1000
    dm_lr: float = 0.01
    unrolled_steps: int = 500
    unrolled_lr: float = 0.01
    protocol: EvalProtocol = EvalProtocol()
    agreement_ipc: int = 10
    agreement_epochs: int = 30
    test_size: float = 0.3

    def __post_init__(self):
        check_names("methods", self.methods, list(METHODS))


def _mean_score(rows: list[dict], first: bool) -> float:
    """Mean objective over the first (or last) tenth of the steps: single steps are noisy."""
    k = max(1, len(rows) // 10)
    return float(np.mean([h["score"] for h in (rows[:k] if first else rows[-k:])]))


def _images(s: SyntheticSet, n_classes: int) -> np.ndarray:
    """The first image of each class, [C, 8, 8]."""
    x, y = s["x"].detach().cpu().numpy(), s["y"].cpu().numpy()
    return np.stack([x[np.flatnonzero(y == c)[0]].reshape(8, 8) for c in range(n_classes)])


def _seed(cfg: Config, ctx: RunContext, study: Study, seed: int, sets: dict) -> list[dict]:
    """Every method and baseline of one seed (which draws the split); fills ``sets[name, ipc,
    seed]`` and returns the objective rows."""
    prob = load_digits_split(cfg.test_size, seed=seed)
    train, test = prob.train.to(ctx.device), prob.test.to(ctx.device)
    judge = KRRTask(protocol=cfg.protocol)  # evaluates the baselines; its acc_own is KRR on the set

    def judged(s: SyntheticSet, task=judge) -> dict:
        return {"metrics": task.evaluate(s, test, generator=make_generator(seed))}

    for ipc in cfg.ipcs:
        sets["random", ipc, seed] = random_subset(train, ipc, make_generator(seed))
        sets["kmeans", ipc, seed] = kmeans_centres(train, ipc, seed)

    def distilled(method: str) -> Method:
        task = get_task(METHODS[method], protocol=cfg.protocol)

        def evaluate(cell: Cell, res: DistillResult) -> dict:
            res.save(ctx.out / "distilled" / cell.key)
            rows = res.step_rows
            return {**judged(res.synthetic, task), "score_start": _mean_score(rows, True),
                    "score_end": _mean_score(rows, False)}
        return Method(method, lambda c: study.distill(c, task, train, steps=getattr(cfg, f"{method}_steps"),
                                                      lr=getattr(cfg, f"{method}_lr"),
                                                      evaluate=lambda r: evaluate(c, r)))

    got = study.block([Method("full", lambda c: judged(full_data(train)), budgeted=False),
                       *(Method(n, lambda c, n=n: judged(sets[n, c.budget, seed])) for n in BASELINES),
                       *(distilled(m) for m in cfg.methods)], seed=seed, budgets=cfg.ipcs)
    for (method, ipc), out in got.items():
        if method in cfg.methods:
            sets[method, ipc, seed] = DistillResult.load(ctx.out / "distilled" / Cell(method, ipc, seed).key) \
                .synthetic.to(ctx.device)
    return [{"method": m, "ipc": ipc, "seed": seed, "score_start": out["score_start"], "score_end": out["score_end"]}
            for (m, ipc), out in got.items() if m in cfg.methods]


def _agreement(cfg: Config, ctx: RunContext, sets: dict, names: list[str]) -> None:
    """Early-training agreement of Yang et al. (2024) at agreement_ipc, first seed."""
    prob = load_digits_split(cfg.test_size, seed=ctx.seed)
    train, test = prob.train.to(ctx.device), prob.test.to(ctx.device)
    rows = []
    for n in names:
        key = f"agreement_{n}_ipc{cfg.agreement_ipc}_seed{ctx.seed}"
        df = ctx.unit(key, lambda n=n: early_training_agreement(
            sets[n, cfg.agreement_ipc, ctx.seed], train, test, epochs=cfg.agreement_epochs, protocol=cfg.protocol,
            generator=make_generator(ctx.seed)).to_dict("records"))
        rows += [{**r, "method": n} for r in df]
    agreement = pd.DataFrame(rows)
    agreement.to_csv(ctx.out / "agreement.csv", index=False)
    ctx.report(f"\nearly-training agreement at ipc {cfg.agreement_ipc}: epoch of peak (excess) agreement "
               "with networks trained on real data")
    for col in ("agreement", "excess_agreement"):
        peak = agreement.loc[agreement.groupby("method")[col].idxmax()].set_index("method")
        ctx.report(peak[["epoch", "agreement", "excess_agreement", "real_acc", "synthetic_acc"]]
                   .rename(columns={"epoch": f"peak_{col}_epoch"}).round(4).to_string())
        fig = curves(agreement, "epoch", col, "method",
                     title=f"{col.replace('_', ' ')} with real-data training after k epochs (ipc {cfg.agreement_ipc})")
        if col == "agreement":
            real = agreement.groupby("epoch").real_acc.mean()
            fig.axes[0].plot(real.index, real.values, "k--", lw=1, label="real-data net accuracy")
            fig.axes[0].legend(fontsize=8)
        ctx.save_figure(fig, col)


def run(cfg: Config, ctx: RunContext) -> None:
    study = Study(ctx)
    objective_rows, sets = [], {}
    for seed in study.seeds(cfg.seeds):
        objective_rows += _seed(cfg, ctx, study, seed, sets)
        ctx.echo(f"seed {seed} done")

    frame = ctx.results.frame()
    for metric in ("acc_mlp", "acc_own"):
        ctx.report(f"\n{metric} (mean ± std over {cfg.seeds} seeds; columns = images per class)")
        ctx.report(ctx.results.summary(metric).to_string())
        ctx.save_figure(metric_vs_budget(frame, metric, title=f"digits: {metric}", ylabel=f"test accuracy ({metric})"),
                        metric)
    objective = pd.DataFrame(objective_rows)
    objective.to_csv(ctx.out / "objective.csv", index=False)
    ctx.report("\ndistillation objective, mean of the first and last tenth of the steps (higher is better)")
    ctx.report(objective.groupby(["method", "ipc"])[["score_start", "score_end"]].mean().round(4).to_string())

    names = [*BASELINES, *cfg.methods]
    ipc0 = min(cfg.ipcs)
    grid = np.stack([_images(sets[n, ipc0, ctx.seed], 10) for n in names])
    ctx.save_figure(image_grid(grid, names, [str(c) for c in range(10)],
                               title=f"first image of each class, ipc {ipc0}, seed {ctx.seed}"), "distilled_digits")
    if cfg.agreement_ipc in cfg.ipcs:
        _agreement(cfg, ctx, sets, names)


CASE = CaseStudy("classifier-digits", Config, run,
                 quick={"ipcs": (1, 10), "seeds": 1, "krr_steps": 300, "gm_steps": 100, "dm_steps": 300,
                        "unrolled_steps": 100, "protocol.n_models": 2, "protocol.steps": 300, "agreement_epochs": 5},
                 description="classifier objectives (KIP, GM, DM, unrolled) on sklearn digits against baselines")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "classifier-digits", *sys.argv[1:]]))
