"""Test configuration: one torch thread (the machine is shared) and a summary of what ran."""

import torch
from _pytest.doctest import DoctestItem

torch.set_num_threads(1)

_doctest_ids = set()


def pytest_collection_modifyitems(session, config, items):
    _doctest_ids.update(item.nodeid for item in items if isinstance(item, DoctestItem))


def _count(reports, predicate):
    return sum(1 for r in reports if r.when == "call" and predicate(r))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    stats = terminalreporter.stats
    lines = []
    for label, predicate in [
        ("doctests", lambda r: r.nodeid in _doctest_ids),
        ("gradient checks", lambda r: "gradcheck" in r.keywords),
        ("PyTorch comparisons", lambda r: "torch_parity" in r.keywords),
    ]:
        passed = _count(stats.get("passed", []), predicate)
        failed = _count(stats.get("failed", []), predicate)
        lines.append(f"{label}: {passed} passed" + (f", {failed} failed" if failed else ""))
    terminalreporter.write_sep("=", "what ran")
    for line in lines:
        terminalreporter.write_line(line)
