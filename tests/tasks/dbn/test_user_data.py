"""`taskdd distill` on the user's own CSV sources, end to end."""

import json

import pandas as pd
import pytest
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd.cli import main
from taskdd.data import Sources
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn.user_data import distill_csv, structure_to_json


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    d = tmp_path_factory.mktemp("csv")
    dbn = random_dbn(5, seed=1)
    prob = make_sources(dbn, n_per_source=150, T=4, K=2, hidden_per_source=2, noise=0.3, n_test=10, seed=1)
    paths = []
    for s in prob.sources:
        df = s.to_dataframe("pid", "visit")
        df = df.drop(columns=[c for c in df.columns if c not in ("pid", "visit") and df[c].isna().all()])
        paths.append(d / f"{s.name}.csv")
        df.to_csv(paths[-1], index=False)
    (d / "structure.json").write_text(json.dumps(structure_to_json(dbn.structure)))
    return d, paths, prob


def test_cli_distills_csv_sources_with_a_learned_structure(csvs, tmp_path):
    d, paths, prob = csvs
    rc = main(["distill", "--task", "dbn", "--data", *map(str, paths), "--id-col", "pid", "--time-col", "visit",
               "--budget", "4", "--steps", "40", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    out = pd.read_csv(tmp_path / "distilled.csv")
    assert list(out.columns[:3]) == ["source", "pid", "visit"]
    assert sorted(out.columns[3:]) == ["x0", "x1", "x2", "x3", "x4"]
    assert len(out) == 2 * 4 * 4 and out.notna().all().all()
    res = pd.read_csv(tmp_path / "results.csv")
    user = res[res.metric == "source_ll_user_units"].set_index("method").value
    std = res[res.metric == "source_ll_standard_units"].set_index("method").value
    assert user["distilled_exact"] > user["impute"] and std["distilled_exact"] > std["impute"]
    assert (tmp_path / "scaling.json").is_file()
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["structure_how"].startswith("learned") and set(run["noise"]) == {"source0", "source1"}
    # per source and variable, standard units; with T=4 some levels collapse towards 0 (weakly identifiable),
    # so only the largest is checked against the truth (0.3 / each variable's std, about 0.15-0.25)
    assert all(set(z) == {f"x{j}" for j in range(5)} and min(z.values()) >= 0 for z in run["noise"].values())
    assert all(0.1 < max(z.values()) < 0.6 for z in run["noise"].values())
    std = dict(zip(run["scaling"]["variables"], run["scaling"]["std"]))
    assert run["noise_user_units"]["source0"]["x2"] == pytest.approx(run["noise"]["source0"]["x2"] * std["x2"])
    exp = json.loads((tmp_path / "dbn_pgmpy.json").read_text())
    assert len(exp["cpds"]) == 5 * 4


@pytest.mark.parametrize("per", ["source", "source_variable"])
def test_estimated_noise_reuses_its_fit_as_the_direct_fit(csvs, tmp_path, monkeypatch, per):
    import taskdd.tasks.dbn.user_data as ud
    d, paths, _ = csvs
    calls = []
    fit = ud.baselines.fit_with_noise
    monkeypatch.setattr(ud.baselines, "fit_with_noise", lambda *a, **k: calls.append(k["per"]) or fit(*a, **k))
    monkeypatch.setattr(ud.baselines, "direct_fit", lambda *a, **k: pytest.fail("a second marginal fit"))
    s = distill_csv(paths, id_col="pid", time_col="visit", budget=4, out=tmp_path, structure=d / "structure.json",
                    steps=3, device="cpu", quiet=True, noise_per=per)
    assert calls == [per] and "direct_fit" in s["source_ll"]


def test_given_structure_and_noise_are_used(csvs, tmp_path):
    d, paths, prob = csvs
    s = distill_csv(paths, id_col="pid", time_col="visit", budget=4, out=tmp_path, structure=d / "structure.json",
                    noise=0.3, steps=60, device="cpu", quiet=True)
    assert s["structure_how"] == "given"
    assert s["noise"] == {n: {f"x{j}": 0.3 for j in range(5)} for n in ("source0", "source1")}
    assert s["source_ll"]["distilled_exact"] > s["source_ll"]["direct_fit"] - 0.1


@pytest.mark.parametrize("breakit, err, needle", [
    (lambda p: p.write_text(p.read_text()[:-30]), DataError, "truncated"),
    (lambda p: p.write_text(""), DataError, "empty"),
    (lambda p: p.unlink(), DataError, "does not exist"),
    (lambda p: p.write_text(p.read_text().replace("pid", "patient", 1)), DataError, "--id-col) 'pid'"),
])
def test_bad_files_raise_typed_errors_and_leave_no_files(csvs, tmp_path, breakit, err, needle):
    d, paths, _ = csvs
    bad = tmp_path / "bad.csv"
    bad.write_text(paths[0].read_text())
    breakit(bad)
    out = tmp_path / "out"
    with pytest.raises(err) as e:
        distill_csv([bad, paths[1]], id_col="pid", time_col="visit", budget=4, out=out, noise=0.3, quiet=True)
    assert needle in str(e.value)
    assert not out.exists() or not any(out.iterdir())


def test_a_structure_over_other_variables_is_refused(csvs, tmp_path):
    d, paths, _ = csvs
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"variables": ["a", "b"], "intra": {}, "inter": {}}))
    with pytest.raises(DataError, match="differ from the data"):
        distill_csv(paths, id_col="pid", time_col="visit", budget=4, out=tmp_path / "o", structure=f, quiet=True)
    f.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        distill_csv(paths, id_col="pid", time_col="visit", budget=4, out=tmp_path / "o", structure=f, quiet=True)


# --- fail fast ------------------------------------------------------------------------------------
@pytest.fixture
def no_fitting(monkeypatch):
    """Any structure learning, noise estimation or distillation fails the test."""
    import taskdd.tasks.dbn.user_data as ud

    def boom(*a, **k):
        raise AssertionError("a fit started before the inputs were checked")
    for name in ("learn_structure", "distill"):
        monkeypatch.setattr(ud, name, boom)
    monkeypatch.setattr(ud.baselines, "fit_with_noise", boom)


def _edit(paths, tmp_path, fn):
    df = fn(pd.read_csv(paths[0]))
    bad = tmp_path / "clinic.csv"
    df.to_csv(bad, index=False)
    return [bad, paths[1]]


@pytest.mark.parametrize("edit, kw, err, needle", [
    (None, {"budget": 151}, ConfigError, "largest budget that fits every source is 150"),
    (lambda df: df[df.pid < 20], {"budget": 30}, ConfigError, "source 'clinic' (20 sequences); the largest budget "
                                                              "that fits every source is 20"),
    (None, {"lr": -1.0}, ConfigError, "--lr must be > 0"),
    (None, {"steps": -1}, ConfigError, "--steps must be"),
    (None, {"seed": -1}, ConfigError, "--seed"),
    (None, {"noise": -0.5}, ConfigError, "--noise"),
    (None, {"method": "nope"}, ConfigError, "unknown method 'nope'"),
    (None, {"noise_per": "clinic"}, ConfigError, "--noise-per"),
    (lambda df: df.iloc[:0], {}, DataError, "0 rows"),
    (lambda df: df[df.pid == df.pid.iloc[0]], {}, DataError, "source 'clinic' has 1 sequence"),
    (lambda df: df.assign(extra=float("nan")), {}, DataError, "['extra'] are observed in no source"),
    (lambda df: df.assign(extra=[1.0] + [float("nan")] * (len(df) - 1)), {}, DataError, "'extra' (1)"),
    (lambda df: df.assign(extra="high"), {}, DataError, "column 'extra' is not numeric"),
    (lambda df: df.drop(columns="visit"), {}, DataError, "time_col (--time-col) 'visit'"),
    (lambda df: df.assign(visit=df.visit * 0.5), {}, DataError, "--time-step"),
])
def test_bad_inputs_fail_in_one_line_before_any_fit(csvs, tmp_path, no_fitting, edit, kw, err, needle):
    d, paths, _ = csvs
    data = _edit(paths, tmp_path, edit) if edit else paths
    args = dict(id_col="pid", time_col="visit", budget=4, out=tmp_path / "out", quiet=True, device="cpu")
    with pytest.raises(err) as e:
        distill_csv(data, **{**args, **kw})
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_structure_too_rich_for_the_budget_fails_before_noise_estimation(csvs, tmp_path, no_fitting):
    d, paths, _ = csvs
    with pytest.raises(ConfigError, match="budget >= "):
        distill_csv(paths, id_col="pid", time_col="visit", budget=1, out=tmp_path / "o", structure=d / "structure.json",
                    quiet=True)


def test_disjoint_sources_and_no_complete_source_are_warned_about(csvs):
    from taskdd.data import Source
    from taskdd.tasks.dbn.user_checks import check_panel
    v = torch.randn(3, 4, 2, dtype=torch.float64)
    a = Source(v, torch.tensor([True, False]).expand(3, 4, 2), ["x", "y"], "a")
    b = Source(v, torch.tensor([False, True]).expand(3, 4, 2), ["x", "y"], "b")
    w = check_panel(Sources([a, b]), 2, estimate_noise=False)
    assert any("'a' and 'b' share no variable" in x for x in w)
    assert any("every source hides something" in x for x in w)


# --- units -----------------------------------------------------------------------------------------
SCALE = torch.tensor([0.03, 1.0, 30.0, 300.0, 3000.0], dtype=torch.float64)
SHIFT = torch.tensor([0.1, 5.0, -20.0, 1000.0, 5e4], dtype=torch.float64)


def _write(prob, folder, transform):
    folder.mkdir()
    paths = []
    for s in prob.sources:
        s = s.to(dtype=torch.float64)
        s = type(s)(transform(s.values), s.mask, s.variables, s.name)
        df = s.to_dataframe("pid", "visit")
        df = df.drop(columns=[c for c in df.columns if c not in ("pid", "visit") and df[c].isna().all()])
        df = df[df.pid % 7 != 3].assign(visit=df.visit * 2 + 1)  # fewer sequences, times 1, 3, 5, 7
        paths.append(folder / f"{s.name}.csv")
        df.to_csv(paths[-1], index=False, float_format="%.17g")
    return paths


@pytest.mark.parametrize("budget", [4, 8, 16])
def test_raw_units_and_pre_standardised_data_give_the_same_distilled_likelihood(csvs, tmp_path, budget):
    from taskdd.tasks.dbn.scaling import Scaling
    d, _, prob = csvs
    raw = _write(prob, tmp_path / "raw", lambda v: v * SCALE + SHIFT)
    sc = Scaling.fit(Sources([type(s)(s.values.double() * SCALE + SHIFT, s.mask, s.variables, s.name)
                              for s in prob.sources]))
    pre = _write(prob, tmp_path / "pre", lambda v: sc.to_standard(v * SCALE + SHIFT))
    kw = dict(id_col="pid", time_col="visit", budget=budget, structure=d / "structure.json", noise=0.3, steps=30,
              device="cpu", quiet=True, seed=3)
    a = distill_csv(raw, out=tmp_path / "a", **kw)
    b = distill_csv(pre, out=tmp_path / "b", **kw)
    la, lb = a["source_ll_standard_units"]["distilled_exact"], b["source_ll_standard_units"]["distilled_exact"]
    assert la == pytest.approx(lb, rel=1e-3)
    jac = a["source_ll"]["direct_fit"] - a["source_ll_standard_units"]["direct_fit"]
    assert jac < -10  # the user-unit figure carries the log-Jacobian of the raw scales
    assert a["time_grid"]["step"] == 2 and a["time_grid"]["slices"] == 4
    out_a = pd.read_csv(tmp_path / "a" / "distilled.csv")
    out_b = pd.read_csv(tmp_path / "b" / "distilled.csv")
    std_a = Scaling.from_json(json.loads((tmp_path / "a" / "scaling.json").read_text()))
    cols = list(std_a.variables)
    za = std_a.to_standard(torch.tensor(out_a[cols].to_numpy()))
    # the same set up to directions the fit ignores (Adam moves them by rounding noise; measured <= 0.05)
    assert torch.allclose(za, torch.tensor(out_b[cols].to_numpy()), atol=0.25)
    assert out_a["visit"].tolist()[:4] == [0, 2, 4, 6]
    dbn_a = json.loads((tmp_path / "a" / "dbn.json").read_text())
    assert dbn_a["units"].startswith("user") and dbn_a["s"][4] / dbn_a["s"][0] > 1e4


def test_no_standardize_works_in_the_data_units(csvs, tmp_path):
    d, paths, _ = csvs
    s = distill_csv(paths, id_col="pid", time_col="visit", budget=4, out=tmp_path, structure=d / "structure.json",
                    noise=0.3, steps=5, device="cpu", quiet=True, standardize=False)
    assert s["scaling"]["std"] == [1.0] * 5 and s["scaling"]["mean"] == [0.0] * 5
    assert s["source_ll"] == s["source_ll_standard_units"]


def test_cli_time_origin_global_keeps_visit_numbers(csvs, tmp_path):
    d, paths, _ = csvs
    df = pd.read_csv(paths[0])
    df = df[~((df.pid % 5 == 0) & (df.visit == 0))].assign(visit=lambda f: f.visit + 1)  # some miss visit 1
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    df.to_csv(first, index=False)
    pd.read_csv(paths[1]).assign(visit=lambda f: f.visit + 1).to_csv(second, index=False)
    rc = main(["distill", "--data", str(first), str(second), "--id-col", "pid", "--time-col", "visit",
               "--budget", "4", "--steps", "3", "--noise", "0.3", "--structure", str(d / "structure.json"),
               "--time-origin", "global", "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 0
    run = json.loads((tmp_path / "o" / "run.json").read_text())
    assert run["time_grid"]["slices"] == 4 and run["time_grid"]["origin"].startswith("the earliest")
    assert pd.read_csv(tmp_path / "o" / "distilled.csv").visit.tolist()[:4] == [1, 2, 3, 4]
