"""Same seed, same results.csv on CPU, for the case studies not covered by their own module
(dbn-merge and dbn-time-slices are checked in test_dbn_merge.py). Runs the --quick settings,
shrunk further with --set so that each case runs twice in seconds."""

import pytest

from taskdd.cases import run_case

SMALL = {
    "ridge-demo": ["seeds=1", "steps=20", "zo_steps=10"],
    "classifier-digits": ["ipcs=1", "methods=krr,dm,gm,unrolled", "krr_steps=20", "gm_steps=5", "dm_steps=20",
                          "unrolled_steps=5", "eval_models=1", "eval_steps=30", "agreement_ipc=50"],
    "pinn-ood": ["pdes=poisson", "steps=4", "unroll=3", "eval_models=1", "eval_steps=20", "n_train=20"],
}


@pytest.mark.parametrize("case", sorted(SMALL))
def test_same_seed_same_results_csv(case, tmp_path):
    for name in ("a", "b"):
        run_case(case, out=tmp_path / name, quick=True, quiet=True, device="cpu", seed=5, overrides=SMALL[case])
    a = (tmp_path / "a" / "results.csv").read_text()
    assert a == (tmp_path / "b" / "results.csv").read_text()
    assert len(a.splitlines()) > 5
