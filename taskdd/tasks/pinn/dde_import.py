"""Lazy, side-effect-free access to deepxde.

deepxde picks its backend from ``DDE_BACKEND`` (else it prompts or writes a config file), and on
import with CUDA it calls ``torch.set_default_device("cuda")`` for the whole process. Its
samplers and network initialisers draw from the global numpy / torch random state. Everything
in taskdd that needs deepxde goes through :func:`import_deepxde` and runs deepxde code inside
:func:`isolated_globals`, so no global device, dtype or random state changes.
"""

from __future__ import annotations

import io
import logging
import os
import random
import tempfile
from contextlib import contextmanager, redirect_stderr
from types import ModuleType
from typing import Iterator

import numpy as np
import torch

__all__ = ["import_deepxde", "isolated_globals"]

log = logging.getLogger(__name__)


@contextmanager
def isolated_globals() -> Iterator[None]:
    """Restore torch's default device and dtype and the python / numpy / torch (CPU and CUDA)
    random states on exit."""
    device, dtype = torch.get_default_device(), torch.get_default_dtype()
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if torch.cuda.is_available() else []):
            yield
    finally:
        if torch.get_default_device() != device:
            torch.set_default_device(None if device.type == "cpu" else device)  # None: no device mode at all
        if torch.get_default_dtype() != dtype:
            torch.set_default_dtype(dtype)
        random.setstate(py_state)
        np.random.set_state(np_state)


def import_deepxde() -> ModuleType:
    """``import deepxde`` with the pytorch backend, leaving torch's global defaults unchanged."""
    os.environ.setdefault("DDE_BACKEND", "pytorch")
    os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="mpl-"))
    banner = io.StringIO()
    with isolated_globals(), redirect_stderr(banner):  # deepxde prints its backend banner on import
        import deepxde
    if banner.getvalue():
        log.debug("deepxde: %s", banner.getvalue().strip())
    return deepxde
