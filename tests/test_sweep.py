import json

import pandas as pd
import pytest

from case_studies.ridge_demo import Config
from taskdd.errors import ConfigError
from taskdd.sweep import expand_grid, sweep

GRID = ["noise=0.2,0.5", "steps=20", "zo_steps=10"]


def test_grid_is_the_product_of_typed_axes():
    g = expand_grid(Config, ["noise=0.2,0.5", "budgets=2,3|4"])
    assert g == [{"noise": 0.2, "budgets": (2, 3)}, {"noise": 0.2, "budgets": (4,)},
                 {"noise": 0.5, "budgets": (2, 3)}, {"noise": 0.5, "budgets": (4,)}]
    with pytest.raises(ConfigError, match="accepted keys"):
        expand_grid(Config, ["nope=1,2"])


def test_grid_axes_reach_nested_config_fields():
    from case_studies.pinn_ood import Config as PinnConfig
    g = expand_grid(PinnConfig, ["task.width=16,32", "task.lifetimes=1500,3000|2000,4000"])
    assert g == [{"task.width": 16, "task.lifetimes": (1500, 3000)}, {"task.width": 16, "task.lifetimes": (2000, 4000)},
                 {"task.width": 32, "task.lifetimes": (1500, 3000)}, {"task.width": 32, "task.lifetimes": (2000, 4000)}]
    with pytest.raises(ConfigError, match="accepted keys under 'task'"):
        expand_grid(PinnConfig, ["task.nope=1,2"])


def test_each_worker_runs_with_the_given_thread_count(tmp_path):
    sweep("ridge-demo", out=tmp_path, seeds=1, grid=["steps=5", "zo_steps=5"], quick=True, workers=1, threads=2)
    assert json.loads((tmp_path / "sweep.json").read_text())["threads"] == 2
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "run.json").read_text())["torch_threads"] == 2


def test_local_and_ray_engines_write_identical_results(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    local = sweep("ridge-demo", out=tmp_path / "local", seeds=2, grid=GRID, quick=True, workers=2)
    ray_ = sweep("ridge-demo", out=tmp_path / "ray", seeds=2, grid=GRID, quick=True, engine="ray", workers=2)
    assert (tmp_path / "local" / "results.csv").read_bytes() == (tmp_path / "ray" / "results.csv").read_bytes()
    assert set(local.case) == {"ridge-demo[noise=0.2,steps=20,zo_steps=10]", "ridge-demo[noise=0.5,steps=20,zo_steps=10]"}
    assert sorted(local.seed.unique()) == [0, 1] and len(local) == len(ray_) > 0
    df = pd.read_csv(tmp_path / "local" / "results.csv")
    assert df.value.notna().all()


def test_unknown_engine_or_bad_threads_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="known engines: local, ray"):
        sweep("ridge-demo", out=tmp_path, engine="dask")
    with pytest.raises(ConfigError, match="threads must be an int >= 0"):
        sweep("ridge-demo", out=tmp_path, threads=-1)
