"""Optimisers: SGD, Adam. A case's spec holds the optimiser's keyword arguments; the torch
comparison (test_torch_parity.test_optimiser_four_steps_match_torch) runs each on a few models."""

import numpy as np

from .conventions import Optimiser
from .core import Case, Entry, S

NO_BAD = "takes a model, not arrays: its inputs are the model's params and grads"


def model(layers):
    """A Linear layer after one backward pass: params and grads to step on."""
    m = layers.Linear(3, 2, rng=0)
    x = np.random.default_rng(0).standard_normal((4, 3))
    m.backward(np.ones_like(m(x)))
    return m


def exercise(spec):
    """test_copy: one step of the copied class on a fresh model; the parameters after it."""
    def run(cls):
        import layers

        m = model(layers)
        cls(m, *spec.args, **spec.kwargs).step()
        return [m.params[k] for k in sorted(m.params)]
    return run


def random_sgd(rng):
    return Case(S("SGD", lr=float(rng.uniform(1e-3, 0.3)),
                  momentum=float(rng.choice([0.0, rng.uniform(0, 0.99)])),
                  weight_decay=float(rng.choice([0.0, rng.uniform(0, 0.2)]))), None)


def random_adam(rng):
    return Case(S("Adam", lr=float(rng.uniform(1e-4, 0.1)),
                  betas=(float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.9999))),
                  eps=float(rng.choice([1e-8, 1e-6, 1e-3])),
                  weight_decay=float(rng.choice([0.0, rng.uniform(0, 0.2)]))), None)


ENTRIES = [
    Entry(
        "SGD",
        contract="model, lr, *, momentum=0, weight_decay=0",
        convention=Optimiser(),
        page="layers/losses-optimisers",
        cases=[
            Case(S("SGD", lr=0.1), None),
            Case(S("SGD", lr=0.05, momentum=0.9), None),
            Case(S("SGD", lr=0.05, weight_decay=0.1), None),
            Case(S("SGD", lr=0.02, momentum=0.8, weight_decay=0.01), None),
        ],
        random=random_sgd,
        no_bad=NO_BAD,
        exercise=exercise(S("SGD", 0.1, momentum=0.9, weight_decay=0.01)),
    ),
    Entry(
        "Adam",
        contract="model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0",
        convention=Optimiser(),
        page="layers/losses-optimisers",
        cases=[
            Case(S("Adam"), None),
            Case(S("Adam", lr=0.01), None),
            Case(S("Adam", lr=0.02, betas=(0.8, 0.99), eps=1e-6), None),
            Case(S("Adam", lr=0.01, weight_decay=0.1), None),
        ],
        random=random_adam,
        no_bad=NO_BAD,
        exercise=exercise(S("Adam", lr=0.01, weight_decay=0.01)),
    ),
    Entry(
        "AdamW",
        contract="model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2",
        convention=Optimiser(),
        page="examples/transformer",
        cases=[
            Case(S("AdamW"), None),
            Case(S("AdamW", lr=0.01, weight_decay=0.0), None),
            Case(S("AdamW", lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), None),
            Case(S("AdamW", lr=0.05, weight_decay=1.0), None),
        ],
        random=lambda rng: Case(S("AdamW", lr=float(rng.uniform(1e-4, 0.1)),
                                  betas=(float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.9999))),
                                  eps=float(rng.choice([1e-8, 1e-6, 1e-3])),
                                  weight_decay=float(rng.choice([0.0, rng.uniform(0, 0.5)]))), None),
        no_bad=NO_BAD,
        exercise=exercise(S("AdamW", lr=0.01, weight_decay=0.1)),
    ),
]
