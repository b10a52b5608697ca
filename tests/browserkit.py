"""What the browser tests share: the built site served from a snapshot, headless Chromium
(from Debian) with every request to another host refused, and a wait for MathJax.

A test module uses the fixtures by importing them::

    from browserkit import browser, server, site, Visit, new_page, wait_for_math  # noqa: F401

Each test module then gets its own snapshot, server and browser (module scope), which keeps
the modules independent under ``pytest -n auto --dist loadfile``.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
# LAYERS_SITE: another built site to test (a partial build while writing a page)
HTML = Path(os.environ.get("LAYERS_SITE", ROOT / "_build" / "html"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = sorted(
    p.relative_to(HTML).as_posix()
    for p in HTML.rglob("*.html")
    if not p.relative_to(HTML).parts[0].startswith("_")
)
CONTENT_PAGES = [p for p in PAGES if p not in ("search.html", "genindex.html")]

# How long a page may take to start MathJax. Under `pytest -n 2` the browser shares the two
# cores with the PyTorch comparisons of the other worker: a page then takes 6 s or more, and
# 20 s was too short for a batch of four loading at once. A wait, not a check of the result.
MATHJAX_WAIT_MS = 120_000

# The text of the article, without code, must not contain TeX delimiters left untypeset.
RAW_TEX = ["\\(", "\\)", "\\[", "\\]", "$$", "\\begin{", "\\frac", "\\sum"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A snapshot of the built site: under pytest -n, test_site_pages rebuilds the site in
    another worker, and Sphinx rewrites _static (MathJax included) while a page here loads."""
    if not (HTML / "index.html").is_file():
        pytest.fail("_build/html is missing: run `make html` first (`make test` does)")
    snapshot = tmp_path_factory.mktemp("site") / "html"
    shutil.copytree(HTML, snapshot)
    return snapshot


@pytest.fixture(scope="module")
def server(site):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(site), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            urllib.request.urlopen(base, timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("the local HTTP server did not start")
    yield base
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (`make test` does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """What one page did in the browser."""

    def __init__(self):
        self.console_errors: list[str] = []
        self.foreign_requests: list[str] = []
        self.failed_requests: list[str] = []
        self.math: dict = {}
        self.images: list[dict] = []
        self.serious_a11y: list[str] = []
        self.sizes: dict[str, int] = {}  # url -> bytes of the response body
        self.contrast: dict[str, tuple] = {}  # theme -> (background, serious style-rule violations)
        self.text_kinds: list[str] = []  # the kinds of text and control first seen on this page


# Every URL but the local server's (and data: and blob: URLs, which are not requests).
FOREIGN = re.compile(r"^(?!http://127\.0\.0\.1[:/]|data:|blob:)")


def new_page(browser, visit: Visit, **context_options):
    context = browser.new_context(**context_options)

    def refuse(route):
        visit.foreign_requests.append(route.request.url)
        route.abort()

    # Only requests to another host are intercepted (the browser matches the pattern itself); a
    # pattern that matched every request would send each one through Python and back.
    context.route(FOREIGN, refuse)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and visit.console_errors.append(f"{m.text} {m.location}"))
    page.on("pageerror", lambda e: visit.console_errors.append(f"uncaught: {e}"))
    page.on("requestfailed", lambda r: visit.failed_requests.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and visit.failed_requests.append(f"{r.url} ({r.status})"))
    return context, page


def wait_for_math(page):
    page.wait_for_function(
        "() => !window.MathJax || (window.MathJax.startup && window.MathJax.startup.promise)",
        timeout=MATHJAX_WAIT_MS,
    )
    page.evaluate("() => window.MathJax ? MathJax.startup.promise : null")


