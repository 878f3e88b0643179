"""Saving results: atomic writes, the tidy ``results.csv`` table, ``run.json``, versions."""

from __future__ import annotations

import json
import os
import platform
import stat
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd
import torch

from taskdd.errors import ConfigError

__all__ = ["atomic_write", "current_umask", "write_json", "versions", "git_commit", "ResultsTable", "RESULT_COLUMNS", "ensure_out_dir"]

RESULT_COLUMNS = ["case", "method", "budget", "seed", "metric", "value"]


def ensure_out_dir(out: str | os.PathLike) -> Path:
    """Create ``out`` (and parents) and check it is writable; ConfigError otherwise."""
    p = Path(out)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"output folder {str(p)!r} cannot be created: {e.strerror or e}") from None
    if not p.is_dir():
        raise ConfigError(f"output path {str(p)!r} exists and is not a folder")
    if not os.access(p, os.W_OK | os.X_OK):
        raise ConfigError(f"output folder {str(p)!r} is not writable")
    return p


_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux: /proc/self/status);
    elsewhere set and restored at once under a lock."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:
        old = os.umask(0o077)
        os.umask(old)
    return old


def _plain_open_mode(path: Path) -> int:
    """The permission bits ``open(path, "w")`` would leave: an existing file keeps its own, a new
    one gets ``0o666 & ~umask``."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w") -> Iterator[Any]:
    """Write to a temp file beside ``path`` and rename it into place on success.

    A crash midway leaves the old file (or none), never a partial one. The file ends with the
    permissions a plain ``open(path, "w")`` would give it (``0o666 & ~umask`` when new, its old
    ones when replaced), not the private 0600 of a temp file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as f:
            os.chmod(tmp, _plain_open_mode(path))
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomic JSON write (sorted keys, indented; non-JSON values as strings)."""
    with atomic_write(path) as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)


def versions() -> dict[str, str]:
    """Versions of Python, taskdd and the libraries it builds on."""
    out = {"python": platform.python_version()}
    for pkg in ("taskdd", "torch", "pyro-ppl", "pgmpy", "deepxde", "numpy", "pandas", "scikit-learn"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    out["cuda"] = torch.version.cuda or "none"
    return out


def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """The git commit of the checkout holding ``path`` (this package by default), if any."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None if r.returncode == 0 else None


class ResultsTable:
    """Accumulates tidy rows ``(case, method, budget, seed, metric, value)``."""

    def __init__(self, case: str):
        self.case = case
        self.rows: list[dict] = []

    def add(self, method: str, budget: int | float | None, seed: int, metrics: Mapping[str, float],
            *, case: str | None = None) -> None:
        """One row per metric; ``case`` tags a sub-study (default: the table's case)."""
        for k, v in metrics.items():
            self.rows.append({"case": case or self.case, "method": method, "budget": budget, "seed": seed,
                              "metric": k, "value": float(v)})

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=RESULT_COLUMNS)

    def save(self, path: str | os.PathLike) -> None:
        """Atomic CSV write."""
        with atomic_write(path) as f:
            self.frame().to_csv(f, index=False, float_format="%.10g")

    def summary(self, metric: str) -> pd.DataFrame:
        """Mean ± std over seeds of ``metric``: rows = method, columns = budget."""
        df = self.frame()
        df = df[df.metric == metric]
        g = df.groupby(["method", "budget"])["value"]
        mean, std = g.mean().unstack(), g.std(ddof=0).unstack()
        return mean.round(4).astype(str) + " ± " + std.round(4).astype(str)
