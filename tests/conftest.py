"""Test configuration: one torch thread (the machine is shared), `-k ClassName` selection,
and a summary of what ran (also under pytest-xdist: `make test` runs `pytest -n auto --dist
loadfile`, so the module-scoped fixtures of the browser and snippet tests run once, in one
worker; `--dist loadgroup` does not group with pytest 9 and xdist 3.8)."""

import inspect

import torch
from _pytest.doctest import DoctestItem

torch.set_num_threads(1)

_doctest_ids = set()
DOCTEST_KEYWORD = "doctest_item"


def _class_names():
    try:
        import layers
    except ImportError:
        return []
    return [name for name, obj in inspect.getmembers(layers, inspect.isclass)
            if obj.__module__ == layers.__name__ and not name.startswith("_")]


# The slowest test modules, slowest first (seconds under `make test`, 2026-12-02). `make test`
# runs pytest-xdist with --dist loadfile --no-loadscope-reorder: a worker takes whole modules,
# in this order, so the long ones start first and the short ones fill in at the end (without
# the order, xdist starts with the modules that have the most tests, the fast ones).
SLOWEST_FIRST = [
    "test_browser_pages_0.py", "test_browser_pages_1.py",  # 100 each
    "test_browser_landing.py", "test_browser_search.py", "test_repl_paste.py",  # 30 to 40
    "test_browser_figures.py", "test_site_snippets.py", "test_copy.py", "test_sphinxext.py",
    "test_site_pages.py", "test_getting_code.py", "test_browser.py",  # 10 to 30
]


def _slowness_rank(item):
    module = item.nodeid.split("::")[0].rsplit("/", 1)[-1]
    return SLOWEST_FIRST.index(module) if module in SLOWEST_FIRST else len(SLOWEST_FIRST)


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=_slowness_rank)  # stable: each module's tests keep their order
    _doctest_ids.update(item.nodeid for item in items if isinstance(item, DoctestItem))
    for item in items:
        if isinstance(item, DoctestItem):  # an xdist worker's reports carry keywords, not items
            item.keywords[DOCTEST_KEYWORD] = True
    # `pytest -k EarlyStopping` also selects test_early_stopping_*: a test whose id names a
    # class of layers.py in snake_case gets the class name as a keyword
    names = _class_names()
    for item in items:
        flat = item.nodeid.lower().replace("_", "")
        item.extra_keyword_matches.update(n for n in names if n.lower() in flat)


def _count(reports, predicate):
    return sum(1 for r in reports if r.when == "call" and predicate(r))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = terminalreporter.stats
    lines = []
    for label, predicate in [
        ("doctests", lambda r: r.nodeid in _doctest_ids or DOCTEST_KEYWORD in r.keywords),
        ("gradient checks", lambda r: "gradcheck" in r.keywords),
        ("PyTorch comparisons", lambda r: "torch_parity" in r.keywords),
    ]:
        passed = _count(stats.get("passed", []), predicate)
        failed = _count(stats.get("failed", []), predicate)
        lines.append(f"{label}: {passed} passed" + (f", {failed} failed" if failed else ""))
    terminalreporter.write_sep("=", "what ran")
    for line in lines:
        terminalreporter.write_line(line)
