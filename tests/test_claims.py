"""Claims the pages make about PyTorch, Keras and code/layers.py, checked in code (issue 13, item 1).

Each test names the page and the sentence it backs. Sampling tests state their tolerance from
the sample size: for n i.i.d. draws the relative standard error of the sample variance is
sqrt((kurtosis - 1) / n) (kurtosis 9/5 for a uniform, 3 for a normal), and of the sample standard
deviation half of that; the tests allow 6 standard errors (a false failure has probability
below 1e-8 for any seed), far less than the gaps between the schemes they tell apart (factors
of 2 or 3 in variance).
"""

import math
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras as keras_module  # noqa: E402
import torch  # noqa: E402

import solubility  # noqa: E402
from layers import GELU, Embedding, Linear, ReLU, Tanh  # noqa: E402


def rel_se_var(n, kurtosis):
    """Relative standard error of the sample variance of n i.i.d. draws."""
    return math.sqrt((kurtosis - 1) / n)


UNIFORM_KURTOSIS, NORMAL_KURTOSIS = 9 / 5, 3.0


# --- layers/embedding.md, Pitfalls: "a RuntimeError in PyTorch ... PyTorch raises an IndexError"


@pytest.mark.parametrize(
    "indices, expected",
    [
        (torch.tensor([1.0, 2.0]), RuntimeError),  # float indices
        (torch.tensor([5]), IndexError),  # index == num_embeddings
        (torch.tensor([-1]), IndexError),  # negative index
    ],
    ids=["float", "too-large", "negative"],
)
def test_torch_embedding_bad_index_types(indices, expected):
    emb = torch.nn.Embedding(5, 3)
    with pytest.raises(Exception) as info:
        emb(indices)
    assert type(info.value) is expected


@pytest.mark.parametrize(
    "indices, expected",
    [(np.array([1.0, 2.0]), TypeError), (np.array([5]), ValueError), (np.array([-1]), ValueError)],
    ids=["float", "too-large", "negative"],
)
def test_our_embedding_bad_index_types(indices, expected):
    """The same page: "raise a TypeError here ... the layer rejects ... with a ValueError"."""
    with pytest.raises(Exception) as info:
        Embedding(5, 3)(indices)
    assert type(info.value) is expected


# --- layers/linear.md and layers/initialisation.md: PyTorch's default gives Var(W) = 1/(3 H_in)


@pytest.mark.parametrize("source", ["torch", "ours"])
def test_default_linear_init_variance(source):
    n_in, n_out = 512, 512
    if source == "torch":
        torch.manual_seed(0)
        layer = torch.nn.Linear(n_in, n_out)
        W = layer.weight.detach().double().numpy()
        b = layer.bias.detach().double().numpy()
    else:
        layer = Linear(n_in, n_out, rng=0)
        W, b = (layer.params[k].astype(np.float64) for k in ("weight", "bias"))
    bound = 1 / math.sqrt(n_in)
    assert np.abs(W).max() <= bound and np.abs(b).max() <= bound
    expected = 1 / (3 * n_in)
    tol = 6 * rel_se_var(W.size, UNIFORM_KURTOSIS)  # about 1 % for 262,144 draws
    assert abs(W.var() / expected - 1) < tol
    # and so a zero-mean input loses about 2/3 of its variance per layer: H_in Var(W) = 1/3
    assert abs(n_in * W.var() - 1 / 3) < 1 / 3 * tol


# --- layers/anatomy.md, PyTorch tab: gradcheck checks only the tensors passed in


class _WrongWeightGrad(torch.autograd.Function):
    """y = x * w with a correct gradient for x and a wrong (zero) one for w."""

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w

    @staticmethod
    def backward(ctx, dy):
        x, w = ctx.saved_tensors
        return dy * w, torch.zeros_like(w)


def test_gradcheck_checks_only_the_inputs_passed_in():
    x = torch.randn(4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    # w is a closed-over parameter, as a module's weight is: its wrong gradient goes unseen.
    assert torch.autograd.gradcheck(lambda x: _WrongWeightGrad.apply(x, w), (x,), eps=1e-6, atol=1e-8)
    # passed in as an input, it is checked and the wrong gradient is caught.
    assert not torch.autograd.gradcheck(_WrongWeightGrad.apply, (x, w), eps=1e-6, atol=1e-8,
                                        raise_exception=False)


# --- layers/anatomy.md and layers/activations.md: what ReLU and GELU keep for backward


def test_relu_keeps_its_output():
    x = np.array([-2.0, 0.0, 3.0])
    relu = ReLU()
    y = relu(x)
    cached = [v for v in vars(relu).values() if isinstance(v, np.ndarray)]
    assert len(cached) == 1 and np.array_equal(cached[0], y) and cached[0].dtype == y.dtype
    # backward is dy * (y > 0): the mask is recomputed from the output
    assert np.array_equal(relu.backward(np.ones(3)), (y > 0).astype(float))


def test_gelu_keeps_x_Phi_and_phi():
    from scipy.special import erf

    x = np.array([-1.5, 0.0, 2.0])
    gelu = GELU()
    gelu(x)
    arrays = [v for v in vars(gelu).values() if isinstance(v, tuple)]
    assert len(arrays) == 1 and len(arrays[0]) == 3
    cached_x, Phi, phi = arrays[0]
    assert np.array_equal(cached_x, x)
    np.testing.assert_allclose(Phi, (1 + erf(x / math.sqrt(2))) / 2, rtol=1e-12)
    np.testing.assert_allclose(phi, np.exp(-x**2 / 2) / math.sqrt(2 * math.pi), rtol=1e-12)


# --- layers/initialisation.md: the torch.nn.init schemes


def test_torch_xavier_uniform_limit_and_std():
    n_in, n_out = 512, 256
    w = torch.empty(n_out, n_in, dtype=torch.float64)
    torch.manual_seed(0)
    torch.nn.init.xavier_uniform_(w)
    w = w.numpy()
    limit = math.sqrt(6 / (n_in + n_out))
    assert np.abs(w).max() <= limit
    assert np.abs(w).max() > 0.999 * limit  # P(all 131,072 draws below) = 0.999^131072 ~ 1e-57
    tol = 6 * rel_se_var(w.size, UNIFORM_KURTOSIS)
    assert abs(w.var() / (2 / (n_in + n_out)) - 1) < tol


def test_torch_kaiming_normal_std():
    n_in, n_out = 512, 256
    w = torch.empty(n_out, n_in, dtype=torch.float64)
    torch.manual_seed(0)
    torch.nn.init.kaiming_normal_(w, nonlinearity="relu")  # fan_in = size(1) = 512
    tol = 6 * rel_se_var(w.numel(), NORMAL_KURTOSIS)
    assert abs(w.var().item() / (2 / n_in) - 1) < tol


# --- layers/initialisation.md, Keras tab: GlorotUniform, HeNormal, Dense's defaults


@pytest.fixture(scope="module")
def keras():
    return keras_module


def test_keras_glorot_uniform_limit(keras):
    n_in, n_out = 512, 256  # Keras' kernel layout (in, out)
    w = keras.ops.convert_to_numpy(keras.initializers.GlorotUniform(seed=0)((n_in, n_out))).astype(np.float64)
    limit = math.sqrt(6 / (n_in + n_out))
    assert np.abs(w).max() <= limit * (1 + 1e-6)  # float32 rounding of the limit
    assert np.abs(w).max() > 0.999 * limit
    tol = 6 * rel_se_var(w.size, UNIFORM_KURTOSIS)
    assert abs(w.var() / (2 / (n_in + n_out)) - 1) < tol


def test_keras_he_normal_std(keras):
    n_in, n_out = 512, 256
    w = keras.ops.convert_to_numpy(keras.initializers.HeNormal(seed=0)((n_in, n_out))).astype(np.float64)
    # a truncated normal has a smaller kurtosis than a normal, so the normal's bound is safe
    tol = 6 * rel_se_var(w.size, NORMAL_KURTOSIS)
    assert abs(w.var() / (2 / n_in) - 1) < tol


def test_keras_dense_default_initialisers(keras):
    dense = keras.layers.Dense(4)
    assert type(dense.kernel_initializer) is keras.initializers.GlorotUniform
    assert type(dense.bias_initializer) is keras.initializers.Zeros


# --- layers/initialisation.md, the figure's reading: the factor per layer in a deep stack


def _stack_var_ratio(var_w, activation, depth=12, width=256, seed=0):
    """Variance of the last block's pre-activation over the first's, in a stack of our Linear."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2000, width))
    pre = []
    for _ in range(depth):
        layer = Linear(width, width, bias=False, rng=rng)
        layer.params["weight"] = rng.standard_normal((width, width)) * math.sqrt(var_w)
        z = layer(x)
        pre.append(z.var())
        x = activation()(z)
    return (pre[-1] / pre[0]) ** (1 / (depth - 1))  # the geometric mean factor per layer


def test_relu_stack_factors():
    n = 256
    # He keeps the pre-activation variance; Glorot (square layer: 1/n) halves it.
    assert abs(_stack_var_ratio(2 / n, ReLU) - 1) < 0.05
    assert abs(_stack_var_ratio(1 / n, ReLU) - 0.5) < 0.05


def test_tanh_stack_default_shrinks_by_about_three():
    # PyTorch's default 1/(3n) through tanh: at small scale tanh is the identity, factor 1/3.
    assert abs(_stack_var_ratio(1 / (3 * 256), Tanh) - 1 / 3) < 0.05


# --- examples/solubility.md: "a penalty ... over the kernels of all three dense layers"


def test_solubility_l2_covers_three_dense_kernels():
    model = solubility.build_model(rng=0)
    kernels = solubility.dense_layers(model)
    assert [(k.in_features, k.out_features) for k in kernels] == [(160, 256), (256, 64), (64, 1)]


# --- layers/initialisation.md, Pitfalls: a convolution's fan-in is C_in times the kernel size


def test_torch_conv_fan_in_includes_the_kernel():
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 64, 5)
    w = conv.weight.detach().double().numpy()
    bound = 1 / math.sqrt(16 * 5 * 5)
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.999 * bound  # 25,600 draws: P(all below) = 0.999^25600 ~ 1e-11


# --- layers/regularisation.md, Forward and "Choosing the penalty strength": what Keras'
# kernel_regularizer and activity_regularizer add, and what the string "l2" means


def test_keras_kernel_l2_has_no_half(keras):
    w = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    penalty = float(keras.ops.convert_to_numpy(keras.regularizers.L2(0.05)(w)))
    assert np.isclose(penalty, 0.05 * np.sum(w.astype(np.float64) ** 2), rtol=1e-6)  # not 0.05 / 2


def test_keras_activity_l2_is_divided_by_the_batch_size(keras):
    x = np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32)
    dense = keras.layers.Dense(3, activity_regularizer=keras.regularizers.L2(0.01))
    h = keras.ops.convert_to_numpy(dense(x)).astype(np.float64)
    (term,) = [float(keras.ops.convert_to_numpy(t)) for t in dense.losses]
    assert np.isclose(term, 0.01 * np.sum(h**2) / len(x), rtol=1e-5)


def test_keras_l2_string_means_0_01(keras):
    assert keras.regularizers.get("l2").l2 == 0.01
    assert keras.regularizers.get("l1").l1 == 0.01
