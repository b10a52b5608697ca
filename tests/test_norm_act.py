"""GroupNorm, RMSNorm, PReLU, ELU, Softplus, LogSoftmax and Mish: float64 finite-difference
gradient checks (input and every parameter), float64 parity with torch.nn on random
configurations (at least 10 per class and per argument), bad input, dtypes, and stability
at |x| = 1e4."""

import numpy as np
import pytest
import torch

import helpers as h
import layers
from registry.norm_act import RANDOM_MAKERS

N_RANDOM = 40  # random configurations per class; each argument is varied in at least 10 of them

STRICT = dict(over="raise", divide="raise", invalid="raise", under="ignore")

# --------------------------------------------------------------------------------------
# random configurations
# --------------------------------------------------------------------------------------


MAKERS = RANDOM_MAKERS  # the random configurations of the registry entries (tests/registry/norm_act.py)


def random_case(name, seed):
    case = MAKERS[name](np.random.default_rng([seed, sum(map(ord, name))]))
    case.note = f"random{seed}"
    return case


RANDOM = [random_case(name, seed) for name in MAKERS for seed in range(N_RANDOM)]

# the configurations that each argument must be varied in (a predicate on a case), at least 10 each
VARIED = {
    "GroupNorm": {
        "one group": lambda c: c.spec.args[0] == 1,
        "several groups": lambda c: c.spec.args[0] > 1,
        "one channel per group": lambda c: c.spec.args[0] == c.spec.args[1],
        "eps": lambda c: "eps" in c.spec.kwargs,
        "affine=False": lambda c: c.spec.kwargs.get("affine") is False,
    },
    "RMSNorm": {
        "eps=None": lambda c: "eps" not in c.spec.kwargs,
        "eps given": lambda c: "eps" in c.spec.kwargs,
        "elementwise_affine=False": lambda c: c.spec.kwargs.get("elementwise_affine") is False,
        "normalized_shape a tuple": lambda c: isinstance(c.spec.args[0], tuple),
        "normalized_shape an int": lambda c: isinstance(c.spec.args[0], int),
    },
    "PReLU": {
        "one slope": lambda c: c.spec.args[:1] in ((), (1,)),
        "one slope per channel": lambda c: c.spec.args[:1] not in ((), (1,)),
        "init": lambda c: "init" in c.spec.kwargs,
    },
    "ELU": {"alpha": lambda c: "alpha" in c.spec.kwargs, "default": lambda c: not c.spec.kwargs},
    "Softplus": {"beta": lambda c: "beta" in c.spec.kwargs, "threshold": lambda c: "threshold" in c.spec.kwargs},
    "LogSoftmax": {"dim >= 0": lambda c: c.spec.args[0] >= 0, "dim < 0": lambda c: c.spec.args[0] < 0},
    "Mish": {"any": lambda c: True},
}


@pytest.mark.parametrize("name", MAKERS)
def test_every_argument_is_varied_in_ten_configurations(name):
    cases = [c for c in RANDOM if c.name == name]
    for what, varied in VARIED[name].items():
        count = sum(map(varied, cases))
        assert count >= 10, f"{name}: only {count} random configurations with {what}"


# --------------------------------------------------------------------------------------
# torch parity (float64)
# --------------------------------------------------------------------------------------


@pytest.mark.torch_parity
@pytest.mark.parametrize("case", h.case_params(RANDOM))
def test_matches_torch(case):
    rng = np.random.default_rng(7)
    ours = h.prepare(case, rng)
    theirs = h.twin(case, ours)
    inp = case.inputs(rng)
    tin = h.torch_inputs(case, inp)
    (y,) = h.forward_ours(ours, case, inp)
    (t,) = h.forward_torch(theirs, case, tin)
    assert y.dtype == np.float64
    h.assert_close(y, t.detach().numpy(), "output")
    gs = h.projections(case, [y], rng)
    dx = h.backward_ours(ours, case, gs)["x"]
    (t * torch.from_numpy(gs[0])).sum().backward()
    assert dx.dtype == np.float64
    h.assert_close(dx, tin["x"].grad.numpy(), "dx")
    named = dict(theirs.named_parameters())
    assert sorted(ours.grads) == sorted(named), "grads must be named as torch's parameters"
    for key, p in named.items():
        h.assert_close(ours.grads[key], p.grad.numpy(), f"grad of {key}")


@pytest.mark.torch_parity
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rmsnorm_default_eps_is_the_dtype_epsilon_as_in_torch(dtype):
    """With eps=None the epsilon matters where mean(x^2) is tiny: it must be the dtype's."""
    x = np.array([[1e-4, -2e-4, 3e-4]], dtype=dtype)
    y = layers.RMSNorm(3)(x)
    theirs = torch.nn.RMSNorm(3).to(torch.float32 if dtype == np.float32 else torch.float64)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(y, x / np.sqrt((x * x).mean() + eps), rtol=1e-6)


# --------------------------------------------------------------------------------------
# float64 finite differences
# --------------------------------------------------------------------------------------

FIXED = [
    h.Case(h.S("GroupNorm", 2, 4), h.normal(2, 4, 3, 2)),
    h.Case(h.S("GroupNorm", 1, 3, eps=1e-3), h.normal(2, 3, 4)),
    h.Case(h.S("GroupNorm", 3, 3), h.normal(2, 3, 2, 2)),
    h.Case(h.S("GroupNorm", 2, 6, affine=False), h.normal(3, 6)),
    h.Case(h.S("RMSNorm", 4), h.normal(3, 4)),
    h.Case(h.S("RMSNorm", (3, 2), eps=1e-3), h.normal(2, 3, 2)),
    h.Case(h.S("RMSNorm", 5, elementwise_affine=False), h.normal(2, 2, 5)),
    h.Case(h.S("PReLU"), h.away_from_zero(3, 4)),
    h.Case(h.S("PReLU", 3, init=0.1), h.away_from_zero(2, 3, 4)),
    h.Case(h.S("PReLU", 2), h.away_from_zero(3, 2)),
    h.Case(h.S("ELU"), h.away_from_zero(3, 4)),
    h.Case(h.S("ELU", 0.5), h.normal(2, 3, 4, scale=2)),
    h.Case(h.S("Softplus"), h.normal(3, 4, scale=3)),
    h.Case(h.S("Softplus", beta=2.0, threshold=3.0), h.normal(3, 5, scale=3)),  # both branches
    h.Case(h.S("LogSoftmax", 1), h.normal(3, 4, scale=2)),
    h.Case(h.S("LogSoftmax", 0), h.normal(3, 2, 2, scale=2)),
    h.Case(h.S("LogSoftmax", -1), h.normal(2, 5, scale=2)),
    h.Case(h.S("Mish"), h.normal(3, 4, scale=3)),
]


def _away_from_softplus_switch(case, x):
    """Finite differences must not straddle the switch to the linear part at beta x = threshold."""
    if case.name != "Softplus":
        return x
    beta, threshold = case.spec.kwargs.get("beta", 1.0), case.spec.kwargs.get("threshold", 20.0)
    near = np.abs(beta * x - threshold) < 1e-3
    return np.where(near, x + 0.01, x)


@pytest.mark.gradcheck
@pytest.mark.parametrize("case", h.case_params(FIXED + [c for c in RANDOM if c.note in ("random0", "random1")]))
def test_gradients_match_finite_differences(case):
    rng = np.random.default_rng(1234)
    layer = h.prepare(case, rng)
    x = np.ascontiguousarray(_away_from_softplus_switch(case, case.inputs(rng)["x"]))
    y = layer(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    assert sorted(grads) == sorted(layer.params), "grads must have the keys of params"

    def J():
        return float(np.sum(layer(x) * dy))

    pairs = [("dx", dx, h.numeric_gradient(J, x))]
    pairs += [(f"d{key}", grads[key], h.numeric_gradient(J, layer.params[key])) for key in layer.params]
    scale = max(float(np.max(np.abs(a), initial=0.0)) for _, a, _ in pairs)
    for what, a, n in pairs:
        h.assert_gradient(a, n, what, scale=scale)


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------

BAD = [
    ("GroupNorm", lambda: layers.GroupNorm(3, 4), None, ValueError, "divisible"),
    ("GroupNorm", lambda: layers.GroupNorm(2, 4), np.zeros((2, 3, 5)), ValueError, r"\(N, 4, \*\).*\(2, 3, 5\)"),
    ("GroupNorm", lambda: layers.GroupNorm(1, 4), np.zeros(4), ValueError, r"\(4,\)"),
    ("GroupNorm", lambda: layers.GroupNorm(1, 2), np.zeros((2, 2), dtype=int), TypeError, "int"),
    ("RMSNorm", lambda: layers.RMSNorm((3, 4)), np.zeros((2, 4, 3)), ValueError, r"\(\*, 3, 4\).*\(2, 4, 3\)"),
    ("RMSNorm", lambda: layers.RMSNorm(3), np.zeros(3, dtype=np.int32), TypeError, "int32"),
    ("PReLU", lambda: layers.PReLU(3), np.zeros((2, 4, 5)), ValueError, r"\(N, 3, \*\).*\(2, 4, 5\)"),
    ("PReLU", lambda: layers.PReLU(3), np.zeros(3), ValueError, r"\(3,\)"),
    ("PReLU", lambda: layers.PReLU(), np.zeros(3, dtype=bool), TypeError, "bool"),
    ("ELU", lambda: layers.ELU(), np.zeros(3, dtype=int), TypeError, "int"),
    ("Softplus", lambda: layers.Softplus(), np.zeros(3, dtype=int), TypeError, "int"),
    ("Mish", lambda: layers.Mish(), np.zeros(3, dtype=int), TypeError, "int"),
    ("LogSoftmax", lambda: layers.LogSoftmax(2), np.zeros((2, 3)), ValueError, r"axis 2.*\(2, 3\)"),
    ("LogSoftmax", lambda: layers.LogSoftmax(1), np.zeros((2, 0)), ValueError, r"\(2, 0\)"),
    ("LogSoftmax", lambda: layers.LogSoftmax(None), None, TypeError, "dim"),
    ("LogSoftmax", lambda: layers.LogSoftmax(0), np.zeros(3, dtype=int), TypeError, "int"),
]


@pytest.mark.parametrize("name,make,x,error,pattern", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_names_the_class_and_the_shapes(name, make, x, error, pattern):
    with pytest.raises(error, match=rf"^{name}: .*{pattern}"):
        make()(x)


FIRST = {name: next(c for c in FIXED if c.name == name) for name in MAKERS}


@pytest.mark.parametrize("name", MAKERS)
def test_backward_before_forward_and_wrong_dy(name):
    case = FIRST[name]
    layer = h.build_ours(case.spec)
    x = case.inputs(np.random.default_rng(0))["x"]
    with pytest.raises(RuntimeError, match=f"^{name}: backward called before forward"):
        layer.backward(np.ones_like(x))
    layer(x)
    with pytest.raises(ValueError, match=rf"^{name}: expected dy of shape {tuple(x.shape)}".replace("(", r"\(").replace(")", r"\)")):
        layer.backward(np.ones(x.shape + (1,)))


# --------------------------------------------------------------------------------------
# dtypes and train/eval
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", MAKERS)
def test_dtype_is_kept(name, dtype):
    case = FIRST[name]
    layer = h.build_ours(case.spec, float64=False)
    assert all(p.dtype == np.float32 for p in layer.params.values()), "parameters are created float32"
    x = case.inputs(np.random.default_rng(0))["x"].astype(dtype)
    y = layer(x)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dtype and dx.dtype == dtype
    assert all(g.dtype == np.result_type(dtype, np.float32) for g in layer.grads.values())
    reference = h.build_ours(case.spec, float64=True)(x.astype(np.float64))
    np.testing.assert_allclose(y, reference, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


@pytest.mark.parametrize("name", MAKERS)
def test_train_and_eval_agree(name):
    """No layer here has running statistics or randomness: eval() changes nothing."""
    case = FIRST[name]
    layer = h.build_ours(case.spec)
    x = case.inputs(np.random.default_rng(0))["x"]
    y = layer(x)
    assert layer.eval() is layer and layer.training is False
    np.testing.assert_array_equal(layer(x), y)
    assert layer.train() is layer and layer.training is True


# --------------------------------------------------------------------------------------
# stability at |x| = 1e4
# --------------------------------------------------------------------------------------

EXTREME = np.array([-1e4, -5e3, -1e3, -710.0, -100.0, -1.0, 0.0, 1e-3, 1.0, 100.0, 710.0, 1e3, 5e3, 1e4])

STABLE = [h.S("PReLU"), h.S("PReLU", 7, init=0.1), h.S("ELU"), h.S("ELU", 2.0), h.S("Softplus"),
          h.S("Softplus", beta=2.0, threshold=5.0), h.S("Softplus", beta=0.5), h.S("LogSoftmax", 1),
          h.S("LogSoftmax", 0), h.S("Mish"), h.S("GroupNorm", 2, 6), h.S("GroupNorm", 6, 6, affine=False),
          h.S("RMSNorm", 7), h.S("RMSNorm", (6, 7), eps=1e-3)]


def extreme_matrix(rng):
    x = rng.permutation(np.tile(EXTREME, 3)).reshape(6, 7)
    x[0] = 1e4  # a row all equal and huge
    x[1, :3] = 1e4  # ties at the maximum
    return x


@pytest.mark.torch_parity
@pytest.mark.parametrize("spec", STABLE, ids=repr)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_extreme_inputs_match_torch(spec, sign):
    rng = np.random.default_rng(0)
    x = sign * extreme_matrix(rng)
    if spec.name == "GroupNorm":
        x = x[None]  # (1, 6, 7): N = 1, six channels
    layer = h.build_ours(spec, rng)
    with np.errstate(**STRICT):
        y = layer(x)
        dy = rng.standard_normal(y.shape)
        dx = layer.backward(dy)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    theirs = h.twin(h.Case(spec, None), layer)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    t = theirs(tx)
    (t * torch.from_numpy(dy)).sum().backward()
    h.assert_close(y, t.detach().numpy(), "output")
    h.assert_close(dx, tx.grad.numpy(), "dx")
    for key, p in theirs.named_parameters():
        h.assert_close(layer.grads[key], p.grad.numpy(), f"grad of {key}")


@pytest.mark.parametrize("spec", STABLE, ids=repr)
def test_float32_at_extreme_inputs(spec):
    """float32 overflows at exp(89): a formula that exponentiates a large input fails here."""
    x = extreme_matrix(np.random.default_rng(1)).astype(np.float32)
    if spec.name == "GroupNorm":
        x = x[None]
    layer = h.build_ours(spec, float64=False)
    with np.errstate(**STRICT):
        y = layer(x)
        dx = layer.backward(np.ones_like(y))
    assert y.dtype == np.float32 and dx.dtype == np.float32
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))


def test_exact_limits():
    """Exact values at the extremes, independent of torch."""
    x = np.array([-1e4, 1e4])
    with np.errstate(**STRICT):
        np.testing.assert_array_equal(layers.ELU(0.5)(x), [-0.5, 1e4])
        np.testing.assert_array_equal(layers.Softplus()(x), [0.0, 1e4])
        # torch's rule: y = x wherever beta x > threshold, whatever the sign of beta
        np.testing.assert_array_equal(layers.Softplus(beta=-1.0)(x), [-1e4, 0.0])
        np.testing.assert_array_equal(layers.Mish()(x), [0.0, 1e4])
        np.testing.assert_array_equal(layers.PReLU()(x), [-2500.0, 1e4])
        np.testing.assert_array_equal(layers.LogSoftmax(0)(x), [-2e4, 0.0])
