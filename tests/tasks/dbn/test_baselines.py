"""DBN baselines: direct fit and noise estimation with per-variable observation noise."""

import pytest
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd import ConfigError, Sources
from taskdd.tasks.dbn import baselines
from taskdd.tasks.dbn.task import DBNLikelihoodTask


@pytest.fixture(scope="module")
def prob():
    dbn = random_dbn(4, seed=3, dtype=torch.float64)
    return make_sources(dbn, n_per_source=150, T=5, K=2, hidden_per_source=1, noise=0.3, n_test=10, seed=3)


def test_direct_fit_with_a_number_equals_the_filled_vector_and_the_by_source_mapping(prob):
    S, src = prob.truth.structure, prob.sources
    a = baselines.direct_fit(S, src, obs_noise=0.3, max_iter=20)
    b = baselines.direct_fit(S, src, obs_noise=[0.3] * 4, max_iter=20)
    c = baselines.direct_fit(S, src, obs_noise={n: 0.3 for n in src.names}, max_iter=20)
    for k, v in a.parameters_dict().items():
        torch.testing.assert_close(b.parameters_dict()[k], v, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(c.parameters_dict()[k], v, rtol=0, atol=0)


def test_estimated_noise_is_near_the_truth_for_every_convention(prob):
    S, src = prob.truth.structure, prob.sources
    by_source = baselines.estimate_noise(S, src)
    assert set(by_source) == set(src.names) and all(isinstance(v, float) for v in by_source.values())
    assert all(abs(v - 0.3) < 0.08 for v in by_source.values())
    pooled = baselines.estimate_noise(S, src, per="variable")
    assert all(v.shape == (4,) for v in pooled.values())
    torch.testing.assert_close(pooled[src.names[0]], pooled[src.names[1]], rtol=0, atol=0)
    assert abs(float(pooled[src.names[0]].mean()) - 0.3) < 0.08
    model, each = baselines.fit_with_noise(S, src, per="source_variable")
    assert all(v.shape == (4,) and torch.isfinite(v).all() for v in each.values())
    task = DBNLikelihoodTask(S, score_on="all", obs_noise=each)
    assert task.score(model, src) > task.score(baselines.impute(S, src), src)


def test_noise_estimation_refuses_short_sequences_and_unknown_conventions(prob):
    S = prob.truth.structure
    short = Sources([s.subset(slice(0, 10)) for s in prob.sources])
    short = Sources([type(s)(s.values[:, :2], s.mask[:, :2], s.variables, s.name) for s in short])
    with pytest.raises(ConfigError, match="T >= 3"):
        baselines.estimate_noise(S, short)
    with pytest.raises(ConfigError, match="per"):
        baselines.estimate_noise(S, prob.sources, per="lab")
