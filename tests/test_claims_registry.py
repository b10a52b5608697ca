"""The register of claims the pages make about PyTorch, Keras and code/layers.py (issue 13, item 1).

Every entry of ``CLAIMS`` names a page, quotes a fragment of the sentence that makes the claim,
and has a check that runs the claim against torch 2.13 / Keras 3.15 / ``code/layers.py``. Two
tests per entry:

* ``test_claim_holds`` runs the check;
* ``test_claim_is_on_its_page`` finds the quoted fragment in the page source (whitespace
  collapsed), so rewording or deleting the sentence fails here and forces the entry, and its
  check, to be looked at again.

``BACKED_ELSEWHERE`` lists the claims whose checks live in other test modules (``test_claims.py``,
``test_contract.py``, ...; by test name); they get the same fragment test, and a test that the
named check still exists. Claims that
a page's own PyTorch or Keras tab already asserts are not repeated here: those tabs run in
``tests/test_site_snippets.py``.
"""

from __future__ import annotations

import ast
import inspect
import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import torch  # noqa: E402

import layers as L  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Claim:
    page: str  # path from the repository root
    fragment: str  # quoted from the page source; whitespace is collapsed before matching
    check: Callable[[], None]

    @property
    def id(self):
        return f"{Path(self.page).stem}:{self.check.__name__.removeprefix('check_')}"


CLAIMS: list[Claim] = []


def claim(page, fragment):
    """Registers the decorated check as the proof of ``fragment`` on ``page``."""

    def register(check):
        CLAIMS.append(Claim(page, fragment, check))
        return check

    return register


def default(func, name):
    return inspect.signature(func).parameters[name].default


def to_numpy(t):
    return keras.ops.convert_to_numpy(t)


# ---------------------------------------------------------------------------------------------
# index.rst: the names in the "PyTorch / Keras" column, and the parameter formulas


def _index_name_cells():
    """The "PyTorch / Keras" names of each row of the cheat-sheet table: the paragraph under the
    layer's name in the first cell."""
    text = (ROOT / "index.rst").read_text()
    table = text.split(".. list-table::", 1)[1].split("\nKeras names are in", 1)[0]
    rows = re.split(r"\n   \* - ", table)[2:]  # the caption and the header row are dropped
    cells = []
    for row in rows:
        first = re.split(r"\n     - ", row)[0]
        names = first.split("\n\n", 1)[1]
        cells.append(" ".join(names.split()))
    return cells


def _torch_object(name):
    name = re.sub(r"\(.*\)$", "", name)  # nn.Conv2d(groups=G), nn.Softmax(dim)
    module, _, attr = name.partition(".")
    return getattr({"nn": torch.nn, "optim": torch.optim}[module], attr)


def _keras_object(name):
    """A Keras name of the table, looked up where the sentence under the table says it is."""
    match = re.fullmatch(r'Activation\("(\w+)"\)', name)
    if match:
        return keras.activations.get(match.group(1))
    name = re.sub(r"\(.*\)$", "", name)  # Softmax(axis), Add()
    if name == "Sequential":
        return keras.Sequential
    for namespace in (keras.layers, keras.losses, keras.optimizers):
        if hasattr(namespace, name):
            return getattr(namespace, name)
    raise AttributeError(name)


@claim("index.rst", "Keras names are in ``keras.layers`` (``Sequential`` is ``keras.Sequential``, losses are in")
def check_index_names_exist():
    cells = _index_name_cells()
    assert len(cells) >= 30, cells
    found, missing = [], []
    for cell in cells:
        torch_part, _, keras_part = cell.partition(" / ")
        # "written in ``forward``" (the Residual row) is not a name
        names = [(n, _torch_object) for n in re.findall(r"``([^`]+)``", torch_part) if n != "forward"]
        names += [(n, _keras_object) for n in re.findall(r"``([^`]+)``", keras_part)]
        for name, lookup in names:
            try:
                found.append(lookup(name))
            except (AttributeError, KeyError, ValueError):
                missing.append(name)
    assert not missing, f"index.rst names what its library does not have: {missing}"
    assert len(found) >= 60


@claim("index.rst", "Keras puts channels last,\n``(N, H, W, C)``, where PyTorch and this project put them first")
def check_index_keras_channels_last():
    assert keras.config.image_data_format() == "channels_last"
    assert keras.layers.Conv2D(4, 3).data_format == "channels_last"
    conv = torch.nn.Conv2d(3, 4, 3)
    assert conv(torch.zeros(1, 3, 8, 8)).shape == (1, 4, 6, 6)


_INDEX_COUNTS = [
    # (fragment of the Parameters column, the torch module, the formula with its numbers)
    (r":math:`H_\text{in} H_\text{out} + H_\text{out}`", lambda: torch.nn.Linear(784, 256),
     784 * 256 + 256),
    (r":math:`C_\text{out} C_\text{in} k + C_\text{out}`", lambda: torch.nn.Conv1d(16, 32, 5),
     32 * 16 * 5 + 32),
    (r":math:`C_\text{out} \frac{C_\text{in}}{G} k_h k_w + C_\text{out}`",
     lambda: torch.nn.Conv2d(32, 64, 3, groups=8), 64 * (32 // 8) * 9 + 64),
    (r":math:`C_\text{in} \frac{C_\text{out}}{G} k_h k_w + C_\text{out}`",
     lambda: torch.nn.ConvTranspose2d(64, 32, 4, groups=4), 64 * (32 // 4) * 16 + 32),
    (r":math:`2C` (plus :math:`2C` running statistics, not trained)", lambda: torch.nn.BatchNorm2d(16),
     2 * 16),
    (r":math:`2D`, :math:`D` the product of ``normalized_shape``", lambda: torch.nn.LayerNorm((20, 512)),
     2 * 20 * 512),
    (r":math:`D`, the product of ``normalized_shape``", lambda: torch.nn.RMSNorm((20, 512)), 20 * 512),
    (r":math:`V D` (vocabulary :math:`V`, dimension :math:`D`)", lambda: torch.nn.Embedding(21, 16),
     21 * 16),
    (r":math:`H (H_\text{in} + H + 2)`", lambda: torch.nn.RNN(64, 128), 128 * (64 + 128 + 2)),
    (r":math:`4H (H_\text{in} + H + 2)`", lambda: torch.nn.LSTM(64, 128), 4 * 128 * (64 + 128 + 2)),
    (r":math:`3H (H_\text{in} + H + 2)`", lambda: torch.nn.GRU(64, 128), 3 * 128 * (64 + 128 + 2)),
    (r":math:`4E^2 + 4E`", lambda: torch.nn.MultiheadAttention(512, 8), 4 * 512**2 + 4 * 512),
    (r":math:`4E^2 + 2EF + 9E + F`", lambda: torch.nn.TransformerEncoderLayer(64, 4, 256),
     4 * 64**2 + 2 * 64 * 256 + 9 * 64 + 256),
    (r"PReLU: 1 or :math:`C`; ELU: 0", lambda: torch.nn.PReLU(16), 16),
]


def _make_count_check(make, expected):
    def check():
        module = make()
        assert sum(p.numel() for p in module.parameters()) == expected
        assert sum(b.numel() for b in module.buffers() if b.is_floating_point()) in (0, expected)

    return check


for _fragment, _make, _expected in _INDEX_COUNTS:
    _check = _make_count_check(_make, _expected)
    _check.__name__ = "check_index_count_" + type(_make()).__name__
    claim("index.rst", _fragment)(_check)


@claim("index.rst", "stride :math:`s = k` by")
def check_index_pool_stride_defaults_to_kernel():
    assert torch.nn.MaxPool2d(3).stride == 3
    assert keras.layers.MaxPooling2D(3).strides == (3, 3)
    assert L.MaxPool2d(3).stride == (3, 3)


# ---------------------------------------------------------------------------------------------
# layers/anatomy.md


@claim("layers/anatomy.md", "PyTorch adds to\n  `.grad`")
def check_anatomy_torch_accumulates_grad():
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    layer(x).sum().backward()
    once = layer.weight.grad.clone()
    layer(x).sum().backward()
    assert torch.allclose(layer.weight.grad, 2 * once)
    ours = L.Linear(3, 2, rng=0)
    ours(x.numpy())
    ours.backward(np.ones((4, 2), np.float32))
    first = ours.grads["weight"].copy()
    ours(x.numpy())
    ours.backward(np.ones((4, 2), np.float32))
    assert np.array_equal(ours.grads["weight"], first)  # overwritten, not accumulated


@claim("layers/anatomy.md", "Keras layers create their weights lazily in `build(input_shape)`, name them `kernel` and")
def check_anatomy_keras_lazy_weights_named_kernel_bias():
    dense = keras.layers.Dense(3)
    assert dense.weights == []
    dense.build((None, 4))
    assert [w.path.split("/")[-1] for w in dense.weights] == ["kernel", "bias"]


def _cached_arrays(layer):
    found = []
    for value in vars(layer).values():
        if isinstance(value, np.ndarray):
            found.append(value)
        elif isinstance(value, tuple):
            found.extend(v for v in value if isinstance(v, np.ndarray))
    return found


@claim("layers/anatomy.md", "| `Linear` | the input $x$ |")
def check_anatomy_linear_caches_its_input():
    layer = L.Linear(3, 2, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 3))
    layer(x)
    cached = [a for a in _cached_arrays(layer) if a.shape == x.shape]
    assert len(cached) == 1 and np.array_equal(cached[0], x)


@claim("layers/anatomy.md", "| `Sigmoid`, `Tanh`, `Softmax` | the output $y$ |")
def check_anatomy_sigmoid_tanh_softmax_cache_the_output():
    x = np.random.default_rng(0).standard_normal((4, 3))
    for layer in (L.Sigmoid(), L.Tanh(), L.Softmax(dim=1)):
        y = layer(x)
        cached = _cached_arrays(layer)
        assert len(cached) == 1 and np.array_equal(cached[0], y), type(layer).__name__


@claim("layers/anatomy.md", "| `Dropout` | the scaled mask |")
def check_anatomy_dropout_caches_the_scaled_mask():
    layer = L.Dropout(0.25, rng=0)
    x = np.ones((50, 40))
    y = layer(x)
    cached = _cached_arrays(layer)
    assert len(cached) == 1 and np.array_equal(cached[0], y)  # x is ones: y is the mask itself
    assert set(np.unique(cached[0])) == {0.0, 1 / (1 - 0.25)}


@claim("layers/anatomy.md", "| `BatchNorm2d` | $\\hat x$ and $1/\\sqrt{\\sigma^2 + \\epsilon}$ |")
def check_anatomy_batchnorm_caches_xhat_and_inv_std():
    layer = L.BatchNorm2d(3)
    x = np.random.default_rng(0).normal(2, 3, (4, 3, 5, 5))
    layer(x)
    cached = [v for v in layer._cache if isinstance(v, np.ndarray)]  # the running statistics aside
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    inv_std = 1 / np.sqrt(var + layer.eps)
    assert len(cached) == 2
    assert np.allclose(cached[0], (x - mean) * inv_std) and np.allclose(cached[1].ravel(), inv_std.ravel())


# ---------------------------------------------------------------------------------------------
# layers/activations.md


@claim("layers/activations.md", "PyTorch computes the exact form by default and the approximation")
def check_activations_gelu_defaults_exact():
    assert torch.nn.GELU().approximate == "none"
    assert default(keras.activations.gelu, "approximate") is False
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    assert not torch.allclose(torch.nn.GELU()(x), torch.nn.GELU(approximate="tanh")(x), atol=1e-6)


@claim("layers/activations.md", "without `dim` guesses an axis and warns; Keras defaults to the last")
def check_activations_softmax_without_dim():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = torch.nn.Softmax()(torch.randn(2, 3))
    assert any("dimension" in str(w.message) for w in caught)
    assert torch.allclose(y.sum(dim=1), torch.ones(2))  # it guessed dim=1 for a 2-d input
    assert keras.layers.Softmax().axis == -1


@claim("layers/activations.md", "With the defaults $\\beta = 1$ and threshold 20")
def check_activations_softplus_defaults_and_switch():
    sp = torch.nn.Softplus()
    assert sp.beta == 1 and sp.threshold == 20
    x = torch.tensor([20.5, 19.5], dtype=torch.float64)
    y = sp(x)
    assert y[0].item() == 20.5 and y[1].item() != 19.5  # the identity above the threshold only
    assert list(inspect.signature(keras.activations.softplus).parameters) == ["x"]


@claim("layers/activations.md", "the code, like\n   PyTorch, uses the left slope there")
def check_activations_relu_derivative_at_zero():
    x = torch.zeros(3, requires_grad=True)
    torch.relu(x).sum().backward()
    assert torch.equal(x.grad, torch.zeros(3))
    relu = L.ReLU()
    relu(np.zeros(3))
    assert np.array_equal(relu.backward(np.ones(3)), np.zeros(3))


@claim("layers/activations.md", "PyTorch gives NaN there too")
def check_activations_gelu_derivative_at_infinity():
    x = torch.tensor([np.inf, -np.inf], dtype=torch.float64, requires_grad=True)
    torch.nn.GELU()(x).sum().backward()
    assert torch.isnan(x.grad).all()
    gelu = L.GELU()
    gelu(np.array([np.inf, -np.inf]))
    assert np.isnan(gelu.backward(np.ones(2))).all()


@claim("layers/activations.md", "LeakyReLU's $\\alpha$ is 0.01 in PyTorch and here, 0.3 in")
def check_activations_leaky_relu_default_slopes():
    assert torch.nn.LeakyReLU().negative_slope == 0.01
    assert default(L.LeakyReLU, "negative_slope") == 0.01
    assert keras.layers.LeakyReLU().negative_slope == 0.3
    assert default(keras.activations.leaky_relu, "negative_slope") == 0.2


@claim("layers/activations.md", "`keras.activations.softplus` has neither $\\beta$ nor a threshold")
def check_activations_keras_softplus_signature():
    assert list(inspect.signature(keras.activations.softplus).parameters) == ["x"]


@claim("layers/activations.md", "LeakyReLU caches the mask $x > 0$")
def check_activations_leaky_relu_caches_the_mask():
    layer = L.LeakyReLU(0.1)
    x = np.array([-1.0, 0.0, 2.0])
    layer(x)
    cached = _cached_arrays(layer)
    assert len(cached) == 1 and cached[0].dtype == bool and np.array_equal(cached[0], x > 0)


# ---------------------------------------------------------------------------------------------
# layers/attention.md


@claim("layers/attention.md", "weights (`need_weights=True`, the default)")
def check_attention_need_weights_default():
    assert default(torch.nn.MultiheadAttention.forward, "need_weights") is True
    assert default(torch.nn.MultiheadAttention.forward, "average_attn_weights") is True


@claim("layers/attention.md", "its call order is `(query, value, key)` with the\nkey defaulting to the value")
def check_attention_keras_call_order():
    params = inspect.signature(keras.layers.MultiHeadAttention.call).parameters
    assert list(params)[1:4] == ["query", "value", "key"] and params["key"].default is None
    mha = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    q, v = (np.random.default_rng(i).standard_normal((2, 5, 8)).astype(np.float32) for i in (0, 1))
    assert np.allclose(to_numpy(mha(q, v)), to_numpy(mha(q, v, v)))


@claim("layers/attention.md", "PyTorch's default is `(L, N, E)`, sequence first")
def check_attention_torch_default_layout():
    assert torch.nn.MultiheadAttention(8, 2).batch_first is False
    assert L.MultiheadAttention(8, 2).batch_first is False


# ---------------------------------------------------------------------------------------------
# layers/batchnorm.md


@claim("layers/batchnorm.md", "`momentum=None` averages\nall batches seen so far with equal weights")
def check_batchnorm_momentum_none_is_a_cumulative_average():
    rng = np.random.default_rng(0)
    batches = [rng.normal(i, 1, (10, 2)).astype(np.float32) for i in range(3)]
    theirs = torch.nn.BatchNorm1d(2, momentum=None)
    ours = L.BatchNorm1d(2, momentum=None)
    for x in batches:
        theirs(torch.from_numpy(x))
        ours(x)
    expected = np.mean([x.mean(axis=0) for x in batches], axis=0)
    assert np.allclose(theirs.running_mean.numpy(), expected, atol=1e-6)
    assert np.allclose(ours.running_mean, expected, atol=1e-6)


@claim("layers/batchnorm.md", "`momentum=0.99` (PyTorch 0.1 in the other")
def check_batchnorm_default_momenta_and_epsilons():
    bn = keras.layers.BatchNormalization()
    assert (bn.momentum, bn.epsilon, bn.axis) == (0.99, 1e-3, -1)
    tbn = torch.nn.BatchNorm2d(4)
    assert (tbn.momentum, tbn.eps) == (0.1, 1e-5)


@claim("layers/batchnorm.md", "Keras' default 0.99 equals PyTorch's 0.01")
def check_batchnorm_momentum_conversion():
    x = np.random.default_rng(0).normal(2, 3, (16, 4)).astype(np.float32)
    keras_bn = keras.layers.BatchNormalization(momentum=0.99)
    keras_bn(x, training=True)
    torch_bn = torch.nn.BatchNorm1d(4, momentum=0.01)
    torch_bn(torch.from_numpy(x))
    assert np.allclose(to_numpy(keras_bn.moving_mean), torch_bn.running_mean.numpy(), atol=1e-6)


@claim("layers/batchnorm.md", "Keras counts all four\nvectors in `count_params()` and lists $2C$ of them as non-trainable")
def check_batchnorm_keras_counts_four_vectors():
    bn = keras.layers.BatchNormalization()
    bn.build((None, 7))
    assert bn.count_params() == 4 * 7
    assert sum(int(np.prod(w.shape)) for w in bn.non_trainable_weights) == 2 * 7


@claim("layers/batchnorm.md", "the layer refuses, as PyTorch does")
def check_batchnorm_refuses_one_value_per_channel():
    with pytest.raises(ValueError):
        torch.nn.BatchNorm1d(3)(torch.randn(1, 3))
    with pytest.raises(ValueError):
        L.BatchNorm1d(3)(np.zeros((1, 3), np.float32))


@claim("layers/batchnorm.md", "`track_running_stats=False` makes the layer use batch statistics in evaluation too")
def check_batchnorm_track_running_stats_false():
    bn = torch.nn.BatchNorm1d(2, track_running_stats=False).eval()
    x = torch.randn(50, 2) * 3 + 5
    y = bn(x)
    assert torch.allclose(y.mean(0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(y.var(0, unbiased=False), torch.ones(2), atol=1e-3)


# ---------------------------------------------------------------------------------------------
# layers/convolution.md


@claim("layers/convolution.md", "(Keras\ncalls it `filters`)")
def check_convolution_keras_filters():
    assert list(inspect.signature(keras.layers.Conv2D).parameters)[0] == "filters"


def _same_padding_matches(pad_left, pad_right, k):
    s = torch.randn(1, 1, 10, dtype=torch.float64)
    conv = torch.nn.Conv1d(1, 1, k, padding="same", bias=False).double()
    ref = torch.nn.functional.conv1d(torch.nn.functional.pad(s, (pad_left, pad_right)), conv.weight)
    torch_ok = torch.allclose(conv(s), ref)
    kconv = keras.layers.Conv1D(1, k, padding="same", use_bias=False, data_format="channels_first")
    kconv.build((None, 1, 10))
    w = torch.from_numpy(to_numpy(kconv.kernel).transpose(2, 1, 0).astype(np.float64))
    ref = torch.nn.functional.conv1d(torch.nn.functional.pad(s, (pad_left, pad_right)), w)
    keras_ok = np.allclose(to_numpy(kconv(s.float().numpy())), ref.numpy(), atol=1e-5)
    return torch_ok, keras_ok


@claim("layers/convolution.md", "when that total is odd the extra zero goes at\n  the end")
def check_convolution_same_padding_extra_zero_at_the_end():
    assert _same_padding_matches(1, 2, 4) == (True, True)  # k = 4: 3 zeros, the extra one last
    assert _same_padding_matches(2, 1, 4) == (False, False)
    s = np.random.default_rng(0).standard_normal((1, 1, 10))
    ours = L.Conv1d(1, 1, 4, padding="same", bias=False)
    w = ours.params["weight"].astype(np.float64)
    ref = torch.nn.functional.conv1d(torch.nn.functional.pad(torch.from_numpy(s), (1, 2)), torch.from_numpy(w))
    assert np.allclose(ours(s), ref.numpy())


@claim("layers/convolution.md", "PyTorch refuses\n`padding='same'` with a stride")
def check_convolution_same_with_stride():
    with pytest.raises(ValueError):
        torch.nn.Conv2d(1, 1, 3, stride=2, padding="same")
    conv = keras.layers.Conv2D(2, 3, strides=2, padding="same", data_format="channels_first")
    assert tuple(conv(np.zeros((1, 1, 7, 9), np.float32)).shape) == (1, 2, math.ceil(7 / 2), math.ceil(9 / 2))


@claim("layers/convolution.md", "Keras accepts only\n`padding=\"valid\"` or `\"same\"` (and `\"causal\"` for `Conv1D`), not an integer")
def check_convolution_keras_padding_values():
    with pytest.raises(Exception):
        keras.layers.Conv2D(2, 3, padding=1)
    with pytest.raises(ValueError):
        keras.layers.Conv2D(2, 3, padding="causal")
    keras.layers.Conv1D(2, 3, padding="causal")


@claim("layers/convolution.md", "`Conv2D` takes a\n`groups` argument for the general one")
def check_convolution_keras_groups():
    conv = keras.layers.Conv2D(8, 3, groups=4)
    conv.build((None, 10, 10, 16))
    assert tuple(conv.kernel.shape) == (3, 3, 16 // 4, 8)


@claim("layers/convolution.md", "with $f = \\frac{C_\\text{in}}{G} k_h k_w$, the number\nof weights of one filter")
def check_convolution_torch_init_bound_uses_the_group_fan_in():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 64, 5, groups=4)
    bound = 1 / math.sqrt(16 / 4 * 25)
    for p in (conv.weight, conv.bias):
        assert p.abs().max().item() <= bound
    assert conv.weight.abs().max().item() > 0.999 * bound  # 25,600 draws
    ours = L.Conv2d(16, 64, 5, groups=4, rng=0)
    assert np.abs(ours.params["weight"]).max() <= bound and np.abs(ours.params["weight"]).max() > 0.999 * bound


# ---------------------------------------------------------------------------------------------
# layers/dropout.md


@claim("layers/dropout.md", "Keras applies dropout only when the layer is called with `training=True`")
def check_dropout_keras_off_unless_training():
    drop = keras.layers.Dropout(0.5, seed=0)
    x = np.ones((20, 20), np.float32)
    assert np.array_equal(to_numpy(drop(x)), x)
    assert not np.array_equal(to_numpy(drop(x, training=True)), x)
    assert "noise_shape" in inspect.signature(keras.layers.Dropout).parameters


@claim("layers/dropout.md", "PyTorch `p` and Keras `rate` drop")
def check_dropout_argument_names():
    assert "p" in inspect.signature(torch.nn.Dropout).parameters
    assert list(inspect.signature(keras.layers.Dropout).parameters)[0] == "rate"
    y = torch.nn.Dropout(p=0.9)(torch.ones(100_000))
    assert abs((y == 0).float().mean().item() - 0.9) < 0.01  # p is the probability of a zero


# ---------------------------------------------------------------------------------------------
# layers/embedding.md


@claim("layers/embedding.md", "row 0 starts at zero\nand never receives a gradient")
def check_embedding_padding_idx_row_zero_and_frozen():
    emb = torch.nn.Embedding(5, 3, padding_idx=0)
    assert not emb.weight[0].any()
    emb(torch.tensor([0, 0, 1, 2])).sum().backward()
    assert not emb.weight.grad[0].any() and emb.weight.grad[1].all()
    ours = L.Embedding(5, 3, padding_idx=0, rng=0)
    assert not ours.params["weight"][0].any()
    ours(np.array([0, 0, 1, 2]))
    ours.backward(np.ones((4, 3), np.float32))
    assert not ours.grads["weight"][0].any()


@claim("layers/embedding.md", "The padding row is counted too (PyTorch counts\nit as well)")
def check_embedding_padding_row_counted():
    assert sum(p.numel() for p in torch.nn.Embedding(30, 8, padding_idx=0).parameters()) == 30 * 8


@claim("layers/embedding.md", "Keras draws from $\\mathcal{U}(-0.05, 0.05)$ instead")
def check_embedding_initialisers():
    torch.manual_seed(0)
    w = torch.nn.Embedding(1000, 64).weight.detach().double()
    # N(0, 1): the relative standard error of the sample std of n normal draws is sqrt(2 / n) / 2
    # (0.28 % for 64,000); allow 6 of them, far below the gap to Keras' U(-0.05, 0.05) (std 0.029)
    assert abs(w.std().item() - 1) < 6 * math.sqrt(2 / w.numel()) / 2
    emb = keras.layers.Embedding(1000, 64)
    config = emb.embeddings_initializer.get_config()
    assert (config["minval"], config["maxval"]) == (-0.05, 0.05)
    emb.build((None, 5))
    assert np.abs(to_numpy(emb.embeddings)).max() <= 0.05


@claim("layers/embedding.md", "`mask_zero=True` does not zero anything: row 0 is an ordinary trainable vector")
def check_embedding_mask_zero_keeps_row_zero():
    emb = keras.layers.Embedding(10, 4, mask_zero=True)
    emb.build((None, 3))
    assert to_numpy(emb.embeddings)[0].any() and len(emb.trainable_weights) == 1


@claim("layers/embedding.md", "those that\nsupport masks (`LSTM`, `GRU`, `SimpleRNN`, `GlobalAveragePooling1D`")
def check_embedding_keras_mask_aware_layers():
    for layer in (keras.layers.LSTM(4), keras.layers.GRU(4), keras.layers.SimpleRNN(4),
                  keras.layers.GlobalAveragePooling1D()):
        assert layer.supports_masking, type(layer).__name__
    for layer in (keras.layers.Conv1D(4, 3), keras.layers.Flatten()):  # the Pitfalls' counter-examples
        assert not layer.supports_masking, type(layer).__name__


@claim("layers/embedding.md", "drops the mask, and Keras 3 only warns")
def check_embedding_keras_warns_when_a_mask_is_dropped():
    inputs = keras.Input((5,), dtype="int32")
    h = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = keras.Model(inputs, keras.layers.Conv1D(2, 3)(h))
        model(np.array([[1, 2, 0, 0, 0]]))
    assert any("mask" in str(w.message) for w in caught)


@claim("layers/embedding.md", "Its input is a set of indices, which\nhave no gradient, so `backward` returns `None`")
def check_embedding_backward_returns_none():
    emb = L.Embedding(5, 3, rng=0)
    emb(np.array([1, 2]))
    assert emb.backward(np.ones((2, 3), np.float32)) is None and emb.grads["weight"].shape == (5, 3)


# ---------------------------------------------------------------------------------------------
# layers/rnn.md, lstm.md, gru.md


@claim("layers/rnn.md", "Keras always puts\nthe batch first")
def check_rnn_keras_batch_first():
    assert "time_major" not in inspect.signature(keras.layers.SimpleRNN).parameters
    rnn = keras.layers.SimpleRNN(4, return_sequences=True)
    assert tuple(rnn(np.zeros((2, 7, 3), np.float32)).shape) == (2, 7, 4)


@claim("layers/rnn.md", "Keras' `global_clipnorm`; Keras' `clipnorm` clips each")
def check_rnn_keras_clipnorm_is_per_array():
    grads = [np.array([3.0, 4.0], np.float32), np.array([12.0], np.float32)]  # norms 5 and 12, global 13

    def step(**kwargs):
        variables = [keras.Variable(np.zeros_like(g)) for g in grads]
        keras.optimizers.SGD(learning_rate=1.0, **kwargs).apply_gradients(
            [(keras.ops.convert_to_tensor(g), v) for g, v in zip(grads, variables)])
        return [-to_numpy(v) for v in variables]

    per_array = step(clipnorm=1.0)
    assert np.allclose(per_array[0], [0.6, 0.8]) and np.allclose(per_array[1], [1.0])
    global_ = step(global_clipnorm=1.0)
    assert np.allclose(global_[0], np.array([3, 4]) / 13) and np.allclose(global_[1], [12 / 13])
    # and torch's clip_grad_norm_ is the global one
    params = [torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)]
    for p, g in zip(params, grads):
        p.grad = torch.from_numpy(g.copy())
    total = torch.nn.utils.clip_grad_norm_(params, 1.0)
    assert total.item() == pytest.approx(13) and np.allclose(params[1].grad.numpy(), 12 / 13, atol=1e-5)


@claim("layers/rnn.md", "Keras'\n`SimpleRNN` has a single bias, $H(I + H) + H$")
def check_rnn_keras_single_bias():
    rnn = keras.layers.SimpleRNN(16)
    rnn.build((None, 5, 8))
    assert rnn.count_params() == 16 * (8 + 16) + 16


def _check_recurrent_init(cls, H=16):
    torch.manual_seed(0)
    module = cls(10, H)
    values = torch.cat([p.detach().ravel() for p in module.parameters()])
    bound = 1 / math.sqrt(H)
    assert values.abs().max().item() <= bound and values.abs().max().item() > 0.99 * bound


@claim("layers/rnn.md", "Initialisation, as in PyTorch: every weight and bias from")
def check_rnn_init_bound():
    _check_recurrent_init(torch.nn.RNN)


@claim("layers/lstm.md", "Initialisation, as in PyTorch: every weight and bias from")
def check_lstm_init_bound():
    _check_recurrent_init(torch.nn.LSTM)


@claim("layers/gru.md", "Initialisation, as in PyTorch: every weight and bias from")
def check_gru_init_bound():
    _check_recurrent_init(torch.nn.GRU)


@claim("layers/lstm.md", "Keras starts the forget-gate bias at 1\n(`unit_forget_bias=True`)")
def check_lstm_keras_forget_bias():
    H = 5
    lstm = keras.layers.LSTM(H)
    lstm.build((None, 3, 4))
    bias = to_numpy(lstm.cell.bias)
    assert np.array_equal(bias, np.r_[np.zeros(H), np.ones(H), np.zeros(2 * H)])  # i, f, c, o
    assert default(keras.layers.LSTM, "unit_forget_bias") is True


@claim("layers/lstm.md", "its default activations (`tanh`, and\n`sigmoid` for the gates)")
def check_lstm_keras_default_activations():
    cell = keras.layers.LSTM(4).cell
    assert (cell.activation.__name__, cell.recurrent_activation.__name__) == ("tanh", "sigmoid")


@claim("layers/lstm.md", "To get Keras' behaviour in\n  PyTorch, set `bias_ih_l0[H:2H]` to 1 and `bias_hh_l0[H:2H]` to 0")
def check_lstm_forget_slice_is_the_second_block():
    H = 4
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, H)
    with torch.no_grad():
        for p in lstm.parameters():
            p.zero_()
        lstm.bias_ih_l0[H:2 * H] = 30.0  # forget gate fully open, every other gate at sigmoid(0)
    c0 = torch.ones(1, 1, H)
    _, (_, c) = lstm(torch.zeros(1, 1, 3), (torch.zeros(1, 1, H), c0))
    # c = f c0 + i g = 1 * 1 + 0.5 * tanh(0): the old cell state is kept whole
    assert torch.allclose(c, c0)


@claim("layers/gru.md", "`reset_after=True`, its default, is PyTorch's (and cuDNN's) form")
def check_gru_keras_reset_after_default():
    assert default(keras.layers.GRU, "reset_after") is True


@claim("layers/gru.md", "with `reset_after=False` it has one bias,\n$3H(I + H) + 3H$")
def check_gru_keras_reset_before_count():
    gru = keras.layers.GRU(16, reset_after=False)
    gru.build((None, 5, 8))
    assert gru.count_params() == 3 * 16 * (8 + 16) + 3 * 16
    assert tuple(gru.cell.bias.shape) == (3 * 16,)


# ---------------------------------------------------------------------------------------------
# layers/layernorm.md, normalisation.md, transformer.md


@claim("layers/layernorm.md", "PyTorch's default is $10^{-5}$, Keras' $10^{-3}$")
def check_layernorm_epsilons():
    assert torch.nn.LayerNorm(4).eps == 1e-5 and keras.layers.LayerNormalization().epsilon == 1e-3
    assert default(L.LayerNorm, "eps") == 1e-5


@claim("layers/layernorm.md", "`axis=[-2, -1]` corresponds to\n`LayerNorm((T, D))`")
def check_layernorm_keras_axes():
    x = np.random.default_rng(0).standard_normal((3, 5, 6)).astype(np.float32)
    keras_ln = keras.layers.LayerNormalization(axis=[-2, -1], epsilon=1e-5)
    assert np.allclose(to_numpy(keras_ln(x)), L.LayerNorm((5, 6))(x), atol=1e-5)
    assert keras_ln.count_params() == 2 * 5 * 6


@claim("layers/normalisation.md", "otherwise the constructor raises a `ValueError`, as PyTorch's does")
def check_normalisation_groups_must_divide():
    with pytest.raises(ValueError):
        torch.nn.GroupNorm(3, 32)
    with pytest.raises(ValueError):
        L.GroupNorm(3, 32)


@claim("layers/normalisation.md", "with the biased variance and $\\epsilon = 10^{-5}$, as in PyTorch")
def check_normalisation_groupnorm_eps():
    assert torch.nn.GroupNorm(2, 4).eps == 1e-5 and default(L.GroupNorm, "eps") == 1e-5


@claim("layers/normalisation.md", "which is\nPyTorch's choice; any number given is used as it is")
def check_normalisation_rmsnorm_eps_none_is_the_dtype_epsilon():
    for dtype, torch_dtype in ((np.float32, torch.float32), (np.float64, torch.float64)):
        # a root mean square of 1e-4: eps (1.2e-7 or 2.2e-16) against 1e-8 decides the output
        x = (1e-4 * np.random.default_rng(0).standard_normal((2, 5, 64))).astype(dtype)
        theirs = torch.nn.RMSNorm(64, dtype=torch_dtype)(torch.from_numpy(x)).detach().numpy()
        eps = np.finfo(dtype).eps
        expected = x / np.sqrt((x.astype(np.float64) ** 2).mean(-1, keepdims=True) + eps)
        assert np.allclose(theirs, expected, rtol=1e-5), dtype
        assert np.allclose(L.RMSNorm(64)(x), expected, rtol=1e-5), dtype
        assert not np.allclose(L.RMSNorm(64, eps=1e-6)(x), expected, rtol=1e-2)


@claim("layers/normalisation.md", "`GroupNormalization` normalises `axis=-1` by default")
def check_normalisation_keras_groupnorm_axis():
    assert keras.layers.GroupNormalization(groups=2).axis == -1


@claim("layers/transformer.md", "Post-norm is the order of the original paper and PyTorch's default")
def check_transformer_torch_defaults():
    params = inspect.signature(torch.nn.TransformerEncoderLayer).parameters
    assert params["norm_first"].default is False and params["batch_first"].default is False
    assert params["dropout"].default == 0.1 and params["dim_feedforward"].default == 2048
    ours = inspect.signature(L.TransformerEncoderLayer).parameters
    assert ours["norm_first"].default is False and ours["dropout"].default == 0.1
    assert ours["dim_feedforward"].default == 2048 and ours["batch_first"].default is False


@claim("layers/transformer.md", "`TransformerDecoderLayer` adds a cross-attention sublayer")
def check_transformer_decoder_layer_has_cross_attention():
    assert hasattr(torch.nn.TransformerDecoderLayer(8, 2), "multihead_attn")
    assert not hasattr(torch.nn.TransformerEncoderLayer(8, 2), "multihead_attn")


@claim("layers/transformer.md", "`TransformerEncoder(..., norm=LayerNorm(E))`")
def check_transformer_encoder_final_norm():
    layer = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    stack = torch.nn.TransformerEncoder(layer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    y = stack(torch.randn(5, 3, 8))
    assert torch.allclose(y.mean(-1), torch.zeros(5, 3), atol=1e-5)  # ends in a LayerNorm


# ---------------------------------------------------------------------------------------------
# layers/losses-optimisers.md and layers/regularisation.md


@claim("layers/losses-optimisers.md", "Keras' losses expect probabilities unless `from_logits=True`")
def check_losses_keras_from_logits_default():
    for loss in (keras.losses.BinaryCrossentropy(), keras.losses.SparseCategoricalCrossentropy(),
                 keras.losses.CategoricalCrossentropy()):
        assert loss.get_config()["from_logits"] is False
    p = np.array([[0.2, 0.7, 0.1]], np.float32)
    assert float(to_numpy(keras.losses.SparseCategoricalCrossentropy()(np.array([1]), p))) == pytest.approx(
        -math.log(0.7), rel=1e-5)


@claim("layers/losses-optimisers.md", "`CrossEntropyLoss` averages over samples (and positions), `MSELoss` and")
def check_losses_torch_reductions():
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    t = torch.randint(0, 3, (2, 4))
    per_position = -torch.log_softmax(x, 1).gather(1, t[:, None])
    assert torch.allclose(torch.nn.CrossEntropyLoss()(x, t), per_position.mean())
    y = torch.rand(2, 3, 4, dtype=torch.float64)
    assert torch.allclose(torch.nn.MSELoss()(x, y), ((x - y) ** 2).mean())
    bce = -(y * torch.nn.functional.logsigmoid(x) + (1 - y) * torch.nn.functional.logsigmoid(-x))
    assert torch.allclose(torch.nn.BCEWithLogitsLoss()(x, y), bce.mean())


@claim("layers/losses-optimisers.md", "`CrossEntropyLoss`\n  and `BCEWithLogitsLoss` apply the softmax or sigmoid themselves")
def check_losses_take_logits():
    z = torch.tensor([[2.0, -1.0, 0.5]], dtype=torch.float64)
    t = torch.tensor([0])
    assert torch.nn.CrossEntropyLoss()(z, t).item() == pytest.approx(-torch.log_softmax(z, 1)[0, 0].item())
    twice = torch.nn.CrossEntropyLoss()(torch.softmax(z, 1), t).item()  # a softmax before it: applied twice
    assert twice != pytest.approx(-torch.log_softmax(z, 1)[0, 0].item(), rel=1e-3)
    y = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64)
    assert torch.nn.BCEWithLogitsLoss()(z, y).item() == pytest.approx(torch.nn.BCELoss()(torch.sigmoid(z), y).item())
    ours = L.CrossEntropyLoss()(z.numpy(), t.numpy())
    assert ours == pytest.approx(-torch.log_softmax(z, 1)[0, 0].item(), rel=1e-12)


@claim("layers/losses-optimisers.md", "PyTorch's form applies the new rate to the whole velocity at once")
def check_optimisers_torch_momentum_form():
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=1.0, momentum=0.9)
    for lr in (1.0, 0.1):
        for group in opt.param_groups:
            group["lr"] = lr
        p.grad = torch.ones(1)
        opt.step()
    # v1 = 1, v2 = 0.9 + 1 = 1.9; p = -1 * 1 - 0.1 * 1.9 (the paper's form would give -1 - 0.9 - 0.1)
    assert p.item() == pytest.approx(-1.19)


@claim("layers/losses-optimisers.md", "`torch.optim.SGD` also has `dampening` and `nesterov`")
def check_optimisers_torch_sgd_arguments():
    params = inspect.signature(torch.optim.SGD).parameters
    assert "dampening" in params and "nesterov" in params


@claim("layers/losses-optimisers.md", "In Keras, `weight_decay=` on any optimiser is *decoupled*")
def check_optimisers_keras_weight_decay_is_decoupled():
    for make in (lambda: keras.optimizers.SGD(learning_rate=0.1, weight_decay=0.5),
                 lambda: keras.optimizers.Adam(learning_rate=0.1, weight_decay=0.5),
                 lambda: keras.optimizers.RMSprop(learning_rate=0.1, weight_decay=0.5)):
        decayed, plain = keras.Variable(np.array([2.0], np.float32)), keras.Variable(np.array([2.0], np.float32))
        g = keras.ops.convert_to_tensor(np.array([1e-3], np.float32))
        make().apply_gradients([(g, decayed)])
        optimiser = make()
        optimiser.weight_decay = None
        optimiser.apply_gradients([(g, plain)])
        # decoupled: the decay is p * lr * wd, whatever the gradient's scaling does
        assert to_numpy(plain - decayed)[0] == pytest.approx(2.0 * 0.1 * 0.5, rel=1e-3)


@claim("layers/losses-optimisers.md", "PyTorch's `Adam(weight_decay=λ)` is that penalty\n  passed through Adam's scaling")
def check_optimisers_torch_adam_coupled_adamw_decoupled():
    def run(cls, wd, extra_grad=0.0):
        p = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
        opt = cls([p], lr=0.1, weight_decay=wd)
        for _ in range(3):
            p.grad = torch.tensor([1e-3], dtype=torch.float64) + extra_grad * p.detach()
            opt.step()
        return p.item()

    assert run(torch.optim.Adam, 0.5) == pytest.approx(run(torch.optim.Adam, 0.0, extra_grad=0.5), rel=1e-12)
    p = torch.tensor([2.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = torch.tensor([0.0], dtype=torch.float64)
    opt.step()
    assert p.item() == pytest.approx(2.0 * (1 - 0.1 * 0.5), rel=1e-12)  # p <- p - lr wd p


@claim("layers/losses-optimisers.md", "PyTorch adds $\\epsilon = 10^{-8}$ to $\\sqrt{\\hat v}$; Keras adds")
def check_optimisers_adam_epsilons():
    assert torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults["eps"] == 1e-8
    assert keras.optimizers.Adam().epsilon == 1e-7
    g, lr, b1, b2, eps = 1e-6, 1.0, 0.9, 0.999, 1e-7
    v = keras.Variable(np.array([0.0], np.float32))
    keras.optimizers.Adam(learning_rate=lr).apply_gradients([(keras.ops.convert_to_tensor(np.array([g], np.float32)), v)])
    m, s = (1 - b1) * g, (1 - b2) * g * g
    before = -lr * math.sqrt(1 - b2) / (1 - b1) * m / (math.sqrt(s) + eps)  # epsilon before the correction
    after = -lr * (m / (1 - b1)) / (math.sqrt(s / (1 - b2)) + eps)
    assert to_numpy(v)[0] == pytest.approx(before, rel=1e-4) and abs(before - after) > 0.5


@claim("layers/regularisation.md", "`keras.regularizers.L2(0.01)` adds\n$0.01 \\sum W^2$, *without* a factor $\\frac12$")
def check_regularisation_keras_l2_has_no_half():
    W = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    assert float(to_numpy(keras.regularizers.L2(0.01)(W))) == pytest.approx(0.01 * (W**2).sum(), rel=1e-5)
    assert keras.regularizers.get("l2").get_config() == {"l2": 0.01}


@claim("layers/regularisation.md", "Keras 3 divides by the batch size so that the strength does not depend on it")
def check_regularisation_keras_activity_penalty_per_sample():
    dense = keras.layers.Dense(3, activity_regularizer=keras.regularizers.L2(0.1))
    x = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
    h = to_numpy(dense(x))
    assert float(to_numpy(dense.losses[0])) == pytest.approx(0.1 * (h**2).sum() / 8, rel=1e-5)


@claim("layers/regularisation.md", "Keras restores the best weights at the end of training\nwhether or not it stopped early")
def check_regularisation_keras_restores_without_stopping():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)
    stopper.set_model(model)
    stopper.on_train_begin()
    best = [w.copy() for w in model.get_weights()]
    for epoch, loss in enumerate([1.0, 2.0, 3.0]):  # the first epoch is the best; patience not reached
        stopper.on_epoch_end(epoch, {"val_loss": loss})
        model.set_weights([w + 1 for w in model.get_weights()])
    assert stopper.stopped_epoch == 0  # it did not stop
    stopper.on_train_end()
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), best))


@claim("layers/regularisation.md", "per column of Keras' `(in, out)`\n  kernel (`MaxNorm(axis=0)`, the default)")
def check_regularisation_maxnorm_default_axis():
    assert keras.constraints.MaxNorm().get_config()["axis"] == 0
    W = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)  # our (out, in)
    expected = torch.renorm(torch.from_numpy(W), 2, 0, 1.0).numpy()
    assert np.allclose(to_numpy(keras.constraints.MaxNorm(1.0)(W.T)).T, expected, atol=1e-6)


@claim("layers/regularisation.md", "PyTorch's `weight_decay` applies to every parameter\n  in the group")
def check_regularisation_torch_weight_decay_reaches_biases():
    layer = torch.nn.LayerNorm(3)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1, weight_decay=0.5)
    for p in layer.parameters():
        p.grad = torch.zeros_like(p)
    with torch.no_grad():
        layer.bias.fill_(1.0)
    opt.step()
    assert torch.allclose(layer.weight, torch.full((3,), 0.95)) and torch.allclose(layer.bias, torch.full((3,), 0.95))


# ---------------------------------------------------------------------------------------------
# layers/pooling.md


@claim("layers/pooling.md", "the layer refuses\n$p > k/2$, as PyTorch does")
def check_pooling_refuses_large_padding():
    with pytest.raises(RuntimeError):
        torch.nn.MaxPool2d(2, padding=2)(torch.randn(1, 1, 6, 6))
    with pytest.raises(ValueError):
        L.MaxPool2d(2, padding=2)


@claim("layers/pooling.md", "a constant\n  image of 3s gives 2 at the edge of a 3-wide window with $p = 1$")
def check_pooling_count_include_pad_default():
    assert torch.nn.AvgPool2d(2).count_include_pad is True
    y = torch.nn.AvgPool1d(3, stride=1, padding=1)(torch.full((1, 1, 5), 3.0))
    assert y[0, 0, 0].item() == 2.0 and y[0, 0, 2].item() == 3.0
    assert L.AvgPool1d(3, stride=1, padding=1)(np.full((1, 1, 5), 3.0))[0, 0, 0] == 2.0


@claim("layers/pooling.md", "The code gives all of it to the **first** maximum in row-major order")
def check_pooling_ties_go_to_the_first_maximum():
    x = torch.tensor([[[[1.0, 3.0], [3.0, 0.0]]]], requires_grad=True)
    torch.nn.MaxPool2d(2)(x).sum().backward()
    assert x.grad.flatten().tolist() == [0.0, 1.0, 0.0, 0.0]
    pool = L.MaxPool2d(2)
    pool(x.detach().numpy())
    assert pool.backward(np.ones((1, 1, 1, 1), np.float32)).ravel().tolist() == [0.0, 1.0, 0.0, 0.0]


@claim("layers/pooling.md", "with several NaNs in a window the last one wins, as in\n  PyTorch's scan")
def check_pooling_nan_wins():
    x = torch.tensor([[[np.nan, 1.0, np.nan, 0.0]]], requires_grad=True)
    y = torch.nn.MaxPool1d(4)(x)
    y.sum().backward()
    assert torch.isnan(y).all() and x.grad.flatten().tolist() == [0.0, 0.0, 1.0, 0.0]
    pool = L.MaxPool1d(4)
    assert np.isnan(pool(x.detach().numpy())).all()
    assert pool.backward(np.ones((1, 1, 1), np.float32)).ravel().tolist() == [0.0, 0.0, 1.0, 0.0]


@claim("layers/pooling.md", "PyTorch's `ceil_mode=True` keeps a partial window instead")
def check_pooling_ceil_mode():
    assert tuple(torch.nn.MaxPool2d(2, ceil_mode=True)(torch.randn(1, 1, 5, 7)).shape) == (1, 1, 3, 4)
    assert tuple(torch.nn.MaxPool2d(2)(torch.randn(1, 1, 5, 7)).shape) == (1, 1, 2, 3)


@claim("layers/pooling.md", "adaptive average pooling to any output size (`AdaptiveAveragePooling1D`/`2D`), with\nPyTorch's bins")
def check_pooling_keras_adaptive_pooling():
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 30)).astype(np.float32)
    keras_pool = keras.layers.AdaptiveAveragePooling2D((5, 7), data_format="channels_first")
    assert np.allclose(to_numpy(keras_pool(x)), L.AdaptiveAvgPool2d((5, 7))(x), atol=1e-6)
    s = x[:, :, 0, :]
    keras_pool1d = keras.layers.AdaptiveAveragePooling1D(4, data_format="channels_first")
    assert np.allclose(to_numpy(keras_pool1d(s)), L.AdaptiveAvgPool1d(4)(s), atol=1e-6)


# ---------------------------------------------------------------------------------------------
# layers/transposed-convolution.md


@claim("layers/transposed-convolution.md", "with $f = (C_\\text{out}/G)\\, k_h k_w$, the size of `weight[c]`")
def check_transposed_init_fan():
    torch.manual_seed(0)
    conv = torch.nn.ConvTranspose2d(64, 32, 4, groups=4)
    bound = 1 / math.sqrt(32 / 4 * 16)
    assert tuple(conv.weight.shape) == (64, 8, 4, 4)
    assert conv.weight.abs().max().item() <= bound and conv.weight.abs().max().item() > 0.999 * bound
    assert conv.bias.abs().max().item() <= bound


@claim("layers/transposed-convolution.md", "With `scale_factor`, PyTorch\n  interpolates with $r = 1/\\text{scale\\_factor}$, not with the ratio of the sizes")
def check_transposed_scale_factor_sets_the_ratio():
    x = torch.arange(7.0, dtype=torch.float64).reshape(1, 1, 7) ** 2
    by_factor = torch.nn.Upsample(scale_factor=1.7, mode="linear")(x)  # 11 outputs: 11/7 != 1.7
    by_size = torch.nn.Upsample(size=by_factor.shape[-1], mode="linear")(x)
    i = np.arange(by_factor.shape[-1])
    source = np.maximum(0, (i + 0.5) / 1.7 - 0.5)  # r = 1 / scale_factor in the page's formula
    assert np.allclose(by_factor.numpy().ravel(), np.interp(source, np.arange(7), x.numpy().ravel()), rtol=1e-12)
    assert not torch.allclose(by_factor, by_size)
    assert np.allclose(L.Upsample(scale_factor=1.7, mode="linear")(x.numpy()), by_factor.numpy(), rtol=1e-12)
    assert np.allclose(L.Upsample(size=11, mode="linear")(x.numpy()), by_size.numpy(), rtol=1e-12)


@claim("layers/activations.md", "The functional forms are `torch.relu`, `torch.nn.functional.leaky_relu`, `torch.sigmoid`")
def check_activations_torch_functional_names():
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    F = torch.nn.functional
    pairs = [(torch.relu, torch.nn.ReLU()), (F.leaky_relu, torch.nn.LeakyReLU()), (torch.sigmoid, torch.nn.Sigmoid()),
             (torch.tanh, torch.nn.Tanh()), (F.gelu, torch.nn.GELU()), (F.silu, torch.nn.SiLU())]
    for function, module in pairs:
        assert torch.equal(function(x), module(x))
    assert torch.equal(torch.softmax(x[None], 1), torch.nn.Softmax(dim=1)(x[None]))


@claim("layers/transposed-convolution.md", "`\"same\"` gives an output of exactly `strides` times the input")
def check_transposed_keras_same():
    up = keras.layers.Conv2DTranspose(2, 3, strides=2, padding="same", data_format="channels_first")
    assert tuple(up(np.zeros((1, 1, 7, 9), np.float32)).shape) == (1, 2, 14, 18)


@claim("layers/transposed-convolution.md", "`UpSampling2D` takes integer\nfactors only")
def check_transposed_keras_upsampling_integer_only():
    with pytest.raises(ValueError):
        keras.layers.UpSampling2D(size=1.5)(np.zeros((1, 4, 4, 1), np.float32))


@claim("layers/transposed-convolution.md", "(or, in PyTorch, pass `output_size` to `forward`)")
def check_transposed_output_size():
    up = torch.nn.ConvTranspose2d(1, 1, 3, stride=2, padding=1)
    x = torch.randn(1, 1, 4, 4)
    assert tuple(up(x).shape[2:]) == (7, 7) and tuple(up(x, output_size=(8, 8)).shape[2:]) == (8, 8)


@claim("layers/transposed-convolution.md", "`False` (PyTorch's default, and what Keras' `UpSampling2D` does")
def check_transposed_align_corners_default():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    y = torch.nn.Upsample(scale_factor=2, mode="bilinear")(x)
    assert torch.equal(y, torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
    assert not torch.equal(y, torch.nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True))


# ---------------------------------------------------------------------------------------------
# layers/residual.md, positional-encoding.md, hyperparameters.md, initialisation.md


@claim("layers/residual.md", "PyTorch has no residual module")
def check_residual_torch_has_no_residual_module_nor_summary():
    assert not any("residual" in name.lower() for name in dir(torch.nn))
    assert not hasattr(torch.nn.Module, "summary")


@claim("layers/residual.md", "but the function `torch.flatten(x)` starts at 0")
def check_residual_flatten_defaults():
    assert torch.nn.Flatten().start_dim == 1 and default(L.Flatten, "start_dim") == 1
    assert tuple(torch.flatten(torch.zeros(2, 3, 4)).shape) == (24,)


@claim("layers/residual.md", "`model.params[\"1.weight\"] = new`, is passed on to the layer that owns it")
def check_residual_params_assignment_is_passed_on():
    model = L.Sequential(L.ReLU(), L.Linear(3, 2, rng=0))
    new = np.ones((2, 3), np.float32)
    model.params["1.weight"] = new
    assert model.layers[1].params["weight"] is new


@claim("layers/residual.md", "`keras.Sequential` cannot express a shortcut, since each layer has one input")
def check_residual_keras_add_needs_a_list():
    # a Sequential hands each layer the one output of the layer before; Add needs two inputs
    with pytest.raises(ValueError, match="list of inputs"):
        keras.Sequential([keras.Input((4,)), keras.layers.Add()])(np.zeros((1, 4), np.float32))
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Add()([x, keras.layers.Dense(4)(x)]))
    assert tuple(model(np.zeros((1, 4), np.float32)).shape) == (1, 4)


@claim("layers/positional-encoding.md", "from $\\mathcal{N}(0, 1)$, as here and in PyTorch")
def check_positional_embedding_init_is_standard_normal():
    torch.manual_seed(0)
    w = torch.nn.Embedding(500, 64).weight.detach().double()
    tol = 6 * math.sqrt(2 / w.numel())  # relative standard error of a normal sample variance
    assert abs(w.var().item() - 1) < tol
    ours = L.Embedding(500, 64, rng=0).params["weight"].astype(np.float64)
    assert abs(ours.var() - 1) < tol


@claim("layers/hyperparameters.md", "takes the last part of the arrays as given, before shuffling")
def check_hyperparameters_validation_split_is_the_tail():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((100, 3)).astype(np.float32)
    y = np.r_[np.zeros(80), np.full(20, 10.0)].astype(np.float32)[:, None]  # the tail is different
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    history = model.fit(x, y, batch_size=10, epochs=1, validation_split=0.2, shuffle=True, verbose=0)
    tail = model.evaluate(x[80:], y[80:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(tail, rel=1e-5)


@claim("layers/initialisation.md", "He's scheme keeps the forward\nvariance through ReLU layers (the mode `fan_in`")
def check_initialisation_kaiming_mode_default():
    assert default(torch.nn.init.kaiming_normal_, "mode") == "fan_in"
    assert default(torch.nn.init.kaiming_uniform_, "mode") == "fan_in"


@claim("layers/initialisation.md", "the names\n`\"glorot_uniform\"`, `\"glorot_normal\"`, `\"he_uniform\"`, `\"he_normal\"` select the schemes")
def check_initialisation_keras_names():
    expected = {"glorot_uniform": keras.initializers.GlorotUniform, "glorot_normal": keras.initializers.GlorotNormal,
                "he_uniform": keras.initializers.HeUniform, "he_normal": keras.initializers.HeNormal}
    for name, cls in expected.items():
        assert type(keras.initializers.get(name)) is cls
    assert default(keras.layers.Dense, "bias_initializer") == "zeros"


# ---------------------------------------------------------------------------------------------
# examples/transformer.md and examples/solubility.md


@claim("examples/transformer.md", "including the $10^{-6}$ added to the norm")
def check_example_clip_grad_norm_epsilon():
    # a gradient of norm exactly max_norm: torch still scales it, by 1 / (1 + 1e-6)
    p = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor([0.6, 0.8], dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_([p], 1.0)
    assert total.item() == pytest.approx(1.0) and p.grad[0].item() == pytest.approx(0.6 / (1 + 1e-6), rel=1e-12)
    assert p.grad[0].item() != 0.6
    layer = L.Linear(2, 1, bias=False, rng=0)
    layer.grads = {"weight": np.array([[0.6, 0.8]])}
    assert L.clip_grad_norm_(layer, 1.0) == pytest.approx(1.0)
    assert layer.grads["weight"][0, 0] == p.grad[0].item()


@claim("examples/transformer.md", "AdamW shrinks every parameter by the same factor $1 - \\eta\\lambda$ before the Adam\nstep")
def check_example_adamw_shrinks_before_the_step():
    lr, wd = 0.1, 0.5
    layer = L.Linear(3, 2, rng=0)
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    start = {k: v.copy() for k, v in layer.params.items()}
    layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}  # no Adam step: decay only
    L.AdamW(layer, lr=lr, weight_decay=wd).step()
    for k in start:
        assert np.allclose(layer.params[k], (1 - lr * wd) * start[k], rtol=1e-14)
    p = torch.tensor(start["weight"], requires_grad=True)
    p.grad = torch.zeros_like(p)
    torch.optim.AdamW([p], lr=lr, weight_decay=wd).step()
    assert np.allclose(p.detach().numpy(), (1 - lr * wd) * start["weight"], rtol=1e-14)


@claim("examples/solubility.md", "Keras' `\"l2\"` regulariser adds $0.01 \\sum W^2$")
def check_example_keras_l2_string():
    W = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)
    penalty = keras.regularizers.get("l2")(W)
    assert float(to_numpy(penalty)) == pytest.approx(0.01 * (W**2).sum(), rel=1e-5)


@claim("examples/solubility.md", "the embedding starts from $\\mathcal{N}(0, 1)$ instead of\n  $U(-0.05, 0.05)$")
def check_example_embedding_initialisers():
    check_embedding_initialisers()


# ---------------------------------------------------------------------------------------------
# What the other classes keep for backward, and what they refuse


@claim("layers/activations.md", "`forward` caches $x$ and $\\sigma(x)$")
def check_activations_silu_caches_x_and_sigma():
    x = np.array([-3.0, 0.5, 2.0])
    layer = L.SiLU()
    layer(x)
    cached = _cached_arrays(layer)
    assert len(cached) == 2 and np.array_equal(cached[0], x)
    assert np.allclose(cached[1], 1 / (1 + np.exp(-x)), rtol=1e-14)


@claim("layers/activations.md", "`forward` caches the mask and $\\alpha e^x$")
def check_activations_elu_caches_mask_and_slope():
    x = np.array([-2.0, -0.5, 1.0])
    layer = L.ELU(alpha=0.5)
    layer(x)
    cached = _cached_arrays(layer)
    assert len(cached) == 2 and np.array_equal(cached[0], x > 0)
    assert np.allclose(cached[1][x <= 0], 0.5 * np.exp(x[x <= 0]), rtol=1e-14)


@claim("layers/activations.md", "`forward` computes it and caches\n    it, so `backward` is one product")
def check_activations_mish_caches_its_derivative():
    x = np.array([-2.0, 0.3, 4.0])
    layer = L.Mish()
    layer(x)
    cached = _cached_arrays(layer)
    s = np.log1p(np.exp(x))
    t, sigma = np.tanh(s), 1 / (1 + np.exp(-x))
    assert len(cached) == 1 and np.allclose(cached[0], t + x * (1 - t**2) * sigma, rtol=1e-12)
    assert np.array_equal(layer.backward(np.full(3, 2.0)), 2.0 * cached[0])


@claim("layers/activations.md", "`forward` caches $y$; the probabilities $e^y$ are recomputed in `backward`")
def check_activations_logsoftmax_caches_its_output():
    x = np.random.default_rng(0).standard_normal((2, 4))
    layer = L.LogSoftmax(dim=1)
    y = layer(x)
    cached = _cached_arrays(layer)
    assert len(cached) == 1 and np.array_equal(cached[0], y)


@claim("layers/losses-optimisers.md", "The forward pass caches $e^{-|x|}$")
def check_losses_bce_caches_exp_minus_abs_x():
    x = np.array([[-3.0, 0.0, 2.0]])
    loss = L.BCEWithLogitsLoss()
    loss(x, np.array([[0.0, 1.0, 1.0]]))
    assert any(a.shape == x.shape and np.allclose(a, np.exp(-np.abs(x)), rtol=1e-14) for a in _cached_arrays(loss))


@claim("layers/losses-optimisers.md", "The classes here reject mismatched shapes")
def check_losses_reject_mismatched_shapes():
    assert tuple((torch.zeros(4, 1) - torch.zeros(4)).shape) == (4, 4)  # what broadcasting does
    for loss in (L.MSELoss(), L.BCEWithLogitsLoss()):
        with pytest.raises(ValueError):
            loss(np.zeros((4, 1)), np.zeros(4))


# ---------------------------------------------------------------------------------------------
# Argument names and return conventions the pages mention


@claim("layers/embedding.md", "PyTorch also offers `sparse=True` (a sparse gradient for huge vocabularies) and\n`max_norm`")
def check_embedding_torch_extra_arguments():
    params = inspect.signature(torch.nn.Embedding).parameters
    assert "sparse" in params and "max_norm" in params


@claim("layers/lstm.md", "PyTorch's `proj_size` (a projected hidden state) has no counterpart here")
def check_lstm_torch_proj_size():
    assert "proj_size" in inspect.signature(torch.nn.LSTM).parameters or hasattr(torch.nn.LSTM(2, 4), "proj_size")
    assert tuple(torch.nn.LSTM(2, 4, proj_size=3)(torch.zeros(5, 1, 2))[0].shape) == (5, 1, 3)


@claim("layers/pooling.md", "PyTorch's pooling layers also take `ceil_mode` (round the output size up),\n`dilation` and `return_indices` (max pooling), and `divisor_override` (average pooling)")
def check_pooling_torch_extra_arguments():
    max_params = inspect.signature(torch.nn.MaxPool2d).parameters
    avg_params = inspect.signature(torch.nn.AvgPool2d).parameters
    assert {"ceil_mode", "dilation", "return_indices"} <= set(max_params)
    assert {"ceil_mode", "divisor_override"} <= set(avg_params)


@claim("layers/rnn.md", "Without `return_sequences=True` Keras returns only the last state; without\n`return_state=True` it does not return the state separately")
def check_rnn_keras_return_flags():
    x = np.zeros((2, 7, 3), np.float32)
    assert tuple(keras.layers.SimpleRNN(4)(x).shape) == (2, 4)
    assert tuple(keras.layers.SimpleRNN(4, return_sequences=True)(x).shape) == (2, 7, 4)
    outputs = keras.layers.SimpleRNN(4, return_state=True)(x)
    assert len(outputs) == 2 and tuple(outputs[1].shape) == (2, 4)


@claim("layers/transformer.md", "Dropout (`dropout`, default 0.1, as in PyTorch) acts, in training, on the attention weights,\nafter the activation and on both branches before the additions")
def check_transformer_torch_dropout_places():
    block = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16)
    assert block.self_attn.dropout == 0.1  # on the attention weights
    assert [block.dropout.p, block.dropout1.p, block.dropout2.p] == [0.1, 0.1, 0.1]  # FF, both branches


@claim("examples/gradient-checking.md", "four parameter arrays (`weight_ih_l0`, `weight_hh_l0`,\n`bias_ih_l0`, `bias_hh_l0`; with the input, five arrays to check)")
def check_example_lstm_has_four_parameter_arrays():
    lstm = L.LSTM(4, 6, rng=0)
    assert list(lstm.params) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert [name for name, _ in torch.nn.LSTM(4, 6).named_parameters()] == list(lstm.params)


@claim("examples/gradient-checking.md", "Its parameters are created in float32 like torch's")
def check_example_parameters_float32():
    assert all(p.dtype == np.float32 for p in L.LSTM(4, 6, rng=0).params.values())
    assert all(p.dtype == torch.float32 for p in torch.nn.LSTM(4, 6).parameters())


@claim("examples/activations-compared.md", "(`backward` uses 0 at\n  exactly $x = 0$, as torch does)")
def check_example_relu_derivative_at_zero():
    check_activations_relu_derivative_at_zero()


# ---------------------------------------------------------------------------------------------
# Claims whose checks live in other test modules (by test name)

BACKED_ELSEWHERE = [
    # (page, fragment, "test module::test function")
    ("layers/embedding.md", "a `RuntimeError` in PyTorch", "test_claims.py::test_torch_embedding_bad_index_types"),
    ("layers/embedding.md", "where PyTorch raises an `IndexError`, negative indices included",
     "test_claims.py::test_torch_embedding_bad_index_types"),
    ("layers/embedding.md", "Float indices (data loaded as `float64`) raise a\n  `TypeError` here",
     "test_claims.py::test_our_embedding_bad_index_types"),
    ("layers/linear.md", "here $\\operatorname{Var}(W) = 1/(3 H_\\text{in})$",
     "test_claims.py::test_default_linear_init_variance"),
    ("layers/anatomy.md", "the\n# module's weight and bias are not checked unless they are passed in as inputs too",
     "test_claims.py::test_gradcheck_checks_only_the_inputs_passed_in"),
    ("layers/anatomy.md", "| `ReLU` | its output $y$ (positive exactly where $x > 0$) |",
     "test_claims.py::test_relu_keeps_its_output"),
    ("layers/activations.md", "caches them with $x$ and returns `x * Phi`", "test_claims.py::test_gelu_keeps_x_Phi_and_phi"),
    ("layers/initialisation.md", "Keras uses Glorot uniform for `Dense` kernels and zeros for\nbiases",
     "test_claims.py::test_keras_dense_default_initialisers"),
    ("layers/initialisation.md", "a convolution's fan-in is\n  $C_\\text{in} \\times$ the kernel size",
     "test_claims.py::test_torch_conv_fan_in_includes_the_kernel"),
    ("examples/solubility.md", "over the kernels of all three dense\n   layers",
     "test_claims.py::test_solubility_l2_covers_three_dense_kernels"),
    # the conventions of every class, checked class by class against torch
    ("layers/anatomy.md", "class names, argument names, their order and their defaults follow `torch.nn`",
     "test_contract.py::test_constructor_matches_torch"),
    ("layers/linear.md", "Initialisation, as in PyTorch: $W$ and $b$ are drawn from",
     "test_contract.py::test_initialisation_range_as_torch"),
    ("layers/anatomy.md", "a wrong shape is a `ValueError`, a wrong dtype a `TypeError`",
     "test_bad_input.py::test_bad_input_is_a_clear_error"),
    ("layers/anatomy.md", "a wrong shape is a `ValueError`, a wrong dtype a `TypeError`",
     "test_bad_input.py::test_non_floating_input_is_a_type_error"),
    ("layers/embedding.md", "never receives a gradient, so a padding token always maps to the zero vector",
     "test_contract.py::test_embedding_padding_row_is_zero_at_init_and_gets_no_gradient"),
    ("layers/transposed-convolution.md", "Ours returns the true gradient;\n  the test suite checks both facts",
     "test_conv_extra.py::test_torch_1d_nearest_forward_and_backward_disagree_where_we_skip"),
]


# ---------------------------------------------------------------------------------------------
# The tests


def _collapsed(text):
    return " ".join(text.split())


_PAGES = {}


def _page_text(page):
    if page not in _PAGES:
        _PAGES[page] = _collapsed((ROOT / page).read_text())
    return _PAGES[page]


@pytest.mark.parametrize("entry", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_holds(entry):
    entry.check()


@pytest.mark.parametrize("entry", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claim_is_on_its_page(entry):
    assert _collapsed(entry.fragment) in _page_text(entry.page), (
        f"{entry.page} no longer says {entry.fragment!r}: update the claim and its check")


@pytest.mark.parametrize("page, fragment, test", BACKED_ELSEWHERE,
                         ids=[f"{Path(p).stem}:{t}" for p, _, t in BACKED_ELSEWHERE])
def test_claim_backed_elsewhere_is_on_its_page(page, fragment, test):
    assert _collapsed(fragment) in _page_text(page), f"{page} no longer says {fragment!r}"
    module, _, name = test.partition("::")
    tree = ast.parse((ROOT / "tests" / module).read_text())
    names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    assert name in names, f"{test} is gone: the claim needs another check"


def test_register_is_unique_and_covers_every_page_it_names():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    for c in CLAIMS:
        assert (ROOT / c.page).is_file(), c.page
