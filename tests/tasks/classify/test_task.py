"""The four classifier tasks through the distill loop: hypergradients, improvement over the
random start, zeroth-order runs, devices, determinism and bad settings."""

import json

import pytest
import torch

from data_gen.digits import load_digits_split
from taskdd import ConfigError, DataError, Samples, distill, get_task, make_generator
from taskdd.tasks.classify import (DistributionMatchingTask, EvalProtocol, GradientMatchingTask, KRRTask, UnrolledTask,
                                   classifier_set)

TASKS = {"classify-krr": KRRTask, "classify-gm": GradientMatchingTask, "classify-dm": DistributionMatchingTask,
         "classify-unrolled": UnrolledTask}
LIGHT = EvalProtocol(mlp_width=128, n_models=2, steps=200, lr=3e-3)
# (steps, lr) that lift the objective within a second or two on digits at ipc 1
RUNS = {"classify-krr": (150, 0.01), "classify-gm": (60, 0.01), "classify-dm": (150, 0.01),
        "classify-unrolled": (60, 0.01)}


def light_task(name, **kw):
    small = {} if name == "classify-krr" else {"width": 32}
    return get_task(name, protocol=LIGHT, **{**small, **kw})


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(seed=0)


@pytest.fixture(scope="module")
def tiny():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(3).repeat(8)
    x = torch.rand(24, 4, generator=g, dtype=torch.float64) + 0.5 * y[:, None]
    return Samples(x=x, y=y)


def test_the_registry_builds_each_task():
    for name, cls in TASKS.items():
        task = get_task(name)
        assert type(task) is cls and task.name == name and task.differentiable
        json.dumps(task.config())
        assert task.config()["protocol"]["n_models"] == 5


@pytest.mark.parametrize("name", list(TASKS))
def test_exact_hypergradient_passes_gradcheck(name, tiny):
    task = get_task(name, real_batch=10, **({} if name == "classify-krr" else {"width": 5}),
                    **({"real_per_class": 4} if name in ("classify-gm", "classify-dm") else {}))
    syn = task.init_synthetic(tiny, 2, make_generator(1))
    g = torch.Generator().manual_seed(2)  # move off the real points: the NTK has a cusp where x = x'
    start = [p.detach() + 0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype) for p in syn.parameters()]

    def objective(*params):
        return task.objective(syn.with_learnable(list(params)), tiny, generator=make_generator(3))

    assert torch.autograd.gradcheck(objective, tuple(p.clone().requires_grad_(True) for p in start))


@pytest.mark.parametrize("name", list(TASKS))
def test_each_method_raises_its_objective_and_beats_random(name, digits):
    task = light_task(name)
    steps, lr = RUNS[name]
    res = distill(task, digits.train, 1, steps=steps, lr=lr, seed=0, device="cpu", quiet=True)
    scores = [h["score"] for h in res.history]
    k = steps // 5
    assert sum(scores[-k:]) / k > sum(scores[:k]) / k
    start = task.init_synthetic(digits.train, 1, make_generator(0))
    before = task.evaluate(start, digits.test, generator=make_generator(0))["acc_mlp"]
    after = task.evaluate(res.synthetic, digits.test, generator=make_generator(0))["acc_mlp"]
    assert after > before + 0.1, (before, after)


@pytest.mark.parametrize("name", list(TASKS))
def test_zeroth_order_distils_each_task_as_a_black_box(name, tiny):
    task = get_task(name, real_batch=10, **({} if name == "classify-krr" else {"width": 5}))
    res = distill(task, tiny, 2, method="zeroth_order", method_options={"directions": 2}, steps=2, lr=0.01,
                  device="cpu", quiet=True)
    start = task.init_synthetic(tiny, 2, make_generator(0))
    assert all(torch.isfinite(torch.tensor(h["score"])) for h in res.history)
    assert not torch.equal(res.synthetic["x"], start["x"])


@pytest.mark.parametrize("name", ["classify-krr", "classify-dm"])
def test_the_distilled_set_follows_the_data_device(name, tiny, device):
    task = get_task(name, protocol=EvalProtocol(mlp_width=8, other_width=8, n_models=1, steps=5), real_batch=10,
                    **({} if name == "classify-krr" else {"width": 5, "real_per_class": 4}))
    res = distill(task, tiny, 2, steps=3, lr=0.01, device=device, quiet=True)
    assert res.synthetic.device.type == device.type
    metrics = task.evaluate(res.synthetic, tiny.to(device))
    assert {"acc_mlp", "acc_mlp_other", "acc_logreg", "acc_knn"} <= set(metrics)
    assert ("acc_own" in metrics) == (name == "classify-krr")


def test_same_seed_gives_the_same_distilled_set(tiny):
    runs = [distill(get_task("classify-unrolled", width=5, real_batch=10), tiny, 2, steps=5, lr=0.01, seed=4,
                    device="cpu", quiet=True) for _ in range(2)]
    assert torch.equal(runs[0].synthetic["x"], runs[1].synthetic["x"])


def test_krr_learns_soft_labels_only_when_asked(tiny):
    with_labels = KRRTask().init_synthetic(tiny, 2, make_generator(0))
    assert with_labels.learnable == {"x", "targets"} and with_labels["targets"].shape == (6, 3)
    fixed = KRRTask(learn_labels=False).init_synthetic(tiny, 2, make_generator(0))
    assert fixed.names == ("x", "y") and fixed.learnable == {"x"}


@pytest.mark.parametrize("make, match", [
    (lambda: KRRTask(ridge=-1.0), "classify-krr ridge must be a finite number > 0, got -1.0"),
    (lambda: KRRTask(kernel="poly"), "unknown kernel 'poly'"),
    (lambda: KRRTask(real_batch=0), "classify-krr real_batch must be an int >= 1, got 0"),
    (lambda: GradientMatchingTask(real_per_class=0), "classify-gm real_per_class must be an int >= 1, got 0"),
    (lambda: DistributionMatchingTask(depth=0), "classify-dm needs depth >= 1"),
    (lambda: UnrolledTask(inner_steps=0), "classify-unrolled inner_steps must be an int >= 1, got 0"),
    (lambda: UnrolledTask(inner_lr=float("nan")), "classify-unrolled inner_lr must be a finite number > 0"),
    (lambda: KRRTask(protocol={"n_models": 2}), "protocol must be an EvalProtocol, got dict"),
    (lambda: EvalProtocol(n_models=0), "EvalProtocol n_models must be an int >= 1, got 0"),
    (lambda: EvalProtocol(lr=0.0), "EvalProtocol lr must be a finite number > 0, got 0.0"),
])
def test_bad_settings_raise_config_errors_naming_the_setting(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_bad_data_and_budgets_are_refused_before_distilling(tiny):
    with pytest.raises(DataError, match=r"class 0 has 8 examples, fewer than the budget \(images per class\) 9"):
        distill("classify-krr", tiny, 9, steps=1, device="cpu", quiet=True)
    with pytest.raises(DataError, match=r"x must have shape \[N, p\]"):
        distill("classify-krr", Samples(x=torch.rand(6, 2, 2), y=torch.arange(3).repeat(2)), 1, steps=1,
                device="cpu", quiet=True)
    with pytest.raises(DataError, match="y must be integer class labels"):
        distill("classify-dm", Samples(x=torch.rand(6, 2), y=torch.rand(6)), 1, steps=1, device="cpu", quiet=True)


def test_matching_needs_the_same_number_of_rows_in_every_class(tiny):
    uneven = classifier_set(tiny["x"][:5], torch.tensor([0, 0, 1, 2, 2]), 3)
    with pytest.raises(DataError, match="same number of rows in every class"):
        GradientMatchingTask(width=5).objective(uneven, tiny, generator=make_generator(0))


def test_evaluate_refuses_test_data_that_does_not_fit_the_set(tiny):
    syn = KRRTask().init_synthetic(tiny, 2, make_generator(0))
    with pytest.raises(DataError, match="test x has shape \\(24, 3\\); the distilled set has 4 features"):
        KRRTask().evaluate(syn, Samples(x=tiny["x"][:, :3], y=tiny["y"]))
    with pytest.raises(DataError, match="test labels span 0..4 but the distilled set has classes 0..2"):
        KRRTask().evaluate(syn, Samples(x=tiny["x"], y=tiny["y"] * 2))
