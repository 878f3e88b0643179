"""``taskdd distill --summaries``: distil from site summary files, no patient rows.

Each file (``taskdd summarize``; :mod:`taskdd.tasks.dbn.site_file`) is one source. From the
summaries alone: standardisation (pooled observed-cell moments, as from the rows), the starting
set (draws from each pattern's Gaussian: ``init="summaries"``), the exact score, the
``direct_fit`` reference and the observation noise (``--noise`` omitted: estimated jointly with
the direct fit, :func:`baselines.fit_with_noise`, its warm start fitted to draws from the
summaries). Not from summaries, so it must be given: the **structure** (``--structure FILE``;
structure learning reads the two-slice rows). The outputs are those of ``taskdd distill --data``
(:mod:`taskdd.tasks.dbn.user_data`), with ``results.csv`` holding the distilled set's and the
direct fit's rows: the ``impute`` reference needs rows.

The same seed on the same rows gives the same distilled set as distilling the rows with the
task's ``init="summaries"`` (a test), up to float64 rounding of the two summation orders.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

import torch

from taskdd.data import Source, Sources
from taskdd.device import resolve_device
from taskdd.distill import distill
from taskdd.errors import ConfigError
from taskdd.results import ResultsTable, ensure_out_dir, versions, write_json
from taskdd.tasks.dbn import baselines
from taskdd.tasks.dbn.panel import Panel
from taskdd.tasks.dbn.scaling import Scaling
from taskdd.tasks.dbn.site import SiteSummaries, site_scaling
from taskdd.tasks.dbn.site_file import load_summary
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn.task import DBNLikelihoodTask
from taskdd.tasks.dbn.user_checks import check_options
from taskdd.tasks.dbn.user_data import _model_metadata, _write_outputs, read_structure

__all__ = ["distill_summaries"]


def _grid_panel(sites: SiteSummaries) -> Panel:
    """A :class:`Panel` carrying the sites' common time grid (for the written outputs)."""
    g, T = sites[0].grid, sites[0].summary.T
    blank = Source(torch.full((1, T, sites.d), float("nan"), dtype=torch.float64), None, sites.variables)
    return Panel(Sources([blank]), g["step"], g["unit"],
                 {s.name: s.info.get("visits_dropped_same_slice", 0) for s in sites},
                 {s.name: k for s in sites if (k := s.info.get("visits_dropped_past_cap", 0))},
                 g["origin_rule"], g["start"])


def _table(task: DBNLikelihoodTask, models: dict, sites: SiteSummaries, scaling: Scaling, budget: int,
           seed: int) -> ResultsTable:
    n = sum(len(s) for s in sites)
    logstd = scaling.std.log().repeat(sites[0].summary.T)
    jac = -sum(float((s.summary.counts[:, None] * s.summary.masks.reshape(len(s.summary), -1) * logstd).sum())
               for s in sites) / n
    table = ResultsTable("distill-csv")
    for label, model in models.items():
        with torch.no_grad():
            ll = float(task.score(model, sites))
        table.add(label, budget, seed, {"source_ll_user_units": ll + jac, "source_ll_standard_units": ll})
    return table


def _noise(given: DBNStructure, sites: SiteSummaries, noise: float | None, per: str):
    """``({source: noise}, how, direct fit)``: the given noise and the direct fit under it, or both estimated."""
    if noise is None:
        direct, by_source = baselines.fit_with_noise(given, sites, per=per)
        return by_source, f"estimated per {per.replace('_', ' and ')} from the summaries, jointly with the direct fit", \
            direct
    by_source = {n: float(noise) for n in sites.names}
    return by_source, "given", baselines.direct_fit(given, sites, obs_noise=by_source)


def distill_summaries(summaries: Sequence[str | os.PathLike], *, budget: int, out: str | os.PathLike,
                      structure: str | os.PathLike | None, noise: float | None, steps: int = 200, lr: float = 0.05,
                      seed: int = 0, device: str = "auto", method: str = "exact", quiet: bool = False,
                      standardize: bool = True, noise_per: str = "source") -> dict:
    """Distil site summary files for a DBN of the given ``structure`` with observation noise
    ``noise`` (None: estimated per ``noise_per``); write what ``distill_csv`` writes into ``out``.
    Returns a summary dict."""
    if structure is None:
        raise ConfigError("distilling from --summaries needs --structure FILE: structure learning reads rows and "
                          "is not available from summaries")
    check_options(summaries, budget=budget, steps=steps, lr=lr, seed=seed, noise=noise, method=method,
                  checkpoint_every=0, resume=False)
    started, dev, outp = time.time(), resolve_device(device), ensure_out_dir(out)
    given = read_structure(structure)
    sites = SiteSummaries([load_summary(p) for p in summaries])
    sites = sites.reorder(given.variables)
    scaling = site_scaling(sites) if standardize else Scaling.identity(given.variables)
    std_sites = SiteSummaries([s.standardized(scaling) for s in sites])
    noise_by, how, direct = _noise(given, std_sites, noise, noise_per)
    task = DBNLikelihoodTask(given, score_on="all", obs_noise=noise_by, init="summaries")
    res = distill(task, std_sites, budget, method=method, seed=seed, steps=steps, lr=lr, device=dev, quiet=quiet)
    with torch.no_grad():
        model = task.fit(res.synthetic)
    table = _table(task, {"distilled_" + method: model, "direct_fit": direct.to(model.device, model.dtype)},
                   std_sites, scaling, budget, seed)
    info = sites[0].info
    panel = _grid_panel(sites)
    meta = _model_metadata(given.variables, scaling, panel, noise_by, how, info.get("id_col", "id"),
                           info.get("time_col", "t"))
    _write_outputs(outp, res, model, table, given, "given", scaling, panel, info.get("id_col", "id"),
                   info.get("time_col", "t"), meta)
    ll = {u: {r["method"]: r["value"] for r in table.rows if r["metric"] == f"source_ll_{u}_units"}
          for u in ("user", "standard")}
    summary = {"sources": {s.name: {"sequences": len(s), "T": s.summary.T, "patterns": len(s.summary)} for s in sites},
               "time_grid": panel.to_json(), "scaling": scaling.to_json(), "noise": meta["noise"]["per_source"],
               "noise_how": how, "structure_how": "given", "budget_per_source": budget,
               "source_ll": ll["user"], "source_ll_standard_units": ll["standard"],
               "from": "summaries", "summary_files": [str(Path(p)) for p in summaries]}
    write_json(outp / "run.json", {"command": "distill", "task": "dbn", "config": res.config, **summary,
                                   "versions": versions(), "wall_time_s": time.time() - started})
    return summary
