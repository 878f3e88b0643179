"""``taskdd distill`` on categorical CSV sources: the discrete DBN path.

A table whose variable columns all hold text / categories (pandas object, string, category or
bool columns) gets the discrete model: each variable's states are the distinct values seen in
any file (sorted, as text), cells are coded ``0 .. card-1`` (empty = missing), rows are placed
on the time grid of :func:`taskdd.tasks.dbn.panel.align_panel` (one record per id with T = 1
gives a static Bayesian network). The structure comes from ``--structure`` or is learned
(:func:`~taskdd.tasks.dbn_discrete.structure_learning.learn_discrete_structure`). A table with
categorical and numeric variable columns together is refused (DataError naming both lists):
there is no mixed model yet.

Outputs in ``out``: ``distilled.csv`` (``source, id, time, variables...`` holding each record's
most probable category, and ``weight``), ``distilled_probs.csv`` (the soft records: one
``variable=state`` probability column per state; rounding loses much of a weighted set's gain),
``model.json`` (structure, cards, state names, CPTs of
the model fitted to the distilled set; :func:`read_model` loads it, ``pgmpy_bridge.to_pgmpy``
turns it into pgmpy's model), ``model.bif`` for a static network (pgmpy's ``BIFReader`` reads
it), ``structure.json``, ``results.csv`` (mean source log-likelihood per record of the
distilled model, the model of the rounded records, the direct fit and mode imputation) and
``run.json``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
import torch

from taskdd.data import Sources
from taskdd.distill import distill
from taskdd.errors import ConfigError, DataError
from taskdd.results import ResultsTable, atomic_write, ensure_out_dir, versions, write_json
from taskdd.tasks.dbn.panel import align_panel
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn.user_data import read_frames, read_structure, structure_to_json
from taskdd.tasks.dbn_discrete import baselines
from taskdd.tasks.dbn_discrete.learner import record_probs, round_records
from taskdd.tasks.dbn_discrete.model import DiscreteDBN
from taskdd.tasks.dbn_discrete.structure_learning import learn_discrete_structure
from taskdd.tasks.dbn_discrete.task import DiscreteDBNTask

__all__ = ["column_kinds", "categorical_columns", "is_categorical_csv", "distill_categorical_csv", "read_model", "model_to_json",
           "distill_from_args"]


def _is_text(col: pd.Series) -> bool:
    return (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)
            or isinstance(col.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(col))


def column_kinds(frames: Mapping[str, pd.DataFrame], id_col: str, time_col: str | None) -> tuple[list[str], list[str]]:
    """``(categorical, continuous)`` variable columns over all frames (a column empty in a frame
    does not vote there; text in any frame makes it categorical)."""
    cat: list[str] = []
    num: list[str] = []
    for df in frames.values():
        for c in df.columns:
            if c in (id_col, time_col) or df[c].isna().all():
                continue
            if _is_text(df[c]) and c not in cat:
                cat.append(c)
            elif not _is_text(df[c]) and c not in num:
                num.append(c)
    return cat, [c for c in num if c not in cat]


def categorical_columns(frames: Mapping[str, pd.DataFrame], id_col: str, time_col: str | None) -> list[str]:
    """The categorical variable columns of ``frames`` (empty when all are numeric); DataError
    naming both kinds when they mix."""
    cat, num = column_kinds(frames, id_col, time_col)
    if cat and num:
        raise DataError(f"the data mix categorical (not numeric) columns {cat} with continuous columns {num}; "
                        "taskdd has no mixed model yet: bin the continuous ones into categories (as text) or drop them")
    return cat


def is_categorical_csv(data: Sequence[str | os.PathLike], id_col: str, time_col: str | None) -> bool:
    """True when the CSVs' variable columns are categorical; False when numeric; DataError when both."""
    return bool(categorical_columns(read_frames(data), id_col, time_col))


def _text(v) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _encode(frames: Mapping[str, pd.DataFrame], variables: Sequence[str], id_col: str,
            time_col: str) -> tuple[dict[str, pd.DataFrame], dict[str, list[str]]]:
    """Frames with each variable replaced by float codes (NaN = missing), and the state names."""
    states = {v: sorted({_text(x) for df in frames.values() if v in df for x in df[v].dropna()}) for v in variables}
    out = {}
    for name, df in frames.items():
        enc = df[[c for c in df.columns if c in (id_col, time_col)]].copy()
        for v in variables:
            if v in df:
                index = {s: k for k, s in enumerate(states[v])}
                enc[v] = [float(index[_text(x)]) if pd.notna(x) else float("nan") for x in df[v]]
        out[name] = enc
    return out, states


def model_to_json(model: DiscreteDBN) -> dict:
    """Structure, cards, state names and CPTs (nested lists, CPT layout of :class:`DiscreteDBN`)."""
    return {**structure_to_json(model.structure), "cards": list(model.cards), "state_names": model.state_names,
            "cpt0": [c.detach().cpu().double().tolist() for c in model.cpt0],
            "cpt": None if model.cpt is None else [c.detach().cpu().double().tolist() for c in model.cpt]}


def read_model(path: str | os.PathLike) -> DiscreteDBN:
    """The :class:`DiscreteDBN` of a ``model.json`` written by :func:`distill_categorical_csv`."""
    spec = json.loads(Path(path).read_text())
    structure = DBNStructure(spec["variables"], spec["intra"], spec["inter"])
    tables = [[torch.tensor(c, dtype=torch.float64) for c in spec[k]] if spec[k] is not None else None
              for k in ("cpt0", "cpt")]
    return DiscreteDBN(structure, spec["cards"], tables[0], tables[1], state_names=spec["state_names"])


def _distilled_frame(task: DiscreteDBNTask, res, states: dict, id_col: str, time_col: str, times: list) -> pd.DataFrame:
    syn = res.synthetic
    x = round_records(syn["logits"], task.cards).cpu()
    n, T, _ = x.shape
    variables = task.structure.variables
    df = pd.DataFrame({v: [states[v][int(c)] for c in x[:, :, j].flatten()] for j, v in enumerate(variables)})
    df.insert(0, time_col, [times[t] for _ in range(n) for t in range(T)])
    df.insert(0, id_col, [i for i in range(n) for _ in range(T)])
    df.insert(0, "source", [syn.part_names[int(j)] for j in syn.part_index() for _ in range(T)])
    df["weight"] = syn["log_weight"].detach().exp().cpu().repeat_interleave(T).numpy()
    return df


def _probs_frame(task: DiscreteDBNTask, res, states: dict, keys: pd.DataFrame) -> pd.DataFrame:
    """The soft records: ``keys`` (source, id, time, weight) and one ``variable=state`` column of
    probabilities per state (the weighted set's information lives there, see docs/alarm-merge.md)."""
    p = record_probs(res.synthetic["logits"].detach(), task.cards).cpu().double().flatten(0, 1)
    cols = {f"{v}={st}": p[:, j, k].numpy() for j, v in enumerate(task.structure.variables)
            for k, st in enumerate(states[v])}
    return pd.concat([keys.reset_index(drop=True), pd.DataFrame(cols)], axis=1)


def _compare(task: DiscreteDBNTask, res, sources: Sources, budget: int, seed: int) -> ResultsTable:
    with torch.no_grad():
        models = {"distilled_exact": task.fit(res.synthetic), "distilled_rounded": task.fit_rounded(res.synthetic),
                  "direct_fit": baselines.direct_fit(task.structure, task.cards, sources, task.alpha),
                  "impute": baselines.impute(task.structure, task.cards, sources, task.alpha)}
    table = ResultsTable("distill-csv")
    for label, m in models.items():
        table.add(label, budget, seed, {"source_ll": float(task.score(m.to(dtype=sources.dtype), sources))})
    return table


def distill_categorical_csv(data: Sequence[str | os.PathLike], *, id_col: str, time_col: str, budget: int,
                            out: str | os.PathLike, structure: str | os.PathLike | None = None, steps: int = 200,
                            lr: float = 0.1, seed: int = 0, device: str = "auto", quiet: bool = False,
                            time_step: float | None = None, max_slices: int | None = None,
                            time_origin: str = "sequence", alpha: float = 1.0, weighted: bool = True,
                            method: str = "exact", frames: Mapping[str, pd.DataFrame] | None = None) -> dict:
    """Distil categorical CSV sources for a discrete DBN (see the module docstring); returns a
    summary (``source_ll`` per method, the variables' states, the time grid). frames:
    ``read_frames(data)`` when the caller has read the files already (not read again)."""
    started = time.time()
    frames = read_frames(data) if frames is None else frames
    cat = categorical_columns(frames, id_col, time_col)
    if not cat:
        raise DataError(f"no categorical variable columns in {[str(p) for p in data]}")
    encoded, states = _encode(frames, cat, id_col, time_col)
    panel = align_panel(encoded, id_col, time_col, time_step=time_step, max_slices=max_slices, origin=time_origin)
    sources = panel.sources.to(dtype=torch.float64)
    given = None if structure is None else read_structure(structure)
    dbn_structure = given or learn_discrete_structure(sources)
    sources = Sources([s.reorder(dbn_structure.variables) for s in sources])
    cards = [max(1, len(states[v])) for v in dbn_structure.variables]
    task = DiscreteDBNTask(dbn_structure, cards, alpha=alpha, weighted=weighted, score_on="all")
    res = distill(task, sources, budget, method=method, steps=steps, lr=lr, seed=seed, device=device, quiet=quiet)
    table = _compare(task, res, sources.to(res.synthetic.device), budget, seed)
    fitted = task.fit(res.synthetic).to(device="cpu", dtype=torch.float64)
    named = DiscreteDBN(dbn_structure, cards, fitted.cpt0, fitted.cpt,
                        state_names={v: states[v] for v in dbn_structure.variables})
    outp = ensure_out_dir(out)
    hard = _distilled_frame(task, res, states, id_col, time_col, panel.slice_times())
    with atomic_write(outp / "distilled.csv") as f:
        hard.to_csv(f, index=False)
    with atomic_write(outp / "distilled_probs.csv") as f:
        keys = hard[["source", id_col, time_col, "weight"]]
        _probs_frame(task, res, states, keys).to_csv(f, index=False, float_format="%.8g")
    write_json(outp / "model.json", model_to_json(named))
    if named.cpt is None:
        from pgmpy.readwrite import BIFWriter  # pgmpy loads only here

        from taskdd.tasks.dbn_discrete.pgmpy_bridge import to_pgmpy
        BIFWriter(to_pgmpy(named)).write(str(outp / "model.bif"))
    write_json(outp / "structure.json", {**structure_to_json(dbn_structure),
                                         "how": "given" if given else "learned (pgmpy HillClimbSearch, bic-d)"})
    table.save(outp / "results.csv")
    summary = {"source_ll": {r["method"]: r["value"] for r in table.rows}, "states": states,
               "time_grid": panel.to_json(), "budget_per_source": budget, "warnings": panel.warnings()}
    write_json(outp / "run.json", {"command": "distill", "task": "dbn-discrete", "data": [str(p) for p in data],
                                   "config": res.config, **summary, "versions": versions(),
                                   "wall_time_s": time.time() - started})
    return summary


def distill_from_args(args, frames: Mapping[str, pd.DataFrame] | None = None) -> int:
    """The ``taskdd distill`` command for categorical data (the CLI's parsed ``args``, and the
    files' ``frames`` if read already); prints a summary."""
    if args.noise is not None or args.no_standardize:
        raise ConfigError("--noise and --no-standardize apply to numeric data; these sources are categorical")
    summary = distill_categorical_csv(args.data, id_col=args.id_col, time_col=args.time_col, budget=args.budget,
                                      out=args.out, structure=args.structure, steps=args.steps, lr=args.lr,
                                      seed=args.seed, device=args.device, quiet=args.quiet, time_step=args.time_step,
                                      max_slices=args.max_slices, time_origin=args.time_origin, method=args.method,
                                      frames=frames)
    print("categorical data: discrete DBN; mean log-likelihood per record on your sources:")
    for k, v in summary["source_ll"].items():
        print(f"  {k:22s} {v:12.4f}")
    print(f"wrote {args.out}/distilled.csv (categories + weight), distilled_probs.csv, model.json, structure.json, "
          "results.csv, run.json" + (", model.bif" if summary["time_grid"]["slices"] == 1 else ""))
    return 0
