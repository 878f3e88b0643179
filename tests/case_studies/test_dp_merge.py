"""The dp-merge case study on a tiny problem: every method, accounting, the utility table."""

import math

import pandas as pd
import pytest

import case_studies.dp_merge  # noqa: F401  (registers the case before the entry points are reinstalled)


@pytest.fixture(scope="module")
def run(quick_run):
    return quick_run("dp-merge", "n_per_source=300", "exact.steps=20", "epsilons=1.0,inf")


def test_tiny_run_writes_every_method_and_the_accounting(run, results):
    df = results(run)
    assert set(df.method) == {"direct_fit", "sub", "distilled_nonprivate", "distilled_dp_eps1", "distilled_dp_epsinf"}
    acc = pd.read_csv(run / "dp_accounting.csv")
    assert (acc[acc.epsilon == 1.0].sigma > 0).all() and (acc[acc.epsilon == math.inf].sigma == 0).all()
    assert (run / "dp_utility.csv").is_file() and (run / "dp_utility.png").is_file()


def test_noise_free_private_summary_distils_about_as_well_as_the_rows(run, results):
    ll = results(run).query("metric == 'test_ll'").set_index("method").value
    assert abs(ll["distilled_dp_epsinf"] - ll["distilled_nonprivate"]) < 0.05 * abs(ll["distilled_nonprivate"])
    assert ll["distilled_dp_eps1"] < ll["distilled_dp_epsinf"]
