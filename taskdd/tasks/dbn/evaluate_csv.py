"""``taskdd evaluate``: score held-out CSV sequences with the model ``taskdd distill`` saved.

The model (``OUT/model/dbn_model.json``, :meth:`LinearGaussianDBN.save`) is in standard units and
carries what scoring needs (:mod:`taskdd.tasks.dbn.user_data`): variable names, scaling, time
grid, noise, id and time column names. The test CSV(s) are read like training sources:

- **Time grid**: visits are placed on the saved grid (the same step; dates need dates, numbers
  numbers) with the training origin rule: "sequence" = each sequence's first visit is slice 0;
  "global" = the training data's earliest time is time 0 (a test visit before it is refused).
  Test sequences may be longer or shorter than the training ones (the DBN is time-homogeneous).
- **Columns** are matched by name, in any order: a column the model does not know is a
  DataError naming it; a model variable absent from every test file is marginalised (treated as
  never observed), with a warning.
- **Units**: the data are standardised as saved; the reported log-likelihood is in the data's own
  units (standard-unit value plus the log-Jacobian ``-sum log std`` over observed values).
- **Measurement noise** (``noise``): ``"saved"`` (default; ``"estimated"`` is the same) = the
  noise saved with the model, per variable, its mean over the training sources (estimated or
  given at training), since test data are real measurements too; a number = that std for every
  variable, in standard units (a fraction of each variable's std) like ``distill --noise``;
  ``0`` scores noise-free values.

Returns (and with ``out`` writes atomically to ``OUT/evaluation.json``): ``mean_test_ll`` (mean
log-likelihood per sequence, the data's units), ``mean_test_ll_standard_units``,
``n_sequences``, ``n_observed_values``, per-file figures, the noise rule and levels, the model
path and the data files.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Sequence

import torch

from taskdd.errors import CheckpointError, ConfigError, DataError
from taskdd.results import ensure_out_dir, versions, write_json
from taskdd.tasks.dbn.io import MODEL_FILE
from taskdd.tasks.dbn.model import LinearGaussianDBN
from taskdd.tasks.dbn.panel import Panel, align_panel
from taskdd.tasks.dbn.scaling import Scaling
from taskdd.tasks.dbn.user_data import read_frames

__all__ = ["load_model", "evaluate_csv", "SAVED_NOISE"]

log = logging.getLogger(__name__)

#: the ``noise`` words meaning "the noise saved with the model"
SAVED_NOISE = ("saved", "estimated")
_NEEDS = ("variables", "scaling", "time_grid", "noise", "id_col", "time_col")


def load_model(directory: str | os.PathLike) -> tuple[LinearGaussianDBN, dict]:
    """``(DBN in standard units, metadata)`` saved by ``taskdd distill``; ``directory`` is its
    ``--out`` folder or the ``model`` folder in it. CheckpointError when there is none or it
    lacks the metadata ``taskdd evaluate`` needs (a DBN saved by other code)."""
    path = Path(directory)
    if not (path / MODEL_FILE).is_file() and (path / "model" / MODEL_FILE).is_file():
        path = path / "model"
    if not path.exists():
        raise CheckpointError(f"model directory {str(directory)!r} does not exist (give the --out folder of "
                              "`taskdd distill`, or its model/ folder)")
    model, meta = LinearGaussianDBN.load_with_metadata(path)
    lacking = [k for k in _NEEDS if k not in meta]
    if lacking:
        raise CheckpointError(f"saved DBN in {str(path)!r} lacks metadata {lacking}; taskdd evaluate needs a "
                              "model saved by `taskdd distill`")
    return model, meta


def _noise(noise, meta: dict, variables: Sequence[str]) -> tuple[list[float], str]:
    """Per-variable noise std in standard units and the rule, in words."""
    if noise is None or (isinstance(noise, str) and noise.strip().lower() in SAVED_NOISE):
        saved = meta["noise"]["mean_over_sources"]
        return [float(saved[v]) for v in variables], (
            f"saved with the model (mean over training sources; {meta['noise'].get('how', 'as saved')})")
    try:
        value = float(noise)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(noise, bool) or not (math.isfinite(value) and value >= 0):
        raise ConfigError(f"--noise must be a number >= 0 (std in standard units) or one of {list(SAVED_NOISE)}, "
                          f"got {noise!r}")
    return [value] * len(variables), "noise-free (--noise 0)" if value == 0 else f"given: {value:g} in standard units"


def _align(paths: Sequence[str | os.PathLike], id_col: str, time_col: str, grid: dict,
           variables: Sequence[str]) -> Panel:
    """The test files on the saved grid; unknown columns refused before any alignment."""
    frames = read_frames(paths)
    for (name, df), path in zip(frames.items(), paths):
        unknown = [str(c) for c in df.columns if c not in (id_col, time_col) and str(c) not in variables]
        if unknown:
            raise DataError(f"test file {str(path)!r}: columns {unknown} are not variables of the model; the "
                            f"model's variables are {list(variables)}")
    rule = grid.get("origin_rule", "sequence")
    panel = align_panel(frames, id_col, time_col, time_step=float(grid["step"]), origin=rule,
                        start=float(grid["start"]) if rule == "global" else None)
    if (panel.unit == "days") != (grid["unit"] == "days"):
        raise DataError(f"time column {time_col!r} holds {'dates' if panel.unit == 'days' else 'numbers'} but the "
                        f"model's time grid is in {grid['unit']!r}; use the training data's kind of time")
    return panel


def _score(model: LinearGaussianDBN, sources, scaling: Scaling, obs_noise: list[float]):
    """Log-likelihood of each test sequence in the data's units ``[N]``, the log-Jacobian ``[N]``
    (user = standard + it), and the mask ``[N, T, k]`` over the test data's variables."""
    values, mask = torch.cat([s.values for s in sources]), torch.cat([s.mask for s in sources])
    stats = {v: (m, s) for v, m, s in zip(scaling.variables, scaling.mean.tolist(), scaling.std.tolist())}
    with torch.no_grad():
        ll = model.log_likelihood_by_name(values, mask, sources.variables, obs_noise=obs_noise, scaling=stats)
    log_std = torch.tensor([math.log(stats[v][1]) for v in sources.variables], dtype=torch.float64)
    return ll, -(mask.double() * log_std).sum((1, 2)), mask


def evaluate_csv(model_dir: str | os.PathLike, data: Sequence[str | os.PathLike], *, id_col: str | None = None,
                 time_col: str | None = None, noise: float | str | None = "saved",
                 out: str | os.PathLike | None = None) -> dict:
    """Score every sequence of the test CSV(s) ``data`` with the model in ``model_dir`` (rules in
    the module docstring). id_col / time_col: default the training ones (saved). Returns the
    summary dict; with ``out``, also writes ``out/evaluation.json`` atomically."""
    if not data:
        raise ConfigError("give at least one --data file")
    model, meta = load_model(model_dir)
    variables = list(model.structure.variables)
    id_col, time_col = id_col or meta["id_col"], time_col or meta["time_col"]
    obs_noise, rule = _noise(noise, meta, variables)
    panel = _align(data, id_col, time_col, meta["time_grid"], variables)
    scaling = Scaling.from_json(meta["scaling"])
    sources = panel.sources.to(dtype=torch.float64)
    absent = [v for v in variables if v not in sources.variables]
    warnings = panel.warnings() + ([f"model variables {absent} are absent from the test data; marginalised"]
                                   if absent else [])
    for w in warnings[len(panel.warnings()):]:
        log.warning(w)
    ll, jac, mask = _score(model, sources, scaling, obs_noise)
    sizes = [len(s) for s in sources]
    summary = {"command": "evaluate", "model": str(Path(model_dir)), "data": [str(p) for p in data],
               "id_col": id_col, "time_col": time_col, "units": "the data's own",
               "mean_test_ll": float(ll.mean()), "mean_test_ll_standard_units": float((ll - jac).mean()),
               "n_sequences": int(ll.numel()), "n_observed_values": int(mask.sum()), "slices": panel.T,
               "per_file": {s.name: {"mean_test_ll": float(part.mean()), "n_sequences": len(s)}
                            for s, part in zip(sources, ll.split(sizes))},
               "noise": {"rule": rule, "standard_units": dict(zip(variables, obs_noise)),
                         "user_units": {v: z * s for v, z, s in zip(variables, obs_noise, scaling.std.tolist())}},
               "time_grid": panel.to_json(), "warnings": warnings}
    if out is not None:
        write_json(ensure_out_dir(out) / "evaluation.json", {**summary, "versions": versions()})
    return summary
