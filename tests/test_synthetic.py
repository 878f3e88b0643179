import pytest
import torch

from taskdd import CheckpointError, DataError, SyntheticSet


def _set():
    return SyntheticSet([{"x": torch.zeros(2, 3), "y": torch.zeros(2)},
                         {"x": torch.ones(3, 3), "y": torch.ones(3)}], learnable=["x"])


def test_reading_concatenates_parts_and_keeps_the_graph():
    s = _set()
    x = s["x"]
    assert x.shape == (5, 3) and x.requires_grad
    x.sum().backward()
    assert s.parts[1]["x"].grad.shape == (3, 3)
    assert s.part_index().tolist() == [0, 0, 1, 1, 1]


def test_parameters_of_one_part_are_only_that_part():
    s = _set()
    assert len(s.parameters()) == 2 and s.parameters(1)[0] is s.parts[1]["x"]
    assert not s.parts[0]["y"].requires_grad


def test_state_round_trip():
    s = _set()
    with torch.no_grad():
        s.parts[0]["x"].add_(2.5)
    back = SyntheticSet.from_state(s.spec(), s.state_dict())
    assert torch.equal(back["x"], s["x"].detach()) and back.learnable == s.learnable


def test_with_learnable_replaces_one_part():
    s = _set()
    v = s.with_learnable([torch.full((3, 3), 7.0)], part=1)
    assert v["x"][2:].eq(7).all() and v["x"][:2].eq(0).all()


def test_mismatched_parts_are_refused():
    with pytest.raises(DataError, match="incompatible"):
        SyntheticSet([{"x": torch.zeros(2, 3)}, {"x": torch.zeros(2, 4)}], learnable=["x"])
    with pytest.raises(DataError, match="not tensors of the set"):
        SyntheticSet([{"x": torch.zeros(2, 3)}], learnable=["z"])


def test_loading_a_wrong_state_is_a_checkpoint_error():
    with pytest.raises(CheckpointError):
        SyntheticSet.from_state(_set().spec(), {"0.x": torch.zeros(2, 3)})
