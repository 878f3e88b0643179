"""Shared fixtures: the device list (CUDA cases skip when there is none, run when there is)."""

import os
import tempfile

import pytest
import torch

os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="mpl-"))
os.environ.setdefault("DDE_BACKEND", "pytorch")
# Tests run many small tensor ops; one thread is much faster for those, and CI has 2 cores.
torch.set_num_threads(1)

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")),
]


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def _no_global_default_device_leak():
    """Every test must leave torch's default device and dtype as it found them."""
    before = (torch.get_default_dtype(), torch.empty(0).device)
    yield
    assert (torch.get_default_dtype(), torch.empty(0).device) == before, "a test changed torch's global defaults"
