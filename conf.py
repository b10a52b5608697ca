"""Sphinx configuration of the neural-network layers cheat-sheet.

Besides the usual settings, this file holds the few build hooks that keep the site true
to the code in ``code/``:

* every ``>>>`` example of a page is run with :mod:`doctest` when the page is read, and a
  mismatch is a build warning (an error under ``-W``);
* pages that run or show code from ``code/`` are re-read when ``code/*.py`` changes, and
  executed pages use a jupyter cache keyed by a hash of ``code/*.py``, so their outputs
  and figures are never older than the code;
* the role ``:computed:`` (``{computed}`` in MyST) evaluates a Python expression against
  ``code/layers.py`` at build time, so concrete numbers on the landing page come from code
  that ran during the build.
"""

from __future__ import annotations

import configparser
import doctest
import functools
import hashlib
import io
import os
import re
import shutil
import sys
import warnings
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

ROOT = Path(__file__).parent.resolve()
CODE = ROOT / "code"

# The Sphinx process imports code/ for the doctest check and the :computed: role.
sys.path.insert(0, str(CODE))
# Executed notebooks run in a kernel that inherits os.environ, not sys.path: put code/ on
# PYTHONPATH here too, so that a bare `sphinx-build` (Read the Docs, sphinx-autobuild)
# works like `make html`.
_pythonpath = os.environ.get("PYTHONPATH", "").split(os.pathsep)
if str(CODE) not in _pythonpath:
    os.environ["PYTHONPATH"] = os.pathsep.join([str(CODE), *filter(None, _pythonpath)])
# The Makefile exports MPLBACKEND=Agg for the tests. A kernel started with it would draw
# into Agg and show no figure, so the kernels get matplotlib-inline's default instead.
os.environ.pop("MPLBACKEND", None)
# Kernel settings shared by every executed page: figures as SVG (sharp on any screen and
# in print). Written into the build folder, which the kernels use as their IPython home.
_IPYTHONDIR = ROOT / "_build" / "ipython"
_KERNEL_CONFIG = (
    "c.InlineBackend.figure_formats = {'svg'}\n"
    # the kernel's own start-up notices (not cell output) would clutter every build log
    "c.IPKernelApp.log_level = 'ERROR'\n"
)
_kernel_config_file = _IPYTHONDIR / "profile_default" / "ipython_kernel_config.py"
if not _kernel_config_file.is_file() or _kernel_config_file.read_text() != _KERNEL_CONFIG:
    _kernel_config_file.parent.mkdir(parents=True, exist_ok=True)
    _kernel_config_file.write_text(_KERNEL_CONFIG)
os.environ["IPYTHONDIR"] = str(_IPYTHONDIR)

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
]

exclude_patterns = [
    "_build",
    ".venv",
    "venv",
    ".git",
    ".ci",
    ".github",
    ".pytest_cache",
    ".jupyter_cache",
    "**/.ipynb_checkpoints",
    "node_modules",
    "README.md",
    "**/README.md",
    "code",
    "tests",
    "tools",
    "bench",
    "Thumbs.db",
    ".DS_Store",
]

numfig = True
numfig_format = {"figure": "Figure %s", "table": "Table %s", "code-block": "Listing %s"}
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
# nb_execution_cache_path is set per build (see _use_code_keyed_cache): a folder named by
# the hash of code/*.py beside the output folder.

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
html_show_sourcelink = True
html_copy_source = True
html_last_updated_fmt = None
# No index entries on this site: skip the empty general index page.
html_use_index = False
# Readable in both themes and meeting WCAG AA contrast (axe checks it).
pygments_style = "a11y-high-contrast-light"
pygments_dark_style = "a11y-high-contrast-dark"
html_theme_options = {
    "source_repository": "",
    "navigation_with_keys": True,
}

# sphinx-copybutton: copy the code without `>>> ` / `... ` prompts and without the output.
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
copybutton_only_copy_prompt_lines = True
copybutton_remove_prompts = True

# -- Math, offline -------------------------------------------------------------------
# MathJax 4 is copied by `make mathjax` (tools/mathjax-assets.sh) from npm into
# _build/mathjax-static/mathjax, which Sphinx copies to _static/mathjax. Nothing is loaded
# from another host: the fonts path points into the same local folder.

MATHJAX_STATIC = ROOT / "_build" / "mathjax-static"
html_static_path.append(str(MATHJAX_STATIC))
mathjax_path = "mathjax/tex-chtml.js"
mathjax4_config = {"loader": {"paths": {"fonts": "[mathjax]/fonts"}}}


# -- Speed of a rebuild with nothing changed ------------------------------------------
# sphinxcontrib-bibtex formats every bibliography on every build, and pybtex looks each
# style plugin up among the installed entry points every time (about 1 s of a 2.5 s no-change
# rebuild). The installed entry points do not change during a build: look each up once.
import pybtex.plugin  # noqa: E402

_entry_points = pybtex.plugin.entry_points


@functools.lru_cache(maxsize=None)
def _installed_entry_points(**selection):
    return tuple(_entry_points(**selection))


pybtex.plugin.entry_points = _installed_entry_points

# ... and when no page was read, the formatted citations restored with the environment are
# still those of the current sources: skip formatting them again (another 0.5 s).
from sphinxcontrib.bibtex.domain import BibtexDomain  # noqa: E402

_format_citations = BibtexDomain.env_updated


def _env_updated_when_needed(self):
    if self.citations and not getattr(self.env, "cheatsheet_docs_read", True):
        return []
    return _format_citations(self)


BibtexDomain.env_updated = _env_updated_when_needed


# -- Build hooks ---------------------------------------------------------------------

logger = logging.getLogger("cheatsheet")


def code_hash() -> str:
    """A short hash of every ``code/*.py``: the key of the execution cache."""
    digest = hashlib.sha256()
    for path in sorted(CODE.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


CODE_HASH = code_hash()

# What makes a page depend on code/: it executes cells, shows doctest examples, includes
# a file from code/, imports the layers module or computes values from it.
_USES_CODE = re.compile(
    r"```\{code-cell\}|^\s*>>> |\.\./code/|code/layers\.py|\bimport layers\b"
    r"|\bfrom layers import\b|[:{](computed|layer-example)[:}]",
    re.MULTILINE,
)


def _check_mathjax_assets(app):
    entry = MATHJAX_STATIC / "mathjax" / "tex-chtml.js"
    if app.builder.format == "html":
        if not entry.is_file():
            from sphinx.errors import ConfigError

            raise ConfigError(
                f"the offline MathJax copy is missing ({entry.relative_to(ROOT)}): "
                "run `make mathjax` (or `make html`, which does it)"
            )


def _use_code_keyed_cache(app):
    """Point myst-nb's jupyter cache at a folder named by the hash of code/*.py.

    jupyter-cache keys a notebook on its cells' source only; keying the folder on the
    code as well means an edit to code/ re-executes the executed pages, while a rebuild
    with nothing changed finds every notebook in the cache. Older folders are pruned.
    """
    env = app.env
    base = Path(app.outdir).parent / ".jupyter_cache"
    path = base / CODE_HASH
    env.mystnb_config = env.mystnb_config.copy(execution_cache_path=str(path))
    if base.is_dir():
        others = sorted(
            (p for p in base.iterdir() if p.is_dir() and p.name != CODE_HASH),
            key=lambda p: p.stat().st_mtime,
        )
        for old in others[:-2]:  # keep the two most recent others, for quick reverts
            shutil.rmtree(old, ignore_errors=True)


def _pytest_doctest_flags() -> int:
    """The doctest option flags pytest uses (pytest.ini), so both checks agree."""
    flags = 0
    parser = configparser.ConfigParser()
    parser.read(ROOT / "pytest.ini")
    names = parser.get("pytest", "doctest_optionflags", fallback="").split()
    for name in names:
        flags |= doctest.OPTIONFLAGS_BY_NAME[name]
    return flags


DOCTEST_FLAGS = _pytest_doctest_flags()


def run_page_doctests(text: str, name: str) -> tuple[int, int, str]:
    """Run every ``>>>`` example of a page in one fresh namespace, as pytest does.

    Returns (failed, attempted, report).
    """
    parser = doctest.DocTestParser()
    test = parser.get_doctest(text, {"__name__": "__main__"}, name, name, 0)
    if not test.examples:
        return 0, 0, ""
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=DOCTEST_FLAGS, verbose=False)
    cwd = os.getcwd()
    with warnings.catch_warnings():
        # as pytest.ini: a numpy warning in an example is a failure
        warnings.simplefilter("error", RuntimeWarning)
        try:
            runner.run(test, out=out.write, clear_globs=True)
        finally:
            os.chdir(cwd)
            import matplotlib.pyplot as plt  # an example may leave figures open

            plt.close("all")
    result = runner.summarize(verbose=False)
    return result.failed, result.attempted, out.getvalue()


def _on_source_read(app, docname, source):
    env = app.env
    text = source[0]
    path = env.doc2path(docname)
    code_docs = env.cheatsheet_code_docs
    if _USES_CODE.search(text):
        code_docs.add(docname)
        for py in sorted(CODE.glob("*.py")):
            env.note_dependency(str(py))
    else:
        code_docs.discard(docname)

    if ">>>" not in text:
        return
    failed, attempted, report = run_page_doctests(text, str(path))
    if failed:
        env.cheatsheet_failed_docs.add(docname)
        logger.warning(
            "%d of %d doctest examples failed:\n%s",
            failed,
            attempted,
            report,
            location=docname,
            type="cheatsheet",
            subtype="doctest",
        )
    else:
        logger.info("%s: %d doctest examples passed", docname, attempted)


def _on_env_before_read_docs(app, env, docnames):
    env.cheatsheet_docs_read = bool(docnames)
    if not hasattr(env, "cheatsheet_code_docs"):
        env.cheatsheet_code_docs = set()
    if not hasattr(env, "cheatsheet_failed_docs"):
        env.cheatsheet_failed_docs = set()
    for docname in docnames:
        env.cheatsheet_failed_docs.discard(docname)


def _on_env_get_outdated(app, env, added, changed, removed):
    """Re-read pages that use code/ when code/*.py changed, and pages that failed."""
    for attr in ("cheatsheet_code_docs", "cheatsheet_failed_docs"):
        if not hasattr(env, attr):
            setattr(env, attr, set())
    extra = set(env.cheatsheet_failed_docs)
    if getattr(env, "cheatsheet_code_hash", None) != CODE_HASH:
        extra |= env.cheatsheet_code_docs
    env.cheatsheet_code_hash = CODE_HASH
    return sorted(d for d in extra if d in env.found_docs and d not in added | changed)


def _on_env_purge_doc(app, env, docname):
    for attr in ("cheatsheet_code_docs", "cheatsheet_failed_docs"):
        getattr(env, attr, set()).discard(docname)


def _on_env_merge_info(app, env, docnames, other):
    for attr in ("cheatsheet_code_docs", "cheatsheet_failed_docs"):
        getattr(env, attr).update(getattr(other, attr, set()) & set(docnames))


# -- The :computed: role -------------------------------------------------------------


def _nparams(layer) -> int:
    """Number of trainable parameters of a layer (sum of its parameter array sizes)."""
    return int(sum(p.size for p in layer.params.values()))


def _outshape(layer, shape, dtype="float32"):
    """Output shape of ``layer`` for a zero input of ``shape``."""
    import numpy as np

    out = layer.forward(np.zeros(shape, dtype=dtype))
    if isinstance(out, tuple):  # recurrent layers return (output, state)
        out = out[0]
    return tuple(out.shape)


def _computed_namespace() -> dict:
    import numpy as np

    import layers

    namespace = {k: v for k, v in vars(layers).items() if not k.startswith("_")}
    namespace.update(np=np, nparams=_nparams, outshape=_outshape, layers=layers)
    namespace["__builtins__"] = __builtins__
    return namespace


def _format_value(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def computed_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:computed:`nparams(Linear(784, 256))``` is replaced by ``200,960``.

    The expression is evaluated at build time with every public name of
    ``code/layers.py``, ``np``, ``nparams(layer)`` and ``outshape(layer, shape)``.
    A layer that ``code/layers.py`` does not define yet renders as a visible
    "not yet in code/layers.py" (the site tests fail on it); any other error is a
    build warning.
    """
    env = inliner.document.settings.env
    env.cheatsheet_code_docs.add(env.docname)
    try:
        # one namespace as globals, so that lambdas and comprehensions see it too
        value = eval(text, _computed_namespace())  # noqa: S307
    except NameError as error:
        logger.info("computed %r: %s", text, error, location=(env.docname, lineno))
        return [nodes.emphasis(rawtext, "not yet in code/layers.py")], []
    except Exception as error:  # noqa: BLE001 - any failure of the code is reported
        msg = inliner.reporter.warning(
            f"computed role: {text!r} raised {type(error).__name__}: {error}", line=lineno
        )
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    return [nodes.Text(_format_value(value))], []


_EXAMPLE = re.compile(r"\s*(?P<layer>.+?)\s+@\s+(?P<shape>\(.*?\))(?:\s+as\s+(?P<dtype>\w+))?\s*")


def layer_example_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:layer-example:`Conv2d(3, 16, 3) @ (8, 3, 32, 32)``` runs the layer at build time.

    Renders ``Conv2d(3, 16, 3)``: (8, 3, 32, 32) → (8, 16, 30, 30), 448 parameters, where
    the output shape and the parameter count come from a forward pass of ``code/layers.py``
    on zeros of the given shape (``... as int64`` for integer inputs).
    """
    env = inliner.document.settings.env
    env.cheatsheet_code_docs.add(env.docname)
    match = _EXAMPLE.fullmatch(text)
    if match is None:
        msg = inliner.reporter.warning(
            f"layer-example: expected 'Layer(...) @ (shape)[ as dtype]', got {text!r}",
            line=lineno,
        )
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    try:
        layer = eval(match["layer"], _computed_namespace())  # noqa: S307
        shape = eval(match["shape"], {"__builtins__": {}}, {})  # noqa: S307
        out = _outshape(layer, shape, match["dtype"] or "float32")
        count = _nparams(layer)
    except NameError as error:
        logger.info("layer-example %r: %s", text, error, location=(env.docname, lineno))
        return [nodes.literal(rawtext, match["layer"]), nodes.Text(": "),
                nodes.emphasis(rawtext, "not yet in code/layers.py")], []
    except Exception as error:  # noqa: BLE001 - any failure of the code is reported
        msg = inliner.reporter.warning(
            f"layer-example: {text!r} raised {type(error).__name__}: {error}", line=lineno
        )
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    result = [
        nodes.literal(rawtext, match["layer"]),
        nodes.Text(f": {_format_shape(shape)} → {_format_shape(out)}"),
    ]
    if count:
        result.append(nodes.Text(f", {count:,} parameters"))
    return result, []


def _format_shape(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _prune_stale_images(app, exception):
    """Delete figures of earlier builds from _images.

    An executed page that changes writes its figures under new names; Sphinx never removes
    the old ones, and after a few edits of code/ the site would carry every old figure.
    """
    if exception is not None or app.builder.format != "html":
        return
    images = Path(app.outdir) / "_images"
    if not images.is_dir():
        return
    keep = {unique_name for _docnames, unique_name in app.env.images.values()}
    for path in images.iterdir():
        if path.is_file() and path.name not in keep:
            path.unlink()


# -- Accessibility fixes of the generated HTML ----------------------------------------
# axe-core (tests/test_browser.py) flags three patterns that Sphinx, docutils and the
# copy-button produce on every page; the replacements keep the markup and add what is missing.
_A11Y_REPLACEMENTS = [
    # toctree captions are headings without a level
    ('<p class="caption" role="heading">', '<p class="caption" role="heading" aria-level="2">'),
    # a role="list" must contain list items; doc-biblioentry is deprecated in DPUB-ARIA 1.1
    ('role="doc-biblioentry"', 'role="listitem"'),
    # code blocks scroll sideways when long: they must be reachable with the keyboard
    ('<div class="highlight"><pre>', '<div class="highlight"><pre tabindex="0">'),
    # so do wide tables, in Furo's scrolling wrapper
    ('<div class="table-wrapper', '<div tabindex="0" class="table-wrapper'),
]


def _accessibility_fixes(app, pagename, templatename, context, doctree):
    for key in ("body", "furo_navigation_tree"):
        html = context.get(key)
        if isinstance(html, str):
            for old, new in _A11Y_REPLACEMENTS:
                html = html.replace(old, new)
            context[key] = html


def setup(app):
    app.connect("html-page-context", _accessibility_fixes, priority=900)
    app.connect("build-finished", _prune_stale_images)
    app.connect("builder-inited", _check_mathjax_assets)
    app.connect("builder-inited", _use_code_keyed_cache, priority=900)
    app.connect("env-before-read-docs", _on_env_before_read_docs)
    app.connect("env-get-outdated", _on_env_get_outdated)
    app.connect("env-purge-doc", _on_env_purge_doc)
    app.connect("env-merge-info", _on_env_merge_info)
    app.connect("source-read", _on_source_read)
    app.add_role("computed", computed_role)
    app.add_role("layer-example", layer_example_role)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
