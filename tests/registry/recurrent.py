"""Recurrent layers: RNN, LSTM, GRU."""

import numpy as np

from .conventions import Recurrent
from .core import Bad, BadArguments, Case, Entry, Page, S
from .inputs import ints

PAGES = [Page("layers/rnn", r"\brnn\b|recurrent"), Page("layers/lstm", r"lstm|long short-term"),
         Page("layers/gru", r"gru|gated recurrent")]


def z(*shape):
    return np.zeros(shape)


def sequence(T, N, input_size, hidden_size, *, batch_first=False, hx=False, lstm=False, rows=1):
    """Recurrent input; N=None means unbatched (T, input_size). `rows` is num_layers * num_directions."""
    def make(rng):
        if N is None:
            shape, hshape = (T, input_size), (rows, hidden_size)
        else:
            shape = (N, T, input_size) if batch_first else (T, N, input_size)
            hshape = (rows, N, hidden_size)
        out = {"x": rng.standard_normal(shape)}
        if hx:
            out["h0"] = 0.5 * rng.standard_normal(hshape)
            if lstm:
                out["c0"] = 0.5 * rng.standard_normal(hshape)
        return out
    return make


def rnn_case(name, input_size, hidden_size, T, N, *, batch_first=False, hx=False, dh_n=False, mode="train", **kw):
    if batch_first:
        kw["batch_first"] = True
    rows = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    return Case(S(name, input_size, hidden_size, **kw),
                sequence(T, N, input_size, hidden_size, batch_first=batch_first, hx=hx, lstm=name == "LSTM",
                         rows=rows),
                mode=mode, dh_n=dh_n, note=("hx" if hx else "") + ("unbatched" if N is None else ""))


def random_recurrent(name):
    def make(rng):
        input_size, hidden_size = ints(rng, 1, 5, 2)
        T = int(rng.integers(1, 5))
        N = None if rng.random() < 0.2 else int(rng.integers(1, 4))
        kw = {}
        if name == "RNN" and rng.random() < 0.5:
            kw["nonlinearity"] = "relu"
        if rng.random() < 0.3:
            kw["bias"] = False
        if rng.random() < 0.6:  # stacked: 2 or 3 layers
            kw["num_layers"] = int(rng.integers(2, 4))
        if rng.random() < 0.5:
            kw["bidirectional"] = True
        mode = "train"
        if kw.get("num_layers", 1) > 1 and rng.random() < 0.4:  # dropout between layers, compared in eval
            kw["dropout"], mode = float(rng.uniform(0.1, 0.9)), "eval"
        return rnn_case(name, input_size, hidden_size, T, N, batch_first=N is not None and bool(rng.random() < 0.5),
                        hx=bool(rng.random() < 0.5), dh_n=bool(rng.random() < 0.5), mode=mode, **kw)
    return make


ENTRIES = [
    Entry(
        "RNN",
        contract="input_size, hidden_size, num_layers=1, *, nonlinearity='tanh', bias=True, batch_first=False, "
                 "dropout=0.0, bidirectional=False",
        convention=Recurrent(),
        page="layers/rnn",
        cases=[
            rnn_case("RNN", 3, 4, 3, 2),
            rnn_case("RNN", 3, 4, 3, 2, nonlinearity="relu", hx=True, dh_n=True),
            rnn_case("RNN", 2, 3, 4, 2, batch_first=True, hx=True),
            rnn_case("RNN", 3, 2, 3, None, bias=False, dh_n=True),
            rnn_case("RNN", 2, 3, 3, 2, hx=True, dh_n=True, num_layers=2, bidirectional=True),
            rnn_case("RNN", 2, 2, 3, 2, batch_first=True, num_layers=3, dropout=0.5, mode="eval"),
        ],
        random=random_recurrent("RNN"),
        bad=[
            Bad(S("RNN", 3, 4), (z(5, 2, 5),), ValueError, [3, (5, 2, 5)]),
            Bad(S("RNN", 3, 4), (z(1, 5, 2, 3),), ValueError, [(1, 5, 2, 3)]),
            Bad(S("RNN", 3, 4), (z(3),), ValueError, [(3,)]),
            Bad(S("RNN", 3, 4), (z(5, 2, 3), z(1, 3, 4)), ValueError, [(1, 2, 4), (1, 3, 4)]),
            Bad(S("RNN", 3, 4, batch_first=True), (z(2, 5, 3), z(1, 5, 4)), ValueError, [(1, 2, 4), (1, 5, 4)]),
            Bad(S("RNN", 3, 4, 2, bidirectional=True), (z(5, 2, 3), z(2, 2, 4)), ValueError, [(4, 2, 4), (2, 2, 4)]),
        ],
        bad_arguments=[BadArguments(S("RNN", 2, 2, nonlinearity="sigmoid"), ["sigmoid"]),
                       BadArguments(S("RNN", 2, 2, 2, dropout=1.5), ["dropout", "1.5"])],
        random_init=True,
        init_weight="weight_hh_l0",
    ),
    Entry(
        "LSTM",
        contract="input_size, hidden_size, num_layers=1, *, bias=True, batch_first=False, dropout=0.0, "
                 "bidirectional=False",
        convention=Recurrent(cell_state=True),
        page="layers/lstm",
        cases=[
            rnn_case("LSTM", 3, 4, 3, 2),
            rnn_case("LSTM", 3, 3, 3, 2, hx=True, dh_n=True),
            rnn_case("LSTM", 2, 3, 3, 2, batch_first=True, dh_n=True),
            rnn_case("LSTM", 3, 2, 4, None, hx=True, bias=False),
            # torch ignores batch_first for an unbatched (T, input_size) input
            rnn_case("LSTM", 2, 2, 3, None, batch_first=True, dh_n=True),
            rnn_case("LSTM", 2, 3, 3, 2, hx=True, dh_n=True, num_layers=2, bidirectional=True),
            rnn_case("LSTM", 2, 2, 3, 2, batch_first=True, num_layers=3, dropout=0.5, mode="eval"),
        ],
        random=random_recurrent("LSTM"),
        bad=[
            Bad(S("LSTM", 3, 4), (z(5, 2, 4),), ValueError, [3, (5, 2, 4)]),
            Bad(S("LSTM", 3, 4), (z(2, 2, 2, 3),), ValueError, [(2, 2, 2, 3)]),
            Bad(S("LSTM", 3, 4), (z(5, 2, 3), (z(1, 2, 4), z(1, 2, 5))), ValueError, [(1, 2, 4), (1, 2, 5)]),
            Bad(S("LSTM", 3, 4, 3), (z(5, 2, 3), (z(1, 2, 4), z(1, 2, 4))), ValueError, [(3, 2, 4), (1, 2, 4)]),
        ],
        bad_arguments=[BadArguments(S("LSTM", 2, 2, 2, dropout=-0.1), ["dropout", "-0.1"])],
        random_init=True,
        init_weight="weight_hh_l0",
    ),
    Entry(
        "GRU",
        contract="input_size, hidden_size, num_layers=1, *, bias=True, batch_first=False, dropout=0.0, "
                 "bidirectional=False",
        convention=Recurrent(),
        page="layers/gru",
        cases=[
            rnn_case("GRU", 3, 4, 3, 2),
            rnn_case("GRU", 3, 3, 3, 2, hx=True, dh_n=True),
            rnn_case("GRU", 2, 3, 3, 2, batch_first=True, hx=True, dh_n=True),
            rnn_case("GRU", 3, 2, 4, None, bias=False),
            # torch ignores batch_first for an unbatched (T, input_size) input
            rnn_case("GRU", 2, 3, 3, None, batch_first=True, hx=True, dh_n=True),
            rnn_case("GRU", 2, 3, 3, 2, hx=True, dh_n=True, num_layers=2, bidirectional=True),
            rnn_case("GRU", 2, 2, 3, None, num_layers=3, bidirectional=True, dropout=0.5, mode="eval"),
        ],
        random=random_recurrent("GRU"),
        bad=[
            Bad(S("GRU", 3, 4), (z(5, 2, 2),), ValueError, [3, (5, 2, 2)]),
            Bad(S("GRU", 3, 4), (z(5, 3), z(1, 1, 4)), ValueError, [(1, 4), (1, 1, 4)]),
            Bad(S("GRU", 3, 4, bidirectional=True), (z(5, 2, 8),), ValueError, [3, (5, 2, 8)]),
        ],
        bad_arguments=[BadArguments(S("GRU", 2, 2, 2, dropout=2.0), ["dropout", "2.0"])],
        random_init=True,
        init_weight="weight_hh_l0",
    ),
]
