"""``LinearGaussianDBN``: parameters, closed-form fit, exact masked log-likelihood, sampling.

The export to pgmpy lives in :func:`taskdd.tasks.dbn.pgmpy_bridge.to_pgmpy` (the bridge imports
this module, never the other way round, and pgmpy loads only when the bridge is used)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from taskdd.errors import CheckpointError, DataError
from taskdd.tasks.dbn.fit import least_squares_parameters
from taskdd.tasks.dbn.io import read_model, write_model
from taskdd.tasks.dbn.likelihood import kalman_log_likelihood, regression_log_likelihood, state_space
from taskdd.tasks.dbn.noise import check_obs_noise
from taskdd.tasks.dbn.structure import DBNStructure

__all__ = ["LinearGaussianDBN", "fit_dbn"]

_NAMES = ("B0", "b0", "s0", "B", "A", "b", "s")


class LinearGaussianDBN:
    """A linear-Gaussian two-slice DBN.

    First slice: ``x_0 = B0 x_0 + b0 + s0 * eps``; slices ``t >= 1``:
    ``x_t = B x_t + A x_{t-1} + b + s * eps``, ``eps ~ N(0, I)``.
    ``B0, B [d, d]`` follow ``structure.intra_mask``, ``A [d, d]`` follows ``structure.inter_mask``
    (row = child, column = parent); ``b0, b [d]`` intercepts; ``s0, s [d]`` noise std devs > 0.
    All seven tensors share one dtype and device; they may require grad.
    ``check=False`` skips the value checks (mask pattern, positive std devs) that read tensor
    values; shapes, dtypes and devices are always checked.
    """

    def __init__(self, structure: DBNStructure, *, B0: Tensor, b0: Tensor, s0: Tensor, B: Tensor,
                 A: Tensor, b: Tensor, s: Tensor, check: bool = True):
        if not isinstance(structure, DBNStructure):
            raise DataError(f"structure must be a DBNStructure, got {type(structure).__name__}")
        self.structure = structure
        params = dict(B0=B0, b0=b0, s0=s0, B=B, A=A, b=b, s=s)
        d = structure.d
        for k, v in params.items():
            want = (d, d) if k in ("B0", "B", "A") else (d,)
            if not isinstance(v, Tensor) or not v.is_floating_point() or tuple(v.shape) != want:
                raise DataError(f"{k} must be a float tensor of shape {want}, got "
                                f"{(v.dtype, tuple(v.shape)) if isinstance(v, Tensor) else type(v).__name__}")
        kinds = {(v.dtype, v.device) for v in params.values()}
        if len(kinds) > 1:
            raise DataError(f"parameters must share one dtype and device, got {sorted(map(str, kinds))}")
        if check:
            self._check_values(params)
        self.B0, self.b0, self.s0, self.B, self.A, self.b, self.s = (params[k] for k in _NAMES)
        self.metadata: dict[str, Any] = {}  # what :meth:`load` read beside the parameters

    def _check_values(self, p: dict[str, Tensor]) -> None:
        s = self.structure
        for k, m in (("B0", s.intra_mask), ("B", s.intra_mask), ("A", s.inter_mask)):
            off = (p[k].detach() != 0) & ~m.to(p[k].device)
            if off.any():
                i, j = (int(x) for x in off.nonzero()[0])
                raise DataError(f"{k} has {int(off.sum())} nonzero entries outside the structure's edges, "
                                f"first at [{s.variables[i]!r}, {s.variables[j]!r}] = {float(p[k][i, j])}")
        for k in ("s0", "s"):
            bad = ~(p[k].detach() > 0) | ~torch.isfinite(p[k].detach())
            if bad.any():
                raise DataError(f"{k} (noise std devs) must be finite and > 0, got {p[k].detach().tolist()}")

    # --- parameters ------------------------------------------------------------------------
    @property
    def d(self) -> int:
        return self.structure.d

    @property
    def dtype(self) -> torch.dtype:
        return self.B.dtype

    @property
    def device(self) -> torch.device:
        return self.B.device

    def parameters_dict(self) -> dict[str, Tensor]:
        """``{"B0", "b0", "s0", "B", "A", "b", "s"}`` -> tensor (the model's own tensors)."""
        return {k: getattr(self, k) for k in _NAMES}

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "LinearGaussianDBN":
        """Copy onto ``device`` / ``dtype`` (differentiable, like ``Tensor.to``)."""
        out = LinearGaussianDBN(self.structure, check=False,
                                **{k: v.to(device=device, dtype=dtype) for k, v in self.parameters_dict().items()})
        out.metadata = self.metadata
        return out

    def detach(self) -> "LinearGaussianDBN":
        """The same parameters, cut from the autograd graph."""
        out = LinearGaussianDBN(self.structure, check=False, **{k: v.detach() for k, v in self.parameters_dict().items()})
        out.metadata = self.metadata
        return out

    def __repr__(self) -> str:
        s = self.structure
        return (f"LinearGaussianDBN(d={s.d}, intra_edges={int(s.intra_mask.sum())}, "
                f"inter_edges={int(s.inter_mask.sum())}, dtype={self.dtype}, device={self.device}, "
                f"variables={list(s.variables)})")

    # --- learning --------------------------------------------------------------------------
    @classmethod
    def fit_to(cls, structure: DBNStructure, values: Tensor, mask: Tensor | None = None,
               ridge: float = 1e-6) -> "LinearGaussianDBN":
        """Closed-form per-node least squares on ``values: [N, T, d]`` (T >= 2); see
        :func:`taskdd.tasks.dbn.fit.least_squares_parameters` for the mask rule. Differentiable
        w.r.t. ``values``; parameters in ``values``' dtype and device."""
        return cls(structure, check=False, **least_squares_parameters(structure, values, mask, ridge))

    def fit(self, values: Tensor, mask: Tensor | None = None, ridge: float = 1e-6) -> "LinearGaussianDBN":
        """A new DBN with this one's structure fitted to ``values: [N, T, d]`` (see :meth:`fit_to`)."""
        return self.fit_to(self.structure, values, mask, ridge)

    # --- likelihood ------------------------------------------------------------------------
    def log_likelihood(self, values: Tensor, mask: Tensor | None = None,
                       obs_noise: float | Tensor | Sequence[float] = 0.0) -> Tensor:
        """Marginal log-likelihood of each sequence.

        values: [N, T, d] float (cast to the model's dtype); mask: [N, T, d] bool, True = observed
        (None = all observed). obs_noise: std dev of the Gaussian noise on observed entries, a
        number (every variable), ``[d]`` values (one per variable, in ``structure.variables``
        order) or ``[N, d]`` (one row per sequence, e.g. sources of different noise in one call);
        a tensor may require grad. A number ``s`` and the ``[d]`` vector filled with ``s``
        give the same result.
        Returns [N]. Masked entries are marginalised; their values are never read. Exact,
        differentiable w.r.t. ``values``, the parameters and a tensor ``obs_noise``. Without mask
        and with ``obs_noise=0`` (a number) it uses per-node regressions; otherwise a Kalman filter.
        To match data columns by name, see :meth:`log_likelihood_by_name`.
        """
        self.structure.check_data(values, mask)
        obs_noise = check_obs_noise(obs_noise, self.d, n=values.shape[0])
        if mask is None and not isinstance(obs_noise, Tensor) and obs_noise == 0:
            return regression_log_likelihood(self.parameters_dict(), values.to(self.dtype))
        r2 = torch.as_tensor(obs_noise, dtype=self.dtype, device=self.device).square()
        r2 = r2 if r2.ndim == 2 else r2.expand(self.d)
        return kalman_log_likelihood(state_space(self.parameters_dict()), values.to(self.dtype), mask, r2)

    def log_likelihood_by_name(self, data, mask: Tensor | None = None, variables: Sequence[str] | None = None, *,
                               obs_noise: float | Tensor | Sequence[float] | Mapping[str, float] = 0.0,
                               missing: str = "mask", scaling: Mapping[str, Sequence[float]] | None = None) -> Tensor:
        """:meth:`log_likelihood` of data whose columns are matched to the model's variables by name.

        data: a ``Source`` (its ``values``, ``mask`` and ``variables``) or ``values [N, T, k]`` with
        ``mask [N, T, k]`` (None = all observed) and ``variables``, the k column names. Columns are
        reordered to ``structure.variables``. A column the model does not have raises
        :class:`DataError` naming it. A model variable absent from the data is marginalised
        (treated as never observed) with ``missing="mask"``, refused with ``missing="error"``.
        obs_noise: a number, ``[d]`` in the model's order, or ``{variable: std}`` naming every
        model variable (in the model's units). scaling: ``{variable: (mean, std)}`` for a model
        fitted in standard units ``(x - mean) / std`` to data given in the user's units: the data
        are standardised by name and the result is in the user's units (the log-Jacobian
        ``-sum log std`` over each sequence's observed entries added). Returns [N].
        """
        if variables is None and hasattr(data, "variables") and hasattr(data, "values"):
            data, mask, variables = data.values, data.mask, data.variables
        if variables is None:
            raise DataError("log_likelihood_by_name needs the data's column names: give variables=[...] or a Source")
        if missing not in ("mask", "error"):
            raise DataError(f"missing must be 'mask' or 'error', got {missing!r}")
        if not isinstance(data, Tensor) or data.ndim != 3 or data.shape[-1] != len(variables):
            raise DataError(f"values must be a tensor of shape [N, T, {len(variables)}] (one column per name in "
                            f"variables), got {tuple(data.shape) if isinstance(data, Tensor) else type(data).__name__}")
        index, absent = self._columns(variables, missing)
        values = data[..., index.to(data.device)]
        keep = mask[..., index.to(data.device)] if mask is not None else torch.ones_like(values, dtype=torch.bool)
        if absent:
            keep = keep.clone()
            keep[..., [self.structure.index(v) for v in absent]] = False
        jacobian = 0.0
        if scaling is not None:
            lacking = [v for v in self.structure.variables if v not in scaling]
            if lacking:
                raise DataError(f"scaling must give (mean, std) for every model variable; lacking {lacking}")
            mean, std = (torch.tensor([float(scaling[v][i]) for v in self.structure.variables], dtype=values.dtype,
                                      device=values.device) for i in (0, 1))
            if not bool((std > 0).all()):
                raise DataError(f"scaling std devs must be > 0, got {std.tolist()}")
            values = (values - mean) / std
            jacobian = (keep.to(values.dtype) * std.log()).sum((1, 2))
        if isinstance(obs_noise, Mapping):
            lacking = [v for v in self.structure.variables if v not in obs_noise]
            if lacking:
                raise DataError(f"obs_noise by name must give every model variable; lacking {lacking}")
            obs_noise = [float(obs_noise[v]) for v in self.structure.variables]
        return self.log_likelihood(values, keep if (mask is not None or absent) else None, obs_noise) - jacobian

    def _columns(self, variables: Sequence[str], missing: str) -> tuple[Tensor, list[str]]:
        """Column of each model variable in ``variables`` (0 for absent ones) and the absent ones."""
        names = [str(v) for v in variables]
        unknown = [v for v in names if v not in self.structure.variables]
        if unknown or len(set(names)) != len(names):
            rep = sorted({v for v in names if names.count(v) > 1})
            raise DataError(f"data columns {unknown} are not variables of the model (repeated: {rep}); the model's "
                            f"variables are {list(self.structure.variables)}")
        absent = [v for v in self.structure.variables if v not in names]
        if absent and missing == "error":
            raise DataError(f"model variables {absent} are absent from the data columns {names}")
        return torch.tensor([names.index(v) if v in names else 0 for v in self.structure.variables]), absent

    # --- files -----------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike, *, metadata: Mapping[str, Any] | None = None) -> Path:
        """Write the structure (variables, intra and inter parents), the parameters and ``metadata``
        (a JSON-able dict, e.g. the data's scaling and time grid) to ``directory/dbn_model.json``
        (plain JSON, atomic; see :mod:`taskdd.tasks.dbn.io`). Returns the file's path."""
        return write_model(directory, self.structure, self.parameters_dict(), metadata)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "LinearGaussianDBN":
        """The DBN saved by :meth:`save` in ``directory`` (CPU, stored dtype), its metadata in
        ``.metadata``. CheckpointError for a missing, corrupt or foreign file."""
        structure, params, metadata = read_model(directory)
        try:
            model = cls(structure, **params)
        except DataError as e:
            raise CheckpointError(f"saved DBN in {str(directory)!r} is inconsistent: {e}") from None
        model.metadata = metadata
        return model

    @classmethod
    def load_with_metadata(cls, directory: str | os.PathLike) -> tuple["LinearGaussianDBN", dict[str, Any]]:
        """``(model, metadata)`` saved by :meth:`save`."""
        model = cls.load(directory)
        return model, model.metadata

    # --- sampling ---------------------------------------------------------------
    def sample(self, n: int, T: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` sequences of length ``T``, ``[n, T, d]``, drawn on CPU with ``generator`` (a CPU generator;
        a fresh nondeterministically seeded one when None), returned on the model's device."""
        if n < 1 or T < 1:
            raise DataError(f"sample needs n >= 1 and T >= 1, got n={n}, T={T}")
        if generator is None:
            generator = torch.Generator()
            generator.seed()
        p = {k: v.detach().cpu() for k, v in self.parameters_dict().items()}
        eps = torch.randn(n, T, self.d, generator=generator, dtype=self.dtype)
        eye = torch.eye(self.d, dtype=self.dtype)
        L0T, LT = torch.linalg.inv(eye - p["B0"]).T, torch.linalg.inv(eye - p["B"]).T
        xs = [(p["b0"] + p["s0"] * eps[:, 0]) @ L0T]
        for t in range(1, T):
            xs.append((xs[-1] @ p["A"].T + p["b"] + p["s"] * eps[:, t]) @ LT)
        return torch.stack(xs, 1).to(self.device)


def fit_dbn(structure: DBNStructure, values: Tensor, mask: Tensor | None = None,
            ridge: float = 1e-6) -> LinearGaussianDBN:
    """Closed-form per-node least squares (same as :meth:`LinearGaussianDBN.fit_to`)."""
    return LinearGaussianDBN.fit_to(structure, values, mask, ridge)
