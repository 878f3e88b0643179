"""clinical-merge: real clinical panels (Mayo Clinic PBC follow-up, ``pbcseq``) from K clinics
that each measure their own labs, distilled into a small set for a linear-Gaussian DBN.

Per split (seed): 20% of the 312 patients are the test set with all their recorded labs; the
rest are dealt into K = 3 clinics, each hiding its own labs on top of the real missingness
(:mod:`data_gen.pbc`: yearly slices, log of the skewed labs). Standardised from the clinics'
observed cells (:class:`~taskdd.tasks.dbn.scaling.Scaling`); structure learned from the clinics
(:func:`~taskdd.tasks.dbn.structure_learning.learn_structure`), the same for every method.

**Evaluation convention** (every method alike): ``test_ll`` = mean log-likelihood per test
patient, in standard units, of the test patients' *observed* labs (Kalman marginal likelihood,
missing cells marginalised), with measurement noise: one std dev per lab, estimated on the
training clinics jointly with the direct fit (``fit_with_noise(per="variable")``) and fixed.
``test_ll_clinic_panels``: the same, averaged over the clinics, with the test patients' labs
restricted to each clinic's panel (the one number on which ``clinic_own`` is comparable).

Methods: ``distilled_exact`` (K * ipc sequences), ``direct_fit`` (marginal likelihood of all
clinics: the ceiling), ``impute`` (mean imputation, least squares), ``complete_case`` (least
squares on the clinics as observed: each node's regression on the rows where the node and all
its parents are observed), ``clinic_own`` (each clinic's marginal-likelihood fit on its own
labs, structure restricted to them, scored on those labs only: ``test_ll`` is the mean over
clinics and not comparable in absolute terms), ``oracle`` (marginal-likelihood fit on the
training patients before hiding).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import pandas as pd
import torch

from case_studies.dbn_common import DTYPES, MethodConfig
from data_gen.pbc import LABS, ClinicSplit, load_pbcseq, split_clinics, yearly_source
from taskdd.cases import CaseStudy, RunContext
from taskdd.data import Source, Sources
from taskdd.errors import ConfigError, DataError
from taskdd.plots import metric_vs_budget
from taskdd.study import Method, Study
from taskdd.tasks.dbn import DBNStructure, LinearGaussianDBN, baselines
from taskdd.tasks.dbn.scaling import Scaling
from taskdd.tasks.dbn.structure_learning import learn_structure
from taskdd.tasks.dbn.task import DBNLikelihoodTask

BASELINES = ("direct_fit", "impute", "complete_case", "clinic_own", "oracle")


@dataclass(frozen=True)
class Config:
    """seeds: splits (base from --seed; split seed = seed); T: yearly slices; hidden: the labs
    each clinic hides, one ``lab+lab`` entry per clinic (K = len(hidden)); test_fraction:
    patients held out; ipcs: sequences per clinic in the distilled set (those above the smallest
    clinic are skipped); max_parents: of the learned structure; exact: the distillation
    (:class:`~case_studies.dbn_common.MethodConfig`; steps, lr, score_on); dtype."""

    seeds: int = 10
    T: int = 5
    hidden: tuple[str, ...] = ("chol+ast", "alk.phos+platelet", "protime+albumin")
    test_fraction: float = 0.2
    ipcs: tuple[int, ...] = (2, 5, 10, 20)
    max_parents: int = 3
    exact: MethodConfig = MethodConfig(steps=300, lr=0.05, score_on="all")
    dtype: str = "float64"

    def __post_init__(self):
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {list(DTYPES)}, got {self.dtype!r}")

    @property
    def panels(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(h.split("+")) for h in self.hidden)


@dataclass(frozen=True)
class Prepared:
    """One split in standard units, its structure and the fixed measurement noise ``[d]``."""

    split: ClinicSplit
    clinics: Sources
    test: Source
    train: Source
    structure: DBNStructure
    noise: torch.Tensor
    direct: LinearGaussianDBN
    direct_time: float


def prepare(cfg: Config, data: tuple[Source, object], seed: int, device, dtype) -> Prepared:
    split = split_clinics(*data, cfg.panels, test_fraction=cfg.test_fraction, seed=seed)
    scaling = Scaling.fit(split.clinics)
    clinics = scaling.sources(split.clinics).to(device, dtype)
    test, train = (scaling.source(s).to(device, dtype) for s in (split.test, split.train))
    structure = learn_structure(clinics.to("cpu"), max_parents=cfg.max_parents)
    t0 = time.perf_counter()
    direct, noise = baselines.fit_with_noise(structure, clinics, per="variable")
    return Prepared(split, clinics, test, train, structure, noise[clinics.names[0]].to(device, dtype), direct,
                    time.perf_counter() - t0)


def _keep(prep: Prepared, j: int) -> torch.Tensor:
    return torch.tensor([v not in prep.split.hidden[j] for v in LABS], device=prep.test.mask.device)


def score(model: LinearGaussianDBN, prep: Prepared) -> dict[str, float]:
    """``test_ll`` and ``test_ll_clinic_panels`` under the evaluation convention (module doc)."""
    t = prep.test
    with torch.no_grad():
        ll = float(model.log_likelihood(t.values, t.mask, obs_noise=prep.noise).mean())
        panels = [float(model.log_likelihood(t.values, t.mask & _keep(prep, j), obs_noise=prep.noise).mean())
                  for j in range(len(prep.clinics))]
    return {"test_ll": ll, "test_ll_clinic_panels": sum(panels) / len(panels)}


def _restrict(s: Source, keep: torch.Tensor, variables: list[str]) -> Source:
    return Source(s.values[..., keep], s.mask[..., keep], variables, s.name)


def clinic_own(prep: Prepared) -> dict[str, float]:
    """Each clinic's own fit on its labs (structure restricted to them), scored on those labs."""
    st, lls = prep.structure, []
    for j, clinic in enumerate(prep.clinics):
        keep = _keep(prep, j)
        seen = [v for v, k in zip(LABS, keep.tolist()) if k]
        sub = DBNStructure(seen, {v: [p for p in st.intra.get(v, []) if p in seen] for v in seen},
                           {v: [p for p in st.inter.get(v, []) if p in seen] for v in seen})
        model = baselines.direct_fit(sub, Sources([_restrict(clinic, keep, seen)]), obs_noise=prep.noise[keep])
        t = _restrict(prep.test, keep, seen)
        with torch.no_grad():
            lls.append(float(model.log_likelihood(t.values, t.mask, obs_noise=prep.noise[keep]).mean()))
    own = sum(lls) / len(lls)
    return {"test_ll": own, "test_ll_clinic_panels": own,
            **{f"test_ll_{c}": ll for c, ll in zip(prep.clinics.names, lls)}}


def complete_case(prep: Prepared) -> dict:
    """Least squares on the pooled clinics as observed (complete cases per node's regression).
    A node never observed with all its parents cannot be fitted: no metrics, the reason kept."""
    try:
        model = LinearGaussianDBN.fit_to(prep.structure, torch.cat([c.values for c in prep.clinics]),
                                         torch.cat([c.mask for c in prep.clinics]))
    except DataError as e:
        return {"metrics": {}, "error": str(e)}
    return {"metrics": score(model, prep)}


def methods(cfg: Config, study: Study, prep: Prepared) -> list[Method]:
    def fit(f):
        return lambda c: {"metrics": score(f(), prep)}
    kw = cfg.exact.distill_kwargs("exact")
    task = DBNLikelihoodTask(prep.structure, score_on=kw.pop("score_on"), obs_noise=prep.noise)
    smallest = min(len(c) for c in prep.clinics)
    return [
        Method("direct_fit", lambda c: {"metrics": score(prep.direct, prep),
                                        "timing": {"wall_time_s": prep.direct_time}}, budgeted=False),
        Method("impute", fit(lambda: baselines.impute(prep.structure, prep.clinics)), budgeted=False),
        Method("complete_case", lambda c: complete_case(prep), budgeted=False),
        Method("clinic_own", lambda c: {"metrics": clinic_own(prep)}, budgeted=False),
        Method("oracle", fit(lambda: baselines.direct_fit(prep.structure, Sources([prep.train]),
                                                          obs_noise=prep.noise)), budgeted=False),
        Method("distilled_exact", lambda c: study.distill(
            c, task, prep.clinics, evaluate=lambda r: {"metrics": score(task.fit(r.synthetic).detach(), prep)}, **kw),
               when=lambda c: c.budget <= smallest),
    ]


def run(cfg: Config, ctx: RunContext) -> None:
    data = yearly_source(load_pbcseq(), cfg.T)
    study = Study(ctx)
    structures = {}
    for seed in study.seeds(cfg.seeds):
        prep = prepare(cfg, data, seed, ctx.device, DTYPES[cfg.dtype])
        structures[seed] = {"intra": prep.structure.intra, "inter": prep.structure.inter,
                            "noise": dict(zip(LABS, prep.noise.tolist())), "clinic_sizes": [len(c) for c in prep.clinics]}
        got = study.block(methods(cfg, study, prep), seed=seed, budgets=cfg.ipcs)
        if "error" in got[("complete_case", None)]:
            structures[seed]["complete_case_error"] = got[("complete_case", None)]["error"]
            ctx.echo(f"split {seed}: complete_case not fitted: {structures[seed]['complete_case_error']}")
        ctx.echo(f"split {seed}: done")
    ctx.extra["splits"] = structures
    report(ctx)


def targets(frame: pd.DataFrame, ipc: int = 5) -> pd.DataFrame:
    """Per split: distilled at ``ipc`` against each reference (relative gap to direct_fit in %)."""
    ll = frame[frame.metric == "test_ll"]
    flat = ll[ll.budget.isna()].pivot_table(index="seed", columns="method", values="value").reindex(
        columns=["direct_fit", "impute", "complete_case", "oracle"])
    dist = ll[(ll.method == "distilled_exact") & (ll.budget == ipc)].set_index("seed").value
    if dist.empty:
        return pd.DataFrame()
    out = pd.DataFrame({"distilled": dist, "direct_fit": flat.direct_fit, "impute": flat.impute,
                        "complete_case": flat.complete_case, "oracle": flat.oracle}).dropna(subset=["distilled"])
    out["off_direct_pct"] = 100 * (out.direct_fit - out.distilled) / out.direct_fit.abs()
    out["above_impute"] = out.distilled > out.impute
    out["minus_complete_case"] = out.distilled - out.complete_case
    out["below_oracle"] = out.oracle - out.distilled
    return out


def report(ctx: RunContext) -> None:
    frame = ctx.results.frame()
    for metric in ("test_ll", "test_ll_clinic_panels"):
        d = frame[frame.metric == metric].copy()
        d["col"] = [m if pd.isna(b) else f"{m}_ipc{int(b)}" for m, b in zip(d.method, d.budget)]
        table = d.pivot_table(index="seed", columns="col", values="value")
        table.loc["mean"] = table.mean()
        ctx.report(f"\n{metric} per split (mean log-likelihood per test patient, standard units):")
        ctx.report(table.T.to_string(float_format=lambda x: f"{x:.3f}"))
        table.to_csv(ctx.out / f"{metric}_by_split.csv")
    tg = targets(frame)
    if not tg.empty:
        ctx.report("\ndistilled_exact at IPC 5 against the references, per split:")
        ctx.report(tg.to_string(float_format=lambda x: f"{x:.3f}"))
        ctx.report(f"mean over splits (complete_case over the {int(tg.complete_case.notna().sum())} splits where it "
                   f"was fitted):\n{tg.mean().to_string(float_format=lambda x: f'{x:.3f}')}")
        tg.to_csv(ctx.out / "targets.csv")
    merged = frame[frame.method != "clinic_own"]  # clinic_own's test_ll covers its own labs only
    ctx.save_figure(metric_vs_budget(merged, "test_ll", title="clinical-merge: test LL (pbcseq, standard units)",
                                     ylabel="mean test LL per patient"), "test_ll")
    ctx.save_figure(metric_vs_budget(merged, "test_ll", relative_to="direct_fit",
                                     title="clinical-merge: test LL relative to the direct fit"), "test_ll_vs_direct_fit")
    ctx.save_figure(metric_vs_budget(frame, "test_ll_clinic_panels", ylabel="mean test LL per patient",
                                     title="clinical-merge: test LL on each clinic's own labs (mean over clinics)"),
                    "test_ll_clinic_panels")


CASE = CaseStudy("clinical-merge", Config, run, quick={"seeds": 1, "ipcs": (2, 5), "exact.steps": 100},
                 description="real clinical panels (pbcseq): K clinics measuring different labs, merged for a DBN")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "clinical-merge", *sys.argv[1:]]))
