"""What the case-study tests share: a --quick run on CPU (cached per session) and its tables."""

import pandas as pd
import pytest

from taskdd.cases import run_case
from taskdd.results import RESULT_COLUMNS


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """``quick_run(case, *overrides, seed=0, out=None)`` -> the output folder of a quiet ``--quick``
    run on CPU. Without ``out`` the run is shared by every test asking for the same arguments;
    with ``out`` it always runs, there."""
    done = {}

    def run(case: str, *overrides: str, seed: int = 0, out=None):
        key = (case, overrides, seed)
        if out is None and key in done:
            return done[key]
        folder = out if out is not None else tmp_path_factory.mktemp(case.replace("-", "_"))
        run_case(case, out=folder, quick=True, quiet=True, device="cpu", seed=seed, overrides=list(overrides))
        if out is None:
            done[key] = folder
        return folder
    return run


@pytest.fixture(scope="session")
def results():
    """``results(folder)`` -> its results.csv, checked to have the tidy columns."""
    def read(folder) -> pd.DataFrame:
        df = pd.read_csv(folder / "results.csv")
        assert list(df.columns) == RESULT_COLUMNS
        return df
    return read
