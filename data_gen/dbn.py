"""Random linear-Gaussian DBNs and heterogeneous partial, noisy sources drawn from them (DESIGN §4).

``random_dbn`` draws the ground truth; ``make_sources`` samples sequences, splits them into
``K`` sources that each hide their own variables and add observation noise, and keeps the clean
data and a clean test set beside them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from taskdd.data import Source, Sources
from taskdd.device import make_generator
from taskdd.errors import ConfigError
from taskdd.tasks.dbn import DBNStructure, LinearGaussianDBN, state_space

__all__ = ["random_dbn", "make_sources", "DBNProblem", "WEIGHT_RANGE", "NOISE_STD_RANGE",
           "INTERCEPT_RANGE", "MAX_SPECTRAL_RADIUS"]

#: edge weights: magnitude uniform in this range, random sign
WEIGHT_RANGE = (0.3, 0.8)
#: noise std devs ``s0`` and ``s``: uniform in this range
NOISE_STD_RANGE = (0.5, 1.0)
#: intercepts ``b0`` and ``b``: uniform in this range
INTERCEPT_RANGE = (-1.0, 1.0)
#: ``A`` is scaled down so that the transition ``F = (I - B)^{-1} A`` has at most this spectral radius
MAX_SPECTRAL_RADIUS = 0.9


def random_dbn(d: int = 8, *, n_intra_edges: int | None = None, n_inter_edges: int | None = None,
               seed: int = 0, max_intra_parents: int = 2, dtype: torch.dtype = torch.float32) -> LinearGaussianDBN:
    """A random stable linear-Gaussian DBN over variables ``x0 .. x{d-1}``.

    Intra slice: a random DAG (random topological order) with ``n_intra_edges`` edges (default
    ``d``), at most ``max_intra_parents`` parents per node. Inter slice: ``n_inter_edges``
    edges (default ``2 * d``); the first ``min(n_inter_edges, d)`` are self-edges ``x_{t-1} ->
    x_t`` (on random nodes when fewer than ``d``), the rest go from random other variables,
    spread evenly over the children (default: self + one other parent per node).
    Parameters: weights ``±U(WEIGHT_RANGE)``, intercepts ``U(INTERCEPT_RANGE)``, noise std devs
    ``U(NOISE_STD_RANGE)``; ``B0`` and ``B`` share the graph but not the weights. ``A`` is
    rescaled so that the spectral radius of ``F`` is at most ``MAX_SPECTRAL_RADIUS``.
    Drawn in float64 with ``seed``, returned in ``dtype`` on CPU.
    """
    _check_int("d", d, 1)
    _check_int("max_intra_parents", max_intra_parents, 0)
    n_intra_edges = d if n_intra_edges is None else n_intra_edges
    n_inter_edges = min(2 * d, d * d) if n_inter_edges is None else n_inter_edges
    cap = sum(min(k, max_intra_parents) for k in range(d))
    if not isinstance(n_intra_edges, int) or not 0 <= n_intra_edges <= cap:
        raise ConfigError(f"n_intra_edges must be an int in [0, {cap}] for d={d} and "
                          f"max_intra_parents={max_intra_parents}, got {n_intra_edges!r}")
    if not isinstance(n_inter_edges, int) or not 0 <= n_inter_edges <= d * d:
        raise ConfigError(f"n_inter_edges must be an int in [0, {d * d}] for d={d}, got {n_inter_edges!r}")
    g = make_generator(seed)
    f64 = torch.float64
    order = torch.randperm(d, generator=g)
    intra = torch.zeros(d, d, dtype=torch.bool)
    pos_pairs = [(i, j) for i in range(d) for j in range(i)]  # (child position, parent position)
    for k in torch.randperm(len(pos_pairs), generator=g).tolist():
        if int(intra.sum()) == n_intra_edges:
            break
        ci, pj = pos_pairs[k]
        c, p = int(order[ci]), int(order[pj])
        if int(intra[c].sum()) < max_intra_parents:
            intra[c, p] = True
    inter = torch.zeros(d, d, dtype=torch.bool)
    self_nodes = torch.randperm(d, generator=g)[:min(n_inter_edges, d)]
    inter[self_nodes, self_nodes] = True
    for k in range(n_inter_edges - int(self_nodes.numel())):
        child = int(order[k % d])
        free = (~inter[child]).nonzero().flatten()
        inter[child, free[torch.randint(len(free), (1,), generator=g)]] = True

    def weights(mask: torch.Tensor) -> torch.Tensor:
        mag = torch.empty(d, d, dtype=f64).uniform_(*WEIGHT_RANGE, generator=g)
        sign = torch.randint(0, 2, (d, d), generator=g).to(f64) * 2 - 1
        return mag * sign * mask

    def uniform(lo_hi: tuple[float, float]) -> torch.Tensor:
        return torch.empty(d, dtype=f64).uniform_(*lo_hi, generator=g)

    B0, B, A = weights(intra), weights(intra), weights(inter)
    p = dict(B0=B0, b0=uniform(INTERCEPT_RANGE), s0=uniform(NOISE_STD_RANGE), B=B, A=A,
             b=uniform(INTERCEPT_RANGE), s=uniform(NOISE_STD_RANGE))
    rho = float(torch.linalg.eigvals(state_space(p).F).abs().max())
    if rho > MAX_SPECTRAL_RADIUS:
        p["A"] = A * (MAX_SPECTRAL_RADIUS / rho)
    structure = DBNStructure.from_masks([f"x{i}" for i in range(d)], intra, inter)
    return LinearGaussianDBN(structure, **{k: v.to(dtype) for k, v in p.items()})


@dataclass(frozen=True)
class DBNProblem:
    """Sources and references drawn from one DBN.

    sources: ``K`` partial, noisy sources ``"source0" ..``; full_clean: the clean, fully observed
    sequences they were made from (source ``j`` is rows ``j * n_per_source ..``); test: clean
    held-out sequences; truth: the generating DBN; hidden: the variables each source hides.
    """

    sources: Sources
    full_clean: Source
    test: Source
    truth: LinearGaussianDBN
    hidden: list[list[str]]


def make_sources(dbn: LinearGaussianDBN, *, n_per_source: int, T: int, K: int, hidden_per_source: int,
                 noise: float, extra_missing: float = 0.0, n_test: int, seed: int) -> DBNProblem:
    """Sample ``K * n_per_source`` training and ``n_test`` test sequences of length ``T``.

    Source ``j`` hides ``hidden_per_source`` variables entirely: consecutive blocks of a seeded
    random permutation of the variables, taken in rotation, so the hidden sets are as disjoint as
    possible and every variable is visible in some source (possible iff ``K >= 2`` and
    ``K * hidden_per_source <= d * (K - 1)``; otherwise a ConfigError). It adds
    ``N(0, noise^2)`` to what it shows and drops each shown entry with probability
    ``extra_missing``. Same seed, same data. Data in the DBN's dtype and device.
    """
    if not isinstance(dbn, LinearGaussianDBN):
        raise ConfigError(f"dbn must be a LinearGaussianDBN, got {type(dbn).__name__}")
    d = dbn.d
    for name, v, low in (("n_per_source", n_per_source, 1), ("T", T, 1), ("K", K, 1), ("n_test", n_test, 1),
                         ("hidden_per_source", hidden_per_source, 1)):
        _check_int(name, v, low)
    if hidden_per_source >= d:
        raise ConfigError(f"hidden_per_source must be < d={d} (a source must show something), got {hidden_per_source}")
    if K * hidden_per_source > d * (K - 1):
        raise ConfigError(f"K={K} sources hiding hidden_per_source={hidden_per_source} of d={d} variables each cannot "
                          f"leave every variable visible somewhere: need K >= 2 and K * hidden_per_source <= "
                          f"d * (K - 1) = {d * (K - 1)}")
    if not (isinstance(noise, (int, float)) and math.isfinite(noise) and noise >= 0):
        raise ConfigError(f"noise must be a finite number >= 0, got {noise!r}")
    if not (isinstance(extra_missing, (int, float)) and 0 <= extra_missing < 1):
        raise ConfigError(f"extra_missing must be in [0, 1), got {extra_missing!r}")
    g = make_generator(seed)
    names = dbn.structure.variables
    x = dbn.sample(K * n_per_source + n_test, T, generator=g).cpu()
    perm = torch.randperm(d, generator=g).tolist()
    sources, hidden = [], []
    for j in range(K):
        hid = sorted(perm[(j * hidden_per_source + k) % d] for k in range(hidden_per_source))
        clean = x[j * n_per_source:(j + 1) * n_per_source]
        noisy = clean + noise * torch.randn(clean.shape, generator=g, dtype=clean.dtype)
        mask = torch.rand(clean.shape, generator=g, dtype=torch.float64) >= extra_missing
        mask[..., hid] = False
        sources.append(Source(noisy.to(dbn.device), mask.to(dbn.device), names, f"source{j}", float(noise)))
        hidden.append([names[i] for i in hid])
    n = K * n_per_source
    return DBNProblem(Sources(sources), Source(x[:n].to(dbn.device), None, names, "full_clean"),
                      Source(x[n:].to(dbn.device), None, names, "test"), dbn, hidden)


def _check_int(name: str, value, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name} must be an int >= {low}, got {value!r}")
