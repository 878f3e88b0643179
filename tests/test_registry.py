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


# --- unknown task options -------------------------------------------------------------------
def test_an_unknown_task_option_names_it_and_lists_the_accepted_ones():
    with pytest.raises(ConfigError) as e:
        get_task("pinn", widht=3)
    msg = str(e.value)
    assert "task 'pinn' got unknown option 'widht'" in msg and "accepted options: pde, learner" in msg
    assert "width" in msg


def test_several_unknown_options_are_all_named():
    with pytest.raises(ConfigError, match="unknown options 'a', 'b'; accepted options: ridge"):
        get_task("ridge", a=1, b=2)


def test_a_type_error_inside_a_task_is_not_an_unknown_option(monkeypatch):
    class Fussy(_Plugin):
        def __init__(self, size=1):
            raise TypeError("size must be an int")

    monkeypatch.setitem(registry._TASKS, "fussy", Fussy)
    with pytest.raises(TypeError, match="size must be an int"):
        get_task("fussy", size="x")


def test_a_task_taking_any_keyword_is_not_checked(monkeypatch):
    class Open(_Plugin):
        def __init__(self, **options):
            self.options = options

    monkeypatch.setitem(registry._TASKS, "open", Open)
    assert get_task("open", anything=1).options == {"anything": 1}


# --- register_task --------------------------------------------------------------------------
class _Plugin(Task):
    def init_synthetic(self, sources, budget, generator): ...
    def fit(self, synthetic, *, generator=None): ...
    def score(self, model, sources, *, part=None, generator=None): ...
    def evaluate(self, synthetic, test, *, generator=None): ...


def test_registering_a_taken_name_is_refused(monkeypatch):
    get_task("ridge")
    monkeypatch.setitem(registry._TASKS, "ridge", registry._TASKS["ridge"])
    with pytest.raises(ConfigError, match="task name 'ridge' is taken by taskdd.tasks.ridge.RidgeRegressionTask"):
        registry.register_task("ridge")(type("Other", (_Plugin,), {}))
    assert registry._TASKS["ridge"].__name__ == "RidgeRegressionTask"


def test_a_built_in_name_not_imported_yet_is_taken(monkeypatch):
    monkeypatch.delitem(registry._TASKS, "dbn", raising=False)
    with pytest.raises(ConfigError, match="'dbn' is taken by the built-in task in taskdd.tasks.dbn.task"):
        registry.register_task("dbn")(type("MyDBN", (_Plugin,), {}))
    assert "dbn" not in registry._TASKS


def test_replace_true_replaces_a_task(monkeypatch):
    monkeypatch.setitem(registry._TASKS, "ridge", registry._TASKS.get("ridge"))
    mine = registry.register_task("ridge", replace=True)(type("MyRidge", (_Plugin,), {}))
    assert isinstance(get_task("ridge"), mine) and mine.name == "ridge"


def test_a_module_reloaded_registers_its_task_again(monkeypatch):
    import importlib

    import taskdd.tasks.ridge as ridge
    monkeypatch.setitem(registry._TASKS, "ridge", registry._TASKS["ridge"])
    monkeypatch.setattr(ridge, "RidgeRegressionTask", ridge.RidgeRegressionTask)
    monkeypatch.setattr(ridge, "RidgeModel", ridge.RidgeModel)
    importlib.reload(ridge)
    assert registry._TASKS["ridge"] is ridge.RidgeRegressionTask


def test_the_same_class_registers_twice_under_its_name():
    cls = type("Mine", (_Plugin,), {})
    try:
        assert registry.register_task("mine")(cls) is cls and registry.register_task("mine")(cls) is cls
    finally:
        registry._TASKS.pop("mine", None)


def test_an_entry_point_cannot_take_a_built_in_name(monkeypatch):
    class FakeEntryPoint:
        name, value = "dbn", "evil_plugin:DBN"

        def load(self):
            raise AssertionError("an entry point named after a built-in task was loaded")

    monkeypatch.setattr(registry, "entry_points",
                        lambda group: [FakeEntryPoint()] if group == registry.ENTRY_POINT_GROUP else [])
    assert "dbn" in task_names()
    assert registry._task_class("dbn").__module__ == "taskdd.tasks.dbn.task"
