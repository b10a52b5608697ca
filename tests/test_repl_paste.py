"""Every ``>>>`` block of the site, copied with its copy button and pasted into ``python``,
prints what the page shows.

How the test copies. Chromium opens each built page that shows a ``>>>`` block and calls,
for every such block, the function that sphinx-copybutton gives ClipboardJS as its ``text``
callback (``copyTargetText`` in ``_static/copybutton.js``, which calls ``formatCopyText``
with the prompt pattern of ``conf.py``). The function is taken from the site's own
``copybutton.js``, so a change of ``conf.py`` or of sphinx-copybutton shows here. A few
buttons are also clicked, with clipboard permission, to check that the clipboard receives
the same text: the function is what the button uses.

How the test pastes. A paste into the interactive ``python`` (the classic REPL of CPython
3.11, which ``code.InteractiveConsole`` reproduces; CPython turns readline's bracketed paste
off, bpo-42819) delivers the copied text line by line, as if each line were typed and
followed by Enter. This was checked in a terminal (a pty running ``python -q``): pasting
``for i in range(3):`` / ``    x += i`` / ``print(x)`` gives ``SyntaxError`` at ``print``,
and the same with an empty line before ``print`` runs. So each line is pushed to a fresh
``code.InteractiveConsole``, exactly as it is: nothing is added between lines. In
particular a paste has no blank line after an indented block unless the copied text has
one, and a dedented line that follows the block at the ``...`` prompt is a
``SyntaxError`` (that line is lost), exactly as in the REPL. The copy button strips the
final newline, so the last line waits in the input buffer until the reader presses Enter:
that is the push of the last line; if the REPL then still shows ``...`` (the text ends
inside a block), the reader presses Enter once more, and the test pushes one empty line.

Where. Each block runs in its own ``python`` process whose current directory holds only
``layers.py``, downloaded from the served site (``code/layers.py``), as for a reader who
saved the file and started ``python`` there (``sys.path[0]`` is the current directory);
``code/`` is not on the path.

What is compared. The block's shown text is parsed with ``doctest`` into examples (source,
expected output). The output of each push (stdout and stderr, as the terminal shows both) is
attributed to the example whose line was pushed, and compared with doctest's
``OutputChecker`` under the flags the page doctests use (``pytest.ini``:
``NORMALIZE_WHITESPACE``) plus the example's own ``# doctest:`` directives. An example that
expects an exception must raise one whose last line matches, as doctest checks it; any other
example must raise nothing.
"""

from __future__ import annotations

import doctest
import json
import os
import re
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from browserkit import HTML, CONTENT_PAGES, Visit, browser, new_page, server, site  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sphinxext.page_doctests import pytest_doctest_flags  # noqa: E402

FLAGS = pytest_doctest_flags(ROOT / "pytest.ini")

# `>>>` blocks on the site when this test was written (issue 14 counted 32; 50 on 2026-12-02).
MIN_BLOCKS = 50

# A `<pre>` of a `>>>` block, as Sphinx writes it (Pygments' prompt token), in DOM order.
_PRE = re.compile(r'<div class="highlight"><pre[^>]*>(.*?)</pre>', re.DOTALL)
_PROMPT = '<span class="gp">&gt;&gt;&gt;'


def _blocks_on_disk() -> list[tuple[str, int]]:
    """(page, index of the block among the page's `div.highlight pre`) of each `>>>` block."""
    found = []
    for page in CONTENT_PAGES:
        html = (HTML / page).read_text(encoding="utf-8")
        found += [(page, i) for i, pre in enumerate(_PRE.findall(html)) if _PROMPT in pre]
    return found


BLOCKS = _blocks_on_disk()

# In the page: the copy function of the site's copybutton.js, applied to every `>>>` block.
COPY_JS = """
async () => {
  const script = [...document.scripts].find(s => s.src && new URL(s.src).pathname.endsWith("/copybutton.js"));
  const source = await (await fetch(script.src)).text();
  const start = source.indexOf("function escapeRegExp");
  const end = source.indexOf("// Initialize with a callback");
  if (start < 0 || end < 0) throw new Error("copybutton.js changed: markers not found");
  const copyTargetText = new Function(source.slice(start, end) + "\\nreturn copyTargetText;")();
  const pres = [...document.querySelectorAll("div.highlight pre")];
  return pres.map((pre, index) => {
    const button = pre.nextElementSibling;
    const isButton = !!button && button.classList.contains("copybtn");
    return {index, shown: pre.innerText, copied: isButton ? copyTargetText(button) : null};
  });
}
"""

# In the REPL process: push each line as a paste does, record what each push printed.
RUNNER = r"""
import code, contextlib, io, json, sys, traceback

lines = json.loads(sys.stdin.read())


class Console(code.InteractiveConsole):
    exc = None

    def showtraceback(self):
        self.exc = traceback.format_exception_only(*sys.exc_info()[:2])[-1]
        super().showtraceback()

    def showsyntaxerror(self, filename=None):
        self.exc = traceback.format_exception_only(*sys.exc_info()[:2])[-1]
        super().showsyntaxerror(filename)


console = Console()
records = []


def push(index, line):
    out = io.StringIO()
    console.exc = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        more = console.push(line)
    records.append({"line": index, "output": out.getvalue(), "exc": console.exc})
    return more


more = False
for index, line in enumerate(lines):
    more = push(index, line)
if more:  # the REPL shows `...`: the reader presses Enter once more
    push(len(lines) - 1, "")
layers = sys.modules.get("layers")
result = {"records": records, "layers_file": getattr(layers, "__file__", None)}
sys.__stdout__.write("\n@@RESULT@@" + json.dumps(result))
"""


def test_blocks_were_found():
    assert len(BLOCKS) >= MIN_BLOCKS, f"{len(BLOCKS)} `>>>` blocks on the site"


@pytest.fixture(scope="module")
def downloaded(server, tmp_path_factory):
    """A folder holding only layers.py, downloaded from the served site."""
    folder = tmp_path_factory.mktemp("reader")
    with urllib.request.urlopen(server + "code/layers.py", timeout=30) as response:
        (folder / "layers.py").write_bytes(response.read())
    return folder


@pytest.fixture(scope="module")
def copies(browser, server):
    """{(page, index): {"shown": text on the page, "copied": what the copy button copies}}."""
    result = {}
    visit = Visit()
    context, page = new_page(browser, visit)
    # the copy function needs no math: MathJax is served empty, so it typesets nothing and its
    # work does not slow the other pages down (a page is left as soon as it is copied)
    context.route("**/_static/mathjax/**", lambda route: route.fulfill(
        status=200, content_type="text/javascript", body=""))
    try:
        for name in sorted({p for p, _ in BLOCKS}):
            page.goto(server + name, wait_until="domcontentloaded")
            page.wait_for_function(
                "() => document.querySelectorAll('button.copybtn').length"
                " >= document.querySelectorAll('div.highlight pre').length"
            )
            for block in page.evaluate(COPY_JS):
                result[name, block["index"]] = block
    finally:
        context.close()
    assert not visit.console_errors, visit.console_errors
    return result


def _paste(copied: str, folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(copied.split("\n")),
        capture_output=True, text=True, cwd=folder, env=env, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.rpartition("@@RESULT@@")[2])


@pytest.fixture(scope="module")
def pastes(copies, downloaded):
    """{(page, index): what the REPL printed for each pushed line}, two processes at a time."""
    keys = [k for k in BLOCKS if copies.get(k) and copies[k]["copied"] is not None]
    with ThreadPoolExecutor(2) as pool:
        results = pool.map(lambda k: _paste(copies[k]["copied"], downloaded), keys)
    return dict(zip(keys, results))


def _code(line: str) -> str | None:
    """The code of a shown prompt line (`>>> x` or `... x` or a bare `...`), else None."""
    for prompt in (">>> ", "... "):
        if line.startswith(prompt):
            return line[len(prompt):]
    return "" if line in (">>>", "...") else None


def compare(shown: str, copied: str, records: list[dict]) -> list[str]:
    """The differences between the page's examples and what the REPL printed for the paste."""
    examples = doctest.DocTestParser().get_examples(shown)
    shown_lines = shown.split("\n")
    owner = {}  # shown line -> example index (a blank line belongs to the example before it)
    for k, ex in enumerate(examples):
        owner[ex.lineno] = k  # the `>>>` line, then the `...` lines, as doctest reads them
        j = ex.lineno + 1
        while j < len(shown_lines) and shown_lines[j].lstrip().startswith("..."):
            owner[j] = k
            j += 1
    # align each copied line with the shown prompt line (or blank line) it was copied from
    aligned, position, problems = [], 0, []
    for copied_line in copied.split("\n"):
        while position < len(shown_lines):
            line = shown_lines[position]
            position += 1
            if position - 1 in owner or not line.strip():
                if (_code(line) if position - 1 in owner else "") == copied_line:
                    aligned.append(position - 1)
                    break
        else:
            return [f"copied line not shown as code on the page: {copied_line!r}"]
    got = [""] * len(examples)
    exc = [None] * len(examples)
    for record in records:
        j = aligned[record["line"]]
        k = owner.get(j, max([owner[i] for i in owner if i < j] or [0]))
        got[k] += record["output"]
        exc[k] = record["exc"] or exc[k]
    checker = doctest.OutputChecker()
    for k, ex in enumerate(examples):
        flags = FLAGS
        for flag, on in ex.options.items():
            flags = flags | flag if on else flags & ~flag
        if ex.exc_msg is None:
            ok = exc[k] is None and checker.check_output(ex.want, got[k], flags)
        else:
            ok = exc[k] is not None and checker.check_output(ex.exc_msg, exc[k], flags)
        if not ok:
            problems.append(
                f"example at line {ex.lineno + 1}:\n{ex.source}"
                f"page shows:\n{ex.exc_msg or ex.want}REPL printed:\n{got[k]}"
            )
    return problems


@pytest.mark.parametrize("key", BLOCKS, ids=[f"{p}#{i}" for p, i in BLOCKS])
def test_pasted_block_prints_what_the_page_shows(key, copies, pastes, downloaded):
    block = copies.get(key)
    assert block and block["copied"] is not None, "the block has no copy button"
    copied = block["copied"]
    assert "\t" not in copied, "a tab in a paste triggers readline completion in the REPL"
    result = pastes[key]
    assert result["layers_file"] in (None, str(downloaded / "layers.py")), result["layers_file"]
    problems = compare(block["shown"], copied, result["records"])
    assert not problems, "\n\n".join(problems)


def test_adamw_example_of_regularisation_pastes(copies, pastes):
    """Issue 14's example: pasted, the AdamW loop raised SyntaxError and the check said False."""
    keys = [k for k in BLOCKS if k[0] == "layers/regularisation.html"
            and "decoupled weight decay (AdamW)" in copies[k]["shown"]]
    assert len(keys) == 1
    printed = "".join(r["output"] for r in pastes[keys[0]]["records"])
    assert "Error" not in printed
    assert printed.strip().splitlines()[-1] == "True"


CLICKED = ["layers/regularisation.html", "layers/anatomy.html"]


def test_copy_button_copies_what_the_function_returns(browser, server, copies):
    """Click the copy buttons of two pages (with clipboard permission): the clipboard holds
    the text the test pastes."""
    visit = Visit()
    context, page = new_page(browser, visit, permissions=["clipboard-read", "clipboard-write"])
    clicked = 0
    try:
        for name in CLICKED:
            page.goto(server + name, wait_until="domcontentloaded")
            page.wait_for_function(
                "() => document.querySelectorAll('button.copybtn').length"
                " >= document.querySelectorAll('div.highlight pre').length"
            )
            pres = page.locator("div.highlight pre")
            for page_name, index in BLOCKS:
                if page_name != name:
                    continue
                page.evaluate("() => navigator.clipboard.writeText('')")
                pres.nth(index).hover()
                page.locator(f"#codecell{index} + button.copybtn").click()
                page.wait_for_function("() => navigator.clipboard.readText().then(t => t !== '')")
                assert page.evaluate("() => navigator.clipboard.readText()") == copies[name, index]["copied"]
                clicked += 1
    finally:
        context.close()
    assert clicked >= 5
