"""The built site: a page for every topic, the sections every layer page must have, no stub
text, the landing table computed from the code, size and privacy limits, and the build cache.

These tests read ``_build/html``, which ``make test`` builds first (``make html``).
"""

import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import registry

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"

# page -> a pattern its title must match (the topics of the site, issue 3). The pages of the
# layers come from the registry (tests/registry/: each family module's PAGES); the rest are here.
TOPICS = {
    **{docname: page.title for docname, page in registry.PAGES.items()},
    "layers/anatomy": r"anatomy",
    "layers/hyperparameters": r"hyperparameter",
    "layers/initialisation": r"initiali[sz]ation",
    "examples/gradient-checking": r"gradient check",
    "examples/digits-cnn": r"digit",
    "examples/solubility": r"solubility",
    "examples/activations-compared": r"relu|swish|gelu|activation",
    "performance": r"performance",
}

# The pages that teach one layer (or one family) and so follow the fixed section order
# (the registry's pages with layer_page=True).
LAYER_PAGES = [docname for docname, page in registry.PAGES.items() if page.layer_page]

# The sections of a layer page, in order (STYLE.md), as patterns on the <h2> titles.
SECTIONS = [
    ("what it does and when to use it", r"what (it|they) do"),
    ("forward formula", r"forward"),
    ("backward derivation", r"backward"),
    ("shapes and parameter count", r"shape"),
    ("the code", r"\bcode\b"),
    ("a usage example", r"usage|example"),
    ("a figure", r"figure"),
    ("PyTorch and Keras equivalents", r"pytorch"),
    ("pitfalls", r"pitfall"),
    ("references", r"reference"),
]

STUB = re.compile(
    r"be the first to contribute|\btodo\b|\bplaceholder\b|coming soon|\btbd\b|lorem ipsum"
    r"|not yet in code/layers\.py|under construction",
    re.IGNORECASE,
)

MAX_SITE_BYTES = 15 * 1024 * 1024
MAX_FIGURE_BYTES = 600 * 1024


class _Article(HTMLParser):
    """Collects the text, the <h1>/<h2> titles and a few elements of the page's article."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0  # > 0 inside <article role="main">
        self.text = []
        self.h1, self.h2 = [], []
        self._heading = None
        self.imgs, self.tabs, self.code_blocks, self.bibliographies = 0, [], 0, 0
        self._in_tab_label = False
        self._skip = 0  # inside <script>/<style>

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "article" and attrs.get("role") == "main":
            self.depth = 1
            return
        if not self.depth:
            return
        if tag in ("script", "style"):
            self._skip += 1
        if tag not in ("br", "img", "hr", "input", "meta", "link", "col"):
            self.depth += 1
        classes = (attrs.get("class") or "").split()
        if tag in ("h1", "h2"):
            self._heading = [tag, []]
        elif tag == "img":
            self.imgs += 1
        elif tag == "label" and "sd-tab-label" in classes:
            self._in_tab_label = True
            self.tabs.append("")
        elif tag == "div" and any(c.startswith("highlight-") for c in classes):
            self.code_blocks += 1
        elif tag == "div" and "citation-list" in classes:
            self.bibliographies += 1

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag in ("script", "style"):
            self._skip -= 1
        if self._heading and tag == self._heading[0]:
            title = "".join(self._heading[1]).replace("#", "").strip()
            (self.h1 if tag == "h1" else self.h2).append(title)
            self._heading = None
        if tag == "label":
            self._in_tab_label = False
        if tag not in ("br", "img", "hr", "input", "meta", "link", "col"):
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth or self._skip:
            return
        self.text.append(data)
        if self._heading:
            self._heading[1].append(data)
        if self._in_tab_label:
            self.tabs[-1] += data.strip()


def _article(docname: str) -> _Article:
    path = HTML / f"{docname}.html"
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing: is there a page for {docname}?")
    parser = _Article()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module", autouse=True)
def _built_site():
    if not (HTML / "index.html").is_file():
        pytest.fail("_build/html is missing: run `make html` first (`make test` does)")


@pytest.mark.parametrize("docname", sorted(TOPICS))
def test_every_topic_has_a_page(docname):
    page = _article(docname)
    assert page.h1, f"{docname}.html has no title"
    assert re.search(TOPICS[docname], page.h1[0], re.IGNORECASE), (
        f"{docname}.html is titled {page.h1[0]!r}, not the topic {TOPICS[docname]!r}"
    )
    words = len(" ".join(page.text).split())
    assert words >= 150, f"{docname}.html has only {words} words: a stub, not a page"


@pytest.mark.parametrize("docname", sorted(TOPICS) + ["index"])
def test_no_stub_text(docname):
    text = " ".join(_article(docname).text)
    found = sorted({m.group(0) for m in STUB.finditer(text)})
    assert not found, f"{docname}.html contains stub text: {found}"


@pytest.mark.parametrize("docname", LAYER_PAGES)
def test_layer_page_has_the_sections_in_order(docname):
    h2 = _article(docname).h2
    position = 0
    for what, pattern in SECTIONS:
        for i in range(position, len(h2)):
            if re.search(pattern, h2[i], re.IGNORECASE):
                position = i + 1
                break
        else:
            pytest.fail(
                f"{docname}: no section for {what} (/{pattern}/) after {h2[: position]}; "
                f"sections are {h2}"
            )


@pytest.mark.parametrize("docname", LAYER_PAGES)
def test_layer_page_has_code_figure_tabs_and_bibliography(docname):
    page = _article(docname)
    assert page.code_blocks >= 3, f"{docname}: expected the included code, an example and equivalents"
    assert page.imgs >= 1, f"{docname}: no figure"
    tabs = " ".join(page.tabs).lower()
    assert "pytorch" in tabs and "keras" in tabs, f"{docname}: no PyTorch / Keras tabs ({page.tabs})"
    assert page.bibliographies >= 1, f"{docname}: no bibliography"


@pytest.mark.parametrize("docname", LAYER_PAGES)
def test_layer_page_includes_its_code_from_code_layers(docname):
    source = (ROOT / f"{docname}.md").read_text(encoding="utf-8")
    includes = re.findall(r"```\{literalinclude\}\s+(\S+)\s*\n((?::[^\n]*\n)*)", source)
    from_code = [opts for path, opts in includes if path.endswith("code/layers.py")]
    assert from_code, f"{docname}.md does not literalinclude ../code/layers.py"
    for opts in from_code:
        assert ":pyobject:" in opts, f"{docname}.md includes code without :pyobject:"
        assert ":lines:" not in opts and ":start-at:" not in opts, (
            f"{docname}.md includes code by line numbers or markers, not by :pyobject:"
        )
    assert ">>> " in source, f"{docname}.md has no `>>>` usage example"


def test_landing_table_is_computed_from_the_code():
    import layers

    text = " ".join(_article("index").text)
    expected = sum(p.size for p in layers.Linear(784, 256).params.values())
    assert f"(32, 784) → (32, 256), {expected:,} parameters" in text
    lstm = layers.LSTM(64, 128)
    out, _ = lstm.forward(np.zeros((50, 32, 64), dtype=np.float32))
    count = sum(p.size for p in lstm.params.values())
    assert f"(50, 32, 64) → {tuple(out.shape)}, {count:,} parameters" in text


def test_landing_table_links_every_layer_page():
    index = (HTML / "index.html").read_text(encoding="utf-8")
    table = index[index.index('class="cheatsheet'):]
    table = table[: table.index("</table>")]
    for docname in LAYER_PAGES + ["layers/losses-optimisers"]:
        # a row links to its page, or to the section of its layer on that page
        assert re.search(f'href="{re.escape(docname)}\\.html["#]', table), (
            f"the landing table has no row for {docname}"
        )


def test_site_size_is_within_the_limit():
    total = sum(p.stat().st_size for p in HTML.rglob("*") if p.is_file())
    assert total <= MAX_SITE_BYTES, f"_build/html is {total / 2**20:.1f} MB (limit 15 MB)"


def test_every_figure_is_light():
    """Figures drawn at build time stay small, so that the site keeps within its size limit."""
    heavy = {
        p.name: p.stat().st_size // 1024
        for p in (HTML / "_images").iterdir()
        if p.stat().st_size > MAX_FIGURE_BYTES
    }
    assert not heavy, (
        f"figures over {MAX_FIGURE_BYTES // 1024} KB (KB): {heavy}; draw fewer points, "
        "downsample images before imshow, or pass rasterized=True to dense artists"
    )


def test_no_page_refers_to_another_host_for_assets():
    """Scripts, styles, fonts and images all come from the site itself."""
    asset = re.compile(r"""<(?:script|img|link|source|iframe)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""")
    offenders = []
    for path in HTML.rglob("*.html"):
        for match in asset.finditer(path.read_text(encoding="utf-8")):
            tag = match.group(0)
            if tag.startswith("<link") and 'rel="stylesheet"' not in tag and "preload" not in tag:
                continue  # <link rel="canonical"> etc. load nothing
            offenders.append(f"{path.relative_to(HTML)}: {tag}")
    for path in list(HTML.rglob("*.css")) + list(HTML.rglob("*.js")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if re.search(r"@import\s+url\(\s*['\"]?https?://", text):
            offenders.append(f"{path.relative_to(HTML)}: @import from another host")
    assert not offenders, "\n".join(offenders)


def test_offline_mathjax_is_configured():
    index = (HTML / "index.html").read_text(encoding="utf-8")
    assert 'src="_static/mathjax/startup.js' in index
    assert '"fonts": "[mathjax]/fonts"' in index
    assert (HTML / "_static/mathjax/fonts/mathjax-newcm-font/chtml/woff2").is_dir()


def _sphinx(*args, timeout=600):
    env = dict(os.environ, PYTHONPATH=str(ROOT / "code"))
    sphinx = [sys.executable, "-m", "sphinx", "-b", "html", "-d", str(ROOT / "_build/doctrees")]
    return subprocess.run(
        [*sphinx, "-W", "-n", "-j", "1", *args, str(ROOT), str(HTML)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout,
    )


def test_rebuild_with_nothing_changed_reads_and_executes_nothing():
    _sphinx("-q")  # settle anything left over by another process
    result = _sphinx()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "0 added, 0 changed, 0 removed" in result.stdout, result.stdout[-3000:]
    assert "Executing notebook" not in result.stdout + result.stderr
    # How long it takes is measured by hand and reported in the README, not asserted here:
    # under `pytest -n` the other worker shares the CPU.
