"""Run every ``>>>`` example of a page when the page is read; a mismatch is a warning.

The examples of a page share one fresh namespace, with the doctest flags of ``pytest.ini``
and numpy warnings as errors, as ``pytest --doctest-glob`` runs them: a page whose examples
fail cannot build under ``-W``. Sphinx does not re-read a page for a warning, so the pages
that failed are kept (in the ``pagedoctests`` domain, merged under ``-j``) and re-read by the
next build until they pass.
"""

from __future__ import annotations

import configparser
import doctest
import io
import os
import warnings
from pathlib import Path

from sphinx.domains import Domain
from sphinx.util import logging

logger = logging.getLogger(__name__)


def pytest_doctest_flags(ini: Path) -> int:
    """The doctest option flags pytest uses (``pytest.ini``), so both checks agree."""
    parser = configparser.ConfigParser()
    parser.read(ini)
    flags = 0
    for name in parser.get("pytest", "doctest_optionflags", fallback="").split():
        flags |= doctest.OPTIONFLAGS_BY_NAME[name]
    return flags


def run_page_doctests(text: str, name: str, flags: int = 0) -> tuple[int, int, str]:
    """Run the ``>>>`` examples of ``text`` in one fresh namespace: (failed, attempted, report)."""
    test = doctest.DocTestParser().get_doctest(text, {"__name__": "__main__"}, name, name, 0)
    if not test.examples:
        return 0, 0, ""
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=flags, verbose=False)
    cwd = os.getcwd()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # as pytest.ini
        try:
            runner.run(test, out=out.write, clear_globs=True)
        finally:
            os.chdir(cwd)
            import matplotlib.pyplot as plt  # an example may leave figures open

            plt.close("all")
    result = runner.summarize(verbose=False)
    return result.failed, result.attempted, out.getvalue()


class PageDoctestDomain(Domain):
    """The pages whose examples failed when last read (no directives or roles)."""

    name = "pagedoctests"
    label = "page doctests"
    initial_data = {"failed": set()}
    data_version = 1

    def clear_doc(self, docname: str) -> None:
        self.data["failed"].discard(docname)

    def merge_domaindata(self, docnames, otherdata) -> None:
        self.data["failed"] |= otherdata["failed"] & set(docnames)

    def resolve_any_xref(self, env, fromdocname, builder, target, node, contnode):
        return []


def _on_source_read(app, docname, source):
    text = source[0]
    if ">>>" not in text:
        return
    flags = pytest_doctest_flags(Path(app.srcdir) / "pytest.ini")
    path = str(app.env.doc2path(docname))
    try:
        failed, attempted, report = run_page_doctests(text, path, flags)
    except ValueError as error:  # an example the doctest parser cannot read
        failed, attempted, report = 1, 1, str(error)
    if failed:
        app.env.domains["pagedoctests"].data["failed"].add(docname)
        logger.warning("%d of %d doctest examples failed:\n%s", failed, attempted, report,
                       location=docname, type="cheatsheet", subtype="doctest")
    else:
        logger.info("%s: %d doctest examples passed", docname, attempted)


def _on_env_get_outdated(app, env, added, changed, removed):
    failed = env.domains["pagedoctests"].data["failed"]
    return sorted(d for d in failed if d in env.found_docs and d not in added | changed)


def setup(app):
    app.add_domain(PageDoctestDomain)
    app.connect("source-read", _on_source_read)
    app.connect("env-get-outdated", _on_env_get_outdated)
    return {"version": "1", "env_version": 1, "parallel_read_safe": True,
            "parallel_write_safe": True}
