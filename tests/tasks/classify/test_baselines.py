"""Random subset, k-means centres and full data as classifier sets."""

import numpy as np
import torch
from sklearn.cluster import KMeans

from data_gen.digits import load_digits_split
from taskdd import make_generator
from taskdd.tasks.classify import full_data, kmeans_centres, random_subset


def test_random_subset_takes_ipc_training_rows_of_each_class_by_generator():
    train = load_digits_split().train
    s = random_subset(train, 3, make_generator(0))
    assert s["y"].tolist() == [c for c in range(10) for _ in range(3)]
    rows = {tuple(r) for r in train["x"].tolist()}
    assert all(tuple(r) in rows for r in s["x"].tolist())
    assert torch.equal(random_subset(train, 3, make_generator(0))["x"], s["x"])
    assert s.learnable == {"x"} and s.meta["n_classes"] == 10


def test_kmeans_centres_are_sklearn_centres_per_class():
    train = load_digits_split().train
    s = kmeans_centres(train, 2, seed=4)
    x, y = train["x"].double().numpy(), train["y"].numpy()
    ref = KMeans(n_clusters=2, n_init=10, random_state=4).fit(x[y == 7]).cluster_centers_
    np.testing.assert_allclose(s["x"][s["y"] == 7].detach().double().numpy(), ref, rtol=1e-5, atol=1e-6)


def test_full_data_holds_every_training_row_grouped_by_class():
    train = load_digits_split().train
    s = full_data(train)
    assert len(s) == len(train) and bool((s["y"][1:] >= s["y"][:-1]).all())
