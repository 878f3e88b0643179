"""PINN data: reference solutions (closed form, finite-difference Newton) and the tail split."""

import math

import numpy as np
import pytest
import torch

from data_gen.pinn import curves, make_pinn_problem, reference_solution, solve_fd, tail_ranges
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.pinn.problems import get_problem

ALPHAS = np.array([-3.0, -0.5, 2.0])


def _closed_form(n):
    x = np.linspace(0, 1, n + 1)
    return np.sin(math.pi * x)[None] + ALPHAS[:, None] * (1 - x)[None]


def test_finite_differences_reproduce_the_poisson_closed_form_at_second_order():
    errs = [np.abs(solve_fd(get_problem("poisson"), ALPHAS, n) - _closed_form(n)).max() for n in (32, 64, 128)]
    assert errs[-1] < 1e-4
    assert 3.8 < errs[0] / errs[1] < 4.2 and 3.8 < errs[1] / errs[2] < 4.2


def test_nonlinear_newton_solve_converges_under_grid_refinement():
    pde = get_problem("nonlinear")
    fine = solve_fd(pde, ALPHAS, 4096)
    errs = [np.abs(solve_fd(pde, ALPHAS, n) - fine[:, :: 4096 // n]).max() for n in (32, 64, 128)]
    assert 3.8 < errs[0] / errs[1] < 4.2 and 3.8 < errs[1] / errs[2] < 4.2
    # boundary values hold and the discrete residual of the fine solution is at round-off
    assert np.allclose(fine[:, 0], ALPHAS) and np.allclose(fine[:, -1], 0)
    x = np.linspace(0, 1, 4097)
    h2 = (1 / 4096) ** 2
    lap = (2 * fine[:, 1:-1] - fine[:, :-2] - fine[:, 2:]) / h2
    res = lap + fine[:, 1:-1] ** 3 - math.pi**2 * np.sin(math.pi * x[1:-1])
    assert np.abs(res).max() < 1e-5


def test_richardson_reference_matches_a_refined_grid():
    pde = get_problem("nonlinear")
    x = torch.rand(40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = torch.tensor(ALPHAS).repeat_interleave(40 // 3 + 1)[:40]
    fine = solve_fd(pde, ALPHAS, 8192)
    grid = np.linspace(0, 1, 8193)
    want = np.array([np.interp(xi, grid, fine[list(ALPHAS).index(ai)]) for xi, ai in zip(x.numpy(), a.numpy())])
    got = reference_solution(pde, x, a, n=128).numpy()
    assert np.abs(got - want).max() < 1e-6


def test_the_cubic_term_changes_the_solution():
    x, a = torch.full((1,), 0.5, dtype=torch.float64), torch.full((1,), 2.0, dtype=torch.float64)
    lin, non = (float(reference_solution(get_problem(p), x, a)) for p in ("poisson", "nonlinear"))
    assert lin == pytest.approx(2.0) and non < lin - 0.3


def test_training_and_test_alphas_come_from_opposite_tails():
    prob = make_pinn_problem("poisson", n_train=500, n_test_alphas=30, n_test_x=11, quantile=0.1, seed=1)
    (lo, z), (mz, hi) = prob.train_range, prob.test_range
    assert z == pytest.approx(-1.2816, abs=1e-3) and mz == -z and (lo, hi) == (-3.0, 3.0)
    assert prob.train["alpha"].min() >= lo and prob.train["alpha"].max() <= z
    ood = prob.test["ood"]
    assert (prob.test["alpha"][ood] >= mz).all() and (prob.test["alpha"][~ood] <= z).all()
    assert int(ood.sum()) == int((~ood).sum()) == 30 * 11
    assert prob.train["x"].min() >= 0 and prob.train["x"].max() <= 1


def test_training_y_is_noisy_and_test_y_is_clean():
    prob = make_pinn_problem("poisson", n_train=4000, noise=0.2, seed=0, dtype=torch.float64)
    t = prob.train
    resid = t["y"] - reference_solution(prob.pde, t["x"], t["alpha"])
    assert float(resid.std()) == pytest.approx(0.2, rel=0.05) and abs(float(resid.mean())) < 0.02
    torch.testing.assert_close(prob.test["y"], reference_solution(prob.pde, prob.test["x"], prob.test["alpha"]))


def test_same_seed_same_data_other_seed_other_data():
    a, b, c = (make_pinn_problem("nonlinear", n_train=20, n_test_alphas=2, n_test_x=5, seed=s) for s in (3, 3, 4))
    for k in ("x", "alpha", "y"):
        assert torch.equal(a.train[k], b.train[k]) and not torch.equal(a.train[k], c.train[k])
    assert torch.equal(a.test["y"], b.test["y"])


def test_curves_are_alpha_major():
    cv = curves(get_problem("poisson"), torch.tensor([-1.0, 1.0]), 3)
    assert cv["alpha"].tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0] and cv["x"].tolist() == [0, 0.5, 1] * 2


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match=r"quantile must be in \(0, 0.5\), got 0.7"):
        make_pinn_problem(quantile=0.7)
    with pytest.raises(ConfigError, match="noise must be a finite number >= 0, got -1"):
        make_pinn_problem(noise=-1)
    with pytest.raises(ConfigError, match="unknown pde 'wave'"):
        make_pinn_problem("wave")
    with pytest.raises(ConfigError, match="alpha_limit must exceed the tail threshold 0.994"):
        tail_ranges(0.16, 0.5)
    with pytest.raises(DataError, match=r"x and alpha must both have shape \[N\]"):
        reference_solution(get_problem("poisson"), torch.zeros(3), torch.zeros(4))
