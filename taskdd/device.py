"""Device and seed helpers. Nothing here touches global state."""

from __future__ import annotations

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
    """A CPU generator seeded with ``seed`` (sample on CPU, then move: same seed, same data on any device)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be an int >= 0, got {seed!r}")
    return torch.Generator(device="cpu").manual_seed(seed)
