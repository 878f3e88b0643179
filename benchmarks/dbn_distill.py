"""Exact hypergradient vs the paper's zeroth-order estimator on one DBN merge problem.

Three runs from the same initial synthetic set: zeroth-order with our learner (the reference),
exact (autograd through the fit and the Kalman likelihood), and zeroth-order with pgmpy's
LinearGaussianBayesianNetwork as a black-box learner. For each: wall time (evaluation excluded)
to first reach the zeroth-order run's final clean test log-likelihood. Prints a table and
writes DIR/benchmark.json with ``speedup_exact_vs_zeroth_order`` (target >= 100) and
``speedup_exact_vs_pgmpy_zeroth_order`` (a lower bound when pgmpy never gets there).

    python benchmarks/dbn_distill.py --quick --out /tmp/bench_dbn
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from data_gen.dbn import make_sources, random_dbn
from taskdd import distill
from taskdd.device import resolve_device
from taskdd.tasks.dbn.task import DBNLikelihoodTask


def time_to_reach(rows: list[dict], target: float) -> float | None:
    """Wall time of the first evaluated step whose test LL is >= target (None = never)."""
    return next((h["wall_time"] for h in rows if h.get("test_ll", -float("inf")) >= target), None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    dev = resolve_device(args.device)
    n, ipc = (500, 5) if args.quick else (2000, 10)
    zo_steps, pg_steps, ex_steps = (150, 6, 60) if args.quick else (600, 30, 150)
    dbn = random_dbn(8, seed=args.seed)
    prob = make_sources(dbn, n_per_source=n, T=5, K=3, hidden_per_source=3, noise=0.3, n_test=1000, seed=args.seed)
    src = prob.sources.to(dev, torch.float64)
    test = prob.test.to(dev, torch.float64)
    S = dbn.structure
    zo_opts = {"directions": 4, "smoothing": 0.01}
    common = dict(seed=args.seed, device=dev, test=test, quiet=True)
    runs = {}
    runs["zeroth_order"] = distill(DBNLikelihoodTask(S, score_on="others"), src, ipc, method="zeroth_order",
                                   schedule="cyclic", steps=zo_steps, lr=0.05, method_options=zo_opts,
                                   eval_every=5, **common)
    target = runs["zeroth_order"].history[-1]["test_ll"]
    runs["exact"] = distill(DBNLikelihoodTask(S, score_on="all"), src, ipc, method="exact", steps=ex_steps, lr=0.05,
                            eval_every=1, callbacks=[lambda info: info.metrics.get("test_ll", -1e300) >= target],
                            **common)
    runs["pgmpy_zeroth_order"] = distill(DBNLikelihoodTask(S, score_on="others", learner="pgmpy"), src, ipc,
                                         method="zeroth_order", schedule="cyclic", steps=pg_steps, lr=0.05,
                                         method_options=zo_opts, eval_every=1, **common)
    rows = {}
    for name, res in runs.items():
        rows[name] = {"steps": res.n_steps, "total_s": res.wall_time, "per_step_s": res.wall_time / res.n_steps,
                      "final_test_ll": res.history[-1]["test_ll"],
                      "time_to_target_s": time_to_reach(res.step_rows, target)}
    t_ex = rows["exact"]["time_to_target_s"]
    t_zo = rows["zeroth_order"]["time_to_target_s"]
    t_pg = rows["pgmpy_zeroth_order"]["time_to_target_s"]
    pg_bound = t_pg is None
    out = {
        "problem": {"d": 8, "K": 3, "hidden_per_source": 3, "noise": 0.3, "n_per_source": n, "T": 5, "ipc": ipc,
                    "device": str(dev), "dtype": "float64", "zeroth_order_options": zo_opts},
        "target_test_ll": target, "runs": rows,
        "speedup_exact_vs_zeroth_order": (t_zo / t_ex) if t_ex else None,
        "speedup_exact_vs_pgmpy_zeroth_order": ((rows["pgmpy_zeroth_order"]["total_s"] if pg_bound else t_pg) / t_ex)
        if t_ex else None,
        "speedup_exact_vs_pgmpy_is_lower_bound": pg_bound,
    }
    print(f"target: the zeroth-order run's final test LL {target:.4f} ({zo_steps} steps, {zo_opts})")
    print(f"{'run':22s} {'steps':>6s} {'s/step':>9s} {'final LL':>10s} {'time to target':>15s}")
    for name, r in rows.items():
        tt = "never" if r["time_to_target_s"] is None else f"{r['time_to_target_s']:.3f} s"
        print(f"{name:22s} {r['steps']:6d} {r['per_step_s']:9.4f} {r['final_test_ll']:10.4f} {tt:>15s}")
    print(f"speedup exact vs zeroth-order (own learner): {out['speedup_exact_vs_zeroth_order']:.1f}x (target >= 100)")
    print(f"speedup exact vs zeroth-order (pgmpy learner): {'>= ' if pg_bound else ''}"
          f"{out['speedup_exact_vs_pgmpy_zeroth_order']:.1f}x")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "benchmark.json").write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
