"""Losses: MSELoss, BCEWithLogitsLoss, CrossEntropyLoss."""

import numpy as np

from .conventions import Loss
from .core import Bad, Case, Entry, Page, S
from .inputs import ints

PAGES = [Page("layers/losses-optimisers", r"loss", layer_page=False)]


def z(*shape):
    return np.zeros(shape)


def loss_inputs(name, *shape):
    """Prediction 'x' and 'target' for the loss `name`."""
    def make(rng):
        if name == "CrossEntropyLoss":  # logits (N, C, d1, ...), targets (N, d1, ...)
            N, C, *extra = shape
            return {"x": 2 * rng.standard_normal(shape), "target": rng.integers(0, C, (N, *extra))}
        if name == "BCEWithLogitsLoss":
            target = rng.uniform(0, 1, shape)
            target[..., 0] = np.round(target[..., 0])  # hard labels too
            return {"x": 2 * rng.standard_normal(shape), "target": target}
        return {"x": rng.standard_normal(shape), "target": rng.standard_normal(shape)}
    return make


def random_loss(name):
    def make(rng):
        if name == "CrossEntropyLoss":
            shape = (int(rng.integers(1, 6)), int(rng.integers(2, 6))) + ints(rng, 1, 4, int(rng.random() < 0.2))
        else:
            shape = ints(rng, 1, 5, int(rng.integers(1, 4)))
        inputs = loss_inputs(name, *shape)
        scale = float(rng.choice([0.5, 1.0, 4.0]))

        def scaled(r):
            out = inputs(r)
            out["x"] = scale * out["x"]
            return out
        return Case(S(name, **({"reduction": "sum"} if rng.random() < 0.3 else {})), scaled)
    return make


def cases(name, *shapes, summed):
    out = [Case(S(name), loss_inputs(name, *shape), note="x".join(map(str, shape))) for shape in shapes]
    out.append(Case(S(name, reduction="sum"), loss_inputs(name, *summed), note="x".join(map(str, summed))))
    return out


CONTRACT = "*, reduction='mean'"

ENTRIES = [
    Entry(
        "MSELoss", contract=CONTRACT, convention=Loss(), page="layers/losses-optimisers",
        cases=cases("MSELoss", (3, 4), (5,), summed=(2, 3)),
        random=random_loss("MSELoss"),
        bad=[
            Bad(S("MSELoss"), (z(3, 4), z(3, 1)), ValueError, [(3, 4), (3, 1)]),
            Bad(S("MSELoss"), (z(3), z(3, 1)), ValueError, [(3,), (3, 1)]),
        ],
        extreme_pairs=[(np.array([1e4, -1e4, 3e3]), np.array([-1e4, 1e4, 0.0]))],
    ),
    Entry(
        "BCEWithLogitsLoss", contract=CONTRACT, convention=Loss(), page="layers/losses-optimisers",
        cases=cases("BCEWithLogitsLoss", (3, 4), (6,), summed=(2, 3)),
        random=random_loss("BCEWithLogitsLoss"),
        bad=[Bad(S("BCEWithLogitsLoss"), (z(3, 4), z(4)), ValueError, [(3, 4), (4,)])],
        extreme_pairs=[
            (np.array([[-1e4, 1e4, -1e3, 1e3], [710.0, -710.0, 0.0, 5e3]]),
             np.array([[0.0, 1.0, 1.0, 0.0], [0.5, 0.5, 1.0, 0.25]])),
            (np.full((2, 3), 1e4), np.ones((2, 3))),
            (np.full((2, 3), -1e4), np.zeros((2, 3))),
        ],
    ),
    Entry(
        "CrossEntropyLoss", contract=CONTRACT, convention=Loss(), page="layers/losses-optimisers",
        cases=cases("CrossEntropyLoss", (4, 5), (1, 3), (2, 4, 3), summed=(3, 4)),
        random=random_loss("CrossEntropyLoss"),
        bad=[
            Bad(S("CrossEntropyLoss"), (z(4, 5), np.zeros(3, dtype=int)), ValueError, [(4, 5), (3,)]),
            Bad(S("CrossEntropyLoss"), (z(4, 5), np.zeros((4, 5), dtype=int)), ValueError, [(4, 5)]),
            Bad(S("CrossEntropyLoss"), (z(2, 5), np.array([1, 5])), ValueError, [5]),
            Bad(S("CrossEntropyLoss"), (z(2, 5), np.array([-1, 0])), ValueError, [5, -1]),
            Bad(S("CrossEntropyLoss"), (z(2, 5), np.array([1.0, 0.0])), TypeError, ["float64"]),
        ],
        extreme_pairs=[
            (np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e3, 1e3, -1e3], [5e3, 1e4, -5e3]]),
             np.array([0, 1, 2, 0])),
            (np.array([[1e4, 1e4], [-1e4, 1e4]]), np.array([1, 1])),
        ],
    ),
]
