"""AdamW, clip_grad_norm_ and PositionalEncoding (issue 11): float64 parity with torch,
the sinusoidal formula, shapes, layouts, dtypes and bad input."""

import math

import numpy as np
import pytest
import torch

import helpers as h
import layers
from layers import AdamW, Linear, PositionalEncoding, Sequential, Tanh, clip_grad_norm_


def _models(seed):
    """Our float64 two-layer model and its torch twin with the same weights."""
    ours = Sequential(Linear(5, 7, rng=seed), Tanh(), Linear(7, 3, rng=seed + 1))
    for layer in ours.layers:
        for k in layer.params:
            layer.params[k] = layer.params[k].astype(np.float64)
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(ours.params[name]))
    return ours, theirs


def _backward_both(ours, theirs, rng):
    x = rng.standard_normal((4, 5))
    target = rng.standard_normal((4, 3))
    y = ours(x)
    ours.backward(2 * (y - target) / y.size)
    theirs.zero_grad()
    loss = ((theirs(torch.from_numpy(x)) - torch.from_numpy(target)) ** 2).mean()
    loss.backward()


ADAMW_CONFIGS = [
    dict(),
    dict(lr=0.05),
    dict(lr=0.01, weight_decay=0.0),
    dict(lr=0.02, weight_decay=0.3),
    dict(lr=0.1, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.05),
    dict(lr=0.003, betas=(0.0, 0.99), weight_decay=1.0),
]


@pytest.mark.parametrize("config", ADAMW_CONFIGS, ids=[str(c) for c in ADAMW_CONFIGS])
def test_adamw_matches_torch_over_several_steps(config):
    rng = np.random.default_rng(1)
    ours, theirs = _models(3)
    opt_ours = AdamW(ours, **config)
    opt_theirs = torch.optim.AdamW(theirs.parameters(), **config)
    for step in range(8):
        _backward_both(ours, theirs, rng)
        for name, p in theirs.named_parameters():  # the same gradients go in
            h.assert_close(ours.grads[name], p.grad.numpy(), f"grad {name} at step {step}")
        opt_ours.step()
        opt_theirs.step()
        for name, p in theirs.named_parameters():
            h.assert_close(ours.params[name], p.detach().numpy(), f"{name} after step {step + 1}")


def test_adamw_decay_is_decoupled_from_the_gradient():
    """With a zero gradient Adam's update is zero; AdamW still shrinks every weight by 1 - lr*wd."""
    layer = Linear(3, 2, rng=0)
    layer.params = {k: v.astype(np.float64) for k, v in layer.params.items()}
    before = {k: v.copy() for k, v in layer.params.items()}
    layer.grads = {k: np.zeros_like(v) for k, v in layer.params.items()}
    AdamW(layer, lr=0.1, weight_decay=0.2).step()
    for k in before:
        np.testing.assert_allclose(layer.params[k], before[k] * (1 - 0.1 * 0.2), rtol=1e-15)


def test_adamw_keeps_float32_parameters_float32():
    layer = Linear(3, 2, rng=0)
    layer.grads = {k: np.ones_like(v) for k, v in layer.params.items()}
    AdamW(layer, lr=0.1).step()
    assert all(p.dtype == np.float32 for p in layer.params.values())


def test_adamw_bad_arguments_and_missing_gradient():
    layer = Linear(3, 2, rng=0)
    for bad in (dict(lr=-1.0), dict(betas=(1.0, 0.9)), dict(weight_decay=-0.1), dict(eps=-1.0)):
        with pytest.raises(ValueError, match="^AdamW"):
            AdamW(layer, **bad)
    with pytest.raises(RuntimeError, match="^AdamW.*backward"):
        AdamW(layer).step()


@pytest.mark.parametrize("max_norm", [0.0, 0.01, 0.3, 1.0, 2.5, 1e6])
def test_clip_grad_norm_matches_torch(max_norm):
    rng = np.random.default_rng(7)
    ours, theirs = _models(5)
    _backward_both(ours, theirs, rng)
    for layer in ours.layers:  # larger gradients, so that most max_norm values clip
        for k in layer.grads:
            layer.grads[k] *= 10
    for p in theirs.parameters():
        p.grad.mul_(10)
    norm = clip_grad_norm_(ours, max_norm)
    expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm)
    assert isinstance(norm, float)
    h.assert_close(norm, expected.item(), "returned norm")
    for name, p in theirs.named_parameters():
        h.assert_close(ours.grads[name], p.grad.numpy(), f"clipped grad {name}")


def test_clip_grad_norm_scales_in_place_and_keeps_the_direction():
    layer = Linear(4, 3, rng=0)
    g = {"weight": np.full((3, 4), 2.0), "bias": np.full(3, 2.0)}
    layer.grads = dict(g)
    arrays = dict(layer.grads)
    norm = clip_grad_norm_(layer, 1.0)
    assert norm == pytest.approx(math.sqrt(15 * 4.0), rel=1e-15)
    for k in g:
        assert layer.grads[k] is arrays[k]  # the same arrays, scaled in place
    total = math.sqrt(sum(float(np.sum(v ** 2)) for v in layer.grads.values()))
    assert total == pytest.approx(1.0, rel=1e-5)
    assert np.all(layer.grads["weight"] == layer.grads["weight"].flat[0])


def test_clip_grad_norm_float32_large_gradients_do_not_overflow():
    layer = Linear(2, 1, rng=0)
    layer.grads = {"weight": np.full((1, 2), 1e20, dtype=np.float32), "bias": np.zeros(1, np.float32)}
    norm = clip_grad_norm_(layer, 1.0)
    assert norm == pytest.approx(math.sqrt(2) * 1e20, rel=1e-6)
    assert layer.grads["weight"].dtype == np.float32
    np.testing.assert_allclose(layer.grads["weight"], [[2 ** -0.5, 2 ** -0.5]], rtol=1e-6)


def test_clip_grad_norm_bad_max_norm():
    with pytest.raises(ValueError, match="^clip_grad_norm_"):
        clip_grad_norm_(Linear(2, 1, rng=0), -1.0)


def _pe_formula(max_len, d):
    """The table of Vaswani et al. (2017), element by element with math.sin/math.cos."""
    pe = np.zeros((max_len, d))
    for t in range(max_len):
        for i in range(0, d, 2):
            pe[t, i] = math.sin(t / 10000 ** (i / d))
            if i + 1 < d:
                pe[t, i + 1] = math.cos(t / 10000 ** (i / d))
    return pe


@pytest.mark.parametrize("d_model", [1, 2, 5, 16, 33])
def test_positional_encoding_is_the_formula(d_model):
    encode = PositionalEncoding(d_model, max_len=60)
    assert encode.pe.shape == (60, d_model) and encode.pe.dtype == np.float64
    h.assert_close(encode.pe, _pe_formula(60, d_model), "pe")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_positional_encoding_adds_the_table_along_the_sequence_axis(batch_first, dtype):
    rng = np.random.default_rng(0)
    L, N, d = 7, 3, 6
    shape = (N, L, d) if batch_first else (L, N, d)
    x = rng.standard_normal(shape).astype(dtype)
    encode = PositionalEncoding(d, max_len=10, batch_first=batch_first)
    y = encode(x)
    assert y.shape == shape and y.dtype == dtype
    table = _pe_formula(L, d)
    for n in range(N):
        added = (y - x)[n] if batch_first else (y - x)[:, n]
        np.testing.assert_allclose(added, table, rtol=0, atol=1e-6 if dtype == np.float32 else 1e-15)
    dy = rng.standard_normal(shape).astype(dtype)
    dx = encode.backward(dy)
    np.testing.assert_array_equal(dx, dy)
    assert encode.params == {} and encode.grads == {}


def test_positional_encoding_dropout_training_and_eval():
    x = np.full((50, 4, 8), 10.0)  # x + PE is never 0: a zero in y is a dropped element
    encode = PositionalEncoding(8, dropout=0.5, rng=0)
    y = encode(x)
    table = PositionalEncoding(8)(x)
    kept = y != 0
    assert 0.3 < kept.mean() < 0.7
    np.testing.assert_allclose(y[kept], 2 * table[kept], rtol=1e-15)
    dx = encode.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, 2.0 * kept)
    np.testing.assert_array_equal(encode.eval()(x), table)
    assert encode.training is False and encode.train().training is True
    again = PositionalEncoding(8, dropout=0.5, rng=0)(x)
    np.testing.assert_array_equal(again, y)  # randomness only through rng


def test_positional_encoding_is_stable_at_large_inputs():
    x = np.full((5, 2, 4), 1e4, dtype=np.float32)
    y = PositionalEncoding(4, max_len=1000)(x)
    assert np.all(np.isfinite(y)) and y.dtype == np.float32


def test_positional_encoding_fits_in_sequential():
    model = Sequential(PositionalEncoding(4, batch_first=True), Linear(4, 2, rng=0))
    y = model(np.zeros((3, 5, 4)))
    assert y.shape == (3, 5, 2)
    assert model.backward(np.ones_like(y)).shape == (3, 5, 4)


@pytest.mark.parametrize("x, error, words", [
    (np.zeros((5, 2, 3)), ValueError, ["(L, N, d_model)", "d_model=4", "(5, 2, 3)"]),
    (np.zeros((5, 4)), ValueError, ["(L, N, d_model)", "(5, 4)"]),
    (np.zeros((11, 2, 4)), ValueError, ["L <= 10", "(11, 2, 4)"]),
    (np.zeros((5, 2, 4), dtype=np.int64), TypeError, ["floating", "int64"]),
])
def test_positional_encoding_bad_input(x, error, words):
    encode = PositionalEncoding(4, max_len=10)
    with pytest.raises(error) as info:
        encode(x)
    message = str(info.value)
    assert message.startswith("PositionalEncoding")
    for word in words:
        assert word in message


def test_positional_encoding_bad_input_batch_first_and_backward():
    with pytest.raises(ValueError, match=r"\(N, L, d_model\)"):
        PositionalEncoding(4, max_len=10, batch_first=True)(np.zeros((2, 11, 4)))
    encode = PositionalEncoding(4)
    with pytest.raises(RuntimeError, match="^PositionalEncoding.*before forward"):
        encode.backward(np.zeros((1, 1, 4)))
    encode(np.zeros((3, 2, 4)))
    with pytest.raises(ValueError, match=r"^PositionalEncoding.*\(3, 2, 4\).*\(3, 2, 5\)"):
        encode.backward(np.zeros((3, 2, 5)))
    for bad in (dict(d_model=0), dict(d_model=4, max_len=0), dict(d_model=4, dropout=1.5)):
        with pytest.raises(ValueError, match="^PositionalEncoding"):
            PositionalEncoding(**bad)


@pytest.mark.parametrize("name", ["PositionalEncoding", "AdamW", "clip_grad_norm_"])
def test_copied_alone_runs_the_same(name):
    """The source of each, executed alone with only `np`, gives the module's results."""
    import inspect
    namespace = {"np": np}
    exec(compile(inspect.getsource(getattr(layers, name)), f"<copy of {name}>", "exec"), namespace)
    assert set(namespace) - {"__builtins__"} == {"np", name}
    copy = namespace[name]
    results = []
    for impl in (copy, getattr(layers, name)):
        rng = np.random.default_rng(0)
        if name == "PositionalEncoding":
            layer = impl(6, max_len=20, dropout=0.3, batch_first=True, rng=1)
            y = layer(rng.standard_normal((2, 9, 6)))
            results.append([y, layer.backward(np.ones_like(y))])
        else:
            model, _ = _models(2)
            _backward_both(model, _models(2)[1], rng)
            if name == "AdamW":
                opt = impl(model, lr=0.05, weight_decay=0.1)
                opt.step()
                opt.step()
                results.append([model.params[k] for k in sorted(model.params)])
            else:
                norm = impl(model, 0.1)
                results.append([np.array(norm)] + [model.grads[k] for k in sorted(model.grads)])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# -- the model of examples/transformer.md (code/transformer_example.py) ------------------


def test_make_batch_is_digits_separator_reversed_digits():
    import transformer_example as te
    inputs, targets = te.make_batch(np.random.default_rng(0), 5)
    D = te.DIGITS
    assert inputs.shape == targets.shape == (5, 2 * D)
    np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])  # targets are the next tokens
    assert np.all(inputs[:, D] == te.SEP) and np.all(inputs[:, :D] < 10)
    np.testing.assert_array_equal(targets[:, D:], inputs[:, D - 1::-1])  # the answer: the digits reversed


def _torch_twin(model, d_model, nhead, dim_feedforward, num_layers):
    import transformer_example as te

    class Twin(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(te.VOCAB, d_model)
            self.blocks = torch.nn.ModuleList(
                torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0, batch_first=True,
                                                 norm_first=True) for _ in range(num_layers))
            self.head = torch.nn.Linear(d_model, te.VOCAB)

        def forward(self, tokens):
            T = tokens.shape[1]
            mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
            h = self.embed(tokens) + torch.from_numpy(model.position.pe[:T])
            for block in self.blocks:
                h = block(h, src_mask=mask)
            return self.head(h)

    twin = Twin().double()
    twin.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in model.params.items()})
    return twin


def test_tiny_transformer_trains_like_its_torch_twin_in_float64():
    """Five steps of the example's training (loss on the answer, clipping, AdamW) in float64:
    the same losses and parameters as torch, step by step."""
    import transformer_example as te
    config = dict(d_model=8, nhead=2, dim_feedforward=16, num_layers=2)
    model = te.TinyTransformer(**config, rng=0)
    for layer in model._named().values():
        for k in layer.params:
            layer.params[k] = layer.params[k].astype(np.float64)
    twin = _torch_twin(model, **config)
    ours = te.train(model, 5, batch_size=4, lr=0.01, max_norm=0.5, seed=3)
    optimiser = torch.optim.AdamW(twin.parameters(), lr=0.01)
    data = np.random.default_rng(3)
    for step in range(5):
        inputs, targets = te.make_batch(data, 4)
        logits = twin(torch.from_numpy(inputs))[:, te.DIGITS:]
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, te.VOCAB),
                                                 torch.from_numpy(targets[:, te.DIGITS:]).reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.5)
        optimiser.step()
        h.assert_close(ours[step], loss.item(), f"loss at step {step}")
    for name, p in twin.named_parameters():
        h.assert_close(model.params[name], p.detach().numpy(), f"{name} after 5 steps")
