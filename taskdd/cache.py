"""A small cache of values derived from objects, keyed by the objects' identity."""

from __future__ import annotations

from typing import Callable, Generic, TypeVar

__all__ = ["IdentityCache"]

V = TypeVar("V")


class IdentityCache(Generic[V]):
    """``get(obj, make)``: ``make()`` once per live object ``obj`` (identity, not equality; the
    object is held so its id cannot be reused while cached). Holds at most ``limit`` entries and
    starts afresh when full (tasks see a few sources per distillation; many calls on moved
    copies must not grow it without bound)."""

    def __init__(self, limit: int = 64):
        self._entries: dict[int, tuple[object, V]] = {}
        self._limit = limit

    def get(self, obj: object, make: Callable[[], V]) -> V:
        hit = self._entries.get(id(obj))
        if hit is None or hit[0] is not obj:
            if len(self._entries) >= self._limit:
                self._entries.clear()
            hit = self._entries[id(obj)] = (obj, make())
        return hit[1]
