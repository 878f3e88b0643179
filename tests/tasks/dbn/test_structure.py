import pytest
import torch

from taskdd.errors import DataError
from taskdd.tasks.dbn import DBNStructure

VARS = ["a", "b", "c"]


def make():
    return DBNStructure(VARS, {"c": ["a", "b"], "b": ["a"]}, {"a": ["a"], "b": ["b", "c"], "c": ["c"]})


def test_masks_have_child_rows_and_parent_columns():
    s = make()
    assert s.d == 3
    assert s.intra_mask.tolist() == [[False, False, False], [True, False, False], [True, True, False]]
    assert s.inter_mask.tolist() == [[True, False, False], [False, True, True], [False, False, True]]
    assert s.intra_mask.dtype == torch.bool


def test_topological_order_puts_parents_first():
    s = DBNStructure(["z", "y", "x"], {"z": ["y"], "y": ["x"]})
    assert s.order == ("x", "y", "z")


def test_n_unknowns_counts_parents_and_intercept():
    s = make()
    assert s.n_unknowns("c", first_slice=True) == 3
    assert s.n_unknowns("c", first_slice=False) == 4
    assert s.n_unknowns("a", first_slice=True) == 1
    assert s.n_unknowns(1, first_slice=False) == 4


def test_unknown_names_raise_data_error_naming_them():
    with pytest.raises(DataError, match=r"intra edges name unknown variables \['q', 'z'\]"):
        DBNStructure(VARS, {"a": ["z"], "q": ["a"]})
    with pytest.raises(DataError, match=r"inter edges name unknown variables \['y'\]"):
        DBNStructure(VARS, inter={"y": ["a"]})


def test_intra_cycle_raises_data_error_naming_the_cycle():
    with pytest.raises(DataError, match="cycle: a -> b -> c -> a"):
        DBNStructure(VARS, {"b": ["a"], "c": ["b"], "a": ["c"]})


def test_intra_self_edge_is_a_cycle():
    with pytest.raises(DataError, match="cycle: b -> b"):
        DBNStructure(VARS, {"b": ["b"]})


def test_inter_self_edge_is_allowed():
    assert DBNStructure(VARS, inter={"a": ["a"]}).inter_mask[0, 0]


def test_repeated_variables_or_parents_raise():
    with pytest.raises(DataError, match="repeat names"):
        DBNStructure(["a", "a"])
    with pytest.raises(DataError, match="repeat"):
        DBNStructure(VARS, {"c": ["a", "a"]})


def test_parents_given_as_a_string_raise():
    with pytest.raises(DataError, match="list of names"):
        DBNStructure(VARS, {"c": "ab"})


def test_from_masks_round_trips_and_mappings_are_json_copies():
    s = make()
    t = DBNStructure.from_masks(VARS, s.intra_mask, s.inter_mask)
    assert t == s and hash(t) == hash(s)
    intra = s.intra
    intra["a"].append("c")
    assert s.intra["a"] == []


def test_check_data_names_the_bad_shape():
    s = make()
    with pytest.raises(DataError, match=r"\[N, T, 3\]"):
        s.check_data(torch.zeros(2, 3, 4))
    with pytest.raises(DataError, match="mask must be a bool"):
        s.check_data(torch.zeros(2, 3, 3), torch.ones(2, 3, 3))
