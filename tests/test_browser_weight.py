"""What a first visit to a layer page costs, and that the math stays readable by screen readers.

Each layer page is opened in a fresh browser context (an empty cache) and every response
body is counted, uncompressed, until the math is typeset and the network is idle. MathJax
is configured in conf.py (startup.js with the TeX input, the CommonHTML output and the
assistive MathML; no speech, Braille or explorer: tools/mathjax-assets.sh says why).
"""

from __future__ import annotations

import pytest
from browserkit import (  # noqa: F401 (fixtures)
    PAGES, Visit, browser, new_page, server, site, wait_for_math,
)

BUDGET = int(1.2 * 2**20)  # bytes, uncompressed, for everything one first visit loads
LAYER_PAGES = [p for p in PAGES if p.startswith("layers/")]
BATCH = 2  # pages loading at the same time, each in its own context

ASSISTIVE_MATHML = """() => {
  const containers = [...document.querySelectorAll('mjx-container')];
  return {
    containers: containers.length,
    withMathML: containers.filter(c => c.querySelector(':scope > mjx-assistive-mml > math')).length,
    visualHidden: containers.filter(c => c.querySelector(':scope > mjx-math[aria-hidden="true"]')).length,
    mathmlHidden: containers.filter(c => c.querySelector('mjx-assistive-mml[aria-hidden="true"]')).length,
  };
}"""


@pytest.fixture(scope="module")
def first_visits(browser, server):
    """path -> {url: body bytes} of a first visit, plus the assistive MathML of the page."""
    result = {}
    for start in range(0, len(LAYER_PAGES), BATCH):
        batch = []
        for path in LAYER_PAGES[start:start + BATCH]:
            visit = Visit()
            context, page = new_page(browser, visit)
            sizes: dict[str, int] = {}
            page.on("response", lambda r, sizes=sizes: sizes.__setitem__(r.url, len(r.body())))
            page.goto(server + path, wait_until="commit")
            batch.append((path, visit, context, page, sizes))
        for path, visit, context, page, sizes in batch:
            page.wait_for_load_state("load")
            wait_for_math(page)
            page.wait_for_load_state("networkidle")
            result[path] = {
                "sizes": {url.removeprefix(server): size for url, size in sizes.items()},
                "mathml": page.evaluate(ASSISTIVE_MATHML),
                "failed": visit.failed_requests + visit.console_errors,
            }
            context.close()
    return result


def test_every_layer_page_is_measured():
    assert len(LAYER_PAGES) >= 20, LAYER_PAGES


@pytest.mark.parametrize("path", LAYER_PAGES)
def test_a_first_visit_stays_within_the_budget(path, first_visits):
    visit = first_visits[path]
    assert not visit["failed"], visit["failed"]
    total = sum(visit["sizes"].values())
    largest = sorted(visit["sizes"].items(), key=lambda item: -item[1])[:8]
    assert total <= BUDGET, (
        f"{path}: {total / 2**20:.2f} MiB on a first visit (budget {BUDGET / 2**20:.1f} MiB); "
        "largest: " + ", ".join(f"{url} {size // 1024} KiB" for url, size in largest)
    )


@pytest.mark.parametrize("path", LAYER_PAGES)
def test_no_speech_or_braille_generation_is_loaded(path, first_visits):
    """The speech rule engine and its maps were 1 MiB of every first visit."""
    unwanted = [url for url in first_visits[path]["sizes"]
                if any(part in url for part in ("/sre/", "speech", "semantic-enrich", "explorer",
                                                "ui/menu", "tex-chtml.js"))]
    assert not unwanted, unwanted


def test_formulas_carry_assistive_mathml(first_visits):
    """Screen readers read a hidden MathML copy of each formula; the CHTML is aria-hidden."""
    mathml = first_visits["layers/linear.html"]["mathml"]
    assert mathml["containers"] >= 10, mathml
    assert mathml["withMathML"] == mathml["containers"], mathml
    assert mathml["visualHidden"] == mathml["containers"], mathml
    assert mathml["mathmlHidden"] == 0, mathml
