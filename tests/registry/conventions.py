"""Call conventions: how the tests call a class, build its torch twin and differentiate it.

Each registry entry names one adapter. The generic tests (gradcheck, torch parity, dtype, bad
input, copy) only call the adapter's methods, so a new calling convention is a new adapter
class here, not a new branch in every test. The methods:

- `build_torch(spec, build)`: the torch.nn twin of `spec` (float64 is applied by the caller);
  `build` builds a child spec (containers).
- `torch_class(name)`, `torch_signature(name)`: the torch class and its `[(arg, default)]`, for
  the contract test.
- `forward_ours(layer, inp, call=None)` / `forward_torch(module, tin)`: the list of outputs
  (`call` replaces `layer.__call__`, e.g. by `layer.forward`).
- `torch_inputs(case, inp)`: torch tensors of the inputs (gradients on `differentiable` keys).
- `projections(case, outputs, rng)`: output gradients g; the objective is sum(y * g).
- `backward_ours(layer, case, gs)`: input gradients by input name.
- `differentiable`: the input names that get a gradient; `float_inputs`: other floating
  inputs cast with them in the dtype tests.
- `runs_forward` (the generic tests run the entry's cases through forward and backward),
  `is_layer` (params, grads, training, train/eval, forward/backward), `takes_dy` (backward
  takes an output gradient), `rejects_integer_input` (integer input is a TypeError).
"""

import inspect

import numpy as np
import torch

REQUIRED = object()  # a default for an argument that has none


def default_of(p):
    return REQUIRED if p.default is inspect.Parameter.empty else p.default


def _tensor(value, requires_grad):
    t = torch.from_numpy(np.array(value))
    if requires_grad:
        t.requires_grad_(True)
    return t


class Plain:
    """`y = layer(x, **options)`, `dx = layer.backward(dy)`: one input 'x', one output.

    `options`: names of extra keyword inputs (masks ...) passed to forward when a case's
    input maker gives them; they are not differentiated.
    """

    differentiable = ("x",)
    float_inputs = ()
    runs_forward = True
    is_layer = True
    takes_dy = True
    rejects_integer_input = True

    def __init__(self, options=()):
        self.options = tuple(options)

    def __repr__(self):
        return type(self).__name__

    # -- torch's class --------------------------------------------------------------------
    def torch_class(self, name):
        return getattr(torch.nn, name)

    def torch_signature(self, name):
        params = inspect.signature(self.torch_class(name)).parameters.values()
        return [(p.name, default_of(p)) for p in params if p.kind != p.VAR_KEYWORD]

    def build_torch(self, spec, build):
        return self.torch_class(spec.name)(*spec.args, **spec.kwargs)

    # -- forward ---------------------------------------------------------------------------
    def _options(self, inp):
        return {k: inp[k] for k in self.options if k in inp}

    def forward_ours(self, layer, inp, call=None):
        return [(call or layer)(inp["x"], **self._options(inp))]

    def forward_torch(self, module, tin):
        return [module(tin["x"], **self._options(tin))]

    def torch_inputs(self, case, inp):
        return {k: _tensor(v, k in self.differentiable) if isinstance(v, np.ndarray) else v
                for k, v in inp.items()}

    def check_result(self, layer, inp):
        """Extra checks on a float64 forward (a loss returns a Python float)."""

    # -- backward --------------------------------------------------------------------------
    def projections(self, case, outputs, rng):
        return [rng.standard_normal(np.shape(y)) for y in outputs]

    def backward_ours(self, layer, case, gs):
        return {"x": layer.backward(gs[0])}

    def check_gradient_shapes(self, case, inp, analytic):
        """Gradients of inputs the case did not give (recurrent hx=None)."""

    def fix_numeric(self, case, key, grad, numeric):
        """Adjust a numeric parameter gradient where the layer defines its own (padding_idx)."""

    def backward_before_forward(self, layer):
        return layer.backward(np.ones((2, 3)))

    # -- dtypes ------------------------------------------------------------------------------
    def cast(self, inp, dtype):
        return {k: (v.astype(dtype) if k in self.differentiable
                    or (k in self.float_inputs and np.asarray(v).dtype.kind == "f") else v)
                for k, v in inp.items()}

    def output_dtype(self, dtype):
        """The dtype of every output for inputs of `dtype` and float32 parameters (None: no check)."""
        return dtype


class Container(Plain):
    """`Sequential`/`Residual`: called as Plain; the spec has children; the twin is `torch_cls`
    of the children's twins."""

    rejects_integer_input = False  # the children check their own input

    def __init__(self, torch_cls):
        super().__init__()
        self.torch_cls = torch_cls

    def torch_class(self, name):
        return self.torch_cls

    def build_torch(self, spec, build):
        return self.torch_cls(*[build(c) for c in spec.children])


class Recurrent(Plain):
    """`out, h_n = layer(x, h0)` (RNN, GRU) or `out, (h_n, c_n) = layer(x, (h0, c0))` (LSTM,
    `cell_state=True`); `dx = layer.backward(d_out, dh_n[, dc_n])` and `layer.dh0` (`layer.dc0`)."""

    def __init__(self, cell_state=False):
        super().__init__()
        self.cell_state = cell_state
        self.differentiable = ("x", "h0", "c0") if cell_state else ("x", "h0")

    def torch_signature(self, name):
        """The recurrent classes take *args: read RNNBase."""
        params = [p for p in inspect.signature(torch.nn.RNNBase).parameters.values() if p.name != "mode"]
        out = [(p.name, default_of(p)) for p in params]
        module = self.torch_class(name)(1, 1)
        if hasattr(module, "nonlinearity"):  # a keyword of RNN.__init__; its default is what it has
            out.append(("nonlinearity", module.nonlinearity))
        return out

    def hidden_shape(self, case, x):
        """(num_layers * num_directions, N, H), or without N for an unbatched input."""
        args, kw = case.spec.args, case.spec.kwargs
        H = args[1]
        rows = kw.get("num_layers", args[2] if len(args) > 2 else 1) * (2 if kw.get("bidirectional") else 1)
        if x.ndim == 2:
            return (rows, H)
        return (rows, x.shape[0] if kw.get("batch_first") else x.shape[1], H)

    def forward_ours(self, layer, inp, call=None):
        f = call or layer
        if self.cell_state:
            hx = (inp["h0"], inp["c0"]) if "h0" in inp else None
            out, (h_n, c_n) = f(inp["x"], hx)
            return [out, h_n, c_n]
        out, h_n = f(inp["x"], inp.get("h0"))
        return [out, h_n]

    def forward_torch(self, module, tin):
        if self.cell_state:
            out, (h_n, c_n) = module(tin["x"], (tin["h0"], tin["c0"]))
            return [out, h_n, c_n]
        return list(module(tin["x"], tin["h0"]))

    def torch_inputs(self, case, inp):
        tin = super().torch_inputs(case, inp)
        if "h0" not in inp:
            # our hx=None means zeros; torch's gradient with respect to them is our dh0
            shape = self.hidden_shape(case, inp["x"])
            for key in self.differentiable[1:]:
                tin[key] = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
        return tin

    def projections(self, case, outputs, rng):
        gs = super().projections(case, outputs, rng)
        if not case.dh_n:
            gs[1:] = [np.zeros_like(g) for g in gs[1:]]
        return gs

    def backward_ours(self, layer, case, gs):
        dx = layer.backward(gs[0], *(gs[1:] if case.dh_n else [None] * (len(gs) - 1)))
        out = {"x": dx, "h0": layer.dh0}
        if self.cell_state:
            out["c0"] = layer.dc0
        return out

    def check_gradient_shapes(self, case, inp, analytic):
        if "h0" not in inp:  # hx=None means zeros: dh0 still has the shape of the initial state
            shape = self.hidden_shape(case, inp["x"])
            for key in self.differentiable[1:]:
                assert np.shape(analytic[key]) == shape, f"d{key}: {np.shape(analytic[key])} != {shape}"


class Embedding(Plain):
    """`y = layer(idx)` on integer indices; `backward(dy)` returns None and fills grads."""

    differentiable = ()
    rejects_integer_input = False

    def forward_ours(self, layer, inp, call=None):
        return [(call or layer)(inp["idx"])]

    def forward_torch(self, module, tin):
        return [module(tin["idx"])]

    def backward_ours(self, layer, case, gs):
        result = layer.backward(gs[0])
        assert result is None, f"{case.name}.backward should return None"
        return {}

    def fix_numeric(self, case, key, grad, numeric):
        pad = case.spec.kwargs.get("padding_idx")
        if pad is not None:
            assert np.all(grad[pad] == 0), "the padding_idx row must get no gradient"
            numeric[pad] = 0.0

    def output_dtype(self, dtype):
        return np.float32  # the weight's dtype (created float32)


class Loss(Plain):
    """`value = loss(x, target)` (a Python float), `dx = loss.backward()`."""

    float_inputs = ("target",)
    is_layer = False
    takes_dy = False
    rejects_integer_input = False  # tested on its own (test_bad_input)

    def forward_ours(self, layer, inp, call=None):
        return [np.asarray((call or layer)(inp["x"], inp["target"]))]

    def forward_torch(self, module, tin):
        return [module(tin["x"], tin["target"])]

    def check_result(self, layer, inp):
        assert type(layer(inp["x"], inp["target"])) is float, "a loss returns a Python float"

    def projections(self, case, outputs, rng):
        return [np.ones(())]

    def backward_ours(self, layer, case, gs):
        return {"x": layer.backward()}

    def backward_before_forward(self, layer):
        return layer.backward()

    def output_dtype(self, dtype):
        return None


class Attention(Plain):
    """`out, weights = layer(query, key, value, key_padding_mask=, need_weights=, attn_mask=,
    average_attn_weights=)` (weights None when need_weights=False), as torch's
    MultiheadAttention; `dq, dk, dv = layer.backward(d_out)`. The weights are not
    differentiated (their projection is zero). An input maker returns 'query', 'key', 'value'
    (three distinct arrays, even for self-attention) and any of the options."""

    differentiable = ("query", "key", "value")
    float_inputs = ("attn_mask", "key_padding_mask")

    def __init__(self, options=("key_padding_mask", "need_weights", "attn_mask", "average_attn_weights")):
        super().__init__(options)

    def forward_ours(self, layer, inp, call=None):
        out, weights = (call or layer)(inp["query"], inp["key"], inp["value"], **self._options(inp))
        return [out] if weights is None else [out, weights]

    def forward_torch(self, module, tin):
        out, weights = module(tin["query"], tin["key"], tin["value"], **self._options(tin))
        return [out] if weights is None else [out, weights]

    def projections(self, case, outputs, rng):
        gs = super().projections(case, outputs, rng)
        gs[1:] = [np.zeros_like(g) for g in gs[1:]]
        return gs

    def backward_ours(self, layer, case, gs):
        dq, dk, dv = layer.backward(gs[0])
        return {"query": dq, "key": dk, "value": dv}


class Optimiser(Plain):
    """`opt = cls(model, **kwargs)`, `opt.step()`; the twin is torch.optim's class on the twin's
    parameters. A case's spec holds the optimiser's keyword arguments (`S('SGD', lr=0.1)`)."""

    differentiable = ()
    runs_forward = False
    is_layer = False
    takes_dy = False
    rejects_integer_input = False
    skip_positional = 1  # torch's `params`, our `model`

    def torch_class(self, name):
        return getattr(torch.optim, name)

    def torch_signature(self, name):
        params = list(inspect.signature(self.torch_class(name)).parameters.values())[1:]
        return [(p.name, default_of(p)) for p in params]

    def make_ours(self, cls, model, spec):
        return cls(model, *spec.args, **spec.kwargs)

    def make_torch(self, name, parameters, spec):
        return self.torch_class(name)(parameters, *spec.args, **spec.kwargs)


class Tool(Plain):
    """A training tool that is not a layer (weight penalty, early stopping): its entry's
    `exercise` and its own tests say how it is used."""

    differentiable = ()
    runs_forward = False
    is_layer = False
    takes_dy = False
    rejects_integer_input = False


PLAIN = Plain()
