"""Fixes of the generated HTML: accessibility, stale figures, the offline MathJax copy.

* axe-core (``tests/test_browser.py``) flags four patterns that Sphinx, docutils, Furo and
  the copy button produce on every page; the replacements keep the markup and add what is
  missing.
* An executed page that changes writes its figures under new names and Sphinx never
  removes the old ones: after a few edits of ``code/`` the site would carry every old figure.
  Figures no page uses are deleted from ``_images`` after a successful build.
* Math is typeset by a local MathJax (``make mathjax``); building without it would publish
  pages with no math, so the HTML builder stops with a clear message instead.
"""

from __future__ import annotations

from pathlib import Path

from sphinx.errors import ConfigError

A11Y_REPLACEMENTS = [
    # toctree captions are headings without a level
    ('<p class="caption" role="heading">', '<p class="caption" role="heading" aria-level="2">'),
    # a role="list" must contain list items; doc-biblioentry is deprecated in DPUB-ARIA 1.1
    ('role="doc-biblioentry"', 'role="listitem"'),
    # code blocks scroll sideways when long: they must be reachable with the keyboard
    ('<div class="highlight"><pre>', '<div class="highlight"><pre tabindex="0">'),
    # so do wide tables, in Furo's scrolling wrapper
    ('<div class="table-wrapper', '<div tabindex="0" class="table-wrapper'),
]


def accessibility_fixes(app, pagename, templatename, context, doctree):
    for key in ("body", "furo_navigation_tree"):
        html = context.get(key)
        if isinstance(html, str):
            for old, new in A11Y_REPLACEMENTS:
                html = html.replace(old, new)
            context[key] = html


def prune_stale_images(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    images = Path(app.outdir) / "_images"
    if not images.is_dir():
        return
    keep = {unique_name for _docnames, unique_name in app.env.images.values()}
    for path in images.iterdir():
        if path.is_file() and path.name not in keep:
            path.unlink()


def check_mathjax_assets(app):
    """The local ``mathjax_path`` must be in one of the ``html_static_path`` folders."""
    if app.builder.format != "html" or "://" in app.config.mathjax_path:
        return
    confdir = Path(app.confdir)
    for folder in app.config.html_static_path:
        if (confdir / folder / app.config.mathjax_path).is_file():
            return
    raise ConfigError(
        f"the offline MathJax copy ({app.config.mathjax_path}) is in none of "
        f"html_static_path {app.config.html_static_path}: run `make mathjax` "
        "(or `make html`, which does it)"
    )


def setup(app):
    app.connect("html-page-context", accessibility_fixes, priority=900)
    app.connect("build-finished", prune_stale_images)
    app.connect("builder-inited", check_mathjax_assets)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
