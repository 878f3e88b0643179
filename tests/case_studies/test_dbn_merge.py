"""The dbn-merge and dbn-time-slices case studies in --quick mode, and their determinism."""

import pandas as pd
import pytest

from taskdd.cases import run_case


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("dbn_merge")
    run_case("dbn-merge", out=out, quick=True, quiet=True, device="cpu")
    return out


def test_quick_run_writes_results_figures_and_curves(quick):
    df = pd.read_csv(quick / "results.csv")
    assert list(df.columns) == ["case", "method", "budget", "seed", "metric", "value"]
    assert set(df.method) == {"distilled_exact", "sub", "full_clean", "direct_fit", "impute"}
    assert sorted(df.seed.unique()) == [0, 1, 2] and sorted(df.budget.dropna().unique()) == [2, 20]
    for f in ("run.json", "timings.csv", "curves.csv", "gaps.csv", "fig2_test_ll.png", "fig2_test_ll_vs_direct_fit.png",
              "fig3_distilled_exact.png"):
        assert (quick / f).exists(), f


def test_distilled_beats_sub_and_reaches_direct_fit_for_every_seed(quick):
    gaps = pd.read_csv(quick / "gaps.csv").set_index("ipc")
    assert (gaps.beats_sub == gaps.seeds).all()
    assert (gaps.gap_direct_fit_min >= 0.99).all()
    assert gaps.loc[20, "gap_full_clean_min"] >= 0.95


def test_same_seed_gives_identical_results(quick, tmp_path):
    run_case("dbn-merge", out=tmp_path, quick=True, quiet=True, device="cpu", overrides=["seeds=1"])
    again = pd.read_csv(tmp_path / "results.csv")
    first = pd.read_csv(quick / "results.csv")
    pd.testing.assert_frame_equal(again, first[first.seed == 0].reset_index(drop=True))


def test_time_slices_quick_run_and_determinism(tmp_path):
    for name in ("a", "b"):
        run_case("dbn-time-slices", out=tmp_path / name, quick=True, quiet=True, device="cpu")
    a, b = (tmp_path / "a" / "results.csv").read_text(), (tmp_path / "b" / "results.csv").read_text()
    assert a == b
    df = pd.read_csv(tmp_path / "a" / "results.csv")
    ll = df[df.metric == "test_ll"].pivot_table(index="case", columns="method", values="value")
    assert (ll.distilled_exact > ll["sub"]).all()
    assert set(ll.index) == {"dbn-time-slices:T=2", "dbn-time-slices:T=5"}
    assert (tmp_path / "a" / "fig4_time_per_step_s.png").exists()
