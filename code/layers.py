"""Neural-network layers in numpy: forward and backward, one self-contained class per layer.

Every class follows one contract (names, shapes and parameter names of ``torch.nn``):
``layer.params`` and ``layer.grads`` are dicts of arrays, ``y = layer.forward(x)`` caches
what the backward pass needs, ``dx = layer.backward(dy)`` returns the gradient with respect
to the input and fills ``layer.grads``. Each class needs nothing but ``import numpy as np``,
so it can be copied from the cheat-sheet on its own.
"""

import numpy as np


# --------------------------------------------------------------------------------------
# Linear
# --------------------------------------------------------------------------------------


class Linear:
    """Fully connected layer: ``y = x W^T + b``.

    Shape: input ``(*, in_features)``, output ``(*, out_features)``.
    ``weight`` is ``(out_features, in_features)``, ``bias`` is ``(out_features,)``, both
    drawn from U(-1/sqrt(in_features), 1/sqrt(in_features)) as in torch.
    Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), section 6.1.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> layer = Linear(3, 2, rng=rng)
    >>> x = rng.standard_normal((4, 3))
    >>> y = layer.forward(x)
    >>> y.shape
    (4, 2)
    >>> layer.backward(np.ones_like(y)).shape, layer.grads["weight"].shape
    ((4, 3), (2, 3))
    """

    def __init__(self, in_features, out_features, bias=True, *, rng=None):
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.params = {"weight": rng.uniform(-bound, bound, (out_features, in_features)).astype(np.float32)}
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_features).astype(np.float32)
        self.grads = {}
        self.training = True
        self._x = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Linear: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: expected input of shape (*, {self.in_features}), got {x.shape}")
        W = self.params["weight"].astype(x.dtype, copy=False)
        y = x @ W.T
        if "bias" in self.params:
            y += self.params["bias"].astype(x.dtype, copy=False)
        self._x = x
        return y

    def backward(self, dy):
        if self._x is None:
            raise RuntimeError("Linear: backward called before forward")
        x = self._x
        W = self.params["weight"].astype(x.dtype, copy=False)
        dy = np.asarray(dy, dtype=x.dtype)
        if dy.shape != x.shape[:-1] + (self.out_features,):
            raise ValueError(f"Linear: expected dy of shape {x.shape[:-1] + (self.out_features,)}, got {dy.shape}")
        dy2 = dy.reshape(-1, self.out_features)  # (M, out): every leading axis is a sample
        x2 = x.reshape(-1, self.in_features)  # (M, in)
        dx = dy @ W  # dL/dx = dy W
        self.grads["weight"] = dy2.T @ x2  # dL/dW = dy^T x
        if "bias" in self.params:
            self.grads["bias"] = dy2.sum(axis=0)  # dL/db = sum of dy over samples
        return dx

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward
