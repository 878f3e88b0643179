"""Kill-and-resume: a case run killed with SIGKILL and resumed writes the same results.csv."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from taskdd.cases import run_case
from taskdd.errors import CheckpointError

# a small dbn-merge: one seed, one budget, exact and zeroth-order, checkpointed every 5 steps
ARGS = ["run", "dbn-merge", "--quick", "--quiet", "--checkpoint-every", "5",
        "--set", "seeds=1", "--set", "ipcs=3", "--set", "methods=exact,zeroth_order", "--set", "zo_seeds=1",
        "--set", "problem.n_per_source=300", "--set", "problem.n_test=200", "--set", "exact.steps=60",
        "--set", "zeroth_order.steps=40"]


def _cli(out, *extra, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "taskdd.cli", *ARGS, "--out", str(out), *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kw)


def test_a_killed_run_resumes_to_identical_results(tmp_path):
    ref = _cli(tmp_path / "ref")
    assert ref.wait(timeout=600) == 0, ref.stderr.read()
    victim = _cli(tmp_path / "run")
    ckpt = tmp_path / "run" / "checkpoints"
    deadline = time.time() + 300
    while not (ckpt.exists() and any(ckpt.rglob("checkpoint.pt"))):
        assert victim.poll() is None, "the run ended before its first checkpoint"
        assert time.time() < deadline
        time.sleep(0.05)
    time.sleep(random.Random(os.getpid()).uniform(0.0, 1.5))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "run" / "results.csv").exists(), "killed too late to test anything"
    resumed = _cli(tmp_path / "run", "--resume")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    assert (tmp_path / "run" / "results.csv").read_text() == (tmp_path / "ref" / "results.csv").read_text()


def test_resume_refuses_a_folder_with_no_run_or_other_settings(tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, resume=True)
    run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, overrides=["seeds=1", "steps=5", "zo_steps=5"])
    with pytest.raises(CheckpointError, match="other settings"):
        run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, resume=True, overrides=["seeds=2"])
