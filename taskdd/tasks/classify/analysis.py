"""Analyses of distilled classifier sets beyond accuracy.

:func:`early_training_agreement` asks whether a network trained on a distilled set behaves like a
network trained on the real data for only a few epochs (Yang et al., "What is dataset
distillation learning?", ICML 2024, report that it does): the fraction of test inputs on which
their predictions agree, against the real network's epoch.
"""

from __future__ import annotations

import pandas as pd
import torch

from taskdd.data import Samples
from taskdd.errors import ConfigError
from taskdd.synthetic import SyntheticSet
from taskdd.tasks.classify.data import check_samples
from taskdd.tasks.classify.evaluate import EvalProtocol, train_mlps
from taskdd.tasks.classify.networks import EnsembleTrainer, ensemble_forward
from taskdd.tasks.classify.task import n_classes_of

__all__ = ["early_training_agreement"]


def early_training_agreement(synthetic: SyntheticSet, train: Samples, test: Samples, *, epochs: int = 30,
                             batch_size: int = 256, protocol: EvalProtocol | None = None,
                             generator: torch.Generator) -> pd.DataFrame:
    """Prediction agreement on ``test`` inputs between networks trained on ``synthetic`` and
    networks trained on the real ``train`` data for k = 1..``epochs`` epochs.

    Both sides are ``protocol.n_models`` networks of the protocol's standard architecture,
    trained with its Adam step size: on the synthetic set for ``protocol.steps`` full-batch
    steps (as in ``evaluate``), on real data in shuffled mini-batches of ``batch_size``.
    Agreement is averaged over every (synthetic, real) pair of networks.

    Returns one row per epoch: ``epoch``, ``agreement``, ``real_acc`` (the real networks' test
    accuracy after that epoch), ``synthetic_acc`` (constant: the synthetic networks'),
    ``chance_agreement`` (what two networks with these accuracies would agree on if their errors
    were independent and spread evenly over the wrong classes: ``a b + (1 - a)(1 - b) / (C - 1)``,
    averaged over the pairs) and ``excess_agreement`` (agreement minus chance). Accurate networks
    agree a lot whatever they learned, so the excess is the part that speaks to *how* they behave.
    """
    protocol = protocol or EvalProtocol()
    for name, val in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(val, int) or isinstance(val, bool) or val < 1:
            raise ConfigError(f"{name} must be an int >= 1, got {val!r}")
    C = n_classes_of(synthetic)
    if check_samples(train, "train") != C:
        raise ConfigError(f"train has {check_samples(train, 'train')} classes but the synthetic set has {C}")
    x_syn = synthetic["x"].detach()
    xt = test["x"].to(x_syn.device, x_syn.dtype)
    yt = test["y"].to(x_syn.device)
    module, params = train_mlps(protocol.mlp, x_syn, synthetic["y"], C, protocol, generator)
    with torch.no_grad():
        pred_syn = ensemble_forward(module, params, xt).argmax(-1)  # [E, n_test]
    x, y = train["x"].to(x_syn.device, x_syn.dtype), train["y"].to(x_syn.device)
    init = protocol.mlp.init(module, generator, n_models=protocol.n_models, device=x.device, dtype=x.dtype)
    trainer = EnsembleTrainer(module, init, protocol.lr)
    rows = []
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(y), generator=generator).to(x.device)
        for start in range(0, len(y), batch_size):
            idx = order[start:start + batch_size]
            trainer.step(x[idx], y[idx])
        with torch.no_grad():
            pred_real = ensemble_forward(module, trainer.params, xt).argmax(-1)
        agree = float((pred_syn[:, None, :] == pred_real[None, :, :]).double().mean())
        a = (pred_syn == yt).double().mean(1)[:, None]
        b = (pred_real == yt).double().mean(1)[None, :]
        chance = float((a * b + (1 - a) * (1 - b) / (C - 1)).mean())
        rows.append({"epoch": epoch, "agreement": agree, "real_acc": float(b.mean()), "synthetic_acc": float(a.mean()),
                     "chance_agreement": chance, "excess_agreement": agree - chance})
    return pd.DataFrame(rows)
