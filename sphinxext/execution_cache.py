"""An execution cache per page, named by the key of the code its cells use.

jupyter-cache (myst-nb's ``nb_execution_mode = "cache"``) keys a notebook on the source of
its cells only: an edit to ``code/layers.py`` would not re-execute anything. Each executed
page therefore gets its own cache folder, ``<build>/.jupyter_cache/<page>/<exec_key>``, where
``exec_key`` (:mod:`sphinxext.codekey`) hashes the source of the classes its cells use,
followed by a hash of the kernels' configuration (:mod:`sphinxext.kernel_env`: the figure
style), so a change of the style redraws every figure. An
edit to one class re-executes only the pages whose cells use it (a new kernel profile: every
executed page, once); a rebuild with nothing
changed executes nothing; a page's previous folder is kept, so undoing an edit is free.
One folder per page also means parallel readers (``-j``) never share a cache database.

myst-nb reads ``env.mystnb_config`` when it parses a page, right after ``source-read``:
that is where the folder is set. Written for myst-nb 1.4.0 (checked at start-up).
"""

from __future__ import annotations

import shutil
from importlib.metadata import version
from pathlib import Path

from sphinx.errors import ExtensionError

from . import codekey, kernel_env

MYST_NB_VERSION = "1.4.0"
KEEP_PREVIOUS = 1  # earlier keys kept per page, for quick reverts


def cache_root(app) -> Path:
    return Path(app.outdir).parent / ".jupyter_cache"


def _page_folder(app, docname: str) -> Path:
    return cache_root(app) / docname.replace("/", "--")


def _folder_key(app, docname: str) -> str:
    """The cache folder of a page: the key of its code, then that of the kernel profile."""
    code = codekey.exec_key(app.env, docname) or "no-code"
    return f"{code}-k{kernel_env.kernel_config_key()}"


def _on_source_read(app, docname, source):
    path = _page_folder(app, docname) / _folder_key(app, docname)
    app.env.mystnb_config = app.env.mystnb_config.copy(execution_cache_path=str(path))


def _on_env_get_outdated(app, env, added, changed, removed):
    """A new kernel profile (figure style) makes every page outdated, once: Sphinx does not
    re-read pages when an extension changes, and the cache folder is chosen on reading."""
    current = kernel_env.kernel_config_key()
    previous = getattr(env, "kernel_config_key", None)
    env.kernel_config_key = current
    if previous == current:
        return []
    return sorted(env.found_docs - added - changed)


def _prune(app, exception):
    """Keep per page its current folder and the most recent earlier ones."""
    root = cache_root(app)
    if exception is not None or not root.is_dir():
        return
    for folder in root.iterdir():
        if (folder / "global.db").is_file():  # one cache for all pages: an older layout
            shutil.rmtree(folder, ignore_errors=True)
    for docname in app.env.found_docs:
        folder = _page_folder(app, docname)
        if not folder.is_dir():
            continue
        current = _folder_key(app, docname)
        others = sorted((p for p in folder.iterdir() if p.is_dir() and p.name != current),
                        key=lambda p: p.stat().st_mtime, reverse=True)
        for old in others[KEEP_PREVIOUS:]:
            shutil.rmtree(old, ignore_errors=True)


def setup(app):
    found = version("myst-nb")
    if found != MYST_NB_VERSION:
        raise ExtensionError(
            f"sphinxext.execution_cache sets myst-nb's cache folder per page the way myst-nb "
            f"{MYST_NB_VERSION} reads it; myst-nb {found} is installed: check "
            "myst_nb/sphinx_.py (MystNbParser.parse) and update MYST_NB_VERSION"
        )
    app.setup_extension("myst_nb")
    app.setup_extension("sphinxext.codekey")
    # after codekey's source-read (priority 400), which computes the key
    app.connect("source-read", _on_source_read, priority=600)
    app.connect("env-get-outdated", _on_env_get_outdated)
    app.connect("build-finished", _prune)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
