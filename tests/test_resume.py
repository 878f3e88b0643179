"""Kill-and-resume: a case run killed with SIGKILL and resumed writes the same results.csv."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

from taskdd.cases import run_case
from taskdd.errors import CheckpointError

# a small dbn-merge: one seed, one budget, exact and zeroth-order, checkpointed every 5 steps
DBN_MERGE = ["dbn-merge", "--set", "seeds=1", "--set", "ipcs=3", "--set", "methods=exact,zeroth_order",
             "--set", "zo_seeds=1", "--set", "problem.n_per_source=300", "--set", "problem.n_test=200",
             "--set", "exact.steps=600", "--set", "zeroth_order.steps=300"]  # steps take ~7 ms: the run
# must outlast the first checkpoint by more than the kill delay (1.5 s)
# a small pinn-ood: one PDE, two budgets; the pool's networks (eval_steps=200: warm-up 100, lifetimes
# 150 and 300 inner steps) outlive one distillation (20 x 5 inner steps), so a task reused across
# budgets that is not reset starts budget 8 from budget 5's pool
PINN_OOD = ["pinn-ood", "--set", "pdes=poisson", "--set", "budgets=5,8", "--set", "ablation_budgets=8",
            "--set", "steps=20", "--set", "n_train=40", "--set", "task.eval_steps=200", "--set", "task.eval_models=1",
            "--set", "grid_alphas=5", "--set", "grid_x=11", "--set", "task.unroll=5", "--set", "n_test_alphas=2",
            "--set", "n_test_x=11"]
# a small classifier-digits: two budgets, two methods, no early-training agreement
CLASSIFIER = ["classifier-digits", "--set", "ipcs=1,2", "--set", "methods=krr,dm", "--set", "krr_steps=60",
              "--set", "dm_steps=60", "--set", "protocol.n_models=1", "--set", "protocol.steps=50", "--set", "agreement_ipc=10"]


def _cli(case_args, out, *extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = ["run", case_args[0], "--quick", "--quiet", "--checkpoint-every", "5", *case_args[1:], "--out", str(out)]
    return subprocess.Popen([sys.executable, "-m", "taskdd.cli", *argv, *extra], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_and_resume(tmp_path: Path, case_args: list[str], ready: Callable[[Path], bool], max_delay: float) -> None:
    """Run the case once uninterrupted; run it again, SIGKILL it once ``ready(out)`` (plus a
    random delay up to ``max_delay`` s), resume it, and compare the two results.csv."""
    ref = _cli(case_args, tmp_path / "ref")
    assert ref.wait(timeout=600) == 0, ref.stderr.read()
    out = tmp_path / "run"
    victim = _cli(case_args, out)
    deadline = time.time() + 300
    while not ready(out):
        assert victim.poll() is None, "the run ended before the point where it was to be killed"
        assert time.time() < deadline
        time.sleep(0.02)
    time.sleep(random.Random(os.getpid()).uniform(0.0, max_delay))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (out / "results.csv").exists(), "killed too late to test anything"
    resumed = _cli(case_args, out, "--resume")
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    assert (out / "results.csv").read_text() == (tmp_path / "ref" / "results.csv").read_text()


def test_a_killed_run_resumes_to_identical_results(tmp_path):
    _kill_and_resume(tmp_path, DBN_MERGE, lambda out: any((out / "checkpoints").rglob("checkpoint.pt")), 1.5)


def test_a_pinn_run_killed_in_its_second_budget_resumes_to_identical_results(tmp_path):
    """Killed as budget 8's distillation starts (budget 5's units are done), the resumed run
    redoes it with a fresh task object, the uninterrupted one with the task that distilled
    budget 5: identical only because ``distill`` resets the task."""
    _kill_and_resume(tmp_path, PINN_OOD, lambda out: (out / "units" / "pde=poisson_random_subset_b8_seed0.json").exists(),
                     0.0)


def test_a_classifier_run_killed_in_its_second_budget_resumes_to_identical_results(tmp_path):
    _kill_and_resume(tmp_path, CLASSIFIER, lambda out: (out / "checkpoints" / "krr_b2_seed0").exists(), 0.3)


def test_resume_refuses_a_folder_with_no_run_or_other_settings(tmp_path):
    with pytest.raises(CheckpointError, match="nothing to resume"):
        run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, resume=True)
    run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, overrides=["seeds=1", "steps=5", "zo_steps=5"])
    with pytest.raises(CheckpointError, match="other settings"):
        run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, resume=True, overrides=["seeds=2"])
