"""The case runner: --set overrides with nested keys (taskdd.overrides), the study grid
(taskdd.study) with resumable units and its results/timings rows, and resume checks (taskdd.cases)."""

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pytest
import torch

from data_gen.regression import make_regression
from taskdd.cases import RunContext, run_case
from taskdd.errors import CheckpointError, ConfigError, TaskError
from taskdd.overrides import accepted_keys, apply_overrides, parse_overrides
from taskdd.results import ResultsTable
from taskdd.study import Cell, Method, Study
from taskdd.tasks.ridge import RidgeRegressionTask


@dataclass(frozen=True)
class Inner:
    width: int = 32
    rate: float = 0.1
    ages: tuple[int, int] | None = None
    kind: Literal["a", "b"] = "a"

    def __post_init__(self):
        if self.width < 1:
            raise ConfigError(f"width must be >= 1, got {self.width}")


@dataclass(frozen=True)
class Outer:
    seeds: int = 2
    budgets: tuple[int, ...] = (1, 2)
    inner: Inner = field(default_factory=Inner)


# --- overrides ---------------------------------------------------------------------------------

def test_dotted_keys_are_parsed_with_the_nested_field_types():
    ov = parse_overrides(Outer, ["inner.width=64", "inner.rate=0.5", "inner.ages=10,20", "inner.kind=b", "seeds=3"])
    assert ov == {"inner.width": 64, "inner.rate": 0.5, "inner.ages": (10, 20), "inner.kind": "b", "seeds": 3}
    assert parse_overrides(Outer, ["inner.ages=none"]) == {"inner.ages": None}


def test_apply_overrides_replaces_nested_fields_and_keeps_the_rest():
    cfg = apply_overrides(Outer(), {"inner.width": 64, "seeds": 1})
    assert cfg == Outer(seeds=1, inner=Inner(width=64))
    assert apply_overrides(cfg, {"inner.rate": 0.2}).inner == Inner(width=64, rate=0.2)


def test_accepted_keys_list_nested_fields_dotted():
    assert accepted_keys(Outer) == ["budgets", "inner.ages", "inner.kind", "inner.rate", "inner.width", "seeds"]


@pytest.mark.parametrize("item, message", [
    ("bogus=1", r"unknown --set key 'bogus'; accepted keys: budgets, inner.ages, inner.kind, inner.rate, inner.width"),
    ("inner.widht=1", r"unknown --set key 'inner.widht'; accepted keys under 'inner': inner.ages, inner.kind, "
                      r"inner.rate, inner.width$"),
    ("inner=3", r"'inner' is a group of settings; set its fields as inner.KEY=VALUE, accepted keys: inner.ages"),
    ("seeds.x=3", r"unknown --set key 'seeds.x': 'seeds' has no fields"),
    ("inner.width=wide", r"--set inner.width='wide': expected int"),
    ("inner.kind=c", r"--set inner.kind='c': accepted values are \['a', 'b'\]"),
])
def test_bad_keys_and_values_are_config_errors_naming_the_key(item, message):
    with pytest.raises(ConfigError, match=message):
        parse_overrides(Outer, [item])


def test_nested_validation_runs_and_unknown_programmatic_keys_are_named():
    with pytest.raises(ConfigError, match="width must be >= 1, got 0"):
        apply_overrides(Outer(), {"inner.width": 0})
    with pytest.raises(ConfigError, match=r"unknown config key 'inner.nope'; accepted keys: inner.ages"):
        apply_overrides(Outer(), {"inner.nope": 1})


def test_a_case_config_embeds_its_task_and_takes_dotted_overrides():
    from case_studies.pinn_ood import Config
    cfg = apply_overrides(Config(), parse_overrides(Config, ["task.width=16", "task.lifetimes=1500,3000"]))
    assert (cfg.task.width, cfg.task.lifetimes, cfg.task.depth) == (16, (1500, 3000), 2)
    with pytest.raises(ConfigError, match="accepted keys under 'task': .*task.width"):
        parse_overrides(Config, ["task.widht=16"])


# --- the study runner --------------------------------------------------------------------------

def _ctx(out, resume=False, **kw) -> RunContext:
    return RunContext(case="demo", out=out, device=torch.device("cpu"), seed=0, quick=True, quiet=True,
                      results=ResultsTable("demo"), resume=resume, **kw)


def _methods(calls: list):
    def work(name):
        def run(c: Cell):
            calls.append(c.key)
            return {"metrics": {"m": 10.0 * c.seed + (c.budget or 0)}, "timing": {"wall_time_s": 1.0}, "extra": [1]}
        return run
    return [Method("full", work("full"), budgeted=False), Method("a", work("a")),
            Method("b", work("b"), when=lambda c: c.budget == 5)]


def test_a_block_runs_methods_per_budget_in_order_and_records_rows(tmp_path):
    calls = []
    study = Study(_ctx(tmp_path))
    got = study.block(_methods(calls), seed=1, budgets=(2, 5), setting="T=3")
    assert calls == ["T=3_full_seed1", "T=3_a_b2_seed1", "T=3_a_b5_seed1", "T=3_b_b5_seed1"]
    assert list(got) == [("full", None), ("a", 2), ("a", 5), ("b", 5)] and got[("a", 5)]["extra"] == [1]
    rows = study.ctx.results.frame()
    assert list(rows.case.unique()) == ["demo:T=3"] and rows.value.tolist() == [10.0, 12.0, 15.0, 15.0]
    assert pd.isna(rows.budget[0]) and len(study.ctx.timings.frame()) == 4


def test_finished_units_are_read_back_on_resume_not_rerun(tmp_path):
    calls = []
    first, again = Study(_ctx(tmp_path)), Study(_ctx(tmp_path, resume=True))
    got = first.block(_methods(calls), seed=0, budgets=(5,))
    assert again.block(_methods(calls), seed=0, budgets=(5,)) == got
    assert len(calls) == 3 and again.ctx.results.rows == first.ctx.results.rows
    assert again.ctx.timings.rows == first.ctx.timings.rows
    Study(_ctx(tmp_path)).block(_methods(calls), seed=0, budgets=(5,))
    assert len(calls) == 6  # without resume every unit is recomputed


def test_a_corrupt_unit_file_is_a_checkpoint_error(tmp_path):
    Study(_ctx(tmp_path)).block(_methods([]), seed=0, budgets=(5,))
    (tmp_path / "units" / "a_b5_seed0.json").write_text("{trunc")
    with pytest.raises(CheckpointError, match="a_b5_seed0.json' is corrupt"):
        Study(_ctx(tmp_path, resume=True)).block(_methods([]), seed=0, budgets=(5,))


@pytest.mark.parametrize("payload, message", [
    ({"value": 1.0}, r"the work of 'x_b1_seed0' returned dict; it must return a dict with 'metrics'"),
    ({"metrics": {"m": torch.tensor(1.0)}}, r"unit 'x_b1_seed0' returned data that JSON cannot hold"),
])
def test_bad_payloads_are_task_errors(payload, message, tmp_path):
    with pytest.raises(TaskError, match=message):
        Study(_ctx(tmp_path)).unit(Cell("x", 1, 0), lambda: payload)


def test_a_distillation_unit_returns_metrics_and_timing_and_checkpoints(tmp_path):
    prob = make_regression(100, 50, 3, 0.1, seed=0)
    task = RidgeRegressionTask()
    study = Study(_ctx(tmp_path, checkpoint_every=2))
    cell = Cell("distilled", 4, 0)
    out = study.unit(cell, lambda: study.distill(cell, task, prob.train, steps=4, lr=0.05,
                                                 evaluate=lambda r: {"metrics": task.evaluate(r.synthetic, prob.test),
                                                                     "steps": r.n_steps}))
    assert set(out["metrics"]) == {"test_mse", "test_r2"} and out["steps"] == 4
    assert out["timing"]["wall_time_s"] > 0 and out["timing"]["time_per_step_s"] == pytest.approx(
        out["timing"]["wall_time_s"] / 4)
    assert any((tmp_path / "checkpoints" / "distilled_b4_seed0").iterdir())
    assert set(study.ctx.timings.frame().metric) == {"wall_time_s", "time_per_step_s"}


# --- run_case ----------------------------------------------------------------------------------

TINY = ["seeds=1", "steps=5", "zo_steps=5"]


def test_resume_reads_every_unit_back_and_writes_the_same_results(tmp_path, monkeypatch):
    run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, overrides=TINY)
    first = (tmp_path / "results.csv").read_text()

    def no_distill(*a, **k):
        raise AssertionError("a finished unit was recomputed")
    monkeypatch.setattr("taskdd.study.distill", no_distill)
    run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, overrides=TINY, resume=True)
    assert (tmp_path / "results.csv").read_text() == first
    run_json = json.loads((tmp_path / "run.json").read_text())
    assert run_json["torch_threads"] == torch.get_num_threads() and run_json["config"]["steps"] == 5


def test_resume_refuses_changed_settings_naming_them(tmp_path):
    run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, overrides=TINY)
    with pytest.raises(CheckpointError, match=r"other settings \(config.steps: 5 -> 6\)"):
        run_case("ridge-demo", out=tmp_path, quick=True, quiet=True, resume=True, overrides=[*TINY, "steps=6"])


def test_resume_names_a_changed_nested_setting(tmp_path):
    from case_studies.pinn_ood import CASE
    started = apply_overrides(apply_overrides(CASE.config_cls(), CASE.quick), {"task.width": 8})
    (tmp_path / "run.started.json").write_text(json.dumps(
        {"case": "pinn-ood", "quick": True, "seed": 0, "config": dataclasses.asdict(started)}))
    with pytest.raises(CheckpointError, match=r"other settings \(config.task.width: 8 -> 16\)"):
        run_case("pinn-ood", out=tmp_path, quick=True, quiet=True, resume=True, overrides=["task.width=16"])
