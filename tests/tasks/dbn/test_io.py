"""A fitted DBN as a file (save / load / metadata) and log-likelihood by column name."""

import json

import pytest
import torch

from data_gen.dbn import random_dbn
from taskdd import CheckpointError, ConfigError, DataError, Source
from taskdd.tasks.dbn import LinearGaussianDBN
from taskdd.tasks.dbn.io import MODEL_FILE


@pytest.fixture
def dbn():
    return random_dbn(4, n_intra_edges=2, n_inter_edges=5, seed=11, dtype=torch.float64)


def _data(dbn, seed=1):
    x = dbn.sample(6, 4, generator=torch.Generator().manual_seed(seed))
    mask = torch.rand(x.shape, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64) < 0.7
    return x, mask


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_save_load_round_trip_keeps_structure_parameters_and_likelihood(dbn, tmp_path, dtype):
    m = dbn.to(dtype=dtype)
    meta = {"scale": {"mean": [0.5, 1.0, 0.0, 2.0], "std": [1.0, 2.0, 3.0, 4.0]}, "time_grid": [0, 7, 14, 21]}
    m.save(tmp_path / "model", metadata=meta)
    back, got = LinearGaussianDBN.load_with_metadata(tmp_path / "model")
    assert back.structure == m.structure and back.dtype == dtype and got == meta and back.metadata == meta
    for k, v in m.parameters_dict().items():
        torch.testing.assert_close(back.parameters_dict()[k], v, rtol=0, atol=0)
    x, mask = _data(dbn)
    torch.testing.assert_close(back.log_likelihood(x.to(dtype), mask, 0.2), m.log_likelihood(x.to(dtype), mask, 0.2),
                               rtol=0, atol=0)
    spec = json.loads((tmp_path / "model" / MODEL_FILE).read_text())
    assert spec["format"] == "taskdd.dbn.LinearGaussianDBN" and spec["inter"] == m.structure.inter


def test_missing_corrupt_or_foreign_files_raise_checkpoint_errors(dbn, tmp_path):
    with pytest.raises(CheckpointError, match="no saved DBN"):
        LinearGaussianDBN.load(tmp_path / "nothing")
    dbn.save(tmp_path)
    path = tmp_path / MODEL_FILE
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        LinearGaussianDBN.load(tmp_path)
    path.write_text(json.dumps({"format": "something.else", "version": 1}))
    with pytest.raises(CheckpointError, match="not a saved DBN"):
        LinearGaussianDBN.load(tmp_path)
    spec = json.loads(text)
    spec["parameters"]["B"] = [[1.0]]
    path.write_text(json.dumps(spec))
    with pytest.raises(CheckpointError, match="B"):
        LinearGaussianDBN.load(tmp_path)
    spec = json.loads(text)
    spec["version"] = 99
    path.write_text(json.dumps(spec))
    with pytest.raises(CheckpointError, match="version"):
        LinearGaussianDBN.load(tmp_path)


def test_metadata_that_is_not_json_is_a_config_error(dbn, tmp_path):
    with pytest.raises(ConfigError, match="metadata"):
        dbn.save(tmp_path, metadata={"scale": torch.ones(2)})
    assert not (tmp_path / MODEL_FILE).exists()


def test_by_name_likelihood_with_shuffled_columns_equals_the_ordered_one(dbn):
    x, mask = _data(dbn)
    order = [2, 0, 3, 1]
    names = [dbn.structure.variables[i] for i in order]
    ref = dbn.log_likelihood(x, mask, obs_noise=0.3)
    got = dbn.log_likelihood_by_name(x[..., order], mask[..., order], names, obs_noise=0.3)
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    src = Source(x[..., order], mask[..., order], names, "test")
    torch.testing.assert_close(dbn.log_likelihood_by_name(src, obs_noise=0.3), ref, rtol=0, atol=0)
    # positional use of the shuffled data is wrong, which is what the by-name call prevents
    assert not torch.allclose(dbn.log_likelihood(x[..., order], mask[..., order], obs_noise=0.3), ref)


def test_by_name_noise_mapping_follows_names(dbn):
    x, mask = _data(dbn)
    v = dbn.structure.variables
    noise = {v[0]: 0.1, v[1]: 0.2, v[2]: 0.3, v[3]: 0.4}
    ref = dbn.log_likelihood(x, mask, obs_noise=[0.1, 0.2, 0.3, 0.4])
    torch.testing.assert_close(dbn.log_likelihood_by_name(x.flip(-1), mask.flip(-1), v[::-1], obs_noise=noise), ref)


def test_unknown_column_is_a_data_error_naming_it(dbn):
    x, mask = _data(dbn)
    names = list(dbn.structure.variables[:3]) + ["weight_kg"]
    with pytest.raises(DataError, match="weight_kg"):
        dbn.log_likelihood_by_name(x, mask, names)


def test_absent_model_variable_is_marginalised_or_refused(dbn):
    x, mask = _data(dbn)
    v = dbn.structure.variables
    hidden = mask.clone()
    hidden[..., 1] = False
    ref = dbn.log_likelihood(x, hidden)
    keep = [0, 2, 3]
    got = dbn.log_likelihood_by_name(x[..., keep], mask[..., keep], [v[i] for i in keep])
    torch.testing.assert_close(got, ref, rtol=0, atol=0)
    with pytest.raises(DataError, match=repr(v[1])):
        dbn.log_likelihood_by_name(x[..., keep], mask[..., keep], [v[i] for i in keep], missing="error")


def test_scaling_gives_the_likelihood_in_user_units(dbn):
    # reference: the same DBN written in user units u = mean + std * x (B' = S B S^-1, A' = S A S^-1,
    # b' = S b + (I - B' - A') mean, s' = S s; first slice alike without A), scored on u directly
    x, mask = _data(dbn, seed=5)
    v = dbn.structure.variables
    mean = torch.tensor([1.0, -2.0, 0.5, 10.0], dtype=torch.float64)
    std = torch.tensor([2.0, 0.5, 3.0, 7.0], dtype=torch.float64)
    p, S, Si, eye = dbn.parameters_dict(), torch.diag(std), torch.diag(1 / std), torch.eye(4, dtype=torch.float64)
    B0, B, A = S @ p["B0"] @ Si, S @ p["B"] @ Si, S @ p["A"] @ Si
    user = LinearGaussianDBN(dbn.structure, B0=B0, b0=std * p["b0"] + (eye - B0) @ mean, s0=std * p["s0"], B=B, A=A,
                             b=std * p["b"] + (eye - B - A) @ mean, s=std * p["s"])
    u = mean + std * x
    got = dbn.log_likelihood_by_name(u, mask, v, scaling={n: (float(m), float(s)) for n, m, s in zip(v, mean, std)})
    torch.testing.assert_close(got, user.log_likelihood(u, mask), rtol=1e-10, atol=1e-10)


def test_bad_scaling_is_a_data_error(dbn):
    x, mask = _data(dbn)
    v = dbn.structure.variables
    with pytest.raises(DataError, match="lacking"):
        dbn.log_likelihood_by_name(x, mask, v, scaling={v[0]: (0.0, 1.0)})
    with pytest.raises(DataError, match="> 0"):
        dbn.log_likelihood_by_name(x, mask, v, scaling={n: (0.0, 0.0) for n in v})
