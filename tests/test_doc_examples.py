"""The Python examples of README.md and docs/your-own-pde.md run as printed, with their step
counts cut (the substitutions below) so that the suite stays fast: a renamed argument or a moved
import in the public API breaks these tests, not a reader's first run."""

import re
from pathlib import Path

import pytest

from taskdd.registry import _TASKS
from taskdd.tasks.pinn.families import PROBLEMS

ROOT = Path(__file__).resolve().parents[1]


def _example(doc: str, after: str) -> str:
    """The first ```python block of ``doc`` after the text ``after``."""
    text = (ROOT / doc).read_text()
    start = text.index("```python", text.index(after)) + len("```python")
    return text[start:text.index("```", start)]


def _run(code: str, cuts: dict[str, str], tmp_path, monkeypatch) -> dict:
    for old, new in cuts.items():
        assert re.search(old, code), f"the example no longer contains {old!r}: update the cut"
        code = re.sub(old, new, code)
    monkeypatch.chdir(tmp_path)                       # examples that save write here
    namespace: dict = {"__name__": "doc_example"}
    exec(compile(code, "doc_example", "exec"), namespace)
    return namespace


EXAMPLES = {
    "quickstart": ("README.md", "## Quickstart (Python)", {r"steps=300": "steps=5", r"n_train=2000": "n_train=200"}),
    "your own PDE (README)": ("README.md", "A complete example, advection–diffusion",
                              {r"steps=300": "steps=3", r"eval_steps=1000": "eval_steps=20", r"n_train=200": "n_train=40",
                               r"torch.set_num_threads\(1\)": "pass"}),
    "1D family (doc)": ("docs/your-own-pde.md", "## Example: advection–diffusion",
                        {r"steps=20,": "steps=2,", r"eval_steps=300": "eval_steps=20", r"n_train=200": "n_train=40"}),
    "x-t family (doc)": ("docs/your-own-pde.md", "Example: a decaying diffusion",
                         {r"steps=20,": "steps=2,", r"eval_steps=300": "eval_steps=20", r"n_train=200": "n_train=40"}),
    "non-box family (doc)": ("docs/your-own-pde.md", "### Example: a domain that is not a box",
                             {r"steps=300,": "steps=2,", r"eval_steps=1000": "eval_steps=20", r"n_train=200": "n_train=40"}),
    "task plugin": ("README.md", "## Writing a task plugin", {}),
}


@pytest.fixture
def registries_restored():
    """The examples register PDE families and a task of their own: gone afterwards, pass or fail
    (built-in tasks that an example imports stay registered, as their modules stay imported)."""
    pdes, tasks = set(PROBLEMS), set(_TASKS)
    yield
    for name in set(PROBLEMS) - pdes:
        del PROBLEMS[name]
    for name in {"my-ridge"} & (set(_TASKS) - tasks):
        del _TASKS[name]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_documented_example_runs(name, tmp_path, monkeypatch, capsys, registries_restored):
    doc, after, cuts = EXAMPLES[name]
    namespace = _run(_example(doc, after), cuts, tmp_path, monkeypatch)
    if name == "task plugin":                         # the class alone: distil with it as the text says
        import taskdd
        from data_gen.regression import make_regression
        prob = make_regression(n_train=100, p=3, seed=0)
        res = taskdd.distill("my-ridge", prob.train, budget=5, steps=3, task_options={"ridge": 1e-2}, quiet=True)
        assert isinstance(namespace["MyRidge"], type) and res.history[-1]["step"] == 3
    else:
        assert capsys.readouterr().out.strip()        # it printed its result
