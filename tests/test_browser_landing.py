"""The landing table as a reader sees it (issue 14, points 1, 8 and 9), in Chromium.

* From 1024 px up, in the light and the dark theme, the table fits: no sideways scrolling,
  nothing past the window, no name, code or formula spilling out of its cell, no formula
  broken across lines and no name broken inside a word.
* On a phone (390 px) it scrolls sideways, says so, and keeps the Layer column in view.
* Every row links to its layer: a link to a section lands on an anchor that exists.
* The PyTorch / Keras tabs: a choice made on one page holds on the next.
* Print: the landing page is one A4 landscape page whose formula scripts print at 5 pt or
  more; a layer page prints A4 portrait at reading size without the code-cell toggles.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlparse

import pytest
from browserkit import (  # noqa: F401 (fixtures)
    Visit,
    browser,
    new_page,
    server,
    site,
    wait_for_math,
)

WIDTHS = [1024, 1100, 1280, 1311, 1440, 1920]
THEMES = ["light", "dark"]
PT = 96 / 72  # CSS px per point

# What a reader would notice, measured in the page: returns a list of problems.
FIT_JS = r"""() => {
  const table = document.querySelector('table.cheatsheet');
  const wrapper = table.parentElement;
  const problems = [];
  if (wrapper.scrollWidth > wrapper.clientWidth)
    problems.push(`the table scrolls sideways: ${wrapper.scrollWidth} > ${wrapper.clientWidth} px`);
  const box = table.getBoundingClientRect();
  if (box.right > window.innerWidth || box.left < 0)
    problems.push(`the table spans ${box.left}..${box.right} px of a ${window.innerWidth} px window`);
  if (document.documentElement.scrollWidth > window.innerWidth)
    problems.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px`);
  const lines = (rects) => new Set([...rects].filter(r => r.width > 1).map(r => Math.round(r.top))).size;
  for (const td of table.querySelectorAll('td')) {
    const cell = td.getBoundingClientRect();
    for (const el of td.querySelectorAll('mjx-container, code, span.pre, a')) {
      for (const r of el.getClientRects())
        if (r.width > 0 && (r.right > cell.right + 0.5 || r.left < cell.left - 0.5))
          problems.push(`spills out of its cell: ${el.textContent.slice(0, 40)}`);
    }
    // a formula stays on one line
    for (const math of td.querySelectorAll('mjx-container'))
      if (lines(math.getClientRects()) > 1)
        problems.push(`formula broken across lines: ${math.querySelector('mjx-math')?.getAttribute('data-latex')}`);
    // a code word (span.pre) stays on one line: code breaks only at its spaces
    for (const word of td.querySelectorAll('span.pre'))
      if (lines(word.getClientRects()) > 1) problems.push(`name broken inside a word: ${word.textContent}`);
    // a word of a layer's link stays on one line
    for (const a of td.querySelectorAll('a')) {
      const walker = document.createTreeWalker(a, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        for (const m of n.data.matchAll(/\S+/g)) {
          const range = document.createRange();
          range.setStart(n, m.index);
          range.setEnd(n, m.index + m[0].length);
          if (lines(range.getClientRects()) > 1) problems.push(`name broken inside a word: ${m[0]}`);
        }
      }
    }
  }
  return problems;
}"""


def _open(browser, server, path, width, theme="light", height=900, visit=None):
    context, page = new_page(browser, visit or Visit(), viewport={"width": width, "height": height})
    page.goto(urljoin(server, path))
    page.evaluate(f"localStorage.theme = '{theme}'")
    page.reload()
    wait_for_math(page)
    return context, page


@pytest.fixture(scope="module")
def landing(browser, server):
    """One page per theme, resized to each width (a resize is cheaper than a reload)."""
    pages = {}
    for theme in THEMES:
        pages[theme] = _open(browser, server, "index.html", WIDTHS[0], theme)
    yield pages
    for context, _ in pages.values():
        context.close()


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("width", WIDTHS)
def test_landing_table_fits_without_breaking_names_or_formulas(landing, width, theme):
    _, page = landing[theme]
    page.set_viewport_size({"width": width, "height": 900})
    page.wait_for_function(f"() => window.innerWidth === {width}")
    assert page.evaluate("document.body.dataset.theme") == theme
    problems = page.evaluate(FIT_JS)
    assert not problems, f"{width} px, {theme}: " + "; ".join(problems[:10])


@pytest.mark.parametrize("theme", THEMES)
def test_on_a_phone_the_table_scrolls_and_keeps_the_layer_column(browser, server, theme):
    context, page = _open(browser, server, "index.html", 390, theme, height=844)
    try:
        state = page.evaluate(r"""() => {
          const table = document.querySelector('table.cheatsheet'), wrapper = table.parentElement;
          const hint = wrapper.previousElementSibling;
          const row = table.querySelector('tbody tr');
          wrapper.scrollLeft = wrapper.scrollWidth;
          const view = wrapper.getBoundingClientRect(), cell = row.children[0].getBoundingClientRect();
          const last = row.children[row.children.length - 1].getBoundingClientRect();
          return {scrolls: wrapper.scrollWidth > wrapper.clientWidth, scrollLeft: wrapper.scrollLeft,
                  cell: [cell.left, cell.right], view: [view.left, view.right], last: [last.left, last.right],
                  background: getComputedStyle(row.children[0]).backgroundColor,
                  hint: Boolean(hint && hint.classList.contains('cheatsheet-scroll-hint') && !hint.hidden
                                && hint.getBoundingClientRect().height > 0)};
        }""")
    finally:
        context.close()
    assert state["scrolls"] and state["scrollLeft"] > 0, state
    assert state["hint"], "nothing tells the reader that the table scrolls sideways"
    left, right = state["cell"]
    assert state["view"][0] - 0.5 <= left and right <= state["view"][1] + 0.5, (
        f"the Layer cell left the view after scrolling right: {state}"
    )
    assert state["last"][1] <= state["view"][1] + 0.5, f"the last column is not reachable: {state}"
    alpha = re.findall(r"[\d.]+", state["background"])
    assert state["background"].startswith("rgb(") or (len(alpha) == 4 and float(alpha[3]) == 1), (
        f"the sticky Layer cell is see-through ({state['background']}): the scrolled cells show through it"
    )


def test_every_row_links_to_its_layer_and_anchors_exist(browser, server, site):
    context, page = _open(browser, server, "index.html", 1280)
    try:
        links = page.evaluate(
            "() => [...document.querySelectorAll('table.cheatsheet tbody tr')]"
            ".map(tr => { const a = tr.children[0].querySelector('a'); return a ? a.href : null; })"
        )
        assert links and all(links), f"a row without a link: {links}"
        # a page of many layers (activations): each row lands on its own section
        by_page: dict[str, list[str]] = {}
        for href in links:
            by_page.setdefault(urlparse(href).path, []).append(href)
        for path, hrefs in by_page.items():
            if len(hrefs) >= 4:
                assert all(urlparse(h).fragment for h in hrefs), (
                    f"rows link to the top of {path}, not to the section of their layer: {hrefs}"
                )
        missing = []
        for path in sorted(by_page):  # the ids are in the HTML that Sphinx wrote
            ids = set(re.findall(r'\bid="([^"]+)"', (site / path.lstrip("/")).read_text(encoding="utf-8")))
            missing += [h for h in by_page[path] if urlparse(h).fragment and urlparse(h).fragment not in ids]
        assert not missing, f"row links to anchors that do not exist: {missing}"
    finally:
        context.close()


def test_the_chosen_framework_tab_holds_on_the_next_page(browser, server, site):
    pages = [p for p in ["layers/linear.html", "layers/lstm.html", "layers/batchnorm.html"] if (site / p).is_file()]
    assert len(pages) >= 2, "needs two pages with PyTorch / Keras tabs"
    context, page = new_page(browser, Visit(), viewport={"width": 1280, "height": 900})
    try:
        page.goto(urljoin(server, pages[0]))
        checked = "() => [...document.querySelectorAll('.sd-tab-set > input:checked + label')].map(l => l.textContent.trim())"
        assert set(page.evaluate(checked)) == {"PyTorch"}
        page.locator("label.sd-tab-label", has_text="Keras").first.click()
        assert set(page.evaluate(checked)) == {"Keras"}, "the other tab-sets of the page did not follow"
        page.goto(urljoin(server, pages[1]))
        page.wait_for_load_state("load")
        assert set(page.evaluate(checked)) == {"Keras"}, f"{pages[1]} forgot the Keras choice"
    finally:
        context.close()


def test_printed_landing_math_scripts_are_at_least_5pt(browser, server):
    # the size of the printed sheet: A4 landscape less the margins of print.css
    context, page = _open(browser, server, "index.html", 1077, height=756)
    try:
        page.emulate_media(media="print")
        sizes = page.evaluate(
            "() => [...document.querySelectorAll('table.cheatsheet mjx-container mjx-c')]"
            ".filter(c => c.getClientRects().length).map(c => parseFloat(getComputedStyle(c).fontSize))"
        )
        text = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('table.cheatsheet td')).fontSize)")
    finally:
        context.close()
    assert sizes, "no math in the landing table"
    assert min(sizes) >= 5 * PT - 0.01, (
        f"the smallest formula script prints at {min(sizes) / PT:.2f} pt (text {text / PT:.2f} pt)"
    )


def test_printed_layer_page_reads_at_normal_size_without_toggles(browser, server, site):
    path = "layers/lstm.html"
    assert (site / path).is_file()
    context, page = _open(browser, server, path, 794)
    try:
        page.emulate_media(media="print")
        state = page.evaluate(r"""() => ({
          body: parseFloat(getComputedStyle(document.querySelector('article p')).fontSize),
          toggles: [...document.querySelectorAll('details > summary, button.copybtn, .sidebar-drawer, .toc-drawer')]
            .filter(e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden').length,
        })""")
        pdf = page.pdf(prefer_css_page_size=True)
    finally:
        context.close()
    assert state["body"] >= 10 * PT - 0.01, f"body text prints at {state['body'] / PT:.1f} pt"
    assert state["toggles"] == 0, f"{state['toggles']} toggles, copy buttons or navigation print"
    boxes = set(re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf))
    assert boxes and all([round(float(v)) for v in b.split()] == [0, 0, 595, 842] for b in boxes), (
        f"not A4 portrait: {boxes}"
    )
