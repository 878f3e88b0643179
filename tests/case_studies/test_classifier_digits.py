"""The classifier-digits case study in --quick mode."""

import json

import pandas as pd
import pytest

from taskdd.cases import run_case
from taskdd.errors import ConfigError

METHODS = {"krr", "gm", "dm", "unrolled", "random", "kmeans", "full"}
METRICS = {"acc_mlp", "acc_own", "acc_logreg", "acc_knn", "acc_mlp_other"}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("classifier_digits")
    run_case("classifier-digits", out=out, quick=True, quiet=True, device="cpu")
    return out


def test_quick_run_writes_sane_results_and_figures(quick):
    df = pd.read_csv(quick / "results.csv")
    assert list(df.columns) == ["case", "method", "budget", "seed", "metric", "value"]
    assert set(df.method) == METHODS and set(df.metric) == METRICS
    assert sorted(df.budget.dropna().unique()) == [1, 10] and df[df.method == "full"].budget.isna().all()
    assert df.value.between(0, 1).all()
    own = set(df[df.metric == "acc_own"].method)
    assert own == {"krr", "unrolled", "random", "kmeans", "full"}
    for f in ("run.json", "timings.csv", "objective.csv", "agreement.csv", "acc_mlp.png", "acc_own.png",
              "distilled_digits.png", "agreement.png", "excess_agreement.png"):
        assert (quick / f).exists(), f
    assert json.loads((quick / "run.json").read_text())["config"]["ipcs"] == [1, 10]


def test_every_method_beats_random_at_ipc_1(quick):
    df = pd.read_csv(quick / "results.csv")
    acc = df[(df.metric == "acc_mlp") & (df.budget == 1)].set_index("method").value
    for m in ("krr", "gm", "dm", "unrolled"):
        assert acc[m] > acc["random"] + 0.2, m


def test_unknown_method_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown methods \['kip'\]; known methods: krr, gm, dm, unrolled"):
        run_case("classifier-digits", out=tmp_path, quick=True, quiet=True, device="cpu", overrides=["methods=kip"])
