"""The copy test: each class's source, executed alone in a fresh namespace that holds only
`np`, defines a class that constructs and runs (forward and backward, or its methods) and
gives the same results as the module's class. How each class is run comes from its registry
entry: its first fixed case, or its `exercise` function."""

import inspect

import numpy as np
import pytest

import helpers as h
import layers
import registry

CLASSES = [name for name, obj in inspect.getmembers(layers, inspect.isclass) if obj.__module__ == layers.__name__]


def copied(name):
    namespace = {"np": np}
    exec(compile(inspect.getsource(getattr(layers, name)), f"<copy of {name}>", "exec"), namespace)
    assert set(namespace) - {"__builtins__"} == {"np", name}, "the source defines more than its class"
    return namespace[name]


def exercise(name, cls):
    """Run the copied class the way the pages use it; return something to compare."""
    entry = registry.REGISTRY.get(name)
    if entry is None:
        pytest.fail(f"no registry entry for class {name}: add one (tests/registry/ADDING.md)")
    if entry.exercise is not None:
        return entry.exercise(cls)
    if not entry.cases:
        pytest.fail(f"{name}: its registry entry needs a fixed case or an `exercise` function")
    case = entry.cases[0]
    conv = entry.convention
    rng = np.random.default_rng(0)
    resolve = lambda n: cls if n == name else getattr(layers, n)  # containers hold the module's layers
    layer = h.build_ours(case.spec, rng, resolve=resolve)
    inp = case.inputs(rng)
    outputs = conv.forward_ours(layer, inp)
    d = conv.backward_ours(layer, case, conv.projections(case, outputs, rng))
    grads = getattr(layer, "grads", {})
    return outputs + [d[k] for k in sorted(d)] + [grads[k] for k in sorted(grads)]


def test_there_are_classes():
    assert len(CLASSES) >= 30


@pytest.mark.parametrize("name", CLASSES)
def test_class_runs_when_copied_alone(name):
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        ours = exercise(name, copied(name))
        reference = exercise(name, getattr(layers, name))
    assert len(ours) == len(reference) > 0
    for a, b in zip(ours, reference):
        np.testing.assert_array_equal(a, b)
