"""`taskdd summarize` at each site, then `taskdd distill --summaries`: the distilled set of the rows."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd import distill
from taskdd.cli import main
from taskdd.data import Sources
from taskdd.tasks.dbn import baselines
from taskdd.tasks.dbn.panel import align_panel
from taskdd.tasks.dbn.site import SiteSummaries, site_scaling
from taskdd.tasks.dbn.site_file import load_summary
from taskdd.tasks.dbn.scaling import Scaling
from taskdd.tasks.dbn.task import DBNLikelihoodTask
from taskdd.tasks.dbn.user_data import read_frames, read_structure, structure_to_json

STEPS, BUDGET = 30, 4


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    d = tmp_path_factory.mktemp("sites")
    dbn = random_dbn(5, seed=1)
    prob = make_sources(dbn, n_per_source=150, T=4, K=2, hidden_per_source=2, noise=0.3, n_test=10, seed=1)
    paths = []
    for s in prob.sources:
        df = s.to_dataframe("pid", "visit").dropna(axis=1, how="all")  # a hidden variable is not a column
        df = df.drop(index=df.index[(df.pid % 5 == 1) & (df.visit == 3)])  # shorter histories: a second pattern
        paths.append(d / f"{s.name}.csv")
        df.to_csv(paths[-1], index=False)
    (d / "structure.json").write_text(json.dumps(structure_to_json(dbn.structure)))
    summaries = []
    for p in paths:
        summaries.append(d / f"{p.stem}.summary")
        assert main(["summarize", "--data", str(p), "--id-col", "pid", "--time-col", "visit", "--out",
                     str(summaries[-1]), "--chunksize", "97"]) == 0
    return d, paths, summaries


def distill_rows(d, paths):
    """The rows path: align, standardise, distil with the summary-drawn starting set."""
    given = read_structure(d / "structure.json")
    panel = align_panel(read_frames(paths), "pid", "visit")
    sources = Sources([s.reorder(given.variables) for s in panel.sources]).to(dtype=torch.float64)
    scaling = Scaling.fit(sources)
    task = DBNLikelihoodTask(given, score_on="all", obs_noise={n: 0.3 for n in sources.names}, init="summaries")
    res = distill(task, scaling.sources(sources), BUDGET, method="exact", seed=0, steps=STEPS, lr=0.05,
                  device="cpu", quiet=True)
    with torch.no_grad():
        ll = float(task.score(task.fit(res.synthetic), scaling.sources(sources)))
    return scaling.to_user(res.synthetic["values"].detach()), ll


def test_distilling_summaries_gives_the_distilled_set_of_the_rows(sites, tmp_path):
    d, paths, summaries = sites
    rc = main(["distill", "--task", "dbn", "--summaries", *map(str, summaries), "--structure",
               str(d / "structure.json"), "--noise", "0.3", "--budget", str(BUDGET), "--steps", str(STEPS),
               "--seed", "0", "--device", "cpu", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    got = pd.read_csv(tmp_path / "distilled.csv")
    want, want_ll = distill_rows(d, paths)
    variables = list(read_structure(d / "structure.json").variables)
    vals = got[variables].to_numpy().reshape(want.shape)
    assert np.allclose(vals, want.numpy(), rtol=1e-7, atol=1e-8)
    res = pd.read_csv(tmp_path / "results.csv")
    ll = res[(res.metric == "source_ll_standard_units") & (res.method == "distilled_exact")].value.item()
    assert set(res.method) == {"distilled_exact", "direct_fit"}
    assert ll == pytest.approx(want_ll, rel=1e-9)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["from"] == "summaries" and run["structure_how"] == "given"


def test_the_cli_gives_the_same_distilled_csv_from_rows_with_init_summaries(sites, tmp_path):
    d, paths, summaries = sites
    common = ["--structure", str(d / "structure.json"), "--noise", "0.3", "--budget", str(BUDGET), "--steps",
              str(STEPS), "--seed", "0", "--device", "cpu", "--quiet"]
    assert main(["distill", "--summaries", *map(str, summaries), "--out", str(tmp_path / "s"), *common]) == 0
    assert main(["distill", "--data", *map(str, paths), "--id-col", "pid", "--time-col", "visit", "--init",
                 "summaries", "--out", str(tmp_path / "r"), *common]) == 0
    a, b = pd.read_csv(tmp_path / "s" / "distilled.csv"), pd.read_csv(tmp_path / "r" / "distilled.csv")
    assert list(a.columns) == list(b.columns) and a.shape == b.shape
    num = a.select_dtypes("number").columns
    assert (a.drop(columns=num) == b.drop(columns=num)).all().all()
    assert np.allclose(a[num].to_numpy(), b[num].to_numpy(), rtol=1e-7, atol=1e-8)
    assert main(["distill", "--data", *map(str, paths), "--id-col", "pid", "--time-col", "visit",
                 "--out", str(tmp_path / "rows"), *common]) == 0  # the default start: copies of real rows
    c = pd.read_csv(tmp_path / "rows" / "distilled.csv")
    assert not np.allclose(a[num].to_numpy(), c[num].to_numpy(), rtol=1e-3)


def test_summaries_without_structure_are_refused_clearly(sites, tmp_path, capsys):
    d, _, summaries = sites
    rc = main(["distill", "--summaries", *map(str, summaries), "--noise", "0.3", "--budget", "4", "--out",
               str(tmp_path)])
    assert rc == 2 and "needs --structure FILE" in capsys.readouterr().err


def standard_sites_and_rows(d, paths, summaries):
    given = read_structure(d / "structure.json")
    sites = SiteSummaries([load_summary(p) for p in summaries]).reorder(given.variables)
    sites = SiteSummaries([s.standardized(site_scaling(sites)) for s in sites])
    panel = align_panel(read_frames(paths), "pid", "visit")
    rows = Sources([s.reorder(given.variables) for s in panel.sources]).to(dtype=torch.float64)
    return given, sites, Scaling.fit(rows).sources(rows)


def test_direct_fit_from_summaries_equals_the_one_from_rows(sites):
    given, summ, rows = standard_sites_and_rows(*sites)
    noise = {n: 0.3 for n in rows.names}
    start = baselines.impute(given, rows)
    a = baselines.direct_fit(given, summ, obs_noise=noise, init=start).parameters_dict()
    b = baselines.direct_fit(given, rows, obs_noise=noise, init=start).parameters_dict()
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=1e-6, atol=1e-7), k


def test_noise_estimated_from_summaries_matches_the_rows(sites):
    given, summ, rows = standard_sites_and_rows(*sites)
    _, from_summaries = baselines.fit_with_noise(given, summ)
    _, from_rows = baselines.fit_with_noise(given, rows)
    for n in rows.names:
        assert from_summaries[n] == pytest.approx(from_rows[n], rel=1e-3)
