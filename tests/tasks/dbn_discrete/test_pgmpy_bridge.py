"""pgmpy bridge: exact round trips, state names kept, pgmpy's own view of the tables."""

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
