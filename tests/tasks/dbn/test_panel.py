"""Aligning a user's panel on its time values, and per-variable standardisation."""

import numpy as np
import pandas as pd
import pytest
import torch

from taskdd.data import Source, Sources
from taskdd.errors import ConfigError, DataError
from taskdd.tasks.dbn.panel import MAX_SLICES, align_panel
from taskdd.tasks.dbn.scaling import Scaling


def _frame(ids, times, x):
    return pd.DataFrame({"id": ids, "t": times, "x": np.asarray(x, dtype=float)})


def test_a_missing_visit_becomes_a_masked_slice():
    p = align_panel({"a": _frame([1] * 5, [1, 2, 4, 5, 6], [10, 20, 40, 50, 60])}, "id", "t")
    s = p.sources[0]
    assert p.step == 1 and p.T == 6
    assert s.mask[0, :, 0].tolist() == [True, True, False, True, True, True]
    assert s.values[0, [0, 1, 3, 4, 5], 0].tolist() == [10, 20, 40, 50, 60]


def test_integer_grid_is_the_gcd_of_the_gaps():
    p = align_panel({"a": _frame([1, 1, 1, 2, 2], [0, 4, 10, 3, 5], [1, 2, 3, 4, 5])}, "id", "t")
    assert p.step == 2 and p.T == 6
    assert p.sources[0].mask[0, :, 0].tolist() == [True, False, True, False, False, True]
    assert p.sources[0].mask[1, :, 0].tolist() == [True, True, False, False, False, False]


def test_yearly_dates_give_a_365_day_grid():
    dates = ["2019-03-01", "2020-03-01", "2022-03-02", "2020-06-10", "2021-06-10"]
    p = align_panel({"a": _frame([1, 1, 1, 2, 2], dates, [1, 2, 3, 4, 5])}, "id", "t")
    assert p.unit == "days" and p.step == 365 and p.T == 4
    assert p.sources[0].mask[0, :, 0].tolist() == [True, True, False, True]
    assert p.sources[0].values[1, :2, 0].tolist() == [4, 5]


def test_dates_with_a_given_30_day_step():
    dates = pd.to_datetime("2024-01-01") + pd.to_timedelta([0, 29, 61, 92], unit="D")
    p = align_panel({"a": _frame([7] * 4, dates.strftime("%Y-%m-%d"), [1, 2, 3, 4])}, "id", "t", time_step=30)
    assert p.step == 30 and p.T == 4 and p.sources[0].mask.all()


def test_two_visits_in_one_slice_keep_the_one_nearest_the_centre():
    p = align_panel({"a": _frame([1] * 4, [0.0, 0.8, 1.1, 3.0], [1, 2, 3, 4])}, "id", "t", time_step=1.0)
    assert p.sources[0].values[0, :, 0].tolist() == [1, 3, 0, 4]
    assert p.dropped == {"a": 1} and "1 visits dropped" in p.warnings()[0]


def test_a_tie_keeps_the_earlier_visit():
    p = align_panel({"a": _frame([1] * 3, [0, 2, 4], [1, 2, 3])}, "id", "t", time_step=4)
    assert p.sources[0].values[0, :, 0].tolist() == [1, 3]


def test_ragged_lengths_across_sources_are_padded_with_masked_slices():
    a = _frame([1, 1, 2], [1, 2, 1], [1, 2, 3])
    b = pd.DataFrame({"id": [5, 5, 5, 5], "t": [0, 1, 2, 3], "y": [1.0, 2, 3, 4]})
    p = align_panel({"a": a, "b": b}, "id", "t")
    assert [s.shape for s in p.sources] == [(2, 4, 2), (1, 4, 2)]
    assert p.sources["a"].mask[:, :, 0].tolist() == [[True, True, False, False], [True, False, False, False]]
    assert not p.sources["a"].mask[:, :, 1].any() and p.sources["b"].mask[0, :, 1].all()


def test_a_global_origin_keeps_a_missing_first_visit_masked():
    a = _frame([1, 1, 2, 2, 2], [2, 3, 1, 2, 3], [1, 2, 3, 4, 5])
    assert align_panel({"a": a}, "id", "t").sources[0].mask[0, :, 0].tolist() == [True, True, False]
    p = align_panel({"a": a}, "id", "t", origin="global")
    assert p.sources[0].mask[0, :, 0].tolist() == [False, True, True]
    assert p.to_json()["origin"] == "the earliest time over all sources" and p.slice_times() == [1, 2, 3]


def test_a_global_origin_spans_sources_with_dates():
    a = _frame([1, 1], ["2020-01-01", "2020-01-31"], [1, 2])
    b = _frame([9], ["2020-03-01"], [3])
    p = align_panel({"a": a, "b": b}, "id", "t", time_step=30, origin="global")
    assert p.T == 3 and p.sources["b"].mask[0, :, 0].tolist() == [False, False, True]
    assert p.slice_times() == ["2020-01-01", "2020-01-31", "2020-03-01"]


def test_max_slices_cuts_long_sequences():
    p = align_panel({"a": _frame([1] * 5, [0, 1, 2, 3, 4], [1, 2, 3, 4, 5])}, "id", "t", max_slices=3)
    assert p.T == 3 and p.truncated == {"a": 2} and "past --max-slices 3" in p.warnings()[0]


@pytest.mark.parametrize("frame, kw, err, needle", [
    (_frame([1, 1], [0.0, 0.5], [1, 2]), {}, DataError, "--time-step"),
    (_frame([1, 1, 1], [0, 1, 5001], [1, 2, 3]), {}, DataError, f"more than {MAX_SLICES}"),
    (_frame([1, 1], ["a", "b"], [1, 2]), {}, DataError, "neither numbers nor dates"),
    (_frame([1, 1], [0, 1], [1, 2]), {"time_step": -1.0}, ConfigError, "--time-step"),
    (_frame([1, 1], [0, 1], [1, 2]), {"max_slices": 1}, ConfigError, "--max-slices"),
    (pd.DataFrame({"id": [1, 1], "t": [0, 1], "x": ["1", "zz"]}), {}, DataError, "'zz'"),
    (_frame([1, 1], [0, np.nan], [1, 2]), {}, DataError, "time column 't' is empty"),
])
def test_no_sensible_grid_or_bad_columns_are_refused_in_one_line(frame, kw, err, needle):
    with pytest.raises(err) as e:
        align_panel({"a": frame}, "id", "t", **kw)
    assert needle in str(e.value) and "\n" not in str(e.value)


# --- Scaling ---------------------------------------------------------------------------------------
def _sources():
    g = torch.Generator().manual_seed(0)
    v = torch.randn(6, 4, 3, generator=g, dtype=torch.float64) * torch.tensor([0.03, 1.0, 3000.0]) + 5
    m = torch.rand(6, 4, 3, generator=g) > 0.3
    return Sources([Source(v[:3], m[:3], ["a", "b", "c"], "s0"), Source(v[3:], m[3:], ["a", "b", "c"], "s1")])


def test_scaling_uses_only_observed_cells():
    src = _sources()
    sc = Scaling.fit(src)
    vals = torch.cat([s.values for s in src])[..., 2][torch.cat([s.mask for s in src])[..., 2]]
    assert sc.mean[2].item() == pytest.approx(vals.mean().item())
    assert sc.std[2].item() == pytest.approx(vals.std().item())


def test_to_user_inverts_to_standard_and_json_round_trips():
    src = _sources()
    sc = Scaling.fit(src)
    x = src[0].values
    assert torch.allclose(sc.to_user(sc.to_standard(x)), x, rtol=1e-12, atol=1e-9)
    z = sc.to_standard(torch.cat([s.values for s in src]))[torch.cat([s.mask for s in src])[..., 1]][..., 1]
    assert abs(float(z.mean())) < 1e-9
    back = Scaling.from_json(sc.to_json())
    assert back.variables == sc.variables and torch.equal(back.mean, sc.mean) and torch.equal(back.std, sc.std)


def test_log_jacobian_is_the_log_likelihood_difference_between_units():
    src = _sources()
    sc = Scaling.fit(src)
    x, m = src[0].values, src[0].mask
    raw = torch.distributions.Normal(sc.mean + 0.1 * sc.std, 2 * sc.std)
    std = torch.distributions.Normal(torch.full((3,), 0.1, dtype=torch.float64), torch.full((3,), 2.0,
                                                                                           dtype=torch.float64))
    ll_raw = (raw.log_prob(x) * m).sum((1, 2))
    ll_std = (std.log_prob(sc.to_standard(x)) * m).sum((1, 2))
    assert torch.allclose(ll_raw, ll_std + sc.log_jacobian(m), rtol=1e-12)


@pytest.mark.parametrize("col, needle", [([1.0, 1.0, 1.0, 1.0], "zero spread"),
                                         ([np.nan, np.nan, 2.0, np.nan], "fewer than 2 cells")])
def test_a_constant_or_once_observed_variable_is_named(col, needle):
    v = torch.tensor([[[0.0, c] for c in col[:2]], [[1.0, c] for c in col[2:]]], dtype=torch.float64)
    with pytest.raises(DataError) as e:
        Scaling.fit(Sources([Source(v, None, ["ok", "bad.var"], "s")]))
    assert needle in str(e.value) and "'bad.var'" in str(e.value)


def test_a_model_moved_to_user_units_scores_user_data_as_the_log_jacobian_says():
    from data_gen.dbn import random_dbn
    dbn = random_dbn(3, seed=4, dtype=torch.float64)
    z = dbn.sample(5, 4, generator=torch.Generator().manual_seed(1))
    mask = torch.rand(z.shape, generator=torch.Generator().manual_seed(2)) > 0.3
    sc = Scaling(("x0", "x1", "x2"), torch.tensor([1.0, -200.0, 0.5]), torch.tensor([0.03, 30.0, 3000.0]))
    user = sc.model_to_user(dbn)
    ll_std = dbn.log_likelihood(z, mask)
    assert torch.allclose(user.log_likelihood(sc.to_user(z), mask), ll_std + sc.log_jacobian(mask), rtol=1e-9)
