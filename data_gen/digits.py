"""scikit-learn's bundled handwritten digits (8x8 images, 10 classes; no download), split for
the classifier tasks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from taskdd.data import Samples
from taskdd.errors import ConfigError

__all__ = ["ClassificationProblem", "load_digits_split"]


@dataclass(frozen=True)
class ClassificationProblem:
    """train / test ``Samples(x=[N, p], y=[N])``, the number of classes and each input's image shape."""

    train: Samples
    test: Samples
    n_classes: int
    image_shape: tuple[int, int]


def load_digits_split(test_size: float = 0.3, seed: int = 0, dtype: torch.dtype = torch.float32) -> ClassificationProblem:
    """The 1797 digits, pixels / 16 in [0, 1], stratified train/test split by ``seed``.

    test_size: fraction held out (the default gives 1257 train, 540 test).
    """
    if not (isinstance(test_size, float) and 0 < test_size < 1):
        raise ConfigError(f"test_size must be a float in (0, 1), got {test_size!r}")
    x, y = load_digits(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x / 16.0, y, test_size=test_size, stratify=y, random_state=seed)

    def samples(a, b):
        return Samples(x=torch.from_numpy(a).to(dtype), y=torch.from_numpy(b).long())

    return ClassificationProblem(samples(xtr, ytr), samples(xte, yte), 10, (8, 8))
