"""Which code of ``code/`` a page uses, and a key that changes only when that code changes.

A page depends on ``code/`` through its executed cells, its ``>>>`` examples, the classes it
shows with ``literalinclude`` and the expressions of its ``{computed}``/``{layer-example}``
roles. Sphinx alone re-reads every page that includes ``code/layers.py`` whenever any byte of
that file changes, and jupyter-cache keys a notebook on its cells only. Here each page gets:

* ``uses``: the names it takes from each module of ``code/``, found by parsing (``from
  layers import A``, ``layers.A``, ``import layers as L; L.A``, the roles' expressions, the
  ``:pyobject:`` of a ``literalinclude``). A use that cannot be resolved to names (``from
  layers import *``, ``L`` passed around) takes the whole module. ``layers`` is keyed per
  name; the other modules (``solubility``, ``data``, ...) are hashed whole, together with
  what they use of ``layers`` and of each other;
* ``key``: a hash of the source of those names (with the top-level names they refer to,
  e.g. a base class or a helper function, and the module's imports). A page is re-read when
  its key changes (``env-get-outdated``), not when an unrelated class changes; ``code/``
  files are dropped from Sphinx's own mtime dependencies of the page;
* ``exec_key``: the same for its code cells only, which names its execution cache
  (:mod:`sphinxext.execution_cache`).

The state lives in the ``codekey`` domain, so parallel reading (``-j``) merges it.
"""

from __future__ import annotations

import ast
import doctest
import functools
import hashlib
import re
from collections import defaultdict
from pathlib import Path


from . import PageDataDomain, code_dir

ALL = "*"  # the whole module
KEYED_BY_NAME = frozenset({"layers"})  # modules keyed per top-level name, not as a whole
_HARMLESS_DUNDERS = frozenset({"__file__", "__name__"})

Uses = dict[str, set[str]]


def python_uses(source: str, modules) -> Uses:
    """The names the Python ``source`` takes from each of ``modules`` (``ALL``: all of it).

    >>> python_uses("import layers as L\\nL.Linear(2, 3)", {"layers"})
    {'layers': {'Linear'}}
    """
    modules = set(modules)
    try:
        tree = ast.parse(source)
    except SyntaxError:  # not plain Python (a cell magic, a doctest with output): everything
        return {m: {ALL} for m in modules if re.search(rf"\b{m}\b", source)}
    uses: Uses = defaultdict(set)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.partition(".")[0]
                if top in modules:
                    aliases[alias.asname or top] = top
                    uses[top]  # noqa: B018 - a bare import still uses the module
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            top = node.module.partition(".")[0]
            if top in modules:
                uses[top].update(ALL if a.name == "*" else a.name for a in node.names)
    if aliases:
        parents = {c: n for n in ast.walk(tree) for c in ast.iter_child_nodes(n)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in aliases:
                module, parent = aliases[node.id], parents.get(node)
                if isinstance(parent, ast.Attribute) and parent.value is node:
                    if parent.attr not in _HARMLESS_DUNDERS:
                        uses[module].add(ALL if parent.attr.startswith("__") else parent.attr)
                else:  # the module object itself is passed on: any name may be used
                    uses[module].add(ALL)
    return {m: (names if m in KEYED_BY_NAME else {ALL}) for m, names in uses.items()}


def merge(into: Uses, other: Uses) -> Uses:
    for module, names in other.items():
        into.setdefault(module, set()).update(names)
    return into


# -- Reading a page's source -----------------------------------------------------------

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\{(?P<name>[\w-]+)\}[ \t]*(?P<arg>[^\n]*)\n"
                    r"(?P<body>.*?)^(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)
_RST_INCLUDE = re.compile(r"^(?P<indent>[ \t]*)\.\. literalinclude::[ \t]*(?P<arg>\S+)[ \t]*\n"
                          r"(?P<body>(?:(?P=indent)[ \t]+:[^\n]*\n)*)", re.MULTILINE)
_OPTION = re.compile(r"^[ \t]*:(?P<name>[\w-]+):[ \t]*(?P<value>[^\n]*)$", re.MULTILINE)
_ROLE = re.compile(r"(?:\{(?P<m>computed|layer-example)\}|:(?P<r>computed|layer-example):)"
                   r"`(?P<text>[^`]+)`")
_YAML_HEADER = re.compile(r"\A---\n.*?^---[ \t]*\n", re.MULTILINE | re.DOTALL)


def _cell_source(body: str) -> str:
    """The code of a ``{code-cell}`` body, without its options and IPython magics."""
    body = _YAML_HEADER.sub("", body)
    lines = body.splitlines()
    while lines and _OPTION.match(lines[0]):
        lines.pop(0)
    # line magics and shell escapes are not Python; a cell magic makes it all unparsable
    return "\n".join("" if ln.lstrip().startswith(("%", "!")) and not ln.startswith("%%")
                     else ln for ln in lines) + "\n"


def expression_uses(text: str, example: bool = False, module: str = "layers") -> Uses:
    """What a ``{computed}`` expression (``example``: a ``{layer-example}``) takes from ``module``.

    Its namespace holds every public name of the module and the module itself.
    """
    expr = text.split(" @ ")[0] if example else text
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return {module: {ALL}}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    uses = python_uses(f"import {module}\n{expr.strip()}", {module}) if module in names else {}
    return merge(uses, {module: names - {module}})


def page_uses(text: str, doc_dir: Path, code: Path) -> tuple[Uses, Uses]:
    """``(cell_uses, uses)`` of a page: of its code cells, and of everything on it."""
    modules = {p.stem for p in code.glob("*.py")}
    cells: Uses = {}
    shown: Uses = {}
    for match in _FENCE.finditer(text):
        name, arg, body = match["name"], match["arg"].strip(), match["body"]
        if name == "code-cell":
            merge(cells, python_uses(_cell_source(body), modules))
        elif name == "literalinclude":
            merge(shown, _include_uses(arg, body, doc_dir, code))
    for match in _RST_INCLUDE.finditer(text):
        merge(shown, _include_uses(match["arg"], match["body"], doc_dir, code))
    try:
        examples = "".join(e.source for e in doctest.DocTestParser().get_examples(text))
    except ValueError:  # badly indented examples: page_doctests reports them
        examples = "\n".join(ln.lstrip()[4:] for ln in text.splitlines()
                             if ln.lstrip().startswith(">>> "))
    merge(shown, python_uses(examples, modules))
    for match in _ROLE.finditer(text):
        example = "layer-example" in (match["m"], match["r"])
        merge(shown, expression_uses(match["text"], example))
    return cells, merge(merge({}, cells), shown)


def _include_uses(arg: str, options: str, doc_dir: Path, code: Path) -> Uses:
    path = (doc_dir / arg).resolve() if not arg.startswith("/") else code.parent / arg[1:]
    if path.parent != code.resolve() or path.suffix != ".py":
        return {}
    opts = {m["name"]: m["value"].strip() for m in _OPTION.finditer(options)}
    pyobject = opts.get("pyobject")
    if pyobject and path.stem in KEYED_BY_NAME and not set(opts) & {"lines", "start-after",
                                                                    "end-before"}:
        return {path.stem: {pyobject.partition(".")[0]}}
    return {path.stem: {ALL}}


# -- Keys ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _definitions(source: str) -> tuple[str, dict[str, tuple[str, frozenset[str]]]]:
    """``(imports, {name: (source, top-level names it refers to)})`` of a module's source."""
    tree = ast.parse(source)
    lines = source.splitlines()
    top: dict[str, ast.stmt] = {}
    imports = []
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.append(ast.get_source_segment(source, node))
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            top[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        top[name.id] = node
    defs = {}
    for name, node in top.items():
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        text = "\n".join(lines[first - 1:node.end_lineno])
        refs = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in top}
        defs[name] = (text, frozenset(refs - {name}))
    return "\n".join(imports), defs


def _read(code: Path, module: str) -> str | None:
    path = code / f"{module}.py"
    return path.read_text(encoding="utf-8") if path.is_file() else None


def expand(uses: Uses, code: Path) -> Uses:
    """Add what the whole modules among ``uses`` take in turn from ``code/``."""
    uses = {m: set(n) for m, n in uses.items()}
    modules = {p.stem for p in code.glob("*.py")}
    done: set[str] = set()
    while pending := [m for m, n in uses.items() if ALL in n and m not in done]:
        for module in pending:
            done.add(module)
            source = _read(code, module)
            if source is not None:
                merge(uses, python_uses(source, modules - {module}))
    return uses


def key(uses: Uses, code: Path) -> str:
    """A hash of the source of everything ``uses`` names in ``code/`` (and what that uses)."""
    digest = hashlib.sha256()
    for module, names in sorted(expand(uses, code).items()):
        source = _read(code, module)
        digest.update(f"\0module {module}\0".encode())
        if source is None:
            digest.update(b"missing")
        elif ALL in names or module not in KEYED_BY_NAME:
            digest.update(source.encode())
        else:
            try:
                imports, defs = _definitions(source)
            except SyntaxError:
                digest.update(source.encode())
                continue
            digest.update(imports.encode())
            seen, pending = set(), set(names)
            while pending:
                name = pending.pop()
                seen.add(name)
                pending |= set(defs.get(name, ("", frozenset()))[1]) - seen
            for name in sorted(seen):
                digest.update(f"\0{name}\0".encode())
                digest.update(defs[name][0].encode() if name in defs else b"missing")
    return digest.hexdigest()[:16]


# -- Sphinx: state per page, re-read by key --------------------------------------------


class CodeKeyDomain(PageDataDomain):
    """Per page: ``{"uses": ..., "key": ..., "exec_key": ...}`` (no directives or roles)."""

    name = "codekey"
    label = "code keys"


def _domain(env) -> CodeKeyDomain:
    return env.domains["codekey"]


def _on_source_read(app, docname, source):
    code = code_dir(app)
    cells, uses = page_uses(source[0], Path(app.env.doc2path(docname)).parent, code)
    if not uses:
        _domain(app.env).pages.pop(docname, None)
        return
    _domain(app.env).pages[docname] = {
        "uses": {m: sorted(n) for m, n in uses.items()},
        "key": key(uses, code),
        "cells": {m: sorted(n) for m, n in cells.items()},
        "exec_key": key(cells, code) if cells else None,
    }


def exec_key(env, docname: str) -> str | None:
    """The key of the code cells of a page read in this build (``None``: no code used)."""
    page = _domain(env).pages.get(docname)
    return page and page["exec_key"]


def _drop_code_dependencies(app, doctree):
    """Sphinx would re-read the page on any change of an included code/ file: the key decides."""
    code = code_dir(app).resolve()
    deps = app.env.dependencies.get(app.env.docname)
    if deps:
        deps.difference_update({d for d in deps if Path(d).resolve().parent == code})


def outdated(env, code: Path, skip=()) -> list[str]:
    """Pages whose key no longer matches the code."""
    result = []
    for docname, page in _domain(env).pages.items():
        if docname in skip or docname not in env.found_docs:
            continue
        uses = {m: set(n) for m, n in page["uses"].items()}
        if key(uses, code) != page["key"]:
            result.append(docname)
    return sorted(result)


def _on_env_get_outdated(app, env, added, changed, removed):
    return outdated(env, code_dir(app), skip=added | changed)


def setup(app):
    app.add_domain(CodeKeyDomain)
    app.connect("source-read", _on_source_read, priority=400)
    app.connect("doctree-read", _drop_code_dependencies, priority=900)
    app.connect("env-get-outdated", _on_env_get_outdated)
    return {"version": "1", "env_version": 1, "parallel_read_safe": True,
            "parallel_write_safe": True}
