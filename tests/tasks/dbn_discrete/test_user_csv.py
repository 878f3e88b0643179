"""`taskdd distill` on categorical CSVs: the discrete model, categories in the distilled CSV, a
weight column, a model pgmpy reads; mixed tables are refused naming the columns."""

import json

import pandas as pd
import pytest
import torch

from data_gen.discrete_dbn import random_discrete_dbn
from data_gen.discrete_merge import make_hospitals
from taskdd.cli import main
from taskdd.tasks.dbn_discrete.user_csv import column_kinds, read_model


def _write(tmp_path, T, seed=0):
    truth = random_discrete_dbn(4, cards=(2, 3), seed=seed, static=T == 1)
    prob = make_hospitals(truth, n_per_source=80, T=T, K=2, keep=(0.7, 0.8), n_test=5, seed=seed)
    paths = []
    for s in prob.sources:
        df = s.to_dataframe("pid", "visit")
        for v in truth.structure.variables:
            df[v] = [f"{v}_{['lo', 'mid', 'hi'][int(x)]}" if x == x else None for x in df[v]]
        paths.append(tmp_path / f"{s.name}.csv")
        df.to_csv(paths[-1], index=False)
    return [str(p) for p in paths]


def _distill(paths, out, *extra):
    return main(["distill", "--data", *paths, "--id-col", "pid", "--time-col", "visit", "--budget", "4",
                 "--steps", "15", "--quiet", "--device", "cpu", "--out", str(out), *extra])


def test_static_categorical_csvs_give_a_weighted_categorical_set_and_a_bif_model(tmp_path):
    paths = _write(tmp_path, T=1)
    assert _distill(paths, tmp_path / "out") == 0
    out = tmp_path / "out"
    df = pd.read_csv(out / "distilled.csv")
    assert len(df) == 8 and (df.weight > 0).all() and set(df.source) == {"hospital0", "hospital1"}
    model = read_model(out / "model.json")
    for v in model.structure.variables:
        assert set(df[v]) <= set(model.state_names[v]) and all(s.startswith(f"{v}_") for s in model.state_names[v])
    probs = pd.read_csv(out / "distilled_probs.csv")
    for v in model.structure.variables:
        cols = [f"{v}={st}" for st in model.state_names[v]]
        assert (probs[cols].sum(axis=1) - 1).abs().max() < 1e-6
        assert list(probs[cols].to_numpy().argmax(1)) == [model.state_names[v].index(x) for x in df[v]]
    from pgmpy.readwrite import BIFReader
    net = BIFReader(str(out / "model.bif")).get_model()
    v = model.structure.variables[0]
    assert net.get_cpds(v).state_names[v] == model.state_names[v]
    res = pd.read_csv(out / "results.csv")
    assert set(res.method) == {"distilled_exact", "distilled_rounded", "direct_fit", "impute"}
    assert json.loads((out / "run.json").read_text())["task"] == "dbn-discrete"


def test_sequences_give_a_two_slice_model_that_exports_to_pgmpy(tmp_path):
    paths = _write(tmp_path, T=3, seed=1)
    assert _distill(paths, tmp_path / "out") == 0
    model = read_model(tmp_path / "out" / "model.json")
    assert model.cpt is not None and not (tmp_path / "out" / "model.bif").exists()
    from pgmpy.models import DynamicBayesianNetwork

    from taskdd.tasks.dbn_discrete.pgmpy_bridge import from_pgmpy, to_pgmpy
    net = to_pgmpy(model)
    assert isinstance(net, DynamicBayesianNetwork)
    back = from_pgmpy(net)
    assert all(torch.allclose(a, b) for a, b in zip(back.cpt, model.cpt))
    assert len(pd.read_csv(tmp_path / "out" / "distilled.csv")) == 8 * 3


def test_mixed_tables_are_refused_naming_the_columns(tmp_path, capsys):
    df = pd.DataFrame({"pid": [0, 1, 2], "visit": [0, 0, 0], "stage": ["I", "II", None], "age": [50.0, 61.0, 70.0]})
    df.to_csv(tmp_path / "a.csv", index=False)
    assert _distill([str(tmp_path / "a.csv")], tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "DataError" in err and "['stage']" in err and "['age']" in err


def test_column_kinds_let_text_win_and_skip_empty_columns():
    a = pd.DataFrame({"id": [1], "t": [0], "x": [1.0], "y": ["a"], "z": [None]})
    b = pd.DataFrame({"id": [2], "t": [0], "x": ["b"], "y": ["c"], "z": [2.0]})
    assert column_kinds({"a": a, "b": b}, "id", "t") == (["y", "x"], ["z"])


def test_the_command_reads_each_file_once(tmp_path, monkeypatch):
    import taskdd.tasks.dbn.user_data as user_data
    calls = []
    real = user_data.read_csv_source
    monkeypatch.setattr(user_data, "read_csv_source", lambda p: calls.append(p) or real(p))
    paths = _write(tmp_path, T=1)
    assert _distill(paths, tmp_path / "out") == 0
    assert sorted(map(str, calls)) == sorted(paths)       # chosen as categorical and distilled from one read
