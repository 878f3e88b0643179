"""Data for the PINN task: a PDE family with boundary parameter ``alpha``, its reference solution,
noisy measurements with ``alpha`` from one tail of N(0, 1) and clean test curves from the other.

Reference solutions: the family's ``reference(x, alpha)`` when it has one (the closed form
``sin(pi x) + alpha (1 - x)`` for Poisson); for the built-in nonlinear family (a
:class:`~taskdd.tasks.pinn.families.CubicFamily` without one) a second-order finite-difference
Newton solve on ``n`` and ``2n`` intervals, combined by Richardson extrapolation (fourth order)
and interpolated with a cubic spline; any other family without a reference is a ConfigError.
Every function takes a family or a registered family's name. For a family on a geometry
(:class:`~taskdd.tasks.pinn.geometry.GeometryFamily`: ``poisson2d``, ``heat``) the points ``x``
are ``[N, dim]``: measurements uniform over the geometry, test curves on a grid of
``n_test_x`` values per input (``n_test_x ** dim`` points per alpha on a box; those inside otherwise).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from scipy.interpolate import CubicSpline
from scipy.sparse.linalg import spsolve

from taskdd.data import Samples
from taskdd.device import make_generator
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.pinn.families import CubicFamily, Family, as_family
from taskdd.tasks.pinn.problems import check_alpha_range

__all__ = ["PINNProblem", "solve_fd", "reference_solution", "make_pinn_problem", "tail_ranges", "curves",
           "line_curve"]


def solve_fd(problem: CubicFamily, alpha: np.ndarray, n: int, *, tol: float = 1e-12,
             max_iter: int = 50) -> np.ndarray:
    """Newton solve of the second-order finite-difference scheme on ``n`` intervals.

    alpha: ``[B]``. Returns ``[B, n + 1]``: the solution at ``x = linspace(0, 1, n + 1)`` for each
    alpha. All B systems are solved together (one block-tridiagonal sparse system per iteration).
    Raises DataError if the Newton step has not fallen below ``tol`` after ``max_iter`` iterations.
    """
    alpha = np.asarray(alpha, dtype=np.float64).reshape(-1)
    if not isinstance(problem, CubicFamily):
        raise ConfigError(f"solve_fd solves the built-in -u'' + cubic u^3 = f families only, got {problem!r}")
    if n < 2:
        raise ConfigError(f"n must be >= 2 intervals, got {n!r}")
    x = np.linspace(0.0, 1.0, n + 1)
    h2 = (1.0 / n) ** 2
    f = math.pi**2 * np.sin(math.pi * x[1:-1])
    u = np.sin(math.pi * x)[None, :] + alpha[:, None] * (1 - x)[None, :]  # the Poisson solution
    B, m = alpha.size, n - 1
    off = np.full((B, m), -1.0 / h2)
    off[:, -1] = 0.0                                  # no coupling across alphas
    upper, lower = off.reshape(-1)[:-1], off.reshape(-1)[:-1]
    for _ in range(max_iter):
        ui = u[:, 1:-1]
        lap = (2 * ui - u[:, :-2] - u[:, 2:]) / h2
        res = lap + problem.cubic * ui**3 - f
        main = 2.0 / h2 + 3 * problem.cubic * ui**2
        jac = sp.diags([lower, main.reshape(-1), upper], [-1, 0, 1], format="csc")
        step = spsolve(jac, res.reshape(-1)).reshape(B, m)
        u[:, 1:-1] = ui - step
        if np.abs(step).max() < tol * max(1.0, np.abs(u).max()):
            return u
    raise DataError(f"finite-difference Newton solve of {problem.name!r} did not converge in {max_iter} "
                    f"iterations (last step {np.abs(step).max():.3g}) for alpha in "
                    f"[{alpha.min():.3g}, {alpha.max():.3g}]")


def reference_solution(problem: str | Family, x: torch.Tensor, alpha: torch.Tensor, *,
                       n: int = 256) -> torch.Tensor:
    """``u(x, alpha)`` for ``x, alpha [N]`` (``x [N, dim]`` for a family on a geometry; float64
    computation, result ``[N]`` in x's dtype and device).

    The family's ``reference`` (float64 numpy arrays in and out) when it has one; for a
    :class:`CubicFamily` without one, Richardson-extrapolated finite differences on ``n`` / ``2n``
    intervals for each distinct alpha, cubic-spline interpolated in x; ConfigError otherwise.
    """
    problem = as_family(problem)
    want = tuple(alpha.shape) + (() if problem.dim == 1 else (problem.dim,))
    if tuple(x.shape) != want or alpha.ndim != 1:
        dims = "both have shape [N]" if problem.dim == 1 else f"have shapes [N, {problem.dim}] and [N]"
        raise DataError(f"x and alpha must {dims}, got {tuple(x.shape)} and {tuple(alpha.shape)}")
    xd, ad = x.detach().cpu().double().numpy(), alpha.detach().cpu().double().numpy()
    if problem.reference is not None:
        u = np.asarray(problem.reference(xd, ad), dtype=np.float64)
        if u.shape != ad.shape:
            raise DataError(f"PDE family {problem.name!r}: reference(x, alpha) returned shape {u.shape}, "
                            f"expected {ad.shape}")
    elif not isinstance(problem, CubicFamily):
        raise ConfigError(f"PDE family {problem.name!r} has no reference solution; give it "
                          "reference=callable(x, alpha) (float64 numpy arrays [N] -> [N]) to generate data from it")
    else:
        uniq, inv = np.unique(ad, return_inverse=True)
        coarse, fine = solve_fd(problem, uniq, n), solve_fd(problem, uniq, 2 * n)
        grid = (4 * fine[:, ::2] - coarse) / 3
        spline = CubicSpline(np.linspace(0.0, 1.0, n + 1), grid.T)
        u = np.empty_like(xd)
        for k in range(uniq.size):
            rows = np.flatnonzero(inv == k)
            u[rows] = spline(xd[rows])[:, k]
    return torch.as_tensor(u).to(device=x.device, dtype=x.dtype)


def tail_ranges(quantile: float, alpha_limit: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Alpha ranges of the lower and upper ``quantile`` tails of N(0, 1), cut at ``+-alpha_limit``."""
    if not (isinstance(quantile, float | int) and 0 < quantile < 0.5):
        raise ConfigError(f"quantile must be in (0, 0.5), got {quantile!r}")
    z = float(torch.special.ndtri(torch.tensor(quantile, dtype=torch.float64)))
    if not alpha_limit > -z:
        raise ConfigError(f"alpha_limit must exceed the tail threshold {-z:.3f} of quantile {quantile}, "
                          f"got {alpha_limit!r}")
    return (-float(alpha_limit), z), (-z, float(alpha_limit))


def _tail_normal(n: int, alpha_range: tuple[float, float], g: torch.Generator) -> torch.Tensor:
    """``[n]`` draws of N(0, 1) restricted to ``alpha_range`` (inverse-CDF sampling, float64)."""
    lo, hi = (torch.special.ndtr(torch.tensor(v, dtype=torch.float64)) for v in alpha_range)
    return torch.special.ndtri(lo + (hi - lo) * torch.rand(n, generator=g, dtype=torch.float64))


def _points(xs: torch.Tensor, alphas: torch.Tensor, problem: Family) -> Samples:
    """The points ``xs`` ([n] or [n, dim]) for each alpha of ``alphas [A]``, alpha-major, with the reference."""
    n = xs.shape[0]
    x, a = xs.repeat(alphas.numel(), *([1] * (xs.ndim - 1))), alphas.double().repeat_interleave(n)
    return Samples(x=x, alpha=a, y=reference_solution(problem, x, a))


def curves(problem: str | Family, alphas: torch.Tensor, n_x: int) -> Samples:
    """Clean solution curves: each alpha of ``alphas [A]`` on ``n_x`` uniform x over the family's
    domain (on a geometry: a grid of ``n_x`` values per input, ``n_x ** dim`` points).
    Samples ``x, alpha, y`` of ``[A * n_x]`` (float64), alpha-major."""
    problem = as_family(problem)
    if problem.dim > 1:
        return _points(problem.grid(n_x), alphas, problem)
    return _points(torch.linspace(*problem.domain, n_x, dtype=torch.float64), alphas, problem)


def line_curve(problem: str | Family, alpha: float, n_x: int) -> Samples:
    """The solution at one ``alpha`` on ``n_x`` points: :func:`curves` in 1D; on a geometry the
    points run along the first input with the others at the box's middle (for plots)."""
    problem = as_family(problem)
    alphas = torch.tensor([alpha], dtype=torch.float64)
    return _points(problem.line(n_x), alphas, problem) if problem.dim > 1 else curves(problem, alphas, n_x)


@dataclass(frozen=True)
class PINNProblem:
    """One seeded instance.

    train: noisy measurements ``x, alpha, y [N]``; test: clean curves ``x, alpha, y [M]`` and
    ``ood [M]`` bool (True: alpha from the opposite tail; False: from the training tail).
    train_range / test_range: the tails' alpha ranges; alpha_range: the declared range of use.
    """

    pde: Family
    train: Samples
    test: Samples
    train_range: tuple[float, float]
    test_range: tuple[float, float]
    alpha_range: tuple[float, float]
    noise: float


def make_pinn_problem(pde: str | Family = "poisson", *, n_train: int = 200, n_test_alphas: int = 20,
                      n_test_x: int = 101, quantile: float | None = None, alpha_limit: float | None = None,
                      noise: float = 0.1, seed: int = 0, dtype: torch.dtype = torch.float32) -> PINNProblem:
    """Training measurements of the family ``pde`` (a registered name or a family) at ``x``
    uniform over its domain and alpha from the lower ``quantile`` tail of
    N(0, 1) (cut at ``-alpha_limit``), ``y = u + noise * eps``; clean test curves at
    ``n_test_alphas`` alphas from the upper tail (``ood``) and as many from the lower one.
    ``quantile`` / ``alpha_limit``: None takes the family's (0.16 / 3.0 for the built-in ones)."""
    problem = as_family(pde)
    quantile = problem.quantile if quantile is None else quantile
    alpha_limit = problem.alpha_limit if alpha_limit is None else alpha_limit
    for name, v, lo in (("n_train", n_train, 1), ("n_test_alphas", n_test_alphas, 1), ("n_test_x", n_test_x, 2)):
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            raise ConfigError(f"{name} must be an int >= {lo}, got {v!r}")
    if not (isinstance(noise, float | int) and math.isfinite(noise) and noise >= 0):
        raise ConfigError(f"noise must be a finite number >= 0, got {noise!r}")
    train_range, test_range = tail_ranges(quantile, alpha_limit)
    g = make_generator(seed)
    alpha = _tail_normal(n_train, train_range, g)
    if problem.dim > 1:
        x = problem.sample_uniform(n_train, g)
    else:
        a, b = problem.domain
        x = a + (b - a) * torch.rand(n_train, generator=g, dtype=torch.float64)
    y = reference_solution(problem, x, alpha) + noise * torch.randn(n_train, generator=g, dtype=torch.float64)
    ood = curves(problem, _tail_normal(n_test_alphas, test_range, g), n_test_x)
    ind = curves(problem, _tail_normal(n_test_alphas, train_range, g), n_test_x)
    test = Samples(**{k: torch.cat([ood[k], ind[k]]).to(dtype) for k in ("x", "alpha", "y")},
                   ood=torch.cat([torch.ones(len(ood), dtype=torch.bool), torch.zeros(len(ind), dtype=torch.bool)]))
    return PINNProblem(problem, Samples(x=x.to(dtype), alpha=alpha.to(dtype), y=y.to(dtype)), test,
                       train_range, test_range, check_alpha_range("alpha_range", (-alpha_limit, alpha_limit)),
                       float(noise))
