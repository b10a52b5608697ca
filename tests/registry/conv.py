"""Convolutions: Conv1d, Conv2d."""

import numpy as np

from .conventions import Plain
from .core import Bad, BadArguments, Case, Entry, Page, S
from .inputs import ints, maybe_int, normal

PAGES = [Page("layers/convolution", r"convolution")]


def z(*shape):
    return np.zeros(shape)


def random_conv(nd):
    """A maker of random Conv{nd}d configurations: 'same', 'valid' or numeric padding."""
    def make(rng):
        name = f"Conv{nd}d"
        cin, cout = ints(rng, 1, 4, 2)
        k = ints(rng, 1, 5, nd)
        d = ints(rng, 1, 3, nd)
        mode = rng.integers(0, 4)
        if mode == 0:
            padding, s, pads = "same", (1,) * nd, [di * (ki - 1) for ki, di in zip(k, d)]
        elif mode == 1:
            padding, s, pads = "valid", ints(rng, 1, 4, nd), [0] * nd
        else:
            p = ints(rng, 0, 3, nd)
            padding, s, pads = maybe_int(rng, p), ints(rng, 1, 4, nd), [2 * pi for pi in p]
        span = [di * (ki - 1) + 1 for ki, di in zip(k, d)]
        size = [max(1, sp - pd) + int(rng.integers(0, 4)) for sp, pd in zip(span, pads)]
        kw = dict(stride=maybe_int(rng, s), padding=padding, dilation=maybe_int(rng, d))
        if padding == "same":
            del kw["stride"]
        if rng.random() < 0.3:
            kw["bias"] = False
        N = int(rng.integers(1, 3))
        draw = rng.random()  # drawn last, so the configurations above stay as they were
        if draw < 0.2:  # grouped: channels in multiples of G
            G = int(rng.integers(2, 4))
            cin, cout = cin * G, cout * G
            kw["groups"] = G
        elif draw < 0.4:  # depthwise: one group per input channel, depth multiplier 1 or 2
            cout = cin * int(rng.integers(1, 3))
            kw["groups"] = cin
        return Case(S(name, cin, cout, maybe_int(rng, k), **kw), normal(N, cin, *size))
    return make


CONV_CONTRACT = "in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, *, bias=True"

ENTRIES = [
    Entry(
        "Conv1d",
        contract=CONV_CONTRACT,
        convention=Plain(),
        page="layers/convolution",
        cases=[
            Case(S("Conv1d", 2, 3, 3), normal(2, 2, 7)),
            Case(S("Conv1d", 2, 2, 3, stride=2, padding=1), normal(2, 2, 8)),
            Case(S("Conv1d", 1, 2, 3, dilation=2, padding="same"), normal(2, 1, 6)),
            Case(S("Conv1d", 2, 2, 4, padding="same", bias=False), normal(1, 2, 6)),
            Case(S("Conv1d", 2, 1, 2, stride=3, padding="valid"), normal(2, 2, 8)),
            Case(S("Conv1d", 4, 6, 3, stride=2, padding=1, groups=2), normal(2, 4, 7)),
            Case(S("Conv1d", 3, 6, 2, dilation=2, padding="same", groups=3), normal(1, 3, 6)),
        ],
        random=random_conv(1),
        bad=[
            Bad(S("Conv1d", 2, 3, 3), (z(2, 3, 5),), ValueError, [2, (2, 3, 5)]),
            Bad(S("Conv1d", 2, 3, 3), (z(2, 5),), ValueError, [(2, 5)]),
            Bad(S("Conv1d", 2, 3, 3), (z(1, 2, 5, 5),), ValueError, [(1, 2, 5, 5)]),
            Bad(S("Conv1d", 2, 3, 3), (z(1, 2, 2),), ValueError, [3, (1, 2, 2)]),
            Bad(S("Conv1d", 1, 1, 3, dilation=2, padding=1), (z(1, 1, 2),), ValueError, [5, (1, 1, 2)]),
        ],
        bad_arguments=[
            BadArguments(S("Conv1d", 1, 1, 3, stride=2, padding="same"), ["same", 2]),
            BadArguments(S("Conv1d", 4, 3, 3, groups=2), [4, 3, 2]),
        ],
        random_init=True,
        init_weight="weight",
    ),
    Entry(
        "Conv2d",
        contract=CONV_CONTRACT,
        convention=Plain(),
        page="layers/convolution",
        cases=[
            Case(S("Conv2d", 2, 3, (2, 3), stride=(2, 1), padding=(1, 0)), normal(2, 2, 5, 5)),
            Case(S("Conv2d", 1, 2, 3, dilation=(2, 1), padding="same"), normal(1, 1, 5, 4)),
            Case(S("Conv2d", 2, 2, (2, 4), padding="same", bias=False), normal(1, 2, 4, 5)),
            Case(S("Conv2d", 1, 2, 2, stride=3), normal(2, 1, 7, 6)),
            Case(S("Conv2d", 2, 1, 3, stride=2, padding=2, dilation=2), normal(1, 2, 6, 7)),
            Case(S("Conv2d", 4, 2, (2, 3), stride=(1, 2), padding=(1, 0), groups=2), normal(2, 4, 4, 5)),
            Case(S("Conv2d", 3, 3, 3, padding=1, groups=3, bias=False), normal(1, 3, 4, 4)),
        ],
        random=random_conv(2),
        bad=[
            Bad(S("Conv2d", 3, 4, 3), (z(2, 4, 5, 5),), ValueError, [3, (2, 4, 5, 5)]),
            Bad(S("Conv2d", 3, 4, 3), (z(5, 5),), ValueError, [(5, 5)]),
            Bad(S("Conv2d", 3, 4, 3), (z(1, 3, 5, 5, 5),), ValueError, [(1, 3, 5, 5, 5)]),
            Bad(S("Conv2d", 1, 1, (2, 5), padding=1), (z(1, 1, 3, 2),), ValueError, [(2, 5), (1, 1, 3, 2)]),
            Bad(S("Conv2d", 1, 1, 3, dilation=(1, 3)), (z(1, 1, 5, 6),), ValueError, [(3, 7), (1, 1, 5, 6)]),
        ],
        bad_arguments=[
            BadArguments(S("Conv2d", 1, 1, 3, stride=(1, 2), padding="same"), ["same"]),
            BadArguments(S("Conv2d", 1, 1, 3, padding="full"), ["full"]),
            BadArguments(S("Conv2d", 3, 4, 3, groups=2), [3, 4, 2]),
        ],
        random_init=True,
        init_weight="weight",
    ),
]
