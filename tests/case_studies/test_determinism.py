"""Same seed, same results.csv on CPU, for the case studies not covered by their own module
(dbn-merge and dbn-time-slices are checked in test_dbn_merge.py). Runs the --quick settings,
shrunk further with --set so that each case runs twice in seconds."""

import pytest

SMALL = {
    "ridge-demo": ["seeds=1", "steps=20", "zo_steps=10"],
    "classifier-digits": ["ipcs=1", "methods=krr,dm,gm,unrolled", "krr_steps=20", "gm_steps=5", "dm_steps=20",
                          "unrolled_steps=5", "protocol.n_models=1", "protocol.steps=30", "agreement_ipc=50"],
    "pinn-ood": ["pdes=poisson", "steps=4", "task.unroll=3", "task.eval_models=1", "task.eval_steps=20",
                 "n_train=20"],
}


@pytest.mark.parametrize("case", sorted(SMALL))
def test_same_seed_same_results_csv(case, quick_run, tmp_path):
    a, b = (quick_run(case, *SMALL[case], seed=5, out=tmp_path / name) for name in ("a", "b"))
    text = (a / "results.csv").read_text()
    assert text == (b / "results.csv").read_text()
    assert len(text.splitlines()) > 5
