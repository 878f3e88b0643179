"""Time per outer step of each classifier objective, and the memory of unrolled training.

Per step: the ``distill`` loop's wall time per step (estimator + Adam + bookkeeping) on digits at
ipc 10 and 50, after a warm-up, median over interleaved rounds; beside it, a bare KIP step
(plain-autograd kernel, no loop) as a measure of the machine. Memory: one objective + backward
of ``classify-unrolled`` at ipc 10 against the unroll depth, as the peak of allocations (torch
profiler memory events on CPU, ``max_memory_allocated`` on CUDA). Prints a table; writes DIR/benchmark.json with
``krr_steps_per_s_ipc10`` (target >= 500 on CPU).

    python benchmarks/classifier_step.py --quick --out /tmp/bench_clf
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from data_gen.digits import load_digits_split
from taskdd import distill, get_task, make_generator
from taskdd.device import resolve_device

# label -> (task, outer lr, task options); krr_compiled runs the KIP objective through torch.compile
METHODS = {"krr": ("classify-krr", 0.01, {}), "krr_compiled": ("classify-krr", 0.01, {"compile": True}),
           "gm": ("classify-gm", 0.01, {}), "dm": ("classify-dm", 0.01, {}),
           "unrolled": ("classify-unrolled", 0.01, {})}


def seconds_per_step(task, lr: float, train, ipc: int, steps: int, device) -> float:
    """Distillation wall time per step (the loop's own clock: no evaluation, no set-up)."""
    res = distill(task, train, ipc, steps=steps, lr=lr, seed=0, device=device, quiet=True)
    return res.wall_time / steps


def bare_kip_seconds_per_step(train, ipc: int, steps: int) -> float:
    """Reference: a bare KIP step (NTK by plain autograd through arccos, solve, Adam), no loop,
    no checks. Timed beside the loop to tell this machine's speed from taskdd's overhead."""
    g = make_generator(0)
    x, y = train["x"], train["y"]
    idx = torch.cat([torch.nonzero(y == c).flatten()[:ipc] for c in range(10)])
    xs = x[idx].clone().requires_grad_(True)
    ts = torch.nn.functional.one_hot(y[idx], 10).to(x.dtype).requires_grad_(True)
    opt = torch.optim.Adam([xs, ts], lr=0.01)

    def ntk(a, b):
        d = a.shape[1] + 1
        s = (a @ b.T + 1) / d
        nn = ((a * a).sum(1)[:, None] + 1) * ((b * b).sum(1)[None, :] + 1) / d**2
        c = (s * nn.rsqrt()).clamp(-1 + 1e-6, 1 - 1e-6)
        theta = torch.acos(c)
        return nn.sqrt() * torch.sin(theta) / (2 * math.pi) + s * (1 - theta / math.pi)

    def step():
        b = torch.randperm(len(y), generator=g)[:256].to(x.device)
        K = ntk(xs, xs)
        alpha = torch.linalg.solve(K + 1e-6 * K.diagonal().mean() * torch.eye(len(xs), device=x.device), ts)
        loss = ((ntk(x[b], xs) @ alpha - torch.nn.functional.one_hot(y[b], 10).to(x.dtype)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if x.device.type == "cuda":
        torch.cuda.synchronize(x.device)
    return (time.perf_counter() - t0) / steps


def peak_cpu_bytes(fn) -> int:
    """Peak of live CPU allocations while ``fn()`` runs, from the profiler's memory events."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = [e for e in prof.events() if e.cpu_parent is None]
    events.sort(key=lambda e: e.time_range.start)
    return int(max(0, np.max(np.cumsum([e.cpu_memory_usage for e in events]))))


def unrolled_memory(train, depth: int, device) -> dict[str, float]:
    """Peak MiB allocated during one classify-unrolled objective + backward at ipc 10."""
    task = get_task("classify-unrolled", inner_steps=depth)
    syn = task.init_synthetic(train, 10, make_generator(0))

    def step():
        obj = task.objective(syn, train, generator=make_generator(1))
        torch.autograd.grad(obj, syn.parameters())

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        step()
        peak = torch.cuda.max_memory_allocated(device) - base
    else:
        peak = peak_cpu_bytes(step)
    return {"depth": depth, "peak_mib": peak / 2**20}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    train = load_digits_split().train.to(dev)
    rounds, steps = (2, {"krr": 100, "krr_compiled": 100, "gm": 10, "dm": 50, "unrolled": 10}) if args.quick else \
        (3, {"krr": 400, "krr_compiled": 400, "gm": 40, "dm": 200, "unrolled": 30})
    depths = (5, 10, 20) if args.quick else (5, 10, 20, 40, 80)
    ipcs = (10, 50)

    tasks = {m: get_task(name, **opts) for m, (name, _, opts) in METHODS.items()}
    for ipc in ipcs:  # warm-up: first calls, allocator, compilation of each set size
        for m, (_, lr, _) in METHODS.items():
            seconds_per_step(tasks[m], lr, train, ipc, 3, dev)
    times: dict[tuple[str, int], list[float]] = {}
    for _ in range(rounds):
        for ipc in ipcs:
            for m, (_, lr, _) in METHODS.items():
                times.setdefault((m, ipc), []).append(seconds_per_step(tasks[m], lr, train, ipc, steps[m], dev))
        times.setdefault(("bare_kip", 10), []).append(bare_kip_seconds_per_step(train, 10, steps["krr"]))
    per_step = {f"{m}_ipc{ipc}": statistics.median(v) for (m, ipc), v in times.items()}
    memory = [unrolled_memory(train, d, dev) for d in depths]

    print(f"device {dev}, torch threads {torch.get_num_threads()}, median of {rounds} interleaved rounds")
    print(f"{'method':10s} " + " ".join(f"{'ms/step ipc' + str(i):>16s} {'steps/s':>8s}" for i in ipcs))
    for m in METHODS:  # bare_kip is reported below, at ipc 10 only
        print(f"{m:10s} " + " ".join(f"{1e3 * per_step[f'{m}_ipc{i}']:16.2f} {1 / per_step[f'{m}_ipc{i}']:8.1f}"
                                     for i in ipcs))
    print("\nclassify-unrolled at ipc 10: memory of one objective + backward against unroll depth")
    print(f"{'depth':>6s} {'peak MiB':>10s}")
    for r in memory:
        print(f"{r['depth']:6d} {r['peak_mib']:10.2f}")
    krr, bare = 1 / per_step["krr_ipc10"], 1 / per_step["bare_kip_ipc10"]
    compiled = 1 / per_step["krr_compiled_ipc10"]
    print(f"\nkrr_steps_per_s_ipc10 = {krr:.0f} (default, eager; target >= 500 on CPU), {compiled:.0f} with "
          f"compile=True; a bare KIP step (plain-autograd kernel, no loop), same run: {bare:.0f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps({
        "device": str(dev), "torch_threads": torch.get_num_threads(), "quick": args.quick, "rounds": rounds,
        "steps_timed": steps, "seconds_per_step": per_step,
        "steps_per_s": {k: 1 / v for k, v in per_step.items()},
        "unrolled_memory_vs_depth": memory, "krr_steps_per_s_ipc10": krr,
        "krr_compiled_steps_per_s_ipc10": compiled, "bare_kip_steps_per_s_ipc10": bare,
        "krr_vs_bare_kip_ratio": krr / bare, "krr_compiled_vs_eager_ratio": compiled / krr,
        "memory_method": "cuda max_memory_allocated" if dev.type == "cuda" else "torch profiler memory events",
    }, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
