"""The outer loop: optimiser, part schedule, progress, evaluation, callbacks, checkpoints."""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal

import torch
from tqdm.auto import tqdm

from taskdd.device import make_generator, resolve_device
from taskdd.distill.checkpoint import load_checkpoint, save_checkpoint
from taskdd.distill.estimators import get_method
from taskdd.distill.result import DistillResult
from taskdd.errors import ConfigError, NonFiniteError, TaskError
from taskdd.registry import get_task
from taskdd.results import versions
from taskdd.synthetic import SyntheticSet
from taskdd.task import Task

__all__ = ["distill", "StepInfo", "LR_SCHEDULES"]

log = logging.getLogger(__name__)

_OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}
#: outer step size at step ``t`` of ``T`` as a fraction of ``lr``
LR_SCHEDULES: dict[str, Callable[[int, int], float]] = {
    "constant": lambda t, total: 1.0,
    "cosine": lambda t, total: 0.5 * (1.0 + math.cos(math.pi * t / total)),
}


@dataclass
class StepInfo:
    """What a callback sees after each step. Return True from the callback to stop."""

    step: int
    part: int | None
    score: float
    wall_time: float
    synthetic: SyntheticSet
    metrics: dict[str, float]


def _seed_for(seed: int, step: int) -> int:
    return (seed * 1_000_003 + step) % (2**63 - 1)


def distill(
    task: Task | str,
    sources: Any,
    budget: int,
    *,
    method: str = "exact",
    steps: int = 200,
    lr: float = 0.05,
    seed: int = 0,
    device: str | torch.device = "auto",
    dtype: torch.dtype | None = None,
    schedule: Literal["all", "cyclic"] = "all",
    optimizer: Literal["adam", "sgd"] = "adam",
    lr_schedule: Literal["constant", "cosine"] = "constant",
    method_options: dict | None = None,
    synthetic: SyntheticSet | None = None,
    test: Any = None,
    eval_every: int = 0,
    callbacks: Iterable[Callable[[StepInfo], bool | None]] = (),
    checkpoint_dir: str | None = None,
    checkpoint_every: int = 0,
    resume: bool = False,
    quiet: bool = False,
    task_options: dict | None = None,
) -> DistillResult:
    """Distil ``sources`` into a synthetic set of size ``budget`` for ``task``.

    method: a registered estimator ("exact" = autograd through fit; "zeroth_order" = Gaussian
    smoothing with antithetic pairs, options ``directions``, ``smoothing`` in method_options).
    schedule: "all" updates every part each step; "cyclic" updates part ``step % n_parts`` only
    (the paper's algorithm), each part with its own optimiser state.
    lr_schedule: "constant" or "cosine" (the outer step size decays from ``lr`` to 0 over
    ``steps``: with a noisy hypergradient a constant step keeps the set moving at the end).
    test / eval_every: evaluate on held-out data every ``eval_every`` steps and at the end
    (history rows get the metrics; never used for training; ``wall_time`` excludes it).
    checkpoint_dir / checkpoint_every / resume: save the loop state every N steps; with
    ``resume`` a run continues from the last checkpoint and ends identical (CPU) to one that
    was never stopped. Raises NonFiniteError (with ``.result`` = the last good state) if a
    score or gradient is non-finite.
    """
    if isinstance(task, str):
        task = get_task(task, **(task_options or {}))
    elif task_options:
        raise ConfigError("task_options only apply when task is given by name")
    if not isinstance(task, Task):
        raise ConfigError(f"task must be a taskdd.Task or a registered name, got {type(task).__name__}")
    for name, val, lo in (("steps", steps, 0), ("eval_every", eval_every, 0), ("checkpoint_every", checkpoint_every, 0)):
        if not isinstance(val, int) or isinstance(val, bool) or val < lo:
            raise ConfigError(f"{name} must be an int >= {lo}, got {val!r}")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0:
        raise ConfigError(f"budget must be a positive int, got {budget!r}")
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ConfigError(f"lr must be > 0, got {lr!r}")
    if schedule not in ("all", "cyclic"):
        raise ConfigError(f"schedule must be 'all' or 'cyclic', got {schedule!r}")
    if lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"lr_schedule must be one of {sorted(LR_SCHEDULES)}, got {lr_schedule!r}")
    if optimizer not in _OPTIMIZERS:
        raise ConfigError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {optimizer!r}")
    if (checkpoint_every or resume) and not checkpoint_dir:
        raise ConfigError("checkpoint_every / resume need a checkpoint_dir")
    estimator = get_method(method, **(method_options or {}))

    dev = resolve_device(device)
    if hasattr(sources, "to"):
        sources = sources.to(dev, dtype)
    if test is not None and hasattr(test, "to"):
        test = test.to(dev, dtype)
    task.validate(sources, budget)
    gen = make_generator(seed)
    if synthetic is None:
        synthetic = task.init_synthetic(sources, budget, gen)
        if not isinstance(synthetic, SyntheticSet):
            raise TaskError(f"task {task.name!r} init_synthetic returned {type(synthetic).__name__}, not a SyntheticSet")
    synthetic = synthetic.to(dev, dtype)
    with torch.no_grad():
        task.project_(synthetic)

    config = {"task": task.name, "task_config": task.config(), "budget": budget, "method": method,
              "method_options": dict(method_options or {}), "steps": steps, "lr": lr, "seed": seed,
              "device": str(dev), "dtype": str(dtype or synthetic.parameters()[0].dtype),
              "schedule": schedule, "optimizer": optimizer, "lr_schedule": lr_schedule,
              "eval_every": eval_every}
    # a resumed run may go on for more steps, unless the step size schedule depends on their number
    free = ("steps", "eval_every") if lr_schedule == "constant" else ("eval_every",)
    fingerprint = {k: v for k, v in config.items() if k not in free}

    groups = ([synthetic.parameters(j) for j in range(synthetic.n_parts)] if schedule == "cyclic"
              else [synthetic.parameters()])
    opts = [_OPTIMIZERS[optimizer](g, lr=lr) for g in groups]
    history: list[dict] = []
    start, elapsed0 = 0, 0.0

    if resume:
        state = load_checkpoint(checkpoint_dir, fingerprint)
        if state is not None:
            synthetic.load_state_(state["synthetic"])
            for o, s in zip(opts, state["optimizers"]):
                o.load_state_dict(s)
            gen.set_state(state["generator"])
            task.load_state_dict(state["task"])
            history = list(state["history"])
            start, elapsed0 = int(state["step"]), float(state["elapsed"])
            log.info("resumed from %s at step %d", checkpoint_dir, start)

    def checkpoint(step: int, elapsed: float) -> None:
        save_checkpoint(checkpoint_dir, {
            "fingerprint": fingerprint, "step": step, "elapsed": elapsed,
            "synthetic": synthetic.state_dict(), "optimizers": [o.state_dict() for o in opts],
            "generator": gen.get_state(), "task": task.state_dict(), "history": history})

    def evaluate(step: int) -> dict[str, float]:
        if test is None:
            return {}
        return {k: float(v) for k, v in task.evaluate(synthetic, test, generator=make_generator(_seed_for(seed, step))).items()}

    def result() -> DistillResult:
        return DistillResult(synthetic.detach(), history, config, versions())

    t0 = time.perf_counter() - elapsed0
    bar = tqdm(total=steps, initial=start, disable=quiet, desc=f"distill {task.name}", leave=False,
               mininterval=0.5 if sys.stderr.isatty() else 10.0)
    try:
        for step in range(start, steps):
            part = step % synthetic.n_parts if schedule == "cyclic" else None
            opt = opts[part] if schedule == "cyclic" else opts[0]
            try:
                score, grads = estimator(task, synthetic, sources, part, gen)
            except NonFiniteError as e:
                e.result = result()  # type: ignore[attr-defined]
                raise
            bad = [i for i, g in enumerate(grads) if not torch.isfinite(g).all()]
            if bad:
                err = NonFiniteError(f"non-finite gradient at step {step} (parameter groups {bad}); "
                                     "the synthetic set is left at its last good value")
                err.result = result()  # type: ignore[attr-defined]
                raise err
            opt.zero_grad(set_to_none=True)
            params = synthetic.parameters(part)
            for p, g in zip(params, grads):
                p.grad = -g  # optimisers minimise; the score is maximised
            for group in opt.param_groups:
                group["lr"] = lr * LR_SCHEDULES[lr_schedule](step, steps)
            opt.step()
            with torch.no_grad():
                task.project_(synthetic)
            wall = time.perf_counter() - t0
            row = {"step": step + 1, "part": -1 if part is None else part, "score": score, "wall_time": wall}
            if eval_every and ((step + 1) % eval_every == 0 or step + 1 == steps):
                te = time.perf_counter()
                metrics = evaluate(step + 1)
                t0 += time.perf_counter() - te  # wall_time counts distillation only
            else:
                metrics = {}
            row.update(metrics)
            history.append(row)
            bar.update(1)
            bar.set_postfix(score=f"{score:.4g}", refresh=False)
            if checkpoint_every and (step + 1) % checkpoint_every == 0:
                checkpoint(step + 1, wall)
            info = StepInfo(step + 1, part, score, wall, synthetic, metrics)
            if any(cb(info) for cb in callbacks):
                log.info("stopped by a callback at step %d", step + 1)
                break
    finally:
        bar.close()
    if checkpoint_dir and checkpoint_every:
        checkpoint(len(history), time.perf_counter() - t0)
    return result()
