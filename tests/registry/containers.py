"""Shape and composition: Flatten, Sequential, Residual."""

import numpy as np
import torch

from .conventions import Container, Plain
from .core import Bad, Case, Entry, Page, Res, S, Seq, Spec
from .inputs import ints, normal

PAGES = [Page("layers/residual", r"residual")]


def z(*shape):
    return np.zeros(shape)


class TorchResidual(torch.nn.Sequential):
    """The torch twin of our Residual: x + f(x), parameters named like Sequential's."""

    def forward(self, x):
        return x + super().forward(x)


def random_flatten(rng):
    nd = int(rng.integers(1, 5))
    shape = ints(rng, 1, 4, nd)
    start = int(rng.integers(0, nd))
    end = int(rng.integers(start, nd))
    # also the negative spellings
    if rng.random() < 0.5:
        end -= nd
    args = (start, end) if rng.random() < 0.7 else ()
    if not args:
        shape = ints(rng, 1, 4, int(rng.integers(2, 5)))
    return Case(S("Flatten", *args), normal(*shape))


def random_chain(name):
    """A random chain of Linear, activations and LayerNorm (a Residual keeps the width)."""
    def make(rng):
        n_in = int(rng.integers(1, 5))
        width = n_in
        children = []
        for _ in range(int(rng.integers(1, 4))):
            choice = rng.integers(0, 4)
            if choice == 0 or name == "Sequential" and choice == 3:
                out = int(rng.integers(1, 5)) if name == "Sequential" else width
                children.append(S("Linear", width, out, bias=bool(rng.random() < 0.7)))
                width = out
            elif choice == 1:
                children.append(S(str(rng.choice(["Tanh", "Sigmoid", "SiLU", "GELU"]))))
            elif choice == 2:
                children.append(S("LayerNorm", width))
            else:
                children.append(S("LeakyReLU", 0.1))
        return Case(Spec(name, children=tuple(children)), normal(int(rng.integers(1, 4)), n_in))
    return make


ENTRIES = [
    Entry(
        "Flatten",
        contract="start_dim=1, end_dim=-1",
        convention=Plain(),
        page="layers/residual",
        cases=[
            Case(S("Flatten"), normal(2, 3, 2, 2)),
            Case(S("Flatten", 0, 2), normal(2, 3, 2, 2)),
            Case(S("Flatten", 1, 2), normal(2, 3, 2, 2)),
        ],
        random=random_flatten,
        bad=[
            Bad(S("Flatten", 2, 3), (z(2, 3),), ValueError, [(2, 3)]),
            Bad(S("Flatten", 2, 1), (z(2, 3, 4),), ValueError, [(2, 3, 4)]),
        ],
        checks_dtype=False,  # a reshape: any dtype passes through
    ),
    Entry(
        "Sequential",
        contract="*layers",
        convention=Container(torch.nn.Sequential),
        page="layers/residual",
        cases=[
            Case(Seq(S("Linear", 4, 5), S("Tanh"), S("Linear", 5, 3)), normal(3, 4)),
            Case(Seq(S("Conv2d", 2, 3, 3, padding=1), S("ReLU"), S("MaxPool2d", 2), S("Flatten"), S("Linear", 12, 2)),
                 normal(2, 2, 4, 4)),
            Case(Seq(S("Linear", 3, 4), S("BatchNorm1d", 4), S("Tanh"), S("Linear", 4, 2, bias=False)), normal(5, 3)),
        ],
        random=random_chain("Sequential"),
        no_bad="each child checks its own input; backward before forward is tested on every case",
    ),
    Entry(
        "Residual",
        contract="*layers",
        convention=Container(TorchResidual),
        page="layers/residual",
        torch_name=None,  # torch.nn has no Residual: no constructor to compare with
        cases=[
            Case(Res(S("Linear", 4, 4), S("Tanh")), normal(3, 4)),
            Case(Res(S("Conv2d", 2, 2, 3, padding="same"), S("Tanh"), S("Conv2d", 2, 2, 1)), normal(2, 2, 3, 3)),
        ],
        random=random_chain("Residual"),
        bad=[Bad(Res(S("Linear", 4, 3)), (z(2, 4),), ValueError, [(2, 4), (2, 3)])],
    ),
]
