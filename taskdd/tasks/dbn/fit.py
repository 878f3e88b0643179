"""Closed-form learner of a linear-Gaussian DBN: per-node least squares with an intercept.

The pooled maximum-likelihood estimate of a DBN with known structure and fully observed data
factorises into one linear regression per node and slice type: the first slice regresses each
``x_0[i]`` on its intra parents (one row per sequence), later slices regress ``x_t[i]`` on its
intra parents at ``t`` and inter parents at ``t-1`` (rows pooled over ``t >= 1`` and sequences).
All ``d`` regressions of a slice type are solved in one batched ``[d, p, p]`` solve.
"""

from __future__ import annotations

import torch
from torch import Tensor

from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn.structure import DBNStructure

__all__ = ["least_squares_parameters"]


def least_squares_parameters(structure: DBNStructure, values: Tensor, mask: Tensor | None = None,
                             ridge: float = 1e-6) -> dict[str, Tensor]:
    """Per-node least-squares DBN parameters ``{B0, b0, s0, B, A, b, s}``.

    values: [N, T, d] float, T >= 2; mask: [N, T, d] bool, True = observed (None = all). With a
    mask, a row enters node ``i``'s regression only when ``i`` and all its parents in that row
    are observed (complete cases per node); masked values are never read. ``ridge`` adds
    ``ridge * ||w||^2`` (weights only, not the intercept) to the residual sum of squares. Noise
    variance = mean squared residual over the rows used (the MLE). Differentiable w.r.t.
    ``values``. A node with fewer complete rows than unknowns (``structure.n_unknowns``) gets
    an interpolating fit and a near-zero noise variance.
    """
    structure.check_data(values, mask)
    N, T, d = values.shape
    if T < 2:
        raise DataError(f"fitting a DBN needs T >= 2 time slices (the transition has no rows), got T={T}")
    if not (isinstance(ridge, (int, float)) and ridge >= 0 and ridge != float("inf")):
        raise ConfigError(f"ridge must be a finite number >= 0, got {ridge!r}")
    intra = structure.intra_mask.to(values.device)
    inter = structure.inter_mask.to(values.device)
    ones = torch.ones(d, 1, dtype=torch.bool, device=values.device)
    w0 = w = None
    if mask is not None:
        values = torch.where(mask, values, torch.zeros((), dtype=values.dtype, device=values.device))
        o = mask.to(values.dtype)
        o0, ot, op = o[:, 0], o[:, 1:].reshape(-1, d), o[:, :-1].reshape(-1, d)
        w0 = o0 * ((1 - o0) @ intra.to(o.dtype).T == 0)
        w = ot * ((1 - ot) @ intra.to(o.dtype).T + (1 - op) @ inter.to(o.dtype).T == 0)
    x0, xt, xp = values[:, 0], values[:, 1:].reshape(-1, d), values[:, :-1].reshape(-1, d)
    one0, one = x0.new_ones(N, 1), xt.new_ones(xt.shape[0], 1)
    coef0, var0 = _regress(x0, torch.cat([x0, one0], 1), torch.cat([intra, ones], 1), w0, ridge, "first slice", structure)
    coef, var = _regress(xt, torch.cat([xt, xp, one], 1), torch.cat([intra, inter, ones], 1), w, ridge,
                         "slices t >= 1", structure)
    return {"B0": coef0[:, :d], "b0": coef0[:, d], "s0": var0.sqrt(),
            "B": coef[:, :d], "A": coef[:, d:2 * d], "b": coef[:, 2 * d], "s": var.sqrt()}


def _regress(Y: Tensor, Z: Tensor, cols: Tensor, w: Tensor | None, ridge: float, what: str,
             structure: DBNStructure) -> tuple[Tensor, Tensor]:
    """``d`` weighted ridge regressions at once.

    Y: [R, d] targets; Z: [R, p] shared design, last column the intercept; cols: [d, p] bool,
    the columns of node i's design; w: [R, d] row weights in {0, 1} (None = all 1).
    Returns coefficients [d, p] (zero outside ``cols``) and residual variances [d].
    """
    c = cols.to(Z.dtype)
    if w is None:
        G = (Z.T @ Z).expand(c.shape[0], -1, -1)
        r = (Z.T @ Y).T
        n = Z.new_full((c.shape[0],), float(Z.shape[0]))
    else:
        n = w.sum(0)
        empty = (n == 0).nonzero().flatten().tolist()
        if empty:
            raise DataError(f"{what}: nodes {[structure.variables[i] for i in empty]} have no row where they "
                            "and all their parents are observed; their regression cannot be fitted")
        G = (w.T[:, :, None] * Z).transpose(1, 2) @ Z
        r = (w * Y).T @ Z
    G = G * c[:, :, None] * c[:, None, :]
    pen = ridge * c
    pen[:, -1] = 0.0
    G = G + torch.diag_embed(pen + (1 - c))
    coef = torch.linalg.solve(G, (r * c)[..., None])[..., 0] * c
    resid = Y - Z @ coef.T
    sq = resid.square() if w is None else w * resid.square()
    return coef, sq.sum(0) / n
