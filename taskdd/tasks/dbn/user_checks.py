"""Fail-fast checks of a ``taskdd distill`` call: everything cheap is checked before any fitting.

:func:`check_options` looks at the arguments alone (before any file is read);
:func:`check_panel` at the aligned sources (before structure learning and noise estimation) and
returns the warnings worth recording (also logged).
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Sequence

from taskdd.data import Sources
from taskdd.device import make_generator
from taskdd.distill.estimators import get_method
from taskdd.distill.settings import check_call
from taskdd.errors import ConfigError, DataError, TaskddError
from taskdd.tasks.dbn.structure import DBNStructure

__all__ = ["check_options", "check_panel", "check_budget_floor"]

log = logging.getLogger(__name__)


def check_options(data: Sequence[str | os.PathLike], *, budget, steps, lr, seed, noise, method,
                  checkpoint_every, resume) -> None:
    """ConfigError (or DataError for a missing file) naming the first bad argument."""
    if not data:
        raise ConfigError("give at least one --data file")
    for path in data:
        if not Path(path).is_file():
            raise DataError(f"data file {str(path)!r} does not exist")
    names = {"budget": "--budget", "steps": "--steps", "lr": "--lr", "checkpoint_every": "--checkpoint-every"}
    try:
        check_call(budget=budget, steps=steps, lr=lr, schedule="all", optimizer="adam", lr_schedule="constant",
                   eval_every=0, checkpoint_every=checkpoint_every, checkpoint_dir="out", resume=resume)
    except ConfigError as e:
        text = str(e)
        for k, flag in names.items():
            text = text.replace(f"{k} must", f"{flag} must", 1) if text.startswith(k) else text
        raise ConfigError(text) from None
    if lr is not None and not math.isfinite(lr):
        raise ConfigError(f"--lr must be a finite number > 0, got {lr!r}")
    try:
        make_generator(seed)
    except TaskddError:
        raise ConfigError(f"--seed must be an int in [0, 2**64), got {seed!r}") from None
    if noise is not None and not (isinstance(noise, int | float) and math.isfinite(noise) and noise >= 0):
        raise ConfigError(f"--noise must be a finite number >= 0 (observation-noise std), got {noise!r}")
    try:
        get_method(method)
    except TaskddError as e:
        raise ConfigError(f"--method {method!r}: {e}") from None


def _check_sizes(sources: Sources, budget: int, estimate_noise: bool) -> None:
    small = [s for s in sources if len(s) < 2]
    if small:
        raise DataError(f"source {small[0].name!r} has {len(small[0])} sequence; each source needs at least 2")
    if budget > min(len(s) for s in sources):
        worst = min(sources, key=len)
        raise ConfigError(f"--budget {budget} is larger than source {worst.name!r} ({len(worst)} sequences); "
                          f"the largest budget that fits every source is {len(worst)}")
    T = sources[0].shape[1]
    if T < 2:
        raise DataError("every sequence has a single time slice; a dynamic model needs at least 2")
    if estimate_noise and T < 3:
        raise ConfigError(f"estimating the observation noise needs sequences of at least 3 time slices, the "
                          f"longest here has {T}; give --noise")


def _check_cells(sources: Sources) -> None:
    hidden = sources.hidden_everywhere()
    if hidden:
        raise DataError(f"variables {hidden} are observed in no source; drop the columns")
    counts = sum(s.mask.sum((0, 1)) for s in sources)
    few = [f"{v!r} ({int(c)})" for v, c in zip(sources.variables, counts.tolist()) if c < 2]
    if few:
        raise DataError(f"variables {', '.join(few)} are observed in fewer than 2 cells over all sources; "
                        "each variable needs at least 2 observed values")


def _warnings(sources: Sources) -> list[str]:
    seen = {s.name: {v for v, ok in zip(sources.variables, s.mask.any(dim=(0, 1)).tolist()) if ok}
            for s in sources}
    out = []
    names = list(seen)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if not seen[a] & seen[b]:
                out.append(f"sources {a!r} and {b!r} share no variable: nothing links their measurements "
                           "but the structure")
    if not any(len(v) == len(sources.variables) for v in seen.values()):
        out.append("a clean fully observed `sub` baseline is impossible: every source hides something")
    for w in out:
        log.warning(w)
    return out


def check_panel(sources: Sources, budget: int, *, structure: DBNStructure | None = None,
                estimate_noise: bool = True) -> list[str]:
    """DataError / ConfigError for what no fit can fix (sizes, budget, unobserved variables, a
    given structure over other variables or too rich for the budget); returns the warnings."""
    _check_sizes(sources, budget, estimate_noise)
    _check_cells(sources)
    if structure is not None:
        if set(structure.variables) != set(sources.variables):
            raise DataError(f"structure variables {sorted(structure.variables)} differ from the data's "
                            f"{sorted(sources.variables)}")
        check_budget_floor(structure, sources, budget)
    return _warnings(sources)


def check_budget_floor(structure: DBNStructure, sources: Sources, budget: int) -> None:
    """ConfigError when ``budget`` is too small for the DBN's first-slice regressions."""
    from taskdd.tasks.dbn.task import smallest_ipc

    low = smallest_ipc(structure, len(sources))
    if budget < low:
        raise ConfigError(f"--budget {budget} is too small for this structure: with {len(sources)} sources the "
                          f"first-slice regressions need a budget >= {low}")
