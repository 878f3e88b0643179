"""Site summary files: chunked CSV reading equals the rows, the file round-trips, versions are checked."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd.errors import DataError
from taskdd.tasks.dbn.panel import align_panel
from taskdd.tasks.dbn.site import SiteSummaries, site_scaling
from taskdd.tasks.dbn.scaling import Scaling
from taskdd.tasks.dbn.site_file import load_summary, save_summary, summarize_csv
from taskdd.tasks.dbn.summaries import summarize
from taskdd.data import Sources


@pytest.fixture(scope="module")
def csvs(tmp_path_factory):
    d = tmp_path_factory.mktemp("site")
    prob = make_sources(random_dbn(4, seed=2), n_per_source=120, T=5, K=2, hidden_per_source=1, noise=0.3,
                        n_test=10, seed=2)
    paths = []
    for j, s in enumerate(prob.sources):
        df = s.to_dataframe("pid", "visit").dropna(axis=1, how="all")  # a hidden variable is not a column
        df = df.drop(index=df.index[(df.pid % 7 == 3) & (df.visit == 2)])  # missed visits: a second pattern
        df["visit"] = df["visit"] * 3 + 10 * j  # a grid step of 3, another origin per site
        paths.append(d / f"clinic_{'ab'[j]}.csv")
        df.to_csv(paths[-1], index=False)
    return paths


def rows_of(paths):
    frames = {p.stem: pd.read_csv(p) for p in paths}
    return align_panel(frames, "pid", "visit").sources


@pytest.mark.parametrize("chunksize", [7, 10 ** 6])
def test_chunked_summary_equals_the_summary_of_the_aligned_rows(csvs, chunksize):
    src = rows_of(csvs[:1])[0]
    site = summarize_csv(csvs[:1], id_col="pid", time_col="visit", chunksize=chunksize)
    want = summarize(src.values.double(), src.mask)
    assert site.variables == src.variables and site.grid["step"] == 3 and site.grid["slices"] == 5
    assert torch.equal(site.summary.masks, want.masks) and torch.equal(site.summary.counts, want.counts)
    assert torch.allclose(site.summary.means, want.means, rtol=1e-13, atol=1e-13)
    assert torch.allclose(site.summary.covs, want.covs, rtol=1e-12, atol=1e-12)
    assert len(site.summary) == 2 and site.info["sequences"] == 120


def test_scaling_from_summaries_equals_scaling_from_rows(csvs):
    sites = SiteSummaries([summarize_csv([p], id_col="pid", time_col="visit", chunksize=50) for p in csvs])
    rows = Scaling.fit(Sources([s.reorder(sites.variables) for s in rows_of(csvs)]))
    got = site_scaling(sites)
    assert got.variables == rows.variables
    assert torch.allclose(got.mean, rows.mean, rtol=1e-12) and torch.allclose(got.std, rows.std, rtol=1e-12)


def test_file_round_trips_without_pickle(csvs, tmp_path):
    site = summarize_csv(csvs[:1], id_col="pid", time_col="visit")
    path = save_summary(site, tmp_path / "a.summary")
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        assert meta["format"] == "taskdd-dbn-summary" and meta["version"] == 1 and z["covs"].dtype == np.float64
    back = load_summary(path)
    assert back.variables == site.variables and back.grid == site.grid and back.info == site.info
    assert torch.equal(back.summary.covs, site.summary.covs) and torch.equal(back.summary.masks, site.summary.masks)


def test_unknown_version_and_foreign_files_are_refused(csvs, tmp_path):
    site = summarize_csv(csvs[:1], id_col="pid", time_col="visit")
    path = save_summary(site, tmp_path / "a.summary")
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    arrays["meta"] = np.frombuffer(json.dumps({**meta, "version": 2}).encode(), dtype=np.uint8)
    with open(tmp_path / "b.summary", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(DataError, match="version 2; this taskdd reads version 1"):
        load_summary(tmp_path / "b.summary")
    (tmp_path / "c.summary").write_text("pid,visit\n1,2\n")
    with pytest.raises(DataError, match="not a taskdd summary"):
        load_summary(tmp_path / "c.summary")


def test_unsorted_file_is_refused_for_chunked_reading(csvs, tmp_path):
    df = pd.read_csv(csvs[0]).sample(frac=1.0, random_state=0)
    df.to_csv(tmp_path / "shuffled.csv", index=False)
    with pytest.raises(DataError, match="must be contiguous"):
        summarize_csv([tmp_path / "shuffled.csv"], id_col="pid", time_col="visit")


def test_shards_of_one_site_merge_to_the_whole(csvs, tmp_path):
    df = pd.read_csv(csvs[0])
    df[df.pid < 60].to_csv(tmp_path / "s1.csv", index=False)
    df[df.pid >= 60].to_csv(tmp_path / "s2.csv", index=False)
    whole = summarize_csv(csvs[:1], id_col="pid", time_col="visit")
    parts = summarize_csv([tmp_path / "s1.csv", tmp_path / "s2.csv"], id_col="pid", time_col="visit",
                          engine="process", workers=2)
    assert torch.equal(parts.summary.counts, whole.summary.counts)
    assert torch.allclose(parts.summary.covs, whole.summary.covs, rtol=1e-12, atol=1e-12)


def test_private_summary_from_csv_matches_the_in_memory_mechanism_and_records_its_accounting(csvs, tmp_path):
    from taskdd.cli import main
    from taskdd.tasks.dbn.privacy import analytic_gaussian_sigma, bounded_sums
    src = rows_of(csvs[:1])[0]
    variables = list(src.variables)
    spec = {"bounds": {v: [-20.0, 20.0] for v in variables}}
    (tmp_path / "dp.json").write_text(json.dumps(spec))
    out = tmp_path / "a.summary"
    assert main(["summarize", "--data", str(csvs[0]), "--id-col", "pid", "--time-col", "visit", "--out", str(out),
                 "--chunksize", "50", "--dp-epsilon", "2", "--dp-spec", str(tmp_path / "dp.json"), "--dp-seed", "3"]) == 0
    site = load_summary(out)
    acc = site.info["dp"]
    D = len(variables) * 5
    assert acc["epsilon"] == 2 and acc["delta"] == 1e-5 and acc["l2_sensitivity"] == pytest.approx((1 + D + D * D) ** 0.5)
    assert acc["sigma"] == pytest.approx(analytic_gaussian_sigma(2.0, 1e-5, acc["l2_sensitivity"]))
    full = torch.ones(1, 5, len(variables), dtype=torch.bool)
    sums = bounded_sums(src.values.double(), src.mask, full, torch.full((len(variables),), -20.0),
                        torch.full((len(variables),), 20.0))
    assert acc["rows_dropped_other_patterns"] == sums.dropped == 120 - int(sums.n[0])
    assert abs(float(site.summary.counts[0]) - float(sums.n[0])) < 6 * acc["sigma"]


def test_sites_are_found_by_name_and_names_must_be_unique(csvs):
    a, b = (summarize_csv([p], id_col="pid", time_col="visit") for p in csvs[:2])
    sites = SiteSummaries([a, b])
    assert sites[b.name] is sites[1] and sites.names == [a.name, b.name] and len(sites) == 2
    with pytest.raises(DataError, match=rf"no site named 'nowhere'; sites are \['{a.name}', '{b.name}'\]"):
        sites["nowhere"]
    with pytest.raises(DataError, match="site names must be unique"):
        SiteSummaries([a, a])
