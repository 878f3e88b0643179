"""The dbn-discrete task: initialisation, score, exact hypergradient, distillation on a small
problem (beats a clean subset of the same size), evaluation and bad input."""

import pytest
import torch

from data_gen.discrete_dbn import random_discrete_dbn
from data_gen.discrete_merge import make_hospitals
from taskdd import ConfigError, DataError, Source, Sources, SyntheticSet, distill, get_task, make_generator
from taskdd.tasks.dbn_discrete import baselines
from taskdd.tasks.dbn_discrete.task import DiscreteDBNTask, codes, mean_ll


@pytest.fixture(scope="module")
def prob():
    truth = random_discrete_dbn(5, cards=(2, 3), concentration=0.5, seed=2)
    return make_hospitals(truth, n_per_source=400, T=2, K=2, keep=(0.6, 0.8), cell_missing=0.05, n_test=1000,
                          seed=2)


def _task(prob, **kw):
    return DiscreteDBNTask(prob.truth.structure, prob.truth.cards, **kw)


def test_init_copies_observed_states_and_fills_hidden_cells_with_frequencies(prob):
    task = _task(prob, init_confidence=5.0, fill_noise=0.0)
    syn = task.init_synthetic(prob.sources, 6, make_generator(0))
    assert syn.part_sizes() == [6, 6] and syn["logits"].shape == (12, 2, 5, 3)
    assert syn.learnable == {"logits", "log_weight"} and torch.all(syn["log_weight"] == 0)
    x0 = codes(prob.sources[0])
    logits = syn.parts[0]["logits"].detach()
    seen = logits.amax(-1) == 5.0
    rows = {tuple(r.tolist()) for r in x0.flatten(1)}
    picked = torch.where(seen, logits.argmax(-1), -1)
    assert all(tuple(r.tolist()) in rows for r in picked.flatten(1))  # observed cells are a source row's
    hidden_var = next(j for j in range(5) if not prob.sources[0].mask[..., j].any())
    other = codes(prob.sources[1])[..., hidden_var]
    freq = torch.bincount(other[other >= 0], minlength=3).double()
    k = prob.truth.cards[hidden_var]
    want = float((freq[0] + 1) / (freq + 1)[:k].sum())
    assert logits[0, 0, hidden_var].softmax(-1)[0] == pytest.approx(want)


def test_unweighted_records_keep_their_weights_fixed(prob):
    syn = _task(prob, weighted=False, init_weight=2.0).init_synthetic(prob.sources, 3, make_generator(0))
    assert syn.learnable == {"logits"} and torch.allclose(syn["log_weight"].exp(), torch.full((6,), 2.0,
                                                                                              dtype=torch.float64))


def test_score_on_others_leaves_out_the_part_being_updated(prob):
    model = prob.truth
    x1 = codes(prob.sources[1])
    want = float(model.log_likelihood(x1).mean())
    assert float(_task(prob, score_on="others").score(model, prob.sources, part=0)) == pytest.approx(want, rel=1e-12)
    assert float(_task(prob, score_on="all").score(model, prob.sources, part=0)) != pytest.approx(want, rel=1e-6)


def test_exact_hypergradient_passes_gradcheck(prob):
    src = Sources([s.subset(slice(0, 15)) for s in prob.sources])
    task = _task(prob, score_on="all")
    syn = task.init_synthetic(src, 2, make_generator(0))
    vals = [p.detach().clone().requires_grad_() for p in syn.parameters()]
    assert torch.autograd.gradcheck(lambda *v: task.objective(syn.with_learnable(list(v)), src), vals)


def test_distilled_set_beats_a_clean_subset_of_the_same_size(prob):
    S, cards = prob.truth.structure, prob.truth.cards
    task = _task(prob, score_on="all")
    res = distill(task, prob.sources, 3, steps=60, lr=0.1, seed=0, device="cpu", quiet=True)
    got = task.evaluate(res.synthetic, prob.test)
    subs = [mean_ll(baselines.sub(S, cards, prob.full_clean, 6, make_generator(s)), codes(prob.test))
            for s in range(5)]
    assert got["test_ll"] > max(subs)
    assert got["total_weight"] > 6.0  # the weights grew
    assert set(got) == {"test_ll", "test_ll_rounded", "total_weight"}


def test_rounded_records_of_confident_logits_give_the_same_model(prob):
    task = _task(prob)
    x = codes(prob.full_clean)[:8]
    logits = 40.0 * torch.nn.functional.one_hot(x, 3).double()
    syn = SyntheticSet([{"logits": logits, "log_weight": torch.randn(8, dtype=torch.float64)}], ["logits"])
    a, b = task.fit(syn), task.fit_rounded(syn)
    for x, y in zip(a.cpt0 + a.cpt, b.cpt0 + b.cpt):
        assert torch.allclose(x, y, atol=1e-12)


def test_get_task_builds_it_by_name(prob):
    task = get_task("dbn-discrete", structure=prob.truth.structure, cards=prob.truth.cards)
    assert isinstance(task, DiscreteDBNTask) and task.config()["cards"] == list(prob.truth.cards)


def test_bad_settings_raise_config_errors(prob):
    S = prob.truth.structure
    with pytest.raises(ConfigError, match="cards"):
        DiscreteDBNTask(S, [2, 2])
    with pytest.raises(ConfigError, match="alpha"):
        _task(prob, alpha=0.0)
    with pytest.raises(ConfigError, match="score_on"):
        _task(prob, score_on="mine")
    with pytest.raises(ConfigError, match="budget"):
        _task(prob).validate(prob.sources, 401)


def test_bad_data_raise_data_errors(prob):
    task = _task(prob)
    s = prob.sources[0]
    frac = Source(s.values + 0.5, s.mask, s.variables, "frac")
    with pytest.raises(DataError, match="non-integer"):
        task.validate(Sources([frac, prob.sources[1]]), 2)
    big = Source(torch.where(s.mask, s.values + 5, s.values), s.mask, s.variables, "big")
    with pytest.raises(DataError, match="not a category code"):
        task.validate(Sources([big, prob.sources[1]]), 2)
    with pytest.raises(DataError, match="unknown"):
        task.validate(Sources([Source(s.values, s.mask, [f"y{j}" for j in range(5)], "renamed")]), 2)
    with pytest.raises(DataError, match="Sources"):
        task.validate(s, 2)
