"""The classifier-digits case study in --quick mode."""

import json

import pytest

from taskdd.errors import ConfigError

METHODS = {"krr", "gm", "dm", "unrolled", "random", "kmeans", "full"}
METRICS = {"acc_mlp", "acc_own", "acc_logreg", "acc_knn", "acc_mlp_other"}


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run("classifier-digits")


def test_quick_run_writes_sane_results_and_figures(quick, results):
    df = results(quick)
    assert set(df.method) == METHODS and set(df.metric) == METRICS
    assert sorted(df.budget.dropna().unique()) == [1, 10] and df[df.method == "full"].budget.isna().all()
    assert df.value.between(0, 1).all()
    own = set(df[df.metric == "acc_own"].method)
    assert own == {"krr", "unrolled", "random", "kmeans", "full"}
    for f in ("run.json", "timings.csv", "objective.csv", "agreement.csv", "acc_mlp.png", "acc_own.png",
              "distilled_digits.png", "agreement.png", "excess_agreement.png"):
        assert (quick / f).exists(), f
    config = json.loads((quick / "run.json").read_text())["config"]
    assert config["ipcs"] == [1, 10] and config["protocol"]["n_models"] == 2 and config["protocol"]["steps"] == 300


def test_every_method_beats_random_at_ipc_1(quick, results):
    df = results(quick)
    acc = df[(df.metric == "acc_mlp") & (df.budget == 1)].set_index("method").value
    for m in ("krr", "gm", "dm", "unrolled"):
        assert acc[m] > acc["random"] + 0.2, m


def test_unknown_method_is_a_config_error(quick_run, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown methods \['kip'\]; known methods: krr, gm, dm, unrolled"):
        quick_run("classifier-digits", "methods=kip", out=tmp_path)
