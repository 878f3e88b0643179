"""DBN log-likelihood + backward over batch size, sequence length and dimension, beside pgmpy.

Times our ``log_likelihood(...).sum().backward()`` (gradients to the values and the DBN
parameters) for B in {64, 256, 1024}, T in {2, 5, 10, 20, 50}, d in {8, 16}, fully observed
(no mask, no observation noise: the per-node regression path) and masked (30% of entries missing
at random, observation noise 0.3: the Kalman filter with one covariance recursion per sequence,
its worst case). At B=256, d=8 it also times, in float64 on fully observed data, our
log-likelihood and closed-form fit beside pgmpy's ``LinearGaussianBayesianNetwork`` on the
unrolled network (its ``log_likelihood``, and its ``fit`` with the MLE estimator). Every timing is
the median over rounds after a warm-up; the two sides of each ratio are timed in interleaved
rounds, so both see the same machine load. CPU timings use one thread on both sides unless
``--threads``. Writes DIR/benchmark.json with

- ``t_linearity`` = (time at T=50 / time at T=10) / 5 at B=256, d=8, masked (target <= 1.3);
- ``speedup_ll_vs_pgmpy``: fully observed log-likelihood, B=256, T=10, d=8 (target >= 10);
- ``speedup_fit_vs_pgmpy``: fit, same size (target >= 50).

    python benchmarks/dbn_likelihood.py --quick --out /tmp/bench_dbn_ll
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from typing import Callable

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(_var, "1")

import torch  # noqa: E402

from data_gen.dbn import random_dbn  # noqa: E402
from taskdd.device import resolve_device  # noqa: E402
from taskdd.results import ensure_out_dir, versions, write_json  # noqa: E402
from taskdd.tasks.dbn import LinearGaussianDBN, fit_dbn  # noqa: E402

TARGETS = {"t_linearity": ("<=", 1.3), "speedup_ll_vs_pgmpy": (">=", 10.0), "speedup_fit_vs_pgmpy": (">=", 50.0)}
FULL = dict(B=(64, 256, 1024), T=(2, 5, 10, 20, 50), d=(8, 16))
QUICK_CELLS = [(256, T, 8) for T in (2, 10, 50)] + [(64, 10, 8), (1024, 10, 8), (256, 10, 16)]


def measure(fns: dict[str, Callable[[], object]], sync: Callable[[], None], rounds: int = 7,
            min_round_s: float = 0.01) -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved rounds so that every side
    sees the same machine load. Each is warmed up twice; a round calls it ``inner`` times, with
    ``inner`` chosen so that a round lasts about ``min_round_s``."""
    inner = {}
    for k, fn in fns.items():
        fn()
        fn()
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        inner[k] = max(1, int(min_round_s / max(time.perf_counter() - t0, 1e-7)))
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(inner[k]):
                fn()
            sync()
            times[k].append((time.perf_counter() - t0) / inner[k])
    return {k: statistics.median(v) for k, v in times.items()}


def ll_backward(dbn: LinearGaussianDBN, x: torch.Tensor, mask: torch.Tensor | None, noise: float) -> Callable[[], None]:
    """One log-likelihood + backward to the values and all seven parameter tensors."""
    params = {k: v.detach().clone().requires_grad_(True) for k, v in dbn.parameters_dict().items()}
    values = x.detach().clone().requires_grad_(True)

    def run():
        model = LinearGaussianDBN(dbn.structure, check=False, **params)
        model.log_likelihood(values, mask, obs_noise=noise).sum().backward()
    return run


def problem(B: int, T: int, d: int, masked: bool, dev: torch.device, dtype: torch.dtype):
    """The seeded DBN, data ``[B, T, d]``, mask (30% missing at random, or None) and noise of a cell."""
    dbn = random_dbn(d, seed=0, dtype=dtype).to(dev)
    g = torch.Generator().manual_seed(B * 1000 + T)
    x = dbn.sample(B, T, generator=g)
    mask = (torch.rand(x.shape, generator=g) >= 0.3).to(dev) if masked else None
    return dbn, x, mask, (0.3 if masked else 0.0)


def grid_cell(B: int, T: int, d: int, masked: bool, dev: torch.device, dtype: torch.dtype,
              sync: Callable[[], None]) -> dict:
    dbn, x, mask, noise = problem(B, T, d, masked, dev, dtype)
    t = measure({"ll": lambda: dbn.log_likelihood(x, mask, obs_noise=noise),
                 "ll_backward": ll_backward(dbn, x, mask, noise)}, sync, rounds=5)
    return {"B": B, "T": T, "d": d, "masked": masked, "ll_ms": 1e3 * t["ll"], "ll_backward_ms": 1e3 * t["ll_backward"]}


def t_linearity(dev: torch.device, dtype: torch.dtype, sync: Callable[[], None]) -> dict:
    """Masked log-likelihood + backward at B=256, d=8, T=10 and T=50, timed side by side."""
    t = measure({f"T{T}": ll_backward(*problem(256, T, 8, True, dev, dtype)) for T in (10, 50)}, sync)
    return {"T10_ms": 1e3 * t["T10"], "T50_ms": 1e3 * t["T50"], "t_linearity": t["T50"] / t["T10"] / 5}


def pgmpy_row(T: int, dev: torch.device, sync: Callable[[], None], B: int = 256, d: int = 8, rounds: int = 7) -> dict:
    """Fully observed float64 log-likelihood and fit: ours vs pgmpy's unrolled network, timed side by side."""
    from pgmpy.parameter_estimator import LinearGaussianMLE

    from taskdd.tasks.dbn.pgmpy_bridge import to_pgmpy, to_wide_frame, unrolled_network

    dbn = random_dbn(d, seed=0, dtype=torch.float64)
    x = dbn.sample(B, T, generator=torch.Generator().manual_seed(T))
    net = to_pgmpy(dbn, T)
    df = to_wide_frame(x, dbn.structure.variables)
    rel = abs(float(dbn.log_likelihood(x).sum()) - net.log_likelihood(df)) / abs(net.log_likelihood(df))
    xd, dbn_d = x.to(dev), dbn.to(dev)
    ll = measure({"ours": lambda: dbn_d.log_likelihood(xd), "pgmpy": lambda: net.log_likelihood(df)}, sync, rounds)
    fresh = iter([unrolled_network(dbn.structure, T) for _ in range(rounds + 3)])  # pgmpy's fit adds CPDs in place
    fit = measure({"ours": lambda: fit_dbn(dbn.structure, xd),
                   "pgmpy": lambda: next(fresh).fit(df, estimator=LinearGaussianMLE(std_estimator="mle"))},
                  sync, rounds, min_round_s=0.0)
    return {"B": B, "T": T, "d": d, "ours_ll_ms": 1e3 * ll["ours"], "pgmpy_ll_ms": 1e3 * ll["pgmpy"],
            "speedup_ll": ll["pgmpy"] / ll["ours"], "ours_fit_ms": 1e3 * fit["ours"], "pgmpy_fit_ms": 1e3 * fit["pgmpy"],
            "speedup_fit": fit["pgmpy"] / fit["ours"], "ll_relative_difference": rel}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a subset of the grid that keeps the target cells")
    ap.add_argument("--out", required=True, help="folder for benchmark.json")
    ap.add_argument("--device", default="auto", help="auto | cpu | cuda")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"], help="dtype of the grid")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    logging.getLogger("pgmpy").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    dtype = getattr(torch, args.dtype)
    out = ensure_out_dir(args.out)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    cells = QUICK_CELLS if args.quick else [(B, T, d) for d in FULL["d"] for B in FULL["B"] for T in FULL["T"]]
    grid = [grid_cell(B, T, d, masked, dev, dtype, sync) for B, T, d in cells for masked in (False, True)]
    print(f"log-likelihood ({args.dtype}, {dev}, {args.threads} thread(s)): forward and forward + backward, ms")
    print(f"{'B':>5} {'T':>3} {'d':>3} {'mask':>6} {'ll':>9} {'ll+bwd':>9}")
    for r in grid:
        print(f"{r['B']:>5} {r['T']:>3} {r['d']:>3} {('random' if r['masked'] else 'none'):>6} "
              f"{r['ll_ms']:>9.3f} {r['ll_backward_ms']:>9.3f}")

    rows = [pgmpy_row(T, dev, sync) for T in ((10,) if args.quick else FULL["T"])]
    print("\nfully observed, float64, B=256, d=8: ours vs pgmpy (unrolled LinearGaussianBayesianNetwork), ms")
    print(f"{'T':>3} {'ours ll':>9} {'pgmpy ll':>9} {'ratio':>7} {'ours fit':>9} {'pgmpy fit':>10} {'ratio':>7} {'ll rel diff':>11}")
    for r in rows:
        print(f"{r['T']:>3} {r['ours_ll_ms']:>9.3f} {r['pgmpy_ll_ms']:>9.3f} {r['speedup_ll']:>7.1f} "
              f"{r['ours_fit_ms']:>9.3f} {r['pgmpy_fit_ms']:>10.1f} {r['speedup_fit']:>7.0f} {r['ll_relative_difference']:>11.1e}")

    lin = t_linearity(dev, dtype, sync)
    at10 = next(r for r in rows if r["T"] == 10)
    ratios = {"t_linearity": lin["t_linearity"], "speedup_ll_vs_pgmpy": at10["speedup_ll"],
              "speedup_fit_vs_pgmpy": at10["speedup_fit"]}
    met = {k: (v <= TARGETS[k][1]) if TARGETS[k][0] == "<=" else (v >= TARGETS[k][1]) for k, v in ratios.items()}
    print(f"\nmasked ll + backward, B=256, d=8: T=10 {lin['T10_ms']:.2f} ms, T=50 {lin['T50_ms']:.2f} ms (side by side)")
    for k, v in ratios.items():
        print(f"{k:>22} = {v:8.2f}   target {TARGETS[k][0]} {TARGETS[k][1]:g}   {'met' if met[k] else 'MISSED'}")
    write_json(out / "benchmark.json", {
        **ratios, "targets": {k: f"{op} {v:g}" for k, (op, v) in TARGETS.items()}, "met": met,
        "grid": grid, "pgmpy": rows, "linearity": lin, "quick": args.quick, "device": str(dev), "dtype": args.dtype,
        "threads": args.threads, "versions": versions()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
