"""GroupNorm, RMSNorm (normalisation) and PReLU, ELU, Softplus, LogSoftmax, Mish (activations),
with the normalisation page and the autoencoder example. tests/test_norm_act.py holds the
tests about these classes only (each argument varied in ten random configurations, RMSNorm's
dtype epsilon, exact limits)."""

import numpy as np

from .conventions import Plain
from .core import Bad, BadArguments, Case, Entry, Page, S
from .inputs import away_from_zero, ints, normal

PAGES = [
    Page("layers/normalisation", r"normali[sz]ation"),
    Page("examples/autoencoder", r"autoencoder", layer_page=False),
]


def z(*shape):
    return np.zeros(shape)


def random_groupnorm(rng):
    mode = rng.integers(0, 3)  # one group (layer norm), one channel per group (instance norm), between
    G = 1 if mode == 0 else int(rng.integers(2, 5))
    C = G if mode == 1 else G * int(rng.integers(2, 4))
    kw = {}
    if rng.random() < 0.5:
        kw["eps"] = float(rng.choice([1e-3, 0.1, 1e-6]))
    if rng.random() < 0.5:
        kw["affine"] = False
    shape = (int(rng.integers(1, 4)), C) + ints(rng, 1, 4, int(rng.integers(0, 3)))
    if int(np.prod(shape)) // shape[0] // G < 2:  # a group of one value has no variance to normalise
        shape = shape + (2,)
    return Case(S("GroupNorm", G, C, **kw), normal(*shape, scale=float(rng.uniform(0.5, 3))))


def random_rmsnorm(rng):
    nd = int(rng.integers(1, 3))
    trailing = ints(rng, 1, 5, nd)
    lead = ints(rng, 1, 4, int(rng.integers(0, 3)))
    normalized = trailing[0] if nd == 1 and rng.random() < 0.5 else trailing
    kw = {}
    if rng.random() < 0.5:
        kw["eps"] = float(rng.choice([1e-5, 1e-3, 0.1]))
    if rng.random() < 0.5:
        kw["elementwise_affine"] = False
    return Case(S("RMSNorm", normalized, **kw), normal(*lead, *trailing, scale=float(rng.uniform(0.5, 3))))


def random_prelu(rng):
    per_channel = rng.random() < 0.5
    C = int(rng.integers(2, 5)) if per_channel else 1
    args = (C,) if per_channel or rng.random() < 0.5 else ()
    kw = {"init": float(rng.uniform(-0.5, 0.8))} if rng.random() < 0.5 else {}
    if per_channel:
        shape = (int(rng.integers(1, 4)), C) + ints(rng, 1, 4, int(rng.integers(0, 3)))
    else:
        shape = ints(rng, 1, 5, int(rng.integers(1, 4)))
    return Case(S("PReLU", *args, **kw), away_from_zero(*shape))


def random_elu(rng):
    kw = {"alpha": float(rng.uniform(0.1, 2.5))} if rng.random() < 0.5 else {}
    shape = ints(rng, 1, 5, int(rng.integers(1, 4)))
    return Case(S("ELU", **kw), away_from_zero(*shape) if rng.random() < 0.5 else normal(*shape, scale=3.0))


def random_softplus(rng):
    kw = {}
    if rng.random() < 0.5:
        kw["beta"] = float(rng.choice([0.5, 2.0, 3.0, -1.0]))
    if rng.random() < 0.5:
        kw["threshold"] = float(rng.uniform(0.5, 4.0))  # small: both branches appear in the inputs
    shape = ints(rng, 1, 5, int(rng.integers(1, 4)))
    return Case(S("Softplus", **kw), normal(*shape, scale=float(rng.uniform(1, 5))))


def random_logsoftmax(rng):
    shape = ints(rng, 1, 5, int(rng.integers(1, 4)))
    dim = int(rng.integers(-len(shape), len(shape)))
    return Case(S("LogSoftmax", dim), normal(*shape, scale=float(rng.uniform(0.5, 5))))


def random_mish(rng):
    shape = ints(rng, 1, 5, int(rng.integers(1, 4)))
    return Case(S("Mish"), normal(*shape, scale=float(rng.uniform(0.5, 6))))


RANDOM_MAKERS = {
    "GroupNorm": random_groupnorm,
    "RMSNorm": random_rmsnorm,
    "PReLU": random_prelu,
    "ELU": random_elu,
    "Softplus": random_softplus,
    "LogSoftmax": random_logsoftmax,
    "Mish": random_mish,
}

ENTRIES = [
    Entry(
        "GroupNorm",
        contract="num_groups, num_channels, eps=1e-5, affine=True",
        convention=Plain(),
        page="layers/normalisation",
        cases=[
            Case(S("GroupNorm", 2, 4), normal(2, 4, 3, 2)),
            Case(S("GroupNorm", 1, 3, eps=1e-3), normal(2, 3, 4)),
            Case(S("GroupNorm", 3, 3), normal(2, 3, 2, 2)),
            Case(S("GroupNorm", 2, 6, affine=False), normal(3, 6)),
        ],
        random=random_groupnorm,
        bad=[
            Bad(S("GroupNorm", 2, 4), (z(2, 3, 5),), ValueError, [4, (2, 3, 5)]),
            Bad(S("GroupNorm", 1, 4), (z(4),), ValueError, [4, (4,)]),
        ],
        bad_arguments=[BadArguments(S("GroupNorm", 3, 4), [3, 4])],
        # no `extreme`: on a row of equal values 1e4, torch's float32 GroupNorm returns 0.027
        # instead of 0 (rounding in its variance); tests/test_norm_act.py compares in float64
    ),
    Entry(
        "RMSNorm",
        contract="normalized_shape, eps=None, elementwise_affine=True",
        convention=Plain(),
        page="layers/normalisation",
        cases=[
            Case(S("RMSNorm", 4), normal(3, 4)),
            Case(S("RMSNorm", (3, 2), eps=1e-3), normal(2, 3, 2)),
            Case(S("RMSNorm", 5, elementwise_affine=False), normal(2, 2, 5)),
        ],
        random=random_rmsnorm,
        bad=[
            Bad(S("RMSNorm", (3, 4)), (z(2, 4, 3),), ValueError, ["3, 4", (2, 4, 3)]),
            Bad(S("RMSNorm", 4), (z(2, 5),), ValueError, [4, (2, 5)]),
        ],
        extreme=[S("RMSNorm", 7), S("RMSNorm", (6, 7), eps=1e-3)],
    ),
    Entry(
        "PReLU",
        contract="num_parameters=1, init=0.25",
        convention=Plain(),
        page="layers/activations",
        cases=[
            Case(S("PReLU"), away_from_zero(3, 4)),
            Case(S("PReLU", 3, init=0.1), away_from_zero(2, 3, 4)),
            Case(S("PReLU", 2), away_from_zero(3, 2)),
        ],
        random=random_prelu,
        bad=[
            Bad(S("PReLU", 3), (z(2, 4, 5),), ValueError, [3, (2, 4, 5)]),
            Bad(S("PReLU", 3), (z(3),), ValueError, [3, (3,)]),
        ],
        extreme=[S("PReLU"), S("PReLU", 7, init=0.1)],
    ),
    Entry("ELU", contract="alpha=1.0", convention=Plain(), page="layers/activations",
          cases=[Case(S("ELU"), away_from_zero(3, 4)), Case(S("ELU", 0.5), normal(2, 3, 4, scale=2))],
          random=random_elu, extreme=[S("ELU"), S("ELU", 2.0)]),
    Entry("Softplus", contract="beta=1.0, threshold=20.0", convention=Plain(), page="layers/activations",
          cases=[Case(S("Softplus"), normal(3, 4, scale=3)),
                 Case(S("Softplus", beta=2.0, threshold=3.0), normal(3, 5, scale=3))],  # both branches
          random=random_softplus,
          extreme=[S("Softplus"), S("Softplus", beta=2.0, threshold=5.0), S("Softplus", beta=0.5)]),
    Entry("LogSoftmax", contract="dim", convention=Plain(), page="layers/activations",
          cases=[
              Case(S("LogSoftmax", 1), normal(3, 4, scale=2)),
              Case(S("LogSoftmax", 0), normal(3, 2, 2, scale=2)),
              Case(S("LogSoftmax", -1), normal(2, 5, scale=2)),
          ],
          random=random_logsoftmax,
          bad=[
              Bad(S("LogSoftmax", 2), (z(3, 4),), ValueError, [2, (3, 4)]),
              Bad(S("LogSoftmax", -3), (z(3, 4),), ValueError, [-3, (3, 4)]),
          ],
          extreme=[S("LogSoftmax", 1), S("LogSoftmax", 0)]),
    Entry("Mish", contract="", convention=Plain(), page="layers/activations",
          cases=[Case(S("Mish"), normal(3, 4, scale=3))],
          random=random_mish, extreme=[S("Mish")]),
]
