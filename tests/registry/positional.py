"""Positional encoding: PositionalEncoding (no torch twin; tests/test_attention_tools.py checks
its table against the formula of Vaswani et al. 2017)."""

import numpy as np

from .conventions import Plain
from .core import Bad, BadArguments, Case, Entry, Page, S
from .inputs import normal

PAGES = [
    Page("layers/positional-encoding", r"positional encoding"),
    # the example that trains a Transformer; it also includes AdamW and clip_grad_norm_
    Page("examples/transformer", r"transformer", layer_page=False),
]

ENTRIES = [
    Entry(
        "PositionalEncoding",
        contract="d_model, max_len=5000, *, dropout=0.0, batch_first=False",
        convention=Plain(),
        page="layers/positional-encoding",
        cases=[
            Case(S("PositionalEncoding", 4, max_len=10), normal(5, 2, 4)),
            Case(S("PositionalEncoding", 5, batch_first=True), normal(2, 7, 5)),
            Case(S("PositionalEncoding", 6, dropout=0.3), normal(4, 3, 6), fresh=True, note="dropout"),
            Case(S("PositionalEncoding", 6, dropout=0.3), normal(4, 3, 6), mode="eval"),
        ],
        no_twin="torch has no positional encoding layer",
        bad=[
            Bad(S("PositionalEncoding", 4, max_len=10), (np.zeros((5, 2, 3)),), ValueError, [4, (5, 2, 3)]),
            Bad(S("PositionalEncoding", 4, max_len=10), (np.zeros((11, 2, 4)),), ValueError, [10, (11, 2, 4)]),
            Bad(S("PositionalEncoding", 4, batch_first=True), (np.zeros((2, 5)),), ValueError, ["(N, L, d_model)", (2, 5)]),
        ],
        bad_arguments=[BadArguments(S("PositionalEncoding", 0), [0]),
                       BadArguments(S("PositionalEncoding", 4, dropout=1.5), [1.5])],
        random_init=True,
    ),
]
