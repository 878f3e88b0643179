"""DistillSettings: the frozen settings of a call, its config and checkpoint fingerprint."""

import dataclasses

import pytest

from taskdd import ConfigError
from taskdd.distill.settings import DistillSettings, check_call

BASE = dict(task="ridge", task_config={"ridge": 0.001}, budget=5, method="exact", method_options={}, steps=10,
            lr=0.05, seed=0, device="cpu", dtype="torch.float64", schedule="all", optimizer="adam",
            lr_schedule="constant", eval_every=0)


def test_settings_are_frozen():
    s = DistillSettings(**BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.steps = 3  # type: ignore[misc]


def test_config_holds_every_result_setting_and_no_run_control():
    s = DistillSettings(**BASE, checkpoint_dir="/tmp/x", checkpoint_every=5, resume=True)
    assert s.config() == BASE


@pytest.mark.parametrize("lr_schedule, free", [("constant", {"steps", "eval_every"}), ("cosine", {"eval_every"})])
def test_the_fingerprint_leaves_out_what_a_resumed_run_may_change(lr_schedule, free):
    s = DistillSettings(**{**BASE, "lr_schedule": lr_schedule})
    assert set(s.config()) - set(s.fingerprint()) == free


def test_the_cyclic_schedule_walks_the_parts_and_cosine_decays_to_zero():
    s = DistillSettings(**{**BASE, "schedule": "cyclic", "lr_schedule": "cosine"})
    assert [s.part_at(t, 3) for t in range(5)] == [0, 1, 2, 0, 1]
    assert DistillSettings(**BASE).part_at(4, 3) is None
    assert s.lr_at(0) == 0.05 and s.lr_at(10) == pytest.approx(0.0)


def test_evaluation_happens_every_eval_every_and_at_the_last_step():
    s = DistillSettings(**{**BASE, "eval_every": 4})
    assert [t for t in range(1, 11) if s.evaluates_after(t)] == [4, 8, 10]
    assert [t for t in range(1, 11) if DistillSettings(**BASE).evaluates_after(t)] == [10]


def test_check_call_names_the_bad_setting():
    ok = dict(budget=5, steps=10, lr=0.1, schedule="all", optimizer="adam", lr_schedule="constant", eval_every=0,
              checkpoint_every=0, checkpoint_dir=None, resume=False)
    check_call(**ok)
    for key, bad in (("steps", True), ("budget", 2.0), ("lr", float("nan")), ("checkpoint_every", 3)):
        with pytest.raises(ConfigError, match="steps|budget|lr|checkpoint"):
            check_call(**{**ok, key: bad})
