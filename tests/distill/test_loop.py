"""The distill loop on the reference ridge task: schedules, evaluation rows, callbacks, resume,
non-finite values, the task lifecycle and bad settings."""

import math

import pytest
import torch

from data_gen.regression import make_regression
from taskdd import CheckpointError, ConfigError, NonFiniteError, SyntheticSet, distill, make_generator
from taskdd.tasks.ridge import RidgeRegressionTask


@pytest.fixture
def problem():
    return make_regression(n_train=200, n_test=200, p=4, noise=0.3, seed=1, dtype=torch.float64)


def _no_wall(history):
    return [{k: v for k, v in r.items() if k != "wall_time"} for r in history]


@pytest.mark.parametrize("method, opts", [("exact", None), ("zeroth_order", {"directions": 8, "smoothing": 1e-3})])
def test_both_methods_raise_the_score_and_the_test_fit(problem, method, opts, device):
    task = RidgeRegressionTask()
    res = distill(task, problem.train, 6, method=method, steps=60, lr=0.05, seed=0, device=device,
                  method_options=opts, test=problem.test, eval_every=60, quiet=True)
    rows = res.step_rows
    assert rows[-1]["score"] > rows[0]["score"] + 0.1
    assert res.history[-1]["test_mse"] < 0.5 * res.history[0]["test_mse"]
    assert res.synthetic.device.type == device.type


def test_a_non_differentiable_task_refuses_the_exact_method(problem):
    class BlackBox(RidgeRegressionTask):
        differentiable = False

    with pytest.raises(ConfigError, match="zeroth_order"):
        distill(BlackBox(), problem.train, 5, steps=1, device="cpu", quiet=True)


def test_cyclic_schedule_updates_one_part_per_step(problem):
    class TwoParts(RidgeRegressionTask):
        def init_synthetic(self, sources, budget, generator):
            s = super().init_synthetic(sources, 2 * budget, generator)
            x, y = s["x"].detach(), s["y"].detach()
            return SyntheticSet([{"x": x[:budget], "y": y[:budget]}, {"x": x[budget:], "y": y[budget:]}], ["x", "y"])

    task = TwoParts()
    init = task.init_synthetic(problem.train, 4, make_generator(0))
    res = distill(task, problem.train, 4, steps=1, schedule="cyclic", seed=0, device="cpu", quiet=True)
    assert torch.equal(res.synthetic.parts[1]["x"], init.parts[1]["x"].detach())
    assert not torch.equal(res.synthetic.parts[0]["x"], init.parts[0]["x"].detach())
    assert [h["part"] for h in distill(task, problem.train, 4, steps=3, schedule="cyclic", device="cpu",
                                       quiet=True).history] == [0, 1, 0]


# --- evaluation rows ------------------------------------------------------------------------
def test_with_test_data_the_history_starts_with_the_starting_set(problem):
    task = RidgeRegressionTask()
    res = distill(task, problem.train, 5, steps=3, seed=2, device="cpu", quiet=True, test=problem.test)
    init = task.init_synthetic(problem.train, 5, make_generator(2))
    first = res.history[0]
    assert {k: first[k] for k in ("step", "part", "wall_time")} == {"step": 0, "part": -1, "wall_time": 0.0}
    assert "score" not in first and first["test_mse"] == task.evaluate(init, problem.test)["test_mse"]
    assert [h["step"] for h in res.history] == [0, 1, 2, 3] and [h["step"] for h in res.step_rows] == [1, 2, 3]
    assert res.n_steps == 3 and res.final_score == res.history[-1]["score"]


def test_the_final_set_is_evaluated_even_with_eval_every_zero(problem):
    task = RidgeRegressionTask()
    res = distill(task, problem.train, 5, steps=4, device="cpu", quiet=True, test=problem.test, eval_every=0)
    assert [("test_mse" in h) for h in res.history] == [True, False, False, False, True]
    assert res.history[-1]["test_mse"] == task.evaluate(res.synthetic, problem.test)["test_mse"]


def test_evaluation_follows_eval_every_and_the_last_step(problem):
    res = distill("ridge", problem.train, 5, steps=7, device="cpu", quiet=True, test=problem.test, eval_every=3)
    assert [h["step"] for h in res.history if "test_mse" in h] == [0, 3, 6, 7]


def test_a_run_stopped_by_a_callback_evaluates_its_last_set(problem):
    res = distill("ridge", problem.train, 5, steps=50, device="cpu", quiet=True, test=problem.test,
                  callbacks=[lambda info: info.step >= 4])
    assert res.n_steps == 4 and "test_mse" in res.history[-1]


def test_without_test_data_the_history_has_only_step_rows(problem):
    res = distill("ridge", problem.train, 5, steps=3, device="cpu", quiet=True)
    assert [h["step"] for h in res.history] == [1, 2, 3] and res.history == res.step_rows


def test_zero_steps_with_test_data_evaluate_the_starting_set_once(problem):
    res = distill("ridge", problem.train, 5, steps=0, device="cpu", quiet=True, test=problem.test)
    assert [h["step"] for h in res.history] == [0] and res.n_steps == 0 and math.isnan(res.final_score)


def test_callbacks_see_every_step_and_their_evaluations(problem):
    seen = []
    distill("ridge", problem.train, 5, steps=4, device="cpu", quiet=True, test=problem.test, eval_every=2,
            callbacks=[lambda info: seen.append((info.step, sorted(info.metrics)))])
    assert seen == [(1, []), (2, ["test_mse", "test_r2"]), (3, []), (4, ["test_mse", "test_r2"])]


# --- resume ---------------------------------------------------------------------------------
def test_resume_from_a_checkpoint_gives_the_same_run(problem, tmp_path):
    kw = dict(method="zeroth_order", steps=12, lr=0.05, seed=3, device="cpu", quiet=True,
              method_options={"directions": 2}, test=problem.test, eval_every=4)
    full = distill("ridge", problem.train, 5, **kw)
    part = distill("ridge", problem.train, 5, **{**kw, "steps": 8}, checkpoint_dir=tmp_path, checkpoint_every=4)
    assert part.n_steps == 8 and part.history[0]["step"] == 0
    resumed = distill("ridge", problem.train, 5, **kw, checkpoint_dir=tmp_path, checkpoint_every=4, resume=True)
    assert torch.equal(resumed.synthetic["x"], full.synthetic["x"])
    assert _no_wall(resumed.history) == _no_wall(full.history)


def test_a_cosine_run_resumes_only_with_the_same_number_of_steps(problem, tmp_path):
    kw = dict(lr_schedule="cosine", lr=0.05, seed=0, device="cpu", quiet=True)
    full = distill("ridge", problem.train, 5, steps=8, **kw)
    distill("ridge", problem.train, 5, steps=8, checkpoint_dir=tmp_path, checkpoint_every=4,
            callbacks=[lambda info: info.step >= 4], **kw)
    resumed = distill("ridge", problem.train, 5, steps=8, checkpoint_dir=tmp_path, checkpoint_every=4, resume=True,
                      **kw)
    assert torch.equal(resumed.synthetic["x"], full.synthetic["x"])
    with pytest.raises(CheckpointError, match="another run"):
        distill("ridge", problem.train, 5, steps=12, checkpoint_dir=tmp_path, resume=True, **kw)


# --- the task lifecycle ---------------------------------------------------------------------
class _Counting(RidgeRegressionTask):
    """A stateful task: counts its fits; ``reset`` and ``load_state_dict`` are logged."""

    def __post_init__(self):
        super().__post_init__()
        self.fits, self.log = 0, []

    def fit(self, synthetic, *, generator=None):
        self.fits += 1
        return super().fit(synthetic)

    def reset(self, generator):
        self.log.append(("reset", torch.randint(1 << 30, (1,), generator=generator).item()))
        self.fits = 0

    def state_dict(self):
        return {"fits": self.fits}

    def load_state_dict(self, state):
        self.log.append(("load", state["fits"]))
        self.fits = state["fits"]


def test_distill_resets_the_task_at_the_start_of_every_call_without_touching_the_loop_stream(problem):
    task = _Counting()
    a = distill(task, problem.train, 5, method="zeroth_order", steps=3, seed=7, device="cpu", quiet=True)
    assert task.fits == 3 * 2 * 8
    b = distill(task, problem.train, 5, method="zeroth_order", steps=3, seed=7, device="cpu", quiet=True)
    plain = distill("ridge", problem.train, 5, method="zeroth_order", steps=3, seed=7, device="cpu", quiet=True)
    assert task.fits == 3 * 2 * 8 and [e[0] for e in task.log] == ["reset", "reset"]
    assert task.log[0] == task.log[1]  # the reset generator is derived from the seed
    assert torch.equal(a.synthetic["x"], b.synthetic["x"]) and torch.equal(a.synthetic["x"], plain.synthetic["x"])


def test_resume_resets_the_task_then_loads_its_state(problem, tmp_path):
    task = _Counting()
    kw = dict(steps=4, device="cpu", quiet=True, checkpoint_dir=tmp_path, checkpoint_every=2)
    distill(task, problem.train, 5, callbacks=[lambda info: info.step >= 2], **kw)
    task.log.clear()
    distill(task, problem.train, 5, resume=True, **kw)
    assert [e[0] for e in task.log] == ["reset", "load"] and task.log[1] == ("load", 2) and task.fits == 4


# --- failures -------------------------------------------------------------------------------
def test_a_non_finite_score_stops_with_the_last_good_set(problem):
    class Explodes(RidgeRegressionTask):
        calls = 0

        def score(self, model, sources, *, part=None, generator=None):
            Explodes.calls += 1
            s = super().score(model, sources)
            return s * float("nan") if Explodes.calls > 3 else s

    with pytest.raises(NonFiniteError, match="non-finite") as e:
        distill(Explodes(), problem.train, 5, steps=10, device="cpu", quiet=True)
    assert len(e.value.result.history) == 3 and torch.isfinite(e.value.result.synthetic["x"]).all()


def test_a_non_finite_gradient_keeps_the_last_good_checkpoint(problem, tmp_path):
    class BadGradient(RidgeRegressionTask):
        calls = 0

        def score(self, model, sources, *, part=None, generator=None):
            BadGradient.calls += 1
            if BadGradient.calls > 6:  # a finite score whose gradient is NaN
                model.weight.register_hook(lambda g: g * float("nan"))
            return super().score(model, sources)

    with pytest.raises(NonFiniteError, match="non-finite gradient at step 6"):
        distill(BadGradient(), problem.train, 5, steps=20, device="cpu", quiet=True, checkpoint_dir=tmp_path,
                checkpoint_every=2)
    from taskdd.distill.checkpoint import load_checkpoint
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["step"] == 6 and all(torch.isfinite(v).all() for v in state["synthetic"].values())
    assert load_checkpoint(tmp_path, state["fingerprint"]) is not None


def test_a_callback_can_stop_the_loop(problem):
    res = distill("ridge", problem.train, 5, steps=50, device="cpu", quiet=True, callbacks=[lambda info: info.step >= 7])
    assert len(res.history) == 7


@pytest.mark.parametrize("kw, needle", [
    ({"budget": 0}, "budget"), ({"budget": -2}, "budget"), ({"method": "magic"}, "unknown method 'magic'"),
    ({"steps": -1}, "steps"), ({"lr": 0}, "lr"), ({"schedule": "random"}, "schedule"),
    ({"optimizer": "lbfgs"}, "optimizer"), ({"lr_schedule": "step"}, "lr_schedule must be one of"), ({"device": "tpu"}, "device"), ({"seed": -1}, "seed"),
    ({"budget": 10_000}, "larger than the data"), ({"resume": True}, "checkpoint_dir"),
    ({"eval_every": 1.5}, "eval_every"), ({"checkpoint_every": -1}, "checkpoint_every"),
    ({"method": "zeroth_order", "method_options": {"directions": 0}}, "directions"),
    ({"method": "zeroth_order", "method_options": {"bogus": 1}}, "unknown option 'bogus'"),
    ({"task_options": {"bad": 1}}, "unknown option 'bad'; accepted options: ridge"),
])
def test_bad_settings_raise_config_error(problem, kw, needle):
    args = {"budget": 5, **kw}
    budget = args.pop("budget")
    with pytest.raises(ConfigError) as e:
        distill("ridge", problem.train, budget, steps=args.pop("steps", 1), quiet=True, **{"device": "cpu", **args})
    assert needle in str(e.value)


def test_task_options_with_a_task_object_are_refused(problem):
    with pytest.raises(ConfigError, match="task_options only apply"):
        distill(RidgeRegressionTask(), problem.train, 5, steps=1, quiet=True, task_options={"ridge": 1.0})


def test_unknown_task_lists_the_known_ones(problem):
    with pytest.raises(ConfigError, match="known tasks: .*ridge"):
        distill("no-such-task", problem.train, 5, quiet=True)


def test_same_seed_same_result_on_cpu(problem):
    a = distill("ridge", problem.train, 5, method="zeroth_order", steps=5, seed=4, device="cpu", quiet=True)
    b = distill("ridge", problem.train, 5, method="zeroth_order", steps=5, seed=4, device="cpu", quiet=True)
    assert torch.equal(a.synthetic["x"], b.synthetic["x"]) and not math.isnan(a.final_score)


def test_cosine_schedule_decays_the_step_size_to_zero(problem):
    """With a linear score (constant gradient 1 for every entry) SGD moves each entry by the
    step's size, so the moves trace the schedule lr * (1 + cos(pi t / T)) / 2."""
    class Linear(RidgeRegressionTask):
        def objective(self, synthetic, sources, *, part=None, generator=None):
            return synthetic["x"].sum()

    seen = []
    distill(Linear(), problem.train, 3, steps=6, lr=0.5, optimizer="sgd", lr_schedule="cosine", device="cpu",
            quiet=True, callbacks=[lambda info: seen.append(info.synthetic["x"][0, 0].item())])
    moves = torch.diff(torch.tensor(seen, dtype=torch.float64))
    expected = torch.tensor([0.25 * (1 + math.cos(math.pi * t / 6)) for t in range(1, 6)], dtype=torch.float64)
    torch.testing.assert_close(moves, expected, rtol=0, atol=1e-12)
