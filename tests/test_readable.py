"""code/layers.py stays readable (issue 9, STYLE rules 8 and 9): the math first, no speed tricks,
GELU short, the train/eval boilerplate in torch's compact form, repeated helpers identical."""

import ast
import functools
import subprocess
from pathlib import Path

import pytest

LAYERS_PY = Path(__file__).resolve().parents[1] / "code" / "layers.py"

# The acceptance line of issue 9: this grep must print nothing.
TRICKS = r"setbufsize|exp2|vecdot|np\.ones\([^)]*\) *@|@ *np\.(ones|full)\("

# Helpers that self-contained classes repeat: each must read the same in every class that has it.
REPEATED = [
    ("_Named", ("Sequential", "Residual")),  # the naming helper of the containers
    ("_sigmoid", ("LSTM", "GRU")),
    ("_update_running_stats", ("BatchNorm1d", "BatchNorm2d")),
]

COMPACT_TRAIN = '''\
def train(self, mode=True):
    self.training = mode
    return self'''
COMPACT_EVAL = '''\
def eval(self):
    return self.train(False)'''


def text():
    return LAYERS_PY.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=4)
def classes(source):
    return {node.name: node for node in ast.parse(source).body if isinstance(node, ast.ClassDef)}


def member_source(source, cls, name):
    """The source of a method or nested class (decorators included), dedented to column 0."""
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = source.split("\n")[start - 1: node.end_lineno]
            indent = len(lines[0]) - len(lines[0].lstrip())
            return "\n".join(line[indent:] for line in lines)
    return None


def test_no_speed_tricks():
    """grep prints nothing: no ufunc buffer sizes, exp2, vecdot, sums as products with ones."""
    found = subprocess.run(["grep", "-nE", TRICKS, str(LAYERS_PY)], capture_output=True, text=True)
    assert found.returncode == 1 and found.stdout == "", f"speed tricks in code/layers.py:\n{found.stdout}"


def test_gelu_is_short():
    gelu = classes(text())["GELU"]
    assert gelu.end_lineno - gelu.lineno + 1 <= 60, f"GELU is {gelu.end_lineno - gelu.lineno + 1} lines"


@pytest.mark.parametrize("name,owners", REPEATED, ids=[r[0] for r in REPEATED])
def test_repeated_helpers_are_identical(name, owners):
    source = text()
    found = classes(source)
    versions = {owner: member_source(source, found[owner], name) for owner in owners if owner in found}
    assert len(versions) == len(owners), f"expected {name} in each of {owners}, found it in {sorted(versions)}"
    assert None not in versions.values(), f"{name} is missing from {[o for o, v in versions.items() if v is None]}"
    first, *rest = versions.values()
    assert all(v == first for v in rest), f"{name} differs between {owners}"


def _layer_classes():
    """Classes with forward(x) and backward(dy); the losses' backward takes no argument."""
    found = classes(text())
    return sorted(name for name, cls in found.items() if any(
        isinstance(n, ast.FunctionDef) and n.name == "backward" and len(n.args.args) > 1 for n in cls.body))


@pytest.mark.parametrize("name", _layer_classes())
def test_train_and_eval_in_compact_form(name):
    source = text()
    cls = classes(source)[name]
    train, evaluate = member_source(source, cls, "train"), member_source(source, cls, "eval")
    assert train is not None and evaluate is not None, f"{name} has no train/eval"
    assert evaluate == COMPACT_EVAL, f"{name}.eval is not `return self.train(False)`:\n{evaluate}"
    if name in ("Sequential", "Residual", "TransformerEncoderLayer"):  # containers pass the mode on
        assert train.startswith("def train(self, mode=True):\n    self.training = mode\n"), train
        assert train.endswith("\n    return self"), train
    else:
        assert train == COMPACT_TRAIN, f"{name}.train is not the compact form:\n{train}"


@pytest.mark.parametrize("name", _layer_classes())
def test_forward_opens_with_the_math(name):
    """Input checks live in a helper at the end of the class: forward raises nothing itself and
    does not open with an `if`; the helpers come after forward and backward."""
    cls = classes(text())[name]
    methods = [n for n in cls.body if isinstance(n, ast.FunctionDef)]
    forward = next(m for m in methods if m.name == "forward")
    assert not any(isinstance(n, ast.Raise) for n in ast.walk(forward)), f"{name}.forward raises: move the check"
    first = [s for s in forward.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))][0]
    assert not isinstance(first, ast.If), f"{name}.forward opens with an `if` (line {first.lineno})"
    order = [m.name for m in methods]
    for check in (m for m in order if m.startswith("_check")):
        assert order.index(check) > order.index("forward"), f"{name}.{check} comes before forward"
        if "backward" in order:
            assert order.index(check) > order.index("backward"), f"{name}.{check} comes before backward"
