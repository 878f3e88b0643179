"""Figures of the PINN case study (Agg backend, no display needed)."""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["solution_at_alpha", "error_vs_alpha", "alpha_histogram"]


def _shade(ax, train_range: Sequence[float], test_range: Sequence[float]) -> None:
    ax.axvspan(*train_range, color="C0", alpha=0.08, label="training tail")
    ax.axvspan(*test_range, color="C3", alpha=0.08, label="test tail")


def _finish(ax, xlabel: str, ylabel: str, title: str, fontsize: int = 7):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=fontsize)
    ax.grid(alpha=0.3)
    return ax.figure


def solution_at_alpha(x: np.ndarray, truth: np.ndarray, predictions: Mapping[str, np.ndarray], alpha: float, *,
                      title: str = ""):
    """``u(x)`` at one alpha: the reference and each method's prediction (``[n]`` arrays)."""
    _, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(x, truth, "k-", lw=2.5, alpha=0.4, label="reference")
    for i, (name, u) in enumerate(predictions.items()):
        ax.plot(x, u, color=f"C{i}", lw=1.3, label=name)
    return _finish(ax, "x", f"u(x; alpha={alpha:.2f})", title, fontsize=8)


def error_vs_alpha(alphas: np.ndarray, errors: Mapping[str, np.ndarray], train_range: Sequence[float],
                   test_range: Sequence[float], *, title: str = ""):
    """Relative L2 error against alpha: ``errors[name]`` is ``[S, A]`` (seeds x alphas); mean
    line and min-max band over seeds; the two tails shaded."""
    _, ax = plt.subplots(figsize=(6.4, 4.2))
    _shade(ax, train_range, test_range)
    for i, (name, e) in enumerate(errors.items()):
        e = np.atleast_2d(e)
        ax.plot(alphas, e.mean(0), color=f"C{i}", marker=".", label=f"{name} (n={e.shape[0]})")
        ax.fill_between(alphas, e.min(0), e.max(0), color=f"C{i}", alpha=0.15)
    ax.set_yscale("log")
    return _finish(ax, "alpha", "relative L2 error", title)


def alpha_histogram(train_alpha: np.ndarray, distilled: Mapping[str, np.ndarray], train_range: Sequence[float],
                    test_range: Sequence[float], *, title: str = ""):
    """Where the synthetic alphas went: histograms of the real training alphas and of each
    distilled set's alphas (pooled over seeds)."""
    values = [train_alpha, *distilled.values()]
    lo, hi = min(float(np.min(v)) for v in values), max(float(np.max(v)) for v in values)
    bins = np.linspace(min(lo, test_range[0]), max(hi, test_range[1]), 41)
    _, ax = plt.subplots(figsize=(6.4, 4.2))
    _shade(ax, train_range, test_range)
    ax.hist(train_alpha, bins=bins, density=True, histtype="step", color="k", label="real training alphas")
    for i, (name, a) in enumerate(distilled.items()):
        ax.hist(a, bins=bins, density=True, alpha=0.5, color=f"C{i + 1}", label=f"{name} ({len(a)} points)")
    return _finish(ax, "alpha", "density", title)
