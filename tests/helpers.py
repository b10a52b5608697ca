"""Shared machinery of the test suite: build our layer and its torch twin, run a case through
the call convention of its class, compare in float64.

What the tests know about each class (contract, fixed cases, random configurations, bad
inputs, page) lives in `tests/registry/`, one entry per class (see tests/registry/ADDING.md).
A `Spec` names a class and its constructor arguments; because `code/layers.py` follows torch's
names and arguments, one spec builds both our layer (`build_ours`) and its twin
(`build_torch`). A `Case` is a spec, an input maker and a few options; the functions below
hand it to its class's convention adapter (registry/conventions.py). Names of the registry
are re-exported here for the tests that use them.
"""

import inspect

import numpy as np
import torch

import layers
import registry
from registry import CASES, REGISTRY, Case, Res, S, Seq, Spec, convention_of, random_case  # noqa: F401
from registry.containers import TorchResidual  # noqa: F401
from registry.conventions import Container, Loss
from registry.inputs import away_from_zero, distinct, indices, normal, ties  # noqa: F401
from registry.inputs import ints as _ints, maybe_int as _maybe_int  # noqa: F401
from registry.losses import loss_inputs  # noqa: F401
from registry.recurrent import rnn_case, sequence  # noqa: F401

LOSSES = tuple(e.name for e in registry.ENTRIES if isinstance(e.convention, Loss))
CONTAINERS = tuple(e.name for e in registry.ENTRIES if isinstance(e.convention, Container))
RANDOM_INIT = tuple(e.name for e in registry.ENTRIES if e.random_init)
# the classes with randomised torch comparisons that the generic tests run forward and backward
RANDOM_MAKERS = {e.name: e.random for e in registry.ENTRIES if e.random and e.convention.runs_forward}

CASE_IDS = [c.id for c in CASES]


def first_case(name):
    """The first fixed case of the class `name`."""
    if name in REGISTRY and REGISTRY[name].cases:
        return REGISTRY[name].cases[0]
    return next(c for c in CASES if c.name == name)


# --------------------------------------------------------------------------------------
# building our layer and its torch twin
# --------------------------------------------------------------------------------------


def build_ours(spec, rng=None, *, float64=True, resolve=None, seed=0):
    """Our layer for `spec`. With float64, every parameter is replaced by a float64 array
    (the initial values plus a little noise, so that ones and zeros become generic)."""
    resolve = resolve or (lambda name: getattr(layers, name))
    if spec.children:
        children = [build_ours(c, rng, float64=float64, resolve=resolve, seed=seed + i)
                    for i, c in enumerate(spec.children)]
        return resolve(spec.name)(*children)
    cls = resolve(spec.name)
    kwargs = dict(spec.kwargs)
    if "rng" in inspect.signature(cls).parameters:
        kwargs["rng"] = seed
    layer = cls(*spec.args, **kwargs)
    if float64:
        for key, value in list(getattr(layer, "params", {}).items()):
            noise = 0.1 * rng.standard_normal(value.shape) if rng is not None else 0.0
            layer.params[key] = np.ascontiguousarray(value, dtype=np.float64) + noise
    return layer


def prepare(case, rng):
    """Our float64 layer for a case: parameters, running statistics, train/eval mode."""
    layer = build_ours(case.spec, rng)
    if hasattr(layer, "running_mean"):
        C = case.spec.args[0]
        layer.running_mean = 0.5 * rng.standard_normal(C)
        layer.running_var = rng.uniform(0.5, 2.0, C)
    if case.mode == "eval":
        layer.eval()
    return layer


def build_torch(spec):
    """The float64 torch twin of `spec`, as its class's convention builds it."""
    return convention_of(spec.name).build_torch(spec, build_torch).double()


def twin(case, ours):
    """The torch twin of our prepared layer, with our parameters and running statistics."""
    theirs = build_torch(case.spec)
    named = dict(theirs.named_parameters())
    assert sorted(named) == sorted(getattr(ours, "params", {})), "parameter names differ from torch's"
    with torch.no_grad():
        for key, p in named.items():
            assert tuple(p.shape) == ours.params[key].shape, f"{key}: shape differs from torch's"
            p.copy_(torch.from_numpy(ours.params[key]))
        if hasattr(ours, "running_mean"):
            theirs.running_mean.copy_(torch.from_numpy(np.asarray(ours.running_mean, dtype=np.float64)))
            theirs.running_var.copy_(torch.from_numpy(np.asarray(ours.running_var, dtype=np.float64)))
    theirs.train(case.mode == "train")
    return theirs


# --------------------------------------------------------------------------------------
# running a case: forward, projection, backward (ours and torch's)
# --------------------------------------------------------------------------------------

DIFFERENTIABLE = ("x", "h0", "c0")  # of the Plain and Recurrent conventions; see convention.differentiable


def hidden_shape(case, x):
    return case.convention.hidden_shape(case, x)


def forward_ours(layer, case, inp):
    """The list of outputs of our layer (a loss gives a one-element array)."""
    return case.convention.forward_ours(layer, inp)


def projections(case, outputs, rng):
    """Random output gradients g; the objective is sum(y * g). Zero where not used."""
    return case.convention.projections(case, outputs, rng)


def backward_ours(layer, case, gs):
    """Input gradients of our layer, by input name ('x', 'h0', 'c0', 'query', ...)."""
    return case.convention.backward_ours(layer, case, gs)


def objective(outputs, gs):
    return float(sum(np.sum(np.asarray(y, dtype=np.float64) * g) for y, g in zip(outputs, gs)))


def torch_inputs(case, inp):
    return case.convention.torch_inputs(case, inp)


def forward_torch(module, case, tin):
    return case.convention.forward_torch(module, tin)


# --------------------------------------------------------------------------------------
# comparisons
# --------------------------------------------------------------------------------------


def assert_close(actual, desired, what="", rtol=1e-7):
    """Float64 agreement: relative 1e-7, absolute 1e-10 of the values' scale (at least 1,
    NaN entries left out of the scale); NaN where NaN."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape, f"{what}: shape {actual.shape} != {desired.shape}"
    scale = max(1.0, float(np.nanmax(np.abs(desired), initial=0.0)))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=1e-10 * scale, err_msg=what)


def numeric_gradient(f, arr, eps=1e-6):
    """Central differences of the scalar f() with respect to every element of arr (in place)."""
    flat = arr.reshape(-1)
    assert np.shares_memory(flat, arr), "need a contiguous array to perturb in place"
    grad = np.zeros(arr.size)
    for i in range(arr.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad.reshape(arr.shape)


def assert_gradient(analytic, numeric, what, scale=None):
    """Relative error at most 1e-6, element by element, with an absolute floor of 1e-6 of the
    gradients' scale (by default this array's largest entry)."""
    analytic, numeric = np.asarray(analytic), np.asarray(numeric)
    assert analytic.shape == numeric.shape, f"{what}: shape {analytic.shape} != {numeric.shape}"
    if scale is None:
        scale = max(float(np.max(np.abs(numeric), initial=0.0)), float(np.max(np.abs(analytic), initial=0.0)))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6 * scale, err_msg=what)


def case_params(cases):
    """pytest.param list with readable ids."""
    import pytest
    return [pytest.param(c, id=c.id) for c in cases]
