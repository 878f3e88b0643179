import sys
import types
from importlib.metadata import EntryPoint

import pytest

import taskdd.registry as registry
from taskdd import ConfigError, Task, get_task, task_names


def test_unknown_case_lists_the_known_ones():
    with pytest.raises(ConfigError, match="known cases: .*ridge-demo"):
        registry.get_case("nope")


def test_a_third_party_task_registers_through_the_entry_point_group(monkeypatch):
    mod = types.ModuleType("fake_plugin")

    class Plugin(Task):
        def init_synthetic(self, sources, budget, generator): ...
        def fit(self, synthetic, *, generator=None): ...
        def score(self, model, sources, *, part=None, generator=None): ...
        def evaluate(self, synthetic, test, *, generator=None): ...

    mod.Plugin = Plugin
    monkeypatch.setitem(sys.modules, "fake_plugin", mod)
    ep = EntryPoint(name="fake", value="fake_plugin:Plugin", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [ep] if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.delitem(registry._TASKS, "fake", raising=False)
    assert "fake" in task_names()
    assert isinstance(get_task("fake"), Plugin)
    registry._TASKS.pop("fake")
