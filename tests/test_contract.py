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
import registry
from registry.conventions import REQUIRED, default_of

# The contract lines, torch classes and cases come from the registry (tests/registry/).
CONTRACT = {e.name: e.contract for e in registry.ENTRIES}
TWINNED = [e for e in registry.ENTRIES if e.torch_name]


def parse(signature):
    """(positional [(name, default)], keyword-only {name: default}, has *args) of a contract line."""
    args = ast.parse(f"def f({signature}): pass").body[0].args
    defaults = [REQUIRED] * (len(args.args) - len(args.defaults)) + [ast.literal_eval(d) for d in args.defaults]
    positional = [(a.arg, d) for a, d in zip(args.args, defaults)]
    kwonly = {a.arg: (REQUIRED if d is None else ast.literal_eval(d)) for a, d in zip(args.kwonlyargs, args.kw_defaults)}
    return positional, kwonly, args.vararg is not None


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


@pytest.mark.parametrize("entry", TWINNED, ids=lambda e: e.name)
def test_constructor_matches_torch(entry):
    name, conv = entry.torch_name, entry.convention
    positional, kwonly, vararg = parse(entry.contract)
    positional = positional[getattr(conv, "skip_positional", 0):]  # an optimiser's `model` is torch's `params`
    theirs = conv.torch_signature(name)
    if vararg:
        kinds = [p.kind for p in inspect.signature(conv.torch_class(name)).parameters.values()]
        assert inspect.Parameter.VAR_POSITIONAL in kinds
    # the arguments before `*` are torch's first arguments, in torch's order
    assert [n for n, _ in positional] == [n for n, _ in theirs[:len(positional)]]
    torch_defaults = dict(theirs)
    for arg, default in positional + list(kwonly.items()):
        assert arg in torch_defaults, f"torch's {name} has no argument {arg}"
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
        # a different seed gives different values, unless the initial value is a constant
        # (zeros for biases, ones for the weight of a norm inside a composite layer)
        assert not np.array_equal(a.params[key], c.params[key]) or a.params[key].size == 0 or \
            np.all(a.params[key] == a.params[key].flat[0]), key


@pytest.mark.parametrize("name", [e.name for e in registry.ENTRIES if e.init_weight])
def test_initialisation_range_as_torch(name):
    """torch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)); fan_in = hidden_size for recurrent layers."""
    case = h.first_case(name)
    layer = h.build_ours(case.spec, float64=False)
    theirs = h.build_torch(case.spec)
    W = dict(theirs.named_parameters())[registry.entry(name).init_weight]
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


LAYER_CLASSES = [e.name for e in registry.ENTRIES if e.convention.is_layer]


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
    conv = case.convention
    rng = np.random.default_rng(3)
    layer = h.prepare(case, rng)
    inp = case.inputs(rng)
    first = conv.forward_ours(layer, inp)
    gs = conv.projections(case, first, rng)
    d1 = conv.backward_ours(layer, case, gs)
    g1 = {k: np.array(v, copy=True) for k, v in getattr(layer, "grads", {}).items()}
    # the same forward and backward again: the same results, grads not accumulated
    if conv.is_layer:
        second = conv.forward_ours(layer, inp, call=layer.forward)
    else:
        second = conv.forward_ours(layer, inp)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    d2 = conv.backward_ours(layer, case, gs)
    for key in d1:
        np.testing.assert_array_equal(d1[key], d2[key])
    for key, g in getattr(layer, "grads", {}).items():
        np.testing.assert_array_equal(g, g1[key], err_msg=f"grads[{key!r}] accumulated")


@pytest.mark.parametrize("case", h.case_params([c for c in h.CASES if c.convention.is_layer]))
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
    """numpy everywhere; scipy's erf in GELU alone (numpy has no error function)."""
    tree = ast.parse(inspect.getsource(layers))
    gelu = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "GELU")
    allowed_in_gelu = {id(n) for n in ast.walk(gelu)
                       if isinstance(n, ast.ImportFrom) and n.module == "scipy.special"
                       and [a.name for a in n.names] == ["erf"]}
    assert allowed_in_gelu, "GELU takes erf from scipy.special"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name == "numpy" or a.name.startswith("numpy.") for a in node.names), ast.dump(node)
        if isinstance(node, ast.ImportFrom) and id(node) not in allowed_in_gelu:
            assert node.module == "numpy" or node.module.startswith("numpy."), ast.dump(node)
