"""Stacked and bidirectional recurrent layers (RNN, LSTM, GRU with `num_layers`, `bidirectional`
and inter-layer `dropout`): float64 finite-difference gradient checks, float64 parity with
torch.nn on random configurations, dropout in training, bad input and dtypes."""

import warnings

import numpy as np
import pytest
import torch

import helpers as h
import layers

NAMES = ("RNN", "LSTM", "GRU")
N_RANDOM = 10  # random configurations per class and per new argument


# --------------------------------------------------------------------------------------
# configurations, our layer with float64 parameters, its torch twin, one run
# --------------------------------------------------------------------------------------


def random_config(name, argument, seed):
    """A random configuration in which `argument` ('num_layers', 'bidirectional' or 'dropout')
    takes a value other than its default; everything else is drawn at random too."""
    rng = np.random.default_rng([seed, sum(map(ord, name + argument))])
    kw = {"num_layers": int(rng.integers(1, 4)), "bidirectional": bool(rng.random() < 0.5)}
    if argument == "num_layers":
        kw["num_layers"] = int(rng.integers(2, 4))
    if argument == "bidirectional":
        kw["bidirectional"] = True
    if argument == "dropout":  # compared with torch in eval mode, where dropout does nothing
        kw["dropout"], kw["num_layers"] = float(rng.uniform(0.1, 0.9)), int(rng.integers(2, 4))
    if rng.random() < 0.3:
        kw["bias"] = False
    if name == "RNN" and rng.random() < 0.5:
        kw["nonlinearity"] = "relu"
    N = None if rng.random() < 0.2 else int(rng.integers(1, 4))
    if N is not None and rng.random() < 0.5:
        kw["batch_first"] = True
    return dict(name=name, kw=kw, I=int(rng.integers(1, 5)), H=int(rng.integers(1, 5)), T=int(rng.integers(1, 5)),
                N=N, hx=bool(rng.random() < 0.5), dh_n=bool(rng.random() < 0.5),
                mode="eval" if argument == "dropout" else "train")


def config_id(c):
    kw = ",".join(f"{k}={v}" for k, v in c["kw"].items())
    return f"{c['name']}({c['I']},{c['H']},{kw})-T{c['T']}N{c['N']}" + "-hx" * c["hx"] + "-dh_n" * c["dh_n"] + \
        f"-{c['mode']}"


def state_rows(c):
    return c["kw"].get("num_layers", 1) * (2 if c["kw"].get("bidirectional") else 1)


def build(c, rng, seed=0):
    """Our layer with float64 parameters (initial values plus noise)."""
    layer = getattr(layers, c["name"])(c["I"], c["H"], **c["kw"], rng=seed)
    for key, value in layer.params.items():
        layer.params[key] = value.astype(np.float64) + 0.1 * rng.standard_normal(value.shape)
    return layer.train(c["mode"] == "train")


def twin(c, ours):
    with warnings.catch_warnings():  # torch warns about dropout with num_layers=1
        warnings.simplefilter("ignore", UserWarning)
        theirs = getattr(torch.nn, c["name"])(c["I"], c["H"], **c["kw"]).double()
    named = dict(theirs.named_parameters())
    assert sorted(named) == sorted(ours.params), "parameter names differ from torch's"
    with torch.no_grad():
        for key, p in named.items():
            assert tuple(p.shape) == ours.params[key].shape, f"{key}: shape differs from torch's"
            p.copy_(torch.from_numpy(ours.params[key]))
    return theirs.train(c["mode"] == "train")


def make_inputs(c, rng):
    T, N, I, H = c["T"], c["N"], c["I"], c["H"]
    if N is None:
        x_shape, h_shape = (T, I), (state_rows(c), H)
    else:
        x_shape = (N, T, I) if c["kw"].get("batch_first") else (T, N, I)
        h_shape = (state_rows(c), N, H)
    inp = {"x": rng.standard_normal(x_shape)}
    inp["h0"] = 0.5 * rng.standard_normal(h_shape) if c["hx"] else np.zeros(h_shape)
    if c["name"] == "LSTM":
        inp["c0"] = 0.5 * rng.standard_normal(h_shape) if c["hx"] else np.zeros(h_shape)
    return inp


def forward(layer, c, inp):
    """[output, h_n(, c_n)] of our layer; hx is passed only when the configuration gives it."""
    if c["name"] == "LSTM":
        out, (h_n, c_n) = layer(inp["x"], (inp["h0"], inp["c0"]) if c["hx"] else None)
        return [out, h_n, c_n]
    out, h_n = layer(inp["x"], inp["h0"] if c["hx"] else None)
    return [out, h_n]


def projections(c, outputs, rng):
    gs = [rng.standard_normal(y.shape) for y in outputs]
    return gs if c["dh_n"] else [gs[0]] + [np.zeros_like(g) for g in gs[1:]]


def backward(layer, c, gs):
    """{'x': dx, 'h0': dh0(, 'c0': dc0)}; dh_n (and dc_n) are passed only with c['dh_n']."""
    dx = layer.backward(gs[0], *(gs[1:] if c["dh_n"] else []))
    out = {"x": dx, "h0": layer.dh0}
    if c["name"] == "LSTM":
        out["c0"] = layer.dc0
    return out


def check_against_torch(c, seed=0):
    rng = np.random.default_rng(seed)
    ours = build(c, rng)
    theirs = twin(c, ours)
    inp = make_inputs(c, rng)
    tin = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in inp.items()}
    outputs = forward(ours, c, inp)
    if c["name"] == "LSTM":
        t_out, (t_h, t_c) = theirs(tin["x"], (tin["h0"], tin["c0"]))
        t_outputs = [t_out, t_h, t_c]
    else:
        t_outputs = list(theirs(tin["x"], tin["h0"]))
    for what, y, t in zip(("output", "h_n", "c_n"), outputs, t_outputs):
        assert y.dtype == np.float64
        h.assert_close(y, t.detach().numpy(), what)
    gs = projections(c, outputs, rng)
    grads = backward(ours, c, gs)
    sum((t * torch.from_numpy(g)).sum() for t, g in zip(t_outputs, gs)).backward()
    for key, d in grads.items():
        h.assert_close(d, tin[key].grad.numpy(), f"d{key}")
    named = dict(theirs.named_parameters())
    assert sorted(ours.grads) == sorted(named)
    for key, p in named.items():
        h.assert_close(ours.grads[key], p.grad.numpy(), f"grad of {key}")


# --------------------------------------------------------------------------------------
# torch parity
# --------------------------------------------------------------------------------------

CONFIGS = [random_config(name, argument, seed) for name in NAMES
           for argument in ("num_layers", "bidirectional", "dropout") for seed in range(N_RANDOM)]


@pytest.mark.torch_parity
@pytest.mark.parametrize("c", CONFIGS, ids=config_id)
def test_matches_torch(c):
    check_against_torch(c)


def test_the_random_configurations_cover_every_argument():
    for name in NAMES:
        mine = [c for c in CONFIGS if c["name"] == name]
        assert sum(c["kw"]["num_layers"] > 1 for c in mine) >= N_RANDOM
        assert sum(c["kw"]["bidirectional"] for c in mine) >= N_RANDOM
        assert sum("dropout" in c["kw"] for c in mine) >= N_RANDOM
        for flag in ("hx", "dh_n"):
            assert 0 < sum(c[flag] for c in mine) < len(mine), flag
        assert any(c["kw"].get("batch_first") for c in mine) and any(c["N"] is None for c in mine)
        assert any(c["kw"].get("bias") is False for c in mine)
        assert {c["kw"]["num_layers"] for c in mine} == {1, 2, 3}


def fixed(name, **kw):
    base = dict(name=name, kw={"num_layers": 2, "bidirectional": True}, I=3, H=2, T=4, N=2, hx=True, dh_n=True,
                mode="train")
    base.update(kw)
    return base


@pytest.mark.torch_parity
@pytest.mark.parametrize("name", NAMES)
def test_dropout_one_in_training_matches_torch(name):
    """With p = 1 torch zeroes the input of every layer above the first: deterministic."""
    check_against_torch(fixed(name, kw={"num_layers": 3, "bidirectional": True, "dropout": 1.0}))


@pytest.mark.torch_parity
@pytest.mark.parametrize("name", NAMES)
def test_unbatched_stacked_bidirectional_matches_torch(name):
    check_against_torch(fixed(name, N=None, kw={"num_layers": 2, "bidirectional": True, "batch_first": True}))


# --------------------------------------------------------------------------------------
# float64 gradient checks
# --------------------------------------------------------------------------------------

GRAD_CONFIGS = [fixed(name, kw=kw, hx=hx, dh_n=dh_n, N=N)
                for name in NAMES
                for kw, hx, dh_n, N in [({"num_layers": 2}, True, True, 2),
                                        ({"bidirectional": True}, False, True, 2),
                                        ({"num_layers": 2, "bidirectional": True}, True, True, 2),
                                        ({"num_layers": 3, "bidirectional": True, "batch_first": True}, True, False, 2),
                                        ({"num_layers": 2, "bidirectional": True, "bias": False}, True, True, None)]]


@pytest.mark.gradcheck
@pytest.mark.parametrize("c", GRAD_CONFIGS, ids=config_id)
def test_gradients_match_finite_differences(c):
    rng = np.random.default_rng(5)
    layer = build(c, rng)
    inp = make_inputs(c, rng)
    outputs = forward(layer, c, inp)
    gs = projections(c, outputs, rng)
    analytic = backward(layer, c, gs)
    grads = {k: v.copy() for k, v in layer.grads.items()}
    assert sorted(grads) == sorted(layer.params)

    def J():
        return h.objective(forward(layer, c, inp), gs)

    pairs = [(f"d/d{key}", analytic[key], h.numeric_gradient(J, inp[key])) for key in analytic if c["hx"] or key == "x"]
    pairs += [(f"d/d{key}", grads[key], h.numeric_gradient(J, layer.params[key])) for key in layer.params]
    scale = max(float(np.max(np.abs(a))) for _, a, _ in pairs)
    for what, a, n in pairs:
        h.assert_gradient(a, n, what, scale=scale)
    if not c["hx"]:  # hx=None means zeros: dh0 still has the state's shape
        assert analytic["h0"].shape == inp["h0"].shape


@pytest.mark.gradcheck
@pytest.mark.parametrize("name", NAMES)
def test_gradients_with_dropout_in_training(name):
    """The same seed gives the same masks, so a fresh layer per evaluation is a fixed function."""
    c = fixed(name, kw={"num_layers": 3, "bidirectional": True, "dropout": 0.4}, T=3)
    rng = np.random.default_rng(6)
    params = build(c, rng).params
    inp = make_inputs(c, rng)

    def fresh():
        layer = getattr(layers, name)(c["I"], c["H"], **c["kw"], rng=11)
        layer.params = params  # the same (perturbed) arrays
        return layer

    layer = fresh()
    outputs = forward(layer, c, inp)
    gs = projections(c, outputs, rng)
    analytic = backward(layer, c, gs)
    grads = {k: v.copy() for k, v in layer.grads.items()}

    def J():
        return h.objective(forward(fresh(), c, inp), gs)

    pairs = [(f"d/d{key}", analytic[key], h.numeric_gradient(J, inp[key])) for key in analytic]
    pairs += [(f"d/d{key}", grads[key], h.numeric_gradient(J, params[key])) for key in ("weight_ih_l1", "weight_hh_l2_reverse", "bias_ih_l2")]
    scale = max(float(np.max(np.abs(a))) for _, a, _ in pairs)
    for what, a, n in pairs:
        h.assert_gradient(a, n, what, scale=scale)


# --------------------------------------------------------------------------------------
# dropout in training: our masks
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_dropout_masks_between_layers_only(name):
    p = 0.3
    layer = getattr(layers, name)(4, 50, num_layers=3, bidirectional=True, dropout=p, rng=0)
    x = np.random.default_rng(1).standard_normal((20, 10, 4))
    out_train = forward(layer, fixed(name, hx=False), {"x": x})[0]
    masks = {k: v for k, v in layer._cache.items() if k.startswith("mask")}
    assert sorted(masks) == ["mask_l1", "mask_l2"], "a mask before every layer but the first, none on the output"
    for mask in masks.values():
        assert mask.shape == (20, 10, 100)  # the layer's input: both directions' features
        assert abs(np.mean(mask == 0) - p) < 0.02  # each element dropped with probability p
        assert set(np.unique(mask)) == {0.0, 1 / (1 - p)}  # survivors scaled by 1 / (1 - p)
    # the same seed gives the same masks; eval ignores them and equals a layer without dropout
    again = getattr(layers, name)(4, 50, num_layers=3, bidirectional=True, dropout=p, rng=0)
    np.testing.assert_array_equal(forward(again, fixed(name, hx=False), {"x": x})[0], out_train)
    plain = getattr(layers, name)(4, 50, num_layers=3, bidirectional=True, rng=0)
    out_eval = forward(layer.eval(), fixed(name, hx=False), {"x": x})[0]
    assert not any(k.startswith("mask") for k in layer._cache)
    np.testing.assert_array_equal(out_eval, forward(plain, fixed(name, hx=False), {"x": x})[0])
    assert not np.allclose(out_eval, out_train)


@pytest.mark.parametrize("name", NAMES)
def test_dropout_with_one_layer_does_nothing(name):
    """torch applies dropout between layers only: one layer has none (torch warns; we agree)."""
    x = np.random.default_rng(2).standard_normal((5, 3, 2))
    a = getattr(layers, name)(2, 3, dropout=0.5, rng=0)
    b = getattr(layers, name)(2, 3, rng=0)
    np.testing.assert_array_equal(a(x)[0], b(x)[0])


# --------------------------------------------------------------------------------------
# bad input and dtypes
# --------------------------------------------------------------------------------------


def _layer(name, **kw):
    return getattr(layers, name)(3, 4, num_layers=2, bidirectional=True, **kw, rng=0)


def _hx(name, *shape):
    return (np.zeros(shape), np.zeros(shape)) if name == "LSTM" else np.zeros(shape)


@pytest.mark.parametrize("name", NAMES)
def test_hx_must_have_a_row_per_layer_and_direction(name):
    with pytest.raises(ValueError, match=rf"^{name}:.*\(4, 2, 4\).*\(1, 2, 4\)"):
        _layer(name)(np.zeros((5, 2, 3)), _hx(name, 1, 2, 4))
    with pytest.raises(ValueError, match=rf"^{name}:.*\(4, 2, 4\).*\(2, 2, 4\)"):
        _layer(name)(np.zeros((5, 2, 3)), _hx(name, 2, 2, 4))
    with pytest.raises(ValueError, match=rf"^{name}:.*\(4, 4\).*\(4, 1, 4\)"):  # unbatched
        _layer(name)(np.zeros((5, 3)), _hx(name, 4, 1, 4))


@pytest.mark.parametrize("name", NAMES)
def test_wrong_feature_sizes_are_rejected(name):
    layer = _layer(name)
    with pytest.raises(ValueError, match=rf"^{name}:.*3.*\(5, 2, 8\)"):  # D * H features, not input_size
        layer(np.zeros((5, 2, 8)))
    out = forward(layer, fixed(name, hx=False), {"x": np.zeros((5, 2, 3))})[0]
    assert out.shape == (5, 2, 8)
    with pytest.raises(ValueError, match=rf"^{name}:.*\(5, 2, 8\).*\(5, 2, 4\)"):  # d_output of H features
        layer.backward(np.zeros((5, 2, 4)))
    with pytest.raises(ValueError, match=rf"^{name}:.*dh_n.*\(4, 2, 4\).*\(1, 2, 4\)"):
        layer.backward(np.zeros((5, 2, 8)), np.zeros((1, 2, 4)))
    if name == "LSTM":
        with pytest.raises(ValueError, match=r"^LSTM:.*dc_n.*\(4, 2, 4\).*\(4, 2, 5\)"):
            layer.backward(np.zeros((5, 2, 8)), np.zeros((4, 2, 4)), np.zeros((4, 2, 5)))


@pytest.mark.parametrize("name", NAMES)
def test_bad_arguments_and_order_of_calls(name):
    with pytest.raises(ValueError, match=rf"^{name}:.*dropout.*1.5"):
        getattr(layers, name)(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(RuntimeError, match=rf"^{name}:"):
        _layer(name).backward(np.zeros((5, 2, 8)))
    with pytest.raises(TypeError, match=rf"^{name}:.*int64"):
        _layer(name)(np.zeros((5, 2, 3), dtype=np.int64))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", NAMES)
def test_dtype_is_kept(name, dtype):
    layer = _layer(name, dropout=0.2, batch_first=True)
    x = np.random.default_rng(3).standard_normal((2, 5, 3)).astype(dtype)
    outputs = forward(layer, fixed(name, hx=False), {"x": x})
    assert all(y.dtype == dtype for y in outputs), [y.dtype for y in outputs]
    dx = layer.backward(*[np.ones_like(y) for y in outputs])
    assert dx.dtype == dtype and layer.dh0.dtype == dtype
    assert all(g.dtype == dtype for g in layer.grads.values())
    assert all(p.dtype == np.float32 for p in layer.params.values())  # created float32, like torch


@pytest.mark.parametrize("name", NAMES)
def test_stable_at_large_inputs(name):
    layer = _layer(name)
    outputs = forward(layer, fixed(name, hx=False), {"x": np.full((4, 2, 3), 1e4)})
    dx = layer.backward(*[np.ones_like(y) for y in outputs])
    assert all(np.all(np.isfinite(y)) for y in outputs) and np.all(np.isfinite(dx))


def test_the_sigmoid_of_lstm_and_gru_is_one_helper():
    import inspect
    assert inspect.getsource(layers.LSTM._sigmoid) == inspect.getsource(layers.GRU._sigmoid)
