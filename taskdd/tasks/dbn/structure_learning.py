"""Learning a DBN structure from partial sources when the user gives none.

Method: pool the sources, fill each missing entry with its variable's observed mean, form the
two-slice data ``(x_{t-1}, x_t)`` over every consecutive pair, and run pgmpy's
``HillClimbSearch`` with the Gaussian BIC score under a temporal order (no edge from slice t
back to t-1, no edge inside slice t-1). Edges inside slice t become the intra-slice parents,
edges from t-1 to t the inter-slice parents; self-edges ``x_{t-1} -> x_t`` are required by
default. Limitation: mean imputation weakens dependencies between variables that are rarely
observed together, and no method can find an edge between two variables that no source ever
observes jointly: check the learned ``structure.json``, or give ``--structure``.
"""

from __future__ import annotations

import logging
import warnings

import pandas as pd
import torch

from taskdd.data import Sources
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn.structure import DBNStructure

__all__ = ["learn_structure"]

log = logging.getLogger(__name__)


def learn_structure(sources: Sources, *, max_parents: int = 3, self_edges: bool = True) -> DBNStructure:
    """A DBN structure for ``sources`` by constrained hill climbing (see the module docstring).

    max_parents: most parents per node (intra + inter). Needs T >= 2.
    """
    if max_parents < 1:
        raise ConfigError(f"max_parents must be >= 1, got {max_parents}")
    vals = torch.cat([s.values for s in sources]).double()
    mask = torch.cat([s.mask for s in sources])
    if vals.shape[1] < 2:
        raise DataError("learning a DBN structure needs sequences with T >= 2")
    cnt = mask.sum((0, 1))
    if (cnt == 0).any():
        raise DataError(f"variables {[v for v, c in zip(sources.variables, cnt.tolist()) if c == 0]} are never observed")
    filled = torch.where(mask, vals, (vals * mask).sum((0, 1)) / cnt)
    prev_cols = [f"{v}__prev" for v in sources.variables]
    cur_cols = list(sources.variables)
    d = len(cur_cols)
    frame = pd.DataFrame(torch.cat([filled[:, :-1], filled[:, 1:]], -1).reshape(-1, 2 * d).numpy(),
                         columns=prev_cols + cur_cols)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.causal_discovery import ExpertKnowledge
        from pgmpy.estimators import HillClimbSearch
        knowledge = ExpertKnowledge(
            forbidden_edges=[(a, b) for a in prev_cols for b in prev_cols if a != b],
            required_edges=[(p, c) for p, c in zip(prev_cols, cur_cols)] if self_edges else None,
            temporal_order=[prev_cols, cur_cols])
        dag = HillClimbSearch(frame).estimate(scoring_method="bic-g", max_indegree=max_parents,
                                              expert_knowledge=knowledge, show_progress=False)
    intra = {v: [] for v in cur_cols}
    inter = {v: [] for v in cur_cols}
    for a, b in dag.edges():
        if b in intra:
            (inter if a.endswith("__prev") else intra)[b].append(a.removesuffix("__prev"))
    log.info("learned structure: %d intra edges, %d inter edges",
             sum(map(len, intra.values())), sum(map(len, inter.values())))
    return DBNStructure(cur_cols, intra, inter)
