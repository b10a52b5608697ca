"""Fully connected layers: Linear."""

import numpy as np

from .conventions import Plain
from .core import Bad, Case, Entry, Page, S
from .inputs import ints, normal

PAGES = [Page("layers/linear", r"linear")]


def z(*shape):
    return np.zeros(shape)


def _random_linear(rng):
    in_f, out_f = ints(rng, 1, 6, 2)
    spec = S("Linear", in_f, out_f, bias=bool(rng.random() < 0.7))
    lead = ints(rng, 1, 4, int(rng.integers(0, 3)))
    return Case(spec, normal(*lead, in_f))


ENTRIES = [
    Entry(
        "Linear",
        contract="in_features, out_features, bias=True",
        convention=Plain(),
        page="layers/linear",
        cases=[
            Case(S("Linear", 4, 3), normal(2, 4)),
            Case(S("Linear", 3, 2, bias=False), normal(2, 3, 3)),
            Case(S("Linear", 4, 2), normal(4)),
        ],
        random=_random_linear,
        bad=[
            Bad(S("Linear", 4, 3), (z(2, 5),), ValueError, [4, (2, 5)]),
            Bad(S("Linear", 4, 3), (z(4, 2),), ValueError, [4, (4, 2)]),
        ],
        random_init=True,
        init_weight="weight",
    ),
]
