"""Fixes of the generated HTML: accessibility, stale figures, the offline MathJax copy.

* axe-core (``tests/test_browser.py``) flags four patterns that Sphinx, docutils, Furo and
  the copy button produce on every page; the replacements keep the markup and add what is
  missing.
* An executed page that changes writes its figures under new names and Sphinx never
  removes the old ones: after a few edits of ``code/`` the site would carry every old figure.
  Figures no page uses are deleted from ``_images`` after a successful build.
* Math is typeset by a local MathJax (``make mathjax``); building without it would publish
  pages with no math, so the HTML builder stops with a clear message instead.
* Search: dotted identifiers (``nn.CrossEntropyLoss``) are indexed and searched as one word,
  so such a query finds only the pages that contain it, and the search page loads
  ``_static/search-summary.js``, which turns the TeX of the result excerpts into text. The
  ranking is ``_static/search-scorer.js`` (``html_search_scorer`` in conf.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import sphinx
from sphinx.errors import ConfigError, ExtensionError
from sphinx.search.en import SearchEnglish

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


class SearchEnglishIdentifiers(SearchEnglish):
    """English search that also indexes dotted identifiers as whole words.

    Sphinx splits ``nn.CrossEntropyLoss`` into ``nn`` and ``crossentropyloss`` and then
    drops ``nn`` from the query as too short, so the query found every page that mentions
    CrossEntropyLoss or nn. Here the text also yields every dotted run of two or more parts
    (``torch.nn.MSELoss`` gives ``torch.nn.mseloss``, ``torch.nn`` and ``nn.mseloss``), and
    the query keeps a dotted identifier whole (``js_splitter_code``), so it matches only the
    pages that contain it. Stemming is Sphinx's, the same on both sides.
    """

    _ident_re = re.compile(r"[^\W\d]\w*(?:\.[^\W\d]\w*)+")
    js_splitter_code = r"""
function splitQuery(query) {
  // Dotted identifiers (nn.CrossEntropyLoss) stay whole: sphinxext/html_fixes.py indexes them.
  const identifiers = [];
  const rest = query.replace(/[\p{Letter}_][\p{Letter}\p{Number}_]*(?:\.[\p{Letter}_][\p{Letter}\p{Number}_]*)+/gu,
                             (identifier) => { identifiers.push(identifier); return " "; });
  return identifiers.concat(
    rest.split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu).filter((term) => term));
}
"""

    def __init__(self, options: dict[str, str]) -> None:
        super().__init__(options)
        # on with html_search_options = {"dotted_identifiers": "yes"} (conf.py); a change of
        # that 'html' option makes Sphinx rewrite every page, and so re-index it
        self.identifiers = options.get("dotted_identifiers") == "yes"
        if not self.identifiers:
            self.js_splitter_code = ""

    def split(self, input: str) -> list[str]:
        words = super().split(input)
        if not self.identifiers:
            return words
        for match in self._ident_re.finditer(input):
            parts = match.group().split(".")
            words.extend(
                ".".join(parts[start:stop])
                for start in range(len(parts))
                for stop in range(start + 2, len(parts) + 1)
            )
        return words


# search-summary.js wraps Search.htmlToText of Sphinx's searchtools.js; read that file again
# (and the Scorer of search-scorer.js) before changing this.
SEARCHTOOLS_CHECKED = (9, 0)


def search_page_scripts(app, pagename, templatename, context, doctree):
    if pagename == "search" and app.builder.format == "html":
        if sphinx.version_info[:2] != SEARCHTOOLS_CHECKED:
            raise ExtensionError(
                f"_static/search-summary.js was written against Sphinx "
                f"{'.'.join(map(str, SEARCHTOOLS_CHECKED))}'s searchtools.js; this is Sphinx "
                f"{sphinx.__version__}: check Search.htmlToText and update SEARCHTOOLS_CHECKED"
            )
        # defer: runs after searchtools.js, which the search template loads after these
        app.add_js_file("search-summary.js", defer="defer")


def setup(app):
    app.add_search_language(SearchEnglishIdentifiers)
    app.connect("html-page-context", accessibility_fixes, priority=900)
    app.connect("html-page-context", search_page_scripts)
    app.connect("build-finished", prune_stale_images)
    app.connect("builder-inited", check_mathjax_assets)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
