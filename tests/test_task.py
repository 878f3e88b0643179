"""The task contract's lifecycle: every shipped task, reused for a second ``distill``, gives
exactly the result of a fresh task object (``distill`` resets it first)."""

import pytest
import torch

import taskdd.registry as registry
from data_gen.dbn import make_sources, random_dbn
from data_gen.digits import load_digits_split
from data_gen.pinn import make_pinn_problem
from data_gen.regression import make_regression
from taskdd import SyntheticSet, Task, distill, get_task, make_generator
from taskdd.tasks.classify import EvalProtocol

LIGHT = EvalProtocol(mlp_width=16, other_width=8, other_depth=1, n_models=1, steps=20, lr=3e-3)


def _ridge():
    prob = make_regression(n_train=100, n_test=100, p=3, seed=0, dtype=torch.float64)
    return lambda: get_task("ridge"), prob.train, prob.test, 5, {"method": "zeroth_order"}


def _dbn():
    truth = random_dbn(3, seed=0, dtype=torch.float64)
    prob = make_sources(truth, n_per_source=60, T=3, K=2, hidden_per_source=1, noise=0.3, n_test=50, seed=0)
    return lambda: get_task("dbn", structure=truth.structure), prob.sources, prob.test, 3, {}


def _dbn_discrete():
    from data_gen.discrete_dbn import random_discrete_dbn
    from data_gen.discrete_merge import make_hospitals
    truth = random_discrete_dbn(3, cards=(2, 3), seed=0)
    prob = make_hospitals(truth, n_per_source=60, T=2, K=2, keep=(0.6, 0.7), n_test=50, seed=0)
    return (lambda: get_task("dbn-discrete", structure=truth.structure, cards=truth.cards), prob.sources, prob.test,
            3, {})


def _pinn(name="pinn", pde="poisson"):
    # the pool's networks outlive the first run (lifetimes > its 2 + 4 x 3 inner steps), so a
    # reused task that is not reset starts the second run from the first run's pool
    def make():
        prob = make_pinn_problem(pde, n_train=40, n_test_alphas=2, n_test_x=11, seed=0)
        small = dict(width=8, depth=1, n_interior=16, n_boundary=4, score_interior=32, score_boundary=4, unroll=3,
                     pool_size=2, warmup=2, lifetimes=(30, 40), eval_models=1, eval_steps=20,
                     physics_range=prob.train_range, score_range=prob.alpha_range)
        return lambda: get_task(name, **small), prob.train, prob.test, 5, {}
    return make


def _classifier(name):
    def make():
        digits = load_digits_split(seed=0)
        train, test = digits.train.subset(slice(0, 300)), digits.test.subset(slice(0, 100))
        small = {} if name == "classify-krr" else {"width": 16}
        if name == "classify-unrolled":
            small["inner_steps"] = 3
        return lambda: get_task(name, protocol=LIGHT, real_batch=64, **small), train, test, 1, {}
    return make


CASES = {"ridge": _ridge, "dbn": _dbn, "dbn-discrete": _dbn_discrete, "pinn": _pinn(),
         "pinn-inverse": _pinn("pinn-inverse", "poisson-k"),
         **{n: _classifier(n) for n in ("classify-krr", "classify-gm", "classify-dm", "classify-unrolled")}}


def test_every_shipped_task_is_covered():
    assert set(CASES) == set(registry._BUILTIN_TASKS)


def _same(a, b):
    assert a.synthetic.names == b.synthetic.names
    for name in a.synthetic.names:
        assert torch.equal(a.synthetic[name], b.synthetic[name]), name
    strip = [[{k: v for k, v in r.items() if k != "wall_time"} for r in res.history] for res in (a, b)]
    assert strip[0] == strip[1]


@pytest.mark.parametrize("name", list(CASES))
def test_a_reused_task_gives_the_same_result_as_a_fresh_one(name):
    make, train, test, budget, kw = CASES[name]()
    kw = dict(steps=4, lr=0.01, seed=1, device="cpu", dtype=None, quiet=True, test=test, **kw)
    reused = make()
    first = distill(reused, train, budget, **kw)
    again = distill(reused, train, budget, **kw)
    fresh = distill(make(), train, budget, **kw)
    _same(again, fresh)
    _same(first, fresh)
    assert fresh.n_steps == 4 and fresh.history[0]["step"] == 0


def test_the_default_reset_does_nothing_and_state_is_empty():
    class Minimal(Task):
        def init_synthetic(self, sources, budget, generator):
            return SyntheticSet([{"x": torch.zeros(budget, 1)}], ["x"])

        def fit(self, synthetic, *, generator=None):
            return synthetic["x"]

        def score(self, model, sources, *, part=None, generator=None):
            return model.sum()

        def evaluate(self, synthetic, test, *, generator=None):
            return {}

    task = Minimal()
    assert task.reset(make_generator(0)) is None and task.state_dict() == {}
