"""Figures of classifier sets (Agg backend, no display needed)."""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["image_grid"]


def image_grid(images: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str], *, title: str = ""):
    """A grid of grey images. images: [R, K, h, w] (row r, column k); each image is scaled to
    its own range, so distilled images outside [0, 1] stay visible."""
    R, K = images.shape[:2]
    fig, axes = plt.subplots(R, K, figsize=(0.8 * K + 1.2, 0.8 * R + 0.4), squeeze=False)
    for r in range(R):
        for k in range(K):
            ax = axes[r, k]
            ax.imshow(images[r, k], cmap="gray_r", interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if k == 0:
                ax.set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=8)
            if r == 0:
                ax.set_title(col_labels[k], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
