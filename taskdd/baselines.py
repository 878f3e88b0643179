"""Baselines for the DBN likelihood task, all returning a fitted :class:`LinearGaussianDBN`.

- ``sub``: a random clean, fully observed real subset of the same size as the distilled set
  (the paper's D^sub);
- ``full_clean``: all clean training sequences (what the sources were made from);
- ``direct_fit``: maximise the marginal likelihood of all partial, noisy sources directly over
  the DBN parameters — the information ceiling of any distilled set, since it distils nothing;
- ``impute``: pool the sources, fill hidden entries with per-variable means, fit.
"""

from __future__ import annotations

import logging

import torch

from taskdd.data import Source, Sources
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn import DBNStructure, LinearGaussianDBN, fit_dbn

__all__ = ["sub", "full_clean", "direct_fit", "impute"]

log = logging.getLogger(__name__)


def sub(structure: DBNStructure, clean: Source, n: int, generator: torch.Generator, ridge: float = 1e-6) -> LinearGaussianDBN:
    """Fit on ``n`` random sequences of the clean, fully observed ``clean``."""
    if not 1 <= n <= len(clean):
        raise ConfigError(f"sub size must be in [1, {len(clean)}], got {n}")
    idx = torch.randperm(len(clean), generator=generator)[:n].to(clean.values.device)
    return fit_dbn(structure, clean.values[idx], ridge=ridge)


def full_clean(structure: DBNStructure, clean: Source, ridge: float = 1e-6) -> LinearGaussianDBN:
    """Fit on every clean training sequence."""
    return fit_dbn(structure, clean.values, ridge=ridge)


def impute(structure: DBNStructure, sources: Sources, ridge: float = 1e-6) -> LinearGaussianDBN:
    """Pool the sources, fill each missing entry with its variable's observed mean, fit."""
    vals = torch.cat([s.values for s in sources])
    mask = torch.cat([s.mask for s in sources])
    cnt = mask.sum((0, 1))
    if (cnt == 0).any():
        raise DataError(f"variables {[v for v, c in zip(sources.variables, cnt.tolist()) if c == 0]} are never observed")
    mean = (vals * mask).sum((0, 1)) / cnt
    return fit_dbn(structure, torch.where(mask, vals, mean), ridge=ridge)


def _pack(model: LinearGaussianDBN) -> list[torch.Tensor]:
    p, s = model.parameters_dict(), model.structure
    return [p["B0"][s.intra_mask], p["b0"], p["s0"].log(), p["B"][s.intra_mask], p["A"][s.inter_mask],
            p["b"], p["s"].log()]


def _unpack(structure: DBNStructure, theta: list[torch.Tensor]) -> LinearGaussianDBN:
    B0w, b0, ls0, Bw, Aw, b, ls = theta
    z = torch.zeros(structure.d, structure.d, dtype=b0.dtype, device=b0.device)
    B0 = z.masked_scatter(structure.intra_mask.to(b0.device), B0w)
    B = z.masked_scatter(structure.intra_mask.to(b0.device), Bw)
    A = z.masked_scatter(structure.inter_mask.to(b0.device), Aw)
    return LinearGaussianDBN(structure, B0=B0, b0=b0, s0=ls0.exp(), B=B, A=A, b=b, s=ls.exp())


def direct_fit(structure: DBNStructure, sources: Sources, *, obs_noise: float | None = None,
               init: LinearGaussianDBN | None = None, max_iter: int = 300, tol: float = 1e-10) -> LinearGaussianDBN:
    """Maximum marginal likelihood of all sources over the DBN parameters (L-BFGS, float64).

    obs_noise: every source's observation-noise std (None = each ``Source.noise``). init: the
    starting DBN (default: the complete-case fit of the pooled sources with their masks).
    Returns the DBN in the sources' dtype.
    """
    dtype = sources.dtype
    src = [s.to(dtype=torch.float64) for s in sources]
    noise = []
    for s in src:
        nz = obs_noise if obs_noise is not None else s.noise
        if nz is None:
            raise ConfigError(f"source {s.name!r} has no known noise level; give obs_noise")
        noise.append(float(nz))
    n_total = sum(len(s) for s in src)
    if init is None:
        init = impute(structure, Sources(src))
    theta = [t.detach().to(torch.float64).clone().requires_grad_(True) for t in _pack(init.to(dtype=torch.float64))]
    opt = torch.optim.LBFGS(theta, lr=1, max_iter=max_iter, tolerance_grad=tol, tolerance_change=tol,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        m = _unpack(structure, theta)
        nll = -sum(m.log_likelihood(s.values, s.mask, obs_noise=nz).sum() for s, nz in zip(src, noise)) / n_total
        nll.backward()
        return nll

    final = opt.step(closure)
    log.info("direct_fit: mean negative log-likelihood per sequence %.6f", float(final.detach()))
    with torch.no_grad():
        return _unpack(structure, [t.detach() for t in theta]).to(dtype=dtype)
