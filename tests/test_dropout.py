"""Dropout: the fraction dropped, the 1/(1-p) scaling, the mask reused by backward, seeding,
and the identity in eval mode."""

import numpy as np
import pytest

import layers


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5, 0.8, 0.95])
def test_fraction_dropped_and_scaling(p):
    n = 400 * 500
    x = np.random.default_rng(0).uniform(0.5, 2.0, (400, 500))  # no zeros in the input
    drop = layers.Dropout(p, rng=1)
    y = drop(x)
    dropped = y == 0
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(dropped.mean() - p) < 5 * sigma, f"dropped {dropped.mean():.4f}, expected {p} +- {5 * sigma:.4f}"
    np.testing.assert_allclose(y[~dropped], x[~dropped] / (1 - p), rtol=1e-15)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_masks_are_independent_of_position(p):
    """Not one mask for the whole row or column: every row and column drops about p."""
    x = np.ones((2000, 200))
    dropped = layers.Dropout(p, rng=3)(x) == 0
    rows, cols = dropped.mean(axis=1), dropped.mean(axis=0)
    assert abs(rows.mean() - p) < 5 * np.sqrt(p * (1 - p) / x.size)
    assert np.all(np.abs(cols - p) < 5 * np.sqrt(p * (1 - p) / 2000))
    assert rows.std() > 0 and cols.std() > 0


@pytest.mark.parametrize("p", [0.3, 0.7])
def test_backward_uses_the_forward_mask(p):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.5, 2.0, (50, 40))
    drop = layers.Dropout(p, rng=4)
    y = drop(x)
    dy = rng.standard_normal(y.shape)
    dx = drop.backward(dy)
    kept = y != 0
    np.testing.assert_allclose(dx[kept], dy[kept] / (1 - p), rtol=1e-15)
    assert np.all(dx[~kept] == 0)
    # a second backward with the same dy: still the same mask (no new draw)
    np.testing.assert_array_equal(drop.backward(dy), dx)


def test_new_mask_on_every_forward():
    drop = layers.Dropout(0.5, rng=0)
    x = np.ones((30, 30))
    assert not np.array_equal(drop(x) == 0, drop(x) == 0)


@pytest.mark.parametrize("seed", [0, 7, 12345])
def test_same_seed_same_mask(seed):
    x = np.ones((20, 30))
    a = layers.Dropout(0.4, rng=seed)
    b = layers.Dropout(0.4, rng=seed)
    c = layers.Dropout(0.4, rng=np.random.default_rng(seed))
    ya, yb, yc = a(x), b(x), c(x)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(ya, yc)
    np.testing.assert_array_equal(a(x), b(x))  # and the following draws too
    assert not np.array_equal(ya, layers.Dropout(0.4, rng=seed + 1)(x))


def test_global_random_state_untouched():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    layers.Dropout(0.5)(np.ones((10, 10)))
    layers.Dropout(0.5, rng=3)(np.ones((10, 10)))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_eval_is_identity(p):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 7))
    drop = layers.Dropout(p, rng=0)
    assert drop.training is True
    assert drop.eval() is drop or drop.training is False
    assert drop.training is False
    np.testing.assert_array_equal(drop(x), x)
    dy = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(drop.backward(dy), dy)
    drop.train()
    assert drop.training is True
    if p > 0:
        assert np.any(drop(x) != x)


def test_p_zero_is_identity_in_training():
    x = np.random.default_rng(0).standard_normal((5, 5))
    drop = layers.Dropout(0.0, rng=0)
    np.testing.assert_array_equal(drop(x), x)
    np.testing.assert_array_equal(drop.backward(x), x)


def test_p_one_drops_everything_without_warnings():
    x = np.random.default_rng(0).standard_normal((5, 5))
    drop = layers.Dropout(1.0, rng=0)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = drop(x)
        dx = drop.backward(np.ones_like(x))
    assert np.all(y == 0) and np.all(np.isfinite(y))
    assert np.all(dx == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_kept(dtype):
    x = np.ones((10, 10), dtype=dtype)
    drop = layers.Dropout(0.3, rng=0)
    assert drop(x).dtype == dtype
    assert drop.backward(np.ones((10, 10), dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_p_outside_unit_interval_rejected(p):
    with pytest.raises(ValueError, match=r"^Dropout.*" + str(p)):
        layers.Dropout(p)
