"""DBN log-likelihood + backward over batch size, sequence length and dimension, beside pgmpy.

Times our ``log_likelihood(...).sum().backward()`` (gradients to the values and the DBN
parameters) for B in {64, 256, 1024}, T in {2, 5, 10, 20, 50}, d in {8, 16}, fully observed
(no mask, no observation noise: the per-node regression path) and masked (30% of entries missing
at random, observation noise 0.3: the Kalman filter with one covariance recursion per sequence,
its worst case). At B=256, d=8 it also times, in float64 on fully observed data, our
log-likelihood and closed-form fit beside pgmpy's ``LinearGaussianBayesianNetwork`` on the
unrolled network (its ``log_likelihood``, and its ``fit`` with the MLE estimator). Every timing is
the median of several repeats after a warm-up; CPU timings use one thread on both sides unless
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


def median_time(fn: Callable[[], object], sync: Callable[[], None], *, min_repeats: int = 5,
                budget_s: float = 0.5, max_repeats: int = 50) -> float:
    """Median wall time of ``fn`` in seconds: two warm-up calls, then repeats until ``min_repeats``
    and ``budget_s`` are both reached (at most ``max_repeats``)."""
    for _ in range(2):
        fn()
    sync()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < max_repeats and (len(times) < min_repeats or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ll_backward(dbn: LinearGaussianDBN, x: torch.Tensor, mask: torch.Tensor | None, noise: float) -> Callable[[], None]:
    """One log-likelihood + backward to the values and all seven parameter tensors."""
    params = {k: v.detach().clone().requires_grad_(True) for k, v in dbn.parameters_dict().items()}
    values = x.detach().clone().requires_grad_(True)

    def run():
        model = LinearGaussianDBN(dbn.structure, check=False, **params)
        model.log_likelihood(values, mask, obs_noise=noise).sum().backward()
    return run


def grid_cell(B: int, T: int, d: int, masked: bool, dev: torch.device, dtype: torch.dtype,
              sync: Callable[[], None]) -> dict:
    dbn = random_dbn(d, seed=0, dtype=dtype).to(dev)
    g = torch.Generator().manual_seed(B * 1000 + T)
    x = dbn.sample(B, T, generator=g)
    mask = (torch.rand(x.shape, generator=g) >= 0.3).to(dev) if masked else None
    noise = 0.3 if masked else 0.0
    fwd = median_time(lambda: dbn.log_likelihood(x, mask, obs_noise=noise), sync)
    both = median_time(ll_backward(dbn, x, mask, noise), sync)
    return {"B": B, "T": T, "d": d, "masked": masked, "ll_ms": 1e3 * fwd, "ll_backward_ms": 1e3 * both}


def pgmpy_row(T: int, dev: torch.device, sync: Callable[[], None], B: int = 256, d: int = 8) -> dict:
    """Fully observed float64 log-likelihood and fit: ours vs pgmpy's unrolled network."""
    from taskdd.tasks.dbn.pgmpy_bridge import to_wide_frame, unrolled_network
    from pgmpy.parameter_estimator import LinearGaussianMLE

    dbn = random_dbn(d, seed=0, dtype=torch.float64)
    x = dbn.sample(B, T, generator=torch.Generator().manual_seed(T))
    net = dbn.to_pgmpy(T)
    df = to_wide_frame(x, dbn.structure.variables)
    ours_ll_value = float(dbn.log_likelihood(x).sum())
    pg_ll_value = float(net.log_likelihood(df))
    xd, dbn_d = x.to(dev), dbn.to(dev)
    ours_ll = median_time(lambda: dbn_d.log_likelihood(xd), sync)
    ours_fit = median_time(lambda: fit_dbn(dbn.structure, xd), sync)
    pg_ll = median_time(lambda: net.log_likelihood(df), lambda: None, min_repeats=5, budget_s=1.0)
    fresh = iter([unrolled_network(dbn.structure, T) for _ in range(12)])
    pg_fit = median_time(lambda: next(fresh).fit(df, estimator=LinearGaussianMLE(std_estimator="mle")),
                         lambda: None, min_repeats=3, budget_s=0.0, max_repeats=10)
    return {"B": B, "T": T, "d": d, "ours_ll_ms": 1e3 * ours_ll, "pgmpy_ll_ms": 1e3 * pg_ll,
            "speedup_ll": pg_ll / ours_ll, "ours_fit_ms": 1e3 * ours_fit, "pgmpy_fit_ms": 1e3 * pg_fit,
            "speedup_fit": pg_fit / ours_fit, "ll_relative_difference": abs(ours_ll_value - pg_ll_value) / abs(pg_ll_value)}


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

    def cell(T: int) -> dict:
        return next(r for r in grid if (r["B"], r["T"], r["d"], r["masked"]) == (256, T, 8, True))

    at10 = next(r for r in rows if r["T"] == 10)
    ratios = {"t_linearity": cell(50)["ll_backward_ms"] / cell(10)["ll_backward_ms"] / 5,
              "speedup_ll_vs_pgmpy": at10["speedup_ll"], "speedup_fit_vs_pgmpy": at10["speedup_fit"]}
    met = {k: (v <= TARGETS[k][1]) if TARGETS[k][0] == "<=" else (v >= TARGETS[k][1]) for k, v in ratios.items()}
    print()
    for k, v in ratios.items():
        print(f"{k:>22} = {v:8.2f}   target {TARGETS[k][0]} {TARGETS[k][1]:g}   {'met' if met[k] else 'MISSED'}")
    write_json(out / "benchmark.json", {
        **ratios, "targets": {k: f"{op} {v:g}" for k, (op, v) in TARGETS.items()}, "met": met,
        "grid": grid, "pgmpy": rows, "quick": args.quick, "device": str(dev), "dtype": args.dtype,
        "threads": args.threads, "versions": versions()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
