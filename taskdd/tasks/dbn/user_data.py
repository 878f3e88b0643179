"""``taskdd distill``: distil the user's own partially observed tables (CSV, NaN = missing).

Each file is one source; columns may differ between files (the union is the variable set). The
DBN structure comes from ``--structure FILE`` (JSON: ``{"variables": [...], "intra": {child:
[parents]}, "inter": {child: [parents at t-1]}}``) or is learned
(:func:`taskdd.tasks.dbn.structure_learning.learn_structure`). Each source's observation noise
comes from ``--noise`` or is estimated by maximum marginal likelihood. Every output is written
atomically at the end, so a failed run leaves no partial file in ``--out``.

Rows are aligned on their time values (:mod:`taskdd.tasks.dbn.panel`: a missing visit is a
masked slice; ragged histories are padded). By default each variable is standardised from the
observed cells of all sources (:class:`~taskdd.tasks.dbn.scaling.Scaling`, saved as
``scaling.json``): structure learning, noise, distillation and fits work in standard units,
``--noise`` is in standard units (a fraction of each variable's spread), ``distilled.csv`` is
written back in the user's units, and ``results.csv`` gives each source log-likelihood in both
(``source_ll_user_units`` = standard + log-Jacobian). ``dbn.json`` / ``dbn_pgmpy.json`` hold the
fitted DBN moved back to the user's units (:meth:`Scaling.model_to_user`). Everything cheap is checked before any fitting
(:mod:`taskdd.tasks.dbn.user_checks`).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path
from typing import Sequence

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

__all__ = ["read_csv_source", "read_structure", "structure_to_json", "distill_csv"]

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


def _read_frames(data: Sequence[str | os.PathLike]) -> dict[str, pd.DataFrame]:
    """Each CSV is one source, named after its file stem (made unique)."""
    frames: dict[str, pd.DataFrame] = {}
    for path in data:
        stem = Path(path).stem
        name = stem if stem not in frames else f"{stem}_{len(frames)}"
        frames[name] = read_csv_source(path)
    return frames


def _given_structure(structure: str | os.PathLike | None) -> DBNStructure | None:
    return None if structure is None else read_structure(structure)


def _choose_structure(sources: Sources, given: DBNStructure | None, budget: int) -> tuple[DBNStructure, str]:
    """The given structure or one learned (on the standardised sources); returns it and how."""
    if given is not None:
        return given, "given"
    learned = learn_structure(sources)
    check_budget_floor(learned, sources, budget)
    return learned, "learned (pgmpy HillClimbSearch, BIC-Gauss, mean-imputed two-slice data)"


def _with_noise(structure: DBNStructure, sources: Sources, noise: float | None) -> tuple[Sources, dict, str]:
    """Each source's observation-noise std, given or estimated; the sources carrying it."""
    if noise is None:
        by_source, how = baselines.estimate_noise(structure, sources), "estimated by maximum marginal likelihood"
    else:
        by_source, how = {n: float(noise) for n in sources.names}, "given"
    sources = Sources([type(s)(s.values, s.mask, s.variables, s.name, by_source[s.name]) for s in sources])
    return sources, by_source, how


def _distill_and_compare(structure: DBNStructure, sources: Sources, scaling: Scaling, budget: int, method: str,
                         seed: int, outp: Path, checkpoint_every: int, resume: bool, **kw):
    """Distil, fit the DBN to the distilled set, score it beside the references."""
    task = DBNLikelihoodTask(structure, score_on="all")
    ckpt = {"checkpoint_dir": str(outp / "checkpoints"), "checkpoint_every": checkpoint_every,
            "resume": resume} if checkpoint_every or resume else {}
    res = distill(task, sources, budget, method=method, seed=seed, **kw, **ckpt)
    with torch.no_grad():
        model = task.fit(res.synthetic)
        refs = {"distilled_" + method: model, "direct_fit": baselines.direct_fit(structure, sources),
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


def _write_outputs(outp: Path, res, model, table: ResultsTable, structure: DBNStructure, structure_how: str,
                   scaling: Scaling, panel: Panel, id_col: str, time_col: str) -> None:
    """Every output but run.json, each written atomically."""
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


def _prepare(data, id_col: str, time_col: str, budget: int, structure, noise: float | None, grid: dict,
             standardize: bool) -> tuple[Panel, Sources, Scaling, DBNStructure | None, list]:
    """Read, align (``grid``: align_panel's options), check and standardise: all before the first fit."""
    panel = align_panel(_read_frames(data), id_col, time_col, **grid)
    given = _given_structure(structure)
    warnings = panel.warnings() + check_panel(panel.sources, budget, structure=given, estimate_noise=noise is None)
    variables = given.variables if given is not None else panel.sources.variables
    sources = Sources([s.reorder(variables) for s in panel.sources]).to(dtype=torch.float64)
    scaling = Scaling.fit(sources)  # also refuses constant variables under --no-standardize
    if not standardize:
        scaling = Scaling.identity(variables)
    return panel, scaling.sources(sources), scaling, given, warnings


def _summary(panel: Panel, sources: Sources, scaling: Scaling, noise_by_source: dict, noise_how: str,
             structure_how: str, budget: int, table: ResultsTable, warnings: list) -> dict:
    ll = {u: {r["method"]: r["value"] for r in table.rows if r["metric"] == f"source_ll_{u}_units"}
          for u in ("user", "standard")}
    return {"sources": {s.name: {"sequences": len(s), "T": s.shape[1],
                                 "observed_fraction": s.mask.float().mean().item()} for s in sources},
            "time_grid": panel.to_json(), "scaling": scaling.to_json(),
            "noise": noise_by_source, "noise_how": noise_how,
            "noise_units": "standard (a fraction of each variable's std; see scaling.json)",
            "noise_user_units": {n: dict(zip(scaling.variables, (v * scaling.std).tolist()))
                                 for n, v in noise_by_source.items()},
            "structure_how": structure_how, "budget_per_source": budget,
            "source_ll": ll["user"], "source_ll_standard_units": ll["standard"], "warnings": warnings}


def distill_csv(data: Sequence[str | os.PathLike], *, id_col: str, time_col: str, budget: int, out: str | os.PathLike,
                structure: str | os.PathLike | None = None, noise: float | None = None, steps: int = 200,
                lr: float = 0.05, seed: int = 0, device: str = "auto", method: str = "exact",
                checkpoint_every: int = 0, resume: bool = False, quiet: bool = False, time_step: float | None = None,
                max_slices: int | None = None, time_origin: str = "sequence", standardize: bool = True) -> dict:
    """Distil CSV sources for a DBN; write the distilled CSV, structure, scaling, fitted DBN
    (ours and a pgmpy export; all in user units), results.csv and run.json into ``out``.

    time_step / max_slices / time_origin: the time grid (:func:`taskdd.tasks.dbn.panel.align_panel`'s
    ``time_step``, ``max_slices``, ``origin``).
    standardize: work in standard units (default); False = in the data's own units.
    Everything cheap is validated before any fitting. Returns a summary dict (``source_ll`` in
    user units, ``source_ll_standard_units``)."""
    check_options(data, budget=budget, steps=steps, lr=lr, seed=seed, noise=noise, method=method,
                  checkpoint_every=checkpoint_every, resume=resume)
    dev = resolve_device(device)
    outp = ensure_out_dir(out)
    started = time.time()
    grid = {"time_step": time_step, "max_slices": max_slices, "origin": time_origin}
    panel, sources, scaling, given, warnings = _prepare(data, id_col, time_col, budget, structure, noise, grid,
                                                        standardize)
    dbn_structure, structure_how = _choose_structure(sources, given, budget)
    sources = Sources([s.reorder(dbn_structure.variables) for s in sources]).to(dev, torch.float64)
    sources, noise_by_source, noise_how = _with_noise(dbn_structure, sources, noise)
    res, model, table = _distill_and_compare(dbn_structure, sources, scaling, budget, method, seed, outp,
                                             checkpoint_every, resume, steps=steps, lr=lr, device=dev, quiet=quiet)
    _write_outputs(outp, res, model, table, dbn_structure, structure_how, scaling, panel, id_col, time_col)
    summary = _summary(panel, sources, scaling, noise_by_source, noise_how, structure_how, budget, table, warnings)
    if not standardize:
        summary["noise_units"] = "the data's own units (--no-standardize)"
    write_json(outp / "run.json", {"command": "distill", "task": "dbn", "data": [str(p) for p in data],
                                   "config": res.config, **summary, "versions": versions(),
                                   "wall_time_s": time.time() - started})
    return summary
