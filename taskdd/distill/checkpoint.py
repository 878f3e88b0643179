"""Loop checkpoints: everything needed to resume bit-for-bit on CPU, loaded without code."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from taskdd.distill.result import safe_torch_load
from taskdd.errors import CheckpointError
from taskdd.results import atomic_write, ensure_out_dir

__all__ = ["save_checkpoint", "load_checkpoint", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "checkpoint.pt"
_FORMAT = "taskdd.checkpoint/1"


def save_checkpoint(directory: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (tensors, numbers, strings, lists, dicts) to the folder."""
    d = ensure_out_dir(directory)
    path = d / CHECKPOINT_NAME
    with atomic_write(path, "wb") as f:
        torch.save({"format": _FORMAT, **state}, f)
    return path


def load_checkpoint(directory: str | os.PathLike, fingerprint: dict[str, Any]) -> dict[str, Any] | None:
    """The saved state, None when the folder has no checkpoint.

    CheckpointError when the file is corrupt, not ours, or from another run (``fingerprint``:
    the settings that must match to resume).
    """
    path = Path(directory) / CHECKPOINT_NAME
    if not path.exists():
        return None
    state = safe_torch_load(path)
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise CheckpointError(f"{str(path)!r} is not a taskdd checkpoint")
    saved = state.get("fingerprint")
    if saved != fingerprint:
        diff = sorted(k for k in set(fingerprint) | set(saved or {})
                      if (saved or {}).get(k) != fingerprint.get(k))
        raise CheckpointError(f"{str(path)!r} belongs to another run (settings differ: {diff}); "
                              "use another folder or delete it")
    return state
