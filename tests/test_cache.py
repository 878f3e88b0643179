"""IdentityCache: one value per live object, by identity, bounded."""

from taskdd.cache import IdentityCache


def test_one_value_per_object_by_identity_not_equality():
    cache, calls = IdentityCache(), []
    a, b = [1, 2], [1, 2]  # equal, not the same object
    make = lambda tag: (lambda: calls.append(tag) or tag)  # noqa: E731
    assert cache.get(a, make("a")) == "a" and cache.get(a, make("again")) == "a"
    assert cache.get(b, make("b")) == "b"
    assert calls == ["a", "b"]


def test_a_full_cache_starts_afresh():
    cache, calls = IdentityCache(limit=2), []
    objs = [object() for _ in range(3)]
    for o in objs:
        cache.get(o, lambda o=o: calls.append(o))
    cache.get(objs[0], lambda: calls.append("recomputed"))
    assert calls[-1] == "recomputed"
    cache.get(objs[2], lambda: calls.append("kept?"))
    assert calls[-1] == "recomputed"  # objs[2] was stored after the clear
