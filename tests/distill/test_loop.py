"""The distill loop and both estimators, on the reference ridge task."""

import json
import math

import pytest
import torch

from data_gen.regression import make_regression
from taskdd import CheckpointError, ConfigError, DistillResult, NonFiniteError, SyntheticSet, distill, make_generator
from taskdd.distill.estimators import ExactGradient, ZerothOrderGradient
from taskdd.tasks.ridge import RidgeRegressionTask


@pytest.fixture
def problem():
    return make_regression(n_train=200, n_test=200, p=4, noise=0.3, seed=1, dtype=torch.float64)


@pytest.mark.parametrize("method, opts", [("exact", None), ("zeroth_order", {"directions": 8, "smoothing": 1e-3})])
def test_both_methods_raise_the_score_and_the_test_fit(problem, method, opts, device):
    task = RidgeRegressionTask()
    res = distill(task, problem.train, 6, method=method, steps=60, lr=0.05, seed=0, device=device,
                  method_options=opts, test=problem.test, eval_every=60, quiet=True)
    init = task.init_synthetic(problem.train.to(device), 6, make_generator(0))
    before = task.evaluate(init, problem.test.to(device))["test_mse"]
    assert res.history[-1]["score"] > res.history[0]["score"] + 0.1
    assert res.history[-1]["test_mse"] < 0.5 * before
    assert res.synthetic.device.type == device.type


def test_exact_hypergradient_passes_gradcheck(problem):
    task = RidgeRegressionTask(ridge=1e-2)
    syn = task.init_synthetic(problem.train, 5, make_generator(0))
    x0, y0 = syn["x"].detach(), syn["y"].detach()

    def f(x, y):
        return task.objective(syn.with_learnable([x, y]), problem.train)

    assert torch.autograd.gradcheck(f, (x0.clone().requires_grad_(), y0.clone().requires_grad_()))


def test_zeroth_order_estimate_aligns_with_the_exact_gradient(problem):
    task = RidgeRegressionTask(ridge=1e-2)
    syn = task.init_synthetic(problem.train, 5, make_generator(0))
    _, exact = ExactGradient()(task, syn, problem.train, None, make_generator(1))
    _, zo = ZerothOrderGradient(directions=4000, smoothing=1e-4)(task, syn, problem.train, None, make_generator(2))
    a, b = torch.cat([g.flatten() for g in exact]), torch.cat([g.flatten() for g in zo])
    assert torch.nn.functional.cosine_similarity(a, b, dim=0) > 0.9


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


def test_resume_from_a_checkpoint_gives_the_same_run(problem, tmp_path):
    kw = dict(method="zeroth_order", steps=12, lr=0.05, seed=3, device="cpu", quiet=True,
              method_options={"directions": 2}, test=problem.test, eval_every=4)
    full = distill("ridge", problem.train, 5, **kw)
    part = distill("ridge", problem.train, 5, **{**kw, "steps": 8}, checkpoint_dir=tmp_path, checkpoint_every=4)
    assert len(part.history) == 8
    resumed = distill("ridge", problem.train, 5, **kw, checkpoint_dir=tmp_path, checkpoint_every=4, resume=True)
    assert torch.equal(resumed.synthetic["x"], full.synthetic["x"])
    strip = lambda h: [{k: v for k, v in r.items() if k != "wall_time"} for r in h]  # noqa: E731
    assert strip(resumed.history) == strip(full.history)


def test_a_foreign_or_corrupt_checkpoint_is_refused(problem, tmp_path):
    distill("ridge", problem.train, 5, steps=2, device="cpu", quiet=True, checkpoint_dir=tmp_path, checkpoint_every=1)
    with pytest.raises(CheckpointError, match="another run"):
        distill("ridge", problem.train, 6, steps=2, device="cpu", quiet=True, checkpoint_dir=tmp_path, resume=True)
    (tmp_path / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        distill("ridge", problem.train, 5, steps=2, device="cpu", quiet=True, checkpoint_dir=tmp_path, resume=True)


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


def test_a_callback_can_stop_the_loop(problem):
    res = distill("ridge", problem.train, 5, steps=50, device="cpu", quiet=True, callbacks=[lambda info: info.step >= 7])
    assert len(res.history) == 7


def test_result_save_and_load_round_trip(problem, tmp_path):
    res = distill("ridge", problem.train, 5, steps=3, device="cpu", quiet=True)
    res.save(tmp_path / "r")
    back = DistillResult.load(tmp_path / "r")
    assert torch.equal(back.synthetic["x"], res.synthetic["x"]) and back.history == json.loads(
        json.dumps(res.history)) and back.config["budget"] == 5
    (tmp_path / "r" / "result.json").write_text("{}")
    with pytest.raises(CheckpointError, match="not a taskdd DistillResult"):
        DistillResult.load(tmp_path / "r")


@pytest.mark.parametrize("kw, needle", [
    ({"budget": 0}, "budget"), ({"budget": -2}, "budget"), ({"method": "magic"}, "unknown method 'magic'"),
    ({"steps": -1}, "steps"), ({"lr": 0}, "lr"), ({"schedule": "random"}, "schedule"),
    ({"optimizer": "lbfgs"}, "optimizer"), ({"lr_schedule": "step"}, "lr_schedule must be one of"), ({"device": "tpu"}, "device"), ({"seed": -1}, "seed"),
    ({"budget": 10_000}, "larger than the data"), ({"resume": True}, "checkpoint_dir"),
    ({"method": "zeroth_order", "method_options": {"directions": 0}}, "directions"),
    ({"method": "zeroth_order", "method_options": {"bogus": 1}}, "bad options"),
])
def test_bad_settings_raise_config_error(problem, kw, needle):
    args = {"budget": 5, **kw}
    budget = args.pop("budget")
    with pytest.raises(ConfigError) as e:
        distill("ridge", problem.train, budget, steps=args.pop("steps", 1), quiet=True, **{"device": "cpu", **args})
    assert needle in str(e.value)


def test_unknown_task_lists_the_known_ones(problem):
    with pytest.raises(ConfigError, match="known tasks: .*ridge"):
        distill("no-such-task", problem.train, 5, quiet=True)


def test_same_seed_same_result_on_cpu(problem):
    a = distill("ridge", problem.train, 5, method="zeroth_order", steps=5, seed=4, device="cpu", quiet=True)
    b = distill("ridge", problem.train, 5, method="zeroth_order", steps=5, seed=4, device="cpu", quiet=True)
    assert torch.equal(a.synthetic["x"], b.synthetic["x"]) and not math.isnan(a.final_score)


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
