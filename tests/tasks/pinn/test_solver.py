"""The functional batched Adam against torch.optim.Adam, and its per-network step counts."""

import torch

from taskdd.tasks.pinn.networks import MLPSpec
from taskdd.tasks.pinn.solver import AdamConfig, AdamState, adam_step, train


def _loss(spec, inputs, target):
    return lambda p: ((spec.forward(p, inputs) - target) ** 2).mean(-1)


def test_batched_adam_equals_torch_adam_for_each_network():
    spec = MLPSpec(width=6, depth=2)
    g = torch.Generator().manual_seed(0)
    params = spec.init(3, g, dtype=torch.float64)
    inputs = torch.rand(20, 2, generator=g, dtype=torch.float64)
    target = torch.rand(20, generator=g, dtype=torch.float64)
    cfg = AdamConfig(lr=0.01, eps=1e-12)
    out, state = train(params, AdamState.zeros(params), _loss(spec, inputs, target), 15, cfg)
    for k in range(3):
        p = params[k:k + 1].clone().requires_grad_(True)
        opt = torch.optim.Adam([p], lr=0.01, eps=1e-12)
        for _ in range(15):
            opt.zero_grad()
            _loss(spec, inputs, target)(p).sum().backward()
            opt.step()
        torch.testing.assert_close(out[k], p.detach()[0], rtol=1e-9, atol=1e-9)
    assert state.t.tolist() == [15, 15, 15] and not out.requires_grad


def test_each_network_uses_its_own_step_count():
    params = torch.zeros(2, 3, dtype=torch.float64)
    grad = torch.ones(2, 3, dtype=torch.float64)
    state = AdamState(torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64),
                      torch.tensor([0.0, 100.0], dtype=torch.float64))
    new, st = adam_step(params, grad, state, AdamConfig(lr=1.0))
    # first step of a fresh network moves by lr; an old one's bias correction is nearly gone
    assert abs(float(new[0, 0]) + 1.0) < 1e-6 and float(new[1, 0]) > -1.0
    assert st.t.tolist() == [1.0, 101.0]


def test_create_graph_keeps_the_trajectory_differentiable():
    spec = MLPSpec(width=4, depth=1)
    params = spec.init(2, torch.Generator().manual_seed(0), dtype=torch.float64)
    target = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    inputs = torch.rand(5, 2, dtype=torch.float64)
    loss = _loss(spec, inputs, target)
    out, _ = train(params, AdamState.zeros(params), loss, 3, AdamConfig(lr=0.1), create_graph=True)
    (g,) = torch.autograd.grad(out.sum(), target)
    assert g.abs().sum() > 0


def test_training_works_under_no_grad():
    spec = MLPSpec(width=4, depth=1)
    params = spec.init(1, torch.Generator().manual_seed(0))
    inputs, target = torch.rand(8, 2), torch.ones(8)
    loss = _loss(spec, inputs, target)
    with torch.no_grad():
        out, _ = train(params, AdamState.zeros(params), loss, 50, AdamConfig(lr=0.05))
    assert loss(out) < loss(params)
