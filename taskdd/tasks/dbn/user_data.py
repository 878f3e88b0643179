"""``taskdd distill``: distil the user's own partially observed tables (CSV, NaN = missing).

Each file is one source; columns may differ between files (the union is the variable set). The
DBN structure comes from ``--structure FILE`` (JSON: ``{"variables": [...], "intra": {child:
[parents]}, "inter": {child: [parents at t-1]}}``) or is learned
(:func:`taskdd.tasks.dbn.structure_learning.learn_structure`). Observation noise: ``--noise`` is
one number in standard units (a fraction of each variable's std) for every source and variable;
without it the noise is estimated jointly with the DBN (:func:`baselines.fit_with_noise`; one std
per source by default: per-variable estimates are weakly identified), and that fit is also the
``direct_fit`` reference. run.json records the noise per source and variable in standard and user
units. Every output is written atomically at the end, so a failed run leaves no partial file.

Rows are aligned on their time values (:mod:`taskdd.tasks.dbn.panel`: a missing visit is a
masked slice; ragged histories are padded). By default each variable is standardised from the
observed cells of all sources (:class:`~taskdd.tasks.dbn.scaling.Scaling`, saved as
``scaling.json``): structure learning, noise, distillation and fits work in standard units,
``--noise`` is in standard units (a fraction of each variable's spread), ``distilled.csv`` is
written back in the user's units, and ``results.csv`` gives each source log-likelihood in both
(``source_ll_user_units`` = standard + log-Jacobian). ``dbn.json`` / ``dbn_pgmpy.json`` hold the
fitted DBN moved back to the user's units (:meth:`Scaling.model_to_user`), to read. ``model/``
is the loadable file (:meth:`LinearGaussianDBN.save`; ``taskdd evaluate`` reads it): the DBN as
fitted, in **standard units**, with metadata: variable names, ``scaling`` (mean, std), the
``time_grid`` (:meth:`Panel.to_json`), ``id_col`` / ``time_col``, and the noise per source and
variable and its mean over sources, in standard (``noise``) and user (``noise_user_units``)
units. Everything cheap is checked before any fitting (:mod:`taskdd.tasks.dbn.user_checks`).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
import torch

from taskdd.data import Sources
from taskdd.device import resolve_device
from taskdd.distill import distill
from taskdd.errors import ConfigError, DataError
from taskdd.results import ResultsTable, atomic_write, ensure_out_dir, versions, write_json
from taskdd.tasks.dbn import baselines
from taskdd.tasks.dbn.panel import Panel, align_panel
from taskdd.tasks.dbn.scaling import Scaling
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn.structure_learning import learn_structure
from taskdd.tasks.dbn.task import DBNLikelihoodTask
from taskdd.tasks.dbn.user_checks import check_budget_floor, check_options, check_panel

__all__ = ["read_csv_source", "read_frames", "read_structure", "structure_to_json", "distill_csv"]

log = logging.getLogger(__name__)


def read_csv_source(path: str | os.PathLike) -> pd.DataFrame:
    """Read one CSV, refusing unreadable, empty or truncated files (a row with fewer or more
    fields than the header) with a DataError naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"data file {str(p)!r} does not exist")
    try:
        with open(p, newline="") as f:
            rows = csv.reader(f)
            header = next(rows, None)
            if not header:
                raise DataError(f"data file {str(p)!r} is empty")
            for line, row in enumerate(rows, start=2):
                if len(row) != len(header):
                    raise DataError(f"data file {str(p)!r} line {line} has {len(row)} fields but the header has "
                                    f"{len(header)} (truncated or malformed CSV)")
        return pd.read_csv(p)
    except (UnicodeDecodeError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise DataError(f"data file {str(p)!r} is not a readable CSV: {e}") from None


def read_structure(path: str | os.PathLike) -> DBNStructure:
    """A DBN structure from a JSON file (see the module docstring)."""
    try:
        spec = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"structure file {str(path)!r} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"structure file {str(path)!r} is not valid JSON: {e}") from None
    if not isinstance(spec, dict) or "variables" not in spec:
        raise ConfigError(f"structure file {str(path)!r} needs keys 'variables', 'intra', 'inter'")
    return DBNStructure(spec["variables"], spec.get("intra", {}), spec.get("inter", {}))


def structure_to_json(structure: DBNStructure) -> dict:
    return {"variables": list(structure.variables), "intra": structure.intra, "inter": structure.inter}


def _pgmpy_export(model, T: int) -> dict:
    from taskdd.tasks.dbn.pgmpy_bridge import to_pgmpy  # pgmpy loads only here

    net = to_pgmpy(model, T)
    return {"format": "pgmpy.LinearGaussianBayesianNetwork (unrolled)", "T": T,
            "edges": [list(e) for e in net.edges()],
            "cpds": [{"node": c.variable, "evidence": list(c.evidence), "beta": [float(b) for b in c.beta],
                      "std": float(c.std)} for c in net.get_cpds()]}


def read_frames(data: Sequence[str | os.PathLike]) -> dict[str, pd.DataFrame]:
    """Each CSV is one source, named after its file stem (made unique)."""
    frames: dict[str, pd.DataFrame] = {}
    for path in data:
        stem = Path(path).stem
        name = stem if stem not in frames else f"{stem}_{len(frames)}"
        frames[name] = read_csv_source(path)
    return frames


def _choose_structure(sources: Sources, given: DBNStructure | None, budget: int) -> tuple[DBNStructure, str]:
    """The given structure or one learned (on the standardised sources); returns it and how."""
    if given is not None:
        return given, "given"
    learned = learn_structure(sources)
    check_budget_floor(learned, sources, budget)
    return learned, "learned (pgmpy HillClimbSearch, BIC-Gauss, mean-imputed two-slice data)"


NOISE_PER = ("source", "variable", "source_variable")
INITS = ("rows", "summaries")


def _with_noise(structure: DBNStructure, sources: Sources, noise: float | None,
                per: str) -> tuple[dict, str, object, float]:
    """Each source's observation-noise std, given (one number, every variable) or estimated
    (``per`` source, variable or both) jointly with the direct fit (:func:`baselines.fit_with_noise`).

    Returns ``({source: float or [d] tensor}`` in standard units, how, the direct fit (None when
    the noise was given), seconds spent estimating)."""
    if noise is not None:
        return {n: float(noise) for n in sources.names}, "given", None, 0.0
    started = time.perf_counter()
    direct, by_source = baselines.fit_with_noise(structure, sources, per=per)
    how = f"estimated per {per.replace('_', ' and ')} by maximum marginal likelihood, jointly with the direct fit"
    return by_source, how, direct, time.perf_counter() - started


def _noise_by_variable(noise_by_source: dict, variables: Sequence[str]) -> dict[str, dict[str, float]]:
    """``{source: {variable: std}}`` from ``{source: float or [d]}``."""
    d = len(variables)
    return {n: dict(zip(variables, torch.as_tensor(z, dtype=torch.float64).expand(d).tolist()))
            for n, z in noise_by_source.items()}


def _distill_and_compare(structure: DBNStructure, sources: Sources, scaling: Scaling, noise: dict, direct,
                         budget: int, method: str, seed: int, outp: Path, checkpoint_every: int, resume: bool,
                         init: str = "rows", **kw):
    """Distil, fit the DBN to the distilled set, score it beside the references (``direct``:
    the direct fit when already made with the noise estimate, else None = fit it here)."""
    task = DBNLikelihoodTask(structure, score_on="all", obs_noise=noise, init=init)
    ckpt = {"checkpoint_dir": str(outp / "checkpoints"), "checkpoint_every": checkpoint_every,
            "resume": resume} if checkpoint_every or resume else {}
    res = distill(task, sources, budget, method=method, seed=seed, **kw, **ckpt)
    with torch.no_grad():
        model = task.fit(res.synthetic)
        if direct is None:
            direct = baselines.direct_fit(structure, sources, obs_noise=noise)
        refs = {"distilled_" + method: model, "direct_fit": direct.to(sources.device, sources.dtype),
                "impute": baselines.impute(structure, sources)}
    table = ResultsTable("distill-csv")
    jac = float(sum(scaling.log_jacobian(s.mask).sum() for s in sources)) / sum(len(s) for s in sources)
    for label, m in refs.items():
        ll = float(task.score(m, sources))
        table.add(label, budget, seed, {"source_ll_user_units": ll + jac, "source_ll_standard_units": ll})
    return res, model, table


def _distilled_frame(res, scaling: Scaling, variables: Sequence[str], id_col: str, time_col: str,
                     panel: Panel) -> pd.DataFrame:
    """The distilled sequences in user units as a long table: ``source, id_col, time_col,
    variables...``; times from :meth:`Panel.slice_times`."""
    vals = scaling.to_user(res.synthetic["values"].detach().cpu().double())
    part = res.synthetic.part_index()
    T = vals.shape[1]
    df = pd.DataFrame(vals.reshape(-1, len(variables)).numpy(), columns=list(variables))
    times = panel.slice_times()
    df.insert(0, time_col, [times[t] for _ in range(vals.shape[0]) for t in range(T)])
    df.insert(0, id_col, [i for i in range(vals.shape[0]) for _ in range(T)])
    df.insert(0, "source", [res.synthetic.part_names[int(j)] for j in part for _ in range(T)])
    return df


def _model_metadata(variables: Sequence[str], scaling: Scaling, panel: Panel, noise_by_source: dict, noise_how: str,
                    id_col: str, time_col: str) -> dict:
    """What ``taskdd evaluate`` needs beside the parameters: names, grid, scaling, noise (both units)."""
    per_source = _noise_by_variable(noise_by_source, variables)
    mean = {v: sum(z[v] for z in per_source.values()) / len(per_source) for v in variables}
    std = dict(zip(scaling.variables, scaling.std.tolist()))

    def user(z: dict) -> dict:
        return {v: x * std[v] for v, x in z.items()}
    return {"units": "standard: the DBN models z = (x - mean) / std of the data's x (see 'scaling'); add the "
                     "log-Jacobian -sum(log std) over observed values for a log-likelihood in the data's units",
            "variables": list(variables), "id_col": id_col, "time_col": time_col, "time_grid": panel.to_json(),
            "scaling": scaling.to_json(),
            "noise": {"units": "standard", "how": noise_how, "per_source": per_source, "mean_over_sources": mean},
            "noise_user_units": {"per_source": {n: user(z) for n, z in per_source.items()},
                                 "mean_over_sources": user(mean)}}


def _write_outputs(outp: Path, res, model, table: ResultsTable, structure: DBNStructure, structure_how: str,
                   scaling: Scaling, panel: Panel, id_col: str, time_col: str, metadata: dict) -> None:
    """Every output but run.json, each written atomically; ``model/`` holds the fitted DBN in
    standard units with ``metadata`` (:meth:`LinearGaussianDBN.save`)."""
    model.detach().to("cpu", torch.float64).save(outp / "model", metadata=metadata)
    with atomic_write(outp / "distilled.csv") as f:
        _distilled_frame(res, scaling, structure.variables, id_col, time_col, panel).to_csv(
            f, index=False, float_format="%.10g")
    write_json(outp / "structure.json", {**structure_to_json(structure), "how": structure_how})
    write_json(outp / "scaling.json", scaling.to_json())
    user = scaling.model_to_user(model.detach().to("cpu", torch.float64))
    write_json(outp / "dbn.json", {"variables": list(structure.variables), "units": "user (the data's own)",
                                   **{k: v.tolist() for k, v in user.parameters_dict().items()}})
    write_json(outp / "dbn_pgmpy.json", {**_pgmpy_export(user, res.synthetic["values"].shape[1]),
                                         "units": "user (the data's own)"})
    table.save(outp / "results.csv")
    res.save(outp / "result")


def _prepare(frames: Mapping[str, pd.DataFrame], id_col: str, time_col: str, budget: int, structure,
             noise: float | None, grid: dict,
             standardize: bool) -> tuple[Panel, Sources, Scaling, DBNStructure | None, list]:
    """Align (``grid``: align_panel's options), check and standardise: all before the first fit."""
    panel = align_panel(frames, id_col, time_col, **grid)
    given = None if structure is None else read_structure(structure)
    warnings = panel.warnings() + check_panel(panel.sources, budget, structure=given, estimate_noise=noise is None)
    variables = given.variables if given is not None else panel.sources.variables
    sources = Sources([s.reorder(variables) for s in panel.sources]).to(dtype=torch.float64)
    scaling = Scaling.fit(sources)  # also refuses constant variables under --no-standardize
    if not standardize:
        scaling = Scaling.identity(variables)
    return panel, scaling.sources(sources), scaling, given, warnings


def _summary(panel: Panel, sources: Sources, scaling: Scaling, metadata: dict, structure_how: str, budget: int,
             table: ResultsTable, warnings: list) -> dict:
    ll = {u: {r["method"]: r["value"] for r in table.rows if r["metric"] == f"source_ll_{u}_units"}
          for u in ("user", "standard")}
    return {"sources": {s.name: {"sequences": len(s), "T": s.shape[1],
                                 "observed_fraction": s.mask.float().mean().item()} for s in sources},
            "time_grid": panel.to_json(), "scaling": scaling.to_json(),
            "noise": metadata["noise"]["per_source"], "noise_how": metadata["noise"]["how"],
            "noise_units": "standard (a fraction of each variable's std; see scaling.json)",
            "noise_user_units": metadata["noise_user_units"]["per_source"],
            "structure_how": structure_how, "budget_per_source": budget,
            "source_ll": ll["user"], "source_ll_standard_units": ll["standard"], "warnings": warnings}


def distill_csv(data: Sequence[str | os.PathLike], *, id_col: str, time_col: str, budget: int, out: str | os.PathLike,
                structure: str | os.PathLike | None = None, noise: float | None = None, steps: int = 200,
                lr: float = 0.05, seed: int = 0, device: str = "auto", method: str = "exact",
                checkpoint_every: int = 0, resume: bool = False, quiet: bool = False, time_step: float | None = None,
                max_slices: int | None = None, time_origin: str = "sequence", standardize: bool = True,
                noise_per: str = "source", init: str = "rows",
                frames: Mapping[str, pd.DataFrame] | None = None) -> dict:
    """Distil CSV sources for a DBN; write the distilled CSV, structure, scaling, fitted DBN
    (ours and a pgmpy export; all in user units), results.csv and run.json into ``out``.

    time_step / max_slices / time_origin: the time grid (:func:`~taskdd.tasks.dbn.panel.align_panel`).
    standardize: work in standard units (default); False = in the data's own units.
    noise_per: without ``noise``, estimate one noise std per "source" (default), per "variable" (pooled
    over sources) or per "source_variable". init: the starting set, copies of real rows ("rows") or draws
    from each observation pattern's Gaussian ("summaries", as ``--summaries``). frames: ``read_frames(data)``
    if already read. Cheap checks come before any fitting. Returns a summary dict (``source_ll``, ...)."""
    for name, value, ok in (("noise_per (--noise-per)", noise_per, NOISE_PER), ("init (--init)", init, INITS)):
        if value not in ok:
            raise ConfigError(f"{name} must be one of {', '.join(ok)}, got {value!r}")
    check_options(data, budget=budget, steps=steps, lr=lr, seed=seed, noise=noise, method=method,
                  checkpoint_every=checkpoint_every, resume=resume)
    dev = resolve_device(device)
    outp = ensure_out_dir(out)
    started = time.time()
    grid = {"time_step": time_step, "max_slices": max_slices, "origin": time_origin}
    panel, sources, scaling, given, warnings = _prepare(read_frames(data) if frames is None else frames, id_col,
                                                        time_col, budget, structure, noise, grid, standardize)
    dbn_structure, structure_how = _choose_structure(sources, given, budget)
    sources = Sources([s.reorder(dbn_structure.variables) for s in sources]).to(dev, torch.float64)
    noise_by_source, noise_how, direct, noise_s = _with_noise(dbn_structure, sources, noise, noise_per)
    res, model, table = _distill_and_compare(dbn_structure, sources, scaling, noise_by_source, direct, budget, method,
                                             seed, outp, checkpoint_every, resume, steps=steps, lr=lr, device=dev,
                                             quiet=quiet, init=init)
    meta = _model_metadata(dbn_structure.variables, scaling, panel, noise_by_source, noise_how, id_col, time_col)
    _write_outputs(outp, res, model, table, dbn_structure, structure_how, scaling, panel, id_col, time_col, meta)
    summary = _summary(panel, sources, scaling, meta, structure_how, budget, table, warnings)
    summary["noise_estimation_s"] = noise_s
    if not standardize:
        summary["noise_units"] = "the data's own units (--no-standardize)"
    write_json(outp / "run.json", {"command": "distill", "task": "dbn", "data": [str(p) for p in data],
                                   "config": res.config, **summary, "versions": versions(),
                                   "wall_time_s": time.time() - started})
    return summary
