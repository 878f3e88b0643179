"""The outer loop: optimiser, part schedule, progress, evaluation, callbacks, checkpoints.

:func:`distill` validates its settings into a frozen :class:`DistillSettings`, builds a
:class:`LoopState` (restored from a checkpoint on resume) and hands both to :class:`_Run`, whose
:meth:`_Run.step` is one outer step.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal

import torch
from tqdm.auto import tqdm

from taskdd.device import make_generator, resolve_device
from taskdd.distill.checkpoint import load_checkpoint, save_checkpoint
from taskdd.distill.estimators import Estimator, get_method
from taskdd.distill.result import DistillResult
from taskdd.distill.settings import LR_SCHEDULES, DistillSettings, check_call, derived_seed
from taskdd.distill.state import LoopState
from taskdd.errors import ConfigError, NonFiniteError, TaskError
from taskdd.registry import get_task
from taskdd.results import versions
from taskdd.synthetic import SyntheticSet
from taskdd.task import Task

__all__ = ["distill", "StepInfo", "LR_SCHEDULES"]

log = logging.getLogger(__name__)
#: the keys of a step row before evaluation metrics are added
_STEP_KEYS = frozenset({"step", "part", "score", "wall_time"})


@dataclass
class StepInfo:
    """What a callback sees after each step. Return True from the callback to stop."""

    step: int
    part: int | None
    score: float
    wall_time: float
    synthetic: SyntheticSet
    metrics: dict[str, float]


class _Clock:
    """Seconds spent distilling, resumable from ``elapsed``, with evaluations left out."""

    def __init__(self, elapsed: float):
        self.t0 = time.perf_counter() - elapsed

    def read(self) -> float:
        return time.perf_counter() - self.t0

    def exclude(self, fn: Callable[[], Any]) -> Any:
        """``fn()``, its time not counted."""
        te = time.perf_counter()
        try:
            return fn()
        finally:
            self.t0 += time.perf_counter() - te


@dataclass
class _Run:
    """One call's fixed parts: settings, task, estimator, data, callbacks."""

    settings: DistillSettings
    task: Task
    estimator: Estimator
    sources: Any
    test: Any
    callbacks: tuple[Callable[[StepInfo], bool | None], ...]
    quiet: bool

    def result(self, state: LoopState) -> DistillResult:
        return DistillResult(state.synthetic.detach(), state.history, self.settings.config(), versions())

    def evaluate(self, state: LoopState) -> dict[str, float]:
        """Held-out metrics of the current set (each step has its own evaluation generator)."""
        if self.test is None:
            return {}
        gen = make_generator(derived_seed(self.settings.seed, state.step))
        return {k: float(v) for k, v in self.task.evaluate(state.synthetic, self.test, generator=gen).items()}

    def checkpoint(self, state: LoopState) -> None:
        save_checkpoint(self.settings.checkpoint_dir, {"fingerprint": self.settings.fingerprint(),
                                                       **state.state_dict()})

    def non_finite(self, err: NonFiniteError, state: LoopState) -> NonFiniteError:
        err.result = self.result(state)  # type: ignore[attr-defined]
        return err

    def step(self, state: LoopState, clock: _Clock) -> StepInfo:
        """One outer step: estimate the gradient, move the set, project, record, evaluate."""
        s, synthetic = self.settings, state.synthetic
        part = s.part_at(state.step, synthetic.n_parts)
        try:
            score, grads = self.estimator(self.task, synthetic, self.sources, part, state.generator)
        except NonFiniteError as e:
            raise self.non_finite(e, state) from None
        bad = [i for i, g in enumerate(grads) if not torch.isfinite(g).all()]
        if bad:
            raise self.non_finite(NonFiniteError(
                f"non-finite gradient at step {state.step} (parameter groups {bad}); "
                "the synthetic set is left at its last good value"), state)
        opt = state.optimizers[0 if part is None else part]
        opt.zero_grad(set_to_none=True)
        for p, g in zip(synthetic.parameters(part), grads):
            p.grad = -g  # optimisers minimise; the score is maximised
        for group in opt.param_groups:
            group["lr"] = s.lr_at(state.step)
        opt.step()
        with torch.no_grad():
            self.task.project_(synthetic)
        state.step += 1
        state.elapsed = clock.read()
        row = {"step": state.step, "part": -1 if part is None else part, "score": score, "wall_time": state.elapsed}
        metrics = clock.exclude(lambda: self.evaluate(state)) if s.evaluates_after(state.step) else {}
        row.update(metrics)
        state.history.append(row)
        return StepInfo(state.step, part, score, state.elapsed, synthetic, metrics)

    def execute(self, state: LoopState) -> DistillResult:
        """Steps until ``settings.steps`` or a callback says stop; then the final evaluation
        (if the last step had none) and the final checkpoint."""
        s = self.settings
        if self.test is not None and not state.history:
            state.history.append({"step": 0, "part": -1, "wall_time": 0.0, **self.evaluate(state)})
        clock = _Clock(state.elapsed)
        bar = tqdm(total=s.steps, initial=state.step, disable=self.quiet, desc=f"distill {self.task.name}",
                   leave=False, mininterval=0.5 if sys.stderr.isatty() else 10.0)
        try:
            while state.step < s.steps:
                info = self.step(state, clock)
                bar.update(1)
                bar.set_postfix(score=f"{info.score:.4g}", refresh=False)
                if s.checkpoint_every and state.step % s.checkpoint_every == 0:
                    self.checkpoint(state)
                if any(cb(info) for cb in self.callbacks):
                    log.info("stopped by a callback at step %d", state.step)
                    break
        finally:
            bar.close()
        last = state.history[-1] if state.history else {}
        if self.test is not None and last.get("step") == state.step and set(last) <= _STEP_KEYS:
            last.update(clock.exclude(lambda: self.evaluate(state)))
        if s.checkpoint_dir and s.checkpoint_every:
            state.elapsed = clock.read()
            self.checkpoint(state)
        return self.result(state)


def _resolve_task(task: Task | str, task_options: dict | None) -> Task:
    if isinstance(task, str):
        task = get_task(task, **(task_options or {}))
    elif task_options:
        raise ConfigError("task_options only apply when task is given by name")
    if not isinstance(task, Task):
        raise ConfigError(f"task must be a taskdd.Task or a registered name, got {type(task).__name__}")
    return task


def _starting_set(task: Task, sources: Any, budget: int, generator: torch.Generator,
                  synthetic: SyntheticSet | None, device: torch.device, dtype: torch.dtype | None) -> SyntheticSet:
    if synthetic is None:
        synthetic = task.init_synthetic(sources, budget, generator)
        if not isinstance(synthetic, SyntheticSet):
            raise TaskError(f"task {task.name!r} init_synthetic returned {type(synthetic).__name__}, "
                            "not a SyntheticSet")
    synthetic = synthetic.to(device, dtype)
    with torch.no_grad():
        task.project_(synthetic)
    return synthetic


def _move(data: Any, device: torch.device, dtype: torch.dtype | None) -> Any:
    return data.to(device, dtype) if data is not None and hasattr(data, "to") else data


def distill(
    task: Task | str, sources: Any, budget: int, *, method: str = "exact", steps: int = 200, lr: float = 0.05,
    seed: int = 0, device: str | torch.device = "auto", dtype: torch.dtype | None = None,
    schedule: Literal["all", "cyclic"] = "all", optimizer: Literal["adam", "sgd"] = "adam",
    lr_schedule: Literal["constant", "cosine"] = "constant", method_options: dict | None = None,
    synthetic: SyntheticSet | None = None, test: Any = None, eval_every: int = 0,
    callbacks: Iterable[Callable[[StepInfo], bool | None]] = (), checkpoint_dir: str | None = None,
    checkpoint_every: int = 0, resume: bool = False, quiet: bool = False, task_options: dict | None = None,
) -> DistillResult:
    """Distil ``sources`` into a synthetic set of size ``budget`` for ``task``.

    method: a registered estimator ("exact" = autograd through fit; "zeroth_order" = Gaussian
    smoothing with antithetic pairs, options ``directions``, ``smoothing`` in method_options).
    schedule: "all" updates every part each step; "cyclic" updates part ``step % n_parts`` only
    (the paper's algorithm), each part with its own optimiser state.
    lr_schedule: "constant" or "cosine" (the outer step size decays from ``lr`` to 0 over
    ``steps``: with a noisy hypergradient a constant step keeps the set moving at the end).
    test / eval_every: with ``test``, the starting set is evaluated (the history's first row is
    ``{"step": 0, "part": -1, "wall_time": 0.0, **metrics}``, without a score), then every
    ``eval_every`` steps (0 = not in between), and the final set always (also after a callback
    stops the loop); never used for training; ``wall_time`` excludes evaluation. A step row's
    ``score`` is the objective the estimator computed at the start of that step.
    The task is reset (:meth:`Task.reset`, with a generator derived from ``seed``) at the start
    of every call, so a reused task object gives a fresh one's result.
    checkpoint_dir / checkpoint_every / resume: save the loop state every N steps; with
    ``resume`` a run continues from the last checkpoint (the task reset, then its saved state
    loaded) and ends identical (CPU) to one that was never stopped; a checkpoint of other
    settings is a CheckpointError. Raises NonFiniteError (with ``.result`` = the last good
    state) if a score or gradient is non-finite.
    """
    task = _resolve_task(task, task_options)
    check_call(budget=budget, steps=steps, lr=lr, schedule=schedule, optimizer=optimizer, lr_schedule=lr_schedule,
               eval_every=eval_every, checkpoint_every=checkpoint_every, checkpoint_dir=checkpoint_dir, resume=resume)
    estimator = get_method(method, **(method_options or {}))
    dev = resolve_device(device)
    sources, test = _move(sources, dev, dtype), _move(test, dev, dtype)
    task.validate(sources, budget)
    gen = make_generator(seed)
    task.reset(make_generator(derived_seed(seed, -1)))
    synthetic = _starting_set(task, sources, budget, gen, synthetic, dev, dtype)
    settings = DistillSettings(
        task=task.name, task_config=task.config(), budget=budget, method=method,
        method_options=dict(method_options or {}), steps=steps, lr=lr, seed=seed, device=str(dev),
        dtype=str(dtype or synthetic.parameters()[0].dtype), schedule=schedule, optimizer=optimizer,
        lr_schedule=lr_schedule, eval_every=eval_every, checkpoint_dir=checkpoint_dir,
        checkpoint_every=checkpoint_every, resume=resume)
    state = LoopState(synthetic, settings.make_optimizers(synthetic), gen, task)
    if resume and (saved := load_checkpoint(checkpoint_dir, settings.fingerprint())) is not None:
        state.load_state_dict(saved)
        log.info("resumed from %s at step %d", checkpoint_dir, state.step)
    return _Run(settings, task, estimator, sources, test, tuple(callbacks), quiet).execute(state)
