"""Figures and equations as a reader sees them (issue 14, points 4, 6 and 7).

* Figure text renders at 10 px or more in a 1440-px-wide window, and every figure is a link
  to its own file: checked on every page by the page visits (``browser_pages.py``), with the
  size reader ``svgtext.py`` tested here. Clicking a figure opens it at full size.
* Figure and equation numbers count from 1 on each page, and the ``{numref}``/``{eq}``
  references show the number shown at their target.
* On a phone (390 px), an equation number never overlaps its equation, and a link to an
  equation lands on it once MathJax has laid out the page.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import svgtext
from browserkit import (  # noqa: F401 (fixtures)
    CONTENT_PAGES, Visit, browser, new_page, server, site, wait_for_math,
)
from test_sphinxext import project  # noqa: F401 (fixture: a tiny site built with sphinx.testing)

pytest_plugins = ["sphinx.testing.fixtures"]

MIN_TEXT_PX = 10
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
EQUATION_PAGES = ["layers/lstm.html", "layers/batchnorm.html"]
LAND_TOLERANCE_PX = 10


# -- The built HTML, read from the files -------------------------------------------------


_BLOCKS = ("figure", "div", "table")  # the elements that carry a figure's or equation's id


class _Page(HTMLParser):
    """What a page shows: its figure images (with the link around each), its figure and
    equation numbers by id, and its references to figures and equations."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.images: list[dict] = []  # {"src", "alt", "link"}
        self.numbers: dict[str, str] = {}  # id of a figure or equation -> number shown
        self.references: list[tuple[str, str]] = []  # (href, text)
        self._links: list[dict | None] = []
        self._ids: list[str] = []  # ids of the open elements with an id
        self._capture: list | None = None  # [kind, key, text]

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "a":
            href = a.get("href") or ""
            reference = "reference" in classes and "internal" in classes and re.search(
                r"#(fig-|equation-)", href) and "headerlink" not in classes
            self._links.append(a)
            if reference:
                self._capture = ["ref", href, ""]
        if tag == "img":
            link = self._links[-1] if self._links and self._links[-1] is not None else None
            self.images.append({"src": a.get("src"), "alt": a.get("alt") or "", "link": link})
        if tag in _BLOCKS:
            self._ids.append(a.get("id") or "")
        if tag == "span" and "caption-number" in classes:
            figure = next((i for i in reversed(self._ids) if i), "")
            self._capture = ["number", figure, ""]
        if tag == "span" and "eqno" in classes:
            equation = next((i for i in reversed(self._ids) if i.startswith("equation-")), "")
            self._capture = ["eqno", equation, ""]

    def handle_endtag(self, tag):
        if tag == "a":
            if self._links:
                self._links.pop()
            if self._capture and self._capture[0] == "ref":
                self.references.append((self._capture[1], self._capture[2].strip()))
                self._capture = None
        if tag in _BLOCKS and self._ids:
            self._ids.pop()
        if tag == "span" and self._capture and self._capture[0] in ("number", "eqno"):
            self.numbers[self._capture[1]] = self._capture[2].strip()
            self._capture = None

    def handle_data(self, data):
        if self._capture is not None:
            # the equation number's permalink (a pilcrow) is not part of the number
            if self._capture[0] == "eqno" and self._links:
                return
            self._capture[2] += data


def _read(site_dir, page: str) -> _Page:
    parsed = _Page()
    parsed.feed((site_dir / page).read_text(encoding="utf-8"))
    return parsed




@pytest.fixture(scope="module")
def pages(site):
    return {p: _read(site, p) for p in CONTENT_PAGES}


# -- Figure text size at 1440 px: measured in the page visits (browser_pages.py) ----------------


def test_every_glyph_run_is_measured():
    """The size reader finds the runs matplotlib writes (a figure made here, sizes known)."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3))
    ax.set_title("title", fontsize=13)
    ax.set_ylabel("rotated $x_i^2$", fontsize=9)
    ax.tick_params(labelsize=7)
    ax.plot([0, 1], [0, 1], "o")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    width, runs = svgtext.text_runs(buffer.getvalue())
    assert width == pytest.approx(288)
    assert {round(size, 6) for size, _ in runs} == {13, 9, 7}


# -- Full size on click ----------------------------------------------------------------


def test_clicking_a_figure_opens_it_at_full_size(browser, server):
    visit = Visit()
    context, page = new_page(browser, visit, viewport=PHONE)
    page.goto(server + "layers/linear.html")
    image = page.locator("article figure img").first
    shown = image.evaluate("img => img.getBoundingClientRect().width")
    src = urljoin(page.url, image.get_attribute("src"))
    image.click()
    page.wait_for_url(src)
    full = page.evaluate("() => document.documentElement.getBoundingClientRect().width")
    context.close()
    assert full > 1.5 * shown, f"the figure opens {full:.0f} px wide, shown {shown:.0f} px wide"


# -- Numbers local to each page ----------------------------------------------------------


def test_linear_figure_is_figure_1(pages):
    assert pages["layers/linear.html"].numbers.get("fig-linear") == "Figure 1"


def test_lstm_equations_count_from_1(pages):
    shown = [n for i, n in pages["layers/lstm.html"].numbers.items() if i.startswith("equation-")]
    assert shown and shown[0] == "(1)", shown


@pytest.mark.parametrize("path", CONTENT_PAGES)
def test_numbers_count_from_1_on_each_page(path, pages):
    numbers = pages[path].numbers
    figures = [int(n.split()[-1]) for i, n in numbers.items() if not i.startswith("equation-")
               and n.startswith("Figure")]
    equations = [int(n.strip("()")) for i, n in numbers.items() if i.startswith("equation-")]
    assert figures == list(range(1, len(figures) + 1)), f"figure numbers {figures}"
    assert equations == list(range(1, len(equations) + 1)), f"equation numbers {equations}"


@pytest.mark.parametrize("path", CONTENT_PAGES)
def test_references_show_the_number_of_their_target(path, pages):
    for href, text in pages[path].references:
        target = urlparse(urljoin("http://x/" + path, href))
        target_page, anchor = target.path.lstrip("/"), unquote(target.fragment)
        shown = pages[target_page].numbers.get(anchor)
        assert shown is not None, f"{path}: {href} points to no numbered figure or equation"
        assert text == shown, f"{path}: the reference {href} reads {text!r}, the target {shown!r}"


# -- Equations on a phone ----------------------------------------------------------------

OVERLAPS = """() => {
  const out = [];
  for (const math of document.querySelectorAll('div.math')) {
    const number = math.querySelector(':scope > span.eqno');
    const formula = math.querySelector('mjx-container');
    if (!number || !formula) continue;
    const a = number.getBoundingClientRect(), b = formula.getBoundingClientRect();
    const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
    const clipped = b.right > document.documentElement.clientWidth + 1
      && getComputedStyle(formula).overflowX === 'visible';
    out.push({id: math.id, number: number.textContent.trim(), overlap, clipped,
              number_box: [a.left, a.right], formula_box: [b.left, b.right]});
  }
  return out;
}"""


@pytest.mark.parametrize("path", EQUATION_PAGES)
def test_equation_numbers_do_not_overlap_equations_on_a_phone(path, browser, server):
    visit = Visit()
    context, page = new_page(browser, visit, viewport=PHONE)
    page.goto(server + path)
    wait_for_math(page)
    page.wait_for_function("() => document.documentElement.dataset.mathLaidOut === 'true'")
    equations = page.evaluate(OVERLAPS)
    context.close()
    assert equations, f"{path}: no numbered equation found"
    bad = [e for e in equations if e["overlap"] or e["clipped"]]
    assert not bad, f"{path} at 390 px: equation numbers over their equations: {bad}"


LANDING = """(id) => {
  // where the browser puts a target: scroll-padding-top of the page plus the target's
  // scroll-margin-top (Furo leaves 2.5rem, and the height of its header on a phone)
  const element = document.getElementById(id);
  const padding = (parseFloat(getComputedStyle(document.documentElement).scrollPaddingTop) || 0)
    + (parseFloat(getComputedStyle(element).scrollMarginTop) || 0);
  const top = element.getBoundingClientRect().top;
  const room = document.documentElement.scrollHeight - window.scrollY - top;
  return {top, padding, room, height: window.innerHeight};
}"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1440px", "390px"])
def test_equation_link_lands_on_the_equation(viewport, browser, server, pages):
    # the last numbered equation of the page (the backward pass): far enough down for the
    # formulas above it to move it when MathJax typesets them, far enough from the end to
    # reach the top
    path = "layers/lstm.html"
    equation = [i for i in pages[path].numbers if i.startswith("equation-")][-1]
    visit = Visit()
    context, page = new_page(browser, visit, viewport=viewport)
    page.goto(f"{server}{path}#{equation}")
    wait_for_math(page)
    page.wait_for_function("() => document.documentElement.dataset.mathLaidOut === 'true'")
    where = page.evaluate(LANDING, equation)
    context.close()
    assert where["room"] > where["height"], "the equation is too near the end to reach the top"
    assert abs(where["top"] - where["padding"]) <= LAND_TOLERANCE_PX, (
        f"#{equation} is {where['top'] - where['padding']:.0f} px below where it should land "
        f"({where['padding']:.0f} px from the top) after MathJax")


# -- The figure style is part of the execution cache's key -------------------------------


def test_a_new_figure_style_redraws_the_figures(make_app, project, monkeypatch):
    """The kernels' figure style lives outside the cells (sphinxext/kernel_env.py): a change
    of it must make every executed page run again, in the new style, and then be cached."""
    from sphinxext import kernel_env
    from test_sphinxext import NOTEBOOK, _build

    cell = ("import matplotlib.pyplot as plt\nfig = plt.figure()\n"
            "print('font size', format(plt.rcParams['font.size'], 'g'))")
    (project / "a.md").write_text(NOTEBOOK.format(name="a", code=cell))

    app, read, _ = _build(make_app, project)
    size = kernel_env.FIGURE_RC["font.size"]
    assert f"font size {size:g}" in (Path(app.outdir) / "a.html").read_text()

    style = dict(kernel_env.FIGURE_RC, **{"font.size": size + 6})
    monkeypatch.setattr(kernel_env, "KERNEL_CONFIG", kernel_env.KERNEL_CONFIG.replace(
        repr(kernel_env.FIGURE_RC), repr(style)))
    monkeypatch.setattr(kernel_env, "FIGURE_RC", style)
    app, read, _ = _build(make_app, project)
    assert {"a", "b"} <= read
    assert f"font size {size + 6:g}" in (Path(app.outdir) / "a.html").read_text()

    app, read, _ = _build(make_app, project)  # nothing changed: nothing read or executed
    assert read == set()
