"""Device and seed helpers. Nothing here touches global state."""

from __future__ import annotations

import operator

import torch

from taskdd.errors import ConfigError

__all__ = ["resolve_device", "make_generator"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/None -> cuda when available, else cpu; ``"cuda"`` without a GPU is a ConfigError."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device {device!r} is not a device; use 'auto', 'cpu' or 'cuda'") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for, but no CUDA device is available; use 'cpu' or 'auto'")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {device!r} is not supported; use 'auto', 'cpu' or 'cuda'")
    return dev


def make_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed`` (sample on CPU, then move: same seed, same data on any device).

    seed: an integer in ``[0, 2**64)`` (Python or numpy int; bools and floats are refused).
    """
    try:
        value = operator.index(seed) if not isinstance(seed, bool) else None
    except TypeError:
        value = None
    if value is None or not 0 <= value < 2**64:
        raise ConfigError(f"seed must be an int in [0, 2**64), got {seed!r}")
    return torch.Generator(device="cpu").manual_seed(value)
