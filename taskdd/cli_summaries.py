"""The CLI's pattern-summary parts: ``taskdd summarize`` and ``taskdd distill --summaries``
(:mod:`taskdd.tasks.dbn.site_file`, :mod:`taskdd.tasks.dbn.summary_distill`; docs/dbn-summaries.md)."""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["add_summarize_parser", "distill_from_summaries"]


def distill_from_summaries(args, threads: int) -> int:
    """``taskdd distill --summaries FILE...`` (after the thread count is set)."""
    from taskdd.results import write_json
    from taskdd.tasks.dbn.summary_distill import distill_summaries
    summary = distill_summaries(args.summaries, budget=args.budget, out=args.out, structure=args.structure,
                                noise=args.noise, steps=args.steps, lr=args.lr, seed=args.seed, device=args.device,
                                method=args.method, quiet=args.quiet, standardize=not args.no_standardize,
                                noise_per=args.noise_per)
    run = Path(args.out) / "run.json"
    write_json(run, {**json.loads(run.read_text()), "torch_threads": threads})
    for k, v in summary["source_ll"].items():
        print(f"mean log-likelihood per sequence of the summarised sources, {k}: {v:.4f} (your units)")
    print(f"wrote {args.out}/distilled.csv, scaling.json, structure.json, dbn.json, dbn_pgmpy.json, results.csv, "
          "run.json, model/")
    return 0


def _cmd_summarize(args, use_threads) -> int:
    from taskdd.tasks.dbn.site_file import save_summary, summarize_csv
    use_threads(args)
    site = summarize_csv(args.data, id_col=args.id_col, time_col=args.time_col, name=args.name,
                         time_step=args.time_step, max_slices=args.max_slices, origin=args.time_origin,
                         chunksize=args.chunksize, engine=args.engine, workers=args.workers, dp=_dp_options(args))
    path = save_summary(site, args.out)
    print(f"site {site.name!r}: {site.info['sequences']} sequences, {site.info['patterns']} observation patterns, "
          f"{site.summary.T} time slices x {site.summary.d} variables -> {path}")
    return 0


def _dp_options(args) -> dict | None:
    from taskdd.errors import ConfigError
    if args.dp_epsilon is None:
        return None
    if args.dp_spec is None:
        raise ConfigError("--dp-epsilon needs --dp-spec FILE (JSON: {\"bounds\": {variable: [lo, hi]}, "
                          "optional \"patterns\"}; see docs/dbn-summaries.md)")
    try:
        spec = json.loads(Path(args.dp_spec).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"--dp-spec {args.dp_spec!r}: not a readable JSON file ({e})") from None
    return {"epsilon": args.dp_epsilon, "delta": args.dp_delta, "bounds": spec.get("bounds"),
            "patterns": spec.get("patterns"), "seed": args.dp_seed}


def add_summarize_parser(sub, threads_option, use_threads) -> None:
    """The ``summarize`` subcommand (``threads_option`` adds --threads, ``use_threads`` applies it)."""
    m = sub.add_parser("summarize", help="summarise one site's CSV sequences per observation pattern (no rows "
                                         "leave the site; see docs/dbn-summaries.md)")
    m.add_argument("--data", nargs="+", required=True, metavar="CSV",
                   help="the site's CSV file(s): shards of one source, each sequence's rows contiguous")
    m.add_argument("--id-col", required=True)
    m.add_argument("--time-col", required=True)
    m.add_argument("--out", required=True, metavar="FILE", help="summary file to write (.npz format + JSON)")
    m.add_argument("--name", help="source name (default: the first file's stem)")
    m.add_argument("--time-step", type=float, metavar="STEP", help="time-grid step (as for distill)")
    m.add_argument("--time-origin", default="sequence", choices=["sequence", "global"])
    m.add_argument("--max-slices", type=int, metavar="N")
    m.add_argument("--chunksize", type=int, default=100_000, help="rows read at a time (default 100000)")
    m.add_argument("--engine", default="serial", choices=["serial", "process", "ray"],
                   help="how the files (shards) are summarised: serial (default), process pool, ray")
    m.add_argument("--workers", type=int, default=1)
    m.add_argument("--dp-epsilon", type=float, metavar="EPS",
                   help="release an (EPS, --dp-delta)-differentially private summary (needs --dp-spec)")
    m.add_argument("--dp-delta", type=float, default=1e-5, help="DP delta (default 1e-5)")
    m.add_argument("--dp-spec", metavar="FILE", help="JSON: public per-variable bounds and optional public patterns")
    m.add_argument("--dp-seed", type=int, help="seed of the DP noise (tests only; default: fresh randomness)")
    threads_option(m, "for the run")
    m.set_defaults(fn=lambda args: _cmd_summarize(args, use_threads))
