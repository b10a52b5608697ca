"""dtype: float32 in gives float32 out (and float32 gradients), float64 in gives float64 out,
for every layer; parameters are created float32 as torch's."""

import numpy as np
import pytest

import helpers as h
import registry
from registry.conventions import Loss

LOSSES = [e.name for e in registry.ENTRIES if isinstance(e.convention, Loss)]


def _run(case, dtype):
    conv = case.convention
    rng = np.random.default_rng(0)
    layer = h.build_ours(case.spec, float64=False)  # parameters as created: float32
    if case.mode == "eval":
        layer.eval()
    inp = conv.cast(case.inputs(rng), dtype)
    outputs = conv.forward_ours(layer, inp)
    gs = [g.astype(dtype) for g in conv.projections(case, outputs, rng)]
    d_inputs = conv.backward_ours(layer, case, gs)
    return layer, outputs, d_inputs


@pytest.mark.parametrize("case", h.case_params(h.CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_output_and_gradient_dtype(case, dtype):
    layer, outputs, d_inputs = _run(case, dtype)
    expected = case.convention.output_dtype(dtype)  # an Embedding outputs its weight's dtype; a loss a float
    if expected is not None:
        for i, y in enumerate(outputs):
            assert y.dtype == expected, f"output {i}: {y.dtype}"
    for key, d in d_inputs.items():
        assert np.asarray(d).dtype == dtype, f"d{key}: {np.asarray(d).dtype}"


@pytest.mark.parametrize("case", h.case_params([c for c in h.CASES if c.convention.is_layer]))
def test_float32_parameters_get_float32_gradients(case):
    layer, _, _ = _run(case, np.float32)
    for key, g in layer.grads.items():
        assert g.dtype == np.float32, f"grad of {key}: {g.dtype}"
        assert g.shape == layer.params[key].shape, key


@pytest.mark.parametrize("case", h.case_params(h.CASES))
def test_parameters_created_float32(case):
    layer = h.build_ours(case.spec, float64=False)
    for key, p in getattr(layer, "params", {}).items():
        assert p.dtype == np.float32, f"{key}: {p.dtype}"


@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradient_has_the_prediction_dtype_for_a_float64_target(name):
    """A float64 target (the numpy default) must not turn a float32 model's gradient into float64."""
    rng = np.random.default_rng(0)
    pred = rng.standard_normal((3, 4)).astype(np.float32)
    target = rng.integers(0, 4, 3) if name == "CrossEntropyLoss" else rng.uniform(0, 1, (3, 4))
    loss = h.build_ours(h.S(name))
    assert type(loss(pred, target)) is float
    assert loss.backward().dtype == np.float32
