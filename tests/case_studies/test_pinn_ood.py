"""The pinn-ood case study in --quick mode."""

import json

import pandas as pd
import pytest

from taskdd.cases import run_case
from taskdd.errors import ConfigError

METHODS = {"distilled", "distilled_alpha_in_range", "distilled_mlp", "random_subset", "all_data", "all_data_fullphys",
           "physics_only", "deepxde_all_data", "mlp_all_data", "zero", "alpha_agnostic"}
FIGURES = ("solution", "error_vs_alpha", "alphas", "outer_loss", "test_rel_l2")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("pinn_ood")
    run_case("pinn-ood", out=out, quick=True, quiet=True, device="cpu")
    return out


def test_quick_run_writes_every_method_metric_and_figure(quick):
    df = pd.read_csv(quick / "results.csv")
    assert list(df.columns) == ["case", "method", "budget", "seed", "metric", "value"]
    assert set(df.case) == {"pinn-ood:pde=poisson", "pinn-ood:pde=nonlinear"}
    assert set(df.method) == METHODS and set(df.metric) == {"test_rel_l2", "train_rel_l2"}
    assert len(df) == 2 * len(METHODS) * 2
    with_budget = {"distilled", "distilled_alpha_in_range", "distilled_mlp", "random_subset"}
    assert (df[df.method.isin(with_budget)].budget == 10).all() and df[~df.method.isin(with_budget)].budget.isna().all()
    assert df.value.notna().all() and (df.value > 0).all()
    for pde in ("poisson", "nonlinear"):
        for f in FIGURES:
            assert (quick / f"{pde}_{f}.png").exists(), f
    assert json.loads((quick / "run.json").read_text())["config"]["budgets"] == [10]


def test_references_behave_as_the_physics_says(quick):
    df = pd.read_csv(quick / "results.csv")
    for case, d in df[df.metric == "test_rel_l2"].groupby("case"):
        v = d.set_index("method").value
        assert v["zero"] == pytest.approx(1.0)
        assert v["deepxde_all_data"] == pytest.approx(v["all_data"], rel=0.02), case  # same learner, same init
        assert v["all_data_fullphys"] < 0.5 * v["all_data"], case  # full-range physics holds the answer


def test_unknown_pde_or_step_size_schedule_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown pdes \['heat'\]; known pdes: poisson, nonlinear"):
        run_case("pinn-ood", out=tmp_path, quick=True, quiet=True, device="cpu", overrides=["pdes=heat"])
    with pytest.raises(ConfigError, match=r"lr_schedule must be one of \['constant', 'cosine'\], got 'step'"):
        run_case("pinn-ood", out=tmp_path, quick=True, quiet=True, device="cpu", overrides=["lr_schedule=step"])
