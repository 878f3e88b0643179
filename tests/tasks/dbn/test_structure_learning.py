"""Structure learning on awkward real-world panels: odd names, ragged and one-row sources."""

import pytest
import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd.data import Source, Sources
from taskdd.errors import DataError
from taskdd.tasks.dbn.structure_learning import learn_structure

NAMES = ["alk.phos", "heart rate", "na-k", "x(1)"]


@pytest.fixture(scope="module")
def prob():
    dbn = random_dbn(4, seed=2)
    return make_sources(dbn, n_per_source=80, T=4, K=2, hidden_per_source=1, noise=0.1, n_test=4, seed=2)


def _renamed(s: Source, names=NAMES, T=None) -> Source:
    T = T or s.shape[1]
    return Source(s.values[:, :T], s.mask[:, :T], names, s.name)


def test_names_with_dots_dashes_and_spaces_come_back_unchanged(prob):
    plain = learn_structure(Sources(list(prob.sources)))
    odd = learn_structure(Sources([_renamed(s) for s in prob.sources]))
    assert odd.variables == tuple(NAMES)
    rename = dict(zip(plain.variables, NAMES))
    assert {c: sorted(ps) for c, ps in odd.intra.items()} == {rename[c]: sorted(rename[p] for p in ps)
                                                              for c, ps in plain.intra.items()}
    assert {c: sorted(ps) for c, ps in odd.inter.items()} == {rename[c]: sorted(rename[p] for p in ps)
                                                              for c, ps in plain.inter.items()}


def test_sources_of_different_lengths_and_a_one_row_source_are_learned_from(prob):
    a, b = prob.sources
    one = Source(a.values[:1, :1], a.mask[:1, :1], a.variables, "single")
    s = learn_structure(Sources([_renamed(a, T=4), _renamed(b, T=2), _renamed(one)]))
    assert s.variables == tuple(NAMES) and all(c in s.inter[c] for c in NAMES)


def test_only_one_slice_everywhere_is_a_data_error(prob):
    a = prob.sources[0]
    with pytest.raises(DataError, match="T >= 2"):
        learn_structure(Sources([Source(a.values[:, :1], a.mask[:, :1], a.variables, "a")]))


def test_missing_slices_do_not_make_pairs(prob):
    a = prob.sources[0]
    mask = torch.ones_like(a.mask)
    mask[:, 1:] = False
    with pytest.raises(DataError, match="two consecutive"):
        learn_structure(Sources([Source(torch.where(mask, a.values, 0.0), mask, a.variables, "a")]))
