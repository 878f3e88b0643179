"""DistillResult: save / load round trip, and the views that skip the step-0 evaluation row."""

import json
import math

import pytest
import torch

from data_gen.regression import make_regression
from taskdd import CheckpointError, DistillResult, SyntheticSet, distill


@pytest.fixture
def problem():
    return make_regression(n_train=200, n_test=200, p=4, noise=0.3, seed=1, dtype=torch.float64)


def _result(history):
    return DistillResult(SyntheticSet([{"x": torch.zeros(2, 1)}], ["x"]), history)


def test_result_save_and_load_round_trip(problem, tmp_path):
    res = distill("ridge", problem.train, 5, steps=3, device="cpu", quiet=True, test=problem.test)
    res.save(tmp_path / "r")
    back = DistillResult.load(tmp_path / "r")
    assert torch.equal(back.synthetic["x"], res.synthetic["x"]) and back.history == json.loads(
        json.dumps(res.history)) and back.config["budget"] == 5
    assert back.history[0]["step"] == 0 and back.n_steps == 3
    (tmp_path / "r" / "result.json").write_text("{}")
    with pytest.raises(CheckpointError, match="not a taskdd DistillResult"):
        DistillResult.load(tmp_path / "r")


def test_loading_a_folder_without_a_result_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="holds no result.json"):
        DistillResult.load(tmp_path)
    (tmp_path / "result.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="is corrupt"):
        DistillResult.load(tmp_path)


def test_step_views_skip_the_evaluation_of_the_starting_set():
    res = _result([{"step": 0, "part": -1, "wall_time": 0.0, "acc": 0.1},
                   {"step": 1, "part": -1, "score": -2.0, "wall_time": 0.5},
                   {"step": 2, "part": -1, "score": -1.0, "wall_time": 0.75, "acc": 0.9}])
    assert [r["step"] for r in res.step_rows] == [1, 2]
    assert (res.n_steps, res.final_score, res.wall_time) == (2, -1.0, 0.75)


def test_a_result_without_steps_has_a_nan_score_and_no_time():
    only_start = _result([{"step": 0, "part": -1, "wall_time": 0.0, "acc": 0.1}])
    for res in (only_start, _result([])):
        assert res.n_steps == 0 and math.isnan(res.final_score) and res.wall_time == 0.0
