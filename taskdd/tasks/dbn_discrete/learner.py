"""The discrete DBN's learner: Dirichlet-smoothed maximum likelihood from soft, weighted counts.

A (synthetic) record holds, per time slice and variable, a probability vector over the
variable's states (``probs [n, T, d, C]``, ``C = max(cards)``, entries past a variable's
cardinality 0) and a positive weight. The expected count of a CPT cell is the sum over records
(and, for the transition, over slices ``t >= 1``) of the weight times the product of the
probabilities the record gives to the cell's parent and child states: a sum of products,
differentiable w.r.t. the records, and exactly the hard (weighted) counts when the vectors are
one-hot. The CPT is ``(counts + alpha) / (row sum + alpha * card)``.

CPT layout (that of :class:`~taskdd.tasks.dbn_discrete.model.DiscreteDBN`): ``cpt0[j]`` has axes
``(*intra parents, child)``; ``cpt[j]`` has ``(*inter parents at t-1, *intra parents at t,
child)``, parents in the order the structure lists them.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from taskdd.errors import DataError
from taskdd.tasks.dbn.structure import DBNStructure
from taskdd.tasks.dbn_discrete.likelihood import check_codes

__all__ = ["state_mask", "record_probs", "one_hot", "round_records", "expected_counts", "cpts_from_counts",
           "fit_cpts"]


def state_mask(cards: Sequence[int], device=None) -> Tensor:
    """``[d, C]`` bool: True where state ``c`` exists for variable ``j`` (``c < cards[j]``)."""
    C = max(cards)
    return torch.arange(C, device=device)[None, :] < torch.as_tensor(list(cards), device=device)[:, None]


def record_probs(logits: Tensor, cards: Sequence[int]) -> Tensor:
    """Softmax of ``logits [n, T, d, C]`` over each variable's own states (the rest get 0)."""
    valid = state_mask(cards, logits.device)
    return torch.softmax(logits.masked_fill(~valid, float("-inf")), dim=-1)


def one_hot(x: Tensor, cards: Sequence[int], dtype: torch.dtype = torch.float64) -> Tensor:
    """Codes ``x [n, T, d]`` (all observed) -> one-hot ``probs [n, T, d, C]``."""
    check_codes(x, cards)
    if (x < 0).any():
        raise DataError("one_hot needs fully observed records (no code -1)")
    return torch.nn.functional.one_hot(x.long(), max(cards)).to(dtype)


def round_records(probs_or_logits: Tensor, cards: Sequence[int]) -> Tensor:
    """The most probable state of each entry: Long codes ``[n, T, d]`` (what a user exports)."""
    valid = state_mask(cards, probs_or_logits.device)
    return probs_or_logits.detach().masked_fill(~valid, float("-inf")).argmax(-1)


def _family_counts(probs: Tensor, weights: Tensor, cards: Sequence[int], child: int, prev: Sequence[int],
                   now: Sequence[int], t0: int) -> Tensor:
    """Expected counts of ``child`` with parents ``prev`` (slice t-1) and ``now`` (slice t), over
    slices ``t >= t0``: ``[*cards[prev], *cards[now], cards[child]]``."""
    T = probs.shape[1]
    cur = probs[:, t0:].flatten(0, 1)
    before = probs[:, t0 - 1:T - 1].flatten(0, 1) if prev else None
    w = weights.repeat_interleave(T - t0)
    ops: list = [w, [0]]
    for k, p in enumerate(prev):
        ops += [before[:, p, :cards[p]], [0, 1 + k]]
    for k, p in enumerate(now):
        ops += [cur[:, p, :cards[p]], [0, 1 + len(prev) + k]]
    last = 1 + len(prev) + len(now)
    ops += [cur[:, child, :cards[child]], [0, last], list(range(1, last + 1))]
    return torch.einsum(*ops)


def expected_counts(structure: DBNStructure, cards: Sequence[int], probs: Tensor,
                    weights: Tensor | None = None) -> tuple[list[Tensor], list[Tensor] | None]:
    """Weighted expected counts of every CPT: ``(counts0, counts)``, in the CPT layout (module
    doc); ``counts`` is None when ``T == 1``. probs: ``[n, T, d, C]``; weights: ``[n]`` (None = 1)."""
    n, T, d, C = probs.shape
    if d != structure.d or len(cards) != d or C < max(cards):
        raise DataError(f"probs of shape {tuple(probs.shape)} do not fit {structure.d} variables with cards "
                        f"{list(cards)}")
    if weights is None:
        weights = probs.new_ones(n)
    if weights.shape != (n,):
        raise DataError(f"weights must have shape [{n}], got {tuple(weights.shape)}")
    idx = structure.index
    intra = [[idx(p) for p in structure.intra[v]] for v in structure.variables]
    inter = [[idx(p) for p in structure.inter[v]] for v in structure.variables]
    first = [_family_counts(probs[:, :1], weights, cards, j, [], intra[j], 0) for j in range(d)]
    if T == 1:
        return first, None
    return first, [_family_counts(probs, weights, cards, j, inter[j], intra[j], 1) for j in range(d)]


def cpts_from_counts(counts: Sequence[Tensor], alpha: float) -> list[Tensor]:
    """Dirichlet-smoothed ML: ``(counts + alpha) / row sums`` along the last (child) axis."""
    out = []
    for c in counts:
        s = c + alpha
        out.append(s / s.sum(-1, keepdim=True))
    return out


def fit_cpts(structure: DBNStructure, cards: Sequence[int], probs: Tensor, weights: Tensor | None = None,
             alpha: float = 1.0) -> tuple[list[Tensor], list[Tensor] | None]:
    """``(cpt0, cpt)`` of the records ``probs`` (weights ``[n]``) with Dirichlet pseudo-count ``alpha``
    per cell; ``cpt`` is None for ``T == 1`` (a static network)."""
    if not alpha > 0:
        raise DataError(f"alpha must be > 0 (a CPT row with no counts needs pseudo-counts), got {alpha!r}")
    c0, c = expected_counts(structure, cards, probs, weights)
    return cpts_from_counts(c0, alpha), None if c is None else cpts_from_counts(c, alpha)
