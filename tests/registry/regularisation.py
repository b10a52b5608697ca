"""Regularisation: Dropout, WeightPenalty, EarlyStopping."""

import numpy as np

from .conventions import Plain, Tool
from .core import BadArguments, Case, Entry, Page, S
from .inputs import ints, normal
from .optim import model

PAGES = [Page("layers/dropout", r"dropout"),
         Page("layers/regularisation", r"regulari[sz]ation", layer_page=False)]


def random_dropout(rng):
    shape = ints(rng, 1, 5, int(rng.integers(1, 4)))
    if rng.random() < 0.3:
        return Case(S("Dropout", 0.0), normal(*shape))  # p=0 in training: the identity
    return Case(S("Dropout", float(rng.uniform(0.05, 0.95))), normal(*shape), mode="eval")


def exercise_weight_penalty(cls):
    import layers

    m = model(layers)
    penalty = cls([m], l1=0.1, l2=0.2)
    value = penalty.loss()
    penalty.backward()
    return [np.array(value), m.grads["weight"]]


def exercise_early_stopping(cls):
    import layers

    m = model(layers)
    stopper = cls(patience=1, restore_best_weights=True)
    stops = [stopper.step(v, m) for v in (1.0, 0.5, 0.7, 0.8)]
    m.params["weight"] += 1.0
    stopper.restore(m)
    return [np.array(stops), np.array(stopper.best)]


ENTRIES = [
    Entry(
        "Dropout",
        contract="p=0.5",
        convention=Plain(),
        page="layers/dropout",
        cases=[
            Case(S("Dropout", 0.3), normal(4, 5), fresh=True),
            Case(S("Dropout", 0.5), normal(3, 4), mode="eval"),
        ],
        # torch's mask differs from ours: the twin is compared in eval mode and at p=0
        random=random_dropout,
        bad_arguments=[BadArguments(S("Dropout", 1.5), ["1.5"])],
        random_init=True,
    ),
    Entry(
        "WeightPenalty",
        contract="layers, *, l1=0.0, l2=0.0",
        convention=Tool(),
        page="layers/regularisation",
        torch_name=None,
        no_cases="acts on a list of layers: test_gradcheck/test_torch_parity.test_weight_penalty_* "
                 "and test_training_tools",
        no_random="no torch class: value and gradient against torch autograd in "
                  "test_torch_parity.test_weight_penalty_matches_torch",
        no_bad="takes layers, not arrays",
        exercise=exercise_weight_penalty,
    ),
    Entry(
        "EarlyStopping",
        contract="patience=0, min_delta=0.0, *, restore_best_weights=False",
        convention=Tool(),
        page="layers/regularisation",
        torch_name=None,
        no_cases="a callback: test_training_tools compares it with Keras' EarlyStopping rule",
        no_random="no torch class: test_training_tools follows keras.callbacks.EarlyStopping",
        no_bad="takes loss values, not arrays",
        exercise=exercise_early_stopping,
    ),
]
