"""Exact distillation step of the DBN task against sequences per source: summaries vs rows.

Two sources from one seeded linear-Gaussian DBN (d=6, T=8, observation noise 0.3), each with
fixed observation patterns (source j hides variable j; a quarter of its sequences miss slice 3):
two patterns per source whatever N. For N in 10^3 .. 10^6 sequences per source (``--quick``:
up to 10^5) the data are drawn in shards of at most 10^5 sequences, each shard is summarised
(:func:`taskdd.tasks.dbn.summaries.summarize`, timed: summary time per million rows) and the
shard summaries merged. One exact step = the task's objective (fit on 2 x 20 synthetic
sequences, score on both sources) and its backward to the synthetic values, timed from the
summaries (:class:`~taskdd.tasks.dbn.site.SiteSummaries`) and from the rows (``score_by="rows"``,
the row-wise Kalman filter; rows are kept up to ``--rows-max``, default 10^5), side by side after
a warm-up; the summary steps of all N are timed again interleaved, for the ratio.
Writes DIR/benchmark.json with

- ``step_time_ratio_large_vs_small``: summary step time at the largest N / at the smallest,
  timed interleaved (target <= 1.5);
- ``summary_vs_rows_rel_diff``: |score(summaries) - score(rows)| / |score(rows)| at the largest N
  with rows (target <= 1e-9);
- ``summary_s_per_million_rows``, bytes of summaries and rows, and the peak RSS.

    python benchmarks/dbn_scale.py --quick --out /tmp/bench_dbn_scale
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # before numpy loads
    os.environ.setdefault(_var, "1")

import torch  # noqa: E402

from dbn_likelihood import measure  # noqa: E402
from data_gen.dbn import random_dbn  # noqa: E402
from taskdd.data import Source, Sources  # noqa: E402
from taskdd.results import ensure_out_dir, versions, write_json  # noqa: E402
from taskdd.tasks.dbn.site import SiteSummaries, SiteSummary  # noqa: E402
from taskdd.tasks.dbn.summaries import merge_summaries, summarize  # noqa: E402
from taskdd.tasks.dbn.task import DBNLikelihoodTask  # noqa: E402

D, T, K, NOISE, IPC, SHARD = 6, 8, 2, 0.3, 20, 100_000
TARGETS = {"step_time_ratio_large_vs_small": ("<=", 1.5), "summary_vs_rows_rel_diff": ("<=", 1e-9)}


def source_data(dbn, j: int, n: int, keep_rows: bool) -> tuple[SiteSummary, Source | None, float]:
    """Source ``j`` with ``n`` sequences: its summary, its rows (or None) and seconds spent summarising."""
    parts, rows, spent = [], [], 0.0
    for k, start in enumerate(range(0, n, SHARD)):
        g = torch.Generator().manual_seed(1000 * j + k)
        m = min(SHARD, n - start)
        x = dbn.sample(m, T, generator=g)
        x = x + NOISE * torch.randn(x.shape, generator=g, dtype=x.dtype)
        mask = torch.ones(m, T, D, dtype=torch.bool)
        mask[:, :, j] = False
        mask[torch.rand(m, generator=g) < 0.25, 3] = False
        t0 = time.perf_counter()
        parts.append(summarize(x, mask))
        spent += time.perf_counter() - t0
        if keep_rows:
            rows.append((x, mask))
    t0 = time.perf_counter()
    summary = merge_summaries(parts)
    spent += time.perf_counter() - t0
    names = dbn.structure.variables
    site = SiteSummary(f"s{j}", names, summary, {"step": 1.0, "unit": "t", "slices": T, "origin_rule": "sequence",
                                                 "start": 0.0}, NOISE)
    src = Source(torch.cat([r[0] for r in rows]), torch.cat([r[1] for r in rows]), names, f"s{j}", NOISE) \
        if keep_rows else None
    return site, src, spent


def step_fn(task: DBNLikelihoodTask, data, synthetic):
    def run():
        task.objective(synthetic, data).backward()
    return run


def cell(dbn, n: int, rows_max: int) -> tuple[dict, object]:
    """Data at ``n`` per source; rows timed beside summaries here. Returns the row and the
    summary step (timed again, interleaved over every N, in :func:`main`)."""
    keep = n <= rows_max
    built = [source_data(dbn, j, n, keep) for j in range(K)]
    sites = SiteSummaries([b[0] for b in built])
    structure = dbn.structure
    t_sum = DBNLikelihoodTask(structure, score_on="all", obs_noise=NOISE)
    syn = t_sum.init_synthetic(sites, IPC, torch.Generator().manual_seed(0))
    fns = {"summaries": step_fn(t_sum, sites, syn)}
    out = {"n_per_source": n, "patterns": sum(len(s.summary) for s in sites),
           "summary_s_per_million_rows": sum(b[2] for b in built) / (K * n) * 1e6,
           "summary_bytes": sum(s.summary.covs.nbytes + s.summary.means.nbytes + s.summary.masks.nbytes for s in sites)}
    if keep:
        rows = Sources([b[1] for b in built])
        t_rows = DBNLikelihoodTask(structure, score_on="all", obs_noise=NOISE, score_by="rows")
        fns["rows"] = step_fn(t_rows, rows, syn)
        with torch.no_grad():
            a, b = float(t_sum.objective(syn, sites)), float(t_rows.objective(syn, rows))
        out.update(rows_bytes=sum(s.values.nbytes + s.mask.nbytes for s in rows), score_rel_diff=abs(a - b) / abs(b))
    t = measure(fns, lambda: None, rounds=3 if n >= 10 ** 5 else 5, min_round_s=0.02)
    out.update({f"{k}_step_ms": 1e3 * v for k, v in t.items()})
    if keep:
        out["rows_over_summaries"] = t["rows"] / t["summaries"]
    return out, fns["summaries"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="N up to 10^5")
    ap.add_argument("--out", required=True, help="folder for benchmark.json")
    ap.add_argument("--rows-max", type=int, default=10 ** 5,
                    help="largest N also timed from rows (default 10^5: a row-wise step at 10^6 takes minutes)")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = ensure_out_dir(args.out)
    Ns = [10 ** k for k in range(3, 6 if args.quick else 7)]
    rows_max = args.rows_max
    dbn = random_dbn(D, seed=0, dtype=torch.float64)
    cells = [cell(dbn, n, rows_max) for n in Ns]
    grid = [c[0] for c in cells]
    side = measure({n: c[1] for n, c in zip(Ns, cells)}, lambda: None, rounds=7, min_round_s=0.05)
    for r, n in zip(grid, Ns):
        r["summaries_step_ms_interleaved"] = 1e3 * side[n]
    print(f"exact step (objective + backward), {K} sources, d={D}, T={T}, 2 patterns/source, ms; float64, "
          f"{args.threads} thread(s)")
    print(f"{'N/source':>9} {'summaries':>10} {'rows':>10} {'rows/sum':>9} {'score rel diff':>14} {'summ. s/1e6 rows':>16}")
    for r in grid:
        print(f"{r['n_per_source']:>9} {r['summaries_step_ms']:>10.3f} {r.get('rows_step_ms', float('nan')):>10.3f} "
              f"{r.get('rows_over_summaries', float('nan')):>9.1f} {r.get('score_rel_diff', float('nan')):>14.1e} "
              f"{r['summary_s_per_million_rows']:>16.3f}")
    with_rows = [r for r in grid if "rows_step_ms" in r]
    print("summary step, all N timed interleaved (ms): " + ", ".join(f"{n}: {1e3 * side[n]:.3f}" for n in Ns))
    ratios = {"step_time_ratio_large_vs_small": side[Ns[-1]] / side[Ns[0]],
              "summary_vs_rows_rel_diff": with_rows[-1]["score_rel_diff"] if with_rows else float("nan")}
    met = {k: (v <= TARGETS[k][1]) for k, v in ratios.items()}
    for k, v in ratios.items():
        print(f"{k:>31} = {v:9.3g}   target {TARGETS[k][0]} {TARGETS[k][1]:g}   {'met' if met[k] else 'MISSED'}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"summary bytes at N={Ns[-1]}: {grid[-1]['summary_bytes']}; rows bytes at N={with_rows[-1]['n_per_source']}: "
          f"{with_rows[-1]['rows_bytes']}; peak RSS {peak:.0f} MiB")
    write_json(out / "benchmark.json", {**ratios, "targets": {k: f"{op} {v:g}" for k, (op, v) in TARGETS.items()},
                                        "met": met, "grid": grid, "peak_rss_mib": peak, "quick": args.quick,
                                        "threads": args.threads, "versions": versions()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
