"""Sphinx configuration of the neural-network layers cheat-sheet: settings only.

The build code lives in ``sphinxext/``, one extension per concern (each module's docstring
says what it does and why):

* ``kernel_env``: ``code/`` importable by the build and the kernels; SVG figures in one
  style whose text stays legible at the width the site shows them;
* ``codekey``: which classes of ``code/`` each page uses; a page is re-read when their
  source changes, not on any edit of ``code/``;
* ``execution_cache``: an execution cache per page, keyed by the classes its cells use;
* ``page_doctests``: every ``>>>`` example of a page runs when the page is read;
* ``computed_roles``: ``{computed}`` and ``{layer-example}``, numbers computed at build time;
* ``code_download``: ``code/layers.py`` served with a line-numbered view, linked from pages;
* ``html_fixes``: accessibility fixes, stale figures pruned, offline MathJax checked;
* ``figures``: figure and equation numbers per page, figures open at full size, wide
  equations scroll beside their number, equation links land after MathJax;
* ``bibtex_speedups``: faster no-change rebuilds of the bibliographies (pinned versions);
* ``tab_sync``: the PyTorch/Keras tabs synchronised, the choice remembered across pages.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).parent.resolve()
sys.path.insert(0, str(ROOT))  # sphinxext/

# -- Project -------------------------------------------------------------------------

project = "Neural-network layers cheat-sheet"
author = "the layers cheat-sheet contributors"
copyright = "2025, " + author
language = "en"

extensions = [
    "myst_nb",  # registers myst_parser itself
    "sphinx.ext.mathjax",
    "sphinxcontrib.bibtex",
    "sphinx_copybutton",
    "sphinx_design",
    "sphinxext.kernel_env",
    "sphinxext.codekey",
    "sphinxext.execution_cache",
    "sphinxext.page_doctests",
    "sphinxext.computed_roles",
    "sphinxext.code_download",
    "sphinxext.html_fixes",
    "sphinxext.figures",
    "sphinxext.bibtex_speedups",
    "sphinxext.tab_sync",
]

# Not pages: build output, environments (.venv* also covers side environments such as
# .venv-np126), caches, the code and tests, and the READMEs.
exclude_patterns = [
    "_build", ".venv*", "venv", ".git", ".ci", ".github", ".pytest_cache", ".jupyter_cache",
    "**/.ipynb_checkpoints", "node_modules", "README.md", "**/README.md", "code", "tests",
    "tools", "bench", "sphinxext", "Thumbs.db", ".DS_Store",
]

numfig = True
numfig_format = {"figure": "Figure %s", "table": "Table %s", "code-block": "Listing %s"}
# Labelled equations are numbered with the figures (math_numfig); sphinxext.figures makes
# both count from 1 on each page.
math_numfig = True
nitpicky = True
# The same key cited on several pages appears in each page's own bibliography, and the
# citations resolve to the bibliography of their own page first: not a real duplicate.
# For the same reason, label [1] of one page and label [1] of another are not a clash.
suppress_warnings = ["bibtex.duplicate_citation", "bibtex.duplicate_label"]

# -- MyST and myst-nb ----------------------------------------------------------------

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

nb_execution_mode = "cache"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 600
nb_merge_streams = True
# The cache folder is set per page by sphinxext.execution_cache:
# _build/.jupyter_cache/<page>/<hash of the code its cells use>.

# -- Citations -----------------------------------------------------------------------

bibtex_bibfiles = ["references.bib"]
bibtex_default_style = "unsrt"
bibtex_reference_style = "author_year"

# -- HTML ----------------------------------------------------------------------------

html_theme = "furo"
html_title = "Layers cheat-sheet"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_css_files = ["cheatsheet.css", ("print.css", {"media": "print"})]
# The landing table's scroll hint and script sizes: after the MathJax configuration (501).
html_js_files = [("cheatsheet.js", {"priority": 501})]
html_show_sourcelink = True
html_copy_source = True
html_last_updated_fmt = None
# No index entries on this site: skip the empty general index page.
html_use_index = False
# Readable in both themes and meeting WCAG AA contrast (axe checks it).
pygments_style = "a11y-high-contrast-light"
pygments_dark_style = "a11y-high-contrast-dark"
html_theme_options = {"source_repository": "", "navigation_with_keys": True}

# sphinx-copybutton: copy the code without `>>> ` / `... ` prompts and without the output.
# A bare `...` line (the blank line that closes a `for` or `def` in a doctest) is a prompt
# too: copied as an empty line, it closes the block when pasted into `python`.
copybutton_prompt_text = r">>> |\.\.\.(?: |$)|\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True

# -- Math, offline -------------------------------------------------------------------
# MathJax 4 is copied by `make mathjax` (tools/mathjax-assets.sh) from npm into
# _build/mathjax-static/mathjax, which Sphinx copies to _static/mathjax. Nothing is loaded
# from another host: the fonts path points into the same local folder.

html_static_path.append(str(ROOT / "_build" / "mathjax-static"))
# The loader and the components a page needs, not the combined tex-chtml.js: that one brings
# the menu, speech and Braille generation and the explorer (2.2 MB on a first visit instead
# of 0.7 MB). Screen readers read the assistive MathML instead (tests/test_browser_weight.py).
mathjax_path = "mathjax/startup.js"
mathjax4_config = {
    "loader": {
        "load": ["input/tex", "output/chtml", "a11y/assistive-mml"],
        "paths": {"fonts": "[mathjax]/fonts"},
    },
}

# -- Search ----------------------------------------------------------------------------
# Pages whose title or section titles hold the query words rank first (the scorer's
# comment gives the weights); dotted identifiers such as nn.CrossEntropyLoss are indexed and
# searched whole (sphinxext/html_fixes.py, which also strips TeX from the result excerpts).
html_search_scorer = "_static/search-scorer.js"
html_search_options = {"dotted_identifiers": "yes"}
