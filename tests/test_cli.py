import json
import subprocess
import sys

import pandas as pd
import pytest
import torch

from taskdd.cases import parse_overrides
from taskdd.cli import main
from taskdd.errors import ConfigError
from case_studies.ridge_demo import Config

TINY = ["--quick", "--quiet", "--set", "seeds=1", "--set", "steps=5", "--set", "zo_steps=5"]


@pytest.fixture(autouse=True)
def _restore_torch_threads():
    """main() sets torch's thread count, as the command should; put the test process's back."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "taskdd.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_and_info_exit_zero():
    assert _cli("--help").returncode == 0
    assert "--noise SIGMA|saved" in _cli("evaluate", "--help").stdout
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
    (["run", "pinn-ood", "--set", "task.widht=3"], "unknown --set key 'task.widht'; accepted keys under 'task': "),
    (["run", "ridge-demo", "--threads", "-1"], "--threads -1: expected an int >= 0"),
    (["evaluate", "--model", "no/such/run", "--data", "test.csv"], "model directory 'no/such/run' does not exist"),
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


@pytest.mark.parametrize("flag, env, expected", [([], None, 1), (["--threads", "2"], "3", 2), ([], "3", 3)])
def test_threads_default_to_one_and_are_recorded(flag, env, expected, tmp_path, monkeypatch):
    if env is None:
        monkeypatch.delenv("TASKDD_THREADS", raising=False)
    else:
        monkeypatch.setenv("TASKDD_THREADS", env)
    torch.set_num_threads(4)
    assert main(["run", "ridge-demo", *TINY, *flag, "--out", str(tmp_path)]) == 0
    assert json.loads((tmp_path / "run.json").read_text())["torch_threads"] == expected == torch.get_num_threads()


def test_a_bad_threads_variable_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TASKDD_THREADS", "many")
    assert main(["run", "ridge-demo", *TINY, "--out", str(tmp_path)]) == 2
    assert "TASKDD_THREADS='many': expected an int >= 0" in capsys.readouterr().err
