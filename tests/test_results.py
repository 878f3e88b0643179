"""results.py: atomic writes (no partial files, ordinary permissions), the tidy table, versions."""

import json
import os
import stat
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError

import pandas as pd
import pytest

from taskdd import ConfigError
from taskdd import results
from taskdd.results import RESULT_COLUMNS, ResultsTable, atomic_write, current_umask, ensure_out_dir, versions, write_json


@contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(path) as f:
            f.write("new, half written")
            raise RuntimeError("boom")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["results.csv"]


def test_a_failed_first_write_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / "fig.png", "wb") as f:
            f.write(b"\x89PNG")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("mask, want", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_new_files_get_the_mode_a_plain_open_would_give(tmp_path, mask, want):
    with umask(mask):
        assert current_umask() == mask
        with atomic_write(tmp_path / "a.csv") as f:
            f.write("x\n")
        write_json(tmp_path / "run.json", {"a": 1})
        ResultsTable("c").save(tmp_path / "results.csv")
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("x\n")
    assert mode(tmp_path / "plain.txt") == want
    assert {mode(tmp_path / n) for n in ("a.csv", "run.json", "results.csv")} == {want}


def test_a_replaced_file_keeps_its_own_mode_like_a_plain_open(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    with umask(0o077):
        with atomic_write(path) as f:
            f.write("new\n")
    assert path.read_text() == "new\n" and mode(path) == 0o640


def test_the_umask_is_read_without_proc_too(monkeypatch):
    def no_proc(*a, **k):
        raise OSError("no /proc here")

    monkeypatch.setattr(results, "open", no_proc, raising=False)
    with umask(0o027):
        assert current_umask() == 0o027
        assert current_umask() == 0o027  # reading it did not change it


def test_results_table_round_trips_through_csv(tmp_path):
    t = ResultsTable("demo")
    t.add("distilled", 10, 0, {"test_ll": -1.25, "acc": 0.5})
    t.add("sub", 10, 1, {"test_ll": -2.0}, case="demo/T=5")
    t.save(tmp_path / "results.csv")
    back = pd.read_csv(tmp_path / "results.csv")
    assert list(back.columns) == RESULT_COLUMNS
    pd.testing.assert_frame_equal(back, t.frame(), check_dtype=False)
    assert back.case.tolist() == ["demo", "demo", "demo/T=5"]


def test_summary_gives_mean_and_std_over_seeds_per_method_and_budget():
    t = ResultsTable("demo")
    for seed, v in enumerate([1.0, 3.0]):
        t.add("distilled", 10, seed, {"m": v})
    assert t.summary("m").loc["distilled", 10] == "2.0 ± 1.0"


def test_write_json_is_sorted_and_stringifies_other_values(tmp_path):
    write_json(tmp_path / "run.json", {"b": 1, "a": tmp_path})
    text = (tmp_path / "run.json").read_text()
    assert json.loads(text) == {"a": str(tmp_path), "b": 1} and text.index('"a"') < text.index('"b"')


def test_versions_name_every_library_and_survive_a_missing_one(monkeypatch):
    v = versions()
    assert {"python", "taskdd", "torch", "pgmpy", "numpy", "cuda"} <= set(v)
    real = results.version

    def without_pyro(pkg):
        if pkg == "pyro-ppl":
            raise PackageNotFoundError(pkg)
        return real(pkg)

    monkeypatch.setattr(results, "version", without_pyro)
    v = versions()
    assert v["pyro-ppl"] == "not installed" and v["torch"] == real("torch")


def test_an_output_path_that_is_a_file_is_a_config_error(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match="exists and is not a folder|cannot be created"):
        ensure_out_dir(tmp_path / "f")
    assert ensure_out_dir(tmp_path / "new" / "deep").is_dir()
