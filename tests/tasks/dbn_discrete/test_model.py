"""DiscreteDBN: validation, sampling frequencies, device / dtype moves keep gradients."""

import pytest
import torch

from data_gen.discrete_dbn import random_discrete_dbn
from taskdd.errors import DataError
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn_discrete import DiscreteDBN

S = DBNStructure(["a", "b"], {"b": ["a"]}, {"a": ["a"], "b": ["b"]})


def _tables():
    cpt0 = [torch.tensor([0.3, 0.7], dtype=torch.float64), torch.full((2, 3), 1 / 3, dtype=torch.float64)]
    cpt = [torch.tensor([[0.9, 0.1], [0.2, 0.8]], dtype=torch.float64),
           torch.full((3, 2, 3), 1 / 3, dtype=torch.float64)]
    return cpt0, cpt


def test_valid_network_keeps_its_fields():
    cpt0, cpt = _tables()
    dbn = DiscreteDBN(S, [2, 3], cpt0, cpt, state_names={"b": ["lo", "mid", "hi"]})
    assert dbn.d == 2 and dbn.cards == (2, 3) and dbn.state_names == {"b": ["lo", "mid", "hi"]}
    assert dbn.cpt0[0] is cpt0[0]


@pytest.mark.parametrize("change,match", [
    (lambda c0, c, k: (c0[:1], c, k), "list of 2 tensors"),
    (lambda c0, c, k: ([c0[0], c0[1].T], c, k), r"cpt0 of 'b' must be a float tensor of shape \(2, 3\)"),
    (lambda c0, c, k: (c0, [c[0], c[1][:, :1]], k), "cpt of 'b'"),
    (lambda c0, c, k: ([c0[0] * 2, c0[1]], c, k), "sum to 1"),
    (lambda c0, c, k: ([torch.tensor([1.5, -0.5], dtype=torch.float64), c0[1]], c, k), ">= 0"),
    (lambda c0, c, k: ([c0[0].float(), c0[1]], c, k), "share one dtype"),
    (lambda c0, c, k: (c0, c, [2, 0]), "ints >= 1"),
    (lambda c0, c, k: (c0, c, [2]), "2 cardinalities"),
])
def test_bad_tables_raise_data_errors(change, match):
    cpt0, cpt = _tables()
    a, b, k = change(cpt0, cpt, [2, 3])
    with pytest.raises(DataError, match=match):
        DiscreteDBN(S, k, a, b)


@pytest.mark.parametrize("names,match", [({"c": ["x", "y"]}, "unknown variable"),
                                         ({"a": ["x"]}, "2 distinct names"), ({"a": ["x", "x"]}, "distinct")])
def test_bad_state_names_raise_data_errors(names, match):
    with pytest.raises(DataError, match=match):
        DiscreteDBN(S, [2, 3], *_tables(), state_names=names)


def test_sample_frequencies_follow_the_cpts():
    cpt0, cpt = _tables()
    dbn = DiscreteDBN(S, [2, 3], cpt0, cpt)
    x = dbn.sample(40000, 2, generator=torch.Generator().manual_seed(0))
    assert x.shape == (40000, 2, 2) and x.dtype == torch.long
    assert abs(float((x[:, 0, 0] == 1).double().mean()) - 0.7) < 0.01
    stay = (x[:, 1, 0] == x[:, 0, 0])[x[:, 0, 0] == 0].double().mean()
    assert abs(float(stay) - 0.9) < 0.01


def test_same_generator_seed_same_sample():
    dbn = random_discrete_dbn(5, seed=1)
    a = dbn.sample(50, 4, generator=torch.Generator().manual_seed(3))
    b = dbn.sample(50, 4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_static_network_refuses_several_slices():
    dbn = random_discrete_dbn(3, static=True, seed=0)
    with pytest.raises(DataError, match="static"):
        dbn.sample(5, 2)


def test_to_casts_and_keeps_gradients(device):
    dbn = random_discrete_dbn(3, seed=0)
    leaf = dbn.cpt0[0].clone().requires_grad_(True)
    model = DiscreteDBN(dbn.structure, dbn.cards, [leaf] + dbn.cpt0[1:], dbn.cpt).to(device, torch.float32)
    assert model.cpt0[1].dtype == torch.float32 and model.cpt0[1].device.type == device.type
    x = dbn.sample(20, 3, generator=torch.Generator().manual_seed(0)).to(device)
    model.log_likelihood(x).sum().backward()
    assert leaf.grad is not None and bool(leaf.grad.abs().sum() > 0)
