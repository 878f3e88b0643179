"""deepxde stays out of the process until the PINN task needs it, and leaves no global device."""

import subprocess
import sys


def _run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_importing_taskdd_and_the_pinn_task_does_not_import_deepxde():
    out = _run("import sys, taskdd, taskdd.tasks.pinn; from taskdd import get_task; get_task('pinn'); "
               "print('deepxde' in sys.modules)")
    assert out == "False"


def test_using_deepxde_leaves_no_default_device_mode_and_prints_nothing():
    code = ("import torch; from torch.overrides import _get_current_function_mode_stack as s; "
            "from taskdd.tasks.pinn.problems import sample_collocation; sample_collocation((0.0, 1.0), 4, 2, pde=\"poisson\"); "
            "import sys; print('deepxde' in sys.modules, torch.get_default_device(), len(s()))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "True cpu 0"
    assert r.stderr == ""
