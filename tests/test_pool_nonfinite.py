"""Max pooling with NaN in the input or inf in the upstream gradient, against torch.

A NaN wins its window (torch's rule: a NaN replaces the running maximum, so the last NaN of a
window in scan order takes the gradient), and an infinite dy goes to the winning position only:
the losers of its window get 0, not inf * 0 = NaN. Both cases take code paths of their own
in ``MaxPool1d`` and ``MaxPool2d``, which finite inputs never reach.
"""

import numpy as np
import pytest
import torch

import helpers as h

pytestmark = pytest.mark.torch_parity

POOLS_1D = [h.S("MaxPool1d", 2), h.S("MaxPool1d", 3, stride=2, padding=1), h.S("MaxPool1d", 4, stride=1)]
POOLS_2D = [h.S("MaxPool2d", 2), h.S("MaxPool2d", 3, stride=2, padding=1), h.S("MaxPool2d", (2, 3), stride=1)]


def _input(spec, rng):
    shape = (2, 3, 13) if spec.name == "MaxPool1d" else (2, 3, 9, 10)
    return rng.standard_normal(shape)


def _run_both(spec, x, dy):
    ours = h.build_ours(spec)
    with np.errstate(invalid="raise", over="raise", divide="raise"):  # no NaN made along the way
        y = ours(x)
        dx = ours.backward(dy)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    yt = h.build_torch(spec)(xt)
    yt.backward(torch.from_numpy(dy.copy()))
    return y, dx, yt.detach().numpy(), xt.grad.numpy()


@pytest.mark.parametrize("spec", POOLS_1D + POOLS_2D, ids=repr)
def test_nan_in_the_input_wins_its_window(spec):
    rng = np.random.default_rng(0)
    x = _input(spec, rng)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, size=flat.size // 6, replace=False)] = np.nan  # some windows hold two
    out_shape = h.build_torch(spec)(torch.from_numpy(x)).shape
    dy = rng.standard_normal(tuple(out_shape))
    y, dx, y_t, dx_t = _run_both(spec, x, dy)
    assert np.isnan(y).any() and not np.isnan(y).all()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(y_t))
    h.assert_close(np.nan_to_num(y), np.nan_to_num(y_t), "output")
    assert not np.isnan(dx).any()
    h.assert_close(dx, dx_t, "dx: the gradient goes to the NaN that won")


@pytest.mark.parametrize("spec", POOLS_1D + POOLS_2D, ids=repr)
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_dy_reaches_only_the_winner(spec, value):
    rng = np.random.default_rng(1)
    x = _input(spec, rng)
    out_shape = tuple(h.build_torch(spec)(torch.from_numpy(x)).shape)
    dy = rng.standard_normal(out_shape)
    dy.reshape(-1)[rng.choice(dy.size, size=3, replace=False)] = value
    y, dx, y_t, dx_t = _run_both(spec, x, dy)
    h.assert_close(y, y_t, "output")
    assert not np.isnan(dx).any(), "inf * 0 leaked into a losing position"
    np.testing.assert_array_equal(np.isinf(dx), np.isinf(dx_t))
    finite = np.isfinite(dx_t)
    h.assert_close(dx[finite], dx_t[finite], "dx")
    assert np.array_equal(dx[~finite], dx_t[~finite])
