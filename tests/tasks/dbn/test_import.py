"""The DBN task loads no heavy library until a part that needs it is used."""

import subprocess
import sys

HEAVY = ("pgmpy", "deepxde", "ray", "matplotlib")


def _loaded(code: str) -> list[str]:
    probe = f"{code}\nimport sys; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_building_the_dbn_task_loads_no_heavy_library():
    code = ("import taskdd\nfrom taskdd import get_task\nfrom taskdd.tasks.dbn import DBNStructure\n"
            "get_task('dbn', structure=DBNStructure(['a', 'b'], {'b': ['a']}, {'a': ['a']}))\n"
            "import taskdd.tasks.dbn.task, taskdd.tasks.dbn.baselines, taskdd.tasks.dbn.user_data")
    assert _loaded(code) == []


def test_the_pgmpy_learner_loads_pgmpy_when_it_fits():
    # the probe must be able to see pgmpy arrive, or the test above proves nothing
    code = ("import torch\nfrom taskdd import SyntheticSet\nfrom taskdd.tasks.dbn import DBNStructure\n"
            "from taskdd.tasks.dbn.task import DBNLikelihoodTask\n"
            "task = DBNLikelihoodTask(DBNStructure(['a', 'b'], {'b': ['a']}, {'a': ['a']}), learner='pgmpy')\n"
            "g = torch.Generator().manual_seed(0)\n"
            "task.fit(SyntheticSet([{'values': torch.randn(20, 3, 2, generator=g, dtype=torch.float64)}], "
            "learnable=['values']))")
    assert _loaded(code) == ["pgmpy"]
