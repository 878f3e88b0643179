"""pgmpy bridge: exact round trips, state names kept, pgmpy's own view of the tables."""

import math

import pytest
import torch

from data_gen.discrete_dbn import random_discrete_dbn
from taskdd.errors import DataError
from taskdd.tasks.dbn_discrete import DiscreteDBN
from taskdd.tasks.dbn_discrete.pgmpy_bridge import from_pgmpy, pgmpy_log_likelihood, to_pgmpy


def _same(a: DiscreteDBN, b: DiscreteDBN) -> None:
    assert a.structure == b.structure and a.cards == b.cards and a.state_names == b.state_names
    for x, y in zip(a.cpt0 + (a.cpt or []), b.cpt0 + (b.cpt or [])):
        assert torch.equal(x, y)
    assert (a.cpt is None) == (b.cpt is None)


@pytest.mark.parametrize("seed", range(3))
def test_static_round_trip_is_exact(seed):
    dbn = random_discrete_dbn(6, static=True, seed=seed)
    model = to_pgmpy(dbn)
    assert type(model).__name__ == "DiscreteBayesianNetwork"
    _same(from_pgmpy(model), dbn)


@pytest.mark.parametrize("seed", range(3))
def test_two_slice_round_trip_is_exact(seed):
    dbn = random_discrete_dbn(5, seed=seed)
    model = to_pgmpy(dbn)
    assert type(model).__name__ == "DynamicBayesianNetwork"
    _same(from_pgmpy(model), dbn)


def test_state_names_survive_and_pgmpy_reads_the_same_probabilities():
    base = random_discrete_dbn(4, seed=3)
    names = {v: [f"{v}_s{i}" for i in range(c)] for v, c in zip(base.structure.variables, base.cards)}
    dbn = DiscreteDBN(base.structure, base.cards, base.cpt0, base.cpt, state_names=names)
    model, s = to_pgmpy(dbn), dbn.structure
    for j, v in enumerate(s.variables):
        cpd = model.get_cpds((v, 1))
        assert cpd.state_names[(v, 1)] == names[v]
        parents = [(p, 0) for p in s.inter[v]] + [(p, 1) for p in s.intra[v]]
        last = tuple(dbn.cards[s.index(p)] - 1 for p, _ in parents)  # every parent in its last state
        for k, state in enumerate(names[v]):
            at = {(v, 1): state} | {(p, t): names[p][-1] for p, t in parents}
            index = tuple(cpd.state_names[var].index(at[var]) for var in cpd.variables)
            assert float(cpd.values[index]) == float(dbn.cpt[j][last + (k,)])
    _same(from_pgmpy(model), dbn)


def test_reference_log_likelihood_refuses_sequences():
    dbn = random_discrete_dbn(3, seed=0)
    with pytest.raises(DataError, match="static"):
        pgmpy_log_likelihood(dbn, dbn.sample(2, 2))


def test_a_hand_built_pgmpy_dbn_with_any_evidence_order_reads_correctly():
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DynamicBayesianNetwork

    model = DynamicBayesianNetwork([(("A", 0), ("B", 0)), (("A", 0), ("A", 1)), (("B", 0), ("B", 1))])
    b1 = [[0.1, 0.2, 0.3, 0.4], [0.9, 0.8, 0.7, 0.6]]  # evidence (A, 1) first, then (B, 0)
    model.add_cpds(TabularCPD(("A", 0), 2, [[0.3], [0.7]]),
                   TabularCPD(("B", 0), 2, [[0.6, 0.2], [0.4, 0.8]], evidence=[("A", 0)], evidence_card=[2]),
                   TabularCPD(("A", 1), 2, [[0.9, 0.5], [0.1, 0.5]], evidence=[("A", 0)], evidence_card=[2]),
                   TabularCPD(("B", 1), 2, b1, evidence=[("A", 1), ("B", 0)], evidence_card=[2, 2]))
    dbn = from_pgmpy(model)
    assert dbn.structure.intra == {"A": [], "B": ["A"]} and dbn.structure.inter == {"A": ["A"], "B": ["B"]}
    # ours: cpt[B] axes (B at t-1, A at t, B at t); pgmpy's columns: (A at t, B at t-1), A slowest
    for b_prev in (0, 1):
        for a in (0, 1):
            assert float(dbn.cpt[1][b_prev, a, 0]) == b1[0][2 * a + b_prev]
    x = torch.tensor([[[0, 1], [1, -1]], [[-1, 0], [0, 0]]])
    torch.testing.assert_close(dbn.log_likelihood(x), from_pgmpy(to_pgmpy(dbn)).log_likelihood(x), rtol=0, atol=0)
    p0 = 0.3 * 0.4 * 0.1  # P(A0=0, B0=1, A1=1), B1 summed out
    assert float(dbn.log_likelihood(x)[0]) == pytest.approx(math.log(p0), abs=1e-12)


def test_variables_without_edges_survive_the_round_trip():
    from taskdd.tasks.dbn.structure import DBNStructure

    s = DBNStructure(["a", "b"], {}, {"b": ["b"]})
    f64 = torch.float64
    dbn = DiscreteDBN(s, [2, 3], [torch.tensor([0.5, 0.5], dtype=f64), torch.full((3,), 1 / 3, dtype=f64)],
                      [torch.tensor([0.2, 0.8], dtype=f64), torch.eye(3, dtype=f64)])
    _same(from_pgmpy(to_pgmpy(dbn)), dbn)
