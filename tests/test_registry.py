"""The meta-test: every public class of code/layers.py has a registry entry (tests/registry/)
with each part: its contract, fixed cases, a random torch-twin maker, bad inputs and its page
(or an explicit reason where a part cannot exist). A class added to layers.py without an entry
fails here, under its own name: `pytest -k ClassName`. See tests/registry/ADDING.md."""

import inspect
import re
from pathlib import Path

import pytest

import layers
import registry
from registry.conventions import Plain

ROOT = Path(__file__).resolve().parents[1]


def public_classes(module):
    """The public classes defined in `module` (not imported into it)."""
    return [name for name, obj in inspect.getmembers(module, inspect.isclass)
            if obj.__module__ == module.__name__ and not name.startswith("_")]


def missing_parts(name, entries=None):
    """What the registry lacks for the class `name`; empty when its entry is complete."""
    entries = registry.REGISTRY if entries is None else entries
    entry = entries.get(name)
    if entry is None:
        return [f"no entry: add one to a module of tests/registry/ (see ADDING.md)"]
    missing = []
    if not isinstance(entry.contract, str):
        missing.append("contract (the constructor's argument list, as in ../shared/API.md)")
    if not isinstance(entry.convention, Plain):
        missing.append("convention (an adapter of registry/conventions.py)")
    if not entry.cases and not entry.no_cases:
        missing.append("fixed cases (or no_cases='reason')")
    if entry.random is None and not entry.no_random:
        missing.append("a random torch-twin maker (or no_random='reason')")
    checked = entry.rejects_integer_input and entry.cases
    if not (entry.bad or entry.bad_arguments or checked or entry.no_bad):
        missing.append("bad inputs (bad=[Bad(...)], bad_arguments, or no_bad='reason')")
    page = ROOT / f"{entry.page}.md" if entry.page else None
    if page is None or not page.is_file():
        missing.append(f"a page: {entry.page!r} is not a page of the site")
    elif not re.search(rf":pyobject:\s*{re.escape(name)}(\.|\s)", page.read_text(encoding="utf-8")):
        missing.append(f"a page: {entry.page}.md does not include the class (:pyobject: {name})")
    elif entry.page not in registry.PAGES:
        missing.append(f"a page: {entry.page} is not in any registry module's PAGES")
    return missing


CLASSES = public_classes(layers)


def test_there_are_classes():
    assert len(CLASSES) >= 30 and len(registry.REGISTRY) >= 30


@pytest.mark.parametrize("name", CLASSES)
def test_every_public_class_has_a_complete_entry(name):
    missing = missing_parts(name)
    assert not missing, f"{name} ({registry.MODULES.get(name, 'no module')}): " + "; ".join(missing)


@pytest.mark.parametrize("name", sorted(registry.REGISTRY))
def test_every_entry_is_a_class_of_layers(name):
    assert name in CLASSES, f"the registry has an entry for {name}, which code/layers.py does not define"
    entry = registry.REGISTRY[name]
    # `random_init` says the constructor takes `rng`; test_contract checks that it is used right
    takes_rng = "rng" in inspect.signature(getattr(layers, name)).parameters
    assert entry.random_init == takes_rng, f"{name}: set random_init={takes_rng}"
    for case in entry.cases + entry.parity_cases:
        assert case.name == name or case.spec.children, f"{name}'s entry holds a case of {case.name}"
    for bad in entry.bad + entry.bad_arguments:
        assert bad.spec.name == name, f"{name}'s entry holds a bad input of {bad.spec.name}"


def test_a_class_without_an_entry_is_caught(monkeypatch):
    """A class added to layers.py without an entry: the meta-test lists it and reports it."""

    class Dummy:
        pass

    Dummy.__module__ = layers.__name__
    monkeypatch.setattr(layers, "Dummy", Dummy, raising=False)
    assert "Dummy" in public_classes(layers)
    assert missing_parts("Dummy") == ["no entry: add one to a module of tests/registry/ (see ADDING.md)"]


def test_an_entry_without_parts_is_caught():
    entry = registry.Entry("Linear", contract="in_features, out_features, bias=True", convention=Plain(),
                           page="layers/linear")
    missing = missing_parts("Linear", {"Linear": entry})
    assert len(missing) == 3, missing
    assert "fixed cases" in missing[0] and "random" in missing[1] and "bad inputs" in missing[2], missing
    entry.page = "layers/pooling"
    assert any("does not include the class" in m for m in missing_parts("Linear", {"Linear": entry}))


def test_each_class_is_run_by_a_test():
    """Each fixed case's id starts with its class name, so `pytest -k ClassName` selects it."""
    for case in registry.CASES:
        assert case.id.startswith(case.name + "("), case.id
