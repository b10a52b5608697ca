"""Roles whose text is computed from ``code/layers.py`` when the page is read.

* ``{computed}`nparams(Linear(784, 256))``` renders ``200,960``: any Python expression over
  the public names of ``code/layers.py``, ``np``, ``layers``, ``nparams(layer)`` and
  ``outshape(layer, shape)``;
* ``{layer-example}`Conv2d(3, 16, 3) @ (8, 3, 32, 32)``` renders ``Conv2d(3, 16, 3)``:
  (8, 3, 32, 32) → (8, 16, 30, 30), 448 parameters, from a forward pass on zeros of that
  shape (``... as int64`` for integer inputs).

So every number in prose comes from code that ran during the build. A layer that
``code/layers.py`` does not define yet renders as a visible "not yet in code/layers.py" (the
site tests fail on it); any other error is a build warning. ``layers.py`` is loaded from its
file, again whenever it changes, so a long-lived process never shows stale numbers. Which
names an expression uses is :mod:`sphinxext.codekey`'s business (it re-reads the page).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

from . import code_dir

logger = logging.getLogger(__name__)
_modules: dict[Path, tuple[int, object]] = {}


def load_layers(code: Path):
    """``code/layers.py`` as a module, loaded again when the file changed."""
    path = code / "layers.py"
    stamp = path.stat().st_mtime_ns
    if path not in _modules or _modules[path][0] != stamp:
        spec = importlib.util.spec_from_file_location("layers", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[path] = (stamp, module)
    return _modules[path][1]


def nparams(layer) -> int:
    """Number of trainable parameters of a layer (sum of its parameter array sizes)."""
    return int(sum(p.size for p in layer.params.values()))


def outshape(layer, shape, dtype="float32"):
    """Output shape of ``layer`` for a zero input of ``shape``."""
    import numpy as np

    out = layer.forward(np.zeros(shape, dtype=dtype))
    if isinstance(out, tuple):  # recurrent layers return (output, state)
        out = out[0]
    return tuple(out.shape)


def namespace(code: Path) -> dict:
    import numpy as np

    layers = load_layers(code)
    names = {k: v for k, v in vars(layers).items() if not k.startswith("_")}
    names.update(np=np, nparams=nparams, outshape=outshape, layers=layers)
    names["__builtins__"] = __builtins__
    return names


def format_value(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_shape(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _problem(inliner, rawtext, lineno, message):
    msg = inliner.reporter.warning(message, line=lineno)
    return [inliner.problematic(rawtext, rawtext, msg)], [msg]


def computed_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    env = inliner.document.settings.env
    try:
        # one namespace as globals, so that lambdas and comprehensions see it too
        value = eval(text, namespace(code_dir(env)))  # noqa: S307
    except NameError as error:
        logger.info("computed %r: %s", text, error, location=(env.docname, lineno))
        return [nodes.emphasis(rawtext, "not yet in code/layers.py")], []
    except Exception as error:  # noqa: BLE001 - any failure of the code is reported
        return _problem(inliner, rawtext, lineno,
                        f"computed role: {text!r} raised {type(error).__name__}: {error}")
    return [nodes.Text(format_value(value))], []


_EXAMPLE = re.compile(r"\s*(?P<layer>.+?)\s+@\s+(?P<shape>\(.*?\))(?:\s+as\s+(?P<dtype>\w+))?\s*")


def layer_example_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    env = inliner.document.settings.env
    match = _EXAMPLE.fullmatch(text)
    if match is None:
        return _problem(inliner, rawtext, lineno,
                        f"layer-example: expected 'Layer(...) @ (shape)[ as dtype]', got {text!r}")
    try:
        layer = eval(match["layer"], namespace(code_dir(env)))  # noqa: S307
        shape = eval(match["shape"], {"__builtins__": {}}, {})  # noqa: S307
        out = outshape(layer, shape, match["dtype"] or "float32")
        count = nparams(layer)
    except NameError as error:
        logger.info("layer-example %r: %s", text, error, location=(env.docname, lineno))
        return [nodes.literal(rawtext, match["layer"]), nodes.Text(": "),
                nodes.emphasis(rawtext, "not yet in code/layers.py")], []
    except Exception as error:  # noqa: BLE001 - any failure of the code is reported
        return _problem(inliner, rawtext, lineno,
                        f"layer-example: {text!r} raised {type(error).__name__}: {error}")
    result = [nodes.literal(rawtext, match["layer"]),
              nodes.Text(f": {format_shape(shape)} → {format_shape(out)}")]
    if count:
        result.append(nodes.Text(f", {count:,} parameters"))
    return result, []


def setup(app):
    app.add_role("computed", computed_role)
    app.add_role("layer-example", layer_example_role)
    # the pages using a role are re-read when the names in its expression change
    app.setup_extension("sphinxext.codekey")
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
