"""Linear-Gaussian dynamic Bayesian networks: structure, closed-form fit, exact masked
log-likelihood (batched Kalman filter; observation noise per variable, source or sequence:
``taskdd.tasks.dbn.noise``), sampling, a fitted model as a file (``LinearGaussianDBN.save`` /
``load``, ``taskdd.tasks.dbn.io``) evaluated by column name, and a pgmpy bridge.

pgmpy is never imported with this package: the bridge (``taskdd.tasks.dbn.pgmpy_bridge``:
``to_pgmpy(dbn, T)``, ``fit_pgmpy_dbn``) and structure learning import it when they are used.
"""

from taskdd.tasks.dbn.likelihood import StateSpace, kalman_log_likelihood, regression_log_likelihood, state_space
from taskdd.tasks.dbn.model import LinearGaussianDBN, fit_dbn
from taskdd.tasks.dbn.structure import DBNStructure

__all__ = ["DBNStructure", "LinearGaussianDBN", "fit_dbn", "StateSpace", "state_space",
           "kalman_log_likelihood", "regression_log_likelihood"]
