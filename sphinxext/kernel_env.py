"""Make ``code/`` importable by the build and by the kernels of executed pages.

The Sphinx process imports ``code/`` for the page doctests and the computed roles; the
kernels that myst-nb starts inherit ``os.environ``, not ``sys.path``, so ``code/`` goes on
``PYTHONPATH`` too, and a bare ``sphinx-build`` (Read the Docs, sphinx-autobuild) works like
``make html``. The kernels draw figures as SVG (sharp on screen and in print) and keep their
start-up notices out of the build log: an IPython profile in the build folder says so.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import code_dir

KERNEL_CONFIG = (
    "c.InlineBackend.figure_formats = {'svg'}\n"
    # the kernel's own start-up notices (not cell output) would clutter every build log
    "c.IPKernelApp.log_level = 'ERROR'\n"
)


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
