"""The dbn-merge protocol for a discrete DBN: K sources from one random 2-slice discrete DBN
(d = 8, 2-4 states per variable, T = 5), each hiding its own variables, distilled into K * ipc
soft, weighted sequences; reported beside the baselines of :mod:`case_studies.discrete_common`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from case_studies.discrete_common import MergeConfig, run_merge
from data_gen.discrete_dbn import random_discrete_dbn
from data_gen.discrete_merge import make_hospitals
from taskdd.cases import CaseStudy, RunContext


@dataclass(frozen=True)
class Config(MergeConfig):
    """A random discrete DBN over d variables with card_lo..card_hi states, CPT rows from
    Dirichlet(concentration), the graph of dbn-merge's random DBN (n_inter_edges inter-slice
    edges: a self-edge and one other parent per node); K sources of T slices, each recording a
    fraction keep of the variables (dbn-merge: 5 of 8); n_test clean test sequences; the rest as
    :class:`~case_studies.discrete_common.MergeConfig`."""

    d: int = 8
    card_lo: int = 2
    card_hi: int = 4
    concentration: float = 0.5
    n_inter_edges: int = 16
    T: int = 5
    K: int = 3
    keep: float = 0.625
    cell_missing: float = 0.0
    n_test: int = 2000


def run(cfg: Config, ctx: RunContext) -> None:
    def problem(seed: int):
        truth = random_discrete_dbn(cfg.d, cards=(cfg.card_lo, cfg.card_hi), concentration=cfg.concentration,
                                    n_inter_edges=cfg.n_inter_edges, seed=seed)
        return make_hospitals(truth, n_per_source=cfg.n_per_source, T=cfg.T, K=cfg.K, keep=(cfg.keep, cfg.keep),
                              cell_missing=cfg.cell_missing, n_test=cfg.n_test, seed=seed)
    run_merge(cfg, ctx, problem)


CASE = CaseStudy("dbn-discrete-merge", Config, run,
                 quick={"seeds": 2, "ipcs": (2, 10), "n_per_source": 300, "n_test": 1000, "learner.steps": 60,
                        "learner.free_steps": 60, "learner.free_ipcs": (10,), "learner.em_iter": 40},
                 description="dbn-merge for a random discrete 2-slice DBN (d=8, 2-4 states, T=5)")

if __name__ == "__main__":
    from taskdd.cli import main
    sys.exit(main(["run", "dbn-discrete-merge", *sys.argv[1:]]))
