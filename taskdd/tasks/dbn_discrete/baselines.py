"""Baselines for the discrete DBN task, all returning a fitted :class:`DiscreteDBN`.

- ``sub``: a random clean, fully observed real subset of the same size as the distilled set;
- ``full_clean``: all clean training records;
- ``impute``: pool the sources, fill each missing cell with its variable's most frequent
  observed state (mode imputation), count;
- ``direct_fit``: maximum marginal likelihood of all partial sources over the CPTs (EM with the
  same Dirichlet pseudo-counts: the E-step's expected counts are ``p * dLL/dp`` of the exact
  likelihood, since the likelihood is a polynomial in the CPT entries) — the information ceiling;
- ``free_counts``: free count tables of a given total mass (per CPT), learned by gradient ascent
  on the sources' likelihood — what any set of that mass could reach: the learner's own bound.
"""

from __future__ import annotations

import logging
from typing import Sequence

import torch
from torch import Tensor

from taskdd.data import Source, Sources
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn_discrete.learner import cpts_from_counts, fit_cpts, one_hot
from taskdd.tasks.dbn_discrete.likelihood import Evidence
from taskdd.tasks.dbn_discrete.model import DiscreteDBN
from taskdd.tasks.dbn_discrete.task import codes

__all__ = ["counts_fit", "sub", "full_clean", "mode_filled", "impute", "direct_fit", "free_counts"]

log = logging.getLogger(__name__)


def counts_fit(structure: DBNStructure, cards: Sequence[int], x: Tensor, alpha: float = 1.0,
               weights: Tensor | None = None) -> DiscreteDBN:
    """Dirichlet-smoothed ML from fully observed codes ``x [n, T, d]`` (optional weights ``[n]``)."""
    dtype = weights.dtype if weights is not None else torch.float64
    cpt0, cpt = fit_cpts(structure, cards, one_hot(x, cards, dtype), weights, alpha)
    return DiscreteDBN(structure, cards, cpt0, cpt)


def sub(structure: DBNStructure, cards: Sequence[int], clean: Source, n: int, generator: torch.Generator,
        alpha: float = 1.0) -> DiscreteDBN:
    """Fit on ``n`` random records of the clean, fully observed ``clean``."""
    if not 1 <= n <= len(clean):
        raise ConfigError(f"sub size must be in [1, {len(clean)}], got {n}")
    idx = torch.randperm(len(clean), generator=generator)[:n].to(clean.values.device)
    return counts_fit(structure, cards, codes(clean)[idx], alpha)


def full_clean(structure: DBNStructure, cards: Sequence[int], clean: Source, alpha: float = 1.0) -> DiscreteDBN:
    """Fit on every clean training record."""
    return counts_fit(structure, cards, codes(clean), alpha)


def mode_filled(sources: Sources) -> Tensor:
    """The sources' codes pooled, ``[N, T, d]``, each missing cell set to its variable's most
    frequent observed state (DataError naming a variable that is never observed)."""
    x = torch.cat([codes(s) for s in sources])
    flat = x.flatten(0, 1)
    modes = []
    for j, v in enumerate(sources.variables):
        seen = flat[:, j][flat[:, j] >= 0]
        if seen.numel() == 0:
            raise DataError(f"variable {v!r} is never observed; it cannot be imputed")
        modes.append(int(torch.bincount(seen).argmax()))
    return torch.where(x >= 0, x, torch.as_tensor(modes, device=x.device))


def impute(structure: DBNStructure, cards: Sequence[int], sources: Sources, alpha: float = 1.0) -> DiscreteDBN:
    """Pool the sources, fill each missing cell with its variable's most frequent observed state, fit."""
    if sources.variables != structure.variables:
        sources = Sources([s.reorder(structure.variables) for s in sources])
    return counts_fit(structure, cards, mode_filled(sources), alpha)


def _evidences(structure: DBNStructure, cards: Sequence[int], sources: Sources) -> list[Evidence]:
    return [Evidence(structure, cards, codes(s)) for s in sources]


def direct_fit(structure: DBNStructure, cards: Sequence[int], sources: Sources, alpha: float = 1.0, *,
               init: DiscreteDBN | None = None, max_iter: int = 200, tol: float = 1e-6) -> DiscreteDBN:
    """EM for the CPTs on all partial sources (pseudo-count ``alpha`` per cell, as the learner's).

    init: the starting model (default :func:`impute`). Stops after ``max_iter`` iterations or
    when the mean log-likelihood per record gains less than ``tol``. Returns float64 CPTs.
    """
    evs = _evidences(structure, cards, sources)
    n = sum(len(s) for s in sources)
    model = (init or impute(structure, cards, sources, alpha)).to(dtype=torch.float64)
    cpt0, cpt = list(model.cpt0), None if model.cpt is None else list(model.cpt)
    last = -float("inf")
    for it in range(max_iter):
        leaves = [c.detach().clone().requires_grad_(True) for c in cpt0 + (cpt or [])]
        m = DiscreteDBN(structure, cards, leaves[:len(cpt0)], leaves[len(cpt0):] if cpt is not None else None)
        with torch.enable_grad():  # the E-step is a gradient, also when called under no_grad
            ll = sum(e.log_likelihood(m) for e in evs)
            grads = torch.autograd.grad(ll, leaves)
        counts = [(p * g).detach() for p, g in zip(leaves, grads)]
        new = cpts_from_counts(counts, alpha)
        cpt0, cpt = new[:len(cpt0)], new[len(cpt0):] if cpt is not None else None
        now = float(ll.detach()) / n
        log.info("direct_fit EM iteration %d: mean log-likelihood per record %.6f", it, now)
        if now - last < tol:
            break
        last = now
    return DiscreteDBN(structure, cards, cpt0, cpt)


def free_counts(structure: DBNStructure, cards: Sequence[int], sources: Sources, mass: float, alpha: float = 1.0,
                *, steps: int = 200, lr: float = 0.1, init: DiscreteDBN | None = None) -> DiscreteDBN:
    """Count tables of total mass ``mass`` per first-slice CPT (``mass * (T - 1)`` per transition
    CPT), free otherwise, maximising the sources' mean log-likelihood (Adam on the log counts,
    ``steps`` steps of size ``lr``), CPTs smoothed with ``alpha`` as the learner's.
    init: where the tables start (default: the :func:`impute` model's CPTs at that mass)."""
    if not mass > 0:
        raise ConfigError(f"mass must be > 0, got {mass!r}")
    evs = _evidences(structure, cards, sources)
    n = sum(len(s) for s in sources)
    start = (init or impute(structure, cards, sources, alpha)).to(dtype=torch.float64)
    static = start.cpt is None
    T = sources[0].shape[1]
    tables = list(start.cpt0) + ([] if static else list(start.cpt))
    masses = [mass] * len(start.cpt0) + [mass * max(T - 1, 1)] * (0 if static else len(start.cpt))
    # start: the model's own joint family tables of that mass (parent rows weighted uniformly)
    theta = [t.detach().clamp(min=1e-12).log().flatten().clone().requires_grad_(True) for t in tables]
    opt = torch.optim.Adam(theta, lr=lr)

    def model() -> DiscreteDBN:
        counts = [m * torch.softmax(th, 0).view(t.shape) for th, t, m in zip(theta, tables, masses)]
        cpts = cpts_from_counts(counts, alpha)
        d = len(start.cpt0)
        return DiscreteDBN(structure, cards, cpts[:d], None if static else cpts[d:])

    for _ in range(steps):
        opt.zero_grad()
        loss = -sum(e.log_likelihood(model()) for e in evs) / n
        loss.backward()
        opt.step()
    with torch.no_grad():
        return model()
