"""resolve_device and make_generator: typed errors, determinism."""

import numpy as np
import pytest
import torch

from taskdd import ConfigError
from taskdd.device import make_generator, resolve_device


def test_auto_and_none_pick_cpu_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") == resolve_device(None)
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_picks_cuda_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")


@pytest.mark.parametrize("device, match", [
    ("banana", r"device 'banana' is not a device; use 'auto', 'cpu' or 'cuda'"),
    (3.5, r"device 3.5 is not a device"),
    ("meta", r"device 'meta' is not supported; use 'auto', 'cpu' or 'cuda'"),
])
def test_bad_devices_are_config_errors_naming_them(device, match):
    with pytest.raises(ConfigError, match=match):
        resolve_device(device)


def test_cuda_without_a_gpu_is_a_config_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA device is available"):
        resolve_device("cuda:0")


def test_same_seed_same_numbers_other_seed_other_numbers():
    a = torch.rand(5, generator=make_generator(7))
    assert torch.equal(a, torch.rand(5, generator=make_generator(7)))
    assert not torch.equal(a, torch.rand(5, generator=make_generator(8)))
    assert torch.equal(a, torch.rand(5, generator=make_generator(np.int64(7))))  # numpy ints are seeds too
    assert make_generator(2**64 - 1).device == torch.device("cpu")


def test_the_generator_is_private_and_leaves_the_global_rng_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    torch.rand(4, generator=make_generator(1))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3", None, 2**64])
def test_bad_seeds_are_config_errors_naming_them(seed):
    with pytest.raises(ConfigError, match=rf"seed must be an int in \[0, 2\*\*64\), got {seed!r}"):
        make_generator(seed)
