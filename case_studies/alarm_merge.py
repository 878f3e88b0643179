"""Merge four hospitals' partial records of the ALARM patient-monitoring network.

Ground truth: ALARM (37 categorical variables, 509 free parameters; pgmpy's example model, read
offline by :func:`data_gen.alarm.alarm_network`). K hospitals of ``n_per_source`` records each
record a different random 60-75% of the variables and miss 5% of the recorded cells; the
distilled set is ``K * ipc`` soft, weighted records. Reported beside every baseline of the same
size (see :mod:`case_studies.discrete_common`): clean test log-likelihood per record against IPC,
the fraction of the sub -> direct_fit gap closed, and the rounded-record results.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from case_studies.discrete_common import MergeConfig, run_merge
from data_gen.alarm import alarm_network
from data_gen.discrete_merge import make_hospitals
from taskdd.cases import CaseStudy, RunContext


@dataclass(frozen=True)
class Config(MergeConfig):
    """K hospitals, each recording a fraction in (keep_lo, keep_hi) of the variables; the rest
    as :class:`~case_studies.discrete_common.MergeConfig` (n_per_source, cell_missing, ipcs,
    seeds, methods, learner)."""

    K: int = 4
    keep_lo: float = 0.6
    keep_hi: float = 0.75
    n_test: int = 5000


def run(cfg: Config, ctx: RunContext) -> None:
    truth = alarm_network()
    run_merge(cfg, ctx, lambda seed: make_hospitals(
        truth, n_per_source=cfg.n_per_source, T=1, K=cfg.K, keep=(cfg.keep_lo, cfg.keep_hi),
        cell_missing=cfg.cell_missing, n_test=cfg.n_test, seed=seed))


CASE = CaseStudy("alarm-merge", Config, run,
                 quick={"seeds": 2, "ipcs": (2, 20), "n_test": 2000, "learner.steps": 60, "learner.free_steps": 60,
                        "learner.em_iter": 40},
                 description="merge 4 hospitals' partial ALARM records into a weighted distilled set")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "alarm-merge", *sys.argv[1:]]))
