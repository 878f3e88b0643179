"""pgmpy bridge for :class:`DiscreteDBN`: ``to_pgmpy`` (a ``DiscreteBayesianNetwork`` for a static
network, a ``DynamicBayesianNetwork`` for a two-slice one, ``TabularCPD`` s with state names) and
``from_pgmpy`` (its inverse; the round trip is exact). pgmpy is imported here only."""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np
import torch

from taskdd.errors import DataError
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn_discrete.model import DiscreteDBN

__all__ = ["to_pgmpy", "from_pgmpy", "pgmpy_engine", "pgmpy_log_likelihood"]


def _cpd(var: Hashable, table: torch.Tensor, parents: Sequence[Hashable], names: dict) -> Any:
    """A TabularCPD from our table ``[*parent cards, card]`` (pgmpy: ``[card, prod(parent cards)]``,
    the first parent varying slowest, as ours)."""
    from pgmpy.factors.discrete import TabularCPD

    values = table.detach().cpu().double().movedim(-1, 0).reshape(table.shape[-1], -1).numpy()
    return TabularCPD(var, int(table.shape[-1]), values, evidence=list(parents) or None,
                      evidence_card=list(table.shape[:-1]) or None,
                      state_names={k: names[k] for k in [var, *parents]})


def _names(dbn: DiscreteDBN) -> dict[str, list]:
    given = dbn.state_names or {}
    return {v: list(given.get(v, range(c))) for v, c in zip(dbn.structure.variables, dbn.cards)}


def to_pgmpy(dbn: DiscreteDBN) -> Any:
    """pgmpy model of ``dbn``: ``DiscreteBayesianNetwork`` when ``dbn.cpt`` is None, else a
    ``DynamicBayesianNetwork`` with nodes ``(name, 0)`` / ``(name, 1)``. Variables without state
    names get pgmpy's default states ``0 .. card-1``."""
    s, names = dbn.structure, _names(dbn)
    if dbn.cpt is None:
        from pgmpy.models import DiscreteBayesianNetwork

        model = DiscreteBayesianNetwork()
        model.add_nodes_from(s.variables)
        model.add_edges_from([(p, v) for v in s.variables for p in s.intra[v]])
        model.add_cpds(*[_cpd(v, dbn.cpt0[j], s.intra[v], names) for j, v in enumerate(s.variables)])
        model.check_model()
        return model
    from pgmpy.models import DynamicBayesianNetwork
    from pgmpy.models.DynamicBayesianNetwork import DynamicNode

    model = DynamicBayesianNetwork()
    for t in (0, 1):
        for v in s.variables:
            super(DynamicBayesianNetwork, model).add_node(DynamicNode(v, t))
    model.add_edges_from([((p, 0), (v, 0)) for v in s.variables for p in s.intra[v]])
    model.add_edges_from([((p, 0), (v, 1)) for v in s.variables for p in s.inter[v]])
    tnames = {(v, t): n for v, n in names.items() for t in (0, 1)}
    cpds = [_cpd((v, 0), dbn.cpt0[j], [(p, 0) for p in s.intra[v]], tnames) for j, v in enumerate(s.variables)]
    cpds += [_cpd((v, 1), dbn.cpt[j], [(p, 0) for p in s.inter[v]] + [(p, 1) for p in s.intra[v]], tnames)
             for j, v in enumerate(s.variables)]
    model.add_cpds(*cpds)
    model.check_model()
    return model


def _table(cpd: Any, parents: Sequence[Hashable]) -> torch.Tensor:
    """Our table ``[*cards of parents (in this order), card]`` from a TabularCPD."""
    given = list(cpd.variables[1:])
    values = np.asarray(cpd.get_values(), dtype=np.float64).reshape(cpd.cardinality[0], *cpd.cardinality[1:])
    order = [given.index(p) + 1 for p in parents]
    return torch.from_numpy(np.ascontiguousarray(values.transpose(*order, 0)))


def from_pgmpy(model: Any) -> DiscreteDBN:
    """``DiscreteDBN`` (float64) from a pgmpy ``DiscreteBayesianNetwork`` (static) or a
    ``DynamicBayesianNetwork`` (two-slice); variables in the model's node order, parents in the
    order of each CPD's evidence, state names kept (pgmpy's default ``0 .. card-1`` dropped)."""
    from pgmpy.models import DynamicBayesianNetwork

    dynamic = isinstance(model, DynamicBayesianNetwork)
    nodes = list(dict.fromkeys(n[0] for n in model.nodes() if n[1] == 0)) if dynamic else list(model.nodes())
    key0 = (lambda v: (v, 0)) if dynamic else (lambda v: v)
    cpds0 = {v: model.get_cpds(key0(v)) for v in nodes}
    missing = [v for v, c in cpds0.items() if c is None]
    if missing:
        raise DataError(f"the pgmpy model has no CPD for {missing}")
    intra = {v: [p[0] if dynamic else p for p in c.variables[1:]] for v, c in cpds0.items()}
    inter, cpt = {}, None
    if dynamic:
        cpds1 = {v: model.get_cpds((v, 1)) for v in nodes}
        inter = {v: [p[0] for p in c.variables[1:] if p[1] == 0] for v, c in cpds1.items()}
        cpt = [_table(cpds1[v], [(p, 0) for p in inter[v]] + [(p, 1) for p in intra[v]]) for v in nodes]
    structure = DBNStructure([str(v) for v in nodes], intra, inter)
    cpt0 = [_table(cpds0[v], [key0(p) for p in intra[v]]) for v in nodes]
    names = {}
    for v in nodes:
        states = list(cpds0[v].state_names[key0(v)])
        if states != list(range(len(states))):
            names[str(v)] = [str(x) for x in states]
    cards = [int(cpds0[v].cardinality[0]) for v in nodes]
    return DiscreteDBN(structure, cards, cpt0, cpt, names or None)


def pgmpy_engine(dbn: DiscreteDBN) -> Any:
    """pgmpy's ``VariableElimination`` on the moral Markov network of a static ``dbn``."""
    from pgmpy.inference import VariableElimination

    if dbn.cpt is not None:
        raise DataError("pgmpy_log_likelihood scores static networks and T = 1 records only")
    return VariableElimination(to_pgmpy(dbn).to_markov_model())


def pgmpy_log_likelihood(dbn: DiscreteDBN, x: torch.Tensor, engine: Any = None) -> torch.Tensor:
    """Reference ``log P(observed cells)`` of each static record (``x [N, 1, d]``, -1 = missing)
    computed by pgmpy's ``VariableElimination``, one query per record, float64 ``[N]``.
    ``engine``: :func:`pgmpy_engine` of ``dbn``, to reuse (built when None).

    The query runs on the network's moral Markov network: there pgmpy returns the unnormalised
    ``P(query variable, evidence)``, whose sum (or entry at the observed value) is ``P(evidence)``
    (on a ``DiscreteBayesianNetwork`` pgmpy normalises the answer away)."""
    from taskdd.tasks.dbn_discrete.likelihood import check_codes

    ve = pgmpy_engine(dbn) if engine is None else engine
    if x.ndim != 3 or x.shape[1] != 1:
        raise DataError("pgmpy_log_likelihood scores static networks and T = 1 records only")
    check_codes(x, dbn.cards)
    names, variables = _names(dbn), dbn.structure.variables
    out = []
    for rec in x[:, 0].tolist():
        evidence = {v: names[v][c] for v, c in zip(variables, rec) if c >= 0}
        missing = [v for v, c in zip(variables, rec) if c < 0]
        if not evidence:
            out.append(0.0)
            continue
        query = missing[0] if missing else variables[0]
        if not missing:
            evidence.pop(query)
        phi = ve.query([query], evidence=evidence, show_progress=False)
        p = phi.values.sum() if missing else phi.get_value(**{query: names[query][rec[0]]})
        out.append(float(np.log(p)))
    return torch.tensor(out, dtype=torch.float64)
