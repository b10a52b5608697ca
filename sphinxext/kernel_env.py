"""Make ``code/`` importable by the build and by the kernels of executed pages.

The Sphinx process imports ``code/`` for the page doctests and the computed roles; the
kernels that myst-nb starts inherit ``os.environ``, not ``sys.path``, so ``code/`` goes on
``PYTHONPATH`` too, and a bare ``sphinx-build`` (Read the Docs, sphinx-autobuild) works like
``make html``. The kernels draw figures as SVG (sharp on screen and in print) in one figure style whose
text stays legible at the width the site shows figures (``FIGURE_RC``), and keep their
start-up notices out of the build log: an IPython profile in the build folder says so. The
execution cache (:mod:`sphinxext.execution_cache`) keys pages on this profile too.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from . import code_dir

# Figures are shown at most CONTENT_WIDTH_PX wide (Furo's article column from 1200 px windows
# up) and scaled down to fit, so a figure W points wide shows text of F points at
# F * CONTENT_WIDTH_PX / W pixels. The style below keeps every text at or above 11 pt, which is
# 10 px or more for figures up to MAX_FIGURE_WIDTH_IN inches wide (after the tight crop);
# tests/test_browser_figures.py measures it on the built site.
CONTENT_WIDTH_PX = 736
MIN_TEXT_PX = 10
FIGURE_RC = {
    "font.size": 11,  # tick labels, axis labels, legends and annotations ("medium")
    "axes.titlesize": 12,
    "figure.titlesize": 13,
    "legend.title_fontsize": 11,
}
MAX_FIGURE_WIDTH_IN = CONTENT_WIDTH_PX / MIN_TEXT_PX * min(
    v for v in FIGURE_RC.values() if isinstance(v, (int, float))) / 72

KERNEL_CONFIG = (
    "c.InlineBackend.figure_formats = {'svg'}\n"
    # matplotlib-inline applies these rcParams when a cell first imports pyplot
    f"c.InlineBackend.rc = {FIGURE_RC!r}\n"
    # the kernel's own start-up notices (not cell output) would clutter every build log
    "c.IPKernelApp.log_level = 'ERROR'\n"
)


def kernel_config_key() -> str:
    """A short hash of the kernel configuration: part of each page's execution-cache key, so
    that a change of the figure style redraws the figures of every executed page."""
    return hashlib.sha256(KERNEL_CONFIG.encode()).hexdigest()[:8]


def _write_kernel_profile(ipython_dir: Path) -> None:
    config = ipython_dir / "profile_default" / "ipython_kernel_config.py"
    if not config.is_file() or config.read_text() != KERNEL_CONFIG:
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(KERNEL_CONFIG)
    os.environ["IPYTHONDIR"] = str(ipython_dir)


def setup(app):
    code = str(code_dir(app))
    if code not in sys.path:
        sys.path.insert(0, code)
    pythonpath = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if code not in pythonpath:
        os.environ["PYTHONPATH"] = os.pathsep.join([code, *filter(None, pythonpath)])
    # The Makefile exports MPLBACKEND=Agg for the tests. A kernel started with it would draw
    # into Agg and show no figure, so the kernels get matplotlib-inline's default instead.
    os.environ.pop("MPLBACKEND", None)
    _write_kernel_profile(Path(app.srcdir) / "_build" / "ipython")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
