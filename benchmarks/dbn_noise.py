"""Observation-noise estimation for the DBN task: old-style vs new, timed in the same run.

Problem (issue 18): ``random_dbn(8, seed=0)``, ``make_sources(n_per_source=100, T=5, K=3,
hidden_per_source=3, noise=0.3, n_test=100, seed=0)``, float64; and a panel-like variant of it
(T=8, each sequence misses whole visits with probability 0.2, so masks differ between sequences
but repeat, as in a CSV panel with missed visits).

- old-style: the previous ``estimate_noise``, copied here: L-BFGS (strong Wolfe) from the impute
  fit with every noise at exp(-1), one filter call per source, stopping at a change below 1e-10
  (max 300 iterations), one Kalman covariance pass per sequence whenever masks differ;
- new: ``baselines.fit_with_noise`` defaults (start at 0.3 x the observed std; every source in one
  filter call with per-sequence noise rows; one covariance pass per distinct (mask, noise) pair;
  stop when the mean log-likelihood per sequence changes by < 1e-7 or every gradient entry is
  < 1e-5), per source; also per variable and per source and variable.

Times are medians over interleaved rounds after a warm-up. Writes DIR/benchmark.json with
``ratio`` = old / new wall time for each problem.

    python benchmarks/dbn_noise.py --quick --out /tmp/bench_dbn_noise
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(_var, "1")

import torch  # noqa: E402

import taskdd.tasks.dbn.likelihood as likelihood  # noqa: E402
from data_gen.dbn import make_sources, random_dbn  # noqa: E402
from taskdd.data import Source, Sources  # noqa: E402
from taskdd.distill import distill  # noqa: E402
from taskdd.results import ensure_out_dir, versions, write_json  # noqa: E402
from taskdd.tasks.dbn import baselines  # noqa: E402
from taskdd.tasks.dbn.task import DBNLikelihoodTask  # noqa: E402



def old_fit_with_noise(structure, sources: Sources, max_iter: int = 300, tol: float = 1e-10):
    """The previous ``estimate_noise`` (copied): one log-noise per source starting at -1, one
    filter call per source, L-BFGS stopping at a change below 1e-10."""
    src = [s.to(dtype=torch.float64) for s in sources]
    n_total = sum(len(s) for s in src)
    init = baselines.impute(structure, Sources(src))
    theta = [t.detach().clone().requires_grad_(True) for t in baselines._pack(init)]
    log_noise = torch.full((len(src),), -1.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(theta + [log_noise], lr=1, max_iter=max_iter, tolerance_grad=tol, tolerance_change=tol,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        m = baselines._unpack(structure, theta)
        nll = -sum(m.log_likelihood(s.values, s.mask, obs_noise=nz).sum() for s, nz in zip(src, log_noise.exp())) / n_total
        nll.backward()
        return nll

    opt.step(closure)
    with torch.no_grad():
        return (baselines._unpack(structure, [t.detach() for t in theta]),
                {s.name: float(z) for s, z in zip(src, log_noise.detach().exp())})


def problems(quick: bool) -> dict[str, tuple]:
    dbn = random_dbn(8, seed=0)
    base = make_sources(dbn, n_per_source=100, T=5, K=3, hidden_per_source=3, noise=0.3, n_test=100, seed=0)
    p8 = make_sources(dbn, n_per_source=100, T=8, K=3, hidden_per_source=3, noise=0.3, n_test=100, seed=0)
    g = torch.Generator().manual_seed(1)
    panel = []
    for s in p8.sources:
        visit = torch.rand(len(s), s.shape[1], 1, generator=g) > 0.2
        panel.append(Source(s.values, s.mask & visit, s.variables, s.name))
    return {"issue18_T5": (dbn.structure, base.sources.to(dtype=torch.float64)),
            "panel_T8_missed_visits": (dbn.structure, Sources(panel).to(dtype=torch.float64))}


def run(structure, src, kw: dict, old: bool) -> dict:
    """One estimation; counts objective evaluations (one ``_unpack`` each, plus the final one)."""
    calls = [0]
    real_unpack, real_unique = baselines._unpack, likelihood._unique_patterns

    def counting(*a, **k):
        calls[0] += 1
        return real_unpack(*a, **k)

    baselines._unpack = counting
    if old:
        likelihood._unique_patterns = lambda mask, obs_var: None
    try:
        t0 = time.perf_counter()
        model, noise = old_fit_with_noise(structure, src) if old else baselines.fit_with_noise(structure, src, **kw)
        wall = time.perf_counter() - t0
    finally:
        baselines._unpack, likelihood._unique_patterns = real_unpack, real_unique
    with torch.no_grad():
        ll = sum(model.log_likelihood(s.values, s.mask, obs_noise=noise[s.name]).sum() for s in src) / sum(map(len, src))
    vals = torch.cat([torch.as_tensor(v, dtype=torch.float64).flatten() for v in noise.values()])
    return {"wall_s": wall, "evaluations": calls[0] - 1, "mean_ll": float(ll),
            "noise_mean": float(vals.mean()), "noise_abs_error_vs_0.3": float((vals - 0.3).abs().mean()),
            "noise": {k: (v if isinstance(v, float) else v.tolist()) for k, v in noise.items()}}


def distill_seconds(structure, src, noise: dict) -> float:
    """Wall time of a 200-step exact distillation (ipc 10, score on all sources) under ``noise``."""
    srcs = Sources([Source(s.values, s.mask, s.variables, s.name, noise[s.name]) for s in src])
    t0 = time.perf_counter()
    distill(DBNLikelihoodTask(structure, score_on="all"), srcs, 10, steps=200, lr=0.05, seed=0, device="cpu", quiet=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 timed rounds instead of 5")
    ap.add_argument("--out", required=True, help="folder for benchmark.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = ensure_out_dir(args.out)
    rounds = 2 if args.quick else 5
    variants = {"old_style": ({}, True), "new": ({}, False), "new_per_variable": ({"per": "variable"}, False),
                "new_per_source_variable": ({"per": "source_variable"}, False)}
    result = {"rounds": rounds, "versions": versions(), "problems": {}}
    print(f"{'problem':24s} {'variant':24s} {'wall s':>8s} {'evals':>6s} {'mean LL':>11s} {'noise mean':>10s} {'|err|':>7s}")
    for pname, (structure, src) in problems(args.quick).items():
        run(structure, src, {}, False)  # warm-up
        runs = {k: [] for k in variants}
        for _ in range(rounds):
            for k, (kw, old) in variants.items():
                runs[k].append(run(structure, src, kw, old))
        rows = {}
        for k, rs in runs.items():
            rows[k] = {**rs[-1], "wall_s": statistics.median(r["wall_s"] for r in rs)}
            r = rows[k]
            print(f"{pname:24s} {k:24s} {r['wall_s']:8.3f} {r['evaluations']:6d} {r['mean_ll']:11.5f} "
                  f"{r['noise_mean']:10.4f} {r['noise_abs_error_vs_0.3']:7.4f}")
        ratio = rows["old_style"]["wall_s"] / rows["new"]["wall_s"]
        t_distill = distill_seconds(structure, src, rows["new"]["noise"])
        print(f"{pname:24s} {'ratio old / new':24s} {ratio:8.2f}   (a 200-step exact distillation, ipc 10: "
              f"{t_distill:.2f} s; estimation old {rows['old_style']['wall_s'] / t_distill:.0%}, "
              f"new {rows['new']['wall_s'] / t_distill:.0%} of it)")
        result["problems"][pname] = {"variants": rows, "ratio": ratio, "distill_200_steps_s": t_distill}
    write_json(out / "benchmark.json", result)
    print(f"wrote {out / 'benchmark.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
