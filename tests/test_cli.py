import subprocess
import sys

import pandas as pd
import pytest

from taskdd.cases import parse_overrides
from taskdd.cli import main
from taskdd.errors import ConfigError
from case_studies.ridge_demo import Config


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "taskdd.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_and_info_exit_zero():
    assert _cli("--help").returncode == 0
    r = _cli("info")
    assert r.returncode == 0 and "torch" in r.stdout and "ridge" in r.stdout


def test_run_writes_results_and_run_json(tmp_path):
    assert main(["run", "ridge-demo", "--quick", "--quiet", "--out", str(tmp_path), "--set", "seeds=1"]) == 0
    df = pd.read_csv(tmp_path / "results.csv")
    assert list(df.columns) == ["case", "method", "budget", "seed", "metric", "value"]
    assert {"distilled_exact", "distilled_zeroth_order", "random", "full"} <= set(df.method)
    mse = df[df.metric == "test_mse"].groupby("method").value.mean()
    assert mse["distilled_exact"] < mse["random"]
    assert (tmp_path / "run.json").exists() and (tmp_path / "test_mse.png").exists()


@pytest.mark.parametrize("args, needle", [
    (["run", "nope"], "unknown case 'nope'"),
    (["run", "ridge-demo", "--set", "bogus=1"], "unknown --set key 'bogus'"),
    (["run", "ridge-demo", "--set", "seeds=two"], "expected int"),
    (["run", "ridge-demo", "--set", "seeds"], "key=value"),
    (["run", "ridge-demo", "--device", "tpu"], "device"),
])
def test_bad_cli_input_is_one_line_and_exit_2(args, needle, capsys, tmp_path):
    assert main([*args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_failing_subprocess_prints_one_line(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    r = _cli("run", "ridge-demo", "--quick", "--out", str(f / "sub"))
    assert r.returncode == 2 and "cannot be created" in r.stderr and "Traceback" not in r.stderr


def test_overrides_parse_with_the_field_types():
    ov = parse_overrides(Config, ["budgets=2,4", "lr=0.1", "seeds=3"])
    assert ov == {"budgets": (2, 4), "lr": 0.1, "seeds": 3}
    with pytest.raises(ConfigError, match="accepted keys"):
        parse_overrides(Config, ["nope=1"])
