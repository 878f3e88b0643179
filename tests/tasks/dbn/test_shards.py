"""Shard summaries merge exactly (parallel-variance formula) on any engine."""

import importlib.util

import numpy as np
import pytest
import torch

from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn.shards import summarize_shards
from taskdd.tasks.dbn.summaries import merge_summaries, summarize

T, D = 2, 2


def data(n, seed, offset=1e6):
    """Rows far from zero (a naive sum-of-squares variance loses ~6 digits here), 3 patterns."""
    rng = np.random.default_rng(seed)
    values = offset + rng.standard_normal((n, T, D)) * np.array([1.0, 3.0])
    patterns = np.ones((3, T, D), bool)
    patterns[1, :, 0] = False
    patterns[2, 1] = False
    mask = patterns[rng.integers(0, 3, n)]
    return values, mask


def shards_of(values, mask, k):
    return [(v, m) for v, m in zip(np.array_split(values, k), np.array_split(mask, k))]


def assert_same(a, b, rtol):
    assert torch.equal(a.masks, b.masks) and torch.equal(a.counts, b.counts)
    assert torch.allclose(a.means, b.means, rtol=1e-13, atol=0)
    scale = float(b.covs.abs().max())
    assert float((a.covs - b.covs).abs().max()) < rtol * scale


def test_merged_shards_equal_one_pass_on_a_million_rows():
    values, mask = data(10 ** 6, 0)
    one = summarize(torch.from_numpy(values), torch.from_numpy(mask))
    merged = summarize_shards(shards_of(values, mask, 16))
    assert_same(merged, one, 1e-9)
    true_var = np.array([1.0, 9.0, 1.0, 9.0])
    assert bool(one.masks[-1].all()) and np.allclose(one.covs[-1].diagonal().numpy(), true_var, rtol=0.01)


def test_merge_does_not_lose_digits_to_large_means():
    values, mask = data(20000, 1)
    merged = merge_summaries([summarize(torch.from_numpy(v), torch.from_numpy(m)) for v, m in shards_of(values, mask, 7)])
    centred = summarize(torch.from_numpy(values - 1e6), torch.from_numpy(mask))
    assert float((merged.covs - centred.covs).abs().max()) < 1e-8


def test_process_pool_gives_the_serial_result():
    values, mask = data(50000, 2)
    shards = shards_of(values, mask, 4)
    serial = summarize_shards(shards)
    pooled = summarize_shards(shards, engine="process", workers=2)
    assert_same(pooled, serial, 1e-15)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the optional 'ray' extra is not installed")
def test_ray_gives_the_serial_result():
    values, mask = data(20000, 3)
    shards = shards_of(values, mask, 3)
    assert_same(summarize_shards(shards, engine="ray", workers=2), summarize_shards(shards), 1e-15)


def test_bad_engine_and_mismatched_shards_are_refused():
    values, mask = data(10, 4)
    with pytest.raises(ConfigError, match="known engines: serial, process, ray"):
        summarize_shards(shards_of(values, mask, 2), engine="dask")
    with pytest.raises(DataError, match="share"):
        merge_summaries([summarize(torch.zeros(2, 2, 2)), summarize(torch.zeros(2, 3, 2))])
