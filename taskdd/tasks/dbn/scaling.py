"""Per-variable standardisation of a user's panel: work in standard units, report in the user's.

:class:`Scaling` holds, for each variable, the mean and standard deviation of its *observed*
cells over the training sources (missing cells are ignored, so a variable that one source hides
is scaled by the sources that show it). ``z = (x - mean) / std``. A density in user units differs
from one in standard units by the log-Jacobian of that map: for a sequence,
``log p_user(x) = log p_std(z) - sum over observed entries of log std_j``
(:meth:`Scaling.log_jacobian`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from taskdd.data import Source, Sources
from taskdd.errors import DataError

__all__ = ["Scaling"]


@dataclass(frozen=True)
class Scaling:
    """``variables`` (names, in the order of the last axis), ``mean [d]``, ``std [d]`` (> 0)."""

    variables: tuple[str, ...]
    mean: Tensor
    std: Tensor

    def __post_init__(self):
        object.__setattr__(self, "variables", tuple(str(v) for v in self.variables))
        mean = torch.as_tensor(self.mean, dtype=torch.float64).flatten()
        std = torch.as_tensor(self.std, dtype=torch.float64).flatten()
        d = len(self.variables)
        if mean.shape != (d,) or std.shape != (d,):
            raise DataError(f"Scaling over {d} variables needs mean and std of shape [{d}], got "
                            f"{tuple(mean.shape)} and {tuple(std.shape)}")
        bad = [v for v, m, s in zip(self.variables, mean.tolist(), std.tolist())
               if not (math.isfinite(m) and math.isfinite(s) and s > 0)]
        if bad:
            raise DataError(f"Scaling needs a finite mean and a finite std > 0 per variable; not so for {bad}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @classmethod
    def identity(cls, variables: Sequence[str]) -> "Scaling":
        """mean 0, std 1: user units are standard units (``--no-standardize``)."""
        d = len(variables)
        return cls(tuple(variables), torch.zeros(d, dtype=torch.float64), torch.ones(d, dtype=torch.float64))

    @classmethod
    def fit(cls, sources: Sources) -> "Scaling":
        """Mean and (n-1) std of each variable's observed cells, pooled over ``sources``.

        Raises DataError naming a variable with fewer than 2 observed cells or zero spread."""
        vals = torch.cat([s.values.reshape(-1, sources.d) for s in sources]).double()
        mask = torch.cat([s.mask.reshape(-1, sources.d) for s in sources])
        cnt = mask.sum(0)
        mean = (vals * mask).sum(0) / cnt
        return cls.from_moments(sources.variables, cnt, mean, (((vals - mean) ** 2) * mask).sum(0))

    @classmethod
    def from_moments(cls, variables: Sequence[str], cnt: Tensor, mean: Tensor, m2: Tensor) -> "Scaling":
        """From each variable's observed-cell count, mean and sum of squared deviations ``[d]``
        (std = sqrt(m2 / (cnt - 1))); the checks of :meth:`fit`."""
        few = [f"{v!r} ({int(c)})" for v, c in zip(variables, cnt.tolist()) if c < 2]
        if few:
            raise DataError(f"variables {', '.join(few)} are observed in fewer than 2 cells over all sources; "
                            "each variable needs at least 2 observed values (drop the column or add data)")
        std = (m2 / (cnt - 1)).sqrt()
        flat = [f"{v!r} (always {float(m):g})" for v, m, s in zip(variables, mean, std)
                if not s > 1e-12 * max(1.0, abs(float(m)))]
        if flat:
            raise DataError(f"variables {', '.join(flat)} have zero spread over their observed cells; "
                            "a constant carries no information for the DBN (drop the column)")
        return cls(tuple(variables), mean, std)

    def _stats(self, like: Tensor) -> tuple[Tensor, Tensor]:
        if like.shape[-1] != len(self.variables):
            raise DataError(f"Scaling over {len(self.variables)} variables got values with last axis "
                            f"{like.shape[-1]}")
        return self.mean.to(like.device, like.dtype), self.std.to(like.device, like.dtype)

    def to_standard(self, values: Tensor) -> Tensor:
        """``[..., d]`` user units -> standard units."""
        mean, std = self._stats(values)
        return (values - mean) / std

    def to_user(self, values: Tensor) -> Tensor:
        """``[..., d]`` standard units -> user units."""
        mean, std = self._stats(values)
        return values * std + mean

    def log_jacobian(self, mask: Tensor) -> Tensor:
        """``[N]``: ``-sum`` over each sequence's observed entries (``mask [N, T, d]``) of
        ``log std_j``; log-likelihood in user units = log-likelihood in standard units + this."""
        _, std = self._stats(mask.to(torch.float64))
        return -(mask.to(std.dtype) * std.log()).sum(dim=tuple(range(1, mask.ndim)))

    def source(self, s: Source) -> Source:
        """``s`` (over our variables, any order) in standard units; its mask is kept."""
        s = s.reorder(self.variables) if s.variables != self.variables else s
        return Source(self.to_standard(s.values), s.mask, s.variables, s.name, s.noise)

    def sources(self, sources: Sources) -> Sources:
        """Every source in standard units."""
        return Sources([self.source(s) for s in sources])

    def model_to_user(self, model):
        """A :class:`LinearGaussianDBN` over standard units -> the same DBN over user units.

        With ``x = mean + S z`` (``S = diag(std)``): ``B' = S B S^-1``, ``A' = S A S^-1``,
        ``b' = (I - B' - A') mean + S b``, ``s' = S s`` (first slice: ``B0'``, ``b0' = (I - B0')
        mean + S b0``, ``s0' = S s0``). Its log-likelihood of user-unit data equals the
        standard-unit one plus :meth:`log_jacobian` (no observation noise; a scalar noise ``sigma``
        in standard units is ``sigma * std_j`` in user units)."""
        from taskdd.tasks.dbn.model import LinearGaussianDBN

        p = model.parameters_dict()
        if tuple(model.structure.variables) != self.variables:
            raise DataError(f"model variables {list(model.structure.variables)} differ from the scaling's "
                            f"{list(self.variables)}")
        mean, std = self._stats(p["b"])
        conj = {k: std[:, None] * p[k] / std[None, :] for k in ("B0", "B", "A")}
        eye = torch.eye(len(std), dtype=std.dtype, device=std.device)
        return LinearGaussianDBN(model.structure, check=False, **conj, s0=std * p["s0"], s=std * p["s"],
                                 b0=(eye - conj["B0"]) @ mean + std * p["b0"],
                                 b=(eye - conj["B"] - conj["A"]) @ mean + std * p["b"])

    def to_json(self) -> dict:
        return {"variables": list(self.variables), "mean": self.mean.tolist(), "std": self.std.tolist(),
                "map": "standard = (user - mean) / std"}

    @classmethod
    def from_json(cls, obj: dict) -> "Scaling":
        try:
            return cls(tuple(obj["variables"]), torch.tensor(obj["mean"], dtype=torch.float64),
                       torch.tensor(obj["std"], dtype=torch.float64))
        except (KeyError, TypeError, ValueError) as e:
            raise DataError(f"not a Scaling: needs 'variables', 'mean', 'std' lists ({e})") from None
