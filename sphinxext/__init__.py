"""Build extensions of the layers cheat-sheet, one concern per module (listed in conf.py).

Each module is a Sphinx extension with its own ``setup()``; ``conf.py`` only names them.
"""

from pathlib import Path


def code_dir(app_or_env) -> Path:
    """The folder of the code the pages show and run: ``code/`` beside the sources."""
    return Path(app_or_env.srcdir) / "code"
