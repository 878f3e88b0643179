"""Discrete DBN: exact log-likelihood + gradient on ALARM records with missing cells, beside pgmpy.

Data: ALARM (37 variables), K = 4 "hospitals" x 2000 records (``--quick``: 4 x 500) sampled from
the network; hospital k hides its own 11 variables (a random split of a shuffled variable list,
so every variable is seen somewhere) and 5% of its other cells at random. float64.

- ours: ``Evidence`` compiled once (time reported apart), then ``log_likelihood(dbn).backward()``
  w.r.t. all 37 CPTs (batched variable elimination over the distinct rows, counts as weights);
- pgmpy: ``VariableElimination`` (on the moral Markov network, which returns P(evidence)
  unnormalised), one query per distinct record: the same quantity, without a gradient. pgmpy is
  timed on a random subset of the distinct rows and extrapolated linearly to all of them (the
  output says so); its values on the subset are compared with ours.

Both sides run on one thread, timed as medians over interleaved rounds after a warm-up (both
see the same machine load).
Writes DIR/benchmark.json with ``speedup_ll_vs_pgmpy`` = pgmpy's (extrapolated) time for the
log-likelihood of all records / our time for log-likelihood + gradient (target >= 50).

    python benchmarks/dbn_discrete.py --quick --out /tmp/bench_dbn_discrete
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(_var, "1")

import torch  # noqa: E402

from data_gen.alarm import alarm_network  # noqa: E402
from dbn_likelihood import measure  # noqa: E402  (sibling benchmark: interleaved median timing)
from taskdd.device import resolve_device  # noqa: E402
from taskdd.results import ensure_out_dir, versions, write_json  # noqa: E402
from taskdd.tasks.dbn_discrete import DiscreteDBN, Evidence  # noqa: E402
from taskdd.tasks.dbn_discrete.pgmpy_bridge import pgmpy_engine, pgmpy_log_likelihood  # noqa: E402

TARGETS = {"speedup_ll_vs_pgmpy": (">=", 50.0)}


def hospitals(dbn: DiscreteDBN, n_per: int, K: int = 4, hidden: int = 11, p_cell: float = 0.05,
              seed: int = 0) -> torch.Tensor:
    """``[K * n_per, 1, d]`` records: hospital k hides ``hidden`` variables of its own and
    ``p_cell`` of its other cells."""
    g = torch.Generator().manual_seed(seed)
    x = dbn.sample(K * n_per, 1, generator=g)
    perm = torch.randperm(dbn.d, generator=g)
    for k in range(K):
        rows = slice(k * n_per, (k + 1) * n_per)
        cols = perm[(k * hidden + torch.arange(hidden)) % dbn.d]
        x[rows, :, cols] = -1
        x[rows] = x[rows].masked_fill(torch.rand(x[rows].shape, generator=g) < p_cell, -1)
    return x


def compare(dbn: DiscreteDBN, x: torch.Tensor, n_sub: int, dev: torch.device, sync, seed: int = 1) -> dict:
    """Ours (log-likelihood, and + gradient, of all records) and pgmpy (``n_sub`` random distinct
    rows, extrapolated linearly to all distinct rows), timed in interleaved rounds."""
    t0 = time.perf_counter()
    ev = Evidence(dbn.structure, dbn.cards, x.to(dev))
    moved = dbn.to(dev)
    ev.log_likelihood(moved)  # plans and indicators are built on first use
    compile_s = time.perf_counter() - t0
    leaves = [c.detach().clone().requires_grad_(True) for c in moved.cpt0]

    def ll_grad():
        ev.log_likelihood(DiscreteDBN(dbn.structure, dbn.cards, leaves, check=False)).backward()

    rows = ev.rows.cpu()
    pick = rows[torch.randperm(rows.shape[0], generator=torch.Generator().manual_seed(seed))[:n_sub]]
    engine = pgmpy_engine(dbn)
    t = measure({"ll": lambda: ev.log_likelihood(moved), "ll_grad": ll_grad,
                 "pgmpy": lambda: pgmpy_log_likelihood(dbn, pick, engine)}, sync, rounds=5)
    ref = pgmpy_log_likelihood(dbn, pick, engine)
    rel = float(((dbn.log_likelihood(pick) - ref).abs() / ref.abs()).max())
    per_row = t["pgmpy"] / pick.shape[0]
    return {"compile_s": compile_s, "ll_s": t["ll"], "ll_grad_s": t["ll_grad"], "distinct_rows": rows.shape[0],
            "max_clique": ev.max_clique(), "groups": len(ev.groups),
            "ll_per_record": float(ev.log_likelihood(moved)) / x.shape[0],
            "pgmpy_timed_rows": pick.shape[0], "pgmpy_per_row_s": per_row, "pgmpy_all_rows_s": per_row * rows.shape[0],
            "pgmpy_extrapolated": pick.shape[0] < rows.shape[0], "max_relative_difference": rel}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 x 500 records, pgmpy timed on 100 distinct rows")
    ap.add_argument("--out", required=True, help="folder for benchmark.json")
    ap.add_argument("--device", default="cpu", help="auto | cpu | cuda (our side; pgmpy runs on the CPU)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    logging.getLogger("pgmpy").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    out = ensure_out_dir(args.out)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    dbn = alarm_network()
    n_per, n_sub = (500, 100) if args.quick else (2000, 400)
    x = hospitals(dbn, n_per)
    r = compare(dbn, x, n_sub, dev, sync)
    speedup = r["pgmpy_all_rows_s"] / r["ll_grad_s"]
    met = speedup >= TARGETS["speedup_ll_vs_pgmpy"][1]
    print(f"ALARM, {x.shape[0]} records (4 hospitals x {n_per}), {float((x < 0).double().mean()):.1%} of cells "
          f"missing, {r['distinct_rows']} distinct rows in {r['groups']} group(s), largest clique {r['max_clique']}, "
          f"float64, {dev}")
    print(f"{'':>28} {'seconds':>10}")
    for key, label in (("compile_s", "ours: compile Evidence"), ("ll_s", "ours: log-likelihood"),
                       ("ll_grad_s", "ours: ll + gradient")):
        print(f"{label:>28} {r[key]:>10.4f}")
    how = f"extrapolated from {r['pgmpy_timed_rows']} rows" if r["pgmpy_extrapolated"] else "all rows timed"
    print(f"{'pgmpy VE: log-likelihood':>28} {r['pgmpy_all_rows_s']:>10.3f}   ({how}, "
          f"{1e3 * r['pgmpy_per_row_s']:.2f} ms per distinct row)")
    print(f"max relative difference ours vs pgmpy on the timed rows: {r['max_relative_difference']:.1e}")
    print(f"speedup_ll_vs_pgmpy = {speedup:.1f}   target >= 50   {'met' if met else 'MISSED'}")
    write_json(out / "benchmark.json", {
        "speedup_ll_vs_pgmpy": speedup, "targets": {k: f"{op} {v:g}" for k, (op, v) in TARGETS.items()},
        "met": {"speedup_ll_vs_pgmpy": met}, "measured": r, "records": x.shape[0],
        "missing_fraction": float((x < 0).double().mean()), "quick": args.quick, "device": str(dev),
        "threads": args.threads, "versions": versions()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
