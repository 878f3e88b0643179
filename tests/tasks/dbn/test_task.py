"""The DBN likelihood task: checks, initialisation, score, and distillation on a small problem."""

import pytest
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd import ConfigError, DataError, Source, Sources, distill, make_generator
from taskdd.tasks.dbn import baselines
from taskdd.tasks.dbn.task import DBNLikelihoodTask, mean_test_ll, smallest_ipc


@pytest.fixture(scope="module")
def prob():
    dbn = random_dbn(4, seed=3, dtype=torch.float64)
    return make_sources(dbn, n_per_source=300, T=4, K=2, hidden_per_source=1, noise=0.3, n_test=500, seed=3)


def _srcs(prob):
    return prob.sources.to(dtype=torch.float64)


def test_init_copies_observed_entries_and_fills_hidden_ones(prob):
    task = DBNLikelihoodTask(prob.truth.structure)
    syn = task.init_synthetic(_srcs(prob), 5, make_generator(0))
    assert syn.n_parts == 2 and syn.part_sizes() == [5, 5] and syn["values"].shape == (10, 4, 4)
    s0 = _srcs(prob)[0]
    hidden = ~s0.mask[0, 0]
    part = syn.parts[0]["values"].detach()
    assert torch.isin(part[:, :, ~hidden].flatten(), s0.values[:, :, ~hidden].flatten()).all()
    other = _srcs(prob)[1]
    other_mean = other.values[:, :, hidden].mean()
    assert (part[:, :, hidden].mean() - other_mean).abs() < 0.3


def test_score_on_others_leaves_out_the_part_being_updated(prob):
    src = _srcs(prob)
    task = DBNLikelihoodTask(prob.truth.structure, score_on="others")
    model = prob.truth.to(dtype=torch.float64)
    s1 = src[1]
    want = model.log_likelihood(s1.values, s1.mask, obs_noise=0.3).mean()
    assert torch.allclose(task.score(model, src, part=0), want)
    both = DBNLikelihoodTask(prob.truth.structure, score_on="all").score(model, src, part=0)
    assert not torch.allclose(both, want)


def test_exact_hypergradient_passes_gradcheck(prob):
    src = Sources([s.subset(slice(0, 20)) for s in _srcs(prob)])
    task = DBNLikelihoodTask(prob.truth.structure, ridge=1e-3)
    syn = task.init_synthetic(src, 4, make_generator(0))
    vals = [p.detach().clone().requires_grad_() for p in syn.parameters()]
    assert torch.autograd.gradcheck(lambda a, b: task.objective(syn.with_learnable([a, b]), src), vals)


def test_distilled_set_beats_a_clean_subset_and_reaches_the_direct_fit(prob):
    src, test = _srcs(prob), prob.test.to(dtype=torch.float64)
    S = prob.truth.structure
    ipc = smallest_ipc(S, 2) + 1
    task = DBNLikelihoodTask(S, score_on="all")
    res = distill(task, src, ipc, steps=80, lr=0.05, seed=0, device="cpu", quiet=True)
    ll = task.evaluate(res.synthetic, test)["test_ll"]
    sub = mean_test_ll(baselines.sub(S, prob.full_clean.to(dtype=torch.float64), 2 * ipc, make_generator(0)), test)
    ceiling = mean_test_ll(baselines.direct_fit(S, src), test)
    assert ll > sub
    assert (ll - sub) / (ceiling - sub) > 0.95


def test_pgmpy_learner_is_black_box_and_matches_the_own_fit(prob):
    src = _srcs(prob)
    own = DBNLikelihoodTask(prob.truth.structure, ridge=0.0)
    bb = DBNLikelihoodTask(prob.truth.structure, learner="pgmpy")
    assert not bb.differentiable
    syn = own.init_synthetic(src, 6, make_generator(0))
    a, b = own.fit(syn).parameters_dict(), bb.fit(syn).parameters_dict()
    for k in a:
        assert torch.allclose(a[k].detach(), b[k], atol=1e-6), k
    with pytest.raises(ConfigError, match="zeroth_order"):
        distill(bb, src, 6, steps=1, device="cpu", quiet=True)
    res = distill(bb, src, 6, steps=2, method="zeroth_order", method_options={"directions": 1}, device="cpu",
                  quiet=True, schedule="cyclic")
    assert len(res.history) == 2


def test_direct_fit_scores_the_sources_at_least_as_well_as_the_truth(prob):
    src = _srcs(prob)
    task = DBNLikelihoodTask(prob.truth.structure, score_on="all")
    fitted = baselines.direct_fit(prob.truth.structure, src)
    assert task.score(fitted, src) >= task.score(prob.truth.to(dtype=torch.float64), src)
    assert task.score(fitted, src) > task.score(baselines.impute(prob.truth.structure, src), src)


@pytest.mark.parametrize("mutate, err, needle", [
    (lambda p: (p.sources, 1), ConfigError, "ipc >= 2"),
    (lambda p: (p.sources, 10_000), ConfigError, "larger than source"),
    (lambda p: (Sources([Source(s.values, s.mask, s.variables, s.name) for s in p.sources]), 3), ConfigError,
     "no known noise"),
    (lambda p: (Sources([Source(s.values, s.mask, [f"y{i}" for i in range(4)], s.name, 0.3) for s in p.sources]), 3),
     DataError, "unknown ['y0'"),
    (lambda p: (Sources([Source(s.values, s.mask & torch.tensor([False, True, True, True]), s.variables, s.name, 0.3)
                         for s in p.sources]), 3), DataError, "hidden in every source"),
    (lambda p: (Sources([p.sources[0].subset(slice(0, 1)), p.sources[1]]), 1), DataError, "at least 2"),
    (lambda p: (p.full_clean, 3), DataError, "taskdd.Sources"),
])
def test_bad_input_is_refused_with_a_clear_error(prob, mutate, err, needle):
    sources, budget = mutate(prob)
    with pytest.raises(err) as e:
        distill(DBNLikelihoodTask(prob.truth.structure), sources, budget, steps=1, device="cpu", quiet=True)
    assert needle in str(e.value)


def test_bad_task_settings_are_config_errors(prob):
    S = prob.truth.structure
    for kw, needle in (({"score_on": "some"}, "score_on"), ({"learner": "sklearn"}, "learner"),
                       ({"obs_noise": -1.0}, "obs_noise"), ({"structure": "x"}, "DBNStructure")):
        with pytest.raises(ConfigError, match=needle):
            DBNLikelihoodTask(**{"structure": S, **kw})


def test_per_variable_and_per_source_noise_score_like_the_model_likelihood(prob):
    src = _srcs(prob)
    model = prob.truth.to(dtype=torch.float64)
    vec = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    rows = torch.stack([vec, vec.flip(0)])
    want = sum(model.log_likelihood(s.values, s.mask, obs_noise=r).sum() for s, r in zip(src, rows)) / 600
    for spec in (rows, rows.tolist(), {src.names[0]: vec.tolist(), src.names[1]: vec.flip(0)}):
        task = DBNLikelihoodTask(prob.truth.structure, score_on="all", obs_noise=spec)
        torch.testing.assert_close(task.score(model, src), want, rtol=1e-12, atol=0)
    scalar = DBNLikelihoodTask(prob.truth.structure, score_on="all", obs_noise=0.3).score(model, src)
    filled = DBNLikelihoodTask(prob.truth.structure, score_on="all", obs_noise=[0.3] * 4).score(model, src)
    torch.testing.assert_close(filled, scalar, rtol=0, atol=0)
    assert DBNLikelihoodTask(prob.truth.structure, obs_noise=rows).config()["obs_noise"] == rows.tolist()


@pytest.mark.parametrize("spec, needle", [([0.1, 0.2], r"\[4\]"), ([[0.1] * 4] * 3, r"\(2, 4\)"),
                                          ({"source0": 0.3}, "lacking"), ([0.1, -0.2, 0.3, 0.4], ">= 0")])
def test_bad_noise_specs_are_config_errors(prob, spec, needle):
    with pytest.raises(ConfigError, match=needle):
        distill(DBNLikelihoodTask(prob.truth.structure, obs_noise=spec), _srcs(prob), 3, steps=1, device="cpu",
                quiet=True)
