"""Numerical stability: activations and losses at inputs of magnitude 1e3-1e4 give finite,
correct values and gradients (compared with torch in float64) and raise no numpy warning.
Underflow to zero (exp(-1e4)) is the correct result and is allowed; overflow, division by
zero and invalid operations are errors."""

import numpy as np
import pytest
import torch

import helpers as h
import layers
import registry

pytestmark = pytest.mark.torch_parity

STRICT = dict(over="raise", divide="raise", invalid="raise", under="ignore")

EXTREME = np.array([-1e4, -5e3, -1e3, -710.0, -100.0, -1.0, 0.0, 1e-3, 1.0, 100.0, 710.0, 1e3, 5e3, 1e4])

# layers run on the extreme matrix (each registry entry's `extreme` specs)
ACTIVATIONS = [spec for e in registry.ENTRIES for spec in e.extreme]


def extreme_matrix(rng):
    """Rows mixing huge positive and negative values (softmax rows with several maxima too)."""
    x = rng.permutation(np.tile(EXTREME, 3)).reshape(6, 7)
    x[0] = 1e4  # one row all equal and huge
    x[1, :3] = 1e4  # ties at the maximum
    return x


@pytest.mark.parametrize("spec", ACTIVATIONS, ids=repr)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_activation_at_extreme_inputs(spec, sign):
    rng = np.random.default_rng(0)
    x = sign * extreme_matrix(rng)
    layer = h.build_ours(spec)
    with np.errstate(**STRICT):
        y = layer(x)
        dy = rng.standard_normal(y.shape)
        dx = layer.backward(dy)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    t = h.build_torch(spec)(tx)
    (t * torch.from_numpy(dy)).sum().backward()
    h.assert_close(y, t.detach().numpy(), "output")
    h.assert_close(dx, tx.grad.numpy(), "dx")


@pytest.mark.parametrize("spec", ACTIVATIONS, ids=repr)
def test_activation_float32_at_extreme_inputs(spec):
    """float32 overflows at exp(89): a naive formula fails here first."""
    rng = np.random.default_rng(1)
    x = extreme_matrix(rng).astype(np.float32)
    layer = h.build_ours(spec, float64=False)
    with np.errstate(**STRICT):
        y = layer(x)
        dx = layer.backward(np.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    t = h.build_torch(spec).float()(tx)
    t.sum().backward()
    # float32: a few units in the last place, relative to the values' scale
    scale = max(1.0, float(np.abs(t.detach().numpy()).max()))
    np.testing.assert_allclose(y, t.detach().numpy(), rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_exact_limits():
    """Exact values at the extremes, independent of torch."""
    x = np.array([-1e4, 1e4])
    with np.errstate(**STRICT):
        np.testing.assert_array_equal(layers.Sigmoid()(x), [0.0, 1.0])
        np.testing.assert_array_equal(layers.Tanh()(x), [-1.0, 1.0])
        np.testing.assert_array_equal(layers.GELU()(x), [0.0, 1e4])
        np.testing.assert_array_equal(layers.GELU(approximate="tanh")(x), [0.0, 1e4])
        np.testing.assert_array_equal(layers.SiLU()(x), [0.0, 1e4])
        np.testing.assert_array_equal(layers.Softmax(0)(np.array([1e4, -1e4, 1e4])), [0.5, 0.0, 0.5])


# (loss, prediction, target) at extreme logits (each registry entry's `extreme_pairs`)
LOSS_CASES = [(e.name, x, target) for e in registry.ENTRIES for x, target in e.extreme_pairs]


@pytest.mark.parametrize("name,x,target", LOSS_CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(LOSS_CASES)])
def test_loss_at_extreme_inputs(name, x, target):
    loss = getattr(layers, name)()
    with np.errstate(**STRICT):
        value = loss(x, target)
        dx = loss.backward()
    assert type(value) is float and np.isfinite(value)
    assert np.all(np.isfinite(dx))
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    t = getattr(torch.nn, name)()(tx, torch.from_numpy(target))
    t.backward()
    h.assert_close(value, t.item(), "loss")
    h.assert_close(dx, tx.grad.numpy(), "dloss/dx")


@pytest.mark.parametrize("name,x,target", LOSS_CASES, ids=[f"{c[0]}{i}" for i, c in enumerate(LOSS_CASES)])
def test_loss_float32_at_extreme_inputs(name, x, target):
    loss = getattr(layers, name)()
    with np.errstate(**STRICT):
        t32 = target.astype(np.float32) if target.dtype.kind == "f" else target
        value = loss(x.astype(np.float32), t32)
        dx = loss.backward()
    assert np.isfinite(value) and np.all(np.isfinite(dx))
    assert dx.dtype == np.float32


@pytest.mark.parametrize("spec", [h.S("GELU"), h.S("Softmax", 1), h.S("Softmax", 0)], ids=repr)
@pytest.mark.parametrize("shape", [(0, 4), (4, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_input(spec, shape, dtype):
    """An input with an empty axis gives an empty output and gradient, as in torch (a max over an
    empty axis, taken naively, raises)."""
    x = np.zeros(shape, dtype=dtype)
    layer = h.build_ours(spec, float64=dtype == np.float64)
    y = layer(x)
    dx = layer.backward(np.zeros_like(y))
    t = h.build_torch(spec)(torch.from_numpy(x))
    assert y.shape == dx.shape == tuple(t.shape) == shape
    assert y.dtype == dx.dtype == dtype


def test_gelu_zero_dimensional_input():
    """A 0-d array is an input like any other (torch accepts a 0-d tensor)."""
    for dtype in (np.float32, np.float64):
        layer = layers.GELU()
        y = layer(np.array(1.5, dtype=dtype))
        dx = layer.backward(np.array(1.0, dtype=dtype))
        t = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
        y_t = torch.nn.functional.gelu(t)
        y_t.backward()
        assert np.shape(y) == np.shape(dx) == ()
        rtol = 1e-6 if dtype == np.float32 else 1e-12  # float32: A&S 7.1.26, a few units in the last place
        np.testing.assert_allclose(float(y), y_t.item(), rtol=rtol)
        np.testing.assert_allclose(float(dx), t.grad.item(), rtol=rtol)
