"""The ``taskdd`` command: ``info``, ``run CASE``, ``distill``, ``evaluate``, ``summarize``, ``sweep``.
Errors become one line and exit code 2.

Threads: ``run``, ``distill`` and ``sweep`` set torch's CPU thread count (per process; a sweep's
per worker) from ``--threads N``, else the environment variable ``TASKDD_THREADS``, else 1: the
problems here are small, and on a shared machine two threads can make them many times slower
than one. ``--threads 0`` keeps torch's own default (one per core). The library never changes it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from taskdd.cli_summaries import add_summarize_parser, distill_from_summaries
from taskdd.errors import ConfigError, TaskddError

__all__ = ["main", "build_parser", "THREADS_ENV"]

#: environment variable giving the default of ``--threads``
THREADS_ENV = "TASKDD_THREADS"


def _thread_count(value: int | None) -> int:
    """``--threads``, else ``$TASKDD_THREADS``, else 1; 0 = torch's default."""
    source = "--threads"
    if value is None:
        text = os.environ.get(THREADS_ENV, "").strip()
        if not text:
            return 1
        source = THREADS_ENV
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{THREADS_ENV}={text!r}: expected an int >= 0 (0 = torch's default)") from None
    if value < 0:
        raise ConfigError(f"{source} {value}: expected an int >= 0 (0 = torch's default)")
    return value


def _use_threads(args) -> int:
    """Set torch's thread count for this process as the command line asks; returns it."""
    import torch
    n = _thread_count(args.threads)
    if n:
        torch.set_num_threads(n)
    return torch.get_num_threads()


def _cmd_info(args) -> int:
    import torch

    from taskdd.distill import method_names
    from taskdd.registry import case_names, task_names
    from taskdd.results import versions
    for k, v in versions().items():
        print(f"{k:14s} {v}")
    print(f"{'devices':14s} cpu" + "".join(f", cuda:{i} ({torch.cuda.get_device_name(i)})"
                                           for i in range(torch.cuda.device_count())))
    print(f"{'tasks':14s} {', '.join(task_names())}")
    print(f"{'methods':14s} {', '.join(method_names())}")
    print(f"{'cases':14s} {', '.join(case_names())}")
    return 0


def _cmd_run(args) -> int:
    from taskdd.cases import run_case
    _use_threads(args)
    out = args.out or os.path.join("runs", args.case)
    ctx = run_case(args.case, out=out, quick=args.quick, device=args.device, seed=args.seed,
                   overrides=args.set or [], quiet=args.quiet, resume=args.resume,
                   checkpoint_every=args.checkpoint_every)
    print(f"wrote {ctx.out / 'results.csv'} and {ctx.out / 'run.json'}")
    return 0


def _cmd_distill(args) -> int:
    from taskdd.tasks.dbn.user_data import distill_csv, read_frames
    from taskdd.tasks.dbn_discrete.user_csv import categorical_columns, distill_from_args
    threads = _use_threads(args)
    if args.task not in ("dbn", "dbn-discrete"):
        raise ConfigError(f"taskdd distill reads CSV sequence data for the 'dbn' and 'dbn-discrete' tasks only, "
                          f"got --task {args.task!r}")
    if args.summaries:
        if args.task != "dbn":
            raise ConfigError("--summaries are site summaries of the Gaussian 'dbn' task; use --data for dbn-discrete")
        return distill_from_summaries(args, threads)
    if not (args.id_col and args.time_col):
        raise ConfigError("--data needs --id-col and --time-col")
    frames = read_frames(args.data)  # once: to choose the task and to distil
    if args.task == "dbn-discrete" or categorical_columns(frames, args.id_col, args.time_col):
        return distill_from_args(args, frames)  # categorical columns: the discrete DBN
    summary = distill_csv(args.data, id_col=args.id_col, time_col=args.time_col, budget=args.budget, out=args.out,
                          structure=args.structure, noise=args.noise, steps=args.steps, lr=args.lr, seed=args.seed,
                          device=args.device, method=args.method, checkpoint_every=args.checkpoint_every,
                          resume=args.resume, quiet=args.quiet, time_step=args.time_step,
                          max_slices=args.max_slices, time_origin=args.time_origin,
                          standardize=not args.no_standardize, noise_per=args.noise_per, init=args.init,
                          frames=frames)
    _add_to_run_json(os.path.join(args.out, "run.json"), {"torch_threads": threads})
    print("mean log-likelihood per sequence on your sources (your units | standard units):")
    for k, v in summary["source_ll"].items():
        print(f"  {k:22s} {v:12.4f} | {summary['source_ll_standard_units'][k]:.4f}")
    print(f"wrote {args.out}/distilled.csv, scaling.json, structure.json, dbn.json, dbn_pgmpy.json, results.csv, "
          "run.json, model/ (for `taskdd evaluate`)")
    return 0


def _cmd_evaluate(args) -> int:
    from taskdd.tasks.dbn.evaluate_csv import evaluate_csv
    _use_threads(args)
    out = args.out if args.out is not None else args.model
    summary = evaluate_csv(args.model, args.data, id_col=args.id_col, time_col=args.time_col, noise=args.noise,
                           out=out)
    print(f"mean test log-likelihood per sequence: {summary['mean_test_ll']:.4f} ({summary['n_sequences']} sequences, "
          "units: yours)")
    print(f"wrote {os.path.join(out, 'evaluation.json')}")
    return 0


def _evaluate_parser(sub) -> None:
    """The ``evaluate`` subcommand's arguments."""
    e = sub.add_parser("evaluate", help="score held-out CSV sequences with a model saved by `taskdd distill`")
    e.add_argument("--model", required=True, metavar="DIR",
                   help="the --out folder of `taskdd distill` (or its model/ folder)")
    e.add_argument("--data", nargs="+", required=True, metavar="CSV", help="test CSV file(s), columns as in training")
    e.add_argument("--id-col", help="sequence id column (default: the training one)")
    e.add_argument("--time-col", help="visit time column (default: the training one)")
    e.add_argument("--noise", default="saved", metavar="SIGMA|saved",
                   help="measurement-noise std of the test values in standard units, 0 = noise-free (default "
                        "'saved', also 'estimated': the noise saved with the model)")
    e.add_argument("--out", metavar="DIR", help="folder for evaluation.json (default: --model)")
    _threads_option(e, "for the run")
    e.set_defaults(fn=_cmd_evaluate)


def _add_to_run_json(path: str, extra: dict) -> None:
    import json
    from pathlib import Path

    from taskdd.results import write_json
    write_json(path, {**json.loads(Path(path).read_text()), **extra})


def _cmd_sweep(args) -> int:
    from taskdd.sweep import sweep
    frame = sweep(args.case, out=args.out, seeds=args.seeds, grid=args.set or [], engine=args.engine,
                  quick=args.quick, device=args.device, base_seed=args.seed, workers=args.workers,
                  address=args.address, threads=_thread_count(args.threads))
    print(f"{len(frame)} rows from {frame.case.nunique()} settings x {args.seeds} seeds -> {args.out}/results.csv")
    return 0


def _threads_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--threads", type=int, metavar="N",
                   help=f"torch CPU threads {what} (default: ${THREADS_ENV}, else 1; 0 = torch's default)")


def _distill_parser(sub) -> None:
    """The ``distill`` subcommand's arguments."""
    d = sub.add_parser("distill", help="distil your own CSV sources (NaN = missing) for a DBN")
    d.add_argument("--task", default="dbn", help="task: dbn (categorical columns: dbn-discrete) | dbn-discrete")
    src = d.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", nargs="+", metavar="CSV", help="one CSV file per source")
    src.add_argument("--summaries", nargs="+", metavar="FILE",
                     help="one `taskdd summarize` file per source instead of rows (needs --structure)")
    d.add_argument("--id-col", help="column naming the sequence (patient) id (required with --data)")
    d.add_argument("--time-col",
                   help="column giving each visit's time (numbers or dates); rows are placed on a time grid")
    d.add_argument("--time-step", type=float, metavar="STEP",
                   help="time-grid step in the time column's units, days for dates (default: inferred; "
                        "required for non-integer times)")
    d.add_argument("--time-origin", default="sequence", choices=["sequence", "global"],
                   help="slice 0 = each sequence's first visit (default) or the earliest time in the data "
                        "(for visit numbers where a first visit may be missing)")
    d.add_argument("--max-slices", type=int, metavar="N",
                   help="cut sequences after N time slices (default: no cap; grids over 1000 slices are refused)")
    d.add_argument("--no-standardize", action="store_true",
                   help="work in the data's own units (default: standardise each variable, report in yours)")
    d.add_argument("--budget", type=int, required=True, help="distilled sequences per source")
    d.add_argument("--out", required=True)
    d.add_argument("--structure", help="JSON DBN structure (default: learned from the data)")
    d.add_argument("--noise", type=float,
                   help="observation-noise std of the sources, in standard units unless --no-standardize "
                        "(default: estimated)")
    d.add_argument("--noise-per", default="source", choices=("source", "variable", "source_variable"),
                   help="without --noise: estimate one noise std per source (default), per variable, or per "
                        "source and variable (weakly identified: some estimates can collapse towards 0)")
    d.add_argument("--init", default="rows", choices=("rows", "summaries"),
                   help="with --data: start from copies of real rows (default) or from draws of each observation "
                        "pattern's Gaussian, as --summaries does (then both give the same distilled set)")
    d.add_argument("--method", default="exact", help="exact (default) | zeroth_order")
    d.add_argument("--steps", type=int, default=200)
    d.add_argument("--lr", type=float, default=0.05)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--device", default="auto")
    d.add_argument("--checkpoint-every", type=int, default=0, metavar="N")
    d.add_argument("--resume", action="store_true")
    d.add_argument("--quiet", action="store_true")
    _threads_option(d, "for the run")
    d.set_defaults(fn=_cmd_distill)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="taskdd", description="Task-specified dataset distillation.")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="versions, devices, registered tasks and cases").set_defaults(fn=_cmd_info)

    r = sub.add_parser("run", help="run a case study (see `taskdd info` for the list)")
    r.add_argument("case", help="case study name, e.g. dbn-merge")
    r.add_argument("--quick", action="store_true", help="small settings for a smoke run / CI")
    r.add_argument("--out", help="output folder (default runs/CASE)")
    r.add_argument("--device", default="auto", help="auto | cpu | cuda (default auto)")
    r.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config field (repeatable)")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--checkpoint-every", type=int, default=0, metavar="N",
                   help="checkpoint each distillation every N steps (default: never)")
    r.add_argument("--resume", action="store_true",
                   help="continue a killed run in --out: finished pieces are reused, distillations resume")
    _threads_option(r, "for the run")
    r.set_defaults(fn=_cmd_run)

    _distill_parser(sub)
    _evaluate_parser(sub)
    add_summarize_parser(sub, _threads_option, _use_threads)

    s = sub.add_parser("sweep", help="run a case over a grid of settings and seeds, in parallel")
    s.add_argument("case")
    s.add_argument("--seeds", type=int, default=3, help="seeds per grid point (default 3)")
    s.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    s.add_argument("--set", action="append", metavar="KEY=V1,V2",
                   help="a grid axis (repeatable); tuple fields separate alternatives with '|'")
    s.add_argument("--engine", default="local", help="local (processes, default) | ray")
    s.add_argument("--address", help="Ray cluster address (default: start a local runtime)")
    s.add_argument("--workers", type=int, help="parallel runs (default: one per core)")
    s.add_argument("--quick", action="store_true")
    s.add_argument("--device", default="cpu", help="cpu (default) | cuda | auto")
    s.add_argument("--out", required=True)
    _threads_option(s, "per worker")
    s.set_defaults(fn=_cmd_sweep)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``taskdd`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.fn(args)
    except TaskddError as e:
        print(f"taskdd: error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
