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

from taskdd.tasks.dbn import baselines
from taskdd.data import Sources
from taskdd.device import resolve_device
from taskdd.distill import distill
from taskdd.errors import ConfigError, DataError
from taskdd.results import ResultsTable, atomic_write, ensure_out_dir, versions, write_json
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
    net = model.to_pgmpy(T)
    return {"format": "pgmpy.LinearGaussianBayesianNetwork (unrolled)", "T": T,
            "edges": [list(e) for e in net.edges()],
            "cpds": [{"node": c.variable, "evidence": list(c.evidence), "beta": [float(b) for b in c.beta],
                      "std": float(c.std)} for c in net.get_cpds()]}


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
    frames, names = {}, []
    for path in data:
        stem = Path(path).stem
        name = stem if stem not in names else f"{stem}_{len(names)}"
        names.append(name)
        frames[name] = read_csv_source(path)
    sources = Sources.from_dataframes(frames, id_col, time_col)
    if structure is not None:
        dbn_structure = read_structure(structure)
        if set(dbn_structure.variables) != set(sources.variables):
            raise DataError(f"structure variables {sorted(dbn_structure.variables)} differ from the data's "
                            f"{sorted(sources.variables)}")
        structure_source = "given"
    else:
        dbn_structure = learn_structure(sources)
        structure_source = "learned (pgmpy HillClimbSearch, BIC-Gauss, mean-imputed two-slice data)"
    sources = Sources([s.reorder(dbn_structure.variables) for s in sources]).to(dev, torch.float64)
    if noise is None:
        noise_by_source = baselines.estimate_noise(dbn_structure, sources)
        noise_source = "estimated by maximum marginal likelihood"
    else:
        noise_by_source = {n: float(noise) for n in sources.names}
        noise_source = "given"
    sources = Sources([type(s)(s.values, s.mask, s.variables, s.name, noise_by_source[s.name]) for s in sources])
    task = DBNLikelihoodTask(dbn_structure, score_on="all")
    ckpt = {"checkpoint_dir": str(outp / "checkpoints"), "checkpoint_every": checkpoint_every,
            "resume": resume} if checkpoint_every or resume else {}
    res = distill(task, sources, budget, method=method, steps=steps, lr=lr, seed=seed, device=dev, quiet=quiet,
                  **ckpt)
    with torch.no_grad():
        model = task.fit(res.synthetic)
        refs = {"distilled_" + method: model, "direct_fit": baselines.direct_fit(dbn_structure, sources),
                "impute": baselines.impute(dbn_structure, sources)}
    table = ResultsTable("distill-csv")
    for label, m in refs.items():
        table.add(label, budget, seed, {"source_ll": float(task.score(m, sources))})
    # outputs, all at the end
    vals = res.synthetic["values"].detach().cpu().double()
    part = res.synthetic.part_index()
    T = vals.shape[1]
    df = pd.DataFrame(vals.reshape(-1, len(dbn_structure.variables)).numpy(), columns=list(dbn_structure.variables))
    df.insert(0, time_col, [t for _ in range(vals.shape[0]) for t in range(T)])
    df.insert(0, id_col, [i for i in range(vals.shape[0]) for _ in range(T)])
    df.insert(0, "source", [res.synthetic.part_names[int(j)] for j in part for _ in range(T)])
    with atomic_write(outp / "distilled.csv") as f:
        df.to_csv(f, index=False, float_format="%.10g")
    write_json(outp / "structure.json", {**structure_to_json(dbn_structure), "how": structure_source})
    write_json(outp / "dbn.json", {"variables": list(dbn_structure.variables),
                                   **{k: v.detach().cpu().double().tolist() for k, v in model.parameters_dict().items()}})
    write_json(outp / "dbn_pgmpy.json", _pgmpy_export(model, T))
    table.save(outp / "results.csv")
    res.save(outp / "result")
    summary = {"sources": {s.name: {"sequences": len(s), "T": s.shape[1],
                                    "observed_fraction": s.mask.float().mean().item()} for s in sources},
               "noise": noise_by_source, "noise_how": noise_source, "structure_how": structure_source,
               "budget_per_source": budget, "source_ll": {r["method"]: r["value"] for r in table.rows}}
    write_json(outp / "run.json", {"command": "distill", "task": "dbn", "data": [str(p) for p in data],
                                   "config": res.config, **summary, "versions": versions(),
                                   "wall_time_s": time.time() - started})
    return summary
