"""Float64 central finite differences against every layer's backward: the input gradients
(dx, the initial states of recurrent layers, query/key/value ...), and every parameter
gradient, on the registry's fixed cases and three random configurations per class."""

import numpy as np
import pytest

import helpers as h
import registry

pytestmark = pytest.mark.gradcheck


def _random_cases():
    cases = []
    for name in h.RANDOM_MAKERS:
        for seed in range(3):
            case = h.random_case(name, seed)
            if registry.entry(name).no_ties:  # no ties: finite differences are defined
                shape = case.inputs(np.random.default_rng(0))["x"].shape
                case.inputs = h.distinct(*shape)
            cases.append(case)
    return cases


@pytest.mark.parametrize("case", h.case_params(h.CASES) + h.case_params(_random_cases()))
def test_gradients_match_finite_differences(case):
    conv = case.convention
    rng = np.random.default_rng(1234)
    layer = h.prepare(case, rng)
    inp = case.inputs(rng)
    outputs = conv.forward_ours(layer, inp)
    gs = conv.projections(case, outputs, rng)
    analytic = conv.backward_ours(layer, case, gs)
    params = getattr(layer, "params", {})  # losses may have none
    grads = {k: np.array(v, copy=True) for k, v in getattr(layer, "grads", {}).items()}
    assert sorted(grads) == sorted(params), "grads must have the keys of params"

    def J():
        current = h.prepare(case, np.random.default_rng(1234)) if case.fresh else layer
        return h.objective(conv.forward_ours(current, inp), gs)

    pairs = []  # (what, analytic, numeric)
    for key in conv.differentiable:
        if key in inp:
            pairs.append((f"d/d{key}", analytic[key], h.numeric_gradient(J, inp[key])))
    conv.check_gradient_shapes(case, inp, analytic)
    for key in params:
        numeric = h.numeric_gradient(J, params[key])
        conv.fix_numeric(case, key, grads[key], numeric)
        pairs.append((f"d/d{key}", grads[key], numeric))
    assert pairs
    # one scale for the case: a gradient that is exactly zero in theory (a bias before a
    # BatchNorm) is compared at the finite differences' noise level, not at 1e-16
    scale = max(float(np.max(np.abs(a), initial=0.0)) for _, a, _ in pairs)
    for what, a, n in pairs:
        h.assert_gradient(a, n, what, scale=scale)


@pytest.mark.parametrize("l1,l2", [(0.3, 0.0), (0.0, 0.7), (0.2, 0.5)], ids=lambda v: f"WeightPenalty-{v}")
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
