"""Matplotlib figures shared by the case studies (Agg backend, no display needed)."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["metric_vs_budget", "curves"]


def metric_vs_budget(frame: pd.DataFrame, metric: str, *, title: str = "", logx: bool = True,
                     methods: Sequence[str] | None = None, ylabel: str | None = None):
    """Mean ± std over seeds of ``metric`` against ``budget``, one line per method.

    frame: tidy results (columns case, method, budget, seed, metric, value). Methods without a
    budget (NaN, e.g. full data) are drawn as horizontal lines.
    """
    df = frame[frame.metric == metric]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for m in methods or sorted(df.method.unique()):
        d = df[df.method == m]
        if d.empty:
            continue
        if d.budget.isna().all():
            ax.axhline(d.value.mean(), ls="--", lw=1, label=m, color=None)
            continue
        g = d.groupby("budget")["value"]
        mean, std = g.mean(), g.std(ddof=0).fillna(0)
        ax.errorbar(mean.index.astype(float), mean.values, yerr=std.values, marker="o", capsize=3, label=m)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel("budget")
    ax.set_ylabel(ylabel or metric)
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
