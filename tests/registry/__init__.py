"""The registry of the test suite: one entry per public class of code/layers.py.

Each family module (dense.py, conv.py, pool.py, ...) holds `ENTRIES` (a list of `Entry`) and
may hold `PAGES` (a list of `Page`). Every module of this package other than core, inputs and
conventions is read, so a new family is a new module and nothing else changes. See ADDING.md.
"""

import importlib
import pkgutil

from .core import Bad, BadArguments, Case, Entry, Page, Res, S, Seq, Spec  # noqa: F401

_MACHINERY = {"core", "inputs", "conventions"}

REGISTRY = {}  # class name -> Entry
PAGES = {}  # docname -> Page
MODULES = {}  # class name -> the family module that holds its entry

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name in _MACHINERY or _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _entry in getattr(_module, "ENTRIES", []):
        assert _entry.name not in REGISTRY, (
            f"{_entry.name} has entries in {MODULES[_entry.name]} and {_info.name}")
        REGISTRY[_entry.name] = _entry
        MODULES[_entry.name] = _info.name
    for _page in getattr(_module, "PAGES", []):
        assert _page.docname not in PAGES, f"page {_page.docname} listed twice"
        PAGES[_page.docname] = _page

ENTRIES = list(REGISTRY.values())


def entry(name):
    return REGISTRY[name]


def convention_of(name):
    """The call convention of the class `name` (Plain for a class without an entry yet)."""
    from .conventions import PLAIN

    return REGISTRY[name].convention if name in REGISTRY else PLAIN


def entries(predicate=lambda e: True):
    return [e for e in ENTRIES if predicate(e)]


# every fixed case that the generic tests run through forward and backward, in registry order
CASES = [c for e in ENTRIES if e.convention.runs_forward for c in e.cases]


def random_case(name, seed):
    """The randomised configuration number `seed` of the class `name`."""
    import numpy as np

    rng = np.random.default_rng([seed, sum(map(ord, name))])
    case = REGISTRY[name].random(rng)
    case.note = f"random{seed}"
    return case
