import pytest
import torch

from data_gen.dbn import MAX_SPECTRAL_RADIUS, NOISE_STD_RANGE, WEIGHT_RANGE, make_sources, random_dbn
from taskdd.data import Source, Sources
from taskdd.errors import ConfigError
from taskdd.tasks.dbn import state_space

ARGS = dict(n_per_source=50, T=5, K=3, hidden_per_source=3, noise=0.3, n_test=20, seed=0)


@pytest.fixture(scope="module")
def truth():
    return random_dbn(seed=0, dtype=torch.float64)


@pytest.fixture(scope="module")
def problem(truth):
    return make_sources(truth, **ARGS)


def test_default_dbn_is_the_calibration_problem(truth):
    s = truth.structure
    assert s.d == 8
    assert int(s.intra_mask.sum(1).max()) <= 2 and int(s.intra_mask.sum()) == 8
    assert s.inter_mask.diagonal().all() and (s.inter_mask.sum(1) == 2).all()


@pytest.mark.parametrize("seed", range(5))
def test_random_dbn_is_stable_and_in_documented_ranges(seed):
    m = random_dbn(8, seed=seed, dtype=torch.float64)
    rho = torch.linalg.eigvals(state_space(m.parameters_dict()).F).abs().max().item()
    assert rho <= MAX_SPECTRAL_RADIUS + 1e-9
    w = torch.cat([m.B[m.structure.intra_mask], m.B0[m.structure.intra_mask]]).abs()
    assert (w >= WEIGHT_RANGE[0]).all() and (w <= WEIGHT_RANGE[1]).all()
    assert (m.A[m.structure.inter_mask].abs() <= WEIGHT_RANGE[1]).all()
    for sd in (m.s, m.s0):
        assert (sd >= NOISE_STD_RANGE[0]).all() and (sd <= NOISE_STD_RANGE[1]).all()


def test_random_dbn_edge_counts_follow_the_arguments():
    m = random_dbn(6, n_intra_edges=5, n_inter_edges=3, max_intra_parents=1, seed=1)
    s = m.structure
    assert int(s.intra_mask.sum()) == 5 and int(s.intra_mask.sum(1).max()) <= 1
    assert int(s.inter_mask.sum()) == 3 and int(s.inter_mask.diagonal().sum()) == 3


def test_random_dbn_rejects_impossible_edge_counts():
    with pytest.raises(ConfigError, match="n_intra_edges must be an int in \\[0, 3\\]"):
        random_dbn(3, n_intra_edges=4, seed=0)
    with pytest.raises(ConfigError, match="n_inter_edges"):
        random_dbn(3, n_inter_edges=10, seed=0)
    with pytest.raises(ConfigError, match="d must be"):
        random_dbn(0, seed=0)


def test_shapes_names_and_noise_levels(problem):
    assert isinstance(problem.sources, Sources) and problem.sources.names == ["source0", "source1", "source2"]
    for s in problem.sources:
        assert s.shape == (50, 5, 8) and s.noise == 0.3
    assert isinstance(problem.full_clean, Source) and problem.full_clean.shape == (150, 5, 8)
    assert problem.test.shape == (20, 5, 8) and problem.test.mask.all() and problem.full_clean.mask.all()


def test_each_source_hides_its_own_variables_entirely(problem):
    assert all(len(h) == 3 for h in problem.hidden)
    assert len({tuple(h) for h in problem.hidden}) == 3
    for s, h in zip(problem.sources, problem.hidden):
        idx = [problem.sources.variables.index(v) for v in h]
        assert not s.mask[..., idx].any()
        shown = [j for j in range(8) if j not in idx]
        assert s.mask[..., shown].all()


def test_every_variable_is_seen_somewhere_and_no_source_sees_all(problem):
    assert problem.sources.hidden_everywhere() == []
    assert all(not s.mask.all() for s in problem.sources)


def test_shown_values_are_the_clean_ones_plus_noise_of_the_stated_level(truth):
    p = make_sources(truth, **{**ARGS, "n_per_source": 2000})
    for j, s in enumerate(p.sources):
        clean = p.full_clean.values[j * 2000:(j + 1) * 2000]
        diff = (s.values - clean)[s.mask]
        assert diff.std().item() == pytest.approx(0.3, rel=0.03)
        assert abs(diff.mean().item()) < 0.01


def test_noise_free_sources_show_the_clean_values(truth):
    p = make_sources(truth, **{**ARGS, "noise": 0.0})
    s = p.sources[1]
    assert torch.equal(s.values[s.mask], p.full_clean.values[50:100][s.mask])


def test_extra_missing_drops_about_that_fraction_of_shown_entries(truth):
    p = make_sources(truth, **{**ARGS, "n_per_source": 400, "extra_missing": 0.25})
    s = p.sources[0]
    idx = [p.sources.variables.index(v) for v in p.hidden[0]]
    shown = [j for j in range(8) if j not in idx]
    assert s.mask[..., shown].double().mean().item() == pytest.approx(0.75, abs=0.02)
    assert not s.mask[..., idx].any()


def test_same_seed_same_data_other_seed_other_data(truth, problem):
    again = make_sources(truth, **ARGS)
    for a, b in zip(problem.sources, again.sources):
        assert torch.equal(a.values, b.values) and torch.equal(a.mask, b.mask)
    assert torch.equal(problem.test.values, again.test.values) and problem.hidden == again.hidden
    other = make_sources(truth, **{**ARGS, "seed": 1})
    assert not torch.equal(other.full_clean.values, problem.full_clean.values)


@pytest.mark.parametrize("arg, value", [("n_per_source", 0), ("T", 0), ("K", 0), ("n_test", 0), ("noise", -0.1),
                                        ("extra_missing", 1.0), ("extra_missing", -0.1), ("hidden_per_source", 0),
                                        ("hidden_per_source", 8), ("seed", -1)])
def test_bad_arguments_raise_config_error_naming_them(truth, arg, value):
    with pytest.raises(ConfigError, match=arg):
        make_sources(truth, **{**ARGS, arg: value})


@pytest.mark.parametrize("K, hidden", [(1, 1), (2, 5), (3, 6)])
def test_impossible_coverage_raises_config_error(truth, K, hidden):
    with pytest.raises(ConfigError, match="visible somewhere"):
        make_sources(truth, **{**ARGS, "K": K, "hidden_per_source": hidden})


def test_largest_feasible_hiding_still_covers_every_variable(truth):
    p = make_sources(truth, **{**ARGS, "K": 4, "hidden_per_source": 6})  # 4 * 6 = 8 * 3
    assert p.sources.hidden_everywhere() == []
