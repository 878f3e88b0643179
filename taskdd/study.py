"""The study runner: a case study's grid of method x budget x seed (x setting), run as resumable
units with one way of recording results and timings.

A case module says, per seed (and setting), which methods to run at which budgets::

    study = Study(ctx)
    for seed in study.seeds(cfg.seeds):
        prob = make_problem(seed)
        judge = lambda s: {"metrics": task.evaluate(s, prob.test)}
        study.block([
            Method("full", lambda c: judge(full_set(prob)), budgeted=False),
            Method("random", lambda c: judge(task.init_synthetic(prob.train, c.budget, make_generator(c.seed)))),
            Method("distilled", lambda c: study.distill(c, task, prob.train, steps=cfg.steps,
                                                        evaluate=lambda r: judge(r.synthetic))),
        ], seed=seed, budgets=cfg.budgets)

Each cell's work is a unit (``RunContext.unit``: done once, read back on ``--resume``) whose
payload is JSON: ``{"metrics": {name: float}, "timing": {name: seconds} (optional), ...extras}``.
``metrics`` become results.csv rows, ``timing`` timings.csv rows, both tagged
``CASE:setting`` when the cell has a setting; extras stay in the payload for the case's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from taskdd.distill import DistillResult, distill
from taskdd.errors import TaskError

if TYPE_CHECKING:
    from taskdd.cases import RunContext

__all__ = ["Cell", "Method", "Study", "Payload"]

#: what a cell's work returns: {"metrics": {...}, "timing": {...} (optional), ...JSON-able extras}
Payload = dict[str, Any]


@dataclass(frozen=True)
class Cell:
    """One piece of a study: ``method`` at ``budget`` (None: the method takes no budget) for
    ``seed``, in ``setting`` ("" = the case itself; ``"pde=poisson"`` tags its rows with the case
    ``CASE:pde=poisson``)."""

    method: str
    budget: int | None
    seed: int
    setting: str = ""

    @property
    def key(self) -> str:
        """Unit and checkpoint name, e.g. ``pde=poisson_distilled_b10_seed0``."""
        parts = (self.setting, self.method, "" if self.budget is None else f"b{self.budget}", f"seed{self.seed}")
        return "_".join(p for p in parts if p)


@dataclass(frozen=True)
class Method:
    """A row of the grid. run(cell) -> Payload does the work of one cell; budgeted=False: run
    once per seed with budget None (at its place in the list, before the second budget);
    when(cell) -> False skips a cell (e.g. an ablation at some budgets only)."""

    name: str
    run: Callable[[Cell], Payload]
    budgeted: bool = True
    when: Callable[[Cell], bool] | None = None


def _check_payload(cell: Cell, payload: Any) -> Payload:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("metrics"), Mapping):
        raise TaskError(f"the work of {cell.key!r} returned {type(payload).__name__}; it must return a dict with "
                        "'metrics' ({name: float}) and optionally 'timing' and other JSON data")
    return dict(payload)


class Study:
    """Runs cells as units of ``ctx`` and records their metrics and timings (see the module doc)."""

    def __init__(self, ctx: "RunContext"):
        self.ctx = ctx

    def seeds(self, n: int) -> range:
        """``n`` seeds from the run's base seed (``--seed``)."""
        return range(self.ctx.seed, self.ctx.seed + n)

    def case_of(self, cell: Cell) -> str:
        """The ``case`` column of ``cell``'s rows."""
        return f"{self.ctx.case}:{cell.setting}" if cell.setting else self.ctx.case

    def record(self, cell: Cell, payload: Payload) -> None:
        """Add ``payload['metrics']`` to results and ``payload['timing']`` (if any) to timings."""
        case = self.case_of(cell)
        self.ctx.results.add(cell.method, cell.budget, cell.seed, payload["metrics"], case=case)
        if payload.get("timing"):
            self.ctx.timings.add(cell.method, cell.budget, cell.seed, payload["timing"], case=case)

    def unit(self, cell: Cell, work: Callable[[], Payload]) -> Payload:
        """``work()`` as the resumable unit ``cell.key``, recorded; returns its (JSON) payload."""
        payload = self.ctx.unit(cell.key, lambda: _check_payload(cell, work()))
        self.record(cell, payload)
        return payload

    def block(self, methods: Sequence[Method], *, seed: int, budgets: Sequence[int] = (),
              setting: str = "") -> dict[tuple[str, int | None], Payload]:
        """Every method at every budget for one seed and setting, in order: for each budget, the
        methods as listed (a method without a budget only the first time round). Returns the
        payloads by ``(method, budget)``."""
        got: dict[tuple[str, int | None], Payload] = {}
        for i, budget in enumerate(budgets or [None]):
            for m in methods:
                if (not m.budgeted and i) or (m.budgeted and budget is None):
                    continue
                cell = Cell(m.name, budget if m.budgeted else None, seed, setting)
                if m.when is None or m.when(cell):
                    got[(m.name, cell.budget)] = self.unit(cell, lambda m=m, cell=cell: m.run(cell))
        return got

    def distill(self, cell: Cell, task: Any, sources: Any, *, evaluate: Callable[[DistillResult], Payload],
                **distill_kwargs) -> Payload:
        """One :func:`taskdd.distill` of ``sources`` at ``cell.budget`` for ``cell``: seeded with
        ``cell.seed``, on the run's device, checkpointed under ``cell.key`` (``--checkpoint-every``,
        ``--resume``); ``distill_kwargs`` override any of these. ``evaluate(result)`` returns the
        payload (``{"metrics": ..., ...}``); ``timing`` gets ``wall_time_s`` (distilling,
        evaluations excluded) and ``time_per_step_s``."""
        ctx = self.ctx
        kw = {"seed": cell.seed, "device": ctx.device, "quiet": ctx.quiet, **ctx.checkpointing(cell.key),
              **distill_kwargs}
        res = distill(task, sources, cell.budget, **kw)
        payload = _check_payload(cell, evaluate(res))
        wall, n = res.wall_time, res.n_steps
        payload["timing"] = {"wall_time_s": wall, "time_per_step_s": wall / n if n else 0.0}
        return payload
