"""The site's search in Chromium: the named page first, excerpts without TeX, identifiers exact.

Sphinx's search (searchtools.js) with the site's scorer (_static/search-scorer.js), the
dotted-identifier index and splitter (sphinxext/html_fixes.py) and the TeX-free excerpts
(_static/search-summary.js). Each test types a query into search.html?q=... as the search
box does and reads the result list.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup
from browserkit import (  # noqa: F401 (fixtures)
    MATHJAX_WAIT_MS, RAW_TEX, Visit, browser, new_page, server, site, wait_for_math,
)

# query -> the page a reader means (the title or a section title names it)
TOP_RESULT = {
    "LSTM backward": "layers/lstm.html",
    "GRU backward": "layers/gru.html",
    "vanishing gradient": "layers/rnn.html",  # the section "Vanishing and exploding gradients"
    "dropout": "layers/dropout.html",
    "BatchNorm1d": "layers/batchnorm.html",
    "LayerNorm": "layers/layernorm.html",
    "nn.CrossEntropyLoss": "layers/losses-optimisers.html",
    "positional encoding": "layers/positional-encoding.html",
    "depthwise": "layers/convolution.html",
    "transposed convolution": "layers/transposed-convolution.html",
    "im2col": "layers/convolution.html",
    "k-fold cross-validation": "layers/hyperparameters.html",
    "weight initialisation": "layers/initialisation.html",
}
# queries whose excerpts come from paragraphs full of formulas
EXCERPT_QUERIES = ["backward", "gradient", "softmax", "variance", "vanishing gradient"]
IDENTIFIER = "nn.CrossEntropyLoss"

RESULTS = """() => [...document.querySelectorAll('#search-results ul.search li')].map(li => ({
  href: li.querySelector('a').getAttribute('href'),
  excerpt: li.querySelector('p.context')?.textContent ?? null,
}))"""
FINISHED = """() => /Search finished|did not match/.test(
  document.querySelector('#search-results .search-summary')?.innerText || '')"""
# searchtools.js fetches each result page for its excerpt after the list is complete
EXCERPTS_LOADED = """() => [...document.querySelectorAll('#search-results ul.search li')]
  .every(li => li.querySelector('p.context'))"""


@pytest.fixture(scope="module")
def search(browser, server):
    """search(query) -> [{href, excerpt}] in the order shown, once every excerpt is there
    (leaving earlier would abort the page's own requests)."""
    visit = Visit()
    context, page = new_page(browser, visit)

    def run(query):
        page.goto(server + "search.html?q=" + quote(query), wait_until="load")
        page.wait_for_function(FINISHED, timeout=MATHJAX_WAIT_MS)
        page.wait_for_function(EXCERPTS_LOADED, timeout=MATHJAX_WAIT_MS)
        assert not visit.console_errors, visit.console_errors
        assert not visit.failed_requests, visit.failed_requests
        return page.evaluate(RESULTS)

    yield run
    context.close()


def page_of(href: str) -> str:
    return href.split("#")[0].split("?")[0]


@pytest.mark.parametrize("query", TOP_RESULT)
def test_the_named_page_comes_first(query, search):
    results = search(query)
    assert results, f"no result for {query!r}"
    ranked = list(dict.fromkeys(page_of(r["href"]) for r in results))
    assert ranked[0] == TOP_RESULT[query], f"{query!r}: {ranked[:5]}"


@pytest.mark.parametrize("query", EXCERPT_QUERIES)
def test_excerpts_show_no_tex(query, search):
    results = search(query)
    assert len(results) >= 3, results
    for result in results:
        excerpt = result["excerpt"]
        left = [d for d in RAW_TEX if d in excerpt] + re.findall(r"\\[A-Za-z]+", excerpt)
        assert not left, f"{query!r}, {result['href']}: raw TeX {left} in {excerpt!r}"


def main_text(path) -> str:
    """The text of a built page's article, code included (what the search index holds)."""
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    article = soup.select_one('[role="main"]') or soup
    return article.get_text()


def searched_pages(site) -> list[str]:
    """The pages in the search index (not generated pages such as the code listing)."""
    index = (site / "searchindex.js").read_text(encoding="utf-8")
    docnames = json.loads(index[index.index("(") + 1:index.rindex(")")])["docnames"]
    return [f"{docname}.html" for docname in docnames]


def test_an_identifier_finds_only_the_pages_that_contain_it(search, site):
    found = {page_of(r["href"]) for r in search(IDENTIFIER)}
    containing = {
        page for page in searched_pages(site)
        if IDENTIFIER.lower() in main_text(site / page).lower()
    }
    assert containing, f"no built page contains {IDENTIFIER}: pick another identifier"
    assert found == containing, (
        f"pages found without {IDENTIFIER}: {sorted(found - containing)}; "
        f"pages with it not found: {sorted(containing - found)}"
    )
