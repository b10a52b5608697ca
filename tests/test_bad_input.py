"""Bad input: each error is a ValueError (TypeError for a wrong dtype, RuntimeError for
backward before forward) whose message starts with the class name and names the expected
and the received shape or dtype. Nothing is silently broadcast."""

import re

import numpy as np
import pytest

import helpers as h
import layers
from helpers import S


def message(name, *tokens):
    """A regex: the message starts with `name` and contains every token (anywhere, any order).
    An int token must appear as a whole number, a tuple as its repr, a string literally."""
    parts = []
    for t in tokens:
        if isinstance(t, int):
            parts.append(rf"(?<![\d.]){t}(?![\d.])")
        else:
            parts.append(re.escape(str(t)))
    return "(?s)^" + re.escape(name) + r"\b" + "".join(f"(?=.*{p})" for p in parts)


def z(*shape):
    return np.zeros(shape)


# (spec, forward arguments, exception, tokens that the message must contain)
BAD = [
    (S("Linear", 4, 3), (z(2, 5),), ValueError, [4, (2, 5)]),
    (S("Linear", 4, 3), (z(4, 2),), ValueError, [4, (4, 2)]),
    (S("Conv1d", 2, 3, 3), (z(2, 3, 5),), ValueError, [2, (2, 3, 5)]),
    (S("Conv1d", 2, 3, 3), (z(2, 5),), ValueError, [(2, 5)]),
    (S("Conv1d", 2, 3, 3), (z(1, 2, 5, 5),), ValueError, [(1, 2, 5, 5)]),
    (S("Conv1d", 2, 3, 3), (z(1, 2, 2),), ValueError, [3, (1, 2, 2)]),
    (S("Conv1d", 1, 1, 3, dilation=2, padding=1), (z(1, 1, 2),), ValueError, [5, (1, 1, 2)]),
    (S("Conv2d", 3, 4, 3), (z(2, 4, 5, 5),), ValueError, [3, (2, 4, 5, 5)]),
    (S("Conv2d", 3, 4, 3), (z(5, 5),), ValueError, [(5, 5)]),
    (S("Conv2d", 3, 4, 3), (z(1, 3, 5, 5, 5),), ValueError, [(1, 3, 5, 5, 5)]),
    (S("Conv2d", 1, 1, (2, 5), padding=1), (z(1, 1, 3, 2),), ValueError, [(2, 5), (1, 1, 3, 2)]),
    (S("Conv2d", 1, 1, 3, dilation=(1, 3)), (z(1, 1, 5, 6),), ValueError, [(3, 7), (1, 1, 5, 6)]),
    (S("MaxPool1d", 5), (z(1, 1, 3),), ValueError, [5, (1, 1, 3)]),
    (S("MaxPool1d", 2), (z(4, 5),), ValueError, [(4, 5)]),
    (S("MaxPool2d", 4, padding=1), (z(1, 1, 1, 3),), ValueError, [(4, 4), (1, 1, 1, 3)]),
    (S("MaxPool2d", 2), (z(3, 3),), ValueError, [(3, 3)]),
    (S("AvgPool1d", 4), (z(2, 1, 3),), ValueError, [4, (2, 1, 3)]),
    (S("AvgPool1d", 2), (z(2, 2, 2, 2),), ValueError, [(2, 2, 2, 2)]),
    (S("AvgPool2d", (2, 3)), (z(1, 2, 4, 2),), ValueError, [(2, 3), (1, 2, 4, 2)]),
    (S("AvgPool2d", 2), (z(4, 4),), ValueError, [(4, 4)]),
    (S("BatchNorm1d", 3), (z(2, 4),), ValueError, [3, (2, 4)]),
    (S("BatchNorm1d", 3), (z(2, 3, 4, 5),), ValueError, [(2, 3, 4, 5)]),
    (S("BatchNorm1d", 3), (z(3),), ValueError, [(3,)]),
    (S("BatchNorm1d", 3), (z(1, 3),), ValueError, [(1, 3)]),  # one value per channel in training
    (S("BatchNorm2d", 3), (z(2, 4, 2, 2),), ValueError, [3, (2, 4, 2, 2)]),
    (S("BatchNorm2d", 3), (z(2, 3, 4),), ValueError, [(2, 3, 4)]),
    (S("LayerNorm", (3, 4)), (z(2, 4, 3),), ValueError, ["3, 4", (2, 4, 3)]),
    (S("LayerNorm", (3, 4)), (z(4),), ValueError, ["3, 4", (4,)]),
    (S("LayerNorm", 4), (z(2, 5),), ValueError, [4, (2, 5)]),
    (S("Embedding", 7, 3), (np.array([[1.0, 2.0]]),), TypeError, ["float64", "int"]),
    (S("Embedding", 7, 3), (np.array([[1, 9]]),), ValueError, [7, 9]),
    (S("Embedding", 7, 3), (np.array([-1, 2]),), ValueError, [7, -1]),
    (S("Embedding", 7, 3), (np.array([7]),), ValueError, [7]),
    (S("RNN", 3, 4), (z(5, 2, 5),), ValueError, [3, (5, 2, 5)]),
    (S("RNN", 3, 4), (z(1, 5, 2, 3),), ValueError, [(1, 5, 2, 3)]),
    (S("RNN", 3, 4), (z(3),), ValueError, [(3,)]),
    (S("RNN", 3, 4), (z(5, 2, 3), z(1, 3, 4)), ValueError, [(1, 2, 4), (1, 3, 4)]),
    (S("RNN", 3, 4, batch_first=True), (z(2, 5, 3), z(1, 5, 4)), ValueError, [(1, 2, 4), (1, 5, 4)]),
    (S("GRU", 3, 4), (z(5, 2, 2),), ValueError, [3, (5, 2, 2)]),
    (S("GRU", 3, 4), (z(5, 3), z(1, 1, 4)), ValueError, [(1, 4), (1, 1, 4)]),
    (S("LSTM", 3, 4), (z(5, 2, 4),), ValueError, [3, (5, 2, 4)]),
    (S("LSTM", 3, 4), (z(2, 2, 2, 3),), ValueError, [(2, 2, 2, 3)]),
    (S("LSTM", 3, 4), (z(5, 2, 3), (z(1, 2, 4), z(1, 2, 5))), ValueError, [(1, 2, 4), (1, 2, 5)]),
    (S("Softmax", 2), (z(3, 4),), ValueError, [2, (3, 4)]),
    (S("Softmax", -3), (z(3, 4),), ValueError, [-3, (3, 4)]),
    (S("Flatten", 2, 3), (z(2, 3),), ValueError, [(2, 3)]),
    (S("Flatten", 2, 1), (z(2, 3, 4),), ValueError, [(2, 3, 4)]),
    (h.Res(S("Linear", 4, 3)), (z(2, 4),), ValueError, [(2, 4), (2, 3)]),
    (S("MSELoss"), (z(3, 4), z(3, 1)), ValueError, [(3, 4), (3, 1)]),
    (S("MSELoss"), (z(3), z(3, 1)), ValueError, [(3,), (3, 1)]),
    (S("BCEWithLogitsLoss"), (z(3, 4), z(4)), ValueError, [(3, 4), (4,)]),
    (S("CrossEntropyLoss"), (z(4, 5), np.zeros(3, dtype=int)), ValueError, [(4, 5), (3,)]),
    (S("CrossEntropyLoss"), (z(4, 5), np.zeros((4, 5), dtype=int)), ValueError, [(4, 5)]),
    (S("CrossEntropyLoss"), (z(2, 5), np.array([1, 5])), ValueError, [5]),
    (S("CrossEntropyLoss"), (z(2, 5), np.array([-1, 0])), ValueError, [5, -1]),
    (S("CrossEntropyLoss"), (z(2, 5), np.array([1.0, 0.0])), TypeError, ["float64"]),
]


@pytest.mark.parametrize("spec,args,exc,tokens", BAD, ids=[f"{b[0]!r}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_is_a_clear_error(spec, args, exc, tokens):
    layer = h.build_ours(spec, float64=False)
    with pytest.raises(exc, match=message(spec.name, *tokens)):
        layer(*args)


DTYPE_CASES = [c for c in h.CASES if c.kind in ("layer", "rnn", "lstm") and c.name not in h.CONTAINERS + ("Flatten",)]


@pytest.mark.parametrize("case", h.case_params(DTYPE_CASES))
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_non_floating_input_is_a_type_error(case, dtype):
    inp = case.inputs(np.random.default_rng(0))
    layer = h.build_ours(case.spec, float64=False)
    with pytest.raises(TypeError, match=message(case.name, np.dtype(dtype).name)):
        layer(inp["x"].astype(dtype))


@pytest.mark.parametrize("name", h.LOSSES)
def test_integer_prediction_to_a_loss_is_a_type_error(name):
    target = np.zeros(3, dtype=int) if name == "CrossEntropyLoss" else np.zeros((3, 4))
    with pytest.raises(TypeError, match=message(name, "int64")):
        getattr(layers, name)()(np.zeros((3, 4), dtype=np.int64), target)


def _names(spec):
    yield spec.name
    for child in spec.children:
        yield from _names(child)


@pytest.mark.parametrize("case", h.case_params(h.CASES))
def test_backward_before_forward(case):
    layer = h.build_ours(case.spec, float64=False)
    # a container may report its own name or that of the layer that found the problem
    names = "|".join(map(re.escape, _names(case.spec)))
    with pytest.raises(RuntimeError, match=rf"^({names})\b"):
        if case.kind == "loss":
            layer.backward()
        else:
            layer.backward(np.ones((2, 3)))


@pytest.mark.parametrize("case", h.case_params([c for c in h.CASES if c.kind != "loss"]))
def test_backward_with_a_wrong_dy_shape(case):
    """dy with an extra leading axis of size 1 broadcasts silently unless checked."""
    rng = np.random.default_rng(0)
    layer = h.prepare(case, rng)
    inp = case.inputs(rng)
    outputs = h.forward_ours(layer, case, inp)
    names = "|".join(map(re.escape, _names(case.spec)))
    with pytest.raises(ValueError, match=rf"^({names})\b"):
        layer.backward(np.ones((1,) + np.shape(outputs[0])))


CONSTRUCTOR_ERRORS = [
    (S("Conv1d", 1, 1, 3, stride=2, padding="same"), ["same", 2]),
    (S("Conv2d", 1, 1, 3, stride=(1, 2), padding="same"), ["same"]),
    (S("Conv2d", 1, 1, 3, padding="full"), ["full"]),
    (S("MaxPool2d", 2, padding=2), [2]),
    (S("AvgPool1d", 3, padding=2), [2, 3]),
    (S("GELU", approximate="erf"), ["erf"]),
    (S("RNN", 2, 2, nonlinearity="sigmoid"), ["sigmoid"]),
    (S("Embedding", 3, 2, padding_idx=3), [3]),
    (S("Dropout", 1.5), ["1.5"]),
]


@pytest.mark.parametrize("spec,tokens", CONSTRUCTOR_ERRORS, ids=[repr(c[0]) for c in CONSTRUCTOR_ERRORS])
def test_bad_constructor_arguments(spec, tokens):
    with pytest.raises(ValueError, match=message(spec.name, *tokens)):
        h.build_ours(spec, float64=False)
