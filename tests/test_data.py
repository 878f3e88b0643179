import numpy as np
import pandas as pd
import pytest
import torch

from taskdd import DataError, Samples, Source, Sources


def _values(N=4, T=3, d=2):
    return torch.arange(N * T * d, dtype=torch.float64).reshape(N, T, d)


def test_nan_marks_missing_and_is_stored_as_zero():
    v = _values()
    v[0, 1, 1] = float("nan")
    s = Source(v, variables=["a", "b"])
    assert not s.mask[0, 1, 1] and s.mask.sum() == v.numel() - 1
    assert s.values[0, 1, 1] == 0


def test_dataframe_round_trip_keeps_missing_entries():
    v = _values()
    v[1, 2, 0] = float("nan")
    s = Source(v, variables=["a", "b"], name="clinic")
    df = s.to_dataframe()
    assert np.isnan(df.loc[(df.id == 1) & (df.t == 2), "a"].item())
    back = Source.from_dataframe(df, "id", "t", name="clinic")
    assert torch.equal(back.mask, s.mask)
    assert torch.allclose(back.values.double(), s.values)


def test_from_dataframe_pads_short_sequences_with_missing():
    df = pd.DataFrame({"id": [0, 0, 0, 1], "t": [0, 1, 2, 0], "a": [1.0, 2, 3, 4]})
    s = Source.from_dataframe(df, "id", "t")
    assert s.shape == (2, 3, 1)
    assert s.mask[1].tolist() == [[True], [False], [False]]


def test_sources_take_the_union_of_variables():
    a = Source(torch.zeros(2, 3, 2), variables=["x", "y"], name="a")
    b = Source(torch.ones(2, 3, 2), variables=["y", "z"], name="b")
    s = Sources([a, b])
    assert s.variables == ("x", "y", "z")
    assert s["b"].mask[..., 0].sum() == 0 and s["b"].mask[..., 1:].all()
    assert s["b"].values[0, 0].tolist() == [0.0, 1.0, 1.0]
    assert s.hidden_everywhere() == []


def test_sources_from_dataframe_splits_by_source_column():
    df = pd.DataFrame({"src": ["p", "p", "q", "q"], "id": [0, 0, 0, 0], "t": [0, 1, 0, 1],
                       "a": [1.0, 2, np.nan, np.nan], "b": [np.nan, np.nan, 3.0, 4]})
    s = Sources.from_dataframe(df, "id", "t", source_col="src")
    assert s.names == ["p", "q"] and s.d == 2
    back = s.to_dataframe()
    assert back.shape[0] == 4 and back["a"].isna().sum() == 2


@pytest.mark.parametrize("make, needle", [
    (lambda: Source(torch.zeros(3, 2)), "shape [N, T, d]"),
    (lambda: Source(torch.zeros(0, 2, 2)), "0 sequences"),
    (lambda: Source(torch.zeros(2, 2, 2), mask=torch.ones(2, 2, 3, dtype=torch.bool)), "does not match"),
    (lambda: Source(torch.zeros(2, 2, 2), mask=torch.ones(2, 2, 2)), "must be bool"),
    (lambda: Source(torch.full((2, 2, 2), float("inf")), mask=torch.ones(2, 2, 2, dtype=torch.bool)), "non-finite"),
    (lambda: Source(torch.full((2, 2, 2), float("nan")), mask=torch.ones(2, 2, 2, dtype=torch.bool)), "non-finite"),
    (lambda: Source(torch.zeros(2, 2, 2), variables=["a"]), "2 variables but 1 names"),
    (lambda: Source(torch.zeros(2, 2, 2), variables=["a", "a"]), "repeats"),
    (lambda: Source(torch.zeros(2, 2, 2), noise=-1.0), "noise"),
    (lambda: Source(np.array([[["a"]]])), "numeric"),
    (lambda: Sources([]), "at least one"),
    (lambda: Sources([Source(torch.zeros(1, 1, 1), name="a"), Source(torch.zeros(1, 1, 1), name="a")]), "unique"),
    (lambda: Source.from_dataframe(pd.DataFrame({"id": [0], "t": [0], "a": [1.0]}), "id", "t", variables=["b"]), "unknown variables ['b']"),
    (lambda: Source.from_dataframe(pd.DataFrame({"id": [0], "a": [1.0]}), "id", "t"), "time_col 't'"),
    (lambda: Source.from_dataframe(pd.DataFrame({"id": [], "t": [], "a": []}), "id", "t"), "0 rows"),
    (lambda: Source.from_dataframe(pd.DataFrame({"id": [0], "t": [0], "a": ["x"]}), "id", "t"), "not numeric"),
    (lambda: Source.from_dataframe(pd.DataFrame({"id": [0, 0], "t": [0, 0], "a": [1.0, 2]}), "id", "t"), "repeated"),
    (lambda: Samples(x=torch.zeros(3, 2), y=torch.zeros(4)), "4 rows"),
    (lambda: Samples(x=torch.tensor([[float("nan")]])), "non-finite"),
    (lambda: Samples(), "at least one"),
])
def test_bad_input_raises_data_error_naming_the_problem(make, needle):
    with pytest.raises(DataError) as e:
        make()
    assert needle in str(e.value)


def test_moving_sources_keeps_dtype_and_mask(device):
    s = Sources([Source(_values(), name="a")]).to(device, torch.float32)
    assert s.device.type == device.type and s.dtype == torch.float32 and s[0].mask.dtype == torch.bool
