"""Digits loader, reading (X, y) / DataFrame / Samples, and every bad input's typed error."""

import numpy as np
import pandas as pd
import pytest
import torch

from data_gen.digits import load_digits_split
from taskdd.data import Samples
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.classify.data import as_samples, check_budget, check_samples, group_by_class, sample_per_class


def test_digits_split_is_stratified_scaled_and_seeded():
    p = load_digits_split(seed=0)
    assert p.train["x"].shape == (1257, 64) and p.test["x"].shape == (540, 64)
    assert p.train["y"].dtype == torch.long and p.n_classes == 10 and p.image_shape == (8, 8)
    assert 0 <= float(p.train["x"].min()) and float(p.train["x"].max()) <= 1
    share = torch.bincount(p.test["y"]) / 540
    assert float((share - torch.bincount(p.train["y"]) / 1257).abs().max()) < 0.01
    again, other = load_digits_split(seed=0), load_digits_split(seed=1)
    assert torch.equal(again.test["x"], p.test["x"]) and not torch.equal(other.test["x"], p.test["x"])
    assert load_digits_split(dtype=torch.float64).train["x"].dtype == torch.float64


def test_digits_split_refuses_a_bad_test_size():
    with pytest.raises(ConfigError, match="test_size must be a float in"):
        load_digits_split(test_size=1.5)


def test_arrays_dataframes_and_samples_give_the_same_samples():
    x = np.arange(12, dtype=float).reshape(6, 2)
    y = np.array([0, 1, 2, 0, 1, 2])
    a = as_samples(x, y)
    b = as_samples(pd.DataFrame({"f0": x[:, 0], "f1": x[:, 1], "cls": y}), label="cls")
    c = as_samples(Samples(x=torch.from_numpy(x), y=torch.from_numpy(y)))
    d = as_samples(x.tolist(), y.astype(float))  # integral float labels are fine
    for s in (b, c, d):
        assert torch.equal(s["x"], a["x"]) and torch.equal(s["y"], a["y"])
    assert a["y"].dtype == torch.long and check_samples(a) == 3


X = np.random.default_rng(0).random((6, 3))
Y = np.array([0, 1, 2, 0, 1, 2])


@pytest.mark.parametrize("x, y, match", [
    (X.reshape(6, 3, 1), Y, r"x must have shape \[N, p\], got \(6, 3, 1\); flatten images"),
    (X, Y.reshape(3, 2), r"has 3 rows but the others have 6|y must have shape \[N\]"),
    (X, Y[:5], "has 5 rows but the others have 6"),
    (np.where(X > 0.9, np.nan, X), Y, "non-finite"),
    (X, np.array(list("abcabc")), "encode string labels first"),
    (X, Y + 0.5, "non-integer values such as 0.5"),
    (X, Y - 1, "negative labels"),
    (X, np.array([0, 2, 2, 0, 2, 0]), r"classes \[1\] have no examples"),
    (X, np.zeros(6, dtype=int), "a single class"),
    (X, None, "labels y are missing"),
])
def test_bad_data_raises_a_data_error_naming_the_problem(x, y, match):
    with pytest.raises(DataError, match=match):
        as_samples(x, y)


def test_bad_dataframes_raise_data_errors():
    df = pd.DataFrame({"a": [0.1, 0.2, 0.3, 0.4], "label": [0, 1, 0, 1]})
    with pytest.raises(DataError, match="label column 'cls' is not a column; columns are"):
        as_samples(df, label="cls")
    with pytest.raises(DataError, match=r"feature columns \['b'\] are not numeric"):
        as_samples(df.assign(b=list("wxyz")))


def test_a_class_smaller_than_the_budget_is_a_data_error_naming_it():
    s = as_samples(X, np.array([0, 1, 1, 0, 1, 2]))
    with pytest.raises(DataError, match=r"class 2 has 1 examples, fewer than the budget \(images per class\) 2"):
        check_budget(s, 2, 3)
    with pytest.raises(ConfigError, match="budget .* must be an int >= 1, got 0"):
        check_budget(s, 0, 3)


def test_per_class_sampling_and_grouping():
    y = torch.tensor([2, 0, 1, 0, 2, 1, 1])
    idx = sample_per_class(y, 3, 5, torch.Generator().manual_seed(0))
    assert idx.shape == (3, 5) and torch.equal(y[idx], torch.arange(3)[:, None].expand(3, 5))
    x = torch.arange(6.0)[:, None]
    grouped = group_by_class(x, torch.tensor([1, 0, 1, 0, 2, 2]), 3)
    assert grouped[:, :, 0].tolist() == [[1.0, 3.0], [0.0, 2.0], [4.0, 5.0]]
    with pytest.raises(DataError, match=r"same number of rows in every class, got counts \[1, 2, 3\]"):
        group_by_class(x, torch.tensor([0, 1, 1, 2, 2, 2]), 3)
