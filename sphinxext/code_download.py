"""``code/layers.py`` served with the site, a line-numbered view of it, and links to both.

A reader of a page needs the file every example imports (``from layers import ...``) and
the place of a class in it. This extension

* copies ``code/layers.py``, byte for byte, to ``code/layers.py`` in the built site (a
  stable URL), and writes ``code/layers.html``: the file with line numbers, one
  ``<span id="L<n>">`` a line and an anchor named after each class, function and method
  (``#Linear``, ``#Linear.backward``), in the theme's ``page.html``;
* after each ``literalinclude`` of ``code/layers.py`` with a ``:pyobject:`` naming a whole
  class or function, adds the line "Source: layers.py, lines a–b · download layers.py",
  linking to the class's anchor in the view and to the file. The numbers come from ``ast``;
* on a page with neither such an include nor a ``{code-file}`` link (a topic page), adds
  after its first ``>>>`` block or notebook cell (with its output) that imports from
  ``layers`` a line with the download link and a link to each imported name;
* gives pages the role ``{code-file}``: ``` {code-file}`layers.py` ``` is a download link,
  ``` {code-file}`Linear <layers.py#Linear>` ``` a link to a class in the view.

Line numbers move when any class above changes, while ``sphinxext.codekey`` re-reads a
page only when the classes it uses change. So the numbers are not baked in when a page is
read: the doctree holds a placeholder, filled when the page is written
(``doctree-resolved``), and every build compares the ranges each page showed with the
current file (``env-get-updated``): a page whose ranges moved is written again (not read
again). The links go to the class anchor, which stays right even if a page were stale.
"""

from __future__ import annotations

import ast
import doctest
import functools
import html
import shutil
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.directives.code import LiteralInclude
from sphinx.util.docutils import ReferenceRole
from sphinx.util.osutil import relative_uri

from . import PageDataDomain, code_dir
from .codekey import ALL, python_uses

MODULE = "layers"
FILE = f"{MODULE}.py"
SERVED_FILE = f"code/{FILE}"  # the copy of code/layers.py in the built site
VIEW = f"code/{MODULE}"  # the page name of the line-numbered view: code/layers.html


# -- Where each class is ---------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _ranges_of(source: str) -> dict[str, tuple[int, int]]:
    ranges = {}
    for node in ast.parse(source).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            ranges[node.name] = (node.lineno, node.end_lineno)
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    ranges[f"{node.name}.{item.name}"] = (item.lineno, item.end_lineno)
    return ranges


def ranges(path: Path) -> dict[str, tuple[int, int]]:
    """``{qualified name: (first line, last line)}`` of the classes, functions and methods
    of a module: the first line is the ``class``/``def`` line (decorators are above it).

    >>> ranges(Path(__file__).parent.parent / "code" / "layers.py")["Linear"][0] > 1
    True
    """
    try:
        return _ranges_of(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return {}


# -- Nodes: placeholders filled when the page is written ------------------------------


class code_source(nodes.General, nodes.Element):
    """The "Source: ..." line: ``names`` (a list), ``kind`` ``"include"`` or ``"imports"``."""


class code_file(nodes.Inline, nodes.TextElement):
    """A ``{code-file}`` link: ``target`` is ``layers.py`` or ``layers.py#Name``."""


class LiteralIncludeWithSource(LiteralInclude):
    """``literalinclude``, plus a ``code_source`` line after a whole class of layers.py."""

    def run(self):
        result = super().run()
        pyobject = self.options.get("pyobject", "")
        if not pyobject or "." in pyobject or not result:
            return result
        if not isinstance(result[-1], (nodes.literal_block, nodes.container)):
            return result  # a warning instead of the code
        _rel, filename = self.env.relfn2path(self.arguments[0])
        if Path(filename).resolve() != (code_dir(self.env) / FILE).resolve():
            return result
        return [*result, code_source(names=[pyobject], kind="include")]


class CodeFileRole(ReferenceRole):
    def run(self):
        target = self.target
        if target.partition("#")[0] != FILE:
            msg = self.inliner.reporter.error(f"code-file: only {FILE} is served, not {target!r}",
                                              line=self.lineno)
            return [self.inliner.problematic(self.rawtext, self.rawtext, msg)], [msg]
        return [code_file(self.rawtext, self.title, target=target)], []


# -- Reading: which pages show which classes -------------------------------------------


class CodeDownloadDomain(PageDataDomain):
    """Per page: ``{qualified name: (first, last line)}`` as the page was last written."""

    name = "codedownload"
    label = "code download"


def _imported_names(node) -> list[str]:
    """What a ``>>>`` block or a notebook cell takes from ``layers`` ([]: not code using it)."""
    if isinstance(node, nodes.container):  # a myst-nb cell: its first literal block is the input
        block = next(iter(node.findall(nodes.literal_block)), None)
        source = block.astext() if block is not None else ""
    elif node.get("source") or not node.astext().lstrip().startswith(">>>"):
        return []
    else:
        try:
            examples = doctest.DocTestParser().get_examples(node.astext())
        except ValueError:
            return []
        source = "".join(e.source for e in examples)
    names = python_uses(source, {MODULE}).get(MODULE, set())
    return sorted(names - {ALL})


def _is_code(node) -> bool:
    if isinstance(node, nodes.container):
        return "cell" in node["classes"]
    return isinstance(node, (nodes.literal_block, nodes.doctest_block))


def _on_doctree_read(app, doctree):
    """Note the ranges a page shows; a page with none gets a line after its first code
    (a ``>>>`` block, or a notebook cell, with its output) that imports from layers.py."""
    known = ranges(code_dir(app) / FILE)
    shown = [n for node in doctree.findall(code_source) for n in node["names"]]
    if not shown and not any(doctree.findall(code_file)):  # {code-file} links it already
        for node in doctree.findall(_is_code):
            names = [n for n in _imported_names(node) if n in known]
            if names:
                node.parent.insert(node.parent.index(node) + 1,
                                   code_source(names=names, kind="imports"))
                break
    pages = app.env.domains["codedownload"].pages
    if shown:
        pages[app.env.docname] = {n: known.get(n) for n in shown}
    else:
        pages.pop(app.env.docname, None)


def _on_env_get_updated(app, env):
    """Pages whose classes moved in layers.py: written again with the new line numbers."""
    known = ranges(code_dir(app) / FILE)
    moved = []
    for docname, shown in env.domains["codedownload"].pages.items():
        now = {n: known.get(n) for n in shown}
        if now != shown:
            shown.update(now)
            moved.append(docname)
    return moved


# -- Writing: links relative to the page ----------------------------------------------


def _links(app, docname):
    here = app.builder.get_target_uri(docname)
    return (relative_uri(here, SERVED_FILE),
            relative_uri(here, app.builder.get_target_uri(VIEW)))


def _download(uri, text, literal=True):
    node = addnodes.download_reference("", "", refuri=uri, classes=["code-download"])
    node += nodes.literal(text, text) if literal else nodes.Text(text)
    return node


def _on_doctree_resolved(app, doctree, docname):
    html_output = app.builder.format == "html"
    known = ranges(code_dir(app) / FILE)
    file_uri, view_uri = _links(app, docname) if html_output else ("", "")
    for node in list(doctree.findall(code_file)):
        name = node["target"].partition("#")[2]
        text = node.astext()
        if not html_output:
            node.replace_self(nodes.literal(text, text))
        elif name:  # a name in code font, a phrase ("with line numbers") in plain text
            label = nodes.Text(text) if " " in text else nodes.literal(text, text)
            node.replace_self(nodes.reference("", "", label, refuri=f"{view_uri}#{name}",
                                              internal=True))
        else:
            node.replace_self(_download(file_uri, text, literal=" " not in text))
    for node in list(doctree.findall(code_source)):
        if not html_output:
            node.replace_self([])
            continue
        para = nodes.paragraph(classes=["code-source"])
        if node["kind"] == "include":
            (name,) = node["names"]
            first, last = known.get(name, (0, 0))
            para += nodes.Text("Source: ")
            para += nodes.reference("", f"{FILE}, lines {first}\u2013{last}",
                                    refuri=f"{view_uri}#{name}", internal=True)
            para += nodes.Text(" \u00b7 ")
            para += _download(file_uri, f"download {FILE}", literal=False)
        else:
            para += nodes.Text("The code above imports from ")
            para += _download(file_uri, FILE)
            para += nodes.Text(" (download it next to your script or REPL); source of ")
            for i, name in enumerate(node["names"]):
                if i:
                    para += nodes.Text(", ")
                para += nodes.reference("", "", nodes.literal(name, name),
                                        refuri=f"{view_uri}#{name}", internal=True)
            para += nodes.Text(".")
        node.replace_self(para)


# -- The served file and its view -----------------------------------------------------


def view_body(source: str, download_uri: str) -> str:
    """The HTML of the view: a short header, then the file as plain text (no highlighting,
    which would weigh five times as much), one ``<span id="L<n>">`` a line and an empty
    anchor span at each class, function and method. The line numbers are drawn by CSS
    counters (``cheatsheet.css``), so that copying the code leaves them out."""
    count = len(source.splitlines())
    starts = {}
    for name, (first, _last) in _ranges_of(source).items():
        starts.setdefault(first, []).append(name)
    out = []
    for number, line in enumerate(source.splitlines(), start=1):
        anchors = "".join(f'<span class="code-anchor" id="{html.escape(n)}"></span>'
                          for n in starts.get(number, []))
        out.append(f'<span id="L{number}">{anchors}{html.escape(line, quote=False)}</span>')
    intro = (
        f"<h1>{FILE}</h1>\n"
        f"<p>Every layer of this site, in plain numpy, in one file of {count} lines: "
        f'<a class="reference download" download="" href="{download_uri}">'
        f"download <code>{FILE}</code></a>, save it next to your script, and "
        f"<code>from {MODULE} import Linear</code> works; "
        f"<code>python -m doctest -v {FILE}</code> runs the examples of its docstrings. "
        "Each line has an anchor (<code>#L120</code>), and so has each class, function and "
        "method (<code>#Linear</code>, <code>#Linear.backward</code>).</p>\n"
    )
    return (intro + '<div class="highlight-python notranslate code-view"><div class="highlight">'
            "<pre>" + "\n".join(out) + "\n</pre></div></div>\n")


def _on_html_collect_pages(app):
    source_path = code_dir(app) / FILE
    target = Path(app.outdir) / SERVED_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source_path, target)
    body = view_body(source_path.read_text(encoding="utf-8"), FILE)
    yield VIEW, {"title": FILE, "body": body, "parents": []}, "page.html"


def setup(app):
    app.add_domain(CodeDownloadDomain)
    app.add_node(code_source)
    app.add_node(code_file)
    app.add_directive("literalinclude", LiteralIncludeWithSource, override=True)
    app.add_role("code-file", CodeFileRole())
    app.connect("doctree-read", _on_doctree_read)
    app.connect("env-get-updated", _on_env_get_updated)
    app.connect("doctree-resolved", _on_doctree_resolved)
    app.connect("html-collect-pages", _on_html_collect_pages)
    return {"version": "1", "env_version": 1, "parallel_read_safe": True,
            "parallel_write_safe": True}
