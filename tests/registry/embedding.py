"""Embeddings: Embedding."""

import numpy as np

from .conventions import Embedding
from .core import Bad, BadArguments, Case, Entry, Page, S
from .inputs import indices, ints

PAGES = [Page("layers/embedding", r"embedding")]


def random_embedding(rng):
    num, dim = int(rng.integers(2, 9)), int(rng.integers(1, 5))
    shape = ints(rng, 1, 4, int(rng.integers(1, 4)))
    if rng.random() < 0.5:
        pad = int(rng.integers(0, num))
        return Case(S("Embedding", num, dim, padding_idx=pad), indices(num, *shape, include=pad))
    return Case(S("Embedding", num, dim), indices(num, *shape))


ENTRIES = [
    Entry(
        "Embedding",
        contract="num_embeddings, embedding_dim, padding_idx=None",
        convention=Embedding(),
        page="layers/embedding",
        cases=[
            Case(S("Embedding", 7, 3), indices(7, 2, 4)),
            Case(S("Embedding", 6, 2, padding_idx=2), indices(6, 3, 3, include=2)),
        ],
        random=random_embedding,
        bad=[
            Bad(S("Embedding", 7, 3), (np.array([[1.0, 2.0]]),), TypeError, ["float64", "int"]),
            Bad(S("Embedding", 7, 3), (np.array([[1, 9]]),), ValueError, [7, 9]),
            Bad(S("Embedding", 7, 3), (np.array([-1, 2]),), ValueError, [7, -1]),
            Bad(S("Embedding", 7, 3), (np.array([7]),), ValueError, [7]),
        ],
        bad_arguments=[BadArguments(S("Embedding", 3, 2, padding_idx=3), [3])],
        random_init=True,
    ),
]
