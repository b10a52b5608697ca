"""MultiheadAttention and TransformerEncoderLayer: float64 gradient checks (with boolean, float
and key-padding masks, and with dropout), float64 parity with torch.nn on random configurations
(output, attention weights, the input gradients and every parameter gradient), fully masked rows
as torch gives them, bad input, dtype, stability at logits of 1e4, and use in Sequential/Residual.

Torch modules run in float64 with our weights copied in through ``load_state_dict``; torch runs its
math path (training mode or parameters that require grad), which is the one we match."""

import warnings

import numpy as np
import pytest
import torch

import layers
from helpers import assert_close, numeric_gradient

# --------------------------------------------------------------------------------------
# checks (assert_close and numeric_gradient are those of tests/helpers.py)
# --------------------------------------------------------------------------------------


def assert_gradient(analytic, numeric, what):
    """Relative error at most 1e-6, element by element, with an absolute floor of 1e-6 of the scale."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    assert analytic.shape == numeric.shape, f"{what}: shape {analytic.shape} != {numeric.shape}"
    scale = max(float(np.max(np.abs(numeric), initial=0.0)), float(np.max(np.abs(analytic), initial=0.0)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6 * scale, err_msg=what)


# --------------------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------------------


def randomise(layer, rng, scale=0.5):
    """Float64 random values for every parameter (through params[...] = new, as an optimiser may)."""
    for key in list(layer.params):
        shape = layer.params[key].shape
        value = scale * rng.standard_normal(shape)
        if key.endswith("norm1.weight") or key.endswith("norm2.weight"):
            value = 1 + value
        layer.params[key] = value
    return layer


def to_torch(ours, module):
    """Copy our parameters into a float64 torch module by state_dict name."""
    module = module.double()
    missing = module.load_state_dict({k: torch.tensor(v) for k, v in ours.params.items()}, strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    return module


def seq_shape(N, T, E, batch_first, unbatched=False):
    if unbatched:
        return (T, E)
    return (N, T, E) if batch_first else (T, N, E)


def make_mask(rng, kind, shape, forbid_full_rows=True):
    """A boolean mask (True: may not attend) or a float mask (finite values and some -inf)."""
    hidden = rng.random(shape) < 0.35
    if forbid_full_rows:
        hidden[..., rng.integers(shape[-1])] = False  # one key always visible: no fully masked row
    if kind == "bool":
        return hidden
    return np.where(hidden, -np.inf, rng.standard_normal(shape))


def tensors(*arrays):
    return [None if a is None else torch.tensor(a) for a in arrays]


def torch_mha(module, q, k, v, self_attention, **kw):
    """Run torch's module; return output, weights and the leaf tensors whose .grad we read."""
    if self_attention:
        x = torch.tensor(q, requires_grad=True)
        leaves = (x,)
        args = (x, x, x)
    else:
        leaves = tuple(torch.tensor(a, requires_grad=True) for a in (q, k, v))
        args = leaves
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "mismatched key_padding_mask and attn_mask" is deprecated
        y, w = module(*args, **kw)
    return y, w, leaves


def objective_weights(rng, y):
    return rng.standard_normal(y.shape)


# --------------------------------------------------------------------------------------
# MultiheadAttention: random configurations against torch
# --------------------------------------------------------------------------------------


def mha_config(seed):
    rng = np.random.default_rng(1000 + seed)
    H = int(rng.integers(1, 4))
    E = H * int(rng.integers(1, 4))
    cfg = dict(seed=seed, E=E, H=H, N=int(rng.integers(1, 4)), L=int(rng.integers(1, 5)), S=int(rng.integers(1, 6)),
               batch_first=bool(seed % 2), bias=bool(rng.random() < 0.8), self_attention=seed % 3 == 0,
               unbatched=seed % 7 == 6, attn_mask=("none", "bool", "float")[seed % 3],
               attn_mask_3d=bool(rng.random() < 0.5), key_padding=("none", "bool", "float")[(seed // 3) % 3],
               need_weights=seed % 5 != 4, average=bool(rng.random() < 0.5))
    if cfg["self_attention"]:
        cfg["S"] = cfg["L"]
    if cfg["unbatched"]:
        cfg["N"] = 1
    return cfg


MHA_CONFIGS = [mha_config(seed) for seed in range(24)]


def mha_inputs(cfg, rng):
    N, L, S, E, H = cfg["N"], cfg["L"], cfg["S"], cfg["E"], cfg["H"]
    shape = lambda T: seq_shape(N, T, E, cfg["batch_first"], cfg["unbatched"])
    q = rng.standard_normal(shape(L))
    k, v = (q, q) if cfg["self_attention"] else (rng.standard_normal(shape(S)), rng.standard_normal(shape(S)))
    am = None
    if cfg["attn_mask"] != "none":
        am_shape = (N * H, L, S) if cfg["attn_mask_3d"] else (L, S)
        am = make_mask(rng, cfg["attn_mask"], am_shape)
    kpm = None
    if cfg["key_padding"] != "none":
        kpm = make_mask(rng, cfg["key_padding"], (S,) if cfg["unbatched"] else (N, S))
        if am is not None:  # keep one key visible to every query through both masks
            visible = (~np.isinf(am) if am.dtype != bool else ~am).reshape(-1, L, S).all(axis=(0, 1))
            keep = np.flatnonzero(visible)[0]
            kpm[..., keep] = False if kpm.dtype == bool else 0.0
    return q, k, v, am, kpm


def mha_id(cfg):
    return ",".join(f"{k}={v}" for k, v in cfg.items() if k != "seed") + f",seed={cfg['seed']}"


@pytest.mark.torch_parity
@pytest.mark.parametrize("cfg", MHA_CONFIGS, ids=mha_id)
def test_mha_matches_torch(cfg):
    rng = np.random.default_rng(cfg["seed"])
    ours = randomise(layers.MultiheadAttention(cfg["E"], cfg["H"], bias=cfg["bias"], batch_first=cfg["batch_first"],
                                               rng=rng), rng)
    theirs = to_torch(ours, torch.nn.MultiheadAttention(cfg["E"], cfg["H"], bias=cfg["bias"],
                                                        batch_first=cfg["batch_first"]))
    q, k, v, am, kpm = mha_inputs(cfg, rng)
    kw = dict(need_weights=cfg["need_weights"], average_attn_weights=cfg["average"])
    y, w = ours(q, k, v, key_padding_mask=kpm, attn_mask=am, **kw)
    ty, tw, leaves = torch_mha(theirs, q, k, v, cfg["self_attention"], key_padding_mask=tensors(kpm)[0],
                               attn_mask=tensors(am)[0], **kw)
    assert_close(y, ty.detach().numpy(), "output")
    if cfg["need_weights"]:
        assert_close(w, tw.detach().numpy(), "attention weights")
    else:
        assert w is None and tw is None
    dy = objective_weights(rng, y)
    d_query, d_key, d_value = ours.backward(dy)
    ty.backward(torch.tensor(dy))
    if cfg["self_attention"]:
        assert_close(d_query + d_key + d_value, leaves[0].grad.numpy(), "d_x (self-attention)")
    else:
        for name, ours_d, leaf in zip(("d_query", "d_key", "d_value"), (d_query, d_key, d_value), leaves):
            assert_close(ours_d, leaf.grad.numpy(), name)
    named = dict(theirs.named_parameters())
    assert sorted(ours.grads) == sorted(named)
    for key, p in named.items():
        assert_close(ours.grads[key], p.grad.numpy(), f"grads[{key!r}]")


def test_enough_mha_configurations():
    assert len(MHA_CONFIGS) >= 10
    for key, values in [("self_attention", {True, False}), ("batch_first", {True, False}),
                        ("attn_mask", {"none", "bool", "float"}), ("key_padding", {"none", "bool", "float"}),
                        ("attn_mask_3d", {True, False}), ("need_weights", {True, False}), ("average", {True, False}),
                        ("unbatched", {True, False}), ("bias", {True, False})]:
        assert {c[key] for c in MHA_CONFIGS} == values, key


# --------------------------------------------------------------------------------------
# TransformerEncoderLayer: random configurations against torch
# --------------------------------------------------------------------------------------


def tel_config(seed):
    rng = np.random.default_rng(2000 + seed)
    H = int(rng.integers(1, 4))
    cfg = dict(seed=seed, d=H * int(rng.integers(1, 4)), H=H, ff=int(rng.integers(1, 9)), N=int(rng.integers(1, 4)),
               L=int(rng.integers(1, 6)), activation=("relu", "gelu")[seed % 2], norm_first=bool((seed // 2) % 2),
               batch_first=bool(rng.random() < 0.5), bias=seed % 5 != 3, unbatched=seed % 7 == 5,
               src_mask=("none", "bool", "float")[seed % 3], src_mask_3d=bool(rng.random() < 0.5),
               key_padding=("none", "bool", "float")[(seed // 3) % 3], mode=("train", "eval")[(seed // 4) % 2],
               eps=float(rng.choice([1e-5, 1e-3])))
    if cfg["unbatched"]:
        cfg["N"] = 1
    return cfg


TEL_CONFIGS = [tel_config(seed) for seed in range(24)]


def tel_pair(cfg, rng, dropout=0.0):
    kw = dict(layer_norm_eps=cfg["eps"], batch_first=cfg["batch_first"], norm_first=cfg["norm_first"], bias=cfg["bias"])
    ours = randomise(layers.TransformerEncoderLayer(cfg["d"], cfg["H"], cfg["ff"], dropout, cfg["activation"], **kw,
                                                    rng=rng), rng)
    theirs = to_torch(ours, torch.nn.TransformerEncoderLayer(cfg["d"], cfg["H"], cfg["ff"], dropout, cfg["activation"], **kw))
    return ours, theirs


def tel_inputs(cfg, rng):
    N, L, d, H = cfg["N"], cfg["L"], cfg["d"], cfg["H"]
    x = rng.standard_normal(seq_shape(N, L, d, cfg["batch_first"], cfg["unbatched"]))
    am = None
    if cfg["src_mask"] != "none":
        am = make_mask(rng, cfg["src_mask"], (N * H, L, L) if cfg["src_mask_3d"] else (L, L))
    kpm = None
    if cfg["key_padding"] != "none":
        kpm = make_mask(rng, cfg["key_padding"], (L,) if cfg["unbatched"] else (N, L))
        if am is not None:
            visible = (~np.isinf(am) if am.dtype != bool else ~am).reshape(-1, L, L).all(axis=(0, 1))
            kpm[..., np.flatnonzero(visible)[0]] = False if kpm.dtype == bool else 0.0
    return x, am, kpm


def tel_id(cfg):
    return ",".join(f"{k}={v}" for k, v in cfg.items() if k != "seed") + f",seed={cfg['seed']}"


@pytest.mark.torch_parity
@pytest.mark.parametrize("cfg", TEL_CONFIGS, ids=tel_id)
def test_tel_matches_torch(cfg):
    rng = np.random.default_rng(cfg["seed"])
    # in eval mode dropout is off in both: run with torch's default p = 0.1 there
    ours, theirs = tel_pair(cfg, rng, dropout=0.1 if cfg["mode"] == "eval" else 0.0)
    if cfg["mode"] == "eval":
        ours.eval()
        theirs.eval()
    x, am, kpm = tel_inputs(cfg, rng)
    y = ours(x, src_mask=am, src_key_padding_mask=kpm)
    tx = torch.tensor(x, requires_grad=True)  # parameters and input require grad: torch's math path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: mismatched mask types are deprecated
        ty = theirs(tx, src_mask=tensors(am)[0], src_key_padding_mask=tensors(kpm)[0])
    assert_close(y, ty.detach().numpy(), "output")
    dy = rng.standard_normal(y.shape)
    dx = ours.backward(dy)
    ty.backward(torch.tensor(dy))
    assert_close(dx, tx.grad.numpy(), "d_src")
    named = dict(theirs.named_parameters())
    assert list(ours.grads) == list(named)  # torch's names, in torch's order
    for key, p in named.items():
        assert_close(ours.grads[key], p.grad.numpy(), f"grads[{key!r}]")


def test_enough_tel_configurations():
    assert len(TEL_CONFIGS) >= 10
    for key, values in [("norm_first", {True, False}), ("batch_first", {True, False}), ("activation", {"relu", "gelu"}),
                        ("src_mask", {"none", "bool", "float"}), ("key_padding", {"none", "bool", "float"}),
                        ("src_mask_3d", {True, False}), ("mode", {"train", "eval"}), ("bias", {True, False}),
                        ("unbatched", {True, False})]:
        assert {c[key] for c in TEL_CONFIGS} == values, key


@pytest.mark.torch_parity
def test_tel_state_dict_names_and_init_shapes_are_torch():
    for bias in (True, False):
        ours = layers.TransformerEncoderLayer(8, 2, 16, bias=bias, rng=0)
        theirs = torch.nn.TransformerEncoderLayer(8, 2, 16, bias=bias)
        assert list(ours.params) == list(theirs.state_dict())
        for key, p in theirs.state_dict().items():
            assert ours.params[key].shape == tuple(p.shape) and ours.params[key].dtype == np.float32, key


# --------------------------------------------------------------------------------------
# initialisation as torch's
# --------------------------------------------------------------------------------------


def test_mha_initialisation_as_torch():
    E = 32
    ours = layers.MultiheadAttention(E, 4, rng=0)
    theirs = torch.nn.MultiheadAttention(E, 4)
    assert list(ours.params) == list(theirs.state_dict())
    for key, p in theirs.state_dict().items():
        a, t = ours.params[key], p.numpy()
        assert a.shape == t.shape and a.dtype == np.float32, key
        limit = float(np.abs(t).max())
        if limit == 0:  # the biases: zeros in both
            assert np.all(a == 0), key
            continue
        # the same uniform bound: Glorot for in_proj_weight, 1/sqrt(E) for out_proj.weight
        bound = np.sqrt(6 / (E + 3 * E)) if key == "in_proj_weight" else 1 / np.sqrt(E)
        assert limit <= bound and np.abs(a).max() <= bound * (1 + 1e-6), key
        assert np.abs(a).max() > 0.95 * bound and limit > 0.95 * bound, key
        assert abs(a.std() - bound / np.sqrt(3)) < 0.05 * bound, key  # uniform: std = bound / sqrt(3)


def test_rng_makes_init_and_dropout_reproducible():
    a, b = layers.MultiheadAttention(8, 2, dropout=0.5, rng=3), layers.MultiheadAttention(8, 2, dropout=0.5, rng=3)
    x = np.random.default_rng(0).standard_normal((4, 2, 8))
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])
    np.testing.assert_array_equal(a(x, x, x)[1], b(x, x, x)[1])
    c, d = layers.TransformerEncoderLayer(8, 2, 16, rng=4), layers.TransformerEncoderLayer(8, 2, 16, rng=4)
    np.testing.assert_array_equal(c(x), d(x))
    np.random.seed(5)
    state = np.random.get_state()[1].copy()
    layers.TransformerEncoderLayer(8, 2, 16)(x)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # never the global state


# --------------------------------------------------------------------------------------
# float64 finite-difference gradient checks
# --------------------------------------------------------------------------------------

MHA_GRAD_CASES = [
    dict(self_attention=False, attn_mask="bool", key_padding="none", batch_first=False, need_weights=True),
    dict(self_attention=False, attn_mask="float", key_padding="bool", batch_first=True, need_weights=True),
    dict(self_attention=True, attn_mask="bool", key_padding="float", batch_first=False, need_weights=False, attn_mask_3d=True),
    dict(self_attention=True, attn_mask="none", key_padding="none", batch_first=True, need_weights=True, dropout=0.3),
    dict(self_attention=False, attn_mask="float", key_padding="float", batch_first=False, need_weights=True, bias=False),
    # a fully masked query row with need_weights=False: weights 0, a defined gradient (zero through that row)
    dict(self_attention=False, attn_mask="full_row", key_padding="none", batch_first=True, need_weights=False),
]


@pytest.mark.gradcheck
@pytest.mark.parametrize("case", MHA_GRAD_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_mha_gradient_check(case):
    rng = np.random.default_rng(11)
    E, H, N, L, S = 6, 2, 2, 3, 3 if case["self_attention"] else 4
    if case["self_attention"]:
        S = L
    mha = randomise(layers.MultiheadAttention(E, H, dropout=case.get("dropout", 0.0), bias=case.get("bias", True),
                                              batch_first=case["batch_first"], rng=1), rng)
    shape = lambda T: seq_shape(N, T, E, case["batch_first"])
    q, k, v = rng.standard_normal(shape(L)), rng.standard_normal(shape(S)), rng.standard_normal(shape(S))
    am = None
    if case["attn_mask"] == "full_row":
        am = np.zeros((L, S), dtype=bool)
        am[1] = True
    elif case["attn_mask"] != "none":
        am = make_mask(rng, case["attn_mask"], (N * H, L, S) if case.get("attn_mask_3d") else (L, S))
    kpm = None
    if case["key_padding"] != "none":
        kpm = make_mask(rng, case["key_padding"], (N, S))
        if am is not None:
            visible = (~np.isinf(am) if am.dtype != bool else ~am).reshape(-1, L, S).all(axis=(0, 1))
            kpm[:, np.flatnonzero(visible)[0]] = False if kpm.dtype == bool else 0.0
    G = rng.standard_normal(shape(L))

    def run():
        mha.rng = np.random.default_rng(99)  # dropout: the same mask on every evaluation
        if case["self_attention"]:
            y, _ = mha(q, q, q, key_padding_mask=kpm, attn_mask=am, need_weights=case["need_weights"])
        else:
            y, _ = mha(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=case["need_weights"])
        return y

    def loss():
        return float(np.sum(run() * G))

    y = run()
    assert np.all(np.isfinite(y))
    d_query, d_key, d_value = mha.backward(G)
    if case.get("dropout"):
        assert np.any(mha._cache[7] == 0), "dropout should have zeroed some weights"
    if case["self_attention"]:
        assert_gradient(d_query + d_key + d_value, numeric_gradient(loss, q), "d_x")
    else:
        for name, d, x in (("d_query", d_query, q), ("d_key", d_key, k), ("d_value", d_value, v)):
            assert_gradient(d, numeric_gradient(loss, x), name)
    grads = {key: g.copy() for key, g in mha.grads.items()}
    assert sorted(grads) == sorted(mha.params)
    for key in mha.params:
        assert_gradient(grads[key], numeric_gradient(loss, mha.params[key]), f"grads[{key!r}]")


TEL_GRAD_CASES = [
    dict(norm_first=False, activation="relu", batch_first=False, src_mask="bool", key_padding="none"),
    dict(norm_first=True, activation="gelu", batch_first=True, src_mask="float", key_padding="bool"),
    dict(norm_first=False, activation="gelu", batch_first=True, src_mask="none", key_padding="float", dropout=0.2),
    dict(norm_first=True, activation="relu", batch_first=False, src_mask="bool", key_padding="bool", dropout=0.2),
    dict(norm_first=True, activation="gelu", batch_first=False, src_mask="none", key_padding="none", bias=False),
]


def set_rng(tel, seed):
    """One generator for every dropout of the layer, reset: the same masks on every evaluation."""
    rng = np.random.default_rng(seed)
    tel.self_attn.rng = tel.dropout.rng = tel.dropout1.rng = tel.dropout2.rng = rng


@pytest.mark.gradcheck
@pytest.mark.parametrize("case", TEL_GRAD_CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_tel_gradient_check(case):
    rng = np.random.default_rng(12)
    d, H, ff, N, L = 6, 2, 5, 2, 3
    tel = randomise(layers.TransformerEncoderLayer(d, H, ff, case.get("dropout", 0.0), case["activation"],
                                                   batch_first=case["batch_first"], norm_first=case["norm_first"],
                                                   bias=case.get("bias", True), rng=1), rng)
    x = rng.standard_normal(seq_shape(N, L, d, case["batch_first"]))
    am = None if case["src_mask"] == "none" else make_mask(rng, case["src_mask"], (L, L))
    kpm = None
    if case["key_padding"] != "none":
        kpm = make_mask(rng, case["key_padding"], (N, L))
        if am is not None:
            visible = (~np.isinf(am) if am.dtype != bool else ~am).all(axis=0)
            kpm[:, np.flatnonzero(visible)[0]] = False if kpm.dtype == bool else 0.0
    G = rng.standard_normal(x.shape)

    def loss():
        set_rng(tel, 5)
        return float(np.sum(tel(x, src_mask=am, src_key_padding_mask=kpm) * G))

    loss()
    dx = tel.backward(G)
    if case.get("dropout"):
        assert np.any(tel.dropout._mask == 0) or np.any(tel.dropout1._mask == 0), "dropout should act"
    assert_gradient(dx, numeric_gradient(loss, x), "d_src")
    grads = {key: g.copy() for key, g in tel.grads.items()}
    assert list(grads) == list(tel.params)
    for key in list(tel.params):
        assert_gradient(grads[key], numeric_gradient(loss, tel.params[key]), f"grads[{key!r}]")


# --------------------------------------------------------------------------------------
# fully masked rows: what torch's math path gives
# --------------------------------------------------------------------------------------


@pytest.mark.torch_parity
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("which", ["attn_mask", "key_padding_mask", "float_attn_mask"])
def test_mha_fully_masked_rows_as_torch(need_weights, which):
    """need_weights=True: nan weights and nan output for that query (0/0), and nan gradients, as
    torch; need_weights=False: weights 0, output out_proj.bias, finite gradients, as torch's
    scaled_dot_product_attention. Other rows are untouched in the forward pass."""
    rng = np.random.default_rng(21)
    E, H, N, L, S = 6, 3, 2, 3, 4
    ours = randomise(layers.MultiheadAttention(E, H, batch_first=True, rng=0), rng)
    theirs = to_torch(ours, torch.nn.MultiheadAttention(E, H, batch_first=True))
    q, k, v = (rng.standard_normal((N, T, E)) for T in (L, S, S))
    kw = {}
    if which == "attn_mask":
        am = np.zeros((L, S), dtype=bool)
        am[1] = True  # query 1 sees no key
        kw["attn_mask"] = am
    elif which == "float_attn_mask":
        am = rng.standard_normal((N * H, L, S))
        am[4, 2] = -np.inf  # batch 1, head 1, query 2 sees no key
        kw["attn_mask"] = am
    else:
        kpm = np.zeros((N, S), dtype=bool)
        kpm[1] = True  # batch 1 has no key at all
        kw["key_padding_mask"] = kpm
    y, w = ours(q, k, v, need_weights=need_weights, average_attn_weights=False, **kw)
    ty, tw, leaves = torch_mha(theirs, q, k, v, False, need_weights=need_weights, average_attn_weights=False,
                               **{key: torch.tensor(val) for key, val in kw.items()})
    assert_close(y, ty.detach().numpy(), "output")
    assert np.isnan(y).any() == need_weights  # nan appears exactly when torch gives nan
    if need_weights:
        assert_close(w, tw.detach().numpy(), "weights")
    dy = rng.standard_normal(y.shape)
    ds = ours.backward(dy)
    ty.backward(torch.tensor(dy))
    for name, d, leaf in zip(("d_query", "d_key", "d_value"), ds, leaves):
        assert_close(d, leaf.grad.numpy(), name)
    for key, p in theirs.named_parameters():
        assert_close(ours.grads[key], p.grad.numpy(), f"grads[{key!r}]")
    if not need_weights:
        assert all(np.all(np.isfinite(d)) for d in ds)


@pytest.mark.torch_parity
@pytest.mark.parametrize("norm_first", [False, True])
def test_tel_fully_padded_sequence_as_torch(norm_first):
    """A batch element whose every position is padding: torch's layer (need_weights=False inside)
    gives finite numbers, and so do we."""
    cfg = dict(d=6, H=2, ff=7, eps=1e-5, batch_first=True, norm_first=norm_first, bias=True, activation="gelu")
    rng = np.random.default_rng(22)
    ours, theirs = tel_pair(cfg, rng)
    x = rng.standard_normal((2, 4, 6))
    kpm = np.array([[False, False, True, True], [True, True, True, True]])
    y = ours(x, src_key_padding_mask=kpm)
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx, src_key_padding_mask=torch.tensor(kpm))
    assert np.all(np.isfinite(y))
    assert_close(y, ty.detach().numpy(), "output")
    dy = rng.standard_normal(y.shape)
    dx = ours.backward(dy)
    ty.backward(torch.tensor(dy))
    assert_close(dx, tx.grad.numpy(), "d_src")
    for key, p in theirs.named_parameters():
        assert_close(ours.grads[key], p.grad.numpy(), f"grads[{key!r}]")


def test_partly_masked_rows_never_nan_with_minus_inf_and_huge_scores():
    """-inf masks with scores of 1e4: every row that keeps a key has finite weights summing to 1."""
    E = 4
    mha = layers.MultiheadAttention(E, 1, batch_first=True, rng=0)
    mha.params["in_proj_weight"] = np.concatenate([np.eye(E)] * 3).astype(np.float32)
    x = (100 * np.random.default_rng(0).standard_normal((2, 5, E))).astype(np.float32)  # q.k ~ 1e4
    mask = np.triu(np.ones((5, 5), dtype=bool), k=1)
    y, w = mha(x, x, x, attn_mask=mask)
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(w))
    np.testing.assert_allclose(w.sum(axis=-1), 1, rtol=1e-6)
    assert np.all(w[:, mask] == 0)


# --------------------------------------------------------------------------------------
# dtype and stability
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mha_dtype(dtype):
    rng = np.random.default_rng(0)
    mha = layers.MultiheadAttention(8, 2, dropout=0.2, rng=0)
    q, k = rng.standard_normal((3, 2, 8)).astype(dtype), rng.standard_normal((4, 2, 8)).astype(dtype)
    mask = rng.standard_normal((3, 4))  # a float64 mask: cast to the input's dtype
    y, w = mha(q, k, k, attn_mask=mask, key_padding_mask=np.array([[False] * 4, [False, True, False, True]]))
    assert y.dtype == dtype and w.dtype == dtype
    ds = mha.backward(np.ones_like(y))
    assert all(d.dtype == dtype for d in ds)
    assert all(g.dtype == dtype for g in mha.grads.values())
    assert all(p.dtype == np.float32 for p in mha.params.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_tel_dtype(dtype, activation):
    x = np.random.default_rng(0).standard_normal((5, 2, 8)).astype(dtype)
    tel = layers.TransformerEncoderLayer(8, 2, 16, activation=activation, rng=0)
    y = tel(x, src_mask=np.triu(np.ones((5, 5), dtype=bool), 1))
    assert y.dtype == dtype
    assert tel.backward(np.ones_like(y)).dtype == dtype
    assert all(g.dtype == dtype for g in tel.grads.values())
    assert all(p.dtype == np.float32 for p in tel.params.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mha_stable_at_logits_1e4(dtype):
    """Scores of order 1e4 (softmax saturates): finite output, no numpy warning (an error here),
    and the float32 result agrees with float64."""
    E = 8
    rng = np.random.default_rng(1)
    mha = layers.MultiheadAttention(E, 2, rng=0)
    mha.params["in_proj_weight"] = np.concatenate([np.eye(E)] * 3).astype(np.float32)
    x = 70 * rng.standard_normal((6, 2, E))  # per head q.k / sqrt(4) ~ 1e4
    scores = np.einsum("lnd,snd->nls", x[..., :4], x[..., :4]) / 2
    assert np.abs(scores).max() > 1e4
    y, w = mha(x.astype(dtype), x.astype(dtype), x.astype(dtype), attn_mask=np.triu(np.ones((6, 6), bool), 1))
    ds = mha.backward(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(w)) and all(np.all(np.isfinite(d)) for d in ds)
    ref = layers.MultiheadAttention(E, 2, rng=0)
    ref.params = {key: val.astype(np.float64) for key, val in mha.params.items()}
    y64, w64 = ref(x, x, x, attn_mask=np.triu(np.ones((6, 6), bool), 1))
    np.testing.assert_allclose(y, y64, rtol=1e-3, atol=1e-3 * np.abs(y64).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_first", [False, True])
def test_tel_stable_at_1e4(dtype, norm_first):
    x = (1e4 * np.random.default_rng(2).standard_normal((4, 2, 8))).astype(dtype)
    tel = layers.TransformerEncoderLayer(8, 2, 16, norm_first=norm_first, rng=0)
    y = tel(x, src_key_padding_mask=np.array([[False, False, True, True], [False] * 4]))
    dx = tel.backward(np.ones_like(y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
    assert all(np.all(np.isfinite(g)) for g in tel.grads.values())


# --------------------------------------------------------------------------------------
# bad input: a clear error naming the class, the expected and the received shape or dtype
# --------------------------------------------------------------------------------------


def _mha(**kw):
    return layers.MultiheadAttention(8, 2, rng=0, **kw)


X = np.zeros((3, 2, 8))  # (L, N, E)
KV = np.zeros((4, 2, 8))  # (S, N, E)

MHA_BAD = [
    ("embed_dim % num_heads", lambda: layers.MultiheadAttention(10, 3), ValueError, ["MultiheadAttention", "10", "3"]),
    ("dropout > 1", lambda: layers.MultiheadAttention(8, 2, dropout=1.5), ValueError, ["MultiheadAttention", "1.5"]),
    ("query features", lambda: _mha()(np.zeros((3, 2, 7)), KV, KV), ValueError, ["MultiheadAttention", "(L, N, E)", "8", "(3, 2, 7)"]),
    ("key features", lambda: _mha()(X, np.zeros((4, 2, 6)), KV), ValueError, ["MultiheadAttention", "key", "(4, 2, 6)"]),
    ("value shape", lambda: _mha()(X, KV, np.zeros((5, 2, 8))), ValueError, ["MultiheadAttention", "(4, 2, 8)", "(5, 2, 8)"]),
    ("batch sizes", lambda: _mha()(X, np.zeros((4, 3, 8)), np.zeros((4, 3, 8))), ValueError, ["MultiheadAttention", "(3, 2, 8)", "(4, 3, 8)"]),
    ("4-d query", lambda: _mha()(np.zeros((1, 3, 2, 8)), KV, KV), ValueError, ["MultiheadAttention", "(1, 3, 2, 8)"]),
    ("key ndim", lambda: _mha()(X, np.zeros((4, 8)), np.zeros((4, 8))), ValueError, ["MultiheadAttention", "(4, 8)"]),
    ("attn_mask shape", lambda: _mha()(X, KV, KV, attn_mask=np.zeros((4, 3), bool)), ValueError,
     ["MultiheadAttention", "attn_mask", "(3, 4)", "(4, 3, 4)", "(4, 3)"]),
    ("attn_mask 3-d", lambda: _mha()(X, KV, KV, attn_mask=np.zeros((2, 3, 4), bool)), ValueError,
     ["MultiheadAttention", "attn_mask", "(N*num_heads, L, S)", "(2, 3, 4)"]),
    ("key_padding_mask shape", lambda: _mha()(X, KV, KV, key_padding_mask=np.zeros((4, 2), bool)), ValueError,
     ["MultiheadAttention", "key_padding_mask", "(2, 4)", "(4, 2)"]),
    ("integer mask", lambda: _mha()(X, KV, KV, attn_mask=np.zeros((3, 4), int)), TypeError, ["MultiheadAttention", "attn_mask", "int"]),
    ("integer query", lambda: _mha()(np.zeros((3, 2, 8), int), KV, KV), TypeError, ["MultiheadAttention", "query", "int"]),
    ("mixed dtypes", lambda: _mha()(X, KV.astype(np.float32), KV), TypeError, ["MultiheadAttention", "float64", "float32"]),
    ("backward first", lambda: _mha().backward(X), RuntimeError, ["MultiheadAttention", "backward", "forward"]),
]


def _tel(**kw):
    return layers.TransformerEncoderLayer(8, 2, 16, rng=0, **kw)


def _tel_wrong_dy():
    tel = _tel()
    tel(X)
    tel.backward(np.zeros((3, 2, 7)))


def _mha_wrong_dy():
    mha = _mha()
    mha(X, KV, KV)
    mha.backward(np.zeros((4, 2, 8)))


TEL_BAD = [
    ("d_model % nhead", lambda: layers.TransformerEncoderLayer(10, 3), ValueError, ["TransformerEncoderLayer", "10", "3"]),
    ("activation", lambda: layers.TransformerEncoderLayer(8, 2, activation="tanh"), ValueError,
     ["TransformerEncoderLayer", "tanh"]),
    ("src features", lambda: _tel()(np.zeros((3, 2, 7))), ValueError, ["TransformerEncoderLayer", "(L, N, d_model)", "(3, 2, 7)"]),
    ("src batch_first", lambda: _tel(batch_first=True)(np.zeros((3, 2))), ValueError, ["TransformerEncoderLayer", "(L, d_model)", "(3, 2)"]),
    ("src_mask shape", lambda: _tel()(X, src_mask=np.zeros((3, 4), bool)), ValueError,
     ["TransformerEncoderLayer", "src_mask", "(3, 3)", "(4, 3, 3)", "(3, 4)"]),
    ("key padding shape", lambda: _tel()(X, src_key_padding_mask=np.zeros((3, 2), bool)), ValueError,
     ["TransformerEncoderLayer", "src_key_padding_mask", "(2, 3)", "(3, 2)"]),
    ("integer src", lambda: _tel()(np.zeros((3, 2, 8), int)), TypeError, ["TransformerEncoderLayer", "int"]),
    ("integer src_mask", lambda: _tel()(X, src_mask=np.zeros((3, 3), int)), TypeError, ["TransformerEncoderLayer", "src_mask", "int"]),
    ("integer padding mask", lambda: _tel()(X, src_key_padding_mask=np.zeros((2, 3), int)), TypeError,
     ["TransformerEncoderLayer", "src_key_padding_mask", "int"]),
    ("unbatched padding mask", lambda: _tel()(X[:, 0], src_key_padding_mask=np.zeros((2, 3), bool)), ValueError,
     ["TransformerEncoderLayer", "(L,) = (3,)", "(2, 3)"]),
    ("backward first", lambda: _tel().backward(X), RuntimeError, ["TransformerEncoderLayer", "backward", "forward"]),
    ("wrong d_out", _tel_wrong_dy, ValueError, ["TransformerEncoderLayer", "(3, 2, 8)", "(3, 2, 7)"]),
    ("wrong d_output", _mha_wrong_dy, ValueError, ["MultiheadAttention", "(3, 2, 8)", "(4, 2, 8)"]),
]


@pytest.mark.parametrize("what, call, exc, tokens", MHA_BAD + TEL_BAD, ids=[c[0] for c in MHA_BAD + TEL_BAD])
def test_bad_input_is_a_clear_error(what, call, exc, tokens):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    for token in tokens:
        assert token in message, f"{what}: {token!r} not in {message!r}"


# --------------------------------------------------------------------------------------
# unbatched input, weights, modes, params assignment
# --------------------------------------------------------------------------------------


def test_unbatched_equals_batch_of_one():
    rng = np.random.default_rng(3)
    mha = randomise(layers.MultiheadAttention(6, 3, rng=0), rng)
    q, k = rng.standard_normal((4, 6)), rng.standard_normal((5, 6))
    am, kpm = make_mask(rng, "bool", (4, 5)), make_mask(rng, "float", (5,))
    y, w = mha(q, k, k, key_padding_mask=kpm, attn_mask=am, average_attn_weights=False)
    ds = mha.backward(np.ones_like(y))
    y1, w1 = mha(q[:, None], k[:, None], k[:, None], key_padding_mask=kpm[None], attn_mask=am, average_attn_weights=False)
    ds1 = mha.backward(np.ones_like(y1))
    assert y.shape == (4, 6) and w.shape == (3, 4, 5)
    np.testing.assert_array_equal(y, y1[:, 0])
    np.testing.assert_array_equal(w, w1[0])
    for d, d1 in zip(ds, ds1):
        np.testing.assert_array_equal(d, d1[:, 0])


def test_weights_rows_sum_to_one_and_average_is_the_mean_over_heads():
    rng = np.random.default_rng(4)
    mha = layers.MultiheadAttention(8, 4, batch_first=True, rng=0)
    x = rng.standard_normal((2, 5, 8))
    kpm = np.array([[False] * 5, [False, False, False, True, True]])
    _, w = mha(x, x, x, key_padding_mask=kpm, average_attn_weights=False)
    _, w_mean = mha(x, x, x, key_padding_mask=kpm)
    assert w.shape == (2, 4, 5, 5) and w_mean.shape == (2, 5, 5)
    np.testing.assert_allclose(w.sum(axis=-1), 1)
    np.testing.assert_allclose(w_mean, w.mean(axis=1))
    assert np.all(w[1, :, :, 3:] == 0)
    assert mha(x, x, x, need_weights=False)[1] is None


def test_dropout_only_in_training_and_scaled():
    rng = np.random.default_rng(5)
    mha = layers.MultiheadAttention(8, 2, dropout=0.5, batch_first=True, rng=0)
    x = rng.standard_normal((4, 6, 8))
    _, w_train = mha(x, x, x, average_attn_weights=False)
    mha.eval()
    _, w_eval = mha(x, x, x, average_attn_weights=False)
    kept = w_train != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(w_train[kept], 2 * w_eval[kept])  # survivors scaled by 1/(1-p)
    tel = layers.TransformerEncoderLayer(8, 2, 16, dropout=0.5, batch_first=True, rng=0)
    tel.eval()
    assert all(not layer.training for layer in tel._sublayers().values())
    np.testing.assert_array_equal(tel(x), tel(x))  # no dropout in eval
    tel.train()
    assert tel.training and all(layer.training for layer in tel._sublayers().values())
    assert not np.array_equal(tel(x), tel(x))


def test_assigned_params_take_effect_and_grads_are_overwritten():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 2, 8))
    tel = layers.TransformerEncoderLayer(8, 2, 16, dropout=0.0, rng=0)
    for key in ["self_attn.in_proj_weight", "self_attn.out_proj.bias", "linear1.weight", "linear2.bias", "norm1.weight",
                "norm2.bias"]:
        before = tel(x)
        new = tel.params[key] + rng.standard_normal(tel.params[key].shape)  # a new array, not in place
        tel.params[key] = new
        assert tel.params[key] is new
        assert not np.allclose(before, tel(x)), key
    mha = layers.MultiheadAttention(8, 2, rng=0)
    before = mha(x, x, x)[0]
    mha.params["out_proj.weight"] = mha.params["out_proj.weight"] * 2
    assert not np.allclose(before, mha(x, x, x)[0])
    # the same forward and backward twice: the same gradients, not accumulated
    y = tel(x)
    tel.backward(np.ones_like(y))
    first = {key: g.copy() for key, g in tel.grads.items()}
    tel(x)
    tel.backward(np.ones_like(y))
    for key, g in tel.grads.items():
        np.testing.assert_array_equal(g, first[key], err_msg=key)


# --------------------------------------------------------------------------------------
# TransformerEncoderLayer in Sequential and Residual
# --------------------------------------------------------------------------------------


@pytest.mark.torch_parity
def test_stack_in_sequential_matches_torch():
    """Sequential(TEL, TEL): our names are torch's nn.Sequential state_dict names ("0.self_attn...")."""
    rng = np.random.default_rng(7)
    ours = layers.Sequential(layers.TransformerEncoderLayer(6, 2, 5, 0.0, "gelu", batch_first=True, rng=1),
                             layers.TransformerEncoderLayer(6, 3, 4, 0.0, "relu", batch_first=True, norm_first=True, rng=2))
    randomise(ours, rng)
    theirs = torch.nn.Sequential(torch.nn.TransformerEncoderLayer(6, 2, 5, 0.0, "gelu", batch_first=True),
                                 torch.nn.TransformerEncoderLayer(6, 3, 4, 0.0, "relu", batch_first=True, norm_first=True))
    theirs = to_torch(ours, theirs)
    assert list(ours.params) == list(theirs.state_dict())
    x = rng.standard_normal((2, 4, 6))
    y = ours(x)
    tx = torch.tensor(x, requires_grad=True)
    ty = theirs(tx)
    assert_close(y, ty.detach().numpy(), "output")
    dy = rng.standard_normal(y.shape)
    dx = ours.backward(dy)
    ty.backward(torch.tensor(dy))
    assert_close(dx, tx.grad.numpy(), "dx")
    for key, p in theirs.named_parameters():
        assert_close(ours.grads[key], p.grad.numpy(), f"grads[{key!r}]")


def test_in_residual_and_sequential_summary(capsys):
    rng = np.random.default_rng(8)
    tel = layers.TransformerEncoderLayer(6, 2, 5, 0.0, rng=1)
    block = layers.Residual(tel)
    x = rng.standard_normal((4, 2, 6))
    y = block(x)
    np.testing.assert_array_equal(y, x + tel(x))
    dy = rng.standard_normal(y.shape)
    dx = block.backward(dy)
    tel(x)
    np.testing.assert_array_equal(dx, dy + tel.backward(dy))
    assert "0.self_attn.in_proj_weight" in block.params
    block.params["0.linear1.bias"] = block.params["0.linear1.bias"] + 1  # assigned through two levels of names
    assert not np.allclose(block(x), y)
    model = layers.Sequential(tel, layers.Linear(6, 3, rng=0))
    model.summary((4, 2, 6))
    out = capsys.readouterr().out
    assert "TransformerEncoderLayer" in out and str(sum(p.size for p in tel.params.values())) in out.replace(",", "")
    model.eval()
    assert not tel.training and not tel.self_attn.training


@pytest.mark.parametrize("batch_first", [False, True])
def test_d_output_with_an_extra_axis_is_a_clear_error(batch_first):
    """An extra leading axis of size 1 must not broadcast (or reach a transpose) silently."""
    for layer in (layers.MultiheadAttention(8, 2, batch_first=batch_first, rng=0),
                  layers.TransformerEncoderLayer(8, 2, 16, batch_first=batch_first, rng=0)):
        y = layer(X, X, X)[0] if isinstance(layer, layers.MultiheadAttention) else layer(X)
        name = type(layer).__name__
        with pytest.raises(ValueError, match=rf"^{name}\b.*\(1, 3, 2, 8\)"):
            layer.backward(np.ones((1,) + y.shape))
    mha = layers.MultiheadAttention(8, 2, rng=0)
    y, _ = mha(X[:, 0], X[:, 0], X[:, 0])  # unbatched
    with pytest.raises(ValueError, match=r"^MultiheadAttention\b.*\(3, 8\).*\(1, 3, 8\)"):
        mha.backward(np.ones((1, 3, 8)))
