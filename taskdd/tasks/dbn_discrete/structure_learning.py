"""Learning a discrete DBN structure from partial categorical sources when the user gives none.

Method: pool the sources, fill each missing cell with its variable's most frequent observed
state, and run pgmpy's ``HillClimbSearch`` with the discrete BIC score (``bic-d``): on the
records themselves for ``T = 1`` (a static network), else on the two-slice rows ``(x_{t-1},
x_t)`` under a temporal order (no edge back in time, none inside slice t-1; self-edges
``x_{t-1} -> x_t`` required), as :mod:`taskdd.tasks.dbn.structure_learning` does for the
Gaussian DBN. Variables are renamed ``v0, v1, ...`` for pgmpy and back. Limitation: mode
imputation weakens dependencies between variables rarely observed together; check the learned
``structure.json`` or give ``--structure``.
"""

from __future__ import annotations

import logging
import warnings
from typing import Sequence

import pandas as pd
import torch

from taskdd.data import Sources
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn.structure_learning import structure_from_edges
from taskdd.tasks.dbn_discrete.baselines import mode_filled

__all__ = ["learn_discrete_structure"]

def learn_discrete_structure(sources: Sources, *, max_parents: int = 3) -> DBNStructure:
    """A discrete DBN structure for ``sources`` (codes; see the module docstring)."""
    names = list(sources.variables)
    safe = [f"v{j}" for j in range(len(names))]
    x = mode_filled(sources).cpu()
    T = x.shape[1]
    prev = [f"{v}__prev" for v in safe]
    if T == 1:
        frame = pd.DataFrame(x[:, 0].numpy(), columns=safe)
    else:
        pairs = torch.cat([x[:, :-1], x[:, 1:]], -1).flatten(0, 1)
        frame = pd.DataFrame(pairs.numpy(), columns=prev + safe)
    dag = _hill_climb(frame.astype("category"), prev if T > 1 else [], safe, max_parents)
    return structure_from_edges(names, safe, dag.edges())


def _hill_climb(frame: pd.DataFrame, prev: Sequence[str], cur: Sequence[str], max_parents: int):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.causal_discovery import ExpertKnowledge
        from pgmpy.estimators import HillClimbSearch
        knowledge = None
        if prev:
            knowledge = ExpertKnowledge(forbidden_edges=[(a, b) for a in prev for b in prev if a != b],
                                        required_edges=list(zip(prev, cur)), temporal_order=[list(prev), list(cur)])
        pgmpy_log = logging.getLogger("pgmpy")
        level = pgmpy_log.level
        pgmpy_log.setLevel(logging.ERROR)
        try:
            return HillClimbSearch(frame).estimate(scoring_method="bic-d", max_indegree=max_parents,
                                                   expert_knowledge=knowledge, show_progress=False)
        finally:
            pgmpy_log.setLevel(level)
