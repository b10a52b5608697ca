"""A toy memory task for the figures of the LSTM and GRU pages, built from ``layers.py`` only.

The *latch* task: the input is zero except for a few pulses of +1 or -1; at every step the
target is the sign of the most recent pulse (0 before the first). A recurrent layer solves it
only by holding one number in its state between pulses, which makes its gates easy to read.

>>> import numpy as np
>>> x, target = latch_batch(np.random.default_rng(0), 2, T=12)
>>> x.shape, target.shape
((12, 2, 1), (12, 2, 1))
>>> bool(np.all(np.isin(target, [-1.0, 0.0, 1.0])))
True
"""

import numpy as np

from layers import Adam, Linear, MSELoss


def latch_batch(rng, N, T=40, pulses=3):
    """``N`` sequences of length ``T`` in torch's layout ``(T, N, 1)``, and their targets."""
    x = np.zeros((T, N, 1))
    times = rng.integers(2, T - 4, size=(N, pulses))  # a repeated time keeps one pulse
    x[times, np.arange(N)[:, None], 0] = rng.choice([-1.0, 1.0], size=(N, pulses))
    target = np.zeros_like(x)
    last = np.zeros(N)
    for t in range(T):
        last = np.where(x[t, :, 0] != 0, x[t, :, 0], last)
        target[t, :, 0] = last
    return x, target


def train_latch(recurrent, *, steps=500, lr=0.02, batch=32, rng=0):
    """Train ``recurrent`` plus a ``Linear(hidden_size, 1)`` readout on the latch task with Adam.

    Returns the readout layer and the list of training losses.
    """
    rng = np.random.default_rng(rng)
    head = Linear(recurrent.hidden_size, 1, rng=rng)
    optimisers = [Adam(recurrent, lr=lr), Adam(head, lr=lr)]
    loss_fn, losses = MSELoss(), []
    for _ in range(steps):
        x, target = latch_batch(rng, batch)
        output, _ = recurrent.forward(x)  # (T, N, H)
        losses.append(loss_fn.forward(head.forward(output), target))
        recurrent.backward(head.backward(loss_fn.backward()))
        for optimiser in optimisers:
            optimiser.step()
    return head, losses
