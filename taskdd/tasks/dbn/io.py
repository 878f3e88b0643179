"""A fitted DBN as a file: ``DIR/dbn_model.json``, plain JSON, safe to load (no pickle).

Layout (format tag ``taskdd.dbn.LinearGaussianDBN``, version 1)::

    {"format": "taskdd.dbn.LinearGaussianDBN", "version": 1,
     "variables": [...], "intra": {child: [parents]}, "inter": {child: [parents at t-1]},
     "dtype": "float64",
     "parameters": {"B0": [[...]], "b0": [...], "s0": [...], "B": ..., "A": ..., "b": ..., "s": ...},
     "metadata": {...}}

Parameters are JSON numbers written with Python's shortest round-trip repr, so float32 and
float64 values come back bit for bit. ``metadata`` is the caller's JSON-able dict (the CSV path
stores the variables' means and std devs and the time grid there). This module knows nothing of
:class:`LinearGaussianDBN`; :meth:`LinearGaussianDBN.save` / :meth:`LinearGaussianDBN.load` use it.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from taskdd.errors import CheckpointError, ConfigError, DataError
from taskdd.results import ensure_out_dir, write_json
from taskdd.tasks.dbn.structure import DBNStructure

__all__ = ["MODEL_FILE", "FORMAT", "VERSION", "write_model", "read_model"]

MODEL_FILE = "dbn_model.json"
FORMAT = "taskdd.dbn.LinearGaussianDBN"
VERSION = 1
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def write_model(directory: str | os.PathLike, structure: DBNStructure, parameters: Mapping[str, Tensor],
                metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``DIR/dbn_model.json`` atomically (``directory`` is created); returns its path.
    ``metadata`` must be JSON-able (ConfigError naming the offending part otherwise)."""
    meta = dict(metadata or {})
    try:
        json.dumps(meta, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"metadata must be a JSON-able dict (str keys; numbers, strings, lists, dicts; "
                          f"no NaN): {e}") from None
    dtype = next(iter(parameters.values())).dtype
    spec = {"format": FORMAT, "version": VERSION, "variables": list(structure.variables),
            "intra": structure.intra, "inter": structure.inter,
            "dtype": "float32" if dtype == torch.float32 else "float64",
            "parameters": {k: v.detach().cpu().double().tolist() for k, v in parameters.items()},
            "metadata": meta}
    path = ensure_out_dir(directory) / MODEL_FILE
    write_json(path, spec)
    return path


def read_model(directory: str | os.PathLike) -> tuple[DBNStructure, dict[str, Tensor], dict[str, Any]]:
    """Read ``DIR/dbn_model.json`` (or the file itself when given): the structure, the parameters
    as CPU tensors in the stored dtype, and the metadata. CheckpointError when the file is
    missing, not JSON, from something else, of a newer version or incomplete."""
    path = Path(directory)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise CheckpointError(f"no saved DBN at {str(path)!r} (expected {MODEL_FILE} written by LinearGaussianDBN.save)")
    try:
        spec = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"saved DBN {str(path)!r} is not valid JSON (corrupt or truncated): {e}") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        got = spec.get("format") if isinstance(spec, dict) else type(spec).__name__
        raise CheckpointError(f"{str(path)!r} is not a saved DBN: format {got!r}, expected {FORMAT!r}")
    if spec.get("version") != VERSION:
        raise CheckpointError(f"saved DBN {str(path)!r} has version {spec.get('version')!r}; this taskdd reads "
                              f"version {VERSION}")
    return _decode(spec, path)


def _decode(spec: dict, path: Path) -> tuple[DBNStructure, dict[str, Tensor], dict[str, Any]]:
    need = ("variables", "intra", "inter", "dtype", "parameters", "metadata")
    lacking = [k for k in need if k not in spec]
    if lacking or spec.get("dtype") not in _DTYPES or not isinstance(spec.get("parameters"), dict):
        raise CheckpointError(f"saved DBN {str(path)!r} is incomplete: lacking keys {lacking}, dtype "
                              f"{spec.get('dtype')!r} (accepted {sorted(_DTYPES)})")
    names = ("B0", "b0", "s0", "B", "A", "b", "s")
    try:
        structure = DBNStructure(spec["variables"], spec["intra"], spec["inter"])
        params = {k: torch.tensor(spec["parameters"][k], dtype=_DTYPES[spec["dtype"]]) for k in names}
    except (DataError, KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"saved DBN {str(path)!r} is corrupt: {type(e).__name__}: {e}") from None
    bad = [k for k, v in params.items() if not all(math.isfinite(x) for x in v.flatten().tolist())]
    if bad:
        raise CheckpointError(f"saved DBN {str(path)!r} has non-finite parameters {bad}")
    return structure, params, dict(spec["metadata"] or {})
