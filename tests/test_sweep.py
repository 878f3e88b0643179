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


def test_local_and_ray_engines_write_identical_results(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is not installed")
    local = sweep("ridge-demo", out=tmp_path / "local", seeds=2, grid=GRID, quick=True, workers=2)
    ray_ = sweep("ridge-demo", out=tmp_path / "ray", seeds=2, grid=GRID, quick=True, engine="ray", workers=2)
    assert (tmp_path / "local" / "results.csv").read_bytes() == (tmp_path / "ray" / "results.csv").read_bytes()
    assert set(local.case) == {"ridge-demo[noise=0.2,steps=20,zo_steps=10]", "ridge-demo[noise=0.5,steps=20,zo_steps=10]"}
    assert sorted(local.seed.unique()) == [0, 1] and len(local) == len(ray_) > 0
    df = pd.read_csv(tmp_path / "local" / "results.csv")
    assert df.value.notna().all()


def test_unknown_engine_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="known engines: local, ray"):
        sweep("ridge-demo", out=tmp_path, engine="dask")
