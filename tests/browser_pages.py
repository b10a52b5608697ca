"""Every page of the built site in a real browser: headless Chromium driven by Playwright.

Each page is visited once (a module-scoped fixture), in a fresh browser context (an empty
cache) with a 1440 x 900 window, recording console errors, every request and the size of every
response body, the state of the math and of every image, the figures as laid out, and an
axe-core accessibility audit; each check is then its own test. Requests to any other host are
recorded and refused, so a page that needs the network fails here as it would for a reader
offline.

What one visit checks:

* the page loads without console errors or failed requests, and asks no other host;
* the math is typeset, and every formula carries the assistive MathML that screen readers
  read (the CommonHTML is ``aria-hidden``); MathJax is configured in conf.py (startup.js with
  the TeX input, the CommonHTML output and the assistive MathML; no speech, Braille or
  explorer: tools/mathjax-assets.sh says why);
* a first visit of a layer page loads at most ``BUDGET`` bytes (every response body,
  uncompressed, until the math is typeset and the network is idle), and nothing of MathJax's
  speech or Braille generation;
* every image loads, and the text of every figure renders at 10 px or more at 1440 px
  (``svgtext.py`` reads the font size of each run of text from the SVG; an image shown
  ``w`` pixels wide for a ``viewBox`` ``W`` points wide shows a run of ``F`` points at
  ``F * w / W`` pixels); every figure is a link to its own file;
* axe finds no serious or critical violation. The rules whose result depends on the
  stylesheet rather than on what a page says (``STYLE_RULES``: colour contrast, links told
  apart from their text, target size) were most of axe's time (10 of 14 s on the activations
  page, checking thousands of runs of text whose colours the same few style rules set). They
  run on one element of each kind (a run of text or a control, with its nearest classed
  ancestor, their classes and any inline colour: ``MARK_NEW_TEXT_KINDS``) not seen on an
  earlier page of the module, in both themes: Furo's default theme follows the reader's
  system setting, which the browser emulates. Every other rule runs on the whole page.

The visits take minutes, so the pages are split between two test modules,
``test_browser_pages_0.py`` and ``test_browser_pages_1.py``, which import these tests and say
which share they visit (``PART``); under ``pytest -n auto --dist loadfile`` the shares run side
by side and the other modules fill in around them. The site is served by ``browserkit.py``.
"""

from __future__ import annotations

import urllib.request
from pathlib import PurePosixPath
from urllib.parse import urljoin

import pytest
import svgtext
from axe_playwright_python.sync_playwright import Axe
from browserkit import (  # noqa: F401 (fixtures)
    CONTENT_PAGES, HTML, PAGES, RAW_TEX, Visit, browser, new_page, server, site, wait_for_math,
)

PARTS = 2
WINDOW = {"width": 1440, "height": 900}
BATCH = 2  # pages loading at the same time (each in its own renderer process)
BUDGET = int(1.2 * 2**20)  # bytes, uncompressed, for everything a first visit of a layer page loads
MIN_FIGURE_TEXT_PX = 10
LAYER_PAGES = [p for p in PAGES if p.startswith("layers/")]
FIGURE_PAGES = [p for p in CONTENT_PAGES if "_images/" in (HTML / p).read_text(encoding="utf-8")]
THEMES = ("light", "dark")


# -- What a visit records ------------------------------------------------------------------------

MATH_STATE = """() => {
  const article = document.querySelector('article[role=main]') || document.body;
  const maths = [...article.querySelectorAll('.math')];
  const untypeset = maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80));
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, mjx-container, script, style, .highlight').forEach(e => e.remove());
  const containers = [...document.querySelectorAll('mjx-container')];
  return {count: maths.length, typeset: article.querySelectorAll('mjx-container').length,
          untypeset, text: clone.innerText,
          containers: containers.length,
          withMathML: containers.filter(c => c.querySelector(':scope > mjx-assistive-mml > math')).length,
          visualHidden: containers.filter(c => c.querySelector(':scope > mjx-math[aria-hidden="true"]')).length,
          mathmlHidden: containers.filter(c => c.querySelector('mjx-assistive-mml[aria-hidden="true"]')).length};
}"""

# Every image, loaded (lazy ones too) and decoded; for the article's images also the width
# they are shown at and the link around them.
IMAGE_STATE = """async () => {
  const out = [];
  for (const img of document.querySelectorAll('img')) {
    img.loading = 'eager';
    img.scrollIntoView();
    try { await img.decode(); } catch (e) {}
    const link = img.closest('a');
    out.push({src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth,
              inArticle: !!img.closest('article'), shownWidth: img.getBoundingClientRect().width,
              href: link ? link.getAttribute('href') : null,
              name: link ? (link.getAttribute('aria-label') || img.alt || link.textContent).trim() : ''});
  }
  window.scrollTo(0, 0);
  return out;
}"""

# Marks one element of each kind not seen on an earlier page of this module, for the audit of
# the style rules. The elements are those that hold a run of text and those a reader can click
# or focus; a kind is such an element and the nearest enclosing element with a class: tag,
# classes (a number at the end of a class dropped, as in toctree-l2) and an inline style that
# sets a colour, of each. Returns the kinds marked.
MARK_NEW_TEXT_KINDS = """(seen) => {
  const seenKinds = new Set(seen);
  const describe = el => el.tagName.toLowerCase() + '.' +
      [...el.classList].map(c => c.replace(/\\d+$/, '')).sort().join('.') +
      (/color|background/.test(el.getAttribute('style') || '') ? '[' + el.getAttribute('style') + ']' : '');
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const holders = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (node.textContent.trim() && el && !el.closest('script, style, svg, noscript')) holders.push(el);
  }
  holders.push(...document.querySelectorAll('a, button, input, select, summary, label, [tabindex]'));
  const marked = [];
  for (const el of holders) {
    let holder = el.parentElement;
    while (holder && holder.classList.length === 0) holder = holder.parentElement;
    const kind = describe(el) + ' in ' + (holder ? describe(holder) : '-');
    if (seenKinds.has(kind)) continue;
    seenKinds.add(kind);
    el.setAttribute('data-contrast-audit', '');
    marked.push(kind);
  }
  return marked;
}"""

# Leaves in the page only the marked elements, their ancestors and their own text. An axe run
# costs in proportion to the whole page (it lays a grid over every element to find what lies
# behind a run of text); with the rest removed, the marked elements keep their classes, their
# ancestors and so their colours, and the style rules run on a page of a few hundred elements.
KEEP_ONLY_MARKED = """() => {
  const keep = new Set();
  for (const el of document.querySelectorAll('[data-contrast-audit]'))
    for (let a = el; a; a = a.parentElement) keep.add(a);
  const prune = parent => {
    for (const child of [...parent.children]) {
      if (keep.has(child)) prune(child);
      else if (!child.matches('style, link, script')) child.remove();
    }
  };
  prune(document.body);
  return document.body.querySelectorAll('*').length;
}"""

# The rules whose result depends on the stylesheet, not on what a page says: colour contrast,
# links told apart from the text around them, the size of click targets.
STYLE_RULES = ["color-contrast", "link-in-text-block", "target-size"]
AXE_EVERY_PAGE = {"resultTypes": ["violations"], "rules": {rule: {"enabled": False} for rule in STYLE_RULES}}
AXE_STYLE = {"resultTypes": ["violations"], "runOnly": {"type": "rule", "values": STYLE_RULES}}


def pages_of(part: int, pages=PAGES) -> list[str]:
    """Every other page of the site: part 0 or 1 (each visited by its own test module)."""
    return [p for p in pages if PAGES.index(p) % PARTS == part]


def pytest_generate_tests(metafunc):
    """``page`` runs over the module's share of PAGES, ``content_page`` of CONTENT_PAGES, and so
    on for the layer pages and the pages with figures."""
    part = metafunc.module.PART
    for name, pages in (("page", PAGES), ("content_page", CONTENT_PAGES), ("layer_page", LAYER_PAGES),
                        ("figure_page", FIGURE_PAGES)):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, pages_of(part, pages))


def _serious(audit) -> list[str]:
    found = []
    for violation in audit.response.get("violations", []):
        if violation.get("impact") in ("serious", "critical"):
            targets = [", ".join(n.get("target", [])) for n in violation["nodes"][:5]]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} "
                         f"- {len(violation['nodes'])} elements, e.g. {targets}")
    return found


@pytest.fixture(scope="module")
def visits(request, browser, server):
    """Visits the module's pages once and records what happened; the tests read the records."""
    axe = Axe()
    result, seen = {}, []
    mine = pages_of(request.module.PART)
    for start in range(0, len(mine), BATCH):
        batch = []
        for path in mine[start:start + BATCH]:  # start loading the whole batch ...
            visit = Visit()
            context, page = new_page(browser, visit, viewport=WINDOW)
            sizes: dict[str, int] = {}
            page.on("response", lambda r, sizes=sizes: sizes.__setitem__(r.url, len(r.body())))
            page.goto(server + path, wait_until="commit")
            batch.append((path, visit, context, page, sizes))
        for path, visit, context, page, sizes in batch:  # ... then inspect the pages one by one
            page.wait_for_load_state("load")
            wait_for_math(page)
            page.wait_for_load_state("networkidle")
            visit.sizes = {url.removeprefix(server): size for url, size in sizes.items()}  # before
            visit.math = page.evaluate(MATH_STATE)  # the images below are made to load
            visit.images = page.evaluate(IMAGE_STATE)
            visit.serious_a11y = _serious(axe.run(page, options=AXE_EVERY_PAGE))
            visit.text_kinds = page.evaluate(MARK_NEW_TEXT_KINDS, seen)
            seen += visit.text_kinds
            if visit.text_kinds:
                page.evaluate(KEEP_ONLY_MARKED)  # the last use of the page
            for theme in THEMES:  # Furo's default theme follows the reader's system setting
                page.emulate_media(color_scheme=theme)
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                serious = _serious(axe.run(page, context="[data-contrast-audit]", options=AXE_STYLE)) \
                    if visit.text_kinds else []
                visit.contrast[theme] = (background, serious)
            context.close()
            result[path] = visit
    return result


# -- The tests -----------------------------------------------------------------------------------


def test_page_loads_without_console_errors(page, visits):
    visit = visits[page]
    assert not visit.console_errors, "\n".join(visit.console_errors)
    assert not visit.failed_requests, "\n".join(visit.failed_requests)


def test_no_request_leaves_the_machine(page, visits):
    assert not visits[page].foreign_requests, "\n".join(visits[page].foreign_requests)


def test_math_is_typeset(content_page, visits):
    math = visits[content_page].math
    assert not math["untypeset"], f"math left as TeX: {math['untypeset'][:5]}"
    if math["count"]:
        assert math["typeset"] >= math["count"], math
    left = [d for d in RAW_TEX if d in math["text"]]
    assert not left, f"raw TeX in the text of {content_page}: {left}"


def test_pages_with_formulas_have_math(page, visits):
    if page in ("index.html", "layers/linear.html"):
        assert visits[page].math["typeset"] >= 10, (page, visits[page].math["typeset"])


def test_formulas_carry_assistive_mathml(content_page, visits):
    """Screen readers read a hidden MathML copy of each formula; the CommonHTML is aria-hidden."""
    math = visits[content_page].math
    assert math["withMathML"] == math["containers"], math
    assert math["visualHidden"] == math["containers"], math
    assert math["mathmlHidden"] == 0, math


def test_every_image_loads(content_page, visits):
    broken = [img for img in visits[content_page].images if not img["complete"] or img["width"] == 0]
    assert not broken, broken


def test_layer_pages_show_figures(page, visits):
    if page.startswith("layers/"):
        assert any(img["src"].startswith("../_images/") for img in visits[page].images), page


def test_a_first_visit_stays_within_the_budget(layer_page, visits):
    sizes = visits[layer_page].sizes
    total = sum(sizes.values())
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:8]
    assert total <= BUDGET, (
        f"{layer_page}: {total / 2**20:.2f} MiB on a first visit (budget {BUDGET / 2**20:.1f} MiB); "
        "largest: " + ", ".join(f"{url} {size // 1024} KiB" for url, size in largest)
    )


def test_no_speech_or_braille_generation_is_loaded(page, visits):
    """The speech rule engine and its maps were 1 MiB of every first visit."""
    unwanted = [url for url in visits[page].sizes
                if any(part in url for part in ("/sre/", "speech", "semantic-enrich", "explorer",
                                                "ui/menu", "tex-chtml.js"))]
    assert not unwanted, unwanted


def _file_of(page: str, src: str) -> str:
    return str(PurePosixPath(urljoin("http://x/" + page, src)[len("http://x/"):]))


def figure_text_px(site_dir, page: str, image: dict) -> tuple[float, str]:
    """The smallest text of a figure as shown, in px, and the glyphs of that run."""
    svg = (site_dir / _file_of(page, image["src"])).read_bytes()
    width, runs = svgtext.text_runs(svg)
    assert runs, f"{image['src']}: no text found in the SVG (did matplotlib's SVG change?)"
    # every glyph drawn belongs to a run whose size was read
    assert sum(len(r[1].split()) for r in runs) <= svgtext.count_glyph_uses(svg)
    size, glyphs = min(runs)
    return size * image["shownWidth"] / width, glyphs


def _figures(visit):
    return [img for img in visit.images if img["inArticle"]]


def test_figure_text_is_at_least_10px_at_1440px(figure_page, visits, site):
    small = []
    for image in _figures(visits[figure_page]):
        if not image["src"].endswith(".svg"):
            continue
        px, glyphs = figure_text_px(site, figure_page, image)
        if px < MIN_FIGURE_TEXT_PX:
            small.append(f"{image['src'].rsplit('/', 1)[-1][:12]}: {px:.1f} px ({glyphs[:40]})")
    assert not small, f"figure text under {MIN_FIGURE_TEXT_PX} px at 1440 px: {small}"


def test_every_figure_links_to_its_file(figure_page, visits, server):
    figures = _figures(visits[figure_page])
    assert figures, figure_page
    for image in figures:
        assert image["href"], f"{figure_page}: {image['src']} is not inside a link"
        assert urljoin(server + figure_page, image["href"]) == urljoin(server + figure_page, image["src"]), (
            f"{figure_page}: the link around {image['src']} goes to {image['href']}")
        assert image["name"], f"{figure_page}: the link around {image['src']} has no accessible name"
        with urllib.request.urlopen(urljoin(server + figure_page, image["href"]), timeout=10) as r:
            assert r.status == 200 and r.read(200)


def test_no_serious_accessibility_violations(page, visits):
    assert not visits[page].serious_a11y, "\n".join(visits[page].serious_a11y)


def test_text_has_enough_contrast_in_both_themes(page, visits):
    backgrounds = set()
    for theme in THEMES:
        background, serious = visits[page].contrast[theme]
        backgrounds.add(background)
        assert not serious, f"{theme} theme:\n" + "\n".join(serious)
    assert len(backgrounds) == 2, f"the two themes have the same background: {backgrounds}"


def test_the_contrast_audit_sees_every_kind_of_text(visits):
    """Each kind once: the prose, inline and highlighted code, the sidebar, captions, ..."""
    kinds = [k for visit in visits.values() for k in visit.text_kinds]
    assert len(kinds) == len(set(kinds)), "a kind of text was audited twice"
    assert len(kinds) >= 100, kinds
    for expected in ("p. in ", "span.pre in code.docutils.literal", "span.n in div.highlight",
                     "a.internal.reference in li.toctree-l", "span.caption-text in "):
        assert any(k.startswith(expected) for k in kinds), (expected, sorted(kinds)[:40])
