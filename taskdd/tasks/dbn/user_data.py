"""``taskdd distill``: distil the user's own partially observed tables (CSV, NaN = missing).

Each file is one source; columns may differ between files (the union is the variable set). The
DBN structure comes from ``--structure FILE`` (JSON: ``{"variables": [...], "intra": {child:
[parents]}, "inter": {child: [parents at t-1]}}``) or is learned
(:func:`taskdd.tasks.dbn.structure_learning.learn_structure`). Each source's observation noise
comes from ``--noise`` or is estimated by maximum marginal likelihood. Every output is written
atomically at the end, so a failed run leaves no partial file in ``--out``.
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
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn.structure_learning import learn_structure
from taskdd.tasks.dbn.task import DBNLikelihoodTask

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


def _read_sources(data: Sequence[str | os.PathLike], id_col: str, time_col: str) -> Sources:
    """Step 1: each CSV is one source, named after its file stem (made unique)."""
    frames, names = {}, []
    for path in data:
        stem = Path(path).stem
        name = stem if stem not in names else f"{stem}_{len(names)}"
        names.append(name)
        frames[name] = read_csv_source(path)
    return Sources.from_dataframes(frames, id_col, time_col)


def _choose_structure(sources: Sources, structure: str | os.PathLike | None) -> tuple[DBNStructure, str]:
    """Step 2: the structure from ``structure`` (a JSON file) or learned; returns it and how."""
    if structure is None:
        return (learn_structure(sources),
                "learned (pgmpy HillClimbSearch, BIC-Gauss, mean-imputed two-slice data)")
    dbn_structure = read_structure(structure)
    if set(dbn_structure.variables) != set(sources.variables):
        raise DataError(f"structure variables {sorted(dbn_structure.variables)} differ from the data's "
                        f"{sorted(sources.variables)}")
    return dbn_structure, "given"


def _with_noise(structure: DBNStructure, sources: Sources, noise: float | None) -> tuple[Sources, dict, str]:
    """Step 3: each source's observation-noise std, given or estimated; the sources carrying it."""
    if noise is None:
        by_source, how = baselines.estimate_noise(structure, sources), "estimated by maximum marginal likelihood"
    else:
        by_source, how = {n: float(noise) for n in sources.names}, "given"
    sources = Sources([type(s)(s.values, s.mask, s.variables, s.name, by_source[s.name]) for s in sources])
    return sources, by_source, how


def _distill_and_compare(structure: DBNStructure, sources: Sources, budget: int, method: str, seed: int,
                         outp: Path, checkpoint_every: int, resume: bool, **kw):
    """Step 4: distil, fit the DBN to the distilled set, score it beside the references."""
    task = DBNLikelihoodTask(structure, score_on="all")
    ckpt = {"checkpoint_dir": str(outp / "checkpoints"), "checkpoint_every": checkpoint_every,
            "resume": resume} if checkpoint_every or resume else {}
    res = distill(task, sources, budget, method=method, seed=seed, **kw, **ckpt)
    with torch.no_grad():
        model = task.fit(res.synthetic)
        refs = {"distilled_" + method: model, "direct_fit": baselines.direct_fit(structure, sources),
                "impute": baselines.impute(structure, sources)}
    table = ResultsTable("distill-csv")
    for label, m in refs.items():
        table.add(label, budget, seed, {"source_ll": float(task.score(m, sources))})
    return res, model, table


def _distilled_frame(res, variables: Sequence[str], id_col: str, time_col: str) -> pd.DataFrame:
    """The distilled sequences as a long table: ``source, id_col, time_col, variables...``."""
    vals = res.synthetic["values"].detach().cpu().double()
    part = res.synthetic.part_index()
    T = vals.shape[1]
    df = pd.DataFrame(vals.reshape(-1, len(variables)).numpy(), columns=list(variables))
    df.insert(0, time_col, [t for _ in range(vals.shape[0]) for t in range(T)])
    df.insert(0, id_col, [i for i in range(vals.shape[0]) for _ in range(T)])
    df.insert(0, "source", [res.synthetic.part_names[int(j)] for j in part for _ in range(T)])
    return df


def _write_outputs(outp: Path, res, model, table: ResultsTable, structure: DBNStructure, structure_how: str,
                   id_col: str, time_col: str) -> None:
    """Step 5: every output but run.json, each written atomically."""
    with atomic_write(outp / "distilled.csv") as f:
        _distilled_frame(res, structure.variables, id_col, time_col).to_csv(f, index=False, float_format="%.10g")
    write_json(outp / "structure.json", {**structure_to_json(structure), "how": structure_how})
    write_json(outp / "dbn.json", {"variables": list(structure.variables),
                                   **{k: v.detach().cpu().double().tolist() for k, v in model.parameters_dict().items()}})
    write_json(outp / "dbn_pgmpy.json", _pgmpy_export(model, res.synthetic["values"].shape[1]))
    table.save(outp / "results.csv")
    res.save(outp / "result")


def distill_csv(data: Sequence[str | os.PathLike], *, id_col: str, time_col: str, budget: int, out: str | os.PathLike,
                structure: str | os.PathLike | None = None, noise: float | None = None, steps: int = 200,
                lr: float = 0.05, seed: int = 0, device: str = "auto", method: str = "exact",
                checkpoint_every: int = 0, resume: bool = False, quiet: bool = False) -> dict:
    """Distil CSV sources for a DBN; write the distilled CSV, structure, fitted DBN (ours and a
    pgmpy export), results.csv and run.json into ``out``. Returns a summary dict."""
    if not data:
        raise ConfigError("give at least one --data file")
    if noise is not None and not noise >= 0:
        raise ConfigError(f"--noise must be >= 0, got {noise}")
    outp = ensure_out_dir(out)
    dev = resolve_device(device)
    started = time.time()
    sources = _read_sources(data, id_col, time_col)
    dbn_structure, structure_how = _choose_structure(sources, structure)
    sources = Sources([s.reorder(dbn_structure.variables) for s in sources]).to(dev, torch.float64)
    sources, noise_by_source, noise_how = _with_noise(dbn_structure, sources, noise)
    res, model, table = _distill_and_compare(dbn_structure, sources, budget, method, seed, outp, checkpoint_every,
                                             resume, steps=steps, lr=lr, device=dev, quiet=quiet)
    _write_outputs(outp, res, model, table, dbn_structure, structure_how, id_col, time_col)
    summary = {"sources": {s.name: {"sequences": len(s), "T": s.shape[1],
                                    "observed_fraction": s.mask.float().mean().item()} for s in sources},
               "noise": noise_by_source, "noise_how": noise_how, "structure_how": structure_how,
               "budget_per_source": budget, "source_ll": {r["method"]: r["value"] for r in table.rows}}
    write_json(outp / "run.json", {"command": "distill", "task": "dbn", "data": [str(p) for p in data],
                                   "config": res.config, **summary, "versions": versions(),
                                   "wall_time_s": time.time() - started})
    return summary
