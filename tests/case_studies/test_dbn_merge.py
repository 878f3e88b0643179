"""The dbn-merge and dbn-time-slices case studies in --quick mode, and their determinism."""

import json

import pandas as pd
import pytest


@pytest.fixture(scope="module")
def quick(quick_run):
    return quick_run("dbn-merge")


def test_quick_run_writes_results_figures_and_curves(quick, results):
    df = results(quick)
    assert set(df.method) == {"distilled_exact", "sub", "full_clean", "direct_fit", "impute"}
    assert sorted(df.seed.unique()) == [0, 1, 2] and sorted(df.budget.dropna().unique()) == [2, 20]
    for f in ("run.json", "timings.csv", "curves.csv", "gaps.csv", "fig2_test_ll.png", "fig2_test_ll_vs_direct_fit.png",
              "fig3_distilled_exact.png"):
        assert (quick / f).exists(), f
    assert json.loads((quick / "run.json").read_text())["config"]["problem"]["noise"] == 0.3


def test_distilled_beats_sub_and_reaches_direct_fit_for_every_seed(quick):
    gaps = pd.read_csv(quick / "gaps.csv").set_index("ipc")
    assert (gaps.beats_sub == gaps.seeds).all()
    assert (gaps.gap_direct_fit_min >= 0.99).all()
    assert gaps.loc[20, "gap_full_clean_min"] >= 0.95


def test_every_distillation_and_the_direct_fit_are_timed(quick):
    t = pd.read_csv(quick / "timings.csv")
    timed = t[t.metric == "wall_time_s"].groupby("method").size()
    assert timed.to_dict() == {"direct_fit": 3, "distilled_exact": 6}
    assert (t.value > 0).all()


def test_same_seed_gives_identical_results(quick, quick_run, results):
    again = results(quick_run("dbn-merge", "seeds=1"))
    first = results(quick)
    pd.testing.assert_frame_equal(again, first[first.seed == 0].reset_index(drop=True))


def test_time_slices_quick_run_and_determinism(quick_run, results, tmp_path):
    a = quick_run("dbn-time-slices")
    b = quick_run("dbn-time-slices", out=tmp_path)
    assert (a / "results.csv").read_text() == (b / "results.csv").read_text()
    df = results(a)
    ll = df[df.metric == "test_ll"].pivot_table(index="case", columns="method", values="value")
    assert (ll.distilled_exact > ll["sub"]).all()
    assert set(ll.index) == {"dbn-time-slices:T=2", "dbn-time-slices:T=5"}
    assert (a / "fig4_time_per_step_s.png").exists()
    assert json.loads((a / "run.json").read_text())["config"]["problem"]["n_per_source"] == 500
