"""The pinn-ood case study in --quick mode."""

import json

import pytest

from taskdd.errors import ConfigError

METHODS = {"distilled", "distilled_alpha_in_range", "distilled_mlp", "random_subset", "all_data", "all_data_fullphys",
           "physics_only", "deepxde_all_data", "mlp_all_data", "zero", "alpha_agnostic"}
# smaller than --quick (which runs 300 outer steps to show the effect): the suite checks the plumbing
SMALL = ("steps=30", "n_train=60", "ablation_budgets=10", "task.eval_steps=300")
FIGURES = ("solution", "error_vs_alpha", "alphas", "outer_loss", "test_rel_l2")


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run("pinn-ood", *SMALL)


def test_quick_run_writes_every_method_metric_and_figure(quick, results):
    df = results(quick)
    assert set(df.case) == {"pinn-ood:pde=poisson", "pinn-ood:pde=nonlinear"}
    assert set(df.method) == METHODS and set(df.metric) == {"test_rel_l2", "train_rel_l2"}
    assert len(df) == 2 * len(METHODS) * 2
    with_budget = {"distilled", "distilled_alpha_in_range", "distilled_mlp", "random_subset"}
    assert (df[df.method.isin(with_budget)].budget == 10).all() and df[~df.method.isin(with_budget)].budget.isna().all()
    assert df.value.notna().all() and (df.value > 0).all()
    for pde in ("poisson", "nonlinear"):
        for f in FIGURES:
            assert (quick / f"{pde}_{f}.png").exists(), f
    config = json.loads((quick / "run.json").read_text())["config"]
    assert config["budgets"] == [10] and config["task"]["eval_steps"] == 300 and config["task"]["width"] == 32


def test_references_behave_as_the_physics_says(quick, results):
    df = results(quick)
    for case, d in df[df.metric == "test_rel_l2"].groupby("case"):
        v = d.set_index("method").value
        assert v["zero"] == pytest.approx(1.0)
        assert v["deepxde_all_data"] == pytest.approx(v["all_data"], rel=0.02), case  # same learner, same init
        assert v["all_data_fullphys"] < 0.5 * v["all_data"], case  # full-range physics holds the answer


@pytest.mark.parametrize("setting, message", [
    ("pdes=wave", r"unknown pdes \['wave'\]; known pdes: poisson, nonlinear, advection-diffusion, poisson2d, heat, poisson-k"),
    ("lr_schedule=step", r"lr_schedule must be one of \['constant', 'cosine'\], got 'step'"),
    ("task.pde=nonlinear", r"task.pde is set per PDE from pdes and the data; got 'nonlinear'"),
    ("task.learner=cnn", r"--set task.learner='cnn': accepted values are \['pinn', 'mlp'\]"),
    ("skip=distilled", r"unknown skip \['distilled'\]; known skip: distilled_alpha_in_range, distilled_mlp, "
                       r"physics_only"),
])
def test_bad_settings_are_config_errors(setting, message, quick_run, tmp_path):
    with pytest.raises(ConfigError, match=message):
        quick_run("pinn-ood", setting, out=tmp_path)


def test_families_on_a_geometry_run_without_the_1d_only_reference(quick_run, results):
    out = quick_run("pinn-ood", "pdes=heat,poisson2d", "steps=3", "n_train=40", "ablation_budgets=10",
                    "skip=mlp_all_data,distilled_mlp",
                    "task.eval_steps=20", "n_test_x=5", "grid_x=5", "grid_alphas=3", "n_test_alphas=2",
                    "task.n_interior=32", "task.score_interior=32")
    df = results(out)
    assert set(df.case) == {"pinn-ood:pde=heat", "pinn-ood:pde=poisson2d"}
    assert set(df.method) == METHODS - {"alpha_agnostic", "mlp_all_data", "distilled_mlp"}
    assert df.value.notna().all() and (df.value > 0).all()
    for pde in ("heat", "poisson2d"):
        for f in FIGURES:
            assert (out / f"{pde}_{f}.png").exists(), f
