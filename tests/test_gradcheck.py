"""Float64 central finite differences against every layer's backward: dx, the initial
states of recurrent layers, and every parameter gradient, on the shared table of cases."""

import numpy as np
import pytest

import helpers as h

pytestmark = pytest.mark.gradcheck


def _random_cases():
    cases = []
    for name in h.RANDOM_MAKERS:
        for seed in range(3):
            case = h.random_case(name, seed)
            if name.startswith("MaxPool"):  # no ties: finite differences are defined
                shape = case.inputs(np.random.default_rng(0))["x"].shape
                case.inputs = h.distinct(*shape)
            cases.append(case)
    return cases


@pytest.mark.parametrize("case", h.case_params(h.CASES) + h.case_params(_random_cases()))
def test_gradients_match_finite_differences(case):
    rng = np.random.default_rng(1234)
    layer = h.prepare(case, rng)
    inp = case.inputs(rng)
    outputs = h.forward_ours(layer, case, inp)
    gs = h.projections(case, outputs, rng)
    analytic = h.backward_ours(layer, case, gs)
    params = getattr(layer, "params", {})  # losses may have none
    grads = {k: np.array(v, copy=True) for k, v in getattr(layer, "grads", {}).items()}
    assert sorted(grads) == sorted(params), "grads must have the keys of params"

    def J():
        current = h.prepare(case, np.random.default_rng(1234)) if case.fresh else layer
        return h.objective(h.forward_ours(current, case, inp), gs)

    pairs = []  # (what, analytic, numeric)
    for key in h.DIFFERENTIABLE:
        if key in inp:
            pairs.append((f"d/d{key}", analytic[key], h.numeric_gradient(J, inp[key])))
    if case.kind in ("rnn", "lstm") and "h0" not in inp:
        # hx=None means zeros: dh0 still has the shape of the initial state
        shape = h.hidden_shape(case, inp["x"])
        assert np.shape(analytic["h0"]) == shape
        if case.kind == "lstm":
            assert np.shape(analytic["c0"]) == shape
    for key in params:
        numeric = h.numeric_gradient(J, params[key])
        if case.name == "Embedding" and case.spec.kwargs.get("padding_idx") is not None:
            pad = case.spec.kwargs["padding_idx"]
            assert np.all(grads[key][pad] == 0), "the padding_idx row must get no gradient"
            numeric[pad] = 0.0
        pairs.append((f"d/d{key}", grads[key], numeric))
    assert pairs
    # one scale for the case: a gradient that is exactly zero in theory (a bias before a
    # BatchNorm) is compared at the finite differences' noise level, not at 1e-16
    scale = max(float(np.max(np.abs(a), initial=0.0)) for _, a, _ in pairs)
    for what, a, n in pairs:
        h.assert_gradient(a, n, what, scale=scale)


@pytest.mark.parametrize("l1,l2", [(0.3, 0.0), (0.0, 0.7), (0.2, 0.5)])
def test_weight_penalty_gradient(l1, l2):
    rng = np.random.default_rng(7)
    dense = h.build_ours(h.S("Linear", 3, 4), rng)
    conv = h.build_ours(h.S("Conv1d", 2, 2, 3), rng)
    for layer in (dense, conv):  # keep |W| away from the kink of |w| at 0
        W = layer.params["weight"]
        W[np.abs(W) < 0.05] += 0.1
    penalty = __import__("layers").WeightPenalty([dense, conv], l1=l1, l2=l2)
    for layer in (dense, conv):
        layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    penalty.backward()
    for layer in (dense, conv):
        numeric = h.numeric_gradient(penalty.loss, layer.params["weight"])
        h.assert_gradient(layer.grads["weight"], numeric, "d penalty / dW")
        assert np.all(layer.grads["bias"] == 0), "the bias is not penalised"
