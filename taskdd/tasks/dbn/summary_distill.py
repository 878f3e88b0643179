"""``taskdd distill --summaries``: distil from site summary files, no patient rows.

Each file (``taskdd summarize``; :mod:`taskdd.tasks.dbn.site_file`) is one source. From the
summaries alone: standardisation (pooled observed-cell moments, as from the rows), the starting
set (draws from each pattern's Gaussian: ``init="summaries"``) and the exact score. Not from
summaries, so they must be given: the **structure** (``--structure FILE``; structure learning
reads the two-slice rows) and the **observation noise** (``--noise SIGMA``, in standard units
unless ``--no-standardize``; estimation is not implemented for summaries). The outputs are those of
``taskdd distill --data`` (:mod:`taskdd.tasks.dbn.user_data`), with ``results.csv`` holding the
distilled set's row only: the ``direct_fit`` and ``impute`` references need rows.

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
from taskdd.tasks.dbn.panel import Panel
from taskdd.tasks.dbn.scaling import Scaling
from taskdd.tasks.dbn.site import SiteSummaries, site_scaling
from taskdd.tasks.dbn.site_file import load_summary
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


def _table(task: DBNLikelihoodTask, model, sites: SiteSummaries, scaling: Scaling, method: str, budget: int,
           seed: int) -> ResultsTable:
    with torch.no_grad():
        ll = float(task.score(model, sites))
    n = sum(len(s) for s in sites)
    logstd = scaling.std.log().repeat(sites[0].summary.T)
    jac = -sum(float((s.summary.counts[:, None] * s.summary.masks.reshape(len(s.summary), -1) * logstd).sum())
               for s in sites) / n
    table = ResultsTable("distill-csv")
    table.add("distilled_" + method, budget, seed, {"source_ll_user_units": ll + jac, "source_ll_standard_units": ll})
    return table


def distill_summaries(summaries: Sequence[str | os.PathLike], *, budget: int, out: str | os.PathLike,
                      structure: str | os.PathLike | None, noise: float | None, steps: int = 200, lr: float = 0.05,
                      seed: int = 0, device: str = "auto", method: str = "exact", quiet: bool = False,
                      standardize: bool = True) -> dict:
    """Distil site summary files for a DBN of the given ``structure`` with observation noise
    ``noise``; write what ``distill_csv`` writes into ``out``. Returns a summary dict."""
    if structure is None or noise is None:
        raise ConfigError("distilling from --summaries needs --structure FILE and --noise SIGMA: structure "
                          "learning and noise estimation read rows and are not available from summaries")
    check_options(summaries, budget=budget, steps=steps, lr=lr, seed=seed, noise=noise, method=method,
                  checkpoint_every=0, resume=False)
    started, dev, outp = time.time(), resolve_device(device), ensure_out_dir(out)
    given = read_structure(structure)
    sites = SiteSummaries([load_summary(p) for p in summaries])
    sites = sites.reorder(given.variables)
    scaling = site_scaling(sites) if standardize else Scaling.identity(given.variables)
    std_sites = SiteSummaries([s.standardized(scaling) for s in sites])
    noise_by = {n: float(noise) for n in sites.names}
    task = DBNLikelihoodTask(given, score_on="all", obs_noise=noise_by, init="summaries")
    res = distill(task, std_sites, budget, method=method, seed=seed, steps=steps, lr=lr, device=dev, quiet=quiet)
    with torch.no_grad():
        model = task.fit(res.synthetic)
    table = _table(task, model, std_sites, scaling, method, budget, seed)
    info = sites[0].info
    panel = _grid_panel(sites)
    meta = _model_metadata(given.variables, scaling, panel, noise_by, "given", info.get("id_col", "id"),
                           info.get("time_col", "t"))
    _write_outputs(outp, res, model, table, given, "given", scaling, panel, info.get("id_col", "id"),
                   info.get("time_col", "t"), meta)
    ll = {r["metric"]: r["value"] for r in table.rows}
    summary = {"sources": {s.name: {"sequences": len(s), "T": s.summary.T, "patterns": len(s.summary)} for s in sites},
               "time_grid": panel.to_json(), "scaling": scaling.to_json(), "noise": noise_by, "noise_how": "given",
               "structure_how": "given", "budget_per_source": budget,
               "source_ll": {"distilled_" + method: ll["source_ll_user_units"]},
               "source_ll_standard_units": {"distilled_" + method: ll["source_ll_standard_units"]},
               "from": "summaries", "summary_files": [str(Path(p)) for p in summaries]}
    write_json(outp / "run.json", {"command": "distill", "task": "dbn", "config": res.config, **summary,
                                   "versions": versions(), "wall_time_s": time.time() - started})
    return summary
