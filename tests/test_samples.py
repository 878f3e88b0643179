"""Samples: reading a user's classification table with Samples.from_dataframe."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_wine

from taskdd import ConfigError, DataError, Samples
from taskdd.errors import DataWarning
from taskdd.tasks.classify import as_samples, check_samples


@pytest.fixture(scope="module")
def wine():
    return load_wine(as_frame=True).frame  # bundled with scikit-learn: no download


def test_raw_wine_features_warn_that_they_are_far_from_standardised(wine):
    with pytest.warns(DataWarning, match=r"far from standardised.*'proline'.*standardize=True"):
        s = Samples.from_dataframe(wine, label="target")
    assert s["x"].shape == (178, 13) and s["y"].dtype == torch.long and check_samples(s) == 3
    assert s.features == tuple(c for c in wine.columns if c != "target") and s.classes == (0, 1, 2)
    assert s.scaling is None
    np.testing.assert_allclose(s["x"].double().numpy(), wine.drop(columns="target").to_numpy(), rtol=1e-6)


def test_standardised_wine_does_not_warn_and_the_test_table_takes_the_training_scaling(wine):
    train, test = wine.iloc[::2], wine.iloc[1::2]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        s = Samples.from_dataframe(train, label="target", standardize=True, dtype=torch.float64)
        t = Samples.from_dataframe(test, label="target", like=s, dtype=torch.float64)
    torch.testing.assert_close(s["x"].mean(0), torch.zeros(13, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(s["x"].std(0, unbiased=False), torch.ones(13, dtype=torch.float64))
    mean, std = s.scaling
    raw = torch.from_numpy(test.drop(columns="target").to_numpy(copy=True))
    torch.testing.assert_close(t["x"], (raw - mean) / std)
    assert t.classes == s.classes and t.features == s.features


def test_string_labels_become_sorted_codes_and_categories_keep_their_order():
    df = pd.DataFrame({"a": [0.1, -0.2, 0.3, 0.0], "kind": ["pear", "apple", "pear", "fig"]})
    s = Samples.from_dataframe(df, label="kind")
    assert s.classes == ("apple", "fig", "pear") and s["y"].tolist() == [2, 0, 2, 1]
    cat = df.assign(kind=pd.Categorical(df.kind, categories=["pear", "plum", "fig", "apple"]))
    c = Samples.from_dataframe(cat, label="kind")
    assert c.classes == ("pear", "fig", "apple") and c["y"].tolist() == [0, 2, 0, 1]


def test_features_pick_columns_and_moving_or_subsetting_keeps_the_mapping():
    df = pd.DataFrame({"a": [0.1, -0.2, 0.3], "b": [1.0, 0.5, -1.0], "note": ["x", "y", "z"], "c": ["u", "v", "u"]})
    s = Samples.from_dataframe(df, label="c", features=["b", "a"])
    assert s.features == ("b", "a") and s["x"][0].tolist() == pytest.approx([1.0, 0.1])
    for t in (s.to(dtype=torch.float64), s.subset([0, 2])):
        assert t.features == s.features and t.classes == ("u", "v")


@pytest.mark.parametrize("change, kw, match", [
    (lambda d: d.assign(colour=["red", "blue", "red", "blue"]), {}, r"feature columns \['colour'\] are not numeric"),
    (lambda d: d.assign(a=[0.1, np.nan, 0.2, np.nan]), {}, r"feature columns \['a'\] have missing .*'a': 2"),
    (lambda d: d.assign(y=[0, None, 1, 1]), {}, "label column 'y' has 1 missing values"),
    (lambda d: d, {"label": "target"}, "label column 'target' is not a column; columns are"),
    (lambda d: d, {"features": ["a", "zz"]}, r"feature columns \['zz'\] are not columns"),
    (lambda d: d, {"features": ["a", "y"]}, "label column 'y' is also in features"),
    (lambda d: d.iloc[:0], {}, "0 rows"),
])
def test_bad_tables_raise_data_errors_naming_the_columns(change, kw, match):
    df = change(pd.DataFrame({"a": [0.1, -0.2, 0.3, 0.0], "b": [1.0, 0.5, -1.0, 0.2], "y": [0, 1, 0, 1]}))
    with pytest.raises(DataError, match=match):
        Samples.from_dataframe(df, **{"label": "y", **kw})


def test_a_test_table_with_an_unseen_label_or_a_bad_like_is_refused():
    df = pd.DataFrame({"a": [0.1, -0.2, 0.3, 0.0], "y": ["p", "q", "p", "q"]})
    s = Samples.from_dataframe(df, label="y")
    with pytest.raises(DataError, match=r"values \['r'\] that are not among the classes \['p', 'q'\]"):
        Samples.from_dataframe(df.assign(y=["p", "r", "p", "q"]), label="y", like=s)
    with pytest.raises(ConfigError, match="not both"):
        Samples.from_dataframe(df, label="y", like=s, standardize=True)
    with pytest.raises(ConfigError, match="made by Samples.from_dataframe"):
        Samples.from_dataframe(df, label="y", like=Samples(x=torch.zeros(4, 1)))


def test_as_samples_reads_a_dataframe_through_from_dataframe(wine):
    with pytest.warns(DataWarning):
        a = as_samples(wine, label="target")
    b = Samples.from_dataframe(wine, label="target", warn=False)
    assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"]) and a.classes == b.classes
