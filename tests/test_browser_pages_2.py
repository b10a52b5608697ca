"""Share 2 of the pages in a real browser: the tests are in ``browser_pages.py``."""

from browser_pages import *  # noqa: F401,F403 (the tests, their fixtures and parametrisation)

PART = 2
