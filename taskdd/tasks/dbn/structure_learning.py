"""Learning a DBN structure from partial sources when the user gives none.

Method: pool the sources, fill each missing entry with its variable's observed mean, form the
two-slice data ``(x_{t-1}, x_t)`` over every consecutive pair, and run pgmpy's
``HillClimbSearch`` with the Gaussian BIC score under a temporal order (no edge from slice t
back to t-1, no edge inside slice t-1). Edges inside slice t become the intra-slice parents,
edges from t-1 to t the inter-slice parents; self-edges ``x_{t-1} -> x_t`` are required by
default. Sources may differ in sequence length (shorter ones are padded with missing slices)
and a pair of slices enters only where both slices observe something. Variable names are
mapped to safe identifiers (``v0, v1, ...``) for pgmpy, whose Gaussian BIC builds a formula
from them (names such as ``alk.phos`` or ``heart rate`` would break it), and back. Limitation: mean imputation weakens dependencies between variables that are rarely
observed together, and no method can find an edge between two variables that no source ever
observes jointly: check the learned ``structure.json``, or give ``--structure``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Sequence

import pandas as pd
import torch

from taskdd.data import Sources
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn.structure import DBNStructure

__all__ = ["learn_structure", "structure_from_edges"]

log = logging.getLogger(__name__)


def learn_structure(sources: Sources, *, max_parents: int = 3, self_edges: bool = True) -> DBNStructure:
    """A DBN structure for ``sources`` by constrained hill climbing (see the module docstring).

    max_parents: most parents per node (intra + inter). Needs T >= 2.
    """
    if max_parents < 1:
        raise ConfigError(f"max_parents must be >= 1, got {max_parents}")
    names = list(sources.variables)
    safe = [f"v{j}" for j in range(len(names))]
    frame = _two_slice_frame(sources, safe)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.causal_discovery import ExpertKnowledge
        from pgmpy.estimators import HillClimbSearch
        prev_cols, cur_cols = [f"{v}__prev" for v in safe], safe
        knowledge = ExpertKnowledge(
            forbidden_edges=[(a, b) for a in prev_cols for b in prev_cols if a != b],
            required_edges=[(p, c) for p, c in zip(prev_cols, cur_cols)] if self_edges else None,
            temporal_order=[prev_cols, cur_cols])
        pgmpy_log = logging.getLogger("pgmpy")  # it logs a dtype guess per variable ("likely categorical")
        level = pgmpy_log.level
        pgmpy_log.setLevel(logging.ERROR)
        try:
            dag = HillClimbSearch(frame).estimate(scoring_method="bic-g", max_indegree=max_parents,
                                                  expert_knowledge=knowledge, show_progress=False)
        finally:
            pgmpy_log.setLevel(level)
    return structure_from_edges(names, safe, dag.edges())


def structure_from_edges(names: Sequence[str], safe: Sequence[str], edges) -> DBNStructure:
    """The DBNStructure of a two-slice DAG learned on safe names (``safe[j]`` stands for
    ``names[j]``; a ``__prev`` suffix marks slice t-1): intra and inter parents by edge."""
    back = dict(zip(safe, names))
    intra: dict[str, list[str]] = {v: [] for v in names}
    inter: dict[str, list[str]] = {v: [] for v in names}
    for a, b in edges:
        if b in back:
            (inter if a.endswith("__prev") else intra)[back[b]].append(back[a.removesuffix("__prev")])
    log.info("learned structure: %d intra edges, %d inter edges",
             sum(map(len, intra.values())), sum(map(len, inter.values())))
    return DBNStructure(names, intra, inter)


def _two_slice_frame(sources: Sources, columns: list[str]) -> pd.DataFrame:
    """Pooled, mean-imputed ``(x_{t-1}, x_t)`` rows (columns ``c__prev`` then ``c``), from every
    consecutive pair of slices that both observe something; sources are padded to one length."""
    T = max(s.shape[1] for s in sources)
    if T < 2:
        raise DataError("learning a DBN structure needs sequences with T >= 2 time slices; every sequence "
                        "here has one")
    vals = torch.cat([_pad(s.values.double(), T) for s in sources])
    mask = torch.cat([_pad(s.mask, T) for s in sources])
    cnt = mask.sum((0, 1))
    if (cnt == 0).any():
        raise DataError(f"variables {[v for v, c in zip(sources.variables, cnt.tolist()) if c == 0]} are never observed")
    filled = torch.where(mask, vals, (vals * mask).sum((0, 1)) / cnt)
    seen = mask.any(-1)
    use = seen[:, :-1] & seen[:, 1:]
    if not use.any():
        raise DataError("learning a DBN structure needs a sequence observed at two consecutive time slices; "
                        "none is")
    pairs = torch.cat([filled[:, :-1], filled[:, 1:]], -1)[use]
    return pd.DataFrame(pairs.numpy(), columns=[f"{c}__prev" for c in columns] + columns)


def _pad(x: torch.Tensor, T: int) -> torch.Tensor:
    """``[N, T_x, d]`` -> ``[N, T, d]``, new slices zero / False."""
    return torch.cat([x, x.new_zeros(x.shape[0], T - x.shape[1], x.shape[2])], 1) if x.shape[1] < T else x
