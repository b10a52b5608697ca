"""Input makers (functions of an rng that return a dict of named arrays) and random draws."""

import numpy as np


def normal(*shape, scale=1.0):
    return lambda rng: {"x": scale * rng.standard_normal(shape)}


def away_from_zero(*shape):
    """Values with |x| in [0.1, 1.5]: finite differences with eps 1e-6 never cross a kink at 0."""
    def make(rng):
        return {"x": rng.choice([-1.0, 1.0], shape) * rng.uniform(0.1, 1.5, shape)}
    return make


def distinct(*shape):
    """Distinct values at least 0.05 apart: no ties, finite differences never swap a maximum."""
    def make(rng):
        n = int(np.prod(shape))
        return {"x": (rng.permutation(n) - n / 2).reshape(shape) * 0.05 + rng.uniform(0, 0.01, shape)}
    return make


def ties(*shape):
    """Small integers: many ties inside every pooling window."""
    return lambda rng: {"x": rng.integers(-2, 3, shape).astype(np.float64)}


def indices(num, *shape, include=None):
    """Integer indices below `num` under the key 'idx' (an Embedding's input)."""
    def make(rng):
        idx = rng.integers(0, num, shape)
        if include is not None:
            idx.flat[0] = include
            idx.flat[-1] = include
        return {"idx": idx}
    return make


def ints(rng, low, high, n):
    """n ints drawn from [low, high), as a tuple."""
    return tuple(int(v) for v in rng.integers(low, high, n))


def maybe_int(rng, t):
    """A 1-tuple or a square pair may also be given as an int, as torch allows."""
    if len(set(t)) == 1 and rng.random() < 0.5:
        return t[0]
    return t
