"""The alarm-merge and dbn-discrete-merge case studies, small runs of their --quick mode."""

import pandas as pd
import pytest

import case_studies.alarm_merge  # noqa: F401  (registers the cases without installed entry points)
import case_studies.dbn_discrete_merge  # noqa: F401

METHODS = {"distilled_exact", "distilled_unweighted", "sub", "impute", "direct_fit", "full_clean", "free_counts"}


@pytest.fixture(scope="module")
def alarm(quick_run):
    return quick_run("alarm-merge", "seeds=1", "ipcs=20", "n_per_source=1000", "n_test=1000")


def test_alarm_quick_run_writes_every_method_figures_and_gaps(alarm, results):
    df = results(alarm)
    assert set(df.method) == METHODS
    assert {"test_ll", "test_ll_rounded", "total_weight"} <= set(df.metric)
    for f in ("run.json", "timings.csv", "gaps.csv", "test_ll.png", "test_ll_vs_direct_fit.png"):
        assert (alarm / f).exists(), f


def test_alarm_weighted_distillation_beats_sub_impute_and_the_unweighted_set(alarm, results):
    ll = results(alarm).query("metric == 'test_ll'").set_index("method").value
    assert ll.distilled_exact > max(ll["sub"], ll.impute, ll.distilled_unweighted, ll.free_counts)
    assert ll.distilled_unweighted > ll["sub"]
    assert ll.direct_fit > ll.distilled_exact
    gaps = pd.read_csv(alarm / "gaps.csv").set_index(["method", "ipc"])
    assert gaps.loc[("distilled_exact", 20), "gap_direct_fit_min"] > 0.5


def test_dbn_discrete_merge_quick_run(quick_run, results):
    df = results(quick_run("dbn-discrete-merge", "seeds=1", "ipcs=10", "n_per_source=150", "n_test=300"))
    assert set(df.method) == METHODS
    ll = df.query("metric == 'test_ll'").set_index("method").value
    assert ll.distilled_exact > ll["sub"]
