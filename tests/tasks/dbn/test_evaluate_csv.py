"""`taskdd distill` then `taskdd evaluate` on a held-out CSV: irregular visits, ragged histories,
raw units; the score checked against the same number computed by hand."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd.cli import main
from taskdd.errors import CheckpointError, DataError
from taskdd.tasks.dbn.evaluate_csv import evaluate_csv, load_model
from taskdd.tasks.dbn.model import LinearGaussianDBN

STEP = 30
SCALE = np.array([0.02, 1.0, 40.0, 500.0])
SHIFT = np.array([0.5, 3.0, -20.0, 2000.0])


def _raw(s, rng) -> pd.DataFrame:
    """A source as a raw-unit long table: visits every ~30 days (jitter +-6), some visits missed,
    histories cut at random lengths, ids not 0..N-1."""
    df = s.to(dtype=torch.float64).to_dataframe("pid", "day")
    cols = [c for c in df.columns if c not in ("pid", "day")]
    df[cols] = df[cols].to_numpy() * SCALE[[int(c[1:]) for c in cols]] + SHIFT[[int(c[1:]) for c in cols]]
    df = df.drop(columns=[c for c in cols if df[c].isna().all()])
    length = rng.integers(3, 6, size=df.pid.max() + 1)
    keep = (df.day < length[df.pid]) & ~((rng.random(len(df)) < 0.1) & (df.day > 0))
    df = df[keep].assign(day=lambda f: 100 + f.day * STEP + rng.integers(-6, 7, size=len(f)),
                         pid=lambda f: f.pid * 7 + 1000)
    return df.sample(frac=1.0, random_state=0)  # rows in no particular order


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(0)
    prob = make_sources(random_dbn(4, seed=2), n_per_source=120, T=5, K=2, hidden_per_source=1, noise=0.3,
                        n_test=5, seed=2)
    paths = []
    for s in prob.sources:
        df = _raw(s, rng)
        test = df.pid.isin(df.pid.unique()[:25])
        paths.append(d / f"{s.name}.csv")
        df[~test].to_csv(paths[-1], index=False, float_format="%.17g")
        if s.name == prob.sources.names[0]:
            df[test].to_csv(d / "test.csv", index=False, float_format="%.17g")
    out = d / "out"
    assert main(["distill", "--data", *map(str, paths), "--id-col", "pid", "--time-col", "day", "--time-step",
                 str(STEP), "--budget", "4", "--steps", "20", "--out", str(out), "--quiet"]) == 0
    return d, out


def _by_hand(out, test: pd.DataFrame, noise="saved") -> float:
    """Align (pandas), standardise, score in standard units, add the log-Jacobian: the mean."""
    model = LinearGaussianDBN.load(out / "model")
    scaling = json.loads((out / "scaling.json").read_text())
    names = list(model.structure.variables)
    first = test.groupby("pid").day.transform("min")
    test = test.assign(k=np.floor((test.day - first) / STEP + 0.5).astype(int))
    pids = sorted(test.pid.unique())
    vals = np.full((len(pids), test.k.max() + 1, len(names)), np.nan)
    for r in test.itertuples():
        for j, v in enumerate(names):
            vals[pids.index(r.pid), r.k, j] = getattr(r, v, np.nan)
    mean, std = np.array(scaling["mean"]), np.array(scaling["std"])
    assert scaling["variables"] == names
    z = torch.tensor((vals - mean) / std)
    mask = ~torch.isnan(z)
    meta = model.metadata["noise"]["mean_over_sources"]
    sigma = [meta[v] for v in names] if noise == "saved" else [noise] * len(names)
    ll = model.log_likelihood(torch.nan_to_num(z), mask, obs_noise=sigma)
    return float((ll - (mask.double() * torch.tensor(np.log(std))).sum((1, 2))).mean())


def test_evaluate_matches_the_same_number_computed_by_hand(run, capsys):
    d, out = run
    capsys.readouterr()
    assert main(["evaluate", "--model", str(out), "--data", str(d / "test.csv"), "--id-col", "pid",
                 "--time-col", "day"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    ev = json.loads((out / "evaluation.json").read_text())
    assert ev["mean_test_ll"] == pytest.approx(_by_hand(out, pd.read_csv(d / "test.csv")), rel=1e-10)
    assert line == f"mean test log-likelihood per sequence: {ev['mean_test_ll']:.4f} (25 sequences, units: yours)"
    test = pd.read_csv(d / "test.csv")
    assert ev["n_sequences"] == 25 and ev["n_observed_values"] == int(test.drop(columns=["pid", "day"]).notna()
                                                                          .to_numpy().sum())
    assert ev["noise"]["rule"].startswith("saved") and ev["data"] == [str(d / "test.csv")]


def test_noise_zero_scores_noise_free_values(run):
    d, out = run
    test = pd.read_csv(d / "test.csv")
    free = evaluate_csv(out, [d / "test.csv"], noise=0)
    saved = evaluate_csv(out / "model", [d / "test.csv"], id_col="pid", time_col="day")
    assert free["mean_test_ll"] == pytest.approx(_by_hand(out, test, noise=0.0), rel=1e-10)
    assert free["mean_test_ll"] != pytest.approx(saved["mean_test_ll"], rel=1e-6)


def test_shuffled_columns_give_the_same_number(run, tmp_path):
    d, out = run
    test = pd.read_csv(d / "test.csv")
    test[list(reversed(test.columns))].to_csv(tmp_path / "shuffled.csv", index=False, float_format="%.17g")
    a = evaluate_csv(out, [d / "test.csv"])["mean_test_ll"]
    assert evaluate_csv(out, [tmp_path / "shuffled.csv"])["mean_test_ll"] == pytest.approx(a, rel=1e-12)


def test_a_model_variable_absent_from_the_test_data_is_marginalised(run, tmp_path, caplog):
    d, out = run
    test = pd.read_csv(d / "test.csv")
    gone = [c for c in test.columns if c not in ("pid", "day")][0]
    test.drop(columns=gone).to_csv(tmp_path / "fewer.csv", index=False, float_format="%.17g")
    ev = evaluate_csv(out, [tmp_path / "fewer.csv"])
    assert ev["mean_test_ll"] == pytest.approx(_by_hand(out, test.drop(columns=gone)), rel=1e-10)
    assert any(gone in w and "marginalised" in w for w in ev["warnings"])


def test_an_unknown_column_is_a_one_line_error_naming_it(run, tmp_path, capsys):
    d, out = run
    pd.read_csv(d / "test.csv").assign(albumin=1.0).to_csv(tmp_path / "extra.csv", index=False)
    assert main(["evaluate", "--model", str(out), "--data", str(tmp_path / "extra.csv"), "--out",
                 str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "['albumin'] are not variables of the model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o" / "evaluation.json").exists()


def test_a_missing_model_dir_is_a_one_line_error_and_exit_2(run, tmp_path, capsys):
    d, _ = run
    assert main(["evaluate", "--model", str(tmp_path / "nowhere"), "--data", str(d / "test.csv"),
                 "--id-col", "pid", "--time-col", "day", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "CheckpointError" in err and "does not exist" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(CheckpointError):
        load_model(d)  # a folder without a saved model


def test_the_saved_model_carries_what_scoring_needs(run):
    d, out = run
    model, meta = load_model(out)
    scaling = json.loads((out / "scaling.json").read_text())
    assert meta["scaling"] == scaling and meta["id_col"] == "pid" and meta["time_col"] == "day"
    assert meta["time_grid"]["step"] == STEP and meta["time_grid"]["origin_rule"] == "sequence"
    std = dict(zip(scaling["variables"], scaling["std"]))
    for v, z in meta["noise"]["mean_over_sources"].items():
        assert meta["noise_user_units"]["mean_over_sources"][v] == pytest.approx(z * std[v])
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["noise"] == meta["noise"]["per_source"] and run_json["noise_estimation_s"] > 0
    # dbn.json is the same DBN in the data's units
    user = json.loads((out / "dbn.json").read_text())
    assert user["s"][0] == pytest.approx(float(model.s[0]) * std[model.structure.variables[0]])


def test_dates_on_a_number_grid_are_refused(run, tmp_path):
    d, out = run
    test = pd.read_csv(d / "test.csv")
    test.assign(day=pd.Timestamp("2020-01-01") + pd.to_timedelta(test.day, unit="D")).to_csv(
        tmp_path / "dates.csv", index=False)
    with pytest.raises(DataError, match="holds dates but the model's time grid"):
        evaluate_csv(out, [tmp_path / "dates.csv"])


def test_global_origin_uses_the_training_start(tmp_path):
    from taskdd.tasks.dbn.panel import align_panel
    df = pd.DataFrame({"id": [1, 1, 2, 2], "t": [3, 4, 4, 5], "x": [1.0, 2.0, 3.0, 4.0]})
    p = align_panel({"a": df}, "id", "t", time_step=1, origin="global", start=2.0)
    assert p.start == 2.0 and p.T == 4 and not bool(p.sources[0].mask[:, 0].any())
    with pytest.raises(DataError, match="before the grid's origin"):
        align_panel({"a": df}, "id", "t", time_step=1, origin="global", start=3.5)
    assert math.isfinite(p.to_json()["start"])
