"""Every snippet a page shows runs when a reader copies it into a fresh interpreter.

For each page in ``layers/`` and ``examples/`` (and ``performance.md``):

* a ```` ```python ```` block with ``>>>`` prompts is run by ``test_repl_paste.py``, which
  pastes what the copy button copies into ``python`` and compares the output with the page's
  (and by the page doctests);
* any other ```` ```python ```` block (the PyTorch and Keras tabs, for instance) runs;
* the shown ``{code-cell}`` cells of a page use no IPython magic and no name that only a
  kernel defines (``display``, ...), so that a plain interpreter runs them as the build's
  fresh kernel did; on a page with hidden cells they run, in order, as one script, which
  checks that no hidden cell is needed by the shown ones;
* each class or function a page includes from ``code/`` with ``:pyobject:`` uses no other
  name from its module, so that it runs when copied with ``import numpy as np``; those of
  modules other than ``code/layers.py`` are run that way here (``test_copy.py`` runs every
  class of ``code/layers.py`` copied alone, forward and backward).

Each snippet runs in its own process (forked from a runner that has imported numpy, PyTorch and
Keras once, so that each snippet starts fresh without paying for those imports), preceded by those of the page's shown import
statements that bind a name the snippet uses without importing it (a reader has them on
screen), with ``code/`` on ``PYTHONPATH``, Matplotlib on Agg and Keras on the PyTorch backend. The processes run two at a time; each test reads its result.
"""

from __future__ import annotations

import ast
import builtins
import doctest
import functools
import json
import os
import re
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [*ROOT.glob("layers/*.md"), *ROOT.glob("examples/*.md"), ROOT / "performance.md"]
)
PAGES = [p for p in PAGES if p.is_file()]
TIMEOUT = 900  # seconds for one snippet (an example page's cells train networks)
WORKERS = 2

PYTHON_LANGS = {"python", "py", "python3", "ipython", "ipython3", "pycon"}
HIDDEN_TAGS = {"remove-cell", "remove-input"}


@dataclass
class Block:
    kind: str  # "python", "code-cell" or "literalinclude"
    arg: str  # the language or the included path
    options: dict = field(default_factory=dict)
    tags: set = field(default_factory=set)
    body: str = ""
    line: int = 0


_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>.*)$")


def _split_options(lines):
    """The options of a MyST directive: `:key: value` lines or a `---` YAML block."""
    options, tags = {}, set()
    i = 0
    if lines and lines[0].strip() == "---":
        end = next((k for k in range(1, len(lines)) if lines[k].strip() == "---"), None)
        if end is not None:
            yaml_text = "\n".join(lines[1:end])
            match = re.search(r"^tags:\s*\[(.*?)\]", yaml_text, re.MULTILINE)
            if match:
                tags = {t.strip().strip("'\"") for t in match.group(1).split(",") if t.strip()}
            for m in re.finditer(r"^([\w-]+):\s*(.*)$", yaml_text, re.MULTILINE):
                options[m.group(1)] = m.group(2)
            i = end + 1
    while i < len(lines) and re.match(r"^:[\w-]+:", lines[i].strip()):
        key, _, value = lines[i].strip()[1:].partition(":")
        options[key] = value.strip()
        if key == "tags":
            tags |= {t.strip().strip("'\"") for t in value.strip().strip("[]").split(",") if t.strip()}
        i += 1
    return options, tags, lines[i:]


def parse_blocks(text: str) -> list[Block]:
    """Code fences of a MyST page, in order, looking inside container directives (tabs)."""
    lines = text.split("\n")
    blocks = []

    def scan(start, stop):
        i = start
        while i < stop:
            match = _FENCE.match(lines[i])
            if not match:
                i += 1
                continue
            fence, info, indent = match["fence"], match["info"].strip(), len(match["indent"])
            end = i + 1
            while end < stop:
                close = _FENCE.match(lines[end])
                if (close and close["fence"][0] == fence[0]
                        and len(close["fence"]) >= len(fence) and not close["info"].strip()):
                    break
                end += 1
            body = [line[indent:] if line[:indent].strip() == "" else line for line in lines[i + 1:end]]
            directive = re.match(r"^\{([\w:-]+)\}\s*(.*)$", info)
            if directive:
                name, arg = directive.groups()
                if name in ("code-cell",):
                    options, tags, rest = _split_options(body)
                    blocks.append(Block("code-cell", arg or "python", options, tags, "\n".join(rest), i + 1))
                elif name in ("code-block", "code", "sourcecode"):
                    options, tags, rest = _split_options(body)
                    if arg.split()[0:1] and arg.split()[0] in PYTHON_LANGS:
                        blocks.append(Block("python", arg.split()[0], options, tags, "\n".join(rest), i + 1))
                elif name == "literalinclude":
                    options, tags, _ = _split_options(body)
                    blocks.append(Block("literalinclude", arg, options, tags, "", i + 1))
                else:  # a container (tab-set, tab-item, admonition...): look inside
                    scan(i + 1, end)
            elif info.split()[0:1] and info.split()[0] in PYTHON_LANGS:
                blocks.append(Block("python", info.split()[0], {}, set(), "\n".join(body), i + 1))
            i = end + 1

    scan(0, len(lines))
    return blocks


def copied_code(doctest_block: str) -> str:
    """What sphinx-copybutton copies from a `>>>` block (the prompt lines, prompts removed), as
    a script. An example whose expected output is a traceback raises on purpose: it becomes
    a `try` that requires that exception."""
    out = []
    for example in doctest.DocTestParser().get_examples(doctest_block):
        source = example.source.rstrip("\n")
        if example.exc_msg is None:
            out.append(source)
            continue
        name = example.exc_msg.split(":")[0].strip().rsplit(".", 1)[-1]
        name = name if name.isidentifier() else "Exception"
        body = textwrap.indent(source, "    ")
        out.append(f"try:\n{body}\nexcept {name}:\n    pass\n"
                   f"else:\n    raise AssertionError('the page shows this raising {name}')")
    return "\n".join(out) + "\n"


def shown_imports(blocks: list[Block]) -> list[tuple[str, set]]:
    """The top-level import statements of every snippet the page shows, in order, each with
    the names it binds."""
    seen, imports = set(), []
    for block in blocks:
        if block.kind == "literalinclude" or block.tags & HIDDEN_TAGS:
            continue
        code = copied_code(block.body) if ">>>" in block.body else block.body
        try:
            tree = ast.parse(_without_magics(code))
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                statement = ast.unparse(node)
                if statement not in seen:
                    seen.add(statement)
                    names = {(a.asname or a.name).split(".")[0] for a in node.names}
                    imports.append((statement, names))
    return imports


def with_imports(code: str, imports: list[tuple[str, set]]) -> str:
    """The snippet, preceded by the page's import statements that bind names it uses but does
    not import itself (what a reader copying it has to take from elsewhere on the page)."""
    try:
        missing = free_module_names(_without_magics(code))
    except SyntaxError:
        return code  # let the interpreter report it
    needed = [statement for statement, names in imports if names & missing]
    return "\n".join(needed) + "\n\n" + code if needed else code


def _without_magics(code: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in code.split("\n"))


@functools.lru_cache(maxsize=None)
def _parsed(path: Path) -> tuple[str, ast.Module]:
    """A module's text and syntax tree, read once (the pages include from layers.py 100 times)."""
    text = path.read_text(encoding="utf-8")
    return text, ast.parse(text)


def pyobject_source(path: Path, name: str) -> str:
    """The source of a top-level class or function (what literalinclude's :pyobject: shows)."""
    text, tree = _parsed(path)
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name.split(".")[0]:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "\n".join(text.split("\n")[start - 1:node.end_lineno]) + "\n"
    raise LookupError(f"{name} is not a top-level class or function of {path}")


def free_module_names(source: str) -> set[str]:
    """Names a snippet reads from its module's globals (neither builtins nor bound in it)."""
    tree = ast.parse(source)
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            args = node.args if not isinstance(node, ast.ClassDef) else None
            if args:
                for a in args.posonlyargs + args.args + args.kwonlyargs:
                    bound.add(a.arg)
                for a in (args.vararg, args.kwarg):
                    if a:
                        bound.add(a.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return used - bound - set(dir(builtins))


# -- collect the snippets at import time, so that each one is its own test --------------


@dataclass
class Snippet:
    id: str
    page: Path
    what: str
    script: str
    cwd: Path | None = None
    free_names: set = field(default_factory=set)
    runs: bool = True  # False: checked elsewhere (see `collect`)


# Names a Jupyter kernel defines and a plain interpreter does not.
IPYTHON_NAMES = {"display", "get_ipython", "In", "Out", "_ih", "_oh"}


def collect() -> tuple[list[Snippet], list[tuple[str, str]]]:
    snippets, problems = [], []
    for page in PAGES:
        rel = page.relative_to(ROOT).with_suffix("").as_posix()
        blocks = parse_blocks(page.read_text(encoding="utf-8"))
        imports = shown_imports(blocks)
        cells, hidden_cells, included = [], 0, []
        for block in blocks:
            where = f"{rel}.md:{block.line}"
            if block.kind == "python":
                if ">>>" in block.body:
                    # run by test_repl_paste.py: the copy button's own text, pasted into `python`
                    # beside the downloaded layers.py, with its output compared to the page's
                    snippets.append(Snippet(f"{where} (copied example)", page, "copied `>>>` example",
                                            with_imports(copied_code(block.body), imports), runs=False))
                elif block.arg != "pycon":
                    snippets.append(Snippet(f"{where} (code block)", page, "code block",
                                            with_imports(block.body + "\n", imports)))
            elif block.kind == "code-cell":
                if block.tags & HIDDEN_TAGS:
                    hidden_cells += 1
                else:
                    cells.append(block)
            elif block.kind == "literalinclude" and "pyobject" in block.options:
                path = (page.parent / block.arg).resolve()
                name = block.options["pyobject"]
                try:
                    source = pyobject_source(path, name)
                except (OSError, LookupError, SyntaxError) as error:
                    problems.append((where, f"cannot read {block.arg} :pyobject: {name}: {error}"))
                    continue
                included.append((where, name, path, source))
        # A class built from other classes of its module (TransformerEncoderLayer) runs when a
        # reader copies it with the classes it names, provided the same page shows those in full.
        whole = {name: source for _, name, _, source in included if "." not in name}
        for where, name, path, source in included:
            free = free_module_names(source) - {"np"}
            needed = [whole[n] for n in sorted(free) if n in whole and n != name.split(".")[0]]
            # Run only what nothing else runs copied alone: test_copy.py exercises every class of
            # code/layers.py copied alone; a method on its own only defines a function. Each is
            # still read for the names it needs (test_included_code_needs_only_numpy).
            snippets.append(Snippet(
                f"{where} ({name} on its own)", page, f"{name} copied with `import numpy as np`",
                "\n\n".join(["import numpy as np", *needed, source]), free_names=free - set(whole),
                runs=path.name != "layers.py" and "." not in name,
            ))
        if cells:
            magic = [c.line for c in cells if re.search(r"^\s*[%!]", c.body, re.MULTILINE)]
            if magic:
                problems.append((f"{rel}.md", f"code cells at lines {magic} use IPython magics"))
            ipython_only = [(c.line, sorted(names)) for c in cells if c.line not in magic
                            for names in [free_module_names(c.body) & IPYTHON_NAMES] if names]
            if ipython_only:
                problems.append((f"{rel}.md", f"code cells use names only IPython defines: {ipython_only}"))
            # The build ran exactly the shown cells, in order, in a fresh kernel; with no magics
            # and no IPython-only names, a plain interpreter runs them the same way. Only a page
            # with hidden cells needs a run of its shown cells alone.
            if hidden_cells:
                script = with_imports("\n\n".join(c.body for c in cells) + "\n", imports)
                snippets.append(Snippet(f"{rel}.md (shown code cells)", page, "the shown code cells",
                                        script, cwd=page.parent))
    return snippets, problems


SNIPPETS, PROBLEMS = collect()


# A "zygote" process imports the heavy libraries once (PyTorch and Keras take seconds each),
# then forks one child per snippet. The child runs the snippet in a fresh `__main__`
# namespace and exits: nothing leaks from one snippet to the next, a snippet still needs its
# own imports (importing a preloaded module only binds its name), and the cost of a snippet
# is its own work. The zygote itself runs no snippet code.
ZYGOTE = r"""
import json, os, signal, sys, time, traceback
for name in ("numpy", "matplotlib", "matplotlib.pyplot", "torch", "keras", "sklearn"):
    try:
        __import__(name)
    except Exception:
        pass
sys.stdout.write("ready\n"); sys.stdout.flush()
for line in sys.stdin:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            os.chdir(job["cwd"])
            sys.path.insert(0, "")  # as `python -c` does: the working folder is importable
            out = os.open(job["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            err = os.open(job["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(out, 1); os.dup2(err, 2)
            sys.stdin = open(os.devnull)
            code = compile(job["script"], "<snippet>", "exec")
            exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
            status = 0
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
            status = 1
        try:
            sys.stdout.flush(); sys.stderr.flush()
        finally:
            os._exit(status)
    deadline = time.monotonic() + job["timeout"]
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0); code = -1
            break
        time.sleep(0.02)
    sys.stdout.write(json.dumps({"id": job["id"], "returncode": code}) + "\n"); sys.stdout.flush()
"""


def _environment() -> dict:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT / "code"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        MPLBACKEND="Agg",
        KERAS_BACKEND="torch",
    )
    # Bytecode is written and read as usual: compiling code/layers.py (4,000 lines) takes 0.35 s,
    # which every one of the 200 snippets that import it would pay again without the cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


class Zygote:
    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=_environment(), cwd=ROOT,
        )
        assert self.process.stdout.readline().strip() == "ready", "the snippet runner did not start"

    def run(self, snippet: Snippet, tmp_root: Path) -> subprocess.CompletedProcess:
        work = tmp_root / re.sub(r"\W+", "_", snippet.id)
        work.mkdir(parents=True, exist_ok=True)
        cwd = snippet.cwd or work
        job = {"id": snippet.id, "script": snippet.script, "cwd": str(cwd), "timeout": TIMEOUT,
               "out": str(work / "stdout.txt"), "err": str(work / "stderr.txt")}
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        reply = json.loads(self.process.stdout.readline())
        stderr = (work / "stderr.txt").read_text(errors="replace")
        if reply["returncode"] == -1:
            stderr += f"\ntimed out after {TIMEOUT} s"
        return subprocess.CompletedProcess(snippet.id, reply["returncode"],
                                           (work / "stdout.txt").read_text(errors="replace"), stderr)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def results(request, tmp_path_factory):
    """Runs the snippets of the selected tests, WORKERS at a time, and maps id -> result."""
    selected = [
        item.callspec.params["snippet"]
        for item in request.session.items
        if getattr(item, "module", None) is sys.modules[__name__]  # doctest items have no module
        and item.originalname == "test_snippet_runs_in_a_fresh_interpreter"
    ]
    tmp_root = tmp_path_factory.mktemp("snippets")
    if not selected:
        return {}
    zygotes = [Zygote() for _ in range(min(WORKERS, len(selected)))]
    try:
        queues = [selected[i::len(zygotes)] for i in range(len(zygotes))]  # one queue per runner
        with ThreadPoolExecutor(max_workers=len(zygotes)) as pool:
            runs = [pool.submit(lambda z, q: [z.run(s, tmp_root) for s in q], z, q)
                    for z, q in zip(zygotes, queues)]
            return {r.args: r for run in runs for r in run.result()}
    finally:
        for zygote in zygotes:
            zygote.close()


def test_snippets_were_found():
    kinds = {s.what for s in SNIPPETS}
    assert "copied `>>>` example" in kinds and "code block" in kinds, kinds
    linear = [s for s in SNIPPETS if s.page.name == "linear.md"]
    assert len(linear) >= 5, [s.id for s in linear]  # example, 2 tabs, class, figure cell
    assert len([s for s in RUN if s.page.name == "linear.md"]) >= 2  # the PyTorch and Keras tabs
    assert any(s.runs and "on its own" in s.id for s in SNIPPETS)  # from code/ beside layers.py

@pytest.mark.parametrize("where, problem", PROBLEMS or [("", "")], ids=[w for w, _ in PROBLEMS] or ["none"])
def test_pages_show_runnable_code(where, problem):
    assert not problem, f"{where}: {problem}"


RUN = [s for s in SNIPPETS if s.runs]


@pytest.mark.parametrize("snippet", RUN, ids=[s.id for s in RUN])
def test_snippet_runs_in_a_fresh_interpreter(snippet, results):
    result = results[snippet.id]
    assert result.returncode == 0, (
        f"{snippet.what} of {snippet.page.relative_to(ROOT)} failed in a fresh interpreter:\n"
        f"--- script ---\n{snippet.script}\n--- stderr ---\n{result.stderr[-4000:]}"
    )


@pytest.mark.parametrize(
    "snippet", [s for s in SNIPPETS if s.free_names or "on its own" in s.id],
    ids=[s.id for s in SNIPPETS if s.free_names or "on its own" in s.id],
)
def test_included_code_needs_only_numpy(snippet):
    assert not snippet.free_names, (
        f"{snippet.id} uses {sorted(snippet.free_names)} from its module: a reader who copies "
        "it from the page with `import numpy as np` gets a NameError"
    )
