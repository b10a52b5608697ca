"""Attention: MultiheadAttention, TransformerEncoderLayer (PositionalEncoding: append its entry
at the END of ENTRIES). Masks never hide every key from a query here: such a row is nan with
need_weights=True, as in torch; tests/test_attention.py checks those rows against torch."""

import inspect

import numpy as np

from .conventions import Attention, Plain
from .core import Bad, BadArguments, Case, Entry, Page, S

PAGES = [Page("layers/attention", r"attention"), Page("layers/transformer", r"transformer")]


def z(*shape):
    return np.zeros(shape)


def mask_maker(kind, shape):
    """rng -> a boolean mask (True: may not attend) or a float mask (finite values and some -inf);
    the last axis (the keys) keeps key 0 visible, so no query is left without a key."""
    def make(rng):
        hidden = rng.random(shape) < 0.35
        hidden[..., 0] = False
        if kind == "bool":
            return hidden
        return np.where(hidden, -np.inf, rng.standard_normal(shape))
    return make


def seq(N, T, E, batch_first, unbatched=False):
    if unbatched:
        return (T, E)
    return (N, T, E) if batch_first else (T, N, E)


def mha_inputs(L, S_, N, E, *, batch_first=False, unbatched=False, attn_mask=None, key_padding_mask=None,
               **options):
    """rng -> {'query', 'key', 'value', masks, options}; attn_mask / key_padding_mask are
    (kind, shape) pairs, kind 'bool' or 'float'."""
    def make(rng):
        out = {"query": rng.standard_normal(seq(N, L, E, batch_first, unbatched)),
               "key": rng.standard_normal(seq(N, S_, E, batch_first, unbatched)),
               "value": rng.standard_normal(seq(N, S_, E, batch_first, unbatched))}
        if attn_mask is not None:
            out["attn_mask"] = mask_maker(*attn_mask)(rng)
        if key_padding_mask is not None:
            out["key_padding_mask"] = mask_maker(*key_padding_mask)(rng)
        return {**out, **options}
    return make


def tel_inputs(L, N, d, *, batch_first=False, unbatched=False, src_mask=None, src_key_padding_mask=None):
    def make(rng):
        out = {"x": rng.standard_normal(seq(N, L, d, batch_first, unbatched))}
        if src_mask is not None:
            out["src_mask"] = mask_maker(*src_mask)(rng)
        if src_key_padding_mask is not None:
            out["src_key_padding_mask"] = mask_maker(*src_key_padding_mask)(rng)
        return out
    return make


def random_mha(rng):
    H = int(rng.integers(1, 4))
    E = H * int(rng.integers(1, 4))
    N, L, S_ = int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 6))
    unbatched = bool(rng.random() < 0.15)
    N = 1 if unbatched else N
    kw = {}
    if rng.random() < 0.5:
        kw["batch_first"] = True
    if rng.random() < 0.2:
        kw["bias"] = False
    mode = "train"
    if rng.random() < 0.25:  # dropout is the identity in eval mode, in both
        kw["dropout"], mode = 0.5, "eval"
    masks = {}
    kind = str(rng.choice(["bool", "float"]))  # one kind for both masks: torch deprecates mixing them
    if rng.random() < 0.7:
        masks["attn_mask"] = (kind, (N * H, L, S_) if rng.random() < 0.4 else (L, S_))
    if rng.random() < 0.6:
        masks["key_padding_mask"] = (kind, (S_,) if unbatched else (N, S_))
    options = {}
    if rng.random() < 0.3:
        options["need_weights"] = False
    elif rng.random() < 0.5:
        options["average_attn_weights"] = False
    inputs = mha_inputs(L, S_, N, E, batch_first=kw.get("batch_first", False), unbatched=unbatched, **masks,
                        **options)
    return Case(S("MultiheadAttention", E, H, **kw), inputs, mode=mode)


def random_tel(rng):
    H = int(rng.integers(1, 4))
    d = H * int(rng.integers(1, 4))
    N, L = int(rng.integers(1, 4)), int(rng.integers(1, 6))
    unbatched = bool(rng.random() < 0.15)
    N = 1 if unbatched else N
    kw = {"dropout": 0.0}
    mode = "train"
    if rng.random() < 0.3:  # torch's default dropout, off in eval mode in both
        kw, mode = {}, "eval"
    if rng.random() < 0.5:
        kw["activation"] = "gelu"
    for key, p in (("batch_first", 0.5), ("norm_first", 0.5)):
        if rng.random() < p:
            kw[key] = True
    if rng.random() < 0.2:
        kw["bias"] = False
    if rng.random() < 0.3:
        kw["layer_norm_eps"] = 1e-3
    masks = {}
    kind = str(rng.choice(["bool", "float"]))  # one kind for both masks: torch deprecates mixing them
    if rng.random() < 0.7:
        masks["src_mask"] = (kind, (N * H, L, L) if rng.random() < 0.4 else (L, L))
    if rng.random() < 0.6:
        masks["src_key_padding_mask"] = (kind, (L,) if unbatched else (N, L))
    inputs = tel_inputs(L, N, d, batch_first=kw.get("batch_first", False), unbatched=unbatched, **masks)
    return Case(S("TransformerEncoderLayer", d, H, int(rng.integers(1, 9)), **kw), inputs, mode=mode)


class EncoderLayer(Plain):
    """Plain with the masks as options. torch's `activation` default is the function F.relu,
    which torch also takes by its name, 'relu' (the contract's default): compare names."""

    def __init__(self):
        super().__init__(options=("src_mask", "src_key_padding_mask"))

    def torch_signature(self, name):
        return [(arg, default.__name__ if arg == "activation" else default)
                for arg, default in super().torch_signature(name)]


TEL_PARTS = ("MultiheadAttention", "Linear", "LayerNorm", "Dropout", "ReLU", "GELU")


def exercise_tel(cls):
    """test_copy: a reader who copies TransformerEncoderLayer copies its parts too (its docstring
    says so): put a copy of each part beside the copied class, then run the first case."""
    import layers

    namespace = cls.forward.__globals__  # where the class was defined: the copy's own namespace
    for part in TEL_PARTS:
        if part not in namespace:
            exec(compile(inspect.getsource(getattr(layers, part)), f"<copy of {part}>", "exec"), namespace)
    rng = np.random.default_rng(0)
    layer = cls(6, 2, 5, 0.0, "gelu", norm_first=True, rng=0)
    inp = tel_inputs(4, 2, 6, src_mask=("bool", (4, 4)), src_key_padding_mask=("bool", (2, 4)))(rng)
    y = layer(inp["x"], src_mask=inp["src_mask"], src_key_padding_mask=inp["src_key_padding_mask"])
    dx = layer.backward(rng.standard_normal(y.shape))
    return [y, dx] + [layer.grads[k] for k in sorted(layer.grads)]


X = z(3, 2, 4)  # (L, N, E) with E = 4
KV = z(5, 2, 4)  # (S, N, E)

ENTRIES = [
    Entry(
        "MultiheadAttention",
        contract="embed_dim, num_heads, dropout=0.0, bias=True, *, batch_first=False",
        convention=Attention(),
        page="layers/attention",
        cases=[
            Case(S("MultiheadAttention", 4, 2), mha_inputs(3, 5, 2, 4)),
            Case(S("MultiheadAttention", 6, 3, batch_first=True),
                 mha_inputs(4, 4, 2, 6, batch_first=True, attn_mask=("bool", (4, 4)),
                            key_padding_mask=("bool", (2, 4)))),
            Case(S("MultiheadAttention", 4, 2), mha_inputs(3, 4, 2, 4, attn_mask=("float", (4, 3, 4)),
                                                            key_padding_mask=("float", (2, 4)), need_weights=False)),
            Case(S("MultiheadAttention", 6, 2, bias=False, batch_first=True),
                 mha_inputs(2, 3, 3, 6, batch_first=True, attn_mask=("float", (2, 3)), average_attn_weights=False)),
            Case(S("MultiheadAttention", 4, 4, dropout=0.5), mha_inputs(3, 3, 2, 4, key_padding_mask=("bool", (2, 3))),
                 mode="eval"),
            Case(S("MultiheadAttention", 4, 1), mha_inputs(3, 2, 1, 4, unbatched=True, attn_mask=("float", (3, 2)),
                                                            key_padding_mask=("float", (2,)))),
        ],
        random=random_mha,
        bad=[
            Bad(S("MultiheadAttention", 4, 2), (z(3, 2, 5), KV, KV), ValueError, ["query", 4, (3, 2, 5)]),
            Bad(S("MultiheadAttention", 4, 2), (X, z(5, 2, 3), KV), ValueError, ["key", 4, (5, 2, 3)]),
            Bad(S("MultiheadAttention", 4, 2), (X, KV, z(6, 2, 4)), ValueError, [(5, 2, 4), (6, 2, 4)]),
            Bad(S("MultiheadAttention", 4, 2), (X, KV, KV, None, True, z(5, 3)), ValueError,
                ["attn_mask", (3, 5), (4, 3, 5), (5, 3)]),
            Bad(S("MultiheadAttention", 4, 2), (X, KV, KV, np.zeros((5, 2), bool)), ValueError,
                ["key_padding_mask", (2, 5), (5, 2)]),
            Bad(S("MultiheadAttention", 4, 2), (X, KV, KV, None, True, np.zeros((3, 5), int)), TypeError,
                ["attn_mask", "int64"]),
            Bad(S("MultiheadAttention", 4, 2), (X, KV.astype(np.float32), KV), TypeError, ["float64", "float32"]),
        ],
        bad_arguments=[BadArguments(S("MultiheadAttention", 10, 3), [10, 3]),
                       BadArguments(S("MultiheadAttention", 4, 2, dropout=1.5), ["1.5"])],
        random_init=True,
    ),
    Entry(
        "TransformerEncoderLayer",
        contract="d_model, nhead, dim_feedforward=2048, dropout=0.1, activation='relu', *, "
                 "layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True",
        convention=EncoderLayer(),
        page="layers/transformer",
        cases=[
            Case(S("TransformerEncoderLayer", 4, 2, 8, dropout=0.0), tel_inputs(3, 2, 4)),
            Case(S("TransformerEncoderLayer", 6, 3, 5, dropout=0.0, activation="gelu", batch_first=True, norm_first=True),
                 tel_inputs(4, 2, 6, batch_first=True, src_mask=("bool", (4, 4)),
                            src_key_padding_mask=("bool", (2, 4)))),
            Case(S("TransformerEncoderLayer", 4, 2, 6), tel_inputs(3, 2, 4, src_mask=("float", (4, 3, 3)),
                                                                   src_key_padding_mask=("float", (2, 3))), mode="eval"),
            Case(S("TransformerEncoderLayer", 4, 1, 3, dropout=0.0, norm_first=True, bias=False),
                 tel_inputs(3, 1, 4, unbatched=True, src_key_padding_mask=("bool", (3,)))),
        ],
        random=random_tel,
        bad=[
            Bad(S("TransformerEncoderLayer", 4, 2, 8), (z(3, 2, 5),), ValueError, ["src", 4, (3, 2, 5)]),
            Bad(S("TransformerEncoderLayer", 4, 2, 8), (z(3, 2, 4, 1),), ValueError, [(3, 2, 4, 1)]),
            Bad(S("TransformerEncoderLayer", 4, 2, 8), (X, z(3, 4)), ValueError, ["src_mask", (3, 3), (4, 3, 3), (3, 4)]),
            Bad(S("TransformerEncoderLayer", 4, 2, 8), (X, None, np.zeros((3, 2), bool)), ValueError,
                ["src_key_padding_mask", (2, 3), (3, 2)]),
            Bad(S("TransformerEncoderLayer", 4, 2, 8), (X, np.zeros((3, 3), int)), TypeError, ["src_mask", "int64"]),
        ],
        bad_arguments=[BadArguments(S("TransformerEncoderLayer", 10, 3), [10, 3]),
                       BadArguments(S("TransformerEncoderLayer", 4, 2, activation="tanh"), ["tanh"])],
        random_init=True,
        exercise=exercise_tel,
    ),
]
