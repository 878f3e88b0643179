import numpy as np
import pytest
import torch

from data_gen.dbn import random_dbn
from taskdd.errors import DataError
from taskdd.tasks.dbn import fit_dbn
from taskdd.tasks.dbn.pgmpy_bridge import (fit_pgmpy, fit_pgmpy_dbn, to_pgmpy, to_wide_frame,
                                             unrolled_network)


@pytest.fixture(scope="module")
def dbn():
    return random_dbn(4, n_intra_edges=3, n_inter_edges=7, seed=3, dtype=torch.float64)


def sample(dbn, n, T, seed):
    return dbn.sample(n, T, generator=torch.Generator().manual_seed(seed))


def test_fully_observed_log_likelihood_equals_pgmpy_unrolled(dbn):
    x = sample(dbn, 40, 5, 1)
    ref = to_pgmpy(dbn, 5).log_likelihood(to_wide_frame(x, dbn.structure.variables))
    ours = dbn.log_likelihood(x).sum().item()
    assert ours == pytest.approx(ref, rel=1e-6)
    kalman = dbn.log_likelihood(x, torch.ones_like(x, dtype=torch.bool)).sum().item()
    assert kalman == pytest.approx(ref, rel=1e-6)


def test_unrolled_network_names_every_node_and_edge(dbn):
    net = unrolled_network(dbn.structure, 3)
    assert len(net.nodes()) == 12 and "x0_t2" in net.nodes()
    s = dbn.structure
    n_edges = 3 * int(s.intra_mask.sum()) + 2 * int(s.inter_mask.sum())
    assert len(net.edges()) == n_edges
    c, p = s.inter_mask.nonzero()[0].tolist()
    assert (f"x{p}_t1", f"x{c}_t2") in net.edges()


def test_wide_frame_is_slice_major_with_nan_where_masked(dbn):
    x = sample(dbn, 3, 2, 2)
    mask = torch.ones_like(x, dtype=torch.bool)
    mask[1, 1, 2] = False
    df = to_wide_frame(x, dbn.structure.variables, mask)
    assert list(df.columns) == [f"x{j}_t{t}" for t in range(2) for j in range(4)]
    assert np.isnan(df.loc[1, "x2_t1"]) and df.loc[0, "x3_t1"] == x[0, 1, 3].item()


def test_pgmpy_pooled_fit_equals_our_fit_without_ridge(dbn):
    x = sample(dbn, 60, 4, 3)
    ours = fit_dbn(dbn.structure, x, ridge=0.0).parameters_dict()
    theirs = fit_pgmpy_dbn(dbn.structure, x).parameters_dict()
    for k, v in ours.items():
        torch.testing.assert_close(theirs[k], v, rtol=1e-8, atol=1e-10)


def test_pgmpy_unrolled_fit_has_a_cpd_per_node(dbn):
    x = sample(dbn, 30, 3, 4)
    net = fit_pgmpy(dbn.structure, x)
    assert len(net.get_cpds()) == 12
    root = dbn.structure.order[0]  # no intra parents: its first-slice CPD is a plain Gaussian
    j = dbn.structure.index(root)
    assert net.get_cpds(f"{root}_t0").std == pytest.approx(x[:, 0, j].std(unbiased=False).item())


def test_pgmpy_fit_rejects_short_sequences(dbn):
    with pytest.raises(DataError, match="T >= 2"):
        fit_pgmpy_dbn(dbn.structure, sample(dbn, 5, 1, 5))
