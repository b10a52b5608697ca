"""The built site in a real browser: headless Chromium driven by Playwright.

The test serves a snapshot of ``_build/html`` with ``python -m http.server`` on 127.0.0.1
(``browserkit.py``, shared by every browser test module) and visits every page once (a module-scoped fixture), recording console errors, every request, the state of
the math and of every image, and an axe-core accessibility audit. Each check is then its own
test. Requests to any other host are recorded and refused, so a page that needs the network
fails here as it would for a reader offline.

Chromium comes from Debian (``/usr/bin/chromium``); Playwright's own browser download does not
work on this machine kind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from axe_playwright_python.sync_playwright import Axe
from browserkit import (  # noqa: F401 (fixtures)
    CHROMIUM, CONTENT_PAGES, MATHJAX_WAIT_MS, PAGES, RAW_TEX, ROOT, Visit, browser, new_page,
    server, site, wait_for_math,
)


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


@pytest.fixture(scope="module")
def visits(browser, server):
    """Visits every page once and records what happened; the tests below read the records."""
    axe = Axe()
    result = {}
    for start in range(0, len(PAGES), BATCH):
        batch = []
        for path in PAGES[start:start + BATCH]:  # start loading the whole batch ...
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


def test_every_page_was_found():
    assert "index.html" in PAGES and "layers/linear.html" in PAGES and "search.html" in PAGES
    assert len(CONTENT_PAGES) >= 20, CONTENT_PAGES


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_without_console_errors(path, visits):
    visit = visits[path]
    assert not visit.console_errors, "\n".join(visit.console_errors)
    assert not visit.failed_requests, "\n".join(visit.failed_requests)


@pytest.mark.parametrize("path", PAGES)
def test_no_request_leaves_the_machine(path, visits):
    assert not visits[path].foreign_requests, "\n".join(visits[path].foreign_requests)


@pytest.mark.parametrize("path", CONTENT_PAGES)
def test_math_is_typeset(path, visits):
    math = visits[path].math
    assert not math["untypeset"], f"math left as TeX: {math['untypeset'][:5]}"
    if math["count"]:
        assert math["typeset"] >= math["count"], math
    left = [d for d in RAW_TEX if d in math["text"]]
    assert not left, f"raw TeX in the text of {path}: {left}"


def test_pages_with_formulas_have_math(visits):
    for path in ["index.html", "layers/linear.html"]:
        assert visits[path].math["typeset"] >= 10, (path, visits[path].math["typeset"])


@pytest.mark.parametrize("path", CONTENT_PAGES)
def test_every_image_loads(path, visits):
    broken = [img for img in visits[path].images if not img["complete"] or img["width"] == 0]
    assert not broken, broken


def test_layer_pages_show_figures(visits):
    assert any(img["src"].startswith("../_images/") for img in visits["layers/linear.html"].images)


@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violations(path, visits):
    assert not visits[path].serious_a11y, "\n".join(visits[path].serious_a11y)


def test_search_finds_the_dropout_page(browser, server):
    visit = Visit()
    context, page = new_page(browser, visit)
    page.goto(server + "search.html?q=dropout", wait_until="load")
    page.wait_for_function(
        "() => document.querySelectorAll('#search-results ul.search li').length > 0"
        " || /did not match|no results/i.test(document.querySelector('#search-results')?.innerText || '')",
        timeout=MATHJAX_WAIT_MS,
    )
    links = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.getAttribute('href'))")
    context.close()
    assert any(link.split("?")[0].split("#")[0] == "layers/dropout.html" for link in links), links
    assert not visit.foreign_requests and not visit.console_errors


def test_copy_button_copies_code_without_prompts_or_output(browser, server):
    visit = Visit()
    context, page = new_page(browser, visit)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.rstrip("/"))
    page.goto(server + "layers/linear.html", wait_until="load")
    block = page.locator("div.highlight:has(span.gp)").first  # the `>>>` usage example
    shown = block.inner_text()
    block.scroll_into_view_if_needed()
    block.hover()
    button = block.locator("button.copybtn")
    button.wait_for(state="visible")
    button.click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    context.close()

    code = [line[4:] for line in shown.splitlines() if line.startswith((">>> ", "... "))]
    output = [line for line in shown.splitlines() if line.strip() and not line.startswith((">>>", "..."))]
    assert code and output  # the block shows prompts and printed output
    assert copied.strip() == "\n".join(code).strip()
    assert ">>>" not in copied
    assert not set(copied.splitlines()) & set(output), "output lines were copied"
    assert copied.startswith("import numpy as np")


def test_make_pdf_prints_a_compact_cheatsheet(site, tmp_path):
    """The print stylesheet turns the landing page into one A4 landscape page."""
    pdf = tmp_path / "cheatsheet.pdf"
    result = subprocess.run(
        ["sh", str(ROOT / "tools/print-pdf.sh"), str(site), str(pdf)],
        env={**os.environ, "PYTHON": sys.executable, "CHROMIUM": CHROMIUM},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0 and pdf.is_file(), result.stderr
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages == 1, f"the printed cheat-sheet has {pages} pages"
    assert b"/MediaBox [0 0 842" in data or b"/MediaBox [0 0 841" in data, "not A4 landscape"
