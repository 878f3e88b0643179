"""The pinn-inverse case study, shrunk to seconds."""

import pytest

import case_studies.pinn_inverse  # noqa: F401  (registers the case where its entry point is not installed yet)
from taskdd.errors import ConfigError

METHODS = {"distilled", "random_subset", "d_optimal", "all_data", "wrong_coef", "fullphys_learned_coef", "oracle"}
TINY = ("steps=3", "n_train=40", "task.width=8", "task.n_interior=32", "task.score_interior=32", "task.unroll=3",
        "task.pool_size=2", "task.eval_steps=40", "task.eval_models=1", "budgets=5,10")


@pytest.fixture(scope="module")
def tiny(quick_run):
    return quick_run("pinn-inverse", *TINY)


def test_every_method_metric_and_figure(tiny, results):
    df = results(tiny)
    assert set(df.method) == METHODS and set(df.metric) == {"test_rel_l2", "train_rel_l2", "coef", "coef_rel_err"}
    budgeted = df.method.isin({"distilled", "random_subset", "d_optimal"})
    assert set(df[budgeted].budget) == {5, 10} and df[~budgeted].budget.isna().all()
    assert len(df) == 4 * (4 + 3 * 2)
    assert df.value.notna().all()
    coef = df[df.metric == "coef"].set_index("method").value
    assert coef["oracle"] == 1.0 and coef["wrong_coef"] == 2.0     # fixed coefficients: true, prior
    for f in ("error_vs_alpha", "coef_vs_budget", "coef_rel_err_vs_budget", "test_rel_l2_vs_budget"):
        assert (tiny / f"{f}.png").exists(), f


def test_a_family_without_a_coefficient_is_a_config_error(quick_run, tmp_path):
    with pytest.raises(ConfigError, match="needs a PDE family with a coefficient"):
        quick_run("pinn-inverse", "pde=poisson", out=tmp_path)
