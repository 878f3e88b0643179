"""Baselines for the DBN likelihood task, all returning a fitted :class:`LinearGaussianDBN`.

- ``sub``: a random clean, fully observed real subset of the same size as the distilled set
  (the paper's D^sub);
- ``full_clean``: all clean training sequences (what the sources were made from);
- ``direct_fit``: maximise the marginal likelihood of all partial, noisy sources directly over
  the DBN parameters — the information ceiling of any distilled set, since it distils nothing;
- ``impute``: pool the sources, fill hidden entries with per-variable means, fit.

``estimate_noise`` gives each source's observation-noise level when it is not known.
"""

from __future__ import annotations

import logging

import torch

from taskdd.data import Source, Sources
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn import DBNStructure, LinearGaussianDBN, fit_dbn

__all__ = ["sub", "full_clean", "direct_fit", "impute", "estimate_noise"]

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


def _marginal_fit(structure: DBNStructure, sources: Sources, noise: list[float] | None,
                  init: LinearGaussianDBN | None, max_iter: int, tol: float) -> tuple[LinearGaussianDBN, list[float]]:
    """L-BFGS (float64) on the mean marginal log-likelihood of all sources; with ``noise`` None
    each source's observation-noise std is learned too (log-parametrised)."""
    src = [s.to(dtype=torch.float64) for s in sources]
    n_total = sum(len(s) for s in src)
    if init is None:
        init = impute(structure, Sources(src))
    theta = [t.detach().to(torch.float64).clone().requires_grad_(True) for t in _pack(init.to(dtype=torch.float64))]
    log_noise = None
    if noise is None:
        log_noise = torch.full((len(src),), -1.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(theta + ([log_noise] if log_noise is not None else []), lr=1, max_iter=max_iter,
                            tolerance_grad=tol, tolerance_change=tol, history_size=50, line_search_fn="strong_wolfe")

    def noises():
        return list(log_noise.exp()) if log_noise is not None else noise

    def closure():
        opt.zero_grad()
        m = _unpack(structure, theta)
        nll = -sum(m.log_likelihood(s.values, s.mask, obs_noise=nz).sum() for s, nz in zip(src, noises())) / n_total
        nll.backward()
        return nll

    final = opt.step(closure)
    log.info("marginal fit: mean negative log-likelihood per sequence %.6f", float(final.detach()))
    with torch.no_grad():
        return (_unpack(structure, [t.detach() for t in theta]).to(dtype=sources.dtype),
                [float(n) for n in noises()])


def direct_fit(structure: DBNStructure, sources: Sources, *, obs_noise: float | None = None,
               init: LinearGaussianDBN | None = None, max_iter: int = 300, tol: float = 1e-10) -> LinearGaussianDBN:
    """Maximum marginal likelihood of all sources over the DBN parameters (L-BFGS, float64).

    obs_noise: every source's observation-noise std (None = each ``Source.noise``). init: the
    starting DBN (default: :func:`impute`; a complete-case fit fails when a node and its parents
    are never observed together, which is the normal case here). Returns the DBN in the
    sources' dtype.
    """
    noise = []
    for s in sources:
        nz = obs_noise if obs_noise is not None else s.noise
        if nz is None:
            raise ConfigError(f"source {s.name!r} has no known noise level; give obs_noise (or estimate_noise)")
        noise.append(float(nz))
    return _marginal_fit(structure, sources, noise, init, max_iter, tol)[0]


def estimate_noise(structure: DBNStructure, sources: Sources, *, max_iter: int = 300,
                   tol: float = 1e-10) -> dict[str, float]:
    """Each source's observation-noise std, by maximum marginal likelihood jointly with the DBN
    (observation noise is white, the DBN's state is autocorrelated: identifiable for T >= 3)."""
    if min(s.shape[1] for s in sources) < 3:
        raise ConfigError("estimating observation noise needs sequences of T >= 3; give the noise level instead")
    _, noise = _marginal_fit(structure, sources, None, None, max_iter, tol)
    return dict(zip(sources.names, noise))
