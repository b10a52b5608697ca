"""Normalisation: BatchNorm1d, BatchNorm2d, LayerNorm."""

import numpy as np

from .conventions import Plain
from .core import Bad, Case, Entry, Page, S
from .inputs import ints, normal

PAGES = [Page("layers/batchnorm", r"batch norm"), Page("layers/layernorm", r"layer norm")]


def z(*shape):
    return np.zeros(shape)


def random_batchnorm(name):
    def make(rng):
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
    return make


def random_layernorm(rng):
    nd = int(rng.integers(1, 4))
    trailing = ints(rng, 1, 5, nd)
    lead = ints(rng, 1, 4, int(rng.integers(0, 3)))
    shape = trailing[0] if nd == 1 and rng.random() < 0.5 else trailing
    kw = {}
    if rng.random() < 0.4:
        kw["eps"] = float(rng.choice([1e-5, 1e-3, 0.1]))
    if rng.random() < 0.3:
        kw["elementwise_affine"] = False
    return Case(S("LayerNorm", shape, **kw), normal(*lead, *trailing, scale=float(rng.uniform(0.5, 3))))


BN_CONTRACT = "num_features, eps=1e-5, momentum=0.1, affine=True"

ENTRIES = [
    Entry(
        "BatchNorm1d",
        contract=BN_CONTRACT,
        convention=Plain(),
        page="layers/batchnorm",
        cases=[
            Case(S("BatchNorm1d", 4), normal(5, 4)),
            Case(S("BatchNorm1d", 3, momentum=0.3, eps=1e-3), normal(3, 3, 4)),
            Case(S("BatchNorm1d", 4), normal(5, 4), mode="eval"),
            Case(S("BatchNorm1d", 3, affine=False), normal(4, 3, 2)),
        ],
        random=random_batchnorm("BatchNorm1d"),
        bad=[
            Bad(S("BatchNorm1d", 3), (z(2, 4),), ValueError, [3, (2, 4)]),
            Bad(S("BatchNorm1d", 3), (z(2, 3, 4, 5),), ValueError, [(2, 3, 4, 5)]),
            Bad(S("BatchNorm1d", 3), (z(3),), ValueError, [(3,)]),
            Bad(S("BatchNorm1d", 3), (z(1, 3),), ValueError, [(1, 3)]),  # one value per channel in training
        ],
    ),
    Entry(
        "BatchNorm2d",
        contract=BN_CONTRACT,
        convention=Plain(),
        page="layers/batchnorm",
        cases=[
            Case(S("BatchNorm2d", 3), normal(2, 3, 3, 2)),
            Case(S("BatchNorm2d", 2, momentum=0.2), normal(2, 2, 3, 3), mode="eval"),
        ],
        random=random_batchnorm("BatchNorm2d"),
        bad=[
            Bad(S("BatchNorm2d", 3), (z(2, 4, 2, 2),), ValueError, [3, (2, 4, 2, 2)]),
            Bad(S("BatchNorm2d", 3), (z(2, 3, 4),), ValueError, [(2, 3, 4)]),
        ],
    ),
    Entry(
        "LayerNorm",
        contract="normalized_shape, eps=1e-5, elementwise_affine=True",
        convention=Plain(),
        page="layers/layernorm",
        cases=[
            Case(S("LayerNorm", 4), normal(3, 4)),
            Case(S("LayerNorm", (3, 4), eps=1e-3), normal(2, 3, 4)),
            Case(S("LayerNorm", 5, elementwise_affine=False), normal(2, 2, 5)),
        ],
        random=random_layernorm,
        bad=[
            Bad(S("LayerNorm", (3, 4)), (z(2, 4, 3),), ValueError, ["3, 4", (2, 4, 3)]),
            Bad(S("LayerNorm", (3, 4)), (z(4),), ValueError, ["3, 4", (4,)]),
            Bad(S("LayerNorm", 4), (z(2, 5),), ValueError, [4, (2, 5)]),
        ],
    ),
]
