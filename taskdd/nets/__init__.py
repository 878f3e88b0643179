"""One small-network kit: stacks of MLPs as one flat parameter tensor ``[E, P]``
(:class:`MLP`: init laws, forward, explicit second-derivative pass, conversion to and from
``nn.Sequential``) and functional Adam with per-network step counts (:func:`adam_step`,
:func:`train`), differentiable through the steps when asked. The PINN and classifier tasks train
their networks with it."""

from taskdd.nets.adam import AdamConfig, AdamState, LossFn, adam_step, train
from taskdd.nets.mlp import ACTIVATIONS, INIT_LAWS, MLP

__all__ = ["MLP", "ACTIVATIONS", "INIT_LAWS", "AdamConfig", "AdamState", "LossFn", "adam_step", "train"]
