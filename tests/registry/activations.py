"""Activations: ReLU, LeakyReLU, Sigmoid, Tanh, Softmax, GELU, SiLU.

Elementwise activations have no bad input of their own beyond an integer array (the generic
test_bad_input.test_non_floating_input_is_a_type_error covers it)."""

import numpy as np

from .conventions import Plain
from .core import Bad, BadArguments, Case, Entry, Page, S
from .inputs import away_from_zero, ints, normal

PAGES = [Page("layers/activations", r"activation")]


def z(*shape):
    return np.zeros(shape)


def random_activation(name):
    def make(rng):
        shape = ints(rng, 1, 5, int(rng.integers(1, 4)))
        scale = float(rng.choice([0.5, 2.0, 5.0]))
        args, kw = (), {}
        if name == "LeakyReLU" and rng.random() < 0.7:
            args = (float(rng.uniform(0.01, 0.5)),)
        if name == "Softmax":
            args = (int(rng.integers(-len(shape), len(shape))),)
        if name == "GELU" and rng.random() < 0.5:
            kw["approximate"] = "tanh"
        return Case(S(name, *args, **kw), normal(*shape, scale=scale))
    return make


ENTRIES = [
    Entry("ReLU", contract="", convention=Plain(), page="layers/activations",
          cases=[Case(S("ReLU"), away_from_zero(3, 4))],
          random=random_activation("ReLU"), extreme=[S("ReLU")]),
    Entry("LeakyReLU", contract="negative_slope=0.01", convention=Plain(), page="layers/activations",
          cases=[Case(S("LeakyReLU"), away_from_zero(3, 4)), Case(S("LeakyReLU", 0.2), away_from_zero(2, 3, 2))],
          random=random_activation("LeakyReLU"), extreme=[S("LeakyReLU", 0.1)]),
    Entry("Sigmoid", contract="", convention=Plain(), page="layers/activations",
          cases=[Case(S("Sigmoid"), normal(3, 4, scale=3))],
          random=random_activation("Sigmoid"), extreme=[S("Sigmoid")]),
    Entry("Tanh", contract="", convention=Plain(), page="layers/activations",
          cases=[Case(S("Tanh"), normal(3, 4, scale=2))],
          random=random_activation("Tanh"), extreme=[S("Tanh")]),
    Entry("Softmax", contract="dim", convention=Plain(), page="layers/activations",
          cases=[
              Case(S("Softmax", 1), normal(3, 4, scale=2)),
              Case(S("Softmax", -1), normal(2, 3, 4, scale=2)),
              Case(S("Softmax", 0), normal(3, 2, scale=2)),
          ],
          random=random_activation("Softmax"),
          bad=[
              Bad(S("Softmax", 2), (z(3, 4),), ValueError, [2, (3, 4)]),
              Bad(S("Softmax", -3), (z(3, 4),), ValueError, [-3, (3, 4)]),
          ],
          extreme=[S("Softmax", 1), S("Softmax", 0)]),
    Entry("GELU", contract="approximate='none'", convention=Plain(), page="layers/activations",
          cases=[Case(S("GELU"), normal(3, 4, scale=2)), Case(S("GELU", approximate="tanh"), normal(3, 4, scale=2))],
          random=random_activation("GELU"),
          bad_arguments=[BadArguments(S("GELU", approximate="erf"), ["erf"])],
          extreme=[S("GELU"), S("GELU", approximate="tanh")]),
    Entry("SiLU", contract="", convention=Plain(), page="layers/activations",
          cases=[Case(S("SiLU"), normal(3, 4, scale=3))],
          random=random_activation("SiLU"), extreme=[S("SiLU")]),
]
