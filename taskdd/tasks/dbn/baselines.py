"""Baselines for the DBN likelihood task, all returning a fitted :class:`LinearGaussianDBN`.

- ``sub``: a random clean, fully observed real subset of the same size as the distilled set
  (the paper's D^sub);
- ``full_clean``: all clean training sequences (what the sources were made from);
- ``direct_fit``: maximise the marginal likelihood of all partial, noisy sources directly over
  the DBN parameters — the information ceiling of any distilled set, since it distils nothing;
- ``impute``: pool the sources, fill hidden entries with per-variable means, fit.

``estimate_noise`` gives each source's observation-noise level(s) when not known (one per
source, per variable, or per source and variable); ``fit_with_noise`` also returns the direct
fit under them.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import Tensor

from taskdd.data import Source, Sources
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn import DBNStructure, LinearGaussianDBN, fit_dbn
from taskdd.tasks.dbn.likelihood import state_space
from taskdd.tasks.dbn.noise import NoiseSpec, noise_per_source
from taskdd.tasks.dbn.site import SiteSummary, observed_moments, sample_summary
from taskdd.tasks.dbn.summary_likelihood import split_log_likelihood, split_source

__all__ = ["sub", "full_clean", "direct_fit", "impute", "estimate_noise", "fit_with_noise"]

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


def _marginal_fit(structure: DBNStructure, sources: Sources, noise: list | None, init: LinearGaussianDBN | None,
                  max_iter: int, tol: float, *, per: str = "source", tol_grad: float | None = None,
                  noise_init: float | None = None) -> tuple[LinearGaussianDBN, Tensor | None]:
    """L-BFGS (strong Wolfe, float64) on the mean marginal log-likelihood per sequence of all
    sources. ``noise``: one level per source (float or [d]); None = learn log-noise of shape
    ``[K, 1]`` (per="source"), ``[1, d]`` ("variable") or ``[K, d]`` ("source_variable").
    ``tol``: stop when the mean log-likelihood per sequence (or the step) changes by less;
    ``tol_grad`` (default ``tol``): stop when every gradient entry is below it.
    Returns the DBN in the sources' dtype and the learned noise std devs ``[K, d]`` (or None)."""
    src = [s.to(dtype=torch.float64) for s in sources]
    n_total = sum(len(s) for s in src)
    if init is None:
        init = impute(structure, Sources([_rows_for_start(s) for s in src]))
    theta = [t.detach().to(torch.float64).clone().requires_grad_(True) for t in _pack(init.to(dtype=torch.float64))]
    log_noise = None
    if noise is None:
        log_noise = _initial_log_noise(src, per, noise_init).requires_grad_(True)
    opt = torch.optim.LBFGS(theta + ([log_noise] if log_noise is not None else []), lr=1, max_iter=max_iter,
                            tolerance_grad=tol if tol_grad is None else tol_grad, tolerance_change=tol,
                            history_size=50, line_search_fn="strong_wolfe")

    # each source split once by observation pattern: frequent patterns scored from their summaries,
    # rare ones row by row (:mod:`taskdd.tasks.dbn.summary_likelihood`)
    splits = [split_source(s) for s in src]

    def closure():
        opt.zero_grad()
        ss = state_space(_unpack(structure, theta).parameters_dict())
        nz = noise if log_noise is None else log_noise.exp().expand(len(src), structure.d).unbind(0)
        nll = -sum(split_log_likelihood(ss, sp, torch.as_tensor(z, dtype=torch.float64, device=sp.summary.masks.device)
                                        .square().expand(structure.d)) for sp, z in zip(splits, nz)) / n_total
        nll.backward()
        return nll

    final = opt.step(closure)
    log.info("marginal fit: mean negative log-likelihood per sequence %.6f", float(final.detach()))
    with torch.no_grad():
        fitted = _unpack(structure, [t.detach() for t in theta]).to(dtype=sources.dtype)
        return fitted, None if log_noise is None else log_noise.detach().exp().expand(len(src), structure.d).clone()


def _rows_for_start(s: Source | SiteSummary) -> Source:
    """The rows of ``s``, or (site summaries) 500 seeded draws from its patterns' Gaussians: the
    :func:`impute` warm start of a marginal fit only."""
    if not isinstance(s, SiteSummary):
        return s
    values, mask = sample_summary(s.summary, 500, torch.Generator().manual_seed(0))
    return Source(values, mask, s.variables, s.name)


def _observed_var(s: Source | SiteSummary) -> tuple[Tensor, Tensor]:
    """Per variable: observed cells and their (n-1) variance in one source, ``[d]`` each (CPU)."""
    if isinstance(s, SiteSummary):
        cnt, _, m2 = observed_moments([s.summary])
        return cnt.cpu(), m2.cpu() / (cnt.cpu() - 1).clamp(min=1)
    cnt = s.mask.sum((0, 1)).cpu()
    mean = (s.values * s.mask).sum((0, 1)).cpu() / cnt.clamp(min=1)
    return cnt, (((s.values.cpu() - mean) ** 2) * s.mask.cpu()).sum((0, 1)) / (cnt - 1).clamp(min=1)


def _initial_log_noise(src: list[Source], per: str, noise_init: float | None) -> Tensor:
    """Starting log std devs: ``log(noise_init)``, or (None) 0.3 x each variable's observed std
    in each source (averaged over what the shape pools)."""
    K, d = len(src), src[0].shape[2]
    shape = {"source": (K, 1), "variable": (1, d), "source_variable": (K, d)}[per]
    if noise_init is not None:
        return torch.full(shape, math.log(noise_init), dtype=torch.float64)
    sd = torch.ones(K, d, dtype=torch.float64)
    seen = torch.zeros(K, d, dtype=torch.bool)
    for k, s in enumerate(src):
        cnt, var = _observed_var(s)
        seen[k] = cnt > 1
        sd[k] = torch.where(seen[k] & (var > 0), var.sqrt(), sd[k])
    pooled = {"source": lambda: ((sd * seen).sum(1) / seen.sum(1).clamp(min=1))[:, None],
              "variable": lambda: ((sd * seen).sum(0) / seen.sum(0).clamp(min=1))[None],
              "source_variable": lambda: sd}[per]()
    return (0.3 * pooled).log()


def direct_fit(structure: DBNStructure, sources: Sources, *, obs_noise: NoiseSpec | None = None,
               init: LinearGaussianDBN | None = None, max_iter: int = 300, tol: float = 1e-10) -> LinearGaussianDBN:
    """Maximum marginal likelihood of all sources over the DBN parameters (L-BFGS, float64).

    obs_noise: the sources' observation-noise std devs in any form of
    :mod:`taskdd.tasks.dbn.noise` (a number, ``[d]`` per variable, ``[K, d]`` or a mapping by
    source name); None = each ``Source.noise``. init: the starting DBN (default: :func:`impute`;
    a complete-case fit fails when a node and its parents are never observed together, which
    is the normal case here). Returns the DBN in the sources' dtype.
    """
    noise = noise_per_source(obs_noise, sources, structure.d)
    return _marginal_fit(structure, sources, noise, init, max_iter, tol)[0]


_PER = ("source", "variable", "source_variable")


def fit_with_noise(structure: DBNStructure, sources: Sources, *, per: str = "source",
                   init: LinearGaussianDBN | None = None, noise_init: float | None = None, max_iter: int = 200,
                   tol: float = 1e-7, tol_grad: float = 1e-5) -> tuple[LinearGaussianDBN, dict[str, float | Tensor]]:
    """The direct fit with unknown observation noise: DBN parameters and log-noise together by
    maximum marginal likelihood (L-BFGS with a strong Wolfe line search, float64, warm start
    from :func:`impute`).

    per: "source" — one std dev per source (a float each); "variable" — one per variable,
    pooled across sources (the same ``[d]`` tensor for every source); "source_variable" — a
    ``[d]`` tensor per source (a variable a source never shows gets the mean of the sources
    that show it: it does not enter that source's likelihood). Vectors follow
    ``structure.variables``, as float64 CPU tensors. noise_init: starting std dev of every
    level (None = 0.3 x the variable's observed std in the source, pooled like ``per``). tol:
    stop when the mean log-likelihood per sequence changes by less; tol_grad: or when every
    gradient entry is below it. Observation noise is white and the DBN's state autocorrelated,
    so it is identifiable for T >= 3. Returns ``(dbn in the sources' dtype, {source name: noise})``.
    """
    if per not in _PER:
        raise ConfigError(f"per must be one of {list(_PER)}, got {per!r}")
    if min(s.shape[1] for s in sources) < 3:
        raise ConfigError("estimating observation noise needs sequences of T >= 3; give the noise level instead")
    if noise_init is not None and not (math.isfinite(noise_init) and noise_init > 0):
        raise ConfigError(f"noise_init must be a finite number > 0 or None, got {noise_init!r}")
    model, noise = _marginal_fit(structure, sources, None, init, max_iter, tol, per=per, tol_grad=tol_grad,
                                 noise_init=noise_init)
    if per == "source":
        return model, {n: float(z[0]) for n, z in zip(sources.names, noise)}
    if per == "source_variable":
        seen = torch.stack([(s.mask_any if isinstance(s, SiteSummary) else s.mask.any(0).any(0)).cpu()
                            for s in sources])
        fill = (noise * seen).sum(0) / seen.sum(0).clamp(min=1)
        noise = torch.where(seen, noise, fill)
    return model, {n: z.clone() for n, z in zip(sources.names, noise)}


def estimate_noise(structure: DBNStructure, sources: Sources, *, per: str = "source", max_iter: int = 200,
                   tol: float = 1e-7, tol_grad: float = 1e-5) -> dict[str, float | Tensor]:
    """Each source's observation-noise std dev(s) by maximum marginal likelihood jointly with
    the DBN: ``{source name: float}`` (per="source", the default) or ``{source name: [d]
    tensor}`` (per="variable" or "source_variable"); see :func:`fit_with_noise`, which also
    returns the fitted DBN (the direct fit under the estimated noise) so it need not be fitted twice."""
    return fit_with_noise(structure, sources, per=per, max_iter=max_iter, tol=tol, tol_grad=tol_grad)[1]
