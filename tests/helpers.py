"""Shared machinery of the test suite: layer specs, input makers, torch twins, checks.

A `Spec` names a class and its constructor arguments. Because `code/layers.py` follows
torch's names and arguments, one spec builds both our layer (`build_ours`) and its
`torch.nn` twin (`build_torch`). A `Case` is a spec plus an input maker and a few options;
`CASES` is the fixed table shared by the gradient checks, the torch comparisons, the dtype
tests and the copy test, and `random_cases` draws further randomised configurations.
"""

import inspect
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

import layers

# --------------------------------------------------------------------------------------
# specs and cases
# --------------------------------------------------------------------------------------

LOSSES = ("MSELoss", "BCEWithLogitsLoss", "CrossEntropyLoss")
CONTAINERS = ("Sequential", "Residual")
RANDOM_INIT = ("Linear", "Conv1d", "Conv2d", "Embedding", "RNN", "LSTM", "GRU", "Dropout")


@dataclass
class Spec:
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    children: tuple = ()

    def __repr__(self):
        if self.name in CONTAINERS:
            return f"{self.name}({', '.join(map(repr, self.children))})"
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.name}({', '.join(parts)})"


def S(name, *args, **kwargs):
    """Spec shorthand: S('Conv2d', 2, 3, 3, stride=2)."""
    return Spec(name, args, kwargs)


def Seq(*children):
    return Spec("Sequential", children=children)


def Res(*children):
    return Spec("Residual", children=children)


def kind_of(name):
    if name in ("RNN", "GRU"):
        return "rnn"
    if name == "LSTM":
        return "lstm"
    if name == "Embedding":
        return "embedding"
    if name in LOSSES:
        return "loss"
    return "layer"


@dataclass
class Case:
    spec: Spec
    inputs: Callable  # rng -> dict with 'x' (or 'idx'), and 'h0', 'c0', 'target' as needed
    mode: str = "train"
    dh_n: bool = False  # recurrent: also project h_n (and c_n for LSTM) into the loss
    fresh: bool = False  # rebuild the layer for every evaluation (Dropout: same seed, same mask)
    note: str = ""

    @property
    def name(self):
        return self.spec.name

    @property
    def kind(self):
        return kind_of(self.spec.name)

    @property
    def id(self):
        extra = [self.mode] if self.mode != "train" else []
        extra += ["dh_n"] if self.dh_n else []
        extra += [self.note] if self.note else []
        return repr(self.spec) + ("[" + ",".join(extra) + "]" if extra else "")


# --------------------------------------------------------------------------------------
# input makers (functions of an rng)
# --------------------------------------------------------------------------------------


def normal(*shape, scale=1.0):
    return lambda rng: {"x": scale * rng.standard_normal(shape)}


def away_from_zero(*shape):
    """Values with |x| in [0.1, 1.5]: finite differences with eps 1e-6 never cross a kink at 0."""
    def make(rng):
        return {"x": rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.5, shape)}
    return make


def distinct(*shape):
    """Distinct values at least 0.05 apart: no ties, finite differences never swap a maximum."""
    def make(rng):
        n = int(np.prod(shape))
        return {"x": (rng.permutation(n) - n / 2).reshape(shape) * 0.05 + rng.uniform(0, 0.01, shape)}
    return make


def ties(*shape):
    """Small integers: many ties inside every pooling window."""
    return lambda rng: {"x": rng.integers(-2, 3, shape).astype(np.float64)}


def loss_inputs(name, *shape):
    def make(rng):
        if name == "CrossEntropyLoss":  # logits (N, C, d1, ...), targets (N, d1, ...)
            N, C, *extra = shape
            return {"x": 2 * rng.standard_normal(shape), "target": rng.integers(0, C, (N, *extra))}
        if name == "BCEWithLogitsLoss":
            target = rng.uniform(0, 1, shape)
            target[..., 0] = np.round(target[..., 0])  # hard labels too
            return {"x": 2 * rng.standard_normal(shape), "target": target}
        return {"x": rng.standard_normal(shape), "target": rng.standard_normal(shape)}
    return make


def indices(num, *shape, include=None):
    def make(rng):
        idx = rng.integers(0, num, shape)
        if include is not None:
            idx.flat[0] = include
            idx.flat[-1] = include
        return {"idx": idx}
    return make


def sequence(T, N, input_size, hidden_size, *, batch_first=False, hx=False, lstm=False):
    """Recurrent input; N=None means unbatched (T, input_size)."""
    def make(rng):
        if N is None:
            shape, hshape = (T, input_size), (1, hidden_size)
        else:
            shape = (N, T, input_size) if batch_first else (T, N, input_size)
            hshape = (1, N, hidden_size)
        out = {"x": rng.standard_normal(shape)}
        if hx:
            out["h0"] = 0.5 * rng.standard_normal(hshape)
            if lstm:
                out["c0"] = 0.5 * rng.standard_normal(hshape)
        return out
    return make


def rnn_case(name, input_size, hidden_size, T, N, *, batch_first=False, hx=False, dh_n=False, **kw):
    if batch_first:
        kw["batch_first"] = True
    return Case(S(name, input_size, hidden_size, **kw),
                sequence(T, N, input_size, hidden_size, batch_first=batch_first, hx=hx, lstm=name == "LSTM"),
                dh_n=dh_n, note=("hx" if hx else "") + ("unbatched" if N is None else ""))


# --------------------------------------------------------------------------------------
# the fixed table of cases (several configurations per layer)
# --------------------------------------------------------------------------------------

CASES = [
    Case(S("Linear", 4, 3), normal(2, 4)),
    Case(S("Linear", 3, 2, bias=False), normal(2, 3, 3)),
    Case(S("Linear", 4, 2), normal(4)),
    Case(S("Conv1d", 2, 3, 3), normal(2, 2, 7)),
    Case(S("Conv1d", 2, 2, 3, stride=2, padding=1), normal(2, 2, 8)),
    Case(S("Conv1d", 1, 2, 3, dilation=2, padding="same"), normal(2, 1, 6)),
    Case(S("Conv1d", 2, 2, 4, padding="same", bias=False), normal(1, 2, 6)),
    Case(S("Conv1d", 2, 1, 2, stride=3, padding="valid"), normal(2, 2, 8)),
    Case(S("Conv2d", 2, 3, (2, 3), stride=(2, 1), padding=(1, 0)), normal(2, 2, 5, 5)),
    Case(S("Conv2d", 1, 2, 3, dilation=(2, 1), padding="same"), normal(1, 1, 5, 4)),
    Case(S("Conv2d", 2, 2, (2, 4), padding="same", bias=False), normal(1, 2, 4, 5)),
    Case(S("Conv2d", 1, 2, 2, stride=3), normal(2, 1, 7, 6)),
    Case(S("Conv2d", 2, 1, 3, stride=2, padding=2, dilation=2), normal(1, 2, 6, 7)),
    Case(S("MaxPool1d", 3, stride=2, padding=1), distinct(2, 2, 7)),
    Case(S("MaxPool1d", 2, stride=3), distinct(2, 2, 8)),
    Case(S("MaxPool2d", (2, 3), stride=(1, 2), padding=(1, 1)), distinct(2, 2, 4, 5)),
    Case(S("MaxPool2d", 2), distinct(1, 2, 4, 5)),
    Case(S("MaxPool2d", 2, stride=3), distinct(2, 1, 7, 8)),
    Case(S("AvgPool1d", 3, stride=2, padding=1, count_include_pad=False), normal(2, 2, 7)),
    Case(S("AvgPool1d", 2), normal(2, 3, 5)),
    Case(S("AvgPool2d", (3, 2), stride=(2, 1), padding=(1, 1), count_include_pad=False), normal(2, 2, 5, 4)),
    Case(S("AvgPool2d", (3, 2), stride=(2, 1), padding=(1, 1)), normal(1, 2, 5, 4)),
    Case(S("AvgPool2d", 2, stride=3), normal(2, 1, 7, 8)),
    Case(S("BatchNorm1d", 4), normal(5, 4)),
    Case(S("BatchNorm1d", 3, momentum=0.3, eps=1e-3), normal(3, 3, 4)),
    Case(S("BatchNorm1d", 4), normal(5, 4), mode="eval"),
    Case(S("BatchNorm1d", 3, affine=False), normal(4, 3, 2)),
    Case(S("BatchNorm2d", 3), normal(2, 3, 3, 2)),
    Case(S("BatchNorm2d", 2, momentum=0.2), normal(2, 2, 3, 3), mode="eval"),
    Case(S("LayerNorm", 4), normal(3, 4)),
    Case(S("LayerNorm", (3, 4), eps=1e-3), normal(2, 3, 4)),
    Case(S("LayerNorm", 5, elementwise_affine=False), normal(2, 2, 5)),
    Case(S("Dropout", 0.3), normal(4, 5), fresh=True),
    Case(S("Dropout", 0.5), normal(3, 4), mode="eval"),
    Case(S("Embedding", 7, 3), indices(7, 2, 4)),
    Case(S("Embedding", 6, 2, padding_idx=2), indices(6, 3, 3, include=2)),
    rnn_case("RNN", 3, 4, 3, 2),
    rnn_case("RNN", 3, 4, 3, 2, nonlinearity="relu", hx=True, dh_n=True),
    rnn_case("RNN", 2, 3, 4, 2, batch_first=True, hx=True),
    rnn_case("RNN", 3, 2, 3, None, bias=False, dh_n=True),
    rnn_case("LSTM", 3, 4, 3, 2),
    rnn_case("LSTM", 3, 3, 3, 2, hx=True, dh_n=True),
    rnn_case("LSTM", 2, 3, 3, 2, batch_first=True, dh_n=True),
    rnn_case("LSTM", 3, 2, 4, None, hx=True, bias=False),
    rnn_case("GRU", 3, 4, 3, 2),
    rnn_case("GRU", 3, 3, 3, 2, hx=True, dh_n=True),
    rnn_case("GRU", 2, 3, 3, 2, batch_first=True, hx=True, dh_n=True),
    rnn_case("GRU", 3, 2, 4, None, bias=False),
    # torch ignores batch_first for an unbatched (T, input_size) input
    rnn_case("GRU", 2, 3, 3, None, batch_first=True, hx=True, dh_n=True),
    rnn_case("LSTM", 2, 2, 3, None, batch_first=True, dh_n=True),
    Case(S("ReLU"), away_from_zero(3, 4)),
    Case(S("LeakyReLU"), away_from_zero(3, 4)),
    Case(S("LeakyReLU", 0.2), away_from_zero(2, 3, 2)),
    Case(S("Sigmoid"), normal(3, 4, scale=3)),
    Case(S("Tanh"), normal(3, 4, scale=2)),
    Case(S("Softmax", 1), normal(3, 4, scale=2)),
    Case(S("Softmax", -1), normal(2, 3, 4, scale=2)),
    Case(S("Softmax", 0), normal(3, 2, scale=2)),
    Case(S("GELU"), normal(3, 4, scale=2)),
    Case(S("GELU", approximate="tanh"), normal(3, 4, scale=2)),
    Case(S("SiLU"), normal(3, 4, scale=3)),
    Case(S("Flatten"), normal(2, 3, 2, 2)),
    Case(S("Flatten", 0, 2), normal(2, 3, 2, 2)),
    Case(S("Flatten", 1, 2), normal(2, 3, 2, 2)),
    Case(Seq(S("Linear", 4, 5), S("Tanh"), S("Linear", 5, 3)), normal(3, 4)),
    Case(Seq(S("Conv2d", 2, 3, 3, padding=1), S("ReLU"), S("MaxPool2d", 2), S("Flatten"), S("Linear", 12, 2)),
         normal(2, 2, 4, 4)),
    Case(Seq(S("Linear", 3, 4), S("BatchNorm1d", 4), S("Tanh"), S("Linear", 4, 2, bias=False)), normal(5, 3)),
    Case(Res(S("Linear", 4, 4), S("Tanh")), normal(3, 4)),
    Case(Res(S("Conv2d", 2, 2, 3, padding="same"), S("Tanh"), S("Conv2d", 2, 2, 1)), normal(2, 2, 3, 3)),
    Case(S("MSELoss"), loss_inputs("MSELoss", 3, 4), note="3x4"),
    Case(S("MSELoss"), loss_inputs("MSELoss", 5), note="5"),
    Case(S("BCEWithLogitsLoss"), loss_inputs("BCEWithLogitsLoss", 3, 4), note="3x4"),
    Case(S("BCEWithLogitsLoss"), loss_inputs("BCEWithLogitsLoss", 6), note="6"),
    Case(S("CrossEntropyLoss"), loss_inputs("CrossEntropyLoss", 4, 5), note="4x5"),
    Case(S("CrossEntropyLoss"), loss_inputs("CrossEntropyLoss", 1, 3), note="1x3"),
    Case(S("CrossEntropyLoss"), loss_inputs("CrossEntropyLoss", 2, 4, 3), note="2x4x3"),
    Case(S("MSELoss", reduction="sum"), loss_inputs("MSELoss", 2, 3), note="2x3"),
    Case(S("BCEWithLogitsLoss", reduction="sum"), loss_inputs("BCEWithLogitsLoss", 2, 3), note="2x3"),
    Case(S("CrossEntropyLoss", reduction="sum"), loss_inputs("CrossEntropyLoss", 3, 4), note="3x4"),
]

CASE_IDS = [c.id for c in CASES]
LAYER_CASES = [c for c in CASES if c.kind != "loss"]


def first_case(name):
    return next(c for c in CASES if c.name == name)


# --------------------------------------------------------------------------------------
# randomised configurations (for the torch comparisons)
# --------------------------------------------------------------------------------------


def _ints(rng, low, high, n):
    return tuple(int(v) for v in rng.integers(low, high, n))


def _maybe_int(rng, t):
    """A 1-tuple or a square pair may also be given as an int, as torch allows."""
    if len(set(t)) == 1 and rng.random() < 0.5:
        return t[0]
    return t


def _rand_conv(rng, nd):
    name = f"Conv{nd}d"
    cin, cout = _ints(rng, 1, 4, 2)
    k = _ints(rng, 1, 5, nd)
    d = _ints(rng, 1, 3, nd)
    mode = rng.integers(0, 4)
    if mode == 0:
        padding, s, pads = "same", (1,) * nd, [di * (ki - 1) for ki, di in zip(k, d)]
    elif mode == 1:
        padding, s, pads = "valid", _ints(rng, 1, 4, nd), [0] * nd
    else:
        p = _ints(rng, 0, 3, nd)
        padding, s, pads = _maybe_int(rng, p), _ints(rng, 1, 4, nd), [2 * pi for pi in p]
    span = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
    size = [max(1, sp - pd) + int(rng.integers(0, 4)) for sp, pd in zip(span, pads)]
    kw = dict(stride=_maybe_int(rng, s), padding=padding, dilation=_maybe_int(rng, d))
    if padding == "same":
        del kw["stride"]
    if rng.random() < 0.3:
        kw["bias"] = False
    N = int(rng.integers(1, 3))
    return Case(S(name, cin, cout, _maybe_int(rng, k), **kw), normal(N, cin, *size))


def _rand_pool(rng, name):
    nd = int(name[-2])
    k = _ints(rng, 1, 5, nd)
    p = tuple(int(rng.integers(0, ki // 2 + 1)) for ki in k)
    kw = {}
    if rng.random() < 0.7:
        kw["stride"] = _maybe_int(rng, _ints(rng, 1, 6, nd))  # often larger than the kernel
    if any(p) or rng.random() < 0.5:
        kw["padding"] = _maybe_int(rng, p)
    if name.startswith("Avg") and rng.random() < 0.6:
        kw["count_include_pad"] = False
    size = [max(1, ki - 2 * pi) + int(rng.integers(0, 5)) for ki, pi in zip(k, p)]
    shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *size)
    maker = ties(*shape) if name.startswith("Max") and rng.random() < 0.6 else normal(*shape)
    return Case(S(name, _maybe_int(rng, k), **kw), maker)


def _rand_batchnorm(rng, name):
    C = int(rng.integers(1, 5))
    kw = {}
    if rng.random() < 0.5:
        kw["eps"] = float(rng.choice([1e-5, 1e-3, 0.1]))
    if rng.random() < 0.5:
        kw["momentum"] = float(rng.uniform(0.05, 0.9))
    if rng.random() < 0.3:
        kw["affine"] = False
    N = int(rng.integers(2, 5))
    if name == "BatchNorm2d":
        shape = (N, C, int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    else:
        shape = (N, C) if rng.random() < 0.5 else (N, C, int(rng.integers(1, 4)))
    return Case(S(name, C, **kw), normal(*shape, scale=float(rng.uniform(0.5, 3))),
                mode="eval" if rng.random() < 0.4 else "train")


def _rand_layernorm(rng):
    nd = int(rng.integers(1, 4))
    trailing = _ints(rng, 1, 5, nd)
    lead = _ints(rng, 1, 4, int(rng.integers(0, 3)))
    shape = trailing[0] if nd == 1 and rng.random() < 0.5 else trailing
    kw = {}
    if rng.random() < 0.4:
        kw["eps"] = float(rng.choice([1e-5, 1e-3, 0.1]))
    if rng.random() < 0.3:
        kw["elementwise_affine"] = False
    return Case(S("LayerNorm", shape, **kw), normal(*lead, *trailing, scale=float(rng.uniform(0.5, 3))))


def _rand_recurrent(rng, name):
    input_size, hidden_size = _ints(rng, 1, 5, 2)
    T = int(rng.integers(1, 5))
    N = None if rng.random() < 0.2 else int(rng.integers(1, 4))
    kw = {}
    if name == "RNN" and rng.random() < 0.5:
        kw["nonlinearity"] = "relu"
    if rng.random() < 0.3:
        kw["bias"] = False
    return rnn_case(name, input_size, hidden_size, T, N, batch_first=N is not None and bool(rng.random() < 0.5),
                    hx=bool(rng.random() < 0.5), dh_n=bool(rng.random() < 0.5), **kw)


def _rand_activation(rng, name):
    shape = _ints(rng, 1, 5, int(rng.integers(1, 4)))
    scale = float(rng.choice([0.5, 2.0, 5.0]))
    args, kw = (), {}
    if name == "LeakyReLU" and rng.random() < 0.7:
        args = (float(rng.uniform(0.01, 0.5)),)
    if name == "Softmax":
        args = (int(rng.integers(-len(shape), len(shape))),)
    if name == "GELU" and rng.random() < 0.5:
        kw["approximate"] = "tanh"
    return Case(S(name, *args, **kw), normal(*shape, scale=scale))


def _rand_flatten(rng):
    nd = int(rng.integers(1, 5))
    shape = _ints(rng, 1, 4, nd)
    start = int(rng.integers(0, nd))
    end = int(rng.integers(start, nd))
    # also the negative spellings
    if rng.random() < 0.5:
        end -= nd
    args = (start, end) if rng.random() < 0.7 else ()
    if not args:
        shape = _ints(rng, 1, 4, int(rng.integers(2, 5)))
    return Case(S("Flatten", *args), normal(*shape))


def _rand_embedding(rng):
    num, dim = int(rng.integers(2, 9)), int(rng.integers(1, 5))
    shape = _ints(rng, 1, 4, int(rng.integers(1, 4)))
    if rng.random() < 0.5:
        pad = int(rng.integers(0, num))
        return Case(S("Embedding", num, dim, padding_idx=pad), indices(num, *shape, include=pad))
    return Case(S("Embedding", num, dim), indices(num, *shape))


def _rand_dropout(rng):
    shape = _ints(rng, 1, 5, int(rng.integers(1, 4)))
    if rng.random() < 0.3:
        return Case(S("Dropout", 0.0), normal(*shape))  # p=0 in training: the identity
    return Case(S("Dropout", float(rng.uniform(0.05, 0.95))), normal(*shape), mode="eval")


def _rand_loss(rng, name):
    if name == "CrossEntropyLoss":
        shape = (int(rng.integers(1, 6)), int(rng.integers(2, 6))) + _ints(rng, 1, 4, int(rng.random() < 0.2))
    else:
        shape = _ints(rng, 1, 5, int(rng.integers(1, 4)))
    make = loss_inputs(name, *shape)
    scale = float(rng.choice([0.5, 1.0, 4.0]))

    def scaled(r):
        out = make(r)
        out["x"] = scale * out["x"]
        return out
    return Case(S(name, **({"reduction": "sum"} if rng.random() < 0.3 else {})), scaled)


def _rand_sequential(rng, name):
    n_in = int(rng.integers(1, 5))
    width = n_in
    children = []
    for _ in range(int(rng.integers(1, 4))):
        choice = rng.integers(0, 4)
        if choice == 0 or name == "Sequential" and choice == 3:
            out = int(rng.integers(1, 5)) if name == "Sequential" else width
            children.append(S("Linear", width, out, bias=bool(rng.random() < 0.7)))
            width = out
        elif choice == 1:
            children.append(S(str(rng.choice(["Tanh", "Sigmoid", "SiLU", "GELU"]))))
        elif choice == 2:
            children.append(S("LayerNorm", width))
        else:
            children.append(S("LeakyReLU", 0.1))
    spec = Spec(name, children=tuple(children))
    return Case(spec, normal(int(rng.integers(1, 4)), n_in))


RANDOM_MAKERS = {
    "Linear": lambda rng: Case(S("Linear", *_ints(rng, 1, 6, 2), bias=bool(rng.random() < 0.7)), None),
    "Conv1d": lambda rng: _rand_conv(rng, 1),
    "Conv2d": lambda rng: _rand_conv(rng, 2),
    **{n: (lambda n: lambda rng: _rand_pool(rng, n))(n) for n in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d")},
    "BatchNorm1d": lambda rng: _rand_batchnorm(rng, "BatchNorm1d"),
    "BatchNorm2d": lambda rng: _rand_batchnorm(rng, "BatchNorm2d"),
    "LayerNorm": _rand_layernorm,
    "Dropout": _rand_dropout,
    "Embedding": _rand_embedding,
    **{n: (lambda n: lambda rng: _rand_recurrent(rng, n))(n) for n in ("RNN", "LSTM", "GRU")},
    **{n: (lambda n: lambda rng: _rand_activation(rng, n))(n)
       for n in ("ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "GELU", "SiLU")},
    "Flatten": _rand_flatten,
    "Sequential": lambda rng: _rand_sequential(rng, "Sequential"),
    "Residual": lambda rng: _rand_sequential(rng, "Residual"),
    **{n: (lambda n: lambda rng: _rand_loss(rng, n))(n) for n in LOSSES},
}


def random_case(name, seed):
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    case = RANDOM_MAKERS[name](rng)
    if name == "Linear":
        in_f = case.spec.args[0]
        lead = _ints(rng, 1, 4, int(rng.integers(0, 3)))
        case.inputs = normal(*lead, in_f)
    case.note = f"random{seed}"
    return case


# --------------------------------------------------------------------------------------
# building our layer and its torch twin
# --------------------------------------------------------------------------------------


def build_ours(spec, rng=None, *, float64=True, resolve=None, seed=0):
    """Our layer for `spec`. With float64, every parameter is replaced by a float64 array
    (the initial values plus a little noise, so that ones and zeros become generic)."""
    resolve = resolve or (lambda name: getattr(layers, name))
    if spec.name in CONTAINERS:
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


class TorchResidual(torch.nn.Sequential):
    """The torch twin of our Residual: x + f(x), parameters named like Sequential's."""

    def forward(self, x):
        return x + super().forward(x)


def build_torch(spec):
    if spec.name == "Residual":
        return TorchResidual(*[build_torch(c) for c in spec.children]).double()
    if spec.name == "Sequential":
        return torch.nn.Sequential(*[build_torch(c) for c in spec.children]).double()
    return getattr(torch.nn, spec.name)(*spec.args, **spec.kwargs).double()


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

DIFFERENTIABLE = ("x", "h0", "c0")


def hidden_shape(case, x):
    H = case.spec.args[1]
    if x.ndim == 2:
        return (1, H)
    return (1, x.shape[0] if case.spec.kwargs.get("batch_first") else x.shape[1], H)


def forward_ours(layer, case, inp):
    """The list of outputs of our layer (a loss gives a one-element array)."""
    kind = case.kind
    if kind == "loss":
        return [np.asarray(layer(inp["x"], inp["target"]))]
    if kind == "embedding":
        return [layer(inp["idx"])]
    if kind == "rnn":
        out, h_n = layer(inp["x"], inp.get("h0"))
        return [out, h_n]
    if kind == "lstm":
        hx = (inp["h0"], inp["c0"]) if "h0" in inp else None
        out, (h_n, c_n) = layer(inp["x"], hx)
        return [out, h_n, c_n]
    return [layer(inp["x"])]


def projections(case, outputs, rng):
    """Random output gradients g; the objective is sum(y * g). Zero where not used."""
    gs = [rng.standard_normal(np.shape(y)) for y in outputs]
    if case.kind == "loss":
        gs = [np.ones(())]
    if case.kind in ("rnn", "lstm") and not case.dh_n:
        gs[1:] = [np.zeros_like(g) for g in gs[1:]]
    return gs


def backward_ours(layer, case, gs):
    """Input gradients of our layer, by name ('x', 'h0', 'c0')."""
    kind = case.kind
    if kind == "loss":
        return {"x": layer.backward()}
    if kind == "embedding":
        result = layer.backward(gs[0])
        assert result is None, "Embedding.backward should return None"
        return {}
    if kind == "rnn":
        dx = layer.backward(gs[0], gs[1] if case.dh_n else None)
        return {"x": dx, "h0": layer.dh0}
    if kind == "lstm":
        dx = layer.backward(gs[0], *(gs[1:] if case.dh_n else (None, None)))
        return {"x": dx, "h0": layer.dh0, "c0": layer.dc0}
    return {"x": layer.backward(gs[0])}


def objective(outputs, gs):
    return float(sum(np.sum(np.asarray(y, dtype=np.float64) * g) for y, g in zip(outputs, gs)))


def torch_inputs(case, inp):
    tin = {}
    for key, value in inp.items():
        t = torch.from_numpy(np.array(value))
        if key in DIFFERENTIABLE:
            t.requires_grad_(True)
        tin[key] = t
    if case.kind in ("rnn", "lstm") and "h0" not in inp:
        # our hx=None means zeros; torch's gradient with respect to them is our dh0
        shape = hidden_shape(case, inp["x"])
        tin["h0"] = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        if case.kind == "lstm":
            tin["c0"] = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    return tin


def forward_torch(module, case, tin):
    kind = case.kind
    if kind == "loss":
        return [module(tin["x"], tin["target"])]
    if kind == "embedding":
        return [module(tin["idx"])]
    if kind == "rnn":
        return list(module(tin["x"], tin["h0"]))
    if kind == "lstm":
        out, (h_n, c_n) = module(tin["x"], (tin["h0"], tin["c0"]))
        return [out, h_n, c_n]
    return [module(tin["x"])]


# --------------------------------------------------------------------------------------
# comparisons
# --------------------------------------------------------------------------------------


def assert_close(actual, desired, what="", rtol=1e-7):
    """Float64 agreement: relative 1e-7, absolute 1e-10 of the values' scale (at least 1)."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape, f"{what}: shape {actual.shape} != {desired.shape}"
    scale = max(1.0, float(np.max(np.abs(desired), initial=0.0)))
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
