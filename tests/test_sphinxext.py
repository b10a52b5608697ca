"""Tests of the build extensions in sphinxext/: code keys, the per-page execution cache, the
computed roles and the page doctests, on a tiny project built with sphinx.testing."""

import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # after code/, so that `layers` stays code/layers.py

from sphinxext import codekey  # noqa: E402
from sphinxext.codekey import ALL, key, page_uses, python_uses  # noqa: E402

pytest_plugins = ["sphinx.testing.fixtures"]

LAYERS = '''\
import numpy as np


def _zeros(shape):
    return np.zeros(shape, dtype=np.float32)


class A:
    def __init__(self, n):
        self.params = {"W": _zeros((n, n)) + 1}

    def forward(self, x):
        return x @ self.params["W"]


class B:
    def __init__(self):
        self.params = {}

    def forward(self, x):
        return x[:, :1]


class C(B):
    pass
'''


# -- which names a page uses --------------------------------------------------------------


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from layers import A, B as Bee\nA(2)", {"layers": {"A", "B"}}),
        ("import layers\nlayers.A(2)", {"layers": {"A"}}),
        ("import layers as L\nx = L.B()\ny = L.A(1)", {"layers": {"A", "B"}}),
        ("import layers as L\nprint(L.__file__)", {"layers": set()}),
        # the module object handed on: any of its names may be used
        ("import layers as L\nf(L)", {"layers": {ALL}}),
        ("from layers import *", {"layers": {ALL}}),
        # other modules of code/ are taken whole
        ("from solubility import run\nimport numpy as np", {"solubility": {ALL}}),
        ("import numpy as np\nnp.zeros(3)", {}),
    ],
)
def test_python_uses(source, expected):
    assert python_uses(source, {"layers", "solubility"}) == expected


def test_page_uses_cells_examples_includes_and_roles(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "layers.py").write_text(LAYERS)
    (code / "helper.py").write_text("from layers import C\n")
    page = textwrap.dedent("""\
        ```{code-cell} ipython3
        :tags: [hide-input]
        %matplotlib inline
        import layers as L
        L.A(2)
        ```

        ```{literalinclude} ../code/layers.py
        :pyobject: B.forward
        ```

        >>> from helper import C

        It has {computed}`nparams(layers.A(3))` parameters; :layer-example:`C() @ (2, 3)`.
        """)
    (tmp_path / "pages").mkdir()
    cells, uses = page_uses(page, tmp_path / "pages", code)
    assert cells == {"layers": {"A"}}
    assert uses == {"layers": {"A", "B", "C", "nparams"}, "helper": {ALL}}
    # helper is hashed whole, with what it takes from layers
    assert codekey.expand(uses, code)["layers"] == {"A", "B", "C", "nparams"}
    assert codekey.expand({"helper": {ALL}}, code) == {"helper": {ALL}, "layers": {"C"}}


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_key_changes_only_with_the_classes_used(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    layers = code / "layers.py"
    layers.write_text(LAYERS)
    (code / "helper.py").write_text("from layers import C\n")
    pages = {
        "a": {"layers": {"A"}},
        "b": {"layers": {"B"}},
        "c": {"layers": {"C"}},  # C subclasses B: B's source is in C's key
        "helper": {"helper": {ALL}},  # helper.py uses C, so B too
    }

    def keys():
        return {name: key(uses, code) for name, uses in pages.items()}

    before = keys()
    assert len(set(before.values())) == len(pages)
    _edit(layers, "x[:, :1]", "x[:, :2]")  # B.forward
    after = keys()
    assert {p for p in pages if after[p] != before[p]} == {"b", "c", "helper"}
    _edit(layers, "np.float32)", "np.float64)")  # _zeros, a helper function of A
    again = keys()
    assert {p for p in pages if again[p] != after[p]} == {"a"}
    # a comment between the classes changes no key
    _edit(layers, "class B:", "# ---- B\nclass B:")
    assert keys() == again


# -- a tiny project, built with sphinx.testing ----------------------------------------------

CONF = f"""\
import sys
sys.path.insert(0, {str(ROOT)!r})
extensions = [
    "myst_nb",
    "sphinxext.kernel_env",
    "sphinxext.codekey",
    "sphinxext.execution_cache",
    "sphinxext.page_doctests",
    "sphinxext.computed_roles",
]
exclude_patterns = ["_build", "code"]
nb_execution_mode = "cache"
nb_execution_raise_on_error = True
"""

NOTEBOOK = """\
---
file_format: mystnb
kernelspec:
  name: python3
  display_name: Python 3
---

# Page {name}

```{{code-cell}} ipython3
import numpy as np
{code}
```
"""

INDEX = """\
Tiny
====

.. toctree::

   a
   b
   roles

"""

ROLES = """\
Roles
=====

Parameters: :computed:`nparams(A(3))`. Example: :layer-example:`A(3) @ (2, 3)`.
Vector: :layer-example:`B() @ (4, 3) as int64`. Later: :computed:`Missing(2)`.
Broken: :computed:`1 / 0`.

>>> from layers import B
>>> B().params
{}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A tiny site: two executed pages (A and B) and a page of roles and examples."""
    for name in ("PYTHONPATH", "IPYTHONDIR", "MPLBACKEND"):  # kernel_env sets them
        monkeypatch.delenv(name, raising=False)
    src = tmp_path / "site"
    (src / "code").mkdir(parents=True)
    (src / "code" / "layers.py").write_text(LAYERS)
    (src / "conf.py").write_text(CONF)
    (src / "index.rst").write_text(INDEX)
    (src / "roles.rst").write_text(ROLES)
    (src / "a.md").write_text(NOTEBOOK.format(
        name="a", code="from layers import A\nprint('A says', A(2).forward(np.ones((1, 2))))"))
    (src / "b.md").write_text(NOTEBOOK.format(
        name="b", code="import layers as L\nprint('B says', L.B().forward(np.ones((1, 3))))"))
    # the page doctests import `layers` in this process: the tiny one, then the real one again
    real_layers = sys.modules.pop("layers", None)
    yield src
    sys.modules.pop("layers", None)
    if real_layers is not None:
        sys.modules["layers"] = real_layers


def _build(make_app, src, parallel=0):
    """Build the site; return (app, the pages read, warnings)."""
    app = make_app("html", srcdir=src, parallel=parallel)
    read = []
    app.connect("env-before-read-docs", lambda app, env, docnames: read.extend(docnames))
    app.build()
    return app, set(read), app.warning.getvalue()


def _cache_folders(app, page):
    return sorted(p.name for p in (Path(app.outdir).parent / ".jupyter_cache" / page).iterdir())


def test_roles_render_values_from_the_code(make_app, project):
    app, _read, warnings = _build(make_app, project)
    html = (Path(app.outdir) / "roles.html").read_text()
    assert "Parameters: 9." in html
    assert "<code" in html and "(2, 3) → (2, 3), 9 parameters" in html
    assert "(4, 3) → (4, 1)." in html  # no parameters: no count
    assert "<em>not yet in code/layers.py</em>" in html
    assert "computed role: '1 / 0' raised ZeroDivisionError" in warnings


@pytest.mark.parametrize("parallel", [0, 2], ids=["serial", "parallel"])
def test_edit_of_one_class_rereads_and_reexecutes_only_its_pages(make_app, project, parallel):
    # in parallel, the pages are read in worker processes: their keys reach the main
    # environment only through the codekey domain's merge_domaindata
    app, read, warnings = _build(make_app, project, parallel)
    assert read == {"index", "a", "b", "roles"}
    assert "A says [[2. 2.]]" in (Path(app.outdir) / "a.html").read_text()
    cache_a, cache_b = _cache_folders(app, "a"), _cache_folders(app, "b")

    # nothing changed: nothing is read, nothing executed
    app, read, _ = _build(make_app, project, parallel)
    assert read == set()

    # A changes: a (cells) and roles (nparams(A(3))) are read again, a re-executes; b does not
    _edit(project / "code" / "layers.py", "self.params[\"W\"]\n", "self.params[\"W\"] * 3\n")
    app, read, _ = _build(make_app, project, parallel)
    assert read == {"a", "roles"}
    assert "A says [[6. 6.]]" in (Path(app.outdir) / "a.html").read_text()
    assert len(_cache_folders(app, "a")) == 2 and cache_a[0] in _cache_folders(app, "a")
    assert _cache_folders(app, "b") == cache_b

    # undo: a's earlier outputs are still in its cache (no execution), the key decides
    _edit(project / "code" / "layers.py", "self.params[\"W\"] * 3\n", "self.params[\"W\"]\n")
    app, read, _ = _build(make_app, project, parallel)
    assert read == {"a", "roles"}
    assert "A says [[2. 2.]]" in (Path(app.outdir) / "a.html").read_text()
    assert len(_cache_folders(app, "a")) == 2


def test_failed_page_doctests_are_read_again(make_app, project):
    _edit(project / "roles.rst", "{}\n", "{'W': 1}\n")
    _app, read, warnings = _build(make_app, project)
    assert "1 of 2 doctest examples failed" in warnings
    _app, read, warnings = _build(make_app, project)
    assert read == {"roles"}  # a warning does not make Sphinx read a page again: we do
    _edit(project / "roles.rst", "{'W': 1}\n", "{}\n")
    _app, read, warnings = _build(make_app, project)
    assert read == {"roles"} and "doctest examples failed" not in warnings
    _app, read, _ = _build(make_app, project)
    assert read == set()
