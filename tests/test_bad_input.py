"""Bad input: each error is a ValueError (TypeError for a wrong dtype, RuntimeError for
backward before forward) whose message starts with the class name and names the expected
and the received shape or dtype. Nothing is silently broadcast."""

import re

import numpy as np
import pytest

import helpers as h
import layers
import registry
from registry.conventions import Loss


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


# (spec, forward arguments, exception, tokens that the message must contain), from the registry
BAD = [(b.spec, b.args, b.exc, b.tokens) for e in registry.ENTRIES for b in e.bad]
LOSSES = [e.name for e in registry.ENTRIES if isinstance(e.convention, Loss)]


@pytest.mark.parametrize("spec,args,exc,tokens", BAD, ids=[f"{b[0]!r}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_is_a_clear_error(spec, args, exc, tokens):
    layer = h.build_ours(spec, float64=False)
    with pytest.raises(exc, match=message(spec.name, *tokens)):
        layer(*args)


DTYPE_CASES = [c for c in h.CASES if c.entry.rejects_integer_input]


@pytest.mark.parametrize("case", h.case_params(DTYPE_CASES))
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_non_floating_input_is_a_type_error(case, dtype):
    conv = case.convention
    inp = case.inputs(np.random.default_rng(0))
    inp = {k: (v.astype(dtype) if k in conv.differentiable else v) for k, v in inp.items()}
    layer = h.build_ours(case.spec, float64=False)
    with pytest.raises(TypeError, match=message(case.name, np.dtype(dtype).name)):
        conv.forward_ours(layer, inp)


@pytest.mark.parametrize("name", LOSSES)
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
        case.convention.backward_before_forward(layer)


@pytest.mark.parametrize("case", h.case_params([c for c in h.CASES if c.convention.takes_dy]))
def test_backward_with_a_wrong_dy_shape(case):
    """dy with an extra leading axis of size 1 broadcasts silently unless checked."""
    rng = np.random.default_rng(0)
    layer = h.prepare(case, rng)
    inp = case.inputs(rng)
    outputs = case.convention.forward_ours(layer, inp)
    names = "|".join(map(re.escape, _names(case.spec)))
    with pytest.raises(ValueError, match=rf"^({names})\b"):
        layer.backward(np.ones((1,) + np.shape(outputs[0])))


CONSTRUCTOR_ERRORS = [(b.spec, b.tokens) for e in registry.ENTRIES for b in e.bad_arguments]


@pytest.mark.parametrize("spec,tokens", CONSTRUCTOR_ERRORS, ids=[repr(c[0]) for c in CONSTRUCTOR_ERRORS])
def test_bad_constructor_arguments(spec, tokens):
    with pytest.raises(ValueError, match=message(spec.name, *tokens)):
        h.build_ours(spec, float64=False)
