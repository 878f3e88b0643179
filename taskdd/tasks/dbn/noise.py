"""Observation-noise levels of a DBN's data: one std dev, one per variable, or one per source.

Accepted forms (std devs >= 0, finite; vectors in the structure's variable order):

- a number: every variable of every source;
- a ``[d]`` vector (tensor, list or tuple): per variable, the same for every source;
- a ``[K, d]`` tensor or nested list (K = number of sources): row ``j`` for source ``j``;
- a mapping ``{source name: number or [d] vector}`` naming every source.

:func:`check_obs_noise` validates one source's level for :meth:`LinearGaussianDBN.log_likelihood`;
:func:`noise_per_source` resolves any form (or each ``Source.noise`` when None) to one level per
source: a Python float where it is one number (the scalar path stays bit-for-bit what it was),
a ``[d]`` tensor otherwise.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence, Union

import torch
from torch import Tensor

from taskdd.errors import ConfigError, DataError

__all__ = ["NoiseSpec", "check_obs_noise", "noise_per_source", "noise_to_json"]

NoiseSpec = Union[float, Sequence[float], Sequence[Sequence[float]], Tensor, Mapping[str, Union[float, Sequence[float], Tensor]]]


def check_obs_noise(obs_noise, d: int, what: str = "obs_noise", error: type = DataError,
                    n: int | None = None) -> float | Tensor:
    """One noise level: a number (returned as float) or ``[d]`` values — or ``[n, d]``, one row per
    sequence, when ``n`` is given — (returned as a float tensor, a given tensor as it is, so it
    keeps its graph). Raises ``error`` naming ``what`` otherwise."""
    if isinstance(obs_noise, bool):
        raise error(f"{what} must be a number or a [{d}] vector of std devs, got {obs_noise!r}")
    if isinstance(obs_noise, (int, float)):
        if not (math.isfinite(obs_noise) and obs_noise >= 0):
            raise error(f"{what} must be a finite number >= 0, got {obs_noise!r}")
        return float(obs_noise)
    if not isinstance(obs_noise, Tensor):
        try:
            obs_noise = torch.as_tensor(obs_noise, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise error(f"{what} must be a number or a [{d}] vector of std devs, got {obs_noise!r}") from None
    if not obs_noise.is_floating_point():
        obs_noise = obs_noise.to(torch.float64)
    if obs_noise.shape not in ((), (d,)) and (n is None or obs_noise.shape != (n, d)):
        raise error(f"{what} must be a number or a [{d}] vector (one std dev per variable), got shape "
                    f"{tuple(obs_noise.shape)}")
    v = obs_noise.detach()
    if not (torch.isfinite(v).all() and (v >= 0).all()):
        raise error(f"{what} must be finite and >= 0, got {v.tolist()}")
    return obs_noise


def noise_per_source(obs_noise: NoiseSpec | None, sources, d: int, *,
                     error: type = ConfigError) -> list[float | Tensor]:
    """One noise level per source of ``sources`` (anything with ``.name`` and ``.noise`` per item):
    ``obs_noise`` in any accepted form, or each ``Source.noise`` when None (which must be set)."""
    names = [s.name for s in sources]
    if obs_noise is None:
        missing = [s.name for s in sources if s.noise is None]
        if missing:
            raise error(f"sources {missing} have no known noise level; set Source.noise or give obs_noise "
                        "(or estimate it with baselines.estimate_noise)")
        return [float(s.noise) for s in sources]
    if isinstance(obs_noise, Mapping):
        lacking = [n for n in names if n not in obs_noise]
        extra = sorted(set(map(str, obs_noise)) - set(names))
        if lacking or extra:
            raise error(f"obs_noise by source must name every source {names} and no other: lacking {lacking}, "
                        f"unknown {extra}")
        return [check_obs_noise(obs_noise[n], d, f"obs_noise[{n!r}]", error) for n in names]
    if not isinstance(obs_noise, (int, float, Tensor)):
        try:
            obs_noise = torch.as_tensor(obs_noise, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise error(f"obs_noise must be a number, a [d] or [K, d] array or a mapping by source name, "
                        f"got {obs_noise!r}") from None
    if isinstance(obs_noise, Tensor) and obs_noise.ndim == 2:
        if tuple(obs_noise.shape) != (len(names), d):
            raise error(f"obs_noise as a [K, d] array must have shape ({len(names)}, {d}) (one row per source), "
                        f"got {tuple(obs_noise.shape)}")
        return [check_obs_noise(row, d, f"obs_noise[{j}]", error) for j, row in enumerate(obs_noise)]
    one = check_obs_noise(obs_noise, d, "obs_noise", error)
    return [one] * len(names)


def noise_to_json(obs_noise: NoiseSpec | None):
    """``obs_noise`` as JSON-able numbers and lists (tensors to lists, mappings kept)."""
    if isinstance(obs_noise, Mapping):
        return {str(k): noise_to_json(v) for k, v in obs_noise.items()}
    if isinstance(obs_noise, Tensor):
        return obs_noise.detach().cpu().tolist()
    if isinstance(obs_noise, (list, tuple)):
        return [noise_to_json(v) for v in obs_noise]
    return obs_noise
