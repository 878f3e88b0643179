"""Loop checkpoints: round trip, corrupt or foreign files refused, the loop state they hold."""

import pytest
import torch

from data_gen.regression import make_regression
from taskdd import CheckpointError, distill, make_generator
from taskdd.distill.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from taskdd.distill.state import LoopState
from taskdd.tasks.ridge import RidgeRegressionTask


@pytest.fixture
def problem():
    return make_regression(n_train=200, n_test=200, p=4, noise=0.3, seed=1, dtype=torch.float64)


def _state(problem, seed=0, task=None):
    task = task or RidgeRegressionTask()
    syn = task.init_synthetic(problem.train, 5, make_generator(seed))
    return LoopState(syn, [torch.optim.Adam(syn.parameters(), lr=0.1)], make_generator(seed), task)


def test_save_and_load_round_trip(tmp_path):
    state = {"fingerprint": {"a": 1, "b": [1, 2]}, "step": 3, "x": torch.arange(4.0), "history": [{"step": 1}]}
    save_checkpoint(tmp_path, state)
    back = load_checkpoint(tmp_path, {"a": 1, "b": [1, 2]})
    assert back["step"] == 3 and torch.equal(back["x"], state["x"]) and back["history"] == [{"step": 1}]


def test_a_folder_without_a_checkpoint_has_nothing_to_resume(tmp_path):
    assert load_checkpoint(tmp_path, {}) is None


@pytest.mark.parametrize("content, needle", [(b"not a checkpoint", "not a readable"), (b"", "not a readable")])
def test_a_corrupt_file_is_a_checkpoint_error(tmp_path, content, needle):
    (tmp_path / CHECKPOINT_NAME).write_bytes(content)
    with pytest.raises(CheckpointError, match=needle):
        load_checkpoint(tmp_path, {})


def test_a_torch_file_that_is_not_ours_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / CHECKPOINT_NAME)
    with pytest.raises(CheckpointError, match="not a taskdd checkpoint"):
        load_checkpoint(tmp_path, {})


def test_a_fingerprint_mismatch_is_refused_and_names_the_settings(tmp_path):
    save_checkpoint(tmp_path, {"fingerprint": {"budget": 5, "lr": 0.1, "seed": 0}})
    with pytest.raises(CheckpointError, match=r"another run \(settings differ: \['budget', 'lr'\]\)"):
        load_checkpoint(tmp_path, {"budget": 6, "lr": 0.2, "seed": 0})


def test_distill_refuses_a_foreign_or_corrupt_checkpoint(problem, tmp_path):
    distill("ridge", problem.train, 5, steps=2, device="cpu", quiet=True, checkpoint_dir=tmp_path, checkpoint_every=1)
    with pytest.raises(CheckpointError, match="another run"):
        distill("ridge", problem.train, 6, steps=2, device="cpu", quiet=True, checkpoint_dir=tmp_path, resume=True)
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        distill("ridge", problem.train, 5, steps=2, device="cpu", quiet=True, checkpoint_dir=tmp_path, resume=True)


def test_loop_state_round_trips_through_a_checkpoint(problem, tmp_path):
    a = _state(problem, seed=0)
    a.synthetic.parameters()[0].grad = torch.ones_like(a.synthetic.parameters()[0])
    a.synthetic.parameters()[1].grad = torch.ones_like(a.synthetic.parameters()[1])
    a.optimizers[0].step()
    torch.randn(3, generator=a.generator)
    a.history, a.step, a.elapsed = [{"step": 0, "part": -1, "wall_time": 0.0, "m": 1.0}], 1, 0.5
    save_checkpoint(tmp_path, {"fingerprint": {}, **a.state_dict()})
    b = _state(problem, seed=1)
    b.load_state_dict(load_checkpoint(tmp_path, {}))
    assert torch.equal(b.synthetic["x"], a.synthetic["x"]) and (b.step, b.elapsed, b.history) == (1, 0.5, a.history)
    assert torch.equal(torch.randn(3, generator=b.generator), torch.randn(3, generator=a.generator))
    assert b.optimizers[0].state_dict()["state"][0]["step"] == 1


class _Stateful(RidgeRegressionTask):
    def __post_init__(self):
        super().__post_init__()
        self.memory = torch.zeros(2)

    def reset(self, generator):
        self.memory = torch.zeros(2)

    def state_dict(self):
        return {"memory": self.memory.clone()}

    def load_state_dict(self, state):
        self.memory = state["memory"].clone()


def test_loop_state_restores_the_task_state(problem):
    task = _Stateful()
    a = _state(problem, task=task)
    task.memory += 3
    saved = a.state_dict()
    task.reset(make_generator(0))
    a.load_state_dict(saved)
    assert torch.equal(task.memory, torch.full((2,), 3.0))


@pytest.mark.parametrize("drop", ["synthetic", "optimizers", "generator", "task", "history", "step", "elapsed"])
def test_a_loop_state_with_an_entry_missing_is_a_checkpoint_error(problem, drop):
    saved = _state(problem).state_dict()
    del saved[drop]
    with pytest.raises(CheckpointError, match=f"lacks '{drop}'"):
        _state(problem).load_state_dict(saved)


def test_a_loop_state_with_other_optimisers_is_a_checkpoint_error(problem):
    saved = _state(problem).state_dict()
    saved["optimizers"] = saved["optimizers"] * 2
    with pytest.raises(CheckpointError, match="2 optimiser states, expected 1"):
        _state(problem).load_state_dict(saved)
