"""Bridge to pgmpy: the unrolled network, wide data frames, and pgmpy as a black-box learner.

Unrolled over ``T`` slices, variable ``v`` at slice ``t`` is the node ``f"{v}_t{t}"`` and the
wide data frame has one row per sequence and one such column per node.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from pgmpy.factors.continuous import LinearGaussianCPD
from pgmpy.models import LinearGaussianBayesianNetwork
from pgmpy.parameter_estimator import LinearGaussianMLE
from torch import Tensor

from taskdd.errors import DataError
from taskdd.tasks.dbn.model import LinearGaussianDBN
from taskdd.tasks.dbn.structure import DBNStructure

__all__ = ["node_name", "unrolled_network", "to_pgmpy", "to_wide_frame", "fit_pgmpy", "fit_pgmpy_dbn"]


def node_name(variable: str, t: int) -> str:
    """Name of ``variable`` at slice ``t`` in the unrolled network."""
    return f"{variable}_t{t}"


def unrolled_network(structure: DBNStructure, T: int) -> LinearGaussianBayesianNetwork:
    """The unrolled graph over ``T`` slices, without CPDs (every node present, isolated or not)."""
    if not isinstance(T, int) or T < 1:
        raise DataError(f"T must be an int >= 1, got {T!r}")
    edges = []
    for t in range(T):
        edges += [(node_name(p, t), node_name(c, t)) for c, ps in structure.intra.items() for p in ps]
        if t:
            edges += [(node_name(p, t - 1), node_name(c, t)) for c, ps in structure.inter.items() for p in ps]
    net = LinearGaussianBayesianNetwork(edges)
    net.add_nodes_from(node_name(v, t) for t in range(T) for v in structure.variables)
    return net


def to_pgmpy(dbn: LinearGaussianDBN, T: int) -> LinearGaussianBayesianNetwork:
    """``dbn`` unrolled over ``T`` slices with its CPDs (float64 numbers)."""
    s = dbn.structure
    net = unrolled_network(s, T)
    p = {k: v.detach().cpu().double().numpy() for k, v in dbn.parameters_dict().items()}
    cpds = []
    for t in range(T):
        W, b, sd = (p["B0"], p["b0"], p["s0"]) if t == 0 else (p["B"], p["b"], p["s"])
        for i, v in enumerate(s.variables):
            ev = [(node_name(u, t), W[i, s.index(u)]) for u in s.intra[v]]
            if t:
                ev += [(node_name(u, t - 1), p["A"][i, s.index(u)]) for u in s.inter[v]]
            cpds.append(LinearGaussianCPD(node_name(v, t), [b[i]] + [w for _, w in ev], float(sd[i]),
                                          [n for n, _ in ev]))
    net.add_cpds(*cpds)
    return net


def to_wide_frame(values: Tensor, variables: tuple[str, ...] | list[str], mask: Tensor | None = None) -> pd.DataFrame:
    """``values: [N, T, d]`` -> DataFrame ``[N, T * d]`` with columns ``f"{var}_t{t}"`` (slice-major),
    NaN where ``mask`` is False."""
    N, T, d = values.shape
    if len(variables) != d:
        raise DataError(f"{len(variables)} variable names for d={d}")
    arr = values.detach().cpu().double().numpy().copy()
    if mask is not None:
        arr[~mask.cpu().numpy()] = np.nan
    return pd.DataFrame(arr.reshape(N, T * d), columns=[node_name(v, t) for t in range(T) for v in variables])


def fit_pgmpy(structure: DBNStructure, values: Tensor) -> LinearGaussianBayesianNetwork:
    """pgmpy's MLE of the unrolled network on fully observed ``values: [N, T, d]``.

    Every slice gets its own CPDs (pgmpy does not tie parameters across time); noise std devs
    are the MLE (``std_estimator="mle"``).
    """
    structure.check_data(values)
    net = unrolled_network(structure, values.shape[1])
    return net.fit(to_wide_frame(values, structure.variables), estimator=LinearGaussianMLE(std_estimator="mle"))


def fit_pgmpy_dbn(structure: DBNStructure, values: Tensor) -> LinearGaussianDBN:
    """The pooled DBN MLE computed by pgmpy, as a :class:`LinearGaussianDBN` (a black-box learner).

    pgmpy fits the first slice on ``x_0`` and the transition on the two-slice network over all
    pairs ``(x_{t-1}, x_t)``; equals :func:`fit_dbn` with ``ridge=0``. values: [N, T, d] fully
    observed, T >= 2. Returns parameters in ``values``' dtype and device; not differentiable.
    """
    structure.check_data(values)
    N, T, d = values.shape
    if T < 2:
        raise DataError(f"fitting a DBN needs T >= 2 time slices, got T={T}")
    mle = LinearGaussianMLE(std_estimator="mle")
    first = unrolled_network(structure, 1).fit(to_wide_frame(values[:, :1], structure.variables), estimator=mle)
    pairs = values.unfold(1, 2, 1).permute(0, 1, 3, 2).reshape(-1, 2, d)
    trans = unrolled_network(structure, 2).fit(to_wide_frame(pairs, structure.variables), estimator=mle)
    B0, b0, s0, _ = _cpd_arrays(first, structure, 0)
    B, b, s, A = _cpd_arrays(trans, structure, 1)
    out = {k: torch.as_tensor(v, dtype=values.dtype, device=values.device)
           for k, v in dict(B0=B0, b0=b0, s0=s0, B=B, A=A, b=b, s=s).items()}
    return LinearGaussianDBN(structure, **out)


def _cpd_arrays(net: LinearGaussianBayesianNetwork, structure: DBNStructure, t: int):
    """Intra weights ``[d, d]``, intercepts ``[d]``, std devs ``[d]`` and inter weights ``[d, d]``
    of the slice-``t`` CPDs of ``net``."""
    d = structure.d
    W, A, b, sd = np.zeros((d, d)), np.zeros((d, d)), np.zeros(d), np.zeros(d)
    names = {node_name(v, t): (W, j) for j, v in enumerate(structure.variables)}
    names.update({node_name(v, t - 1): (A, j) for j, v in enumerate(structure.variables)})
    for i, v in enumerate(structure.variables):
        cpd = net.get_cpds(node_name(v, t))
        b[i], sd[i] = cpd.beta[0], cpd.std
        for parent, w in zip(cpd.evidence, cpd.beta[1:]):
            M, j = names[parent]
            M[i, j] = w
    return W, b, sd, A
