"""Kernel ridge regression, the learner of KIP (Nguyen et al. 2021): closed form, differentiable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

__all__ = ["KRRModel", "fit_krr", "label_mse", "krr_score"]


@dataclass(frozen=True)
class KRRModel:
    """``f(x) = k(x, support) @ alpha``. support: [n, p]; alpha: [n, C]."""

    support: Tensor
    alpha: Tensor
    kernel: Callable[[Tensor, Tensor], Tensor]

    def predict(self, x: Tensor) -> Tensor:
        """Regression outputs ``[m, C]`` for ``x [m, p]``; the predicted class is their argmax."""
        return self.kernel(x, self.support) @ self.alpha


def fit_krr(x: Tensor, targets: Tensor, kernel: Callable[[Tensor, Tensor], Tensor], ridge: float) -> KRRModel:
    """Solve ``(K + ridge * mean(diag K) I) alpha = targets`` with ``K = k(x, x)``.

    x: [n, p]; targets: [n, C]. The ridge is relative to the kernel's scale, so it means the
    same for any kernel and input scale.
    """
    K = kernel(x, x)
    reg = ridge * K.diagonal().mean()
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    return KRRModel(x, torch.linalg.solve(K + reg * eye, targets), kernel)


def label_mse(pred: Tensor, y: Tensor) -> Tensor:
    """Mean squared error of regression outputs ``pred [m, C]`` against one-hot ``y [m]``."""
    return ((pred - torch.nn.functional.one_hot(y, pred.shape[1]).to(pred.dtype)) ** 2).mean()


def krr_score(x: Tensor, targets: Tensor, x_real: Tensor, y_real: Tensor,
              kernel: Callable[[Tensor, Tensor], Tensor], ridge: float) -> Tensor:
    """KIP's objective: minus :func:`label_mse` on ``(x_real [m, p], y_real [m])`` of the KRR
    fitted on ``(x [n, p], targets [n, C])``."""
    return -label_mse(fit_krr(x, targets, kernel, ridge).predict(x_real), y_real)
