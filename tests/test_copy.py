"""The copy test: each class's source, executed alone in a fresh namespace that holds only
`np`, defines a class that constructs and runs (forward and backward, or its methods) and
gives the same results as the module's class."""

import inspect

import numpy as np
import pytest

import helpers as h
import layers

CLASSES = [name for name, obj in inspect.getmembers(layers, inspect.isclass) if obj.__module__ == layers.__name__]


def copied(name):
    namespace = {"np": np}
    exec(compile(inspect.getsource(getattr(layers, name)), f"<copy of {name}>", "exec"), namespace)
    assert set(namespace) - {"__builtins__"} == {"np", name}, "the source defines more than its class"
    return namespace[name]


def _model():
    model = layers.Linear(3, 2, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 3))
    model.backward(np.ones_like(model(x)))
    return model


def exercise(name, cls):
    """Run the copied class the way the pages use it; return something to compare."""
    case_names = {c.name for c in h.CASES}
    if name in case_names:
        case = h.first_case(name)
        rng = np.random.default_rng(0)
        resolve = lambda n: cls if n == name else getattr(layers, n)  # containers hold the module's layers
        layer = h.build_ours(case.spec, rng, resolve=resolve)
        inp = case.inputs(rng)
        outputs = h.forward_ours(layer, case, inp)
        d = h.backward_ours(layer, case, h.projections(case, outputs, rng))
        return outputs + [d[k] for k in sorted(d)] + [getattr(layer, "grads", {})[k] for k in sorted(getattr(layer, "grads", {}))]
    model = _model()
    if name == "SGD":
        cls(model, 0.1, momentum=0.9, weight_decay=0.01).step()
    elif name == "Adam":
        cls(model, lr=0.01, weight_decay=0.01).step()
    elif name == "WeightPenalty":
        penalty = cls([model], l1=0.1, l2=0.2)
        value = penalty.loss()
        penalty.backward()
        return [np.array(value), model.grads["weight"]]
    elif name == "EarlyStopping":
        stopper = cls(patience=1, restore_best_weights=True)
        stops = [stopper.step(v, model) for v in (1.0, 0.5, 0.7, 0.8)]
        model.params["weight"] += 1.0
        stopper.restore(model)
        return [np.array(stops), np.array(stopper.best)]
    else:
        pytest.fail(f"no usage known for class {name}: add one to tests/test_copy.py")
    return [model.params[k] for k in sorted(model.params)]


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
