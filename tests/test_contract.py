"""The contract of ../shared/API.md: every class exists, constructor argument names, order
and defaults match torch.nn's, randomness only through `rng`, params/grads/training behave
the same in every layer, and layers.py imports nothing but numpy."""

import ast
import inspect

import numpy as np
import pytest
import torch

import helpers as h
import layers

# Argument lists as the contract states them: arguments before `*` in torch's order, after
# `*` keyword-only. Classes listed in API.md and the issue, plus the regularisation tools.
CONTRACT = {
    "Linear": "in_features, out_features, bias=True",
    "Conv1d": "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, *, bias=True",
    "Conv2d": "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, *, bias=True",
    "MaxPool1d": "kernel_size, stride=None, padding=0",
    "MaxPool2d": "kernel_size, stride=None, padding=0",
    "AvgPool1d": "kernel_size, stride=None, padding=0, *, count_include_pad=True",
    "AvgPool2d": "kernel_size, stride=None, padding=0, *, count_include_pad=True",
    "BatchNorm1d": "num_features, eps=1e-5, momentum=0.1, affine=True",
    "BatchNorm2d": "num_features, eps=1e-5, momentum=0.1, affine=True",
    "LayerNorm": "normalized_shape, eps=1e-5, elementwise_affine=True",
    "Dropout": "p=0.5",
    "Embedding": "num_embeddings, embedding_dim, padding_idx=None",
    "RNN": "input_size, hidden_size, *, nonlinearity='tanh', bias=True, batch_first=False",
    "LSTM": "input_size, hidden_size, *, bias=True, batch_first=False",
    "GRU": "input_size, hidden_size, *, bias=True, batch_first=False",
    "ReLU": "",
    "LeakyReLU": "negative_slope=0.01",
    "Sigmoid": "",
    "Tanh": "",
    "Softmax": "dim",
    "GELU": "approximate='none'",
    "SiLU": "",
    "Flatten": "start_dim=1, end_dim=-1",
    "Sequential": "*layers",
    "Residual": "*layers",
    "MSELoss": "*, reduction='mean'",
    "BCEWithLogitsLoss": "*, reduction='mean'",
    "CrossEntropyLoss": "*, reduction='mean'",
    "SGD": "model, lr, *, momentum=0, weight_decay=0",
    "Adam": "model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0",
    "WeightPenalty": "layers, *, l1=0.0, l2=0.0",
    "EarlyStopping": "patience=0, min_delta=0.0, *, restore_best_weights=False",
}
NO_TWIN = ("Residual", "WeightPenalty", "EarlyStopping")
REQUIRED = object()


def parse(signature):
    """(positional [(name, default)], keyword-only {name: default}, has *args) of a contract line."""
    args = ast.parse(f"def f({signature}): pass").body[0].args
    defaults = [REQUIRED] * (len(args.args) - len(args.defaults)) + [ast.literal_eval(d) for d in args.defaults]
    positional = [(a.arg, d) for a, d in zip(args.args, defaults)]
    kwonly = {a.arg: (REQUIRED if d is None else ast.literal_eval(d)) for a, d in zip(args.kwonlyargs, args.kw_defaults)}
    return positional, kwonly, args.vararg is not None


def default_of(p):
    return REQUIRED if p.default is inspect.Parameter.empty else p.default


def test_every_contract_class_exists():
    missing = [name for name in CONTRACT if not inspect.isclass(getattr(layers, name, None))]
    assert not missing, f"missing from layers.py: {missing}"


@pytest.mark.parametrize("name", CONTRACT)
def test_constructor_matches_the_contract(name):
    positional, kwonly, vararg = parse(CONTRACT[name])
    params = list(inspect.signature(getattr(layers, name)).parameters.values())
    ours_pos = [(p.name, default_of(p)) for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert ours_pos == positional, f"positional arguments {ours_pos} != contract {positional}"
    assert any(p.kind == p.VAR_POSITIONAL for p in params) == vararg
    ours_kw = {p.name: default_of(p) for p in params if p.kind == p.KEYWORD_ONLY}
    for key, default in kwonly.items():
        assert key in ours_kw, f"{key} must be keyword-only"
        assert ours_kw[key] == default, f"{key}: default {ours_kw[key]!r} != {default!r}"
    extra = set(ours_kw) - set(kwonly) - {"rng"}
    assert all(ours_kw[k] is not REQUIRED for k in extra), f"extra required arguments {extra}"


def torch_signature(name):
    """[(name, default)] of torch's constructor; the recurrent classes take *args, so read RNNBase."""
    if name in ("SGD", "Adam"):
        params = list(inspect.signature(getattr(torch.optim, name)).parameters.values())[1:]
        return [(p.name, default_of(p)) for p in params]
    if name in ("RNN", "LSTM", "GRU"):
        params = [p for p in inspect.signature(torch.nn.RNNBase).parameters.values() if p.name != "mode"]
        out = [(p.name, default_of(p)) for p in params]
        if name == "RNN":  # a keyword of RNN.__init__; its default is what an RNN built without it has
            out.append(("nonlinearity", torch.nn.RNN(1, 1).nonlinearity))
        return out
    params = inspect.signature(getattr(torch.nn, name)).parameters.values()
    return [(p.name, default_of(p)) for p in params if p.kind != p.VAR_KEYWORD]


@pytest.mark.parametrize("name", [n for n in CONTRACT if n not in NO_TWIN])
def test_constructor_matches_torch(name):
    positional, kwonly, vararg = parse(CONTRACT[name])
    if name in ("SGD", "Adam"):
        positional = positional[1:]  # torch's `params`, our `model`
    theirs = torch_signature(name)
    if vararg:
        kinds = [p.kind for p in inspect.signature(getattr(torch.nn, name)).parameters.values()]
        assert inspect.Parameter.VAR_POSITIONAL in kinds
    # the arguments before `*` are torch's first arguments, in torch's order
    assert [n for n, _ in positional] == [n for n, _ in theirs[:len(positional)]]
    torch_defaults = dict(theirs)
    for arg, default in positional + list(kwonly.items()):
        assert arg in torch_defaults, f"torch.nn.{name} has no argument {arg}"
        if default is not REQUIRED:
            assert torch_defaults[arg] == default, f"{arg}: torch's default {torch_defaults[arg]!r}, ours {default!r}"


@pytest.mark.parametrize("name", h.RANDOM_INIT)
def test_randomness_only_through_rng(name):
    p = inspect.signature(getattr(layers, name)).parameters.get("rng")
    assert p is not None and p.kind == p.KEYWORD_ONLY and p.default is None
    case = h.first_case(name)
    cls = getattr(layers, name)
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    a = cls(*case.spec.args, **case.spec.kwargs, rng=5)
    b = cls(*case.spec.args, **case.spec.kwargs, rng=np.random.default_rng(5))
    c = cls(*case.spec.args, **case.spec.kwargs, rng=6)
    cls(*case.spec.args, **case.spec.kwargs)  # rng=None: fresh entropy, not the global state
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    for key in a.params:
        np.testing.assert_array_equal(a.params[key], b.params[key])
        assert not np.array_equal(a.params[key], c.params[key]) or a.params[key].size == 0 or \
            np.all(a.params[key] == 0), key


@pytest.mark.parametrize("name", ["Linear", "Conv1d", "Conv2d", "RNN", "LSTM", "GRU"])
def test_initialisation_range_as_torch(name):
    """torch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in = hidden_size for recurrent layers."""
    case = h.first_case(name)
    layer = h.build_ours(case.spec, float64=False)
    theirs = h.build_torch(case.spec)
    W = dict(theirs.named_parameters())["weight_hh_l0" if name in ("RNN", "LSTM", "GRU") else "weight"]
    limit = 1 / np.sqrt(int(np.prod(W.shape[1:])))
    for key, p in theirs.named_parameters():
        assert layer.params[key].shape == tuple(p.shape), key
        assert float(p.detach().abs().max()) <= limit  # the bound is torch's
        assert np.abs(layer.params[key]).max() <= limit * (1 + 1e-6), key
        assert np.abs(layer.params[key]).max() > limit / 4, key  # and ours fills it


def test_embedding_padding_row_is_zero_at_init_and_gets_no_gradient():
    emb = layers.Embedding(5, 3, padding_idx=1, rng=0)
    assert np.all(emb.params["weight"][1] == 0)
    assert np.all(np.delete(emb.params["weight"], 1, axis=0) != 0)
    y = emb(np.array([[1, 2, 1], [0, 1, 4]]))
    assert np.all(y[0, 0] == 0)
    emb.backward(np.ones(y.shape))
    assert np.all(emb.grads["weight"][1] == 0)
    np.testing.assert_array_equal(emb.grads["weight"][[0, 2, 3, 4], 0], [1, 1, 0, 1])


LAYER_CLASSES = [n for n in CONTRACT if n not in h.LOSSES + ("SGD", "Adam", "WeightPenalty", "EarlyStopping")]


@pytest.mark.parametrize("name", LAYER_CLASSES)
def test_params_grads_training(name):
    case = h.first_case(name)
    layer = h.build_ours(case.spec, float64=False)
    assert isinstance(layer.params, dict) and isinstance(layer.grads, dict)
    assert layer.training is True
    layer.eval()
    assert layer.training is False
    layer.train()
    assert layer.training is True
    assert callable(layer.forward) and callable(layer.backward)


@pytest.mark.parametrize("case", h.case_params([c for c in h.CASES if not c.fresh]))
def test_call_is_forward_and_grads_are_overwritten(case):
    rng = np.random.default_rng(3)
    layer = h.prepare(case, rng)
    inp = case.inputs(rng)
    first = h.forward_ours(layer, case, inp)
    gs = h.projections(case, first, rng)
    d1 = h.backward_ours(layer, case, gs)
    g1 = {k: np.array(v, copy=True) for k, v in getattr(layer, "grads", {}).items()}
    # the same forward and backward again: the same results, grads not accumulated
    if case.kind == "layer":
        second = [layer.forward(inp["x"])]
    else:
        second = h.forward_ours(layer, case, inp)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    d2 = h.backward_ours(layer, case, gs)
    for key in d1:
        np.testing.assert_array_equal(d1[key], d2[key])
    for key, g in getattr(layer, "grads", {}).items():
        np.testing.assert_array_equal(g, g1[key], err_msg=f"grads[{key!r}] accumulated")


@pytest.mark.parametrize("case", h.case_params([c for c in h.CASES if c.kind != "loss"]))
def test_assigned_params_take_effect(case):
    rng = np.random.default_rng(4)
    layer = h.prepare(case, rng)
    inp = case.inputs(rng)
    if not layer.params or case.fresh:
        return
    before = h.forward_ours(layer, case, inp)
    key = next(iter(layer.params))
    layer.params[key] = layer.params[key] + 0.5  # a new array, not an in-place change
    after = h.forward_ours(layer, case, inp)
    assert any(not np.allclose(a, b) for a, b in zip(before, after)), f"assigning params[{key!r}] had no effect"


def test_sequential_train_eval_reach_every_layer():
    model = layers.Sequential(layers.Linear(3, 3, rng=0), layers.Dropout(0.5, rng=0),
                              layers.Sequential(layers.BatchNorm1d(3), layers.Dropout(0.9, rng=1)))
    x = np.random.default_rng(0).standard_normal((4, 3))
    model.eval()
    assert model.training is False
    assert model.layers[1].training is False and model.layers[2].layers[1].training is False
    lin = layers.Linear(3, 3, rng=0)
    np.testing.assert_allclose(model(x), lin(x) / np.sqrt(1 + 1e-5), rtol=1e-6)  # running stats 0 and 1
    model.train()
    assert model.layers[2].layers[0].training is True


def test_layers_py_imports_only_numpy():
    tree = ast.parse(inspect.getsource(layers))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name == "numpy" or a.name.startswith("numpy.") for a in node.names), ast.dump(node)
        if isinstance(node, ast.ImportFrom):
            assert node.module == "numpy" or node.module.startswith("numpy."), ast.dump(node)
