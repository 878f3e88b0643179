"""Time per inner PINN solve: the same Adam steps on the same points by four implementations.

One solve = ``steps`` Adam steps of a 2-32-32-1 tanh network on the PINN task's learner loss
(PDE residual at the interior collocation points, boundary misfit, data misfit on the training
measurements) for the Poisson problem. Implementations: deepxde ``Model.train`` (compile timed
apart); a plain torch loop (``nn.Module``, nested autograd for ``u_xx``, ``torch.optim.Adam``);
``torch.func.vmap`` over 8 networks (``grad`` of ``grad`` for ``u_xx``); the task's batched solver
over 8 networks, with the explicit ``u_xx`` pass (``batched``, the fast path) and with the general
path that serves any residual (``general``: ``u_x`` and ``u_xx`` by nested autograd over the whole
stack, ``PINNTask(derivatives="general")``), functional Adam. Seconds per network, median of
interleaved rounds after a warm-up. Writes DIR/benchmark.json with
``speedup_batched_vs_deepxde`` (target >= 4 on CPU) and ``speedup_general_vs_deepxde`` (>= 2).

    python benchmarks/pinn_inner.py --quick --out /tmp/bench_pinn
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.func import functional_call, grad, stack_module_state, vmap

from data_gen.pinn import make_pinn_problem
from taskdd import make_generator
from taskdd.device import resolve_device
from taskdd.nets import AdamConfig, AdamState, adam_step
from taskdd.tasks.pinn import PINNTask
from taskdd.tasks.pinn.deepxde_learner import deepxde_model

N_NETS = 8


class Problem:
    """The points and the loss shared by every implementation."""

    def __init__(self, task: PINNTask, data, device):
        self.task, self.device = task, device
        self.colloc = task.collocation("learner", torch.empty(0, device=device))
        self.data_in = torch.stack([data["x"], data["alpha"]], -1).to(device)
        self.data_y = data["y"].to(device)
        self.f = task.problem.forcing(self.colloc.interior[:, 0])
        self.cubic = task.problem.cubic

    def loss_from(self, u_in, u_xx, u_bc, u_data):
        w = self.task.weights
        return (w.pde * ((-u_xx + self.cubic * u_in**3 - self.f) ** 2).mean()
                + w.bc * ((u_bc - self.colloc.boundary_u) ** 2).mean() + w.data * ((u_data - self.data_y) ** 2).mean())


def time_deepxde(p: Problem, init, steps) -> tuple[float, float]:
    """(seconds to build and compile, seconds to train) for one network."""
    t0 = time.perf_counter()
    x, a, y = p.data_in[:, 0].cpu(), p.data_in[:, 1].cpu(), p.data_y.cpu()
    model = deepxde_model(p.task, x, a, y, init.cpu())
    t1 = time.perf_counter()
    model.train(iterations=steps, display_every=steps, verbose=0)
    return t1 - t0, time.perf_counter() - t1


def time_plain(p: Problem, init, steps) -> float:
    net = p.task.spec.to_module(init)
    opt = torch.optim.Adam(net.parameters(), lr=p.task.inner_lr)
    inner = p.colloc.interior.clone().requires_grad_(True)
    t0 = time.perf_counter()
    for _ in range(steps):
        u_in = net(inner)[:, 0]
        (du,) = torch.autograd.grad(u_in.sum(), inner, create_graph=True)
        (d2u,) = torch.autograd.grad(du[:, 0].sum(), inner, create_graph=True)
        loss = p.loss_from(u_in, d2u[:, 0], net(p.colloc.boundary)[:, 0], net(p.data_in)[:, 0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def time_vmap(p: Problem, inits, steps) -> float:
    nets = [p.task.spec.to_module(w) for w in inits]
    params, _ = stack_module_state(nets)
    base = nets[0]

    def u_point(prm, xa):
        return functional_call(base, prm, (xa[None],))[0, 0]

    def u_xx_point(prm, xa):
        return grad(lambda z: grad(u_point, argnums=1)(prm, z)[0])(xa)[0]

    def loss(prm):
        u_xx = vmap(u_xx_point, in_dims=(None, 0))(prm, p.colloc.interior)
        u_in = functional_call(base, prm, (p.colloc.interior,))[:, 0]
        return p.loss_from(u_in, u_xx, functional_call(base, prm, (p.colloc.boundary,))[:, 0],
                           functional_call(base, prm, (p.data_in,))[:, 0])

    grads_of = vmap(grad(loss))
    names = list(params)
    flat = torch.cat([params[k].reshape(N_NETS, -1) for k in names], 1)
    state, cfg = AdamState.zeros(flat), AdamConfig(lr=p.task.inner_lr)
    shapes = [params[k].shape for k in names]
    widths = [s[1:].numel() for s in shapes]
    t0 = time.perf_counter()
    for _ in range(steps):
        g = grads_of(params)
        flat, state = adam_step(flat, torch.cat([g[k].reshape(N_NETS, -1) for k in names], 1), state, cfg)
        params = {k: t.reshape(s) for k, t, s in zip(names, flat.split(widths, 1), shapes)}
    return time.perf_counter() - t0


def time_batched(p: Problem, data, steps, seed, derivatives: str = "explicit") -> float:
    x, a, y = (data[k].to(p.device) for k in ("x", "alpha", "y"))
    task = p.task.with_options(derivatives=derivatives)
    t0 = time.perf_counter()
    task.train_networks(x, a, y, N_NETS, make_generator(seed), steps=steps)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    steps, rounds = (200, 2) if args.quick else (1000, 3)
    prob = make_pinn_problem("poisson", seed=0)
    task = PINNTask(physics_range=prob.train_range, score_range=prob.alpha_range)
    p = Problem(task, prob.train, dev)
    n_points = len(p.colloc.interior) + len(p.colloc.boundary) + len(p.data_y)
    inits = task.spec.init(N_NETS, make_generator(0), device=dev)
    # warm-up (imports, allocator, deepxde compile paths)
    time_deepxde(p, inits[0], 10)
    time_plain(p, inits[0], 10)
    time_vmap(p, inits, 5)
    time_batched(p, prob.train, 10, 0)
    time_batched(p, prob.train, 10, 0, "general")
    per_net: dict[str, list[float]] = {k: [] for k in ("deepxde", "plain_torch", "vmap", "batched", "general")}
    compile_s = []
    for r in range(rounds):
        c, t = time_deepxde(p, inits[r % N_NETS], steps)
        compile_s.append(c)
        per_net["deepxde"].append(t)
        per_net["plain_torch"].append(time_plain(p, inits[r % N_NETS], steps))
        per_net["vmap"].append(time_vmap(p, inits, steps) / N_NETS)
        per_net["batched"].append(time_batched(p, prob.train, steps, r) / N_NETS)
        per_net["general"].append(time_batched(p, prob.train, steps, r, "general") / N_NETS)
    med = {k: statistics.median(v) for k, v in per_net.items()}
    print(f"device {dev}, torch threads {torch.get_num_threads()}, {steps} Adam steps on {n_points} points "
          f"({len(p.colloc.interior)} interior, {len(p.colloc.boundary)} boundary, {len(p.data_y)} data), "
          f"median of {rounds} interleaved rounds; vmap and batched run {N_NETS} networks at once")
    print(f"{'method':12s} {'s per net':>10s} {'vs deepxde':>11s}")
    for k, v in med.items():
        print(f"{k:12s} {v:10.3f} {med['deepxde'] / v:10.2f}x")
    print(f"deepxde build + compile: {statistics.median(compile_s):.3f} s (not counted above)")
    speedup, general = med["deepxde"] / med["batched"], med["deepxde"] / med["general"]
    print(f"\nspeedup_batched_vs_deepxde = {speedup:.2f} (target >= 4 on CPU)")
    print(f"speedup_general_vs_deepxde = {general:.2f} (target >= 2 on CPU)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps({
        "device": str(dev), "threads": torch.get_num_threads(), "steps": steps, "points": n_points,
        "networks_batched": N_NETS, "rounds": rounds, "seconds_per_net": med,
        "deepxde_compile_s": statistics.median(compile_s), "speedup_batched_vs_deepxde": speedup,
        "speedup_general_vs_deepxde": general,
        "speedup_batched_vs_plain_torch": med["plain_torch"] / med["batched"],
        "speedup_vmap_vs_deepxde": med["deepxde"] / med["vmap"]}, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
