"""The built site in a real browser: headless Chromium driven by Playwright.

What does not belong to one page: search, the copy button and the printed cheat-sheet. Every
page is visited by ``test_browser_pages_0.py`` and ``_1.py`` (the tests are in
``browser_pages.py``). The site is served from a snapshot by ``browserkit.py``; requests to any
other host are refused.

Chromium comes from Debian (``/usr/bin/chromium``); Playwright's own browser download does not
work on this machine kind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from browserkit import (  # noqa: F401 (fixtures)
    CHROMIUM, CONTENT_PAGES, MATHJAX_WAIT_MS, PAGES, RAW_TEX, ROOT, Visit, browser, new_page,
    server, site, wait_for_math,
)


def test_every_page_was_found():
    assert "index.html" in PAGES and "layers/linear.html" in PAGES and "search.html" in PAGES
    assert len(CONTENT_PAGES) >= 20, CONTENT_PAGES


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
