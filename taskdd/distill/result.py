"""``DistillResult``: the distilled set, its history, config and versions; safe save/load."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from taskdd.errors import CheckpointError
from taskdd.results import atomic_write, ensure_out_dir, write_json
from taskdd.synthetic import SyntheticSet

__all__ = ["DistillResult", "safe_torch_load"]


def safe_torch_load(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)``: never executes code; CheckpointError if unreadable."""
    if not Path(path).is_file():
        raise CheckpointError(f"no file {str(path)!r}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt, truncated, or pickled code: all refused the same way
        raise CheckpointError(f"{str(path)!r} is not a readable taskdd file: {type(e).__name__}: "
                              f"{str(e).splitlines()[0] if str(e) else ''}") from None


@dataclass
class DistillResult:
    """What :func:`taskdd.distill` returns.

    synthetic: the distilled set (detached, on CPU after ``load``); history: one dict per step
    (``step``, ``part``, ``score``, ``wall_time`` and evaluation metrics where evaluated), after,
    when ``distill`` had test data, a ``step`` 0 row with the starting set's metrics (no score;
    :attr:`step_rows`, :attr:`n_steps` and :attr:`final_score` skip it); config: the call's
    settings (:meth:`taskdd.distill.DistillSettings.config`); versions: library versions.
    """

    synthetic: SyntheticSet
    history: list[dict] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)

    def history_frame(self) -> pd.DataFrame:
        """History as a DataFrame (one row per step)."""
        return pd.DataFrame(self.history)

    @property
    def final_score(self) -> float:
        """The score of the last step (NaN when no step was taken)."""
        steps = self.step_rows
        return float(steps[-1]["score"]) if steps else float("nan")

    @property
    def step_rows(self) -> list[dict]:
        """The history rows of optimisation steps (``step >= 1``; a ``step`` 0 row, if any,
        holds the evaluation of the starting set)."""
        return [h for h in self.history if h.get("step", 1) >= 1]

    @property
    def n_steps(self) -> int:
        """Optimisation steps taken."""
        return len(self.step_rows)

    @property
    def wall_time(self) -> float:
        """Seconds spent distilling (evaluations excluded); 0.0 when no step was taken."""
        return float(self.history[-1]["wall_time"]) if self.history else 0.0

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``synthetic.pt`` (tensors only) and ``result.json`` into ``directory``."""
        d = ensure_out_dir(directory)
        with atomic_write(d / "synthetic.pt", "wb") as f:
            torch.save(self.synthetic.state_dict(), f)
        write_json(d / "result.json", {"format": "taskdd.DistillResult/1", "spec": self.synthetic.spec(),
                                       "history": self.history, "config": self.config,
                                       "versions": self.versions})
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "DistillResult":
        """Inverse of :meth:`save`; loads no code (weights-only tensors + JSON)."""
        d = Path(directory)
        try:
            meta = json.loads((d / "result.json").read_text())
        except FileNotFoundError:
            raise CheckpointError(f"{str(d)!r} holds no result.json; is it a DistillResult folder?") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{str(d / 'result.json')!r} is corrupt: {e}") from None
        if not isinstance(meta, dict) or meta.get("format") != "taskdd.DistillResult/1":
            raise CheckpointError(f"{str(d / 'result.json')!r} is not a taskdd DistillResult")
        state = safe_torch_load(d / "synthetic.pt")
        return cls(SyntheticSet.from_state(meta["spec"], state), meta.get("history", []),
                   meta.get("config", {}), meta.get("versions", {}))
