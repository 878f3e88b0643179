"""Matplotlib figures shared by the case studies (Agg backend, no display needed)."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["metric_vs_budget", "curves"]


def metric_vs_budget(frame: pd.DataFrame, metric: str, *, title: str = "", logx: bool = True,
                     methods: Sequence[str] | None = None, ylabel: str | None = None,
                     relative_to: str | None = None):
    """Mean ± std over seeds of ``metric`` against ``budget``, one line per method.

    frame: tidy results (columns case, method, budget, seed, metric, value). Methods without a
    budget (NaN, e.g. full data) are drawn as horizontal lines. ``relative_to``: a method
    without a budget; each value is shown minus that method's value on the same seed (so the
    spread between seeds' problems drops out), on a symmetric-log axis.
    """
    df = frame[frame.metric == metric].copy()
    if relative_to is not None:
        ref = df[(df.method == relative_to) & df.budget.isna()].set_index("seed").value
        df = df[df.seed.isin(ref.index)]
        df["value"] = df.value - df.seed.map(ref)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, m in enumerate(methods or sorted(df.method.unique())):
        d = df[df.method == m]
        if d.empty:
            continue
        n = d.seed.nunique()
        if d.budget.isna().all():
            ax.axhline(d.value.mean(), ls="--", lw=1, color=f"C{i}", label=f"{m} (n={n})")
            continue
        g = d.groupby("budget")["value"]
        mean, std = g.mean(), g.std(ddof=0).fillna(0)
        ax.errorbar(mean.index.astype(float), mean.values, yerr=std.values, marker="o", capsize=3,
                    color=f"C{i}", label=f"{m} (n={n})")
    if logx:
        ax.set_xscale("log")
    if relative_to is not None:
        ax.set_yscale("symlog", linthresh=0.01)
    ax.set_xlabel("budget")
    ax.set_ylabel(ylabel or (f"{metric} - {relative_to} (same seed)" if relative_to else metric))
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def curves(frame: pd.DataFrame, x: str, y: str, hue: str, *, title: str = "", logy: bool = False):
    """One line per ``hue`` value (mean over the other columns at each ``x``)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for key, d in frame.groupby(hue):
        g = d.groupby(x)[y].mean()
        ax.plot(g.index, g.values, label=f"{hue}={key}")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig
