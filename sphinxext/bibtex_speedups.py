"""Two speed-ups of the bibliography for rebuilds (monkeypatches, version-checked).

* pybtex looks each style plugin up among the installed entry points every time it is
  asked (about 1 s of a 2.5 s no-change rebuild). The installed entry points do not change
  during a build: each lookup is done once (``pybtex.plugin.entry_points``).
* sphinxcontrib-bibtex formats every bibliography on every build (``env-updated``). When
  no page was read, the citations restored with the environment are those of the current
  sources: formatting them again is skipped (another 0.5 s).

Both patch internals of the pinned versions (pybtex 0.26.1, sphinxcontrib-bibtex 2.7.0):
with any other version, ``setup`` fails and says what to re-check.
"""

from __future__ import annotations

import functools
import weakref
from importlib.metadata import version

from sphinx.errors import ExtensionError

WRITTEN_FOR = {"pybtex": "0.26.1", "sphinxcontrib-bibtex": "2.7.0"}
_docs_read: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # env -> bool


def check_versions(expected=WRITTEN_FOR) -> None:
    for package, wanted in expected.items():
        found = version(package)
        if found != wanted:
            raise ExtensionError(
                f"sphinxext.bibtex_speedups patches {package} {wanted}, but {package} {found} "
                "is installed: check pybtex.plugin.entry_points and "
                "sphinxcontrib.bibtex.domain.BibtexDomain.env_updated, then update WRITTEN_FOR"
            )


def _patch() -> None:
    import pybtex.plugin
    from sphinxcontrib.bibtex.domain import BibtexDomain

    if getattr(pybtex.plugin.entry_points, "cheatsheet_patched", False):
        return
    entry_points = pybtex.plugin.entry_points

    @functools.lru_cache(maxsize=None)
    def installed_entry_points(**selection):
        return tuple(entry_points(**selection))

    installed_entry_points.cheatsheet_patched = True
    pybtex.plugin.entry_points = installed_entry_points

    format_citations = BibtexDomain.env_updated

    def env_updated_when_needed(self):
        if self.citations and not _docs_read.get(self.env, True):
            return []
        return format_citations(self)

    BibtexDomain.env_updated = env_updated_when_needed


def _on_env_before_read_docs(app, env, docnames):
    _docs_read[env] = bool(docnames)


def setup(app):
    check_versions()
    app.setup_extension("sphinxcontrib.bibtex")
    _patch()
    app.connect("env-before-read-docs", _on_env_before_read_docs)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
