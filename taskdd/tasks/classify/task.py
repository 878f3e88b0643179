"""The four classifier tasks: KIP (kernel ridge regression), gradient matching, distribution
matching and unrolled training, behind the one ``Task`` contract.

Data: ``Samples(x=[N, p] float, y=[N] long)`` (see :func:`as_samples`). Budget = images per
class (ipc); the synthetic set holds ``C * ipc`` rows, grouped by class, with learnable inputs
``x`` and fixed labels ``y`` (classify-krr may also learn soft ``targets [n, C]``). Every task
starts from a random real subset per class and is judged by the same :class:`EvalProtocol`.

The matching tasks override ``objective`` (what the distiller maximises is minus a matching
distance under a network sampled with the step's generator); their ``fit`` / ``score`` are the
honest learner (a fresh MLP) and its real-data log-likelihood.
"""

from __future__ import annotations

import dataclasses
from abc import abstractmethod
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from taskdd.data import Samples
from taskdd.device import make_generator
from taskdd.errors import ConfigError
from taskdd.nets import MLP
from taskdd.registry import register_task
from taskdd.synthetic import SyntheticSet
from taskdd.tasks.classify.base import ClassifierTask, NetworkModel, n_classes_of, positive_float, positive_int
from taskdd.tasks.classify.baselines import classifier_set, random_subset
from taskdd.tasks.classify.data import group_by_class, one_hot, sample_per_class
from taskdd.tasks.classify.evaluate import train_mlps
from taskdd.tasks.classify.kernels import get_kernel
from taskdd.tasks.classify.krr import KRRModel, fit_krr, krr_score, label_mse
from taskdd.tasks.classify.matching import distribution_matching_loss, gradient_matching_loss
from taskdd.tasks.classify.networks import MLPSpec, accuracy
from taskdd.tasks.classify.unrolled import unrolled_sgd

__all__ = ["ClassifierTask", "KRRTask", "GradientMatchingTask", "DistributionMatchingTask", "UnrolledTask",
           "NetworkModel", "n_classes_of"]


@register_task("classify-krr")
@dataclass
class KRRTask(ClassifierTask):
    """KIP (Nguyen et al. 2021): kernel ridge regression on the synthetic set, scored by minus
    its mean squared error against one-hot labels on a batch of real data.

    kernel: "ntk" (one-hidden-layer ReLU network, closed form) | "rbf". ridge: relative to the
    mean kernel diagonal. learn_labels: also learn soft regression targets ``[n, C]`` (from
    one-hot). rbf_gamma: RBF width, for kernel="rbf". compile: run the objective through
    ``torch.compile`` (fuses the kernel's elementwise chain: about twice the steps per second
    on CPU, after a compilation of seconds per set size; needs a C++ compiler on CPU).
    """

    kernel: str = "ntk"
    ridge: float = 1e-6
    learn_labels: bool = True
    rbf_gamma: float = 0.02
    compile: bool = False

    def __post_init__(self):
        super().__post_init__()
        self._kernel = get_kernel(self.kernel, gamma=self.rbf_gamma)
        positive_float(self.name, "ridge", self.ridge)

        def objective(x: Tensor, targets: Tensor, x_real: Tensor, y_real: Tensor) -> Tensor:
            return krr_score(x, targets, x_real, y_real, self._kernel, self.ridge)

        self._objective = torch.compile(objective, dynamic=False) if self.compile else objective

    def _targets(self, synthetic: SyntheticSet) -> Tensor:
        if "targets" in synthetic.names:
            return synthetic["targets"]
        return one_hot(synthetic["y"], n_classes_of(synthetic), synthetic["x"].dtype)

    def init_synthetic(self, sources: Samples, budget: int, generator: torch.Generator) -> SyntheticSet:
        s = random_subset(sources, budget, generator)
        if not self.learn_labels:
            return s
        C = n_classes_of(s)
        return classifier_set(s["x"], s["y"], C, learnable=("x", "targets"),
                              targets=one_hot(s["y"], C, s["x"].dtype))

    def fit(self, synthetic: SyntheticSet, *, generator=None) -> KRRModel:
        return fit_krr(synthetic["x"], self._targets(synthetic), self._kernel, self.ridge)

    def score(self, model: KRRModel, sources: Samples, *, part=None, generator=None) -> Tensor:
        x, y = self.real_batch_of(sources, generator)
        return -label_mse(model.predict(x), y)

    def objective(self, synthetic: SyntheticSet, sources: Samples, *, part=None, generator=None) -> Tensor:
        """``score(fit(synthetic), sources)`` as one function (compiled when ``compile``)."""
        x, y = self.real_batch_of(sources, generator)
        return self._objective(synthetic["x"], self._targets(synthetic), x, y)

    def own_metrics(self, synthetic, test, generator):
        model = self.fit(synthetic)
        pred = model.predict(test["x"].to(model.support.device, model.support.dtype)).argmax(1)
        return {"acc_own": float((pred == test["y"].to(pred.device)).double().mean())}


@dataclass
class _NetworkTask(ClassifierTask):
    """A classifier task whose learner is an MLP of ``width`` x ``depth`` (hidden layers) with
    ``activation`` ("relu" | "gelu")."""

    width: int = 512
    depth: int = 1
    activation: str = "relu"

    def __post_init__(self):
        super().__post_init__()
        self.spec = MLPSpec(self.width, self.depth, self.activation)

    def network(self, synthetic: SyntheticSet, generator: torch.Generator) -> tuple[MLP, Tensor]:
        """``(net, fresh params [P])`` of one network sized for ``synthetic``, on its device and dtype."""
        x = synthetic["x"]
        net = self.spec.network(x.shape[1], n_classes_of(synthetic))
        return net, self.spec.init(net, generator, device=x.device, dtype=x.dtype)

    def score(self, model: NetworkModel, sources: Samples, *, part=None, generator=None) -> Tensor:
        """Mean log-likelihood of a real batch (minus the cross-entropy, averaged over networks)."""
        x, y = self.real_batch_of(sources, generator)
        logits = model.logits(x)
        return -F.cross_entropy(logits.flatten(0, 1), y.repeat(logits.shape[0]))


@dataclass
class _MatchingTask(_NetworkTask):
    """Shared parts of gradient and distribution matching.

    real_per_class: real examples of each class per step (with replacement). ``fit`` trains one
    fresh MLP with the protocol's optimiser (not differentiable; the distiller uses
    ``objective``).
    """

    real_per_class: int = 64

    def __post_init__(self):
        super().__post_init__()
        positive_int(self.name, "real_per_class", self.real_per_class)

    def fit(self, synthetic: SyntheticSet, *, generator=None) -> NetworkModel:
        gen = generator if generator is not None else make_generator(0)
        x, y = synthetic["x"].detach(), synthetic["y"]
        protocol = dataclasses.replace(self.protocol, n_models=1)
        return NetworkModel(*train_mlps(self.spec, x, y, n_classes_of(synthetic), protocol, gen))

    def objective(self, synthetic: SyntheticSet, sources: Samples, *, part=None, generator=None) -> Tensor:
        """Minus the matching distance under a network drawn with ``generator``."""
        gen = generator if generator is not None else make_generator(0)
        C = n_classes_of(synthetic)
        net, params = self.network(synthetic, gen)
        x_syn = group_by_class(synthetic["x"], synthetic["y"], C)
        x_real = sources["x"][sample_per_class(sources["y"], C, self.real_per_class, gen)]
        return -self.distance(net, params, x_real, x_syn)

    @abstractmethod
    def distance(self, net: MLP, params: Tensor, x_real: Tensor, x_syn: Tensor) -> Tensor:
        """Matching distance between real ``[C, m, p]`` and synthetic ``[C, k, p]`` inputs under
        one network ``params [P]``."""


@register_task("classify-gm")
@dataclass
class GradientMatchingTask(_MatchingTask):
    """Gradient matching (Zhao et al. 2021, DC): each step draws a fresh MLP and makes the
    per-class gradients of its loss on the synthetic set point the way they point on real data
    (layer-wise cosine distance).

    The matching network is GELU by default: with ReLU, each per-class gradient row is gated by
    which examples activate the unit, so the distance jumps as the synthetic inputs cross the
    gates; the pathwise gradient misses the jumps and ascent *lowers* the expected objective on
    digits at ipc 10. A smooth gate removes the jumps. ``evaluate`` still judges with the
    protocol's ReLU networks.
    """

    activation: str = "gelu"

    def distance(self, net, params, x_real, x_syn):
        return gradient_matching_loss(net, params, x_real, x_syn)


@register_task("classify-dm")
@dataclass
class DistributionMatchingTask(_MatchingTask):
    """Distribution matching (Zhao & Bilen 2023): each step draws a fresh MLP and matches the
    per-class mean of its hidden features (the network without its output layer) on synthetic
    and real data."""

    def __post_init__(self):
        super().__post_init__()
        if self.depth < 1:
            raise ConfigError(f"classify-dm needs depth >= 1 (a hidden layer to embed with), got {self.depth!r}")

    def distance(self, net, params, x_real, x_syn):
        return distribution_matching_loss(net, params, x_real, x_syn)


@register_task("classify-unrolled")
@dataclass
class UnrolledTask(_NetworkTask):
    """Unrolled training (Wang et al. 2018): ``fit`` runs ``inner_steps`` full-batch SGD steps
    (step ``inner_lr``) of a fresh MLP on the synthetic set, differentiably; ``score`` is that
    network's mean log-likelihood on a real batch. ``acc_own`` is the same short training,
    averaged over the protocol's ``n_models`` initialisations."""

    width: int = 128
    inner_steps: int = 20
    inner_lr: float = 1.0

    def __post_init__(self):
        super().__post_init__()
        positive_int(self.name, "inner_steps", self.inner_steps)
        positive_float(self.name, "inner_lr", self.inner_lr)

    def _trained(self, synthetic: SyntheticSet, generator: torch.Generator) -> NetworkModel:
        net, params = self.network(synthetic, generator)
        trained = unrolled_sgd(net, params, synthetic["x"], synthetic["y"], steps=self.inner_steps, lr=self.inner_lr)
        return NetworkModel(net, trained[None])

    def fit(self, synthetic: SyntheticSet, *, generator=None) -> NetworkModel:
        return self._trained(synthetic, generator if generator is not None else make_generator(0))

    def own_metrics(self, synthetic, test, generator):
        x = synthetic["x"]
        accs = [accuracy(m.net, m.params, test["x"].to(x.device, x.dtype), test["y"].to(x.device))
                for m in (self._trained(synthetic, generator) for _ in range(self.protocol.n_models))]
        return {"acc_own": float(torch.cat(accs).mean())}
