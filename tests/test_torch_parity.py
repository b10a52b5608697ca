"""Float64 comparisons with torch.nn and torch.optim (torch 2.13 CPU): forward outputs, input
gradients, every parameter gradient, BatchNorm running statistics, losses, optimiser steps,
Sequential parameter names. Our parameters are copied into the torch twin first."""

import numpy as np
import pytest
import torch

import helpers as h
import layers
import registry
from registry.conventions import Optimiser

pytestmark = [pytest.mark.torch_parity,
              pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")]

N_RANDOM = 10  # randomised configurations per class, on top of the fixed table

TWINNED = [name for name in h.RANDOM_MAKERS]
# Dropout in training has no deterministic twin; a class without a torch twin has no_twin set
FIXED = [c for c in h.CASES if not c.fresh and not c.entry.no_twin]
RANDOM = [h.random_case(name, seed) for name in TWINNED for seed in range(N_RANDOM)]
# cases compared with torch only (max-pooling ties: torch CPU sends the gradient to the first
# maximum in row-major order; overlapping windows and padding make a position win several windows)
EXTRA = [c for e in registry.ENTRIES for c in e.parity_cases]


def check_against_torch(case, seed):
    conv = case.convention
    rng = np.random.default_rng(seed)
    ours = h.prepare(case, rng)
    theirs = h.twin(case, ours)
    inp = case.inputs(rng)
    tin = conv.torch_inputs(case, inp)

    outputs = conv.forward_ours(ours, inp)
    t_outputs = conv.forward_torch(theirs, tin)
    assert len(outputs) == len(t_outputs)
    for i, (y, t) in enumerate(zip(outputs, t_outputs)):
        assert np.asarray(y).dtype == np.float64, f"output {i} is {np.asarray(y).dtype}"
        h.assert_close(y, t.detach().numpy(), f"output {i}")
    conv.check_result(ours, inp)  # a loss returns a Python float
    if hasattr(ours, "running_mean"):
        h.assert_close(ours.running_mean, theirs.running_mean.numpy(), "running_mean")
        h.assert_close(ours.running_var, theirs.running_var.numpy(), "running_var")

    gs = conv.projections(case, outputs, rng)
    d_inputs = conv.backward_ours(ours, case, gs)
    J = sum((t * torch.from_numpy(np.asarray(g, dtype=np.float64))).sum() for t, g in zip(t_outputs, gs))
    J.backward()
    for key, d in d_inputs.items():
        assert d is not None, f"d{key} is None"
        assert np.asarray(d).dtype == np.float64
        h.assert_close(d, tin[key].grad.numpy(), f"d{key}")
    named = dict(theirs.named_parameters())
    assert sorted(getattr(ours, "grads", {})) == sorted(named), "grads must be named as torch's parameters"
    for key, p in named.items():
        h.assert_close(ours.grads[key], p.grad.numpy(), f"grad of {key}")


@pytest.mark.parametrize("case", h.case_params(FIXED + EXTRA))
def test_fixed_case_matches_torch(case):
    check_against_torch(case, 99)


@pytest.mark.parametrize("case", h.case_params(RANDOM))
def test_random_case_matches_torch(case):
    check_against_torch(case, int(case.note.removeprefix("random")))


def test_every_twinned_class_has_ten_configurations():
    for name in TWINNED:
        n = sum(c.name == name for c in FIXED + EXTRA + RANDOM)
        assert n >= 10, name


# --------------------------------------------------------------------------------------
# BatchNorm: running statistics over several training steps, then eval
# --------------------------------------------------------------------------------------

BN_CONFIGS = [
    ("BatchNorm1d", {}, (4, 3)),
    ("BatchNorm1d", {}, (3, 2, 5)),
    ("BatchNorm1d", {"momentum": 0.5}, (2, 4)),
    ("BatchNorm1d", {"momentum": 0.01, "eps": 1e-3}, (6, 3, 2)),
    ("BatchNorm1d", {"affine": False}, (5, 2, 3)),
    ("BatchNorm1d", {"eps": 0.1, "momentum": 0.9}, (2, 1, 1)),
    ("BatchNorm2d", {}, (2, 3, 4, 4)),
    ("BatchNorm2d", {"momentum": 0.3}, (3, 2, 2, 3)),
    ("BatchNorm2d", {"affine": False, "eps": 1e-2}, (2, 2, 1, 3)),
    ("BatchNorm2d", {"momentum": 1.0}, (4, 1, 2, 2)),
]


@pytest.mark.parametrize("name,kwargs,shape", BN_CONFIGS, ids=[f"{n}{k}{s}" for n, k, s in BN_CONFIGS])
def test_batchnorm_running_statistics_and_eval(name, kwargs, shape):
    rng = np.random.default_rng(5)
    C = shape[1]
    case = h.Case(h.S(name, C, **kwargs), None)
    ours = h.build_ours(case.spec, rng)
    ours.running_mean = np.zeros(C)  # float64 from the start, as torch's .double()
    ours.running_var = np.ones(C)
    theirs = h.twin(case, ours)
    for step in range(4):
        x = 2 * rng.standard_normal(shape) + rng.standard_normal((1, C) + (1,) * (len(shape) - 2))
        y = ours(x)
        t = theirs(torch.from_numpy(x))
        h.assert_close(y, t.detach().numpy(), f"train output, step {step}")
        h.assert_close(ours.running_mean, theirs.running_mean.numpy(), f"running_mean, step {step}")
        h.assert_close(ours.running_var, theirs.running_var.numpy(), f"running_var, step {step}")
    ours.eval()
    theirs.eval()
    assert ours.training is False
    x = 3 * rng.standard_normal(shape)
    tx = torch.from_numpy(x.copy()).requires_grad_(True)
    y, t = ours(x), theirs(tx)
    h.assert_close(y, t.detach().numpy(), "eval output")
    g = rng.standard_normal(y.shape)
    dx = ours.backward(g)
    (t * torch.from_numpy(g)).sum().backward()
    h.assert_close(dx, tx.grad.numpy(), "eval dx")
    for key, p in theirs.named_parameters():
        h.assert_close(ours.grads[key], p.grad.numpy(), f"eval grad of {key}")
    # eval does not move the running statistics
    h.assert_close(ours.running_mean, theirs.running_mean.numpy(), "running_mean after eval")


# --------------------------------------------------------------------------------------
# optimisers: four steps against torch.optim on the same parameters and gradients
# --------------------------------------------------------------------------------------


OPTIMISERS = [e for e in registry.ENTRIES if isinstance(e.convention, Optimiser)]
# each optimiser's fixed configurations, then N_RANDOM random ones
OPTIM_CASES = [c for e in OPTIMISERS for c in e.cases] + [
    registry.random_case(e.name, seed) for e in OPTIMISERS for seed in range(N_RANDOM)]
OPTIM_MODELS = [
    h.Seq(h.S("Linear", 3, 4), h.S("Tanh"), h.S("Linear", 4, 2)),
    h.S("Linear", 3, 2),
    h.Seq(h.S("Conv1d", 2, 3, 2), h.S("Flatten"), h.S("Linear", 9, 2, bias=False)),
]
OPTIM_INPUT = {0: (5, 3), 1: (5, 3), 2: (5, 2, 4)}


@pytest.mark.parametrize("m", range(len(OPTIM_MODELS)), ids=["mlp", "linear", "conv"])
@pytest.mark.parametrize("case", h.case_params(OPTIM_CASES))
def test_optimiser_four_steps_match_torch(case, m):
    rng = np.random.default_rng(11)
    spec = OPTIM_MODELS[m]
    ours = h.build_ours(spec, rng)
    theirs = h.twin(h.Case(spec, None), ours)
    conv = case.convention
    opt = conv.make_ours(getattr(layers, case.name), ours, case.spec)
    t_opt = conv.make_torch(case.name, theirs.parameters(), case.spec)
    arrays = {k: v for k, v in ours.params.items()}
    for step in range(4):
        x = rng.standard_normal(OPTIM_INPUT[m])
        y = ours(x)
        g = rng.standard_normal(y.shape)
        ours.backward(g)
        t_opt.zero_grad()
        t = theirs(torch.from_numpy(x))
        h.assert_close(y, t.detach().numpy(), f"output before step {step}")
        (t * torch.from_numpy(g)).sum().backward()
        opt.step()
        t_opt.step()
        for key, p in theirs.named_parameters():
            assert ours.params[key] is arrays[key], "step() must update the arrays in place"
            h.assert_close(ours.params[key], p.detach().numpy(), f"{key} after step {step}")
    # the layers inside use the updated arrays
    x = rng.standard_normal(OPTIM_INPUT[m])
    h.assert_close(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), "output after four steps")


# --------------------------------------------------------------------------------------
# Sequential: parameter names, a whole training loop with BatchNorm, summary counts
# --------------------------------------------------------------------------------------

NAMED_MODELS = [
    h.Seq(h.S("Linear", 3, 4), h.S("ReLU"), h.S("Linear", 4, 2)),
    h.Seq(h.S("Conv2d", 1, 2, 3), h.S("MaxPool2d", 2), h.S("Flatten"), h.S("Linear", 2, 3, bias=False)),
    h.Seq(h.S("Embedding", 5, 3), h.S("Flatten"), h.S("Linear", 6, 2)),
    h.Seq(h.S("Tanh"), h.S("Linear", 2, 2), h.S("Dropout", 0.1), h.S("LayerNorm", 2), h.S("Linear", 2, 1)),
    h.Seq(h.S("LSTM", 2, 3)),
    h.Seq(h.S("Linear", 2, 2), h.Seq(h.S("Linear", 2, 3), h.S("Tanh")), h.S("Linear", 3, 1)),
]


@pytest.mark.parametrize("spec", NAMED_MODELS, ids=repr)
def test_sequential_parameter_names_match_torch_state_dict(spec):
    ours = h.build_ours(spec, np.random.default_rng(0))
    theirs = h.build_torch(spec)
    assert list(ours.params) == list(theirs.state_dict().keys())
    assert list(ours.grads) in ([], list(ours.params))
    for key, value in ours.params.items():
        assert value.shape == tuple(theirs.state_dict()[key].shape), key


def test_sequential_with_batchnorm_parameter_names():
    spec = h.Seq(h.S("Linear", 3, 4), h.S("BatchNorm1d", 4), h.S("Linear", 4, 2))
    ours = h.build_ours(spec, np.random.default_rng(0))
    theirs = h.build_torch(spec)
    assert list(ours.params) == [k for k, _ in theirs.named_parameters()]


def test_training_loop_with_batchnorm_matches_torch():
    """Sequential + BatchNorm + CrossEntropyLoss + SGD with momentum, then eval: the whole loop."""
    rng = np.random.default_rng(21)
    spec = h.Seq(h.S("Linear", 4, 6), h.S("BatchNorm1d", 6), h.S("ReLU"), h.S("Linear", 6, 3))
    case = h.Case(spec, None)
    children = [h.build_ours(c, rng) for c in spec.children]
    ours = layers.Sequential(*children)
    bn = children[1]
    bn.running_mean, bn.running_var = np.zeros(6), np.ones(6)
    theirs = h.twin(case, ours)
    loss, t_loss = layers.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    opt = layers.SGD(ours, 0.1, momentum=0.9, weight_decay=1e-3)
    t_opt = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    for step in range(5):
        x, target = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
        value = loss(ours(x), target)
        ours.backward(loss.backward())
        opt.step()
        t_opt.zero_grad()
        t_value = t_loss(theirs(torch.from_numpy(x)), torch.from_numpy(target))
        t_value.backward()
        t_opt.step()
        h.assert_close(value, t_value.item(), f"loss at step {step}")
    h.assert_close(bn.running_mean, theirs[1].running_mean.numpy(), "running_mean")
    h.assert_close(bn.running_var, theirs[1].running_var.numpy(), "running_var")
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((5, 4))
    h.assert_close(ours(x), theirs(torch.from_numpy(x)).detach().numpy(), "eval output")


SUMMARY_MODELS = [
    (h.Seq(h.S("Conv2d", 3, 16, 3, padding=1), h.S("ReLU"), h.S("MaxPool2d", 2), h.S("Flatten"),
           h.S("Linear", 16 * 4 * 4, 10)), (2, 3, 8, 8)),
    (h.Seq(h.S("Linear", 20, 64), h.S("BatchNorm1d", 64), h.S("Tanh"), h.S("Linear", 64, 1)), (4, 20)),
    (h.Seq(h.S("Flatten"), h.S("Linear", 12, 3, bias=False), h.S("Softmax", 1)), (2, 3, 4)),
]


@pytest.mark.parametrize("spec,shape", SUMMARY_MODELS, ids=["cnn", "mlp-bn", "flatten"])
def test_summary_counts_match_torch(spec, shape, capsys):
    ours = h.build_ours(spec, np.random.default_rng(0))
    theirs = h.build_torch(spec)
    ours.summary(shape)
    out = capsys.readouterr().out
    total = sum(p.numel() for p in theirs.parameters())
    assert f"Total params: {total:,}" in out
    # every layer's output shape and parameter count appear on its line, in order
    x = torch.zeros(shape, dtype=torch.float64)
    lines = out.splitlines()
    row = 0
    for child, module in zip(spec.children, theirs):
        x = module(x)
        count = sum(p.numel() for p in module.parameters())
        while row < len(lines) and child.name not in lines[row]:
            row += 1
        assert row < len(lines), f"no line for {child.name} in\n{out}"
        line = lines[row]
        dims = tuple(x.shape)
        assert any(s in line for s in (str(dims), str((None,) + dims[1:]), str(list(dims)))), \
            f"output shape {dims} not on the line {line!r}"
        assert line.rstrip().endswith(f" {count:,}"), f"parameter count {count} does not end {line!r}"
        row += 1


# --------------------------------------------------------------------------------------
# weight penalty: value and gradient against torch autograd
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("l1,l2", [(0.0, 0.0), (0.01, 0.0), (0.0, 0.05), (0.3, 0.2), (1e-4, 1e-3)])
def test_weight_penalty_matches_torch(l1, l2):
    rng = np.random.default_rng(17)
    dense = h.build_ours(h.S("Linear", 4, 3), rng)
    conv = h.build_ours(h.S("Conv2d", 2, 3, 2), rng)
    x = rng.standard_normal((2, 4))
    g = rng.standard_normal((2, 3))
    dense(x)
    dense.backward(g)
    conv(rng.standard_normal((1, 2, 3, 3)))
    conv.backward(rng.standard_normal((1, 3, 2, 2)))
    before = {id(layer): {k: v.copy() for k, v in layer.grads.items()} for layer in (dense, conv)}
    penalty = layers.WeightPenalty([dense, conv], l1=l1, l2=l2)
    value = penalty.loss()
    Ws = [torch.from_numpy(layer.params["weight"].copy()).requires_grad_(True) for layer in (dense, conv)]
    t_value = sum(l1 * W.abs().sum() + l2 * (W ** 2).sum() for W in Ws)
    h.assert_close(value, t_value.item() if torch.is_tensor(t_value) else t_value, "penalty")
    if torch.is_tensor(t_value):
        t_value.backward()
    penalty.backward()
    for layer, W in zip((dense, conv), Ws):
        added = W.grad.numpy() if W.grad is not None else 0.0
        h.assert_close(layer.grads["weight"], before[id(layer)]["weight"] + added, "weight grad")
        h.assert_close(layer.grads["bias"], before[id(layer)]["bias"], "bias grad untouched")
