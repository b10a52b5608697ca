"""Every page of the built site in a real browser: headless Chromium driven by Playwright.

Each page is visited once (a module-scoped fixture), recording console errors, every request,
the state of the math and of every image, and an axe-core accessibility audit; each check is
then its own test. Requests to any other host are recorded and refused, so a page that needs
the network fails here as it would for a reader offline.

The visits take minutes (the audit above all), so the pages are split between two test
modules, ``test_browser_pages_0.py`` and ``test_browser_pages_1.py``, which import these tests
and say which share they visit (``PART``); under ``pytest -n auto --dist loadfile`` the two
shares run side by side. The site is served by ``browserkit.py``.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from browserkit import (  # noqa: F401 (fixtures)
    CONTENT_PAGES, PAGES, RAW_TEX, Visit, browser, new_page, server, site, wait_for_math,
)

PARTS = 2

MATH_STATE = """() => {
  const article = document.querySelector('article[role=main]') || document.body;
  const maths = [...article.querySelectorAll('.math')];
  const untypeset = maths.filter(m => !m.querySelector('mjx-container')).map(m => m.textContent.slice(0, 80));
  const clone = article.cloneNode(true);
  clone.querySelectorAll('pre, code, mjx-container, script, style, .highlight').forEach(e => e.remove());
  return {count: maths.length, typeset: article.querySelectorAll('mjx-container').length,
          untypeset, text: clone.innerText};
}"""

IMAGE_STATE = """async () => {
  const out = [];
  for (const img of document.querySelectorAll('img')) {
    img.loading = 'eager';
    img.scrollIntoView();
    try { await img.decode(); } catch (e) {}
    out.push({src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth});
  }
  window.scrollTo(0, 0);
  return out;
}"""


BATCH = 2  # pages loading at the same time (each in its own renderer process)


def pages_of(part: int, pages=PAGES) -> list[str]:
    """Every other page of the site: part 0 or part 1 (each visited by its own test module)."""
    return [p for p in pages if PAGES.index(p) % PARTS == part]


def pytest_generate_tests(metafunc):
    """``page`` runs over the module's share of PAGES, ``content_page`` of CONTENT_PAGES."""
    part = metafunc.module.PART
    for name, pages in (("page", PAGES), ("content_page", CONTENT_PAGES)):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, pages_of(part, pages))


@pytest.fixture(scope="module")
def visits(request, browser, server):
    """Visits the module's pages once and records what happened; the tests read the records."""
    axe = Axe()
    result = {}
    mine = pages_of(request.module.PART)
    for start in range(0, len(mine), BATCH):
        batch = []
        for path in mine[start:start + BATCH]:  # start loading the whole batch ...
            visit = Visit()
            context, page = new_page(browser, visit)
            page.goto(server + path, wait_until="commit")
            batch.append((path, visit, context, page))
        for path, visit, context, page in batch:  # ... then inspect the pages one by one
            page.wait_for_load_state("load")
            wait_for_math(page)
            page.wait_for_load_state("networkidle")
            visit.math = page.evaluate(MATH_STATE)
            visit.images = page.evaluate(IMAGE_STATE)
            audit = axe.run(page)
            for violation in audit.response.get("violations", []):
                if violation.get("impact") in ("serious", "critical"):
                    targets = [", ".join(n.get("target", [])) for n in violation["nodes"][:5]]
                    visit.serious_a11y.append(
                        f"{violation['id']} ({violation['impact']}): {violation['help']} "
                        f"- {len(violation['nodes'])} elements, e.g. {targets}"
                    )
            context.close()
            result[path] = visit
    return result


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


def test_every_image_loads(content_page, visits):
    broken = [img for img in visits[content_page].images if not img["complete"] or img["width"] == 0]
    assert not broken, broken


def test_layer_pages_show_figures(page, visits):
    if page.startswith("layers/"):
        assert any(img["src"].startswith("../_images/") for img in visits[page].images), page


def test_no_serious_accessibility_violations(page, visits):
    assert not visits[page].serious_a11y, "\n".join(visits[page].serious_a11y)
