"""Pooling: MaxPool1d, MaxPool2d, AvgPool1d, AvgPool2d."""

import numpy as np

from .conventions import Plain
from .core import Bad, BadArguments, Case, Entry, Page, S
from .inputs import distinct, ints, maybe_int, normal, ties

PAGES = [Page("layers/pooling", r"pooling")]


def z(*shape):
    return np.zeros(shape)


def random_pool(name):
    """A maker of random pooling configurations (strides often larger than the kernel)."""
    def make(rng):
        nd = int(name[-2])
        k = ints(rng, 1, 5, nd)
        p = tuple(int(rng.integers(0, ki // 2 + 1)) for ki in k)
        kw = {}
        if rng.random() < 0.7:
            kw["stride"] = maybe_int(rng, ints(rng, 1, 6, nd))
        if any(p) or rng.random() < 0.5:
            kw["padding"] = maybe_int(rng, p)
        if name.startswith("Avg") and rng.random() < 0.6:
            kw["count_include_pad"] = False
        size = [max(1, ki - 2 * pi) + int(rng.integers(0, 5)) for ki, pi in zip(k, p)]
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3)), *size)
        maker = ties(*shape) if name.startswith("Max") and rng.random() < 0.6 else normal(*shape)
        return Case(S(name, maybe_int(rng, k), **kw), maker)
    return make


MAX_CONTRACT = "kernel_size, stride=None, padding=0"
AVG_CONTRACT = "kernel_size, stride=None, padding=0, *, count_include_pad=True"

ENTRIES = [
    Entry(
        "MaxPool1d",
        contract=MAX_CONTRACT,
        convention=Plain(),
        page="layers/pooling",
        cases=[
            Case(S("MaxPool1d", 3, stride=2, padding=1), distinct(2, 2, 7)),
            Case(S("MaxPool1d", 2, stride=3), distinct(2, 2, 8)),
        ],
        random=random_pool("MaxPool1d"),
        no_ties=True,
        # ties (torch CPU sends the gradient to the first maximum in row-major order);
        # overlapping windows and padding make a position win several windows
        parity_cases=[
            Case(S("MaxPool1d", 3, stride=1, padding=1), ties(2, 3, 9), note="ties"),
            Case(S("MaxPool1d", 2, stride=1), ties(3, 2, 6), note="ties"),
            Case(S("MaxPool1d", 4, stride=2, padding=2), ties(2, 2, 7), note="ties"),
            Case(S("MaxPool1d", 3), lambda rng: {"x": np.zeros((2, 2, 7))}, note="all-equal"),
        ],
        bad=[
            Bad(S("MaxPool1d", 5), (z(1, 1, 3),), ValueError, [5, (1, 1, 3)]),
            Bad(S("MaxPool1d", 2), (z(4, 5),), ValueError, [(4, 5)]),
        ],
    ),
    Entry(
        "MaxPool2d",
        contract=MAX_CONTRACT,
        convention=Plain(),
        page="layers/pooling",
        cases=[
            Case(S("MaxPool2d", (2, 3), stride=(1, 2), padding=(1, 1)), distinct(2, 2, 4, 5)),
            Case(S("MaxPool2d", 2), distinct(1, 2, 4, 5)),
            Case(S("MaxPool2d", 2, stride=3), distinct(2, 1, 7, 8)),
        ],
        random=random_pool("MaxPool2d"),
        no_ties=True,
        parity_cases=[
            Case(S("MaxPool2d", 3, stride=1, padding=1), ties(2, 2, 5, 5), note="ties"),
            Case(S("MaxPool2d", (2, 3), stride=(1, 2), padding=(1, 1)), ties(2, 2, 5, 6), note="ties"),
            Case(S("MaxPool2d", 2, stride=1), ties(1, 3, 4, 4), note="ties"),
            Case(S("MaxPool2d", (3, 2), stride=(2, 3), padding=(1, 0)), ties(2, 1, 6, 7), note="ties"),
            Case(S("MaxPool2d", 2, padding=1), lambda rng: {"x": np.ones((1, 2, 3, 3))}, note="all-equal"),
        ],
        bad=[
            Bad(S("MaxPool2d", 4, padding=1), (z(1, 1, 1, 3),), ValueError, [(4, 4), (1, 1, 1, 3)]),
            Bad(S("MaxPool2d", 2), (z(3, 3),), ValueError, [(3, 3)]),
        ],
        bad_arguments=[BadArguments(S("MaxPool2d", 2, padding=2), [2])],
    ),
    Entry(
        "AvgPool1d",
        contract=AVG_CONTRACT,
        convention=Plain(),
        page="layers/pooling",
        cases=[
            Case(S("AvgPool1d", 3, stride=2, padding=1, count_include_pad=False), normal(2, 2, 7)),
            Case(S("AvgPool1d", 2), normal(2, 3, 5)),
        ],
        random=random_pool("AvgPool1d"),
        bad=[
            Bad(S("AvgPool1d", 4), (z(2, 1, 3),), ValueError, [4, (2, 1, 3)]),
            Bad(S("AvgPool1d", 2), (z(2, 2, 2, 2),), ValueError, [(2, 2, 2, 2)]),
        ],
        bad_arguments=[BadArguments(S("AvgPool1d", 3, padding=2), [2, 3])],
    ),
    Entry(
        "AvgPool2d",
        contract=AVG_CONTRACT,
        convention=Plain(),
        page="layers/pooling",
        cases=[
            Case(S("AvgPool2d", (3, 2), stride=(2, 1), padding=(1, 1), count_include_pad=False), normal(2, 2, 5, 4)),
            Case(S("AvgPool2d", (3, 2), stride=(2, 1), padding=(1, 1)), normal(1, 2, 5, 4)),
            Case(S("AvgPool2d", 2, stride=3), normal(2, 1, 7, 8)),
        ],
        random=random_pool("AvgPool2d"),
        bad=[
            Bad(S("AvgPool2d", (2, 3)), (z(1, 2, 4, 2),), ValueError, [(2, 3), (1, 2, 4, 2)]),
            Bad(S("AvgPool2d", 2), (z(4, 4),), ValueError, [(4, 4)]),
        ],
    ),
]
