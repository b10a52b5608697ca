"""Transposed convolution, adaptive average pooling and upsampling: ConvTranspose1d,
ConvTranspose2d, AdaptiveAvgPool1d, AdaptiveAvgPool2d, Upsample. (Grouped Conv1d/Conv2d live in
conv.py; tests/test_conv_extra.py holds the tests about these classes alone.)"""

import numpy as np

from .conventions import Plain
from .core import Bad, BadArguments, Case, Entry, Page, S
from .inputs import ints, maybe_int, normal

PAGES = [Page("layers/transposed-convolution", r"transposed convolution")]


def z(*shape):
    return np.zeros(shape)


def random_transposed(nd):
    """A maker of random ConvTranspose{nd}d configurations (groups, stride, padding, output
    padding, dilation, bias), with an input long enough that the padding leaves an output."""
    def make(rng):
        G = int(rng.integers(1, 4))
        cin, cout = G * int(rng.integers(1, 3)), G * int(rng.integers(1, 3))
        k, s, d, p = ints(rng, 1, 5, nd), ints(rng, 1, 4, nd), ints(rng, 1, 3, nd), ints(rng, 0, 3, nd)
        op = tuple(int(rng.integers(0, max(si, di))) for si, di in zip(s, d))
        size = tuple(max(int(n), 2 * pi // si + 2) for n, pi, si in zip(ints(rng, 1, 6, nd), p, s))
        kw = dict(stride=maybe_int(rng, s), padding=maybe_int(rng, p), output_padding=maybe_int(rng, op),
                  groups=G, bias=bool(rng.random() < 0.7), dilation=maybe_int(rng, d))
        return Case(S(f"ConvTranspose{nd}d", cin, cout, maybe_int(rng, k), **kw),
                    normal(int(rng.integers(1, 3)), cin, *size))
    return make


def random_adaptive(nd):
    """Output sizes that divide the input, that do not, 1 (global) and larger than the input."""
    def make(rng):
        outs = ints(rng, 1, 6, nd)
        sides = ints(rng, 1, 12, nd)
        arg = outs[0] if nd == 1 else maybe_int(rng, outs)
        if nd == 2 and isinstance(arg, int):
            outs = (arg, arg)
        return Case(S(f"AdaptiveAvgPool{nd}d", arg), normal(int(rng.integers(1, 3)), int(rng.integers(1, 4)), *sides))
    return make


def random_upsample(rng):
    """nearest (1-d or 2-d), linear (1-d) or bilinear (2-d), by size or by scale_factor.
    Leaves out torch's 1-d nearest scale factors whose backward is not its forward's gradient
    (tests/test_conv_extra.py shows the case)."""
    mode = str(rng.choice(["nearest", "linear", "bilinear"]))
    nd = {"linear": 1, "bilinear": 2}.get(mode) or int(rng.integers(1, 3))
    while True:
        sides = ints(rng, 1, 8, nd)
        if rng.random() < 0.5:
            out = ints(rng, 1, 17, nd)
            kw = dict(size=maybe_int(rng, out))
            factors = None
        else:
            factors = tuple(float(f) for f in np.round(rng.uniform(0.6, 3.5, nd), 2))
            out = tuple(int(np.floor(n * f)) for n, f in zip(sides, factors))
            kw = dict(scale_factor=factors if nd == 2 else factors[0])
        quirk = mode == "nearest" and nd == 1 and factors is not None and any(
            o in (n, 2 * n) and not np.isclose(f, o / n) for o, n, f in zip(out, sides, factors))
        if min(out) >= 1 and not quirk:
            break
    if mode != "nearest" and rng.random() < 0.4:
        kw["align_corners"] = bool(rng.random() < 0.5)
    return Case(S("Upsample", mode=mode, **kw), normal(int(rng.integers(1, 3)), int(rng.integers(1, 4)), *sides))


TRANSPOSED_CONTRACT = ("in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, "
                       "groups=1, bias=True, dilation=1")

ENTRIES = [
    Entry(
        "ConvTranspose1d",
        contract=TRANSPOSED_CONTRACT,
        convention=Plain(),
        page="layers/transposed-convolution",
        cases=[
            Case(S("ConvTranspose1d", 2, 3, 3, stride=2, padding=1, output_padding=1), normal(2, 2, 4)),
            Case(S("ConvTranspose1d", 4, 2, 2, groups=2, dilation=2, stride=3, bias=False), normal(1, 4, 3)),
        ],
        random=random_transposed(1),
        bad=[
            Bad(S("ConvTranspose1d", 2, 3, 3), (z(2, 3, 5),), ValueError, [2, (2, 3, 5)]),
            Bad(S("ConvTranspose1d", 2, 3, 3), (z(2, 2, 5, 5),), ValueError, [(2, 2, 5, 5)]),
            Bad(S("ConvTranspose1d", 1, 1, 1, padding=2), (z(1, 1, 3),), ValueError, [2, (1, 1, 3)]),
        ],
        bad_arguments=[
            BadArguments(S("ConvTranspose1d", 3, 4, 3, groups=2), [3, 4, 2]),
            BadArguments(S("ConvTranspose1d", 1, 1, 3, stride=2, output_padding=2), ["output_padding 2"]),
        ],
        random_init=True,
        init_weight="weight",
    ),
    Entry(
        "ConvTranspose2d",
        contract=TRANSPOSED_CONTRACT,
        convention=Plain(),
        page="layers/transposed-convolution",
        cases=[
            Case(S("ConvTranspose2d", 2, 4, (3, 2), stride=(2, 1), padding=(1, 0), output_padding=(1, 0)),
                 normal(2, 2, 3, 3)),
            Case(S("ConvTranspose2d", 4, 4, 2, groups=4, stride=2, bias=False, dilation=(1, 2)), normal(1, 4, 2, 3)),
        ],
        random=random_transposed(2),
        bad=[
            Bad(S("ConvTranspose2d", 2, 3, 3), (z(2, 2, 5),), ValueError, [2, (2, 2, 5)]),
            Bad(S("ConvTranspose2d", 2, 3, 3), (z(1, 4, 5, 5),), ValueError, [(1, 4, 5, 5)]),
            Bad(S("ConvTranspose2d", 1, 1, 1, padding=(0, 1)), (z(1, 1, 3, 1),), ValueError, [(0, 1), (1, 1, 3, 1)]),
        ],
        bad_arguments=[
            BadArguments(S("ConvTranspose2d", 3, 4, 3, groups=2), [3, 4, 2]),
            BadArguments(S("ConvTranspose2d", 2, 2, 3, stride=(2, 1), output_padding=(0, 1)), [(0, 1)]),
        ],
        random_init=True,
        init_weight="weight",
    ),
    Entry(
        "AdaptiveAvgPool1d",
        contract="output_size",
        convention=Plain(),
        page="layers/pooling",
        cases=[
            Case(S("AdaptiveAvgPool1d", 3), normal(2, 2, 7)),
            Case(S("AdaptiveAvgPool1d", 1), normal(2, 3, 5)),
        ],
        random=random_adaptive(1),
        bad=[
            Bad(S("AdaptiveAvgPool1d", 2), (z(2, 3),), ValueError, [(2, 3)]),
            Bad(S("AdaptiveAvgPool1d", 2), (z(2, 3, 4, 4),), ValueError, [(2, 3, 4, 4)]),
        ],
        bad_arguments=[BadArguments(S("AdaptiveAvgPool1d", 0), ["output_size", 0])],
    ),
    Entry(
        "AdaptiveAvgPool2d",
        contract="output_size",
        convention=Plain(),
        page="layers/pooling",
        cases=[
            Case(S("AdaptiveAvgPool2d", (2, 3)), normal(2, 2, 5, 4)),
            Case(S("AdaptiveAvgPool2d", 1), normal(2, 3, 3, 3)),
        ],
        random=random_adaptive(2),
        bad=[
            Bad(S("AdaptiveAvgPool2d", 2), (z(2, 3, 4),), ValueError, [(2, 3, 4)]),
            Bad(S("AdaptiveAvgPool2d", 2), (z(1, 1, 0, 3),), ValueError, [(1, 1, 0, 3)]),
        ],
        bad_arguments=[BadArguments(S("AdaptiveAvgPool2d", (2, 0)), ["output_size", (2, 0)])],
    ),
    Entry(
        "Upsample",
        contract="size=None, scale_factor=None, mode='nearest', *, align_corners=None",
        convention=Plain(),
        page="layers/transposed-convolution",
        cases=[
            Case(S("Upsample", scale_factor=2), normal(1, 2, 3)),
            Case(S("Upsample", size=(5, 4), mode="bilinear"), normal(2, 2, 3, 3)),
            Case(S("Upsample", scale_factor=1.7, mode="linear"), normal(2, 2, 4)),
            Case(S("Upsample", scale_factor=(2.5, 1.5), mode="bilinear", align_corners=True), normal(1, 2, 3, 2)),
        ],
        random=random_upsample,
        bad=[
            Bad(S("Upsample", scale_factor=2, mode="bilinear"), (z(2, 3, 4),), ValueError, ["bilinear", (2, 3, 4)]),
            Bad(S("Upsample", scale_factor=2, mode="linear"), (z(2, 3, 4, 4),), ValueError, [(2, 3, 4, 4)]),
            Bad(S("Upsample", scale_factor=0.3), (z(1, 1, 2, 2),), ValueError, [(1, 1, 2, 2), (0, 0)]),
        ],
        bad_arguments=[
            BadArguments(S("Upsample"), ["size", "scale_factor"]),
            BadArguments(S("Upsample", scale_factor=2, mode="bicubic"), ["'bicubic'"]),
        ],
    ),
]
