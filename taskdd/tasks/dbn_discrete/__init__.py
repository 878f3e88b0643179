"""Discrete (categorical) dynamic Bayesian networks: ``DiscreteDBN`` (CPTs on a ``DBNStructure``;
T = 1 a static Bayesian network), the exact marginal log-likelihood of records with missing cells
(``Evidence``: batched variable elimination per slice, a forward pass over the slice interface),
and a pgmpy bridge (``taskdd.tasks.dbn_discrete.pgmpy_bridge``, imported on use only)."""

from taskdd.tasks.dbn_discrete.likelihood import Evidence
from taskdd.tasks.dbn_discrete.model import DiscreteDBN

__all__ = ["DiscreteDBN", "Evidence"]
