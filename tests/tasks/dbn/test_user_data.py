"""`taskdd distill` on the user's own CSV sources, end to end."""

import json

import pandas as pd
import pytest
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd.cli import main
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
    assert all(0.1 < v < 0.6 for v in run["noise"].values())
    exp = json.loads((tmp_path / "dbn_pgmpy.json").read_text())
    assert len(exp["cpds"]) == 5 * 4


def test_given_structure_and_noise_are_used(csvs, tmp_path):
    d, paths, prob = csvs
    s = distill_csv(paths, id_col="pid", time_col="visit", budget=4, out=tmp_path, structure=d / "structure.json",
                    noise=0.3, steps=60, device="cpu", quiet=True)
    assert s["structure_how"] == "given" and s["noise"] == {"source0": 0.3, "source1": 0.3}
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
