"""A reader can get ``layers.py``, find each class in it, and follow every link of the site.

On the built site (``_build/html``, or ``LAYERS_SITE``):

* every layer page links to a download of ``code/layers.py``, and the served file is
  byte-identical to ``code/layers.py``;
* every class (or function) a page includes whole has a "Source: layers.py, lines a–b"
  line: the numbers are those of the current ``code/layers.py``, the included code is those
  lines, and the link lands on the line ``class Name`` of the served view ``code/layers.html``;
* every local ``href``/``src`` of every built page (``a``, ``img``, ``link``, ``script``)
  names a file of the built site, and its fragment, if any, an ``id`` of that page;
* the anatomy page says how to get the file and run its doctests, and what it says works
  with numpy and scipy alone; no page cites a file the site does not serve.

Then the extension itself (``sphinxext/code_download.py``), on a tiny project built with
``sphinx.testing``: line numbers follow an edit of ``layers.py`` that moves a class, even
when the page is not read again.
"""

from __future__ import annotations

import ast
import doctest
import html
import posixpath
import re
import subprocess
import sys
import textwrap
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from browserkit import HTML, server, site  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after code/, so that `layers` stays code/layers.py

from sphinxext import code_download  # noqa: E402

pytest_plugins = ["sphinx.testing.fixtures"]

CODE = ROOT / "code" / "layers.py"
PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
               if not p.relative_to(HTML).parts[0].startswith("_"))
LAYER_PAGES = [p for p in PAGES if p.startswith("layers/")]
SOURCE_PAGES = sorted(p for p in PAGES if (ROOT / p).with_suffix(".md").is_file())

_SOURCE_LINE = re.compile(
    r'<pre[^>]*>(?P<code>(?:(?!<pre).)*?)</pre></div>\s*</div>\s*'
    r'<p class="code-source">Source: <a class="reference internal" '
    r'href="(?P<href>[^"]+)">layers\.py, lines (?P<first>\d+)\u2013(?P<last>\d+)</a>',
    re.DOTALL,
)
_DOWNLOAD = re.compile(r'<a [^>]*\bdownload=""[^>]*href="(?P<href>[^"]+)"|'
                       r'<a [^>]*href="(?P<href2>[^"]+)"[^>]*\bdownload=""')
_INCLUDE = re.compile(r"```\{literalinclude\}\s+(\S+)\s*\n((?::[^\n]*\n)*)")


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def _resolve(page: str, href: str) -> tuple[str, str]:
    """(path in the site, fragment) of a local link of ``page``."""
    parts = urlsplit(href)
    if not parts.path:
        return page, unquote(parts.fragment)
    path = posixpath.normpath(posixpath.join(posixpath.dirname(page), unquote(parts.path)))
    if parts.path.endswith("/"):
        path += "/index.html"
    return path.removeprefix("./"), unquote(parts.fragment)


def _view_lines() -> dict[str, tuple[int, str]]:
    """{id: (line number, text of the line)} of the served view code/layers.html."""
    view = (HTML / "code" / "layers.html").read_text(encoding="utf-8")
    ids = {}
    for match in re.finditer(r'<span id="L(\d+)">(.*?)</span>$', view, re.MULTILINE):
        number, line = int(match[1]), match[2]
        ids[f"L{number}"] = (number, _text(line))
        for anchor in re.findall(r'<span class="code-anchor" id="([^"]+)"></span>', line):
            ids[html.unescape(anchor)] = (number, _text(line))
    return ids


# -- the download ------------------------------------------------------------------------


def test_there_are_layer_pages():
    assert len(LAYER_PAGES) >= 20, LAYER_PAGES


@pytest.mark.parametrize("page", LAYER_PAGES)
def test_layer_page_links_a_download_of_layers_py(page, server):
    text = (HTML / page).read_text(encoding="utf-8")
    hrefs = {m["href"] or m["href2"] for m in _DOWNLOAD.finditer(text)}
    targets = {_resolve(page, h)[0] for h in hrefs}
    assert "code/layers.py" in targets, f"{page}: download links {sorted(hrefs)}"
    with urllib.request.urlopen(server + "code/layers.py", timeout=30) as response:
        assert response.read() == CODE.read_bytes(), "the served layers.py is not code/layers.py"


# -- the source lines ----------------------------------------------------------------------


def _class_includes(page: str) -> list[str]:
    source = (ROOT / page).with_suffix(".md").read_text(encoding="utf-8")
    names = []
    for path, options in _INCLUDE.findall(source):
        pyobject = re.search(r":pyobject:\s*(\S+)", options)
        if path.endswith("code/layers.py") and pyobject and "." not in pyobject[1]:
            names.append(pyobject[1])
    return names


@pytest.mark.parametrize("page", SOURCE_PAGES)
def test_each_whole_class_shown_has_its_source_line(page):
    """One "Source" line per whole class or function of layers.py a page includes, with the
    lines of the current file, and the code shown above it is those lines."""
    text = (HTML / page).read_text(encoding="utf-8")
    found = list(_SOURCE_LINE.finditer(text))
    assert [_resolve(page, m["href"])[1] for m in found] == _class_includes(page)
    tree = ast.parse(CODE.read_text(encoding="utf-8"))
    where = {n.name: (n.lineno, n.end_lineno) for n in tree.body
             if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    lines = CODE.read_text(encoding="utf-8").splitlines()
    for match in found:
        path, name = _resolve(page, match["href"])
        assert path == "code/layers.html"
        first, last = int(match["first"]), int(match["last"])
        assert (first, last) == where[name], f"{page}: {name} is at lines {where[name]}"
        shown = _text(match["code"]).rstrip("\n")
        assert shown == "\n".join(lines[first - 1:last]), f"{page}: the code above is not {name}"


def test_every_source_link_lands_on_its_class():
    view = _view_lines()
    links = 0
    for page in PAGES:
        for href in re.findall(r'href="([^"]*code/layers\.html#[^"]+)"', (HTML / page).read_text()):
            path, name = _resolve(page, href)
            if path != "code/layers.html":
                continue
            links += 1
            assert name in view, f"{page}: {href} names no anchor of the view"
            if name.startswith("L") and name[1:].isdigit():
                continue
            keyword = "class" if name.split(".")[-1][:1].isupper() else "def"
            line = view[name][1].strip()
            assert line.startswith(f"{keyword} {name.split('.')[-1]}"), (page, href, line)
    assert links >= 60, f"only {links} source links"


def test_view_shows_every_line_of_layers_py():
    view = _view_lines()
    lines = CODE.read_text(encoding="utf-8").splitlines()
    assert [view[f"L{i}"][1] for i in range(1, len(lines) + 1)] == lines


# -- every link of the site ----------------------------------------------------------------


class _Links(HTMLParser):
    ATTRS = {"a": "href", "img": "src", "link": "href", "script": "src"}

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        url = attrs.get(self.ATTRS.get(tag, ""), None)
        if url is not None:
            self.links.append(url)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_every_local_link_of_the_site_resolves():
    parsed = {p.relative_to(HTML).as_posix(): _parse(p) for p in HTML.rglob("*.html")}
    checked, broken = 0, []
    for page, links in parsed.items():
        for url in links.links:
            if not url or re.match(r"^[a-z][a-z0-9+.-]*:", url, re.IGNORECASE):
                continue  # another host (refused by the browser tests), data:, mailto:
            path, fragment = _resolve(page, url)
            checked += 1
            if not (HTML / path).is_file():
                broken.append(f"{page}: {url} (no file {path})")
            elif fragment and path.endswith(".html") and fragment not in parsed[path].ids:
                broken.append(f"{page}: {url} (no id {fragment!r} in {path})")
    assert checked > 1000
    assert not broken, "\n".join(broken)


# -- how to run it -------------------------------------------------------------------------

UNSERVED = ["API.md", "STYLE.md", "TOOLCHAIN.md", "this repository"]


@pytest.mark.parametrize("page", PAGES)
def test_no_page_cites_a_file_the_site_does_not_serve(page):
    text = _text((HTML / page).read_text(encoding="utf-8"))
    assert not [s for s in UNSERVED if s in text]


def test_anatomy_page_says_how_to_run_it():
    text = (HTML / "layers" / "anatomy.html").read_text(encoding="utf-8")
    section = text[text.index('id="run-it-yourself"'):]
    section = section[:section.index("<section")]
    assert "python -m doctest -v layers.py" in _text(section)
    assert any(_resolve("layers/anatomy.html", m["href"] or m["href2"])[0] == "code/layers.py"
               for m in _DOWNLOAD.finditer(section))


def test_doctests_of_the_downloaded_file_pass_with_numpy_and_scipy(server, tmp_path):
    """As the anatomy page says: in a folder holding only the downloaded file, its doctests
    pass, and neither its code nor its examples import anything outside the standard
    library but numpy and scipy."""
    with urllib.request.urlopen(server + "code/layers.py", timeout=30) as response:
        source = response.read()
    (tmp_path / "layers.py").write_bytes(source)
    done = subprocess.run([sys.executable, "-m", "doctest", "-v", "layers.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert done.stdout.rstrip().endswith("Test passed."), done.stdout[-500:]
    attempted = int(re.search(r"(\d+) passed and 0 failed", done.stdout)[1])
    assert attempted > 100
    code = source.decode("utf-8")
    examples = "".join(e.source for e in doctest.DocTestParser().get_examples(code))
    imported = set()
    for tree in (ast.parse(code), ast.parse(examples)):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported |= {a.name.partition(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.partition(".")[0])
    assert imported - set(sys.stdlib_module_names) <= {"numpy", "scipy", "layers"}, imported


# -- the extension, on a tiny project --------------------------------------------------------

LAYERS = '''\
import numpy as np


class A:
    """A layer."""

    def forward(self, x):
        return x


def helper(x):
    return x


class B:
    def forward(self, x):
        return 2 * x
'''

CONF = f"""\
import sys
sys.path.insert(0, {str(ROOT)!r})
extensions = ["sphinxext.codekey", "sphinxext.code_download"]
exclude_patterns = ["_build", "code"]
"""

INDEX = """\
Tiny
====

.. toctree::

   a
   b
"""

PAGE_A = """\
A
=

.. literalinclude:: code/layers.py
   :pyobject: A

.. literalinclude:: code/layers.py
   :pyobject: helper

.. literalinclude:: code/layers.py
   :pyobject: B.forward

Get :code-file:`layers.py`, see :code-file:`B <layers.py#B>`.
"""

PAGE_B = """\
B
=

>>> from layers import B, helper
>>> B().forward(1)
2
"""


@pytest.fixture
def project(tmp_path):
    src = tmp_path / "site"
    (src / "code").mkdir(parents=True)
    (src / "code" / "layers.py").write_text(LAYERS)
    (src / "conf.py").write_text(CONF)
    (src / "index.rst").write_text(INDEX)
    (src / "a.rst").write_text(PAGE_A)
    (src / "b.rst").write_text(PAGE_B)
    return src


def _build(make_app, src):
    app = make_app("html", srcdir=src)
    read = []
    app.connect("env-before-read-docs", lambda app, env, docnames: read.extend(docnames))
    app.build()
    return app, set(read), app.warning.getvalue()


def _lines(source: str, first: str) -> str:
    """'lines a–b' of the definition starting with the line ``first``, found by text."""
    lines = source.splitlines()
    start = lines.index(first) + 1
    end = start
    while end < len(lines) and (not lines[end] or lines[end].startswith(" ")):
        end += 1
    while not lines[end - 1]:
        end -= 1
    return f"lines {start}\u2013{end}"


def test_source_lines_download_and_view(make_app, project):
    app, read, warnings = _build(make_app, project)
    assert "WARNING" not in warnings and "ERROR" not in warnings, warnings
    out = Path(app.outdir)
    page = (out / "a.html").read_text()
    # a whole class or function gets a source line; a method does not
    assert page.count('<p class="code-source">') == 2
    assert f'href="code/layers.html#A">layers.py, {_lines(LAYERS, "class A:")}</a>' in page
    assert f'href="code/layers.html#helper">layers.py, {_lines(LAYERS, "def helper(x):")}' in page
    assert 'download="" href="code/layers.py"' in page
    assert 'href="code/layers.html#B"' in page  # the role
    assert (out / "code" / "layers.py").read_bytes() == (project / "code" / "layers.py").read_bytes()
    view = (out / "code" / "layers.html").read_text()
    line_of_b = LAYERS.splitlines().index("class B:") + 1
    assert f'<span id="L{line_of_b}"><span class="code-anchor" id="B"></span>class B:</span>' in view
    assert 'id="B.forward"' in view
    # a page without included classes: a line after its first example, for what it imports
    page_b = (out / "b.html").read_text()
    assert page_b.count('<p class="code-source">') == 1
    assert 'href="code/layers.html#B"' in page_b and 'href="code/layers.html#helper"' in page_b


def test_line_numbers_follow_the_code_without_reading_the_page_again(make_app, project):
    _build(make_app, project)
    layers = project / "code" / "layers.py"
    # a comment at the top moves every class, but changes none: the page is not read again
    moved = "# the layers\n# of the tiny site\n" + LAYERS
    layers.write_text(moved)
    app, read, _ = _build(make_app, project)
    assert read == set()
    page = (Path(app.outdir) / "a.html").read_text()
    assert f"layers.py, {_lines(moved, 'class A:')}</" in page
    assert f"layers.py, {_lines(LAYERS, 'class A:')}</" not in page
    # a class that grows: its page is read again, and the numbers of the next ones move
    grown = moved.replace("        return x\n", "        y = x\n        return y\n", 1)
    layers.write_text(grown)
    app, read, _ = _build(make_app, project)
    assert read == {"a"}
    page = (Path(app.outdir) / "a.html").read_text()
    assert f"layers.py, {_lines(grown, 'def helper(x):')}</" in page
    # nothing changed: nothing read, nothing written again
    app, read, _ = _build(make_app, project)
    assert read == set()


def test_code_file_names_only_the_served_file(make_app, project):
    (project / "b.rst").write_text(PAGE_B + "\nSee :code-file:`data.py`.\n")
    _app, _read, warnings = _build(make_app, project)
    assert "code-file: only layers.py is served, not 'data.py'" in warnings


def test_ranges_of_the_real_file():
    where = code_download.ranges(CODE)
    lines = CODE.read_text(encoding="utf-8").splitlines()
    assert lines[where["Linear"][0] - 1].startswith("class Linear")
    assert lines[where["Linear.backward"][0] - 1].strip().startswith("def backward")
    assert textwrap.dedent(lines[where["clip_grad_norm_"][0] - 1]).startswith("def clip_grad_norm_")
