"""The DBN task scores from pattern summaries, rows, or the cheaper per pattern: the same number."""

import pytest
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd import Source, Sources
from taskdd.tasks.dbn.task import DBNLikelihoodTask


@pytest.fixture(scope="module")
def prob():
    dbn = random_dbn(4, seed=3, dtype=torch.float64)
    return make_sources(dbn, n_per_source=400, T=4, K=2, hidden_per_source=1, noise=0.3, n_test=50, seed=3)


def _with_random_holes(src: Source, seed: int) -> Source:
    """Some rows lose random cells: rare patterns beside the source's own."""
    g = torch.Generator().manual_seed(seed)
    holes = (torch.rand(src.shape, generator=g, dtype=torch.float64) < 0.3) & (torch.rand(len(src), 1, 1, generator=g) < 0.25)
    return Source(src.values, src.mask & ~holes, src.variables, src.name, src.noise)


@pytest.mark.parametrize("noise", [0.3, [0.1, 0.2, 0.3, 0.4]])
def test_score_is_the_same_from_summaries_rows_and_the_automatic_mix(prob, noise):
    sources = Sources([_with_random_holes(s, j) for j, s in enumerate(prob.sources.to(dtype=torch.float64))])
    model = prob.truth.to(dtype=torch.float64)
    got = {by: float(DBNLikelihoodTask(prob.truth.structure, score_on="all", obs_noise=noise, score_by=by)
                     .score(model, sources)) for by in ("rows", "summaries", "auto")}
    assert abs(got["summaries"] - got["rows"]) < 1e-9 * abs(got["rows"])
    assert abs(got["auto"] - got["rows"]) < 1e-9 * abs(got["rows"])


def test_score_gradient_to_the_synthetic_set_is_the_same_either_way(prob):
    sources = prob.sources.to(dtype=torch.float64)
    grads = {}
    for by in ("rows", "summaries"):
        task = DBNLikelihoodTask(prob.truth.structure, score_on="all", obs_noise=0.3, score_by=by)
        syn = task.init_synthetic(sources, 10, torch.Generator().manual_seed(0))
        grads[by] = torch.autograd.grad(task.objective(syn, sources), syn.parameters())[0]
    assert torch.allclose(grads["summaries"], grads["rows"], rtol=1e-8, atol=1e-10)


def test_unknown_score_by_is_refused(prob):
    from taskdd import ConfigError
    with pytest.raises(ConfigError, match="score_by"):
        DBNLikelihoodTask(prob.truth.structure, score_by="fast")


def test_sources_in_another_variable_order_score_the_same_and_are_split_once(prob, monkeypatch):
    import taskdd.tasks.dbn.task as task_module
    sources = prob.sources.to(dtype=torch.float64)
    shuffled = Sources([s.reorder(list(reversed(s.variables))) for s in sources])
    model = prob.truth.to(dtype=torch.float64)
    task = DBNLikelihoodTask(prob.truth.structure, score_on="all", obs_noise=0.3)
    want = float(task.score(model, sources))
    calls = []
    real = task_module.split_source
    monkeypatch.setattr(task_module, "split_source", lambda *a, **k: calls.append(1) or real(*a, **k))
    got = [float(task.score(model, shuffled)) for _ in range(3)]
    assert got == pytest.approx([want] * 3, rel=1e-12)
    assert len(calls) == len(shuffled)  # once per source, not once per call
