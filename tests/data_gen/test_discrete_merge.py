"""Hospitals from a discrete DBN: recorded fractions, coverage, missing cells, determinism."""

import pytest
import torch

from data_gen.discrete_dbn import random_discrete_dbn
from data_gen.discrete_merge import make_hospitals
from taskdd import ConfigError


@pytest.fixture(scope="module")
def truth():
    return random_discrete_dbn(12, cards=(2, 4), seed=0)


def test_each_hospital_records_its_share_and_every_variable_is_recorded(truth):
    p = make_hospitals(truth, n_per_source=300, T=2, K=4, n_test=50, seed=1)
    assert [len(s) for s in p.sources] == [300] * 4 and p.full_clean.shape == (1200, 2, 12)
    assert p.test.shape == (50, 2, 12) and bool(p.test.mask.all())
    assert set().union(*p.recorded) == set(truth.structure.variables)
    for s, rec in zip(p.sources, p.recorded):
        assert 0.6 * 12 - 0.5 <= len(rec) <= 0.75 * 12 + 0.5
        shown = s.mask.any(0).any(0)
        assert [v for v, m in zip(s.variables, shown.tolist()) if m] == [v for v in s.variables if v in rec]
        cells = s.mask[..., shown]
        assert 0.9 < float(cells.float().mean()) < 0.99  # 5% of recorded cells missing
    j = 2
    rows = slice(j * 300, (j + 1) * 300)
    src = p.sources[j]
    assert torch.equal(src.values[src.mask], p.full_clean.values[rows][src.mask])


def test_same_seed_same_hospitals(truth):
    a = make_hospitals(truth, n_per_source=50, T=2, K=3, n_test=10, seed=4)
    b = make_hospitals(truth, n_per_source=50, T=2, K=3, n_test=10, seed=4)
    assert a.recorded == b.recorded and all(torch.equal(x.values, y.values) for x, y in zip(a.sources, b.sources))


def test_bad_settings_raise_config_errors(truth):
    with pytest.raises(ConfigError, match="keep"):
        make_hospitals(truth, n_per_source=10, T=1, K=2, keep=(0.8, 0.5), n_test=5, seed=0)
    with pytest.raises(ConfigError, match="cover"):
        make_hospitals(truth, n_per_source=10, T=1, K=1, keep=(0.5, 0.5), n_test=5, seed=0)
    with pytest.raises(ConfigError, match="static"):
        make_hospitals(random_discrete_dbn(3, static=True), n_per_source=10, T=2, K=2, n_test=5, seed=0)
