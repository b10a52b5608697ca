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


# --------------------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------------------


class Conv1d:
    """1-d convolution (cross-correlation): ``y[n, o, l] = b[o] + sum_{c,k} W[o, c, k] x[n, c, s*l + d*k - p]``.

    Shape: input ``(N, C_in, L)``, output ``(N, C_out, L_out)`` with
    ``L_out = floor((L + 2p - d (k - 1) - 1) / s) + 1``.
    ``weight`` is ``(C_out, C_in, k)``, ``bias`` ``(C_out,)``, both from
    U(-1/sqrt(C_in k), 1/sqrt(C_in k)) as in torch.
    Reference: Dumoulin & Visin, *A guide to convolution arithmetic for deep learning* (2016).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> conv = Conv1d(4, 8, kernel_size=3, padding="same", rng=rng)
    >>> y = conv.forward(rng.standard_normal((2, 4, 10)))
    >>> y.shape
    (2, 8, 10)
    >>> conv.backward(np.ones_like(y)).shape
    (2, 4, 10)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, *,
                 bias=True, rng=None):
        first = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # torch accepts (k,) too
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.dilation = first(kernel_size), first(stride), first(dilation)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv1d: padding must be an int, 'valid' or 'same', got {padding!r}")
            if padding == "same" and self.stride != 1:
                raise ValueError(f"Conv1d: padding='same' needs stride 1, got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = first(padding)
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(in_channels * self.kernel_size)
        self.params = {"weight": rng.uniform(-bound, bound, (out_channels, in_channels, self.kernel_size)).astype(np.float32)}
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_channels).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    def _pads(self):
        """(left, right) zero padding; 'same' puts the odd extra element on the right, as torch."""
        if self.padding == "valid":
            return 0, 0
        if self.padding == "same":
            total = self.dilation * (self.kernel_size - 1)
            return total // 2, total - total // 2
        return self.padding, self.padding

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Conv1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv1d: expected input of shape (N, {self.in_channels}, L), got {x.shape}")
        W = self.params["weight"].astype(x.dtype, copy=False)
        C_out, C_in, k = W.shape
        s, d = self.stride, self.dilation
        left, right = self._pads()
        N, _, L = x.shape
        span = d * (k - 1) + 1  # the kernel's extent once dilated
        if span > L + left + right:
            raise ValueError(f"Conv1d: kernel extent {span} is larger than the padded input length "
                             f"{L + left + right} (input shape {x.shape})")
        xp = np.pad(x, ((0, 0), (0, 0), (left, right))) if left or right else x
        # windows: (N, C_in, L_out, k), a view; one copy lays it out as columns for one product
        windows = np.lib.stride_tricks.sliding_window_view(xp, span, axis=2)[:, :, ::s, ::d]
        L_out = windows.shape[2]
        cols = windows.transpose(0, 1, 3, 2).reshape(N, C_in * k, L_out)  # (N, C_in*k, L_out)
        y = W.reshape(C_out, C_in * k) @ cols  # (C_out, C_in*k) @ (N, C_in*k, L_out) -> (N, C_out, L_out)
        if "bias" in self.params:
            y += self.params["bias"].astype(x.dtype, copy=False)[:, None]
        self._cache = (cols, x.shape, (left, right))
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("Conv1d: backward called before forward")
        cols, (N, C_in, L), (left, right) = self._cache
        W = self.params["weight"].astype(cols.dtype, copy=False)
        C_out, _, k = W.shape
        s, d = self.stride, self.dilation
        L_out = cols.shape[2]
        dy = np.asarray(dy, dtype=cols.dtype)
        if dy.shape != (N, C_out, L_out):
            raise ValueError(f"Conv1d: expected dy of shape {(N, C_out, L_out)}, got {dy.shape}")
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=(0, 2))  # db = sum of dy over batch and positions
        self.grads["weight"] = (dy @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(W.shape)  # dW = dy cols^T
        dcols = (W.reshape(C_out, C_in * k).T @ dy).reshape(N, C_in, k, L_out)  # dcols = W^T dy
        # col2im: each kernel offset j read the strided slice xp[..., j*d :: s]; add its share back
        dxp = np.zeros((N, C_in, L + left + right), dtype=cols.dtype)
        for j in range(k):
            dxp[:, :, j * d: j * d + s * (L_out - 1) + 1: s] += dcols[:, :, j]
        return dxp[:, :, left: left + L]

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class Conv2d:
    """2-d convolution (cross-correlation):
    ``y[n, o, i, j] = b[o] + sum_{c,u,v} W[o, c, u, v] x[n, c, s_h i + d_h u - p_h, s_w j + d_w v - p_w]``.

    Shape: input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = floor((H + p_top + p_bottom - d_h (k_h - 1) - 1) / s_h) + 1`` (likewise ``W_out``).
    ``weight`` is ``(C_out, C_in, k_h, k_w)``, ``bias`` ``(C_out,)``, both from
    U(-1/sqrt(C_in k_h k_w), 1/sqrt(C_in k_h k_w)) as in torch.
    Reference: LeCun et al., *Gradient-based learning applied to document recognition* (1998).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> conv = Conv2d(3, 8, kernel_size=(3, 5), stride=2, padding=1, rng=rng)
    >>> y = conv.forward(rng.standard_normal((2, 3, 16, 16)))
    >>> y.shape
    (2, 8, 8, 7)
    >>> conv.backward(np.ones_like(y)).shape
    (2, 3, 16, 16)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, *,
                 bias=True, rng=None):
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.dilation = pair(kernel_size), pair(stride), pair(dilation)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' needs stride 1, got stride {self.stride}")
            self.padding = padding
        else:
            self.padding = pair(padding)
        rng = np.random.default_rng(rng)
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(in_channels * kh * kw)
        self.params = {"weight": rng.uniform(-bound, bound, (out_channels, in_channels, kh, kw)).astype(np.float32)}
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_channels).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    def _pads(self):
        """((top, bottom), (left, right)); 'same' puts an odd extra row/column at the end, as torch."""
        if self.padding == "valid":
            return (0, 0), (0, 0)
        if self.padding == "same":
            pads = []
            for k, d in zip(self.kernel_size, self.dilation):
                total = d * (k - 1)
                pads.append((total // 2, total - total // 2))
            return tuple(pads)
        (ph, pw) = self.padding
        return (ph, ph), (pw, pw)

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Conv2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d: expected input of shape (N, {self.in_channels}, H, W), got {x.shape}")
        W = self.params["weight"].astype(x.dtype, copy=False)
        C_out, C_in, kh, kw = W.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        (top, bottom), (left, right) = self._pads()
        N, _, H, Wd = x.shape
        span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # the kernel's extent once dilated
        if span_h > H + top + bottom or span_w > Wd + left + right:
            raise ValueError(f"Conv2d: kernel extent {(span_h, span_w)} is larger than the padded input "
                             f"{(H + top + bottom, Wd + left + right)} (input shape {x.shape})")
        xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))) if top or bottom or left or right else x
        # windows: (N, C_in, H_out, W_out, kh, kw), a view of xp (rows first, then columns)
        windows = np.lib.stride_tricks.sliding_window_view(xp, (span_h, span_w), axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
        H_out, W_out = windows.shape[2:4]
        # im2col: one copy lays the windows out as columns, so the convolution is one product
        cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(N, C_in * kh * kw, H_out * W_out)
        y = W.reshape(C_out, -1) @ cols  # (C_out, C_in*kh*kw) @ (N, C_in*kh*kw, H_out*W_out) -> (N, C_out, H_out*W_out)
        if "bias" in self.params:
            y += self.params["bias"].astype(x.dtype, copy=False)[:, None]
        self._cache = (cols, x.shape, (top, left), (H_out, W_out))
        return y.reshape(N, C_out, H_out, W_out)

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("Conv2d: backward called before forward")
        cols, (N, C_in, H, Wd), (top, left), (H_out, W_out) = self._cache
        W = self.params["weight"].astype(cols.dtype, copy=False)
        C_out, _, kh, kw = W.shape
        (sh, sw), (dh, dw) = self.stride, self.dilation
        (_, bottom), (_, right) = self._pads()
        dy = np.asarray(dy, dtype=cols.dtype)
        if dy.shape != (N, C_out, H_out, W_out):
            raise ValueError(f"Conv2d: expected dy of shape {(N, C_out, H_out, W_out)}, got {dy.shape}")
        dy = dy.reshape(N, C_out, H_out * W_out)
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=(0, 2))  # db = sum of dy over batch and positions
        self.grads["weight"] = (dy @ cols.transpose(0, 2, 1)).sum(axis=0).reshape(W.shape)  # dW = dy cols^T
        dcols = (W.reshape(C_out, -1).T @ dy).reshape(N, C_in, kh, kw, H_out, W_out)  # dcols = W^T dy
        # col2im: kernel offset (u, v) read a strided slice of xp; add its share back (no np.add.at)
        dxp = np.zeros((N, C_in, H + top + bottom, Wd + left + right), dtype=cols.dtype)
        for u in range(kh):
            for v in range(kw):
                dxp[:, :, u * dh: u * dh + sh * (H_out - 1) + 1: sh,
                          v * dw: v * dw + sw * (W_out - 1) + 1: sw] += dcols[:, :, u, v]
        return dxp[:, :, top: top + H, left: left + Wd]

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


# --------------------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------------------


class MaxPool1d:
    """1-d max pooling: ``y[n, c, l] = max_k x_pad[n, c, s*l + k]``, padding counting as minus infinity.

    Shape: input ``(N, C, L)``, output ``(N, C, L_out)`` with ``L_out = floor((L + 2p - k) / s) + 1``;
    ``stride`` defaults to ``kernel_size``. No parameters. In a tie the gradient goes to the
    first maximum of the window, as torch does.
    Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), section 9.3.

    >>> import numpy as np
    >>> pool = MaxPool1d(2)
    >>> pool.forward(np.array([[[1.0, 3.0, 2.0, 0.0, 5.0]]]))
    array([[[3., 2.]]])
    >>> pool.backward(np.array([[[10.0, 20.0]]]))
    array([[[ 0., 10., 20.,  0.,  0.]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        first = lambda v: v[0] if isinstance(v, (tuple, list)) else v
        self.kernel_size = first(kernel_size)
        self.stride = self.kernel_size if stride is None else first(stride)
        self.padding = first(padding)
        if self.padding > self.kernel_size // 2:
            raise ValueError(f"MaxPool1d: padding should be at most half the kernel size, "
                             f"got padding {self.padding} with kernel size {self.kernel_size}")
        self.params, self.grads = {}, {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"MaxPool1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 3:
            raise ValueError(f"MaxPool1d: expected input of shape (N, C, L), got {x.shape}")
        k, s, p = self.kernel_size, self.stride, self.padding
        L = x.shape[2]
        if k > L + 2 * p:
            raise ValueError(f"MaxPool1d: kernel size {k} is larger than the padded input length {L + 2 * p} "
                             f"(input shape {x.shape})")
        L_out = (L + 2 * p - k) // s + 1
        xp = np.pad(x, ((0, 0), (0, 0), (p, p)), constant_values=-np.inf) if p else x
        # scan the kernel offsets: keep the running maximum and the offset it came from
        y = xp[:, :, 0: s * (L_out - 1) + 1: s].copy()
        argmax = np.zeros(y.shape, dtype=np.int8 if k < 128 else np.int64)
        has_nan = bool(np.isnan(x).any())  # one pass here saves one per offset below when there is none
        for j in range(1, k):
            candidate = xp[:, :, j: j + s * (L_out - 1) + 1: s]
            better = candidate > y  # strict: in a tie the first maximum keeps the gradient
            if has_nan:  # a NaN wins its window, as in torch (NaN > y is False)
                better |= np.isnan(candidate)
            np.maximum(y, candidate, out=y)
            # j is larger than every offset scanned so far: this writes j exactly where better. A masked
            # write (argmax[better] = j) takes ~20x longer: a random mask defeats branch prediction
            np.maximum(argmax, better * argmax.dtype.type(j), out=argmax)
        self._cache = (argmax, x.shape, x.dtype)
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("MaxPool1d: backward called before forward")
        argmax, (N, C, L), dtype = self._cache
        k, s, p = self.kernel_size, self.stride, self.padding
        L_out = argmax.shape[2]
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != argmax.shape:
            raise ValueError(f"MaxPool1d: expected dy of shape {argmax.shape}, got {dy.shape}")
        dxp = np.zeros((N, C, L + 2 * p), dtype=dtype)
        finite = bool(np.isfinite(dy).all())
        for j in range(k):  # each window sends dy to the one position that won
            won = argmax == j
            # a product has no branches; but inf * 0 is NaN, so with an infinite dy, np.where
            dxp[:, :, j: j + s * (L_out - 1) + 1: s] += dy * won if finite else np.where(won, dy, 0)
        return dxp[:, :, p: p + L]

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class MaxPool2d:
    """2-d max pooling: ``y[n, c, i, j] = max_{u,v} x_pad[n, c, s_h i + u, s_w j + v]``, padding as minus infinity.

    Shape: input ``(N, C, H, W)``, output ``(N, C, H_out, W_out)`` with
    ``H_out = floor((H + 2 p_h - k_h) / s_h) + 1`` (likewise ``W_out``); ``stride`` defaults to
    ``kernel_size``. Windows are indexed rows first, then columns. No parameters. In a tie the
    gradient goes to the first maximum of the window in row-major order, as torch does.
    Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), section 9.3.

    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> pool = MaxPool2d(2)
    >>> pool.forward(x)
    array([[[[ 5.,  7.],
             [13., 15.]]]])
    >>> pool.backward(np.ones((1, 1, 2, 2)))[0, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 0., 1.],
           [0., 0., 0., 0.],
           [0., 1., 0., 1.]])
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
        self.kernel_size = pair(kernel_size)
        self.stride = self.kernel_size if stride is None else pair(stride)
        self.padding = pair(padding)
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"MaxPool2d: padding should be at most half the kernel size, "
                             f"got padding {self.padding} with kernel size {self.kernel_size}")
        self.params, self.grads = {}, {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"MaxPool2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4:
            raise ValueError(f"MaxPool2d: expected input of shape (N, C, H, W), got {x.shape}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        H, W = x.shape[2:]
        if kh > H + 2 * ph or kw > W + 2 * pw:
            raise ValueError(f"MaxPool2d: kernel size {(kh, kw)} is larger than the padded input "
                             f"{(H + 2 * ph, W + 2 * pw)} (input shape {x.shape})")
        H_out, W_out = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf) if ph or pw else x
        # scan the kernel offsets in row-major order, keeping the running max and where it came from
        y = xp[:, :, 0: sh * (H_out - 1) + 1: sh, 0: sw * (W_out - 1) + 1: sw].copy()
        argmax = np.zeros(y.shape, dtype=np.int16 if kh * kw < 2 ** 15 else np.int64)
        has_nan = bool(np.isnan(x).any())  # one pass here saves one per offset below when there is none
        for u in range(kh):
            for v in range(kw):
                if u == v == 0:
                    continue
                candidate = xp[:, :, u: u + sh * (H_out - 1) + 1: sh, v: v + sw * (W_out - 1) + 1: sw]
                better = candidate > y  # strict: in a tie the first maximum keeps the gradient
                if has_nan:  # a NaN wins its window, as in torch (NaN > y is False)
                    better |= np.isnan(candidate)
                np.maximum(y, candidate, out=y)
                # u * kw + v is larger than every offset scanned so far: this writes it exactly where
                # better. A masked write (argmax[better] = ...) takes ~20x longer: a random mask
                # defeats the CPU's branch prediction
                np.maximum(argmax, better * argmax.dtype.type(u * kw + v), out=argmax)
        self._cache = (argmax, x.shape, x.dtype)
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("MaxPool2d: backward called before forward")
        argmax, (N, C, H, W), dtype = self._cache
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        H_out, W_out = argmax.shape[2:]
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != argmax.shape:
            raise ValueError(f"MaxPool2d: expected dy of shape {argmax.shape}, got {dy.shape}")
        dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
        finite = bool(np.isfinite(dy).all())
        for u in range(kh):  # each window sends dy to the one position that won
            for v in range(kw):
                won = argmax == u * kw + v
                # a product has no branches; but inf * 0 is NaN, so with an infinite dy, np.where
                dxp[:, :, u: u + sh * (H_out - 1) + 1: sh,
                          v: v + sw * (W_out - 1) + 1: sw] += dy * won if finite else np.where(won, dy, 0)
        return dxp[:, :, ph: ph + H, pw: pw + W]

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class AvgPool1d:
    """1-d average pooling: ``y[n, c, l] = (1 / count) sum_k x_pad[n, c, s*l + k]``, zero padding.

    Shape: input ``(N, C, L)``, output ``(N, C, L_out)`` with ``L_out = floor((L + 2p - k) / s) + 1``;
    ``stride`` defaults to ``kernel_size``. ``count`` is ``k`` when ``count_include_pad`` (the padded
    zeros are averaged in), else the number of real elements in the window. No parameters.
    Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), section 9.3.

    >>> import numpy as np
    >>> x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    >>> AvgPool1d(2, padding=1).forward(x)
    array([[[0.5, 2.5, 2. ]]])
    >>> AvgPool1d(2, padding=1, count_include_pad=False).forward(x)
    array([[[1. , 2.5, 4. ]]])
    """

    def __init__(self, kernel_size, stride=None, padding=0, *, count_include_pad=True):
        first = lambda v: v[0] if isinstance(v, (tuple, list)) else v
        self.kernel_size = first(kernel_size)
        self.stride = self.kernel_size if stride is None else first(stride)
        self.padding = first(padding)
        self.count_include_pad = count_include_pad
        if self.padding > self.kernel_size // 2:
            raise ValueError(f"AvgPool1d: padding should be at most half the kernel size, "
                             f"got padding {self.padding} with kernel size {self.kernel_size}")
        self.params, self.grads = {}, {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"AvgPool1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 3:
            raise ValueError(f"AvgPool1d: expected input of shape (N, C, L), got {x.shape}")
        k, s, p = self.kernel_size, self.stride, self.padding
        L = x.shape[2]
        if k > L + 2 * p:
            raise ValueError(f"AvgPool1d: kernel size {k} is larger than the padded input length {L + 2 * p} "
                             f"(input shape {x.shape})")
        L_out = (L + 2 * p - k) // s + 1
        xp = np.pad(x, ((0, 0), (0, 0), (p, p))) if p else x
        total = np.zeros(x.shape[:2] + (L_out,), dtype=x.dtype)
        for j in range(k):
            total += xp[:, :, j: j + s * (L_out - 1) + 1: s]
        if self.count_include_pad:
            count = np.full(L_out, k, dtype=x.dtype)
        else:  # how many real (unpadded) elements each window covers
            starts = np.arange(L_out) * s - p
            count = (np.minimum(starts + k, L) - np.maximum(starts, 0)).astype(x.dtype)
        self._cache = (count, x.shape, x.dtype)
        return total / count

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("AvgPool1d: backward called before forward")
        count, (N, C, L), dtype = self._cache
        k, s, p = self.kernel_size, self.stride, self.padding
        L_out = count.shape[0]
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != (N, C, L_out):
            raise ValueError(f"AvgPool1d: expected dy of shape {(N, C, L_out)}, got {dy.shape}")
        share = dy / count  # every element of a window gets an equal share
        dxp = np.zeros((N, C, L + 2 * p), dtype=dtype)
        for j in range(k):
            dxp[:, :, j: j + s * (L_out - 1) + 1: s] += share
        return dxp[:, :, p: p + L]

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class AvgPool2d:
    """2-d average pooling: ``y[n, c, i, j] = (1 / count) sum_{u,v} x_pad[n, c, s_h i + u, s_w j + v]``.

    Shape: input ``(N, C, H, W)``, output ``(N, C, H_out, W_out)`` with
    ``H_out = floor((H + 2 p_h - k_h) / s_h) + 1`` (likewise ``W_out``); ``stride`` defaults to
    ``kernel_size``. ``count`` is ``k_h k_w`` when ``count_include_pad`` (padded zeros are
    averaged in), else the number of real elements in the window. No parameters.
    Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), section 9.3.

    >>> import numpy as np
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> pool = AvgPool2d(2)
    >>> pool.forward(x)
    array([[[[ 2.5,  4.5],
             [10.5, 12.5]]]])
    >>> pool.backward(np.ones((1, 1, 2, 2)))[0, 0, 0]
    array([0.25, 0.25, 0.25, 0.25])
    """

    def __init__(self, kernel_size, stride=None, padding=0, *, count_include_pad=True):
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
        self.kernel_size = pair(kernel_size)
        self.stride = self.kernel_size if stride is None else pair(stride)
        self.padding = pair(padding)
        self.count_include_pad = count_include_pad
        if any(p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"AvgPool2d: padding should be at most half the kernel size, "
                             f"got padding {self.padding} with kernel size {self.kernel_size}")
        self.params, self.grads = {}, {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"AvgPool2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4:
            raise ValueError(f"AvgPool2d: expected input of shape (N, C, H, W), got {x.shape}")
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        H, W = x.shape[2:]
        if kh > H + 2 * ph or kw > W + 2 * pw:
            raise ValueError(f"AvgPool2d: kernel size {(kh, kw)} is larger than the padded input "
                             f"{(H + 2 * ph, W + 2 * pw)} (input shape {x.shape})")
        H_out, W_out = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        total = np.zeros(x.shape[:2] + (H_out, W_out), dtype=x.dtype)
        for u in range(kh):
            for v in range(kw):
                total += xp[:, :, u: u + sh * (H_out - 1) + 1: sh, v: v + sw * (W_out - 1) + 1: sw]
        if self.count_include_pad:
            count = np.full((H_out, W_out), kh * kw, dtype=x.dtype)
        else:  # real (unpadded) rows times real columns under each window
            top, left = np.arange(H_out) * sh - ph, np.arange(W_out) * sw - pw
            rows = np.minimum(top + kh, H) - np.maximum(top, 0)
            cols = np.minimum(left + kw, W) - np.maximum(left, 0)
            count = np.outer(rows, cols).astype(x.dtype)
        self._cache = (count, x.shape, x.dtype)
        return total / count

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("AvgPool2d: backward called before forward")
        count, (N, C, H, W), dtype = self._cache
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        H_out, W_out = count.shape
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != (N, C, H_out, W_out):
            raise ValueError(f"AvgPool2d: expected dy of shape {(N, C, H_out, W_out)}, got {dy.shape}")
        share = dy / count  # every element of a window gets an equal share
        dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
        for u in range(kh):
            for v in range(kw):
                dxp[:, :, u: u + sh * (H_out - 1) + 1: sh, v: v + sw * (W_out - 1) + 1: sw] += share
        return dxp[:, :, ph: ph + H, pw: pw + W]

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


# --------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------


class BatchNorm1d:
    """Batch normalisation over the batch (and length) axis:
    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``, one mean and variance per channel.

    Shape: input ``(N, C)`` or ``(N, C, L)``, output the same. ``weight`` (gamma) and ``bias``
    (beta) are ``(C,)``, initialised to ones and zeros. In training the batch statistics
    normalise (biased variance) and ``running_mean``/``running_var`` move towards them by
    ``momentum`` (unbiased variance); in ``eval()`` the running statistics normalise.
    Reference: Ioffe & Szegedy, *Batch normalization* (2015).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> bn = BatchNorm1d(3)
    >>> y = bn.forward(5 + 2 * rng.standard_normal((64, 3)))
    >>> np.round(y.mean(axis=0), 6) + 0.0, np.round(y.std(axis=0), 4)
    (array([0., 0., 0.]), array([1., 1., 1.]))
    >>> bn.running_mean.round(1)
    array([0.5, 0.5, 0.5])
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True):
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        self.params = {"weight": np.ones(num_features, dtype=np.float32),
                       "bias": np.zeros(num_features, dtype=np.float32)} if affine else {}
        self.grads = {}
        self.running_mean = np.zeros(num_features, dtype=np.float32)
        self.running_var = np.ones(num_features, dtype=np.float32)
        self.num_batches_tracked = 0
        self.training = True
        self._cache = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"BatchNorm1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected input of shape (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {x.shape}")
        axes = (0,) if x.ndim == 2 else (0, 2)  # every axis but the channels
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1)  # broadcast per-channel values
        n = x.size // self.num_features  # values per channel
        if self.training:
            if n < 2:
                raise ValueError(f"BatchNorm1d: expected more than 1 value per channel in training, "
                                 f"got input of shape {x.shape}")
            mean = x.mean(axis=axes)
            x_hat = x - mean.reshape(shape)  # centred here, normalised in place below
            var = (x_hat * x_hat).mean(axis=axes)  # biased variance normalises; x.var would centre x again
            self.num_batches_tracked += 1
            m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * n / (n - 1)  # unbiased estimate
        else:
            mean, var = self.running_mean.astype(x.dtype), self.running_var.astype(x.dtype)
            x_hat = x - mean.reshape(shape)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat *= inv_std.reshape(shape)  # in place: every new array of this size is one more pass over memory
        y = x_hat
        if self.affine:
            y = x_hat * self.params["weight"].astype(x.dtype).reshape(shape)
            y += self.params["bias"].astype(x.dtype).reshape(shape)
        self._cache = (x_hat, inv_std, axes, shape, self.training)
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("BatchNorm1d: backward called before forward")
        x_hat, inv_std, axes, shape, training = self._cache
        dy = np.asarray(dy, dtype=x_hat.dtype)
        if dy.shape != x_hat.shape:
            raise ValueError(f"BatchNorm1d: expected dy of shape {x_hat.shape}, got {dy.shape}")
        d_gamma = (dy * x_hat).sum(axis=axes)
        d_beta = dy.sum(axis=axes)
        gamma = 1
        if self.affine:
            self.grads["weight"], self.grads["bias"] = d_gamma, d_beta
            gamma = self.params["weight"].astype(dy.dtype)
        scale = (gamma * inv_std).reshape(shape)  # dx_hat = gamma dy, and x_hat = (x - mean) inv_std
        if not training:  # the running statistics are constants
            return dy * scale
        n = x_hat.size // self.num_features
        # the mean and the variance depend on every x of the channel: two extra terms,
        # dx = gamma inv_std (dy - mean(dy) - x_hat mean(dy x_hat)). gamma is constant over a channel,
        # so those means are d_beta / n and d_gamma / n: no new pass over the data
        dx = x_hat * (d_gamma / n).reshape(shape)
        dx += (d_beta / n).reshape(shape)
        np.subtract(dy, dx, out=dx)  # in place
        dx *= scale
        return dx

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class BatchNorm2d:
    """Batch normalisation of images: ``y = gamma * (x - mean) / sqrt(var + eps) + beta``,
    one mean and variance per channel over the batch, height and width.

    Shape: input ``(N, C, H, W)``, output the same. ``weight`` (gamma) and ``bias`` (beta) are
    ``(C,)``, initialised to ones and zeros. Training normalises with the batch statistics
    (biased variance) and moves ``running_mean``/``running_var`` towards them by ``momentum``
    (unbiased variance); ``eval()`` normalises with the running statistics.
    Reference: Ioffe & Szegedy, *Batch normalization* (2015).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> bn = BatchNorm2d(2)
    >>> y = bn.forward(3 + rng.standard_normal((8, 2, 5, 5)))
    >>> np.round(y.mean(axis=(0, 2, 3)), 6) + 0.0
    array([0., 0.])
    >>> bn.eval().forward(np.full((1, 2, 1, 1), 3.0)).round(1).ravel()
    array([2.7, 2.7])
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True):
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        self.params = {"weight": np.ones(num_features, dtype=np.float32),
                       "bias": np.zeros(num_features, dtype=np.float32)} if affine else {}
        self.grads = {}
        self.running_mean = np.zeros(num_features, dtype=np.float32)
        self.running_var = np.ones(num_features, dtype=np.float32)
        self.num_batches_tracked = 0
        self.training = True
        self._cache = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"BatchNorm2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d: expected input of shape (N, {self.num_features}, H, W), got {x.shape}")
        axes, shape = (0, 2, 3), (1, -1, 1, 1)  # statistics over all but the channels
        n = x.size // self.num_features
        if self.training:
            if n < 2:
                raise ValueError(f"BatchNorm2d: expected more than 1 value per channel in training, "
                                 f"got input of shape {x.shape}")
            mean = x.mean(axis=axes)
            x_hat = x - mean.reshape(shape)  # centred here, normalised in place below
            var = (x_hat * x_hat).mean(axis=axes)  # biased variance normalises; x.var would centre x again
            self.num_batches_tracked += 1
            m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
            self.running_mean = (1 - m) * self.running_mean + m * mean
            self.running_var = (1 - m) * self.running_var + m * var * n / (n - 1)  # unbiased estimate
        else:
            mean, var = self.running_mean.astype(x.dtype), self.running_var.astype(x.dtype)
            x_hat = x - mean.reshape(shape)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        x_hat *= inv_std.reshape(shape)  # in place: every new array of this size is one more pass over memory
        y = x_hat
        if self.affine:
            y = x_hat * self.params["weight"].astype(x.dtype).reshape(shape)
            y += self.params["bias"].astype(x.dtype).reshape(shape)
        self._cache = (x_hat, inv_std, self.training)
        return y

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("BatchNorm2d: backward called before forward")
        x_hat, inv_std, training = self._cache
        axes, shape = (0, 2, 3), (1, -1, 1, 1)
        dy = np.asarray(dy, dtype=x_hat.dtype)
        if dy.shape != x_hat.shape:
            raise ValueError(f"BatchNorm2d: expected dy of shape {x_hat.shape}, got {dy.shape}")
        d_gamma = (dy * x_hat).sum(axis=axes)
        d_beta = dy.sum(axis=axes)
        gamma = 1
        if self.affine:
            self.grads["weight"], self.grads["bias"] = d_gamma, d_beta
            gamma = self.params["weight"].astype(dy.dtype)
        scale = (gamma * inv_std).reshape(shape)  # dx_hat = gamma dy, and x_hat = (x - mean) inv_std
        if not training:  # the running statistics are constants
            return dy * scale
        n = x_hat.size // self.num_features
        # the mean and the variance depend on every x of the channel: two extra terms,
        # dx = gamma inv_std (dy - mean(dy) - x_hat mean(dy x_hat)). gamma is constant over a channel,
        # so those means are d_beta / n and d_gamma / n: no new pass over the data
        dx = x_hat * (d_gamma / n).reshape(shape)
        dx += (d_beta / n).reshape(shape)
        np.subtract(dy, dx, out=dx)  # in place
        dx *= scale
        return dx

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class LayerNorm:
    """Layer normalisation over the trailing dimensions:
    ``y = gamma * (x - mean) / sqrt(var + eps) + beta``, one mean and variance per sample.

    Shape: input ``(*, *normalized_shape)``, output the same. ``weight`` (gamma) and ``bias``
    (beta) have shape ``normalized_shape``, initialised to ones and zeros. The statistics use the
    biased variance and are the same in training and evaluation (no running statistics).
    Reference: Ba, Kiros & Hinton, *Layer normalization* (2016).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ln = LayerNorm(4)
    >>> y = ln.forward(10 * rng.standard_normal((2, 4)))
    >>> np.round(y.mean(axis=-1), 6) + 0.0, np.round(y.var(axis=-1), 3)
    (array([0., 0.]), array([1., 1.]))
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.params = {"weight": np.ones(self.normalized_shape, dtype=np.float32),
                       "bias": np.zeros(self.normalized_shape, dtype=np.float32)} if elementwise_affine else {}
        self.grads = {}
        self.training = True
        self._cache = None

    @staticmethod
    def _row_buffer(n):
        """A ufunc buffer size for broadcasts along rows of n numbers: at most one row.

        numpy runs a broadcast through a buffer (8192 elements by default). On rows shorter than
        that, a broadcast runs markedly slower than with a buffer of at most one row (the
        performance page measures it); numpy wants a multiple of 16."""
        return int(min(8192, max(16, n - n % 16)))

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"LayerNorm: expected a floating-point input, got dtype {x.dtype}")
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected input of shape (*, {', '.join(map(str, self.normalized_shape))}), "
                             f"got {x.shape}")
        n = int(np.prod(self.normalized_shape))  # the features of one sample
        x2 = x.reshape(-1, n)  # (M, n): one row per sample, whatever the leading axes
        with np.errstate():  # the buffer size set here reverts at the end of the block
            np.setbufsize(self._row_buffer(n))
            # row sums and dot products as matrix products (BLAS): several times faster than .mean(axis=1)
            x_hat = x2 - (x2 @ np.full(n, 1 / n, dtype=x.dtype))[:, None]  # centred; normalised in place below
            inv_std = 1 / np.sqrt(np.vecdot(x_hat, x_hat) / n + x.dtype.type(self.eps))  # (M,), biased variance
            x_hat *= inv_std[:, None]  # in place: every new array of this size is one more pass over memory
            y = x_hat
            if self.elementwise_affine:
                y = x_hat * self.params["weight"].astype(x.dtype, copy=False).reshape(n)
                y += self.params["bias"].astype(x.dtype, copy=False).reshape(n)
        self._cache = (x_hat, inv_std, x.shape)
        return y.reshape(x.shape)

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("LayerNorm: backward called before forward")
        x_hat, inv_std, shape = self._cache
        dy = np.asarray(dy, dtype=x_hat.dtype)
        if dy.shape != shape:
            raise ValueError(f"LayerNorm: expected dy of shape {shape}, got {dy.shape}")
        M, n = x_hat.shape
        dy = dy.reshape(M, n)
        w = self.params["weight"].astype(dy.dtype, copy=False).reshape(n) if self.elementwise_affine else np.ones(n, dy.dtype)
        # dx = inv_std (dx_hat - mean(dx_hat) - x_hat mean(dx_hat x_hat)) with dx_hat = dy w, as in batch
        # norm but with the means over each sample's features. Both means are matrix-vector products:
        # mean(dx_hat) = dy @ w / n and mean(dx_hat x_hat) = (dy x_hat) @ w / n, and the column sums
        # of dy x_hat and dy are d gamma and d beta: one product dy x_hat serves all four
        with np.errstate():
            np.setbufsize(self._row_buffer(n))
            dy_x_hat = dy * x_hat
            if self.elementwise_affine:  # gamma and beta are shared by the rows: sum over them
                ones = np.ones(M, dtype=dy.dtype)
                self.grads["weight"] = (ones @ dy_x_hat).reshape(self.normalized_shape)  # d gamma
                self.grads["bias"] = (ones @ dy).reshape(self.normalized_shape)  # d beta
            mean_dx_hat_x_hat = dy_x_hat @ w / n
            mean_dx_hat = dy @ w / n
            dx = dy * w  # dx_hat, turned into dx in place
            dx -= np.multiply(x_hat, mean_dx_hat_x_hat[:, None], out=dy_x_hat)  # dy_x_hat is spent: reuse it
            dx -= mean_dx_hat[:, None]
            dx *= inv_std[:, None]
        return dx.reshape(shape)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


# --------------------------------------------------------------------------------------
# Dropout and Embedding
# --------------------------------------------------------------------------------------


class Dropout:
    """Inverted dropout: ``y = x * m / (1 - p)`` with ``m ~ Bernoulli(1 - p)`` in training, ``y = x`` in eval.

    Shape: any input, output the same. Each element is zeroed with probability ``p`` and the
    survivors are scaled by the keep probability's inverse ``1/(1 - p)``, so the expected value
    of every element is unchanged and evaluation needs no rescaling. No parameters.
    Reference: Srivastava et al., *Dropout: a simple way to prevent neural networks from overfitting* (2014).

    >>> import numpy as np
    >>> drop = Dropout(0.5, rng=0)
    >>> drop.forward(np.ones(8))
    array([2., 2., 2., 0., 0., 0., 0., 0.])
    >>> drop.eval().forward(np.ones(3))
    array([1., 1., 1.])
    """

    def __init__(self, p=0.5, *, rng=None):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}")
        self.p = p
        self.rng = np.random.default_rng(rng)
        self.params, self.grads = {}, {}
        self.training = True
        self._mask = None
        self._shape = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Dropout: expected a floating-point input, got dtype {x.dtype}")
        self._shape = x.shape
        if not self.training or self.p == 0:
            self._mask = None  # identity
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p  # kept with probability 1 - p
        scale = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
        self._mask = keep * x.dtype.type(scale)  # the same mask scales the gradient
        return x * self._mask

    def backward(self, dy):
        if self._shape is None:
            raise RuntimeError("Dropout: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._shape:
            raise ValueError(f"Dropout: expected dy of shape {self._shape}, got {dy.shape}")
        return dy if self._mask is None else dy * self._mask

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class Embedding:
    """Lookup table: ``y[..., :] = W[x[...], :]`` for integer indices ``x``.

    Shape: input an integer array of any shape ``(*)``, output ``(*, embedding_dim)``.
    ``weight`` is ``(num_embeddings, embedding_dim)`` drawn from N(0, 1) as in torch; the row
    ``padding_idx`` (if given) starts at zero and never receives a gradient. ``backward``
    returns ``None`` (indices have no gradient) and fills ``grads["weight"]``.
    Reference: Bengio et al., *A neural probabilistic language model* (2003).

    >>> import numpy as np
    >>> emb = Embedding(10, 3, padding_idx=0, rng=0)
    >>> y = emb.forward(np.array([[4, 0, 4]]))
    >>> y.shape, y[0, 1]
    ((1, 3, 3), array([0., 0., 0.], dtype=float32))
    >>> emb.backward(np.ones((1, 3, 3))) is None, emb.grads["weight"][[0, 4]]
    (True, array([[0., 0., 0.],
           [2., 2., 2.]]))
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, *, rng=None):
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be in [-{num_embeddings}, {num_embeddings}), "
                                 f"got {padding_idx}")
            padding_idx %= num_embeddings  # a negative index counts from the end, as in torch
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        rng = np.random.default_rng(rng)
        weight = rng.standard_normal((num_embeddings, embedding_dim)).astype(np.float32)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self.params = {"weight": weight}
        self.grads = {}
        self.training = True
        self._x = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"Embedding: expected integer indices, got dtype {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.num_embeddings):
            raise ValueError(f"Embedding: expected indices in [0, {self.num_embeddings}), "
                             f"got values from {x.min()} to {x.max()}")
        self._x = x
        return np.take(self.params["weight"], x, axis=0)  # (*, embedding_dim); W[x] is slower, same result

    def backward(self, dy):
        if self._x is None:
            raise RuntimeError("Embedding: backward called before forward")
        W = self.params["weight"]
        dy = np.asarray(dy)
        if dy.shape != self._x.shape + (self.embedding_dim,):
            raise ValueError(f"Embedding: expected dy of shape {self._x.shape + (self.embedding_dim,)}, got {dy.shape}")
        dW = np.zeros(W.shape, dtype=np.result_type(W.dtype, dy.dtype))
        # a row used twice gets both: np.add.at. Its fast path wants 1-d indices into a 1-d array
        # (4x faster here), and row i of the table is the run i*D ... i*D + D - 1 of the flat table
        D = self.embedding_dim
        flat = (self._x[..., None] * D + np.arange(D)).ravel()  # (*, D) -> one index per element of dy
        np.add.at(dW.reshape(-1), flat, dy.reshape(-1))
        if self.padding_idx is not None:
            dW[self.padding_idx] = 0
        self.grads["weight"] = dW
        return None

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


# --------------------------------------------------------------------------------------
# Recurrent layers
# --------------------------------------------------------------------------------------


class RNN:
    """Elman recurrent layer: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ReLU).

    Shape: input ``(T, N, input_size)`` (``(N, T, input_size)`` if ``batch_first``; ``(T, input_size)``
    unbatched), optional ``hx`` ``(1, N, hidden_size)``; returns ``output`` ``(T, N, hidden_size)``
    (batch-first likewise) and ``h_n`` ``(1, N, hidden_size)``. ``weight_ih_l0`` is
    ``(hidden_size, input_size)``, ``weight_hh_l0`` ``(hidden_size, hidden_size)``, biases
    ``(hidden_size,)``, all from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as in torch.
    ``backward(d_output, dh_n=None)`` returns ``dx`` and sets ``dh0``, the gradient for ``hx``.
    Reference: Elman, *Finding structure in time* (1990).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> rnn = RNN(3, 5, rng=rng)
    >>> output, h_n = rnn.forward(rng.standard_normal((7, 2, 3)))
    >>> output.shape, h_n.shape, bool(np.all(output[-1] == h_n[0]))
    ((7, 2, 5), (1, 2, 5), True)
    >>> rnn.backward(np.ones_like(output)).shape
    (7, 2, 3)
    """

    def __init__(self, input_size, hidden_size, *, nonlinearity="tanh", bias=True, batch_first=False, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.nonlinearity, self.batch_first = nonlinearity, batch_first
        rng = np.random.default_rng(rng)
        k = 1.0 / np.sqrt(hidden_size)
        H, I = hidden_size, input_size
        self.params = {"weight_ih_l0": rng.uniform(-k, k, (H, I)).astype(np.float32),
                       "weight_hh_l0": rng.uniform(-k, k, (H, H)).astype(np.float32)}
        if bias:
            self.params["bias_ih_l0"] = rng.uniform(-k, k, H).astype(np.float32)
            self.params["bias_hh_l0"] = rng.uniform(-k, k, H).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    def forward(self, x, hx=None):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"RNN: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
            raise ValueError(f"RNN: expected input of shape {layout.format(self.input_size)} or "
                             f"(T, {self.input_size}), got {x.shape}")
        unbatched = x.ndim == 2
        x = x[:, None] if unbatched else (x.swapaxes(0, 1) if self.batch_first else x)  # (T, N, I)
        T, N, _ = x.shape
        H = self.hidden_size
        h_shape = (1, H) if unbatched else (1, N, H)
        if hx is not None and np.shape(hx) != h_shape:
            raise ValueError(f"RNN: expected hx of shape {h_shape}, got {np.shape(hx)}")
        W_ih = self.params["weight_ih_l0"].astype(x.dtype, copy=False)
        W_hh = self.params["weight_hh_l0"].astype(x.dtype, copy=False)
        # the input projection of every time step in one product
        a_x = x @ W_ih.T  # (T, N, H)
        if "bias_ih_l0" in self.params:
            a_x += (self.params["bias_ih_l0"] + self.params["bias_hh_l0"]).astype(x.dtype)
        h = np.empty((T + 1, N, H), dtype=x.dtype)  # h[0] is the initial state
        h[0] = 0 if hx is None else np.reshape(hx, (N, H))
        for t in range(T):
            a = a_x[t] + h[t] @ W_hh.T
            h[t + 1] = np.tanh(a) if self.nonlinearity == "tanh" else np.maximum(a, 0)
        self._cache = (x, h, unbatched)
        output = h[1:]
        if unbatched:
            return output[:, 0], h[-1].reshape(h_shape)
        return (output.swapaxes(0, 1) if self.batch_first else output), h[-1][None]

    def backward(self, d_output, dh_n=None):
        if self._cache is None:
            raise RuntimeError("RNN: backward called before forward")
        x, h, unbatched = self._cache
        T, N, I = x.shape
        H = self.hidden_size
        dy = np.asarray(d_output, dtype=x.dtype)
        expected = (T, H) if unbatched else ((N, T, H) if self.batch_first else (T, N, H))
        if dy.shape != expected:
            raise ValueError(f"RNN: expected d_output of shape {expected}, got {dy.shape}")
        dy = dy[:, None] if unbatched else (dy.swapaxes(0, 1) if self.batch_first else dy)
        W_ih = self.params["weight_ih_l0"].astype(x.dtype, copy=False)
        W_hh = self.params["weight_hh_l0"].astype(x.dtype, copy=False)
        da = np.empty((T, N, H), dtype=x.dtype)  # gradient of the pre-activation at every step
        dh = np.zeros((N, H), dtype=x.dtype) if dh_n is None else np.reshape(dh_n, (N, H)).astype(x.dtype)
        for t in reversed(range(T)):
            dh = dh + dy[t]  # from the output at t and from step t + 1
            da[t] = dh * (1 - h[t + 1] ** 2) if self.nonlinearity == "tanh" else dh * (h[t + 1] > 0)
            dh = da[t] @ W_hh  # to h_{t-1}
        self.dh0 = dh.reshape((1, H) if unbatched else (1, N, H))
        da2 = da.reshape(T * N, H)
        self.grads["weight_ih_l0"] = da2.T @ x.reshape(T * N, I)
        self.grads["weight_hh_l0"] = da2.T @ h[:-1].reshape(T * N, H)
        if "bias_ih_l0" in self.params:
            db = da2.sum(axis=0)  # both biases enter every step's sum equally
            self.grads["bias_ih_l0"], self.grads["bias_hh_l0"] = db, db.copy()  # two arrays, not one
        dx = da @ W_ih  # (T, N, I)
        return dx[:, 0] if unbatched else (dx.swapaxes(0, 1) if self.batch_first else dx)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class LSTM:
    """Long short-term memory layer, gates stacked ``i, f, g, o`` as in torch:
    ``[i, f, g, o] = [sigma, sigma, tanh, sigma](x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``,
    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.

    Shape: input ``(T, N, input_size)`` (``(N, T, input_size)`` if ``batch_first``; ``(T, input_size)``
    unbatched), optional ``hx = (h_0, c_0)`` each ``(1, N, hidden_size)``; returns ``output``
    ``(T, N, hidden_size)`` and ``(h_n, c_n)``. ``weight_ih_l0`` is ``(4 hidden_size, input_size)``,
    ``weight_hh_l0`` ``(4 hidden_size, hidden_size)``, biases ``(4 hidden_size,)``, all from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). ``backward(d_output, dh_n=None, dc_n=None)``
    returns ``dx`` and sets ``dh0`` and ``dc0``.
    Reference: Hochreiter & Schmidhuber, *Long short-term memory* (1997).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> lstm = LSTM(3, 5, batch_first=True, rng=rng)
    >>> output, (h_n, c_n) = lstm.forward(rng.standard_normal((2, 7, 3)))
    >>> output.shape, h_n.shape, c_n.shape
    ((2, 7, 5), (1, 2, 5), (1, 2, 5))
    >>> lstm.backward(np.ones_like(output)).shape, lstm.grads["weight_hh_l0"].shape
    ((2, 7, 3), (20, 5))
    """

    def __init__(self, input_size, hidden_size, *, bias=True, batch_first=False, rng=None):
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        rng = np.random.default_rng(rng)
        k = 1.0 / np.sqrt(hidden_size)
        H, I = hidden_size, input_size
        self.params = {"weight_ih_l0": rng.uniform(-k, k, (4 * H, I)).astype(np.float32),
                       "weight_hh_l0": rng.uniform(-k, k, (4 * H, H)).astype(np.float32)}
        if bias:
            self.params["bias_ih_l0"] = rng.uniform(-k, k, 4 * H).astype(np.float32)
            self.params["bias_hh_l0"] = rng.uniform(-k, k, 4 * H).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    @staticmethod
    def _sigmoid(z):
        # sigma(z) = (1 + tanh(z / 2)) / 2: tanh never overflows, and no np.where on the sign
        # (a random mask makes np.where several times slower than the whole formula)
        return (1 + np.tanh(z / 2)) / 2

    def forward(self, x, hx=None):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"LSTM: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
            raise ValueError(f"LSTM: expected input of shape {layout.format(self.input_size)} or "
                             f"(T, {self.input_size}), got {x.shape}")
        unbatched = x.ndim == 2
        x = x[:, None] if unbatched else (x.swapaxes(0, 1) if self.batch_first else x)  # (T, N, I)
        T, N, _ = x.shape
        H = self.hidden_size
        h_shape = (1, H) if unbatched else (1, N, H)
        if hx is not None and (len(hx) != 2 or np.shape(hx[0]) != h_shape or np.shape(hx[1]) != h_shape):
            raise ValueError(f"LSTM: expected hx = (h_0, c_0), each of shape {h_shape}, "
                             f"got {tuple(np.shape(v) for v in hx)}")
        W_ih = self.params["weight_ih_l0"].astype(x.dtype, copy=False)
        W_hh = self.params["weight_hh_l0"].astype(x.dtype, copy=False)
        z_x = x @ W_ih.T  # (T, N, 4H): the input part of every gate at every step, one product
        if "bias_ih_l0" in self.params:
            z_x += (self.params["bias_ih_l0"] + self.params["bias_hh_l0"]).astype(x.dtype)
        h = np.empty((T + 1, N, H), dtype=x.dtype)
        c = np.empty((T + 1, N, H), dtype=x.dtype)
        gates = np.empty((T, N, 4 * H), dtype=x.dtype)  # i, f, g, o after their nonlinearities
        h[0] = 0 if hx is None else np.reshape(hx[0], (N, H))
        c[0] = 0 if hx is None else np.reshape(hx[1], (N, H))
        for t in range(T):
            z = z_x[t] + h[t] @ W_hh.T  # (N, 4H): all four gates in one product
            gates[t] = self._sigmoid(z)
            gates[t, :, 2 * H:3 * H] = np.tanh(z[:, 2 * H:3 * H])  # g is the candidate, in (-1, 1)
            i, f, g, o = gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:3 * H], gates[t, :, 3 * H:]
            c[t + 1] = f * c[t] + i * g
            h[t + 1] = o * np.tanh(c[t + 1])
        self._cache = (x, h, c, gates, unbatched)
        output = h[1:]
        if unbatched:
            return output[:, 0], (h[-1].reshape(h_shape), c[-1].reshape(h_shape))
        output = output.swapaxes(0, 1) if self.batch_first else output
        return output, (h[-1][None], c[-1][None])

    def backward(self, d_output, dh_n=None, dc_n=None):
        if self._cache is None:
            raise RuntimeError("LSTM: backward called before forward")
        x, h, c, gates, unbatched = self._cache
        T, N, I = x.shape
        H = self.hidden_size
        dy = np.asarray(d_output, dtype=x.dtype)
        expected = (T, H) if unbatched else ((N, T, H) if self.batch_first else (T, N, H))
        if dy.shape != expected:
            raise ValueError(f"LSTM: expected d_output of shape {expected}, got {dy.shape}")
        dy = dy[:, None] if unbatched else (dy.swapaxes(0, 1) if self.batch_first else dy)
        W_ih = self.params["weight_ih_l0"].astype(x.dtype, copy=False)
        W_hh = self.params["weight_hh_l0"].astype(x.dtype, copy=False)
        dz = np.empty((T, N, 4 * H), dtype=x.dtype)  # gradient of the gate pre-activations
        dh = np.zeros((N, H), dtype=x.dtype) if dh_n is None else np.reshape(dh_n, (N, H)).astype(x.dtype)
        dc = np.zeros((N, H), dtype=x.dtype) if dc_n is None else np.reshape(dc_n, (N, H)).astype(x.dtype)
        for t in reversed(range(T)):
            i, f, g, o = gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:3 * H], gates[t, :, 3 * H:]
            tanh_c = np.tanh(c[t + 1])
            dh = dh + dy[t]  # from the output at t and from step t + 1
            do = dh * tanh_c  # h = o * tanh(c)
            dc = dc + dh * o * (1 - tanh_c ** 2)
            di, df, dg = dc * g, dc * c[t], dc * i  # c = f * c_prev + i * g
            dz[t, :, :H] = di * i * (1 - i)
            dz[t, :, H:2 * H] = df * f * (1 - f)
            dz[t, :, 2 * H:3 * H] = dg * (1 - g ** 2)
            dz[t, :, 3 * H:] = do * o * (1 - o)
            dc = dc * f  # to c_{t-1}
            dh = dz[t] @ W_hh  # to h_{t-1}
        self.dh0 = dh.reshape((1, H) if unbatched else (1, N, H))
        self.dc0 = dc.reshape((1, H) if unbatched else (1, N, H))
        dz2 = dz.reshape(T * N, 4 * H)
        self.grads["weight_ih_l0"] = dz2.T @ x.reshape(T * N, I)
        self.grads["weight_hh_l0"] = dz2.T @ h[:-1].reshape(T * N, H)
        if "bias_ih_l0" in self.params:
            db = dz2.sum(axis=0)  # both biases enter every step's sum equally
            self.grads["bias_ih_l0"], self.grads["bias_hh_l0"] = db, db.copy()  # two arrays, not one
        dx = dz @ W_ih  # (T, N, I)
        return dx[:, 0] if unbatched else (dx.swapaxes(0, 1) if self.batch_first else dx)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class GRU:
    """Gated recurrent unit, gates stacked ``r, z, n`` as in torch:
    ``r = sigma(x W_ir^T + b_ir + h W_hr^T + b_hr)``, ``z = sigma(x W_iz^T + b_iz + h W_hz^T + b_hz)``,
    ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``, ``h_t = (1 - z) * n + z * h_{t-1}``.

    Shape: input ``(T, N, input_size)`` (``(N, T, input_size)`` if ``batch_first``; ``(T, input_size)``
    unbatched), optional ``hx`` ``(1, N, hidden_size)``; returns ``output`` ``(T, N, hidden_size)``
    and ``h_n`` ``(1, N, hidden_size)``. ``weight_ih_l0`` is ``(3 hidden_size, input_size)``,
    ``weight_hh_l0`` ``(3 hidden_size, hidden_size)``, biases ``(3 hidden_size,)``, all from
    U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). ``backward(d_output, dh_n=None)`` returns ``dx``
    and sets ``dh0``.
    Reference: Cho et al., *Learning phrase representations using RNN encoder-decoder* (2014).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> gru = GRU(3, 5, rng=rng)
    >>> output, h_n = gru.forward(rng.standard_normal((7, 2, 3)))
    >>> output.shape, h_n.shape
    ((7, 2, 5), (1, 2, 5))
    >>> gru.backward(np.ones_like(output)).shape
    (7, 2, 3)
    """

    def __init__(self, input_size, hidden_size, *, bias=True, batch_first=False, rng=None):
        self.input_size, self.hidden_size, self.batch_first = input_size, hidden_size, batch_first
        rng = np.random.default_rng(rng)
        k = 1.0 / np.sqrt(hidden_size)
        H, I = hidden_size, input_size
        self.params = {"weight_ih_l0": rng.uniform(-k, k, (3 * H, I)).astype(np.float32),
                       "weight_hh_l0": rng.uniform(-k, k, (3 * H, H)).astype(np.float32)}
        if bias:
            self.params["bias_ih_l0"] = rng.uniform(-k, k, 3 * H).astype(np.float32)
            self.params["bias_hh_l0"] = rng.uniform(-k, k, 3 * H).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    @staticmethod
    def _sigmoid(z):
        # sigma(z) = (1 + tanh(z / 2)) / 2: tanh never overflows, and no np.where on the sign
        # (a random mask makes np.where several times slower than the whole formula)
        return (1 + np.tanh(z / 2)) / 2

    def forward(self, x, hx=None):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"GRU: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
            raise ValueError(f"GRU: expected input of shape {layout.format(self.input_size)} or "
                             f"(T, {self.input_size}), got {x.shape}")
        unbatched = x.ndim == 2
        x = x[:, None] if unbatched else (x.swapaxes(0, 1) if self.batch_first else x)  # (T, N, I)
        T, N, _ = x.shape
        H = self.hidden_size
        h_shape = (1, H) if unbatched else (1, N, H)
        if hx is not None and np.shape(hx) != h_shape:
            raise ValueError(f"GRU: expected hx of shape {h_shape}, got {np.shape(hx)}")
        W_ih = self.params["weight_ih_l0"].astype(x.dtype, copy=False)
        W_hh = self.params["weight_hh_l0"].astype(x.dtype, copy=False)
        has_bias = "bias_ih_l0" in self.params
        a_x = x @ W_ih.T  # (T, N, 3H): the input part of r, z and n at every step, one product
        if has_bias:
            a_x += self.params["bias_ih_l0"].astype(x.dtype)
        b_hh = self.params["bias_hh_l0"].astype(x.dtype) if has_bias else 0
        h = np.empty((T + 1, N, H), dtype=x.dtype)
        gates = np.empty((T, N, 3 * H), dtype=x.dtype)  # r, z, n after their nonlinearities
        hn = np.empty((T, N, H), dtype=x.dtype)  # h W_hn^T + b_hn, which r multiplies
        h[0] = 0 if hx is None else np.reshape(hx, (N, H))
        for t in range(T):
            a_h = h[t] @ W_hh.T + b_hh  # (N, 3H): the hidden part of r, z and n, one product
            gates[t, :, :2 * H] = self._sigmoid(a_x[t, :, :2 * H] + a_h[:, :2 * H])  # r and z
            r, z = gates[t, :, :H], gates[t, :, H:2 * H]
            hn[t] = a_h[:, 2 * H:]
            gates[t, :, 2 * H:] = n = np.tanh(a_x[t, :, 2 * H:] + r * hn[t])  # the candidate uses x and r * h
            h[t + 1] = (1 - z) * n + z * h[t]
        self._cache = (x, h, gates, hn, unbatched)
        output = h[1:]
        if unbatched:
            return output[:, 0], h[-1].reshape(h_shape)
        return (output.swapaxes(0, 1) if self.batch_first else output), h[-1][None]

    def backward(self, d_output, dh_n=None):
        if self._cache is None:
            raise RuntimeError("GRU: backward called before forward")
        x, h, gates, hn, unbatched = self._cache
        T, N, I = x.shape
        H = self.hidden_size
        dy = np.asarray(d_output, dtype=x.dtype)
        expected = (T, H) if unbatched else ((N, T, H) if self.batch_first else (T, N, H))
        if dy.shape != expected:
            raise ValueError(f"GRU: expected d_output of shape {expected}, got {dy.shape}")
        dy = dy[:, None] if unbatched else (dy.swapaxes(0, 1) if self.batch_first else dy)
        W_ih = self.params["weight_ih_l0"].astype(x.dtype, copy=False)
        W_hh = self.params["weight_hh_l0"].astype(x.dtype, copy=False)
        da_x = np.empty((T, N, 3 * H), dtype=x.dtype)  # gradient of the input parts (and b_ih)
        da_h = np.empty((T, N, 3 * H), dtype=x.dtype)  # gradient of the hidden parts (and b_hh)
        dh = np.zeros((N, H), dtype=x.dtype) if dh_n is None else np.reshape(dh_n, (N, H)).astype(x.dtype)
        for t in reversed(range(T)):
            r, z, n = gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:]
            dh = dh + dy[t]  # from the output at t and from step t + 1
            dn = dh * (1 - z)  # h = (1 - z) * n + z * h_prev
            dz = dh * (h[t] - n)
            da_n = dn * (1 - n ** 2)  # through tanh
            dr = da_n * hn[t]
            da_x[t, :, :H] = da_h[t, :, :H] = dr * r * (1 - r)
            da_x[t, :, H:2 * H] = da_h[t, :, H:2 * H] = dz * z * (1 - z)
            da_x[t, :, 2 * H:] = da_n
            da_h[t, :, 2 * H:] = da_n * r  # r gates the hidden part of n
            dh = dh * z + da_h[t] @ W_hh  # to h_{t-1}: directly and through the gates
        self.dh0 = dh.reshape((1, H) if unbatched else (1, N, H))
        da_x2, da_h2 = da_x.reshape(T * N, 3 * H), da_h.reshape(T * N, 3 * H)
        self.grads["weight_ih_l0"] = da_x2.T @ x.reshape(T * N, I)
        self.grads["weight_hh_l0"] = da_h2.T @ h[:-1].reshape(T * N, H)
        if "bias_ih_l0" in self.params:
            self.grads["bias_ih_l0"] = da_x2.sum(axis=0)
            self.grads["bias_hh_l0"] = da_h2.sum(axis=0)
        dx = da_x @ W_ih  # (T, N, I)
        return dx[:, 0] if unbatched else (dx.swapaxes(0, 1) if self.batch_first else dx)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


# --------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------


class ReLU:
    """Rectified linear unit: ``y = max(x, 0)``, ``dy/dx = 1 if x > 0 else 0``.

    Shape: any input, output the same. No parameters.
    Reference: Nair & Hinton, *Rectified linear units improve restricted Boltzmann machines* (2010).

    >>> import numpy as np
    >>> relu = ReLU()
    >>> relu.forward(np.array([-2.0, 0.0, 3.0]))
    array([0., 0., 3.])
    >>> relu.backward(np.ones(3))
    array([0., 0., 1.])
    """

    def __init__(self):
        self.params, self.grads = {}, {}
        self.training = True
        self._y = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"ReLU: expected a floating-point input, got dtype {x.dtype}")
        # max(x, 0): np.clip with both bounds runs numpy's fastest loop for it (np.maximum is ~3x slower)
        self._y = np.clip(x, 0, np.inf)  # y > 0 exactly where x > 0: the output is all backward needs
        return self._y

    def backward(self, dy):
        if self._y is None:
            raise RuntimeError("ReLU: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._y.shape:
            raise ValueError(f"ReLU: expected dy of shape {self._y.shape}, got {dy.shape}")
        dx = (self._y > 0).astype(dy.dtype)  # dy * [y > 0], built in one array (bool * float is slower)
        dx *= dy
        return dx

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class LeakyReLU:
    """Leaky ReLU: ``y = x if x > 0 else negative_slope * x``.

    Shape: any input, output the same. No parameters.
    Reference: Maas, Hannun & Ng, *Rectifier nonlinearities improve neural network acoustic models* (2013).

    >>> import numpy as np
    >>> act = LeakyReLU(0.1)
    >>> act.forward(np.array([-2.0, 0.0, 3.0]))
    array([-0.2,  0. ,  3. ])
    >>> act.backward(np.ones(3))
    array([0.1, 0.1, 1. ])
    """

    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope
        self.params, self.grads = {}, {}
        self.training = True
        self._positive = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"LeakyReLU: expected a floating-point input, got dtype {x.dtype}")
        self._positive = x > 0
        return np.where(self._positive, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dy):
        if self._positive is None:
            raise RuntimeError("LeakyReLU: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._positive.shape:
            raise ValueError(f"LeakyReLU: expected dy of shape {self._positive.shape}, got {dy.shape}")
        return np.where(self._positive, dy, dy * dy.dtype.type(self.negative_slope))

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class Sigmoid:
    """Logistic sigmoid: ``y = 1 / (1 + exp(-x))``, ``dy/dx = y (1 - y)``.

    Shape: any input, output the same. No parameters. Computed from ``exp(-|x|)``, which never
    overflows, so any input magnitude is safe.
    Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), section 6.3.2.

    >>> import numpy as np
    >>> act = Sigmoid()
    >>> act.forward(np.array([-1000.0, 0.0, 1000.0]))
    array([0. , 0.5, 1. ])
    >>> act.backward(np.ones(3))
    array([0.  , 0.25, 0.  ])
    """

    def __init__(self):
        self.params, self.grads = {}, {}
        self.training = True
        self._y = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Sigmoid: expected a floating-point input, got dtype {x.dtype}")
        e = np.exp(-np.abs(x))  # in (0, 1]: no overflow for either sign
        self._y = np.where(x >= 0, 1, e) / (1 + e)  # 1/(1 + e) for x >= 0, e/(1 + e) below
        return self._y

    def backward(self, dy):
        if self._y is None:
            raise RuntimeError("Sigmoid: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._y.shape:
            raise ValueError(f"Sigmoid: expected dy of shape {self._y.shape}, got {dy.shape}")
        return dy * self._y * (1 - self._y)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class Tanh:
    """Hyperbolic tangent: ``y = tanh(x)``, ``dy/dx = 1 - y^2``.

    Shape: any input, output the same. No parameters.
    Reference: LeCun et al., *Efficient BackProp* (1998).

    >>> import numpy as np
    >>> act = Tanh()
    >>> act.forward(np.array([-1000.0, 0.0, 1000.0]))
    array([-1.,  0.,  1.])
    >>> act.backward(np.ones(3))
    array([0., 1., 0.])
    """

    def __init__(self):
        self.params, self.grads = {}, {}
        self.training = True
        self._y = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Tanh: expected a floating-point input, got dtype {x.dtype}")
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy):
        if self._y is None:
            raise RuntimeError("Tanh: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._y.shape:
            raise ValueError(f"Tanh: expected dy of shape {self._y.shape}, got {dy.shape}")
        return dy * (1 - self._y ** 2)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class Softmax:
    """Softmax over one axis: ``y_i = exp(x_i - max x) / sum_j exp(x_j - max x)``.

    Shape: any input, output the same; ``dim`` is the axis that sums to one and must be given.
    Subtracting the maximum changes nothing mathematically and keeps ``exp`` from overflowing.
    Backward: ``dx = y * (dy - sum(dy * y, dim))``. No parameters.
    Reference: Bridle, *Probabilistic interpretation of feedforward classification network outputs* (1990).

    >>> import numpy as np
    >>> sm = Softmax(dim=1)
    >>> y = sm.forward(np.array([[1000.0, 1000.0], [0.0, np.log(3.0)]]))
    >>> y
    array([[0.5 , 0.5 ],
           [0.25, 0.75]])
    >>> sm.backward(np.array([[1.0, 1.0], [1.0, 1.0]]))
    array([[0., 0.],
           [0., 0.]])
    """

    def __init__(self, dim):
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Softmax: dim must be an int (the axis to normalise), got {dim!r}")
        self.dim = int(dim)
        self.params, self.grads = {}, {}
        self.training = True
        self._y = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Softmax: expected a floating-point input, got dtype {x.dtype}")
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"Softmax: dim {self.dim} is out of range for input of shape {x.shape}")
        if x.size == 0:  # nothing to normalise (and an empty axis has no maximum)
            self._y = x.copy()
            return self._y.copy()
        with np.errstate():  # the buffer size set here reverts at the end of the block
            np.setbufsize(self._row_buffer(x.shape[-1]))
            e = x - x.max(axis=self.dim, keepdims=True)  # the largest exponent is exp(0) = 1
            np.exp(e, out=e)  # in place: every new array of this size is one more pass over memory
            e /= self._sum(e)
        self._y = e
        return e

    def _sum(self, a):
        """Sums along dim, keeping the axis. Along the last axis, a matrix-vector product (BLAS):
        several times faster than a.sum(axis=-1) on rows of a few thousand numbers."""
        if self.dim % a.ndim == a.ndim - 1:  # a has at least one axis: dim is one of them
            return (a @ np.ones(a.shape[-1], dtype=a.dtype))[..., None]
        return a.sum(axis=self.dim, keepdims=True)

    @staticmethod
    def _row_buffer(n):
        """A ufunc buffer of at most one row (n numbers, rounded down to a multiple of 16, as numpy
        wants): numpy runs a broadcast through a buffer of 8192 elements by default, and on rows
        shorter than that a broadcast runs markedly slower (see LayerNorm and the performance page)."""
        return int(min(8192, max(16, n - n % 16)))

    def backward(self, dy):
        if self._y is None:
            raise RuntimeError("Softmax: backward called before forward")
        y = self._y
        dy = np.asarray(dy)
        if dy.shape != y.shape:
            raise ValueError(f"Softmax: expected dy of shape {y.shape}, got {dy.shape}")
        # dx = y (dy - sum(dy y)), built in place in one array
        with np.errstate():
            np.setbufsize(self._row_buffer(y.shape[-1]))
            dx = dy * y
            np.subtract(dy, self._sum(dx), out=dx)
            dx *= y
        return dx

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class GELU:
    """Gaussian error linear unit: ``y = x Phi(x)`` with ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``;
    ``approximate='tanh'`` uses ``y = x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``.

    Shape: any input, output the same. No parameters. Backward: ``dy/dx = Phi(x) + x phi(x)``
    with ``phi`` the standard normal density. numpy has no ``erf``: ``_erf`` evaluates it to
    double precision with the piecewise rational approximations of fdlibm (Sun Microsystems);
    float32 input needs seven digits, which Abramowitz & Stegun's formula 7.1.26 gives in one piece
    (``_forward32``). As in PyTorch, the derivative at x = +-inf is nan (inf * 0).
    Reference: Hendrycks & Gimpel, *Gaussian error linear units (GELUs)* (2016).

    >>> import numpy as np
    >>> act = GELU()
    >>> act.forward(np.array([-3.0, 0.0, 1.0, 1e4])).round(6)
    array([-4.05000e-03,  0.00000e+00,  8.41345e-01,  1.00000e+04])
    >>> GELU(approximate="tanh").forward(np.array([1.0])).round(6)
    array([0.841192])
    """

    # fdlibm s_erf.c coefficients, highest degree first for np.polyval
    _PP = (-2.37630166566501626084e-05, -5.77027029648944159157e-03, -2.84817495755985104766e-02,
           -3.25042107247001499370e-01, 1.28379167095512558561e-01)
    _QQ = (-3.96022827877536812320e-06, 1.32494738004321644526e-04, 5.08130628187576562776e-03,
           6.50222499887672944485e-02, 3.97917223959155352819e-01, 1.0)
    _PA = (-2.16637559486879084300e-03, 3.54783043256182359371e-02, -1.10894694282396677476e-01,
           3.18346619901161753674e-01, -3.72207876035701323847e-01, 4.14856118683748331666e-01,
           -2.36211856075265944077e-03)
    _QA = (1.19844998467991074170e-02, 1.36370839120290507362e-02, 1.26171219808761642112e-01,
           7.18286544141962662868e-02, 5.40397917702171048937e-01, 1.06420880400844228286e-01, 1.0)
    _RA = (-9.81432934416914548592e+00, -8.12874355063065934246e+01, -1.84605092906711035994e+02,
           -1.62396669462573470355e+02, -6.23753324503260060396e+01, -1.05586262253232909814e+01,
           -6.93858572707181764372e-01, -9.86494403484714822705e-03)
    _SA = (-6.04244152148580987438e-02, 6.57024977031928170135e+00, 1.08635005541779435134e+02,
           4.29008140027567833386e+02, 6.45387271733267880336e+02, 4.34565877475229228821e+02,
           1.37657754143519042600e+02, 1.96512716674392571292e+01, 1.0)
    _RB = (-4.83519191608651397019e+02, -1.02509513161107724954e+03, -6.37566443368389627722e+02,
           -1.60636384855821916062e+02, -1.77579549177547519889e+01, -7.99283237680523006574e-01,
           -9.86494292470009928597e-03)
    _SB = (-2.24409524465858183362e+01, 4.74528541206955367215e+02, 2.55305040643316442583e+03,
           3.19985821950859553908e+03, 1.53672958608443695994e+03, 3.25792512996573918826e+02,
           3.03380607434824582924e+01, 1.0)
    _ERX = 8.45062911510467529297e-01  # fdlibm's erx: the constant part of erf on [0.84375, 1.25]
    # float32: Abramowitz & Stegun 7.1.26, erfc(a) = t (a1 + t (a2 + ... + t a5)) exp(-a^2) with
    # t = 1 / (1 + p a), a >= 0; absolute error below 1.5e-7. Coefficients a5 ... a1, highest first
    _AS_P = 0.3275911
    _AS_A = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
    _BLOCK = 1 << 18  # float32 path: numbers per block (1 MB). Faster here than one pass over a large array

    def __init__(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self.params, self.grads = {}, {}
        self.training = True
        self._grad = None

    @classmethod
    def _erf(cls, x):
        a = np.abs(x)
        out = np.ones_like(a)  # erf(|x|) = 1 to double precision once |x| >= 6
        small = a < 0.84375
        z = a[small] ** 2
        out[small] = a[small] + a[small] * np.polyval(cls._PP, z) / np.polyval(cls._QQ, z)
        mid = (a >= 0.84375) & (a < 1.25)
        s = a[mid] - 1
        out[mid] = cls._ERX + np.polyval(cls._PA, s) / np.polyval(cls._QA, s)
        for lo, hi, R, S in ((1.25, 1 / 0.35, cls._RA, cls._SA), (1 / 0.35, 6.0, cls._RB, cls._SB)):
            tail = (a >= lo) & (a < hi)  # erf = 1 - erfc, erfc = exp(-a^2 - 0.5625 + R/S) / a
            at = a[tail]
            s = 1 / at ** 2
            out[tail] = 1 - np.exp(-at * at - 0.5625 + np.polyval(R, s) / np.polyval(S, s)) / at
        return np.copysign(out, x)

    @classmethod
    def _forward32(cls, x, y, grad, T):
        """Fill y with GELU(x) and grad with dy/dx, for float32 x; T is scratch of x's size.

        With H = Phi(-|x|) = erfc(|x| / sqrt 2) / 2 from A&S 7.1.26 and m = [x >= 0],
        Phi = |m - H|: 1 - H for x >= 0 and H itself for x < 0, so the small values of the left
        tail do not cancel. Every step writes into y, grad or T (``a *= b``, ``out=``) rather than
        into a new array."""
        f32 = np.float32
        E = grad  # grad holds exp(-x^2/2) until the end
        with np.errstate(over="ignore"):  # x^2 overflows to inf beyond 1.8e19: exp(-inf) is 0, as it should be
            np.multiply(x, x, out=E)
        E *= f32(-0.5 / np.log(2))
        np.exp2(E, out=E)  # E = exp(-x^2/2) = 2^(-x^2 / (2 ln 2)); exp2 is the cheaper of the two in float32
        c = f32(np.sqrt(2) / cls._AS_P)
        np.abs(x, out=T)
        T += c
        np.divide(c, T, out=T)  # T = t = 1 / (1 + p |x| / sqrt 2)
        b5, *rest = (f32(-a / 2) for a in cls._AS_A)  # -a_k / 2: the polynomial gives -H, not erfc
        np.multiply(T, b5, out=y)  # Horner's rule in y: t (b1 + t (b2 + t (b3 + t (b4 + t b5))))
        for b in rest:
            y += b
            y *= T
        y *= E  # y = -H
        with np.errstate(invalid="ignore"):  # inf * 0 at x = +-inf: the derivative is nan there, as in PyTorch
            E *= x
        E *= f32(1 / np.sqrt(2 * np.pi))  # E = x phi(x)
        np.greater_equal(x, f32(0), out=T)  # T = m: 1.0 where x >= 0, 0.0 below
        T += y
        np.abs(T, out=T)  # T = Phi = |m - H|
        grad += T  # grad = x phi + Phi
        np.multiply(x, T, out=y)  # y = x Phi

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"GELU: expected a floating-point input, got dtype {x.dtype}")
        if self.approximate == "tanh":
            c = np.sqrt(2 / np.pi).astype(x.dtype)
            xc = np.clip(x, -100, 100)  # tanh is exactly +-1 long before: avoids overflow in x^3
            t = np.tanh(c * (xc + x.dtype.type(0.044715) * xc ** 3))
            du = c * (1 + 3 * x.dtype.type(0.044715) * xc ** 2)
            self._grad = (1 + t) / 2 + xc * (1 - t ** 2) * du / 2  # dy/dx, cached for backward
            return x * (1 + t) / 2
        if x.dtype == np.float32:  # in blocks of _BLOCK numbers, so that the scratch array stays small
            xf = np.ascontiguousarray(x).reshape(-1)
            y, grad = np.empty(x.shape, np.float32), np.empty(x.shape, np.float32)
            yf, gf = y.reshape(-1), grad.reshape(-1)  # views: y and grad are C-contiguous
            T = np.empty(min(x.size, self._BLOCK), np.float32)
            for i in range(0, x.size, self._BLOCK):
                j = min(i + self._BLOCK, x.size)
                self._forward32(xf[i:j], yf[i:j], gf[i:j], T[:j - i])
            self._grad = grad
            return y
        x1 = x.reshape(-1)  # 1-d (a 0-d input too), so that every result below is an array
        with np.errstate(over="ignore"):  # x^2 overflows to inf for huge x: exp(-inf) is 0, as it should be
            E = np.exp(x1 * x1 / -2)  # exp(-x^2/2), the normal density up to 1/sqrt(2 pi)
        Phi = self._erf(x1 / np.sqrt(2).astype(x.dtype))
        Phi += 1  # Phi = (1 + erf) / 2, in place: each new array of this size is another pass
        Phi /= 2
        # cache the derivative dy/dx = Phi + x phi: the forward has both parts at hand, so backward
        # is one product and the cache one array (not x and Phi)
        with np.errstate(invalid="ignore"):  # inf * 0 at x = +-inf: the derivative is nan there, as in PyTorch
            grad = np.multiply(E, x1, out=E)
        grad /= np.sqrt(2 * np.pi).astype(x.dtype)
        grad += Phi
        self._grad = grad.reshape(x.shape)
        return (x1 * Phi).reshape(x.shape)

    def backward(self, dy):
        if self._grad is None:
            raise RuntimeError("GELU: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._grad.shape:
            raise ValueError(f"GELU: expected dy of shape {self._grad.shape}, got {dy.shape}")
        return dy * self._grad

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class SiLU:
    """Sigmoid linear unit (Swish): ``y = x sigma(x)``, ``dy/dx = sigma(x) (1 + x (1 - sigma(x)))``.

    Shape: any input, output the same. No parameters. ``sigma`` is computed from ``exp(-|x|)``,
    which never overflows.
    Reference: Ramachandran, Zoph & Le, *Searching for activation functions* (2017).

    >>> import numpy as np
    >>> act = SiLU()
    >>> act.forward(np.array([-1e4, 0.0, 1.0, 1e4])).round(6) + 0.0
    array([0.00000e+00, 0.00000e+00, 7.31059e-01, 1.00000e+04])
    >>> act.backward(np.ones(4)).round(6) + 0.0
    array([0.      , 0.5     , 0.927671, 1.      ])
    """

    def __init__(self):
        self.params, self.grads = {}, {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"SiLU: expected a floating-point input, got dtype {x.dtype}")
        e = np.exp(-np.abs(x))
        s = np.where(x >= 0, 1, e) / (1 + e)  # sigma(x), stable for either sign
        self._cache = (x, s)
        return x * s

    def backward(self, dy):
        if self._cache is None:
            raise RuntimeError("SiLU: backward called before forward")
        x, s = self._cache
        dy = np.asarray(dy)
        if dy.shape != x.shape:
            raise ValueError(f"SiLU: expected dy of shape {x.shape}, got {dy.shape}")
        return dy * s * (1 + x * (1 - s))

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


# --------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------


class Flatten:
    """Flattens the dimensions ``start_dim`` to ``end_dim`` into one: ``(N, C, H, W) -> (N, C*H*W)``.

    Shape: input ``(*, S_start, ..., S_end, *)``, output ``(*, S_start * ... * S_end, *)``.
    No parameters; backward reshapes ``dy`` back.
    Reference: the torch.nn.Flatten documentation.

    >>> import numpy as np
    >>> flat = Flatten()
    >>> flat.forward(np.zeros((2, 3, 4, 5))).shape
    (2, 60)
    >>> flat.backward(np.zeros((2, 60))).shape
    (2, 3, 4, 5)
    """

    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = start_dim, end_dim
        self.params, self.grads = {}, {}
        self.training = True
        self._shape = None

    def forward(self, x):
        x = np.asarray(x)
        start = self.start_dim % x.ndim if -x.ndim <= self.start_dim < x.ndim else None
        end = self.end_dim % x.ndim if -x.ndim <= self.end_dim < x.ndim else None
        if start is None or end is None or start > end:
            raise ValueError(f"Flatten: dims {self.start_dim}..{self.end_dim} do not fit input of shape {x.shape}")
        y = x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])
        self._shape = (x.shape, y.shape)
        return y

    def backward(self, dy):
        if self._shape is None:
            raise RuntimeError("Flatten: backward called before forward")
        x_shape, y_shape = self._shape
        dy = np.asarray(dy)
        if dy.shape != y_shape:
            raise ValueError(f"Flatten: expected dy of shape {y_shape}, got {dy.shape}")
        return dy.reshape(x_shape)

    def train(self):
        self.training = True
        return self

    def eval(self):
        self.training = False
        return self

    __call__ = forward


class Sequential:
    """A chain of layers: ``y = f_n(... f_2(f_1(x)))``; backward runs the chain in reverse.

    ``params`` and ``grads`` name each layer's arrays ``"<index>.<name>"`` (``"0.weight"``,
    ``"2.bias"``), as torch's ``state_dict`` does; the arrays are the layers' own, so an optimiser
    that updates them in place updates the layers. ``summary(input_shape)`` prints each layer's
    output shape and parameter count, as Keras' ``model.summary()``.
    Reference: the torch.nn.Sequential documentation.

    >>> import numpy as np
    >>> model = Sequential(Linear(4, 8, rng=0), ReLU(), Linear(8, 2, rng=1))
    >>> sorted(model.params)
    ['0.bias', '0.weight', '2.bias', '2.weight']
    >>> y = model.forward(np.ones((3, 4)))
    >>> model.backward(np.ones_like(y)).shape
    (3, 4)
    >>> model.summary((3, 4))
    Layer (type)        Output shape        Param #
    ===============================================
    0 (Linear)          (3, 8)                   40
    1 (ReLU)            (3, 8)                    0
    2 (Linear)          (3, 2)                   18
    ===============================================
    Total params: 58
    """

    def __init__(self, *layers):
        self.layers = list(layers)
        self.training = True

    class _Named(dict):
        """The layers' arrays by torch name; assigning to a key assigns to the layer that owns it."""

        def __init__(self, layers, kind):
            super().__init__((f"{i}.{name}", a) for i, layer in enumerate(layers)
                             for name, a in getattr(layer, kind).items())
            self._layers, self._kind = layers, kind

        def __setitem__(self, key, value):
            index, _, name = key.partition(".")
            getattr(self._layers[int(index)], self._kind)[name] = value
            super().__setitem__(key, value)

    @property
    def params(self):
        return self._Named(self.layers, "params")

    @property
    def grads(self):
        return self._Named(self.layers, "grads")

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dy):
        for layer in reversed(self.layers):
            dy = layer.backward(dy)
        return dy

    def train(self):
        self.training = True
        for layer in self.layers:
            layer.train()
        return self

    def eval(self):
        self.training = False
        for layer in self.layers:
            layer.eval()
        return self

    def summary(self, input_shape, dtype=None):
        """Print the output shape and parameter count of every layer for an input of ``input_shape``."""
        if dtype is None:  # an Embedding first wants indices
            dtype = np.int64 if hasattr(self.layers[0], "num_embeddings") else np.float32
        modes = [layer.training for layer in self.layers]
        self.eval()  # a dry run: no dropout draw, no running-statistics update
        rows, x = [], np.zeros(input_shape, dtype=dtype)
        for i, layer in enumerate(self.layers):
            x = layer.forward(x)
            count = sum(int(p.size) for p in layer.params.values())
            rows.append((f"{i} ({type(layer).__name__})", str(tuple(x.shape)), count))
        for layer, mode in zip(self.layers, modes):
            layer.train() if mode else layer.eval()
        self.training = any(modes)
        width = max(20, max(len(r[0]) for r in rows) + 2)
        line = "=" * (width + 27)
        print(f"{'Layer (type)':<{width}}{'Output shape':<20}{'Param #':>7}")
        print(line)
        for name, shape, count in rows:
            print(f"{name:<{width}}{shape:<20}{count:>7,}")
        print(line)
        print(f"Total params: {sum(r[2] for r in rows):,}")

    __call__ = forward


class Residual:
    """Residual block: ``y = x + f(x)``, where ``f`` is the given layers in sequence.

    Shape: ``f`` must keep the shape of its input. ``dx = dy + df(dy)``: the identity path carries
    the gradient around ``f`` unchanged. Parameters are named like ``Sequential``'s (``"0.weight"``).
    No torch twin: torch writes ``x + f(x)`` in a module's ``forward``.
    Reference: He et al., *Deep residual learning for image recognition* (2016).

    >>> import numpy as np
    >>> block = Residual(Linear(4, 4, rng=0), ReLU(), Linear(4, 4, rng=1))
    >>> x = np.ones((2, 4))
    >>> y = block.forward(x)
    >>> y.shape, sorted(block.params)
    ((2, 4), ['0.bias', '0.weight', '2.bias', '2.weight'])
    >>> block.backward(np.ones_like(y)).shape
    (2, 4)
    """

    def __init__(self, *layers):
        self.layers = list(layers)
        self.training = True

    class _Named(dict):
        """The layers' arrays by torch name; assigning to a key assigns to the layer that owns it."""

        def __init__(self, layers, kind):
            super().__init__((f"{i}.{name}", a) for i, layer in enumerate(layers)
                             for name, a in getattr(layer, kind).items())
            self._layers, self._kind = layers, kind

        def __setitem__(self, key, value):
            index, _, name = key.partition(".")
            getattr(self._layers[int(index)], self._kind)[name] = value
            super().__setitem__(key, value)

    @property
    def params(self):
        return self._Named(self.layers, "params")

    @property
    def grads(self):
        return self._Named(self.layers, "grads")

    def forward(self, x):
        fx = x
        for layer in self.layers:
            fx = layer.forward(fx)
        if np.shape(fx) != np.shape(x):
            raise ValueError(f"Residual: the block must keep the input shape {np.shape(x)}, got {np.shape(fx)}")
        return x + fx

    def backward(self, dy):
        df = dy
        for layer in reversed(self.layers):
            df = layer.backward(df)
        return dy + df  # identity path plus the path through f

    def train(self):
        self.training = True
        for layer in self.layers:
            layer.train()
        return self

    def eval(self):
        self.training = False
        for layer in self.layers:
            layer.eval()
        return self

    __call__ = forward


# --------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------


class MSELoss:
    """Mean squared error: ``L = mean((prediction - target)^2)``, ``dL/dprediction = 2 (prediction - target) / n``.

    Shape: prediction and target of the same shape (no broadcasting); ``forward`` returns a
    Python float, ``backward()`` the gradient with respect to the prediction.
    ``reduction='sum'`` sums instead of averaging.
    Reference: the torch.nn.MSELoss documentation.

    >>> import numpy as np
    >>> loss = MSELoss()
    >>> loss.forward(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
    2.5
    >>> loss.backward()
    array([ 1., -2.])
    """

    def __init__(self, *, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"MSELoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._diff = None

    def forward(self, prediction, target):
        prediction, target = np.asarray(prediction), np.asarray(target)
        if not np.issubdtype(prediction.dtype, np.floating):
            raise TypeError(f"MSELoss: expected a floating-point prediction, got dtype {prediction.dtype}")
        if prediction.shape != target.shape:
            raise ValueError(f"MSELoss: expected target of shape {prediction.shape} (the prediction's), got {target.shape}")
        self._diff = prediction - target.astype(prediction.dtype)
        total = float(np.sum(self._diff ** 2))
        return total / self._diff.size if self.reduction == "mean" else total

    def backward(self):
        if self._diff is None:
            raise RuntimeError("MSELoss: backward called before forward")
        n = self._diff.size if self.reduction == "mean" else 1
        return 2 * self._diff / n

    __call__ = forward


class BCEWithLogitsLoss:
    """Binary cross-entropy on logits: ``L = mean(max(x, 0) - x t + log(1 + exp(-|x|)))``,
    ``dL/dx = (sigma(x) - t) / n``.

    Shape: logits and targets (probabilities in [0, 1]) of the same shape. The form above equals
    ``-t log sigma(x) - (1 - t) log(1 - sigma(x))`` and never overflows. ``reduction='sum'`` sums
    instead of averaging.
    Reference: the torch.nn.BCEWithLogitsLoss documentation.

    >>> import numpy as np
    >>> loss = BCEWithLogitsLoss()
    >>> round(loss.forward(np.array([0.0, 1000.0]), np.array([1.0, 1.0])), 6)
    0.346574
    >>> loss.backward()
    array([-0.25,  0.  ])
    """

    def __init__(self, *, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"BCEWithLogitsLoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._cache = None

    def forward(self, logits, target):
        x, t = np.asarray(logits), np.asarray(target)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"BCEWithLogitsLoss: expected floating-point logits, got dtype {x.dtype}")
        if x.shape != t.shape:
            raise ValueError(f"BCEWithLogitsLoss: expected target of shape {x.shape} (the logits'), got {t.shape}")
        t = t.astype(x.dtype)
        e = np.exp(-np.abs(x))  # no overflow for either sign
        self._cache = (x, t, e)
        total = float(np.sum(np.maximum(x, 0) - x * t + np.log1p(e)))
        return total / x.size if self.reduction == "mean" else total

    def backward(self):
        if self._cache is None:
            raise RuntimeError("BCEWithLogitsLoss: backward called before forward")
        x, t, e = self._cache
        sigma = np.where(x >= 0, 1, e) / (1 + e)
        return (sigma - t) / (x.size if self.reduction == "mean" else 1)

    __call__ = forward


class CrossEntropyLoss:
    """Cross-entropy of logits and class indices: ``L = mean_n(-log softmax(x_n)[t_n])``,
    ``dL/dx = (softmax(x) - onehot(t)) / N``.

    Shape: logits ``(N, C)`` (or ``(N, C, d1, ...)``) and integer targets ``(N,)`` (or ``(N, d1, ...)``)
    in ``[0, C)``; ``forward`` returns a Python float. The log-softmax subtracts the maximum first.
    ``reduction='sum'`` sums instead of averaging.
    Reference: the torch.nn.CrossEntropyLoss documentation.

    >>> import numpy as np
    >>> loss = CrossEntropyLoss()
    >>> round(loss.forward(np.array([[0.0, 0.0], [1000.0, 0.0]]), np.array([1, 0])), 6)
    0.346574
    >>> loss.backward()
    array([[ 0.25, -0.25],
           [ 0.  ,  0.  ]])
    """

    def __init__(self, *, reduction="mean"):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"CrossEntropyLoss: reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self._cache = None

    def forward(self, logits, target):
        x, t = np.asarray(logits), np.asarray(target)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"CrossEntropyLoss: expected floating-point logits, got dtype {x.dtype}")
        if not np.issubdtype(t.dtype, np.integer):
            raise TypeError(f"CrossEntropyLoss: expected integer class targets, got dtype {t.dtype}")
        if x.ndim < 2 or t.shape != x.shape[:1] + x.shape[2:]:
            raise ValueError(f"CrossEntropyLoss: expected logits (N, C, ...) and targets (N, ...), "
                             f"got logits {x.shape} and targets {t.shape}")
        C = x.shape[1]
        if t.size and (t.min() < 0 or t.max() >= C):
            raise ValueError(f"CrossEntropyLoss: expected targets in [0, {C}), got values from {t.min()} to {t.max()}")
        shifted = x - x.max(axis=1, keepdims=True)  # the largest logit becomes 0: no overflow
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log-softmax
        self._cache = (log_p, t)
        total = -float(np.take_along_axis(log_p, t[:, None], axis=1).sum())
        return total / t.size if self.reduction == "mean" else total

    def backward(self):
        if self._cache is None:
            raise RuntimeError("CrossEntropyLoss: backward called before forward")
        log_p, t = self._cache
        dx = np.exp(log_p)  # softmax
        np.put_along_axis(dx, t[:, None], np.take_along_axis(dx, t[:, None], axis=1) - 1, axis=1)
        return dx / (t.size if self.reduction == "mean" else 1)

    __call__ = forward


# --------------------------------------------------------------------------------------
# Optimisers and regularisation
# --------------------------------------------------------------------------------------


class SGD:
    """Stochastic gradient descent with momentum and weight decay, torch's rule:
    ``g = grad + weight_decay * p``, ``v = momentum * v + g`` (``v = g`` at the first step),
    ``p = p - lr * v``.

    ``model`` is any layer or ``Sequential``; ``step()`` reads ``model.params`` and
    ``model.grads`` afresh and updates the parameter arrays in place.
    Reference: Sutskever et al., *On the importance of initialization and momentum in deep learning* (2013).

    >>> import numpy as np
    >>> layer = Linear(2, 1, rng=0)
    >>> layer.params["weight"] = np.array([[1.0, 1.0]])
    >>> layer.grads = {"weight": np.array([[0.5, -0.5]]), "bias": np.zeros(1)}
    >>> SGD(layer, lr=0.1).step()
    >>> layer.params["weight"]
    array([[0.95, 1.05]])
    """

    def __init__(self, model, lr, *, momentum=0.0, weight_decay=0.0):
        if lr < 0 or momentum < 0 or weight_decay < 0:
            raise ValueError(f"SGD: lr, momentum and weight_decay must be >= 0, got {lr}, {momentum}, {weight_decay}")
        self.model, self.lr, self.momentum, self.weight_decay = model, lr, momentum, weight_decay
        self.velocity = {}

    def step(self):
        params, grads = self.model.params, self.model.grads
        for name, p in params.items():
            if name not in grads:
                raise RuntimeError(f"SGD: no gradient for parameter {name!r}: call backward before step")
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p
            if self.momentum:
                v = self.velocity.get(name)
                v = np.array(g, copy=True) if v is None else self.momentum * v + g
                self.velocity[name] = g = v
            p -= (self.lr * g).astype(p.dtype, copy=False)  # in place: the layer sees it


class Adam:
    """Adam, torch's rule: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``, with ``g = grad + weight_decay * p``.

    ``model`` is any layer or ``Sequential``; ``step()`` reads ``model.params`` and
    ``model.grads`` afresh and updates the parameter arrays in place.
    Reference: Kingma & Ba, *Adam: a method for stochastic optimization* (2015).

    >>> import numpy as np
    >>> layer = Linear(2, 1, rng=0)
    >>> layer.params["weight"] = np.array([[1.0, 1.0]])
    >>> layer.grads = {"weight": np.array([[0.5, -0.5]]), "bias": np.zeros(1)}
    >>> Adam(layer, lr=0.1).step()
    >>> layer.params["weight"]
    array([[0.9, 1.1]])
    """

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Adam: expected lr, eps, weight_decay >= 0 and betas in [0, 1), "
                             f"got lr={lr}, betas={betas}, eps={eps}, weight_decay={weight_decay}")
        self.model, self.lr, self.betas, self.eps, self.weight_decay = model, lr, betas, eps, weight_decay
        self.m, self.v, self.t = {}, {}, 0

    def step(self):
        params, grads = self.model.params, self.model.grads
        b1, b2 = self.betas
        self.t += 1
        for name, p in params.items():
            if name not in grads:
                raise RuntimeError(f"Adam: no gradient for parameter {name!r}: call backward before step")
            g = grads[name]
            if self.weight_decay:
                g = g + self.weight_decay * p
            self.m[name] = b1 * self.m.get(name, 0) + (1 - b1) * g  # first moment
            self.v[name] = b2 * self.v.get(name, 0) + (1 - b2) * g * g  # second moment
            m_hat = self.m[name] / (1 - b1 ** self.t)  # the moments start at 0: undo that bias
            v_hat = self.v[name] / (1 - b2 ** self.t)
            p -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.dtype, copy=False)


class WeightPenalty:
    """L1/L2 weight regularisation: adds ``R = l1 sum|W| + l2 sum W^2`` to the loss for the
    ``weight`` of each given layer (Keras' ``kernel_regularizer``; biases are left alone).

    ``loss()`` returns ``R``; ``backward()`` adds ``dR/dW = l1 sign(W) + 2 l2 W`` to each layer's
    ``grads["weight"]``: call it after the model's backward and before the optimiser's step.
    Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), section 7.1.

    >>> import numpy as np
    >>> layer = Linear(2, 1, rng=0)
    >>> layer.params["weight"] = np.array([[1.0, -2.0]])
    >>> penalty = WeightPenalty([layer], l2=0.01)
    >>> round(penalty.loss(), 6)
    0.05
    >>> layer.grads["weight"] = np.zeros((1, 2))
    >>> penalty.backward()
    >>> layer.grads["weight"]
    array([[ 0.02, -0.04]])
    """

    def __init__(self, layers, *, l1=0.0, l2=0.0):
        self.layers = list(layers)
        if l1 < 0 or l2 < 0:
            raise ValueError(f"WeightPenalty: l1 and l2 must be >= 0, got {l1} and {l2}")
        for layer in self.layers:
            if "weight" not in layer.params:
                raise ValueError(f"WeightPenalty: {type(layer).__name__} has no 'weight' parameter")
        self.l1, self.l2 = l1, l2

    def loss(self):
        total = 0.0
        for layer in self.layers:
            W = layer.params["weight"]
            total += self.l1 * float(np.abs(W).sum()) + self.l2 * float((W.astype(np.float64) ** 2).sum())
        return total

    def backward(self):
        for layer in self.layers:
            W = layer.params["weight"]
            if "weight" not in layer.grads:
                raise RuntimeError(f"WeightPenalty: {type(layer).__name__} has no gradient: call backward first")
            layer.grads["weight"] += self.l1 * np.sign(W) + 2 * self.l2 * W


class EarlyStopping:
    """Stop training when a monitored value (the validation loss) stops improving.

    ``step(value, model)`` returns ``True`` once the value has failed to improve on the best so
    far by more than ``min_delta`` for ``patience`` consecutive calls (with ``patience=0``, at the
    first failure), as Keras' ``EarlyStopping`` does. It keeps a copy of the best parameters;
    ``restore(model)`` copies them back, and ``restore_best_weights=True`` does so when stopping.
    Reference: Prechelt, *Early stopping - but when?* (1998).

    >>> import numpy as np
    >>> layer = Linear(1, 1, rng=0)
    >>> stopper = EarlyStopping(patience=2)
    >>> [stopper.step(v, layer) for v in [1.0, 0.5, 0.6, 0.4, 0.45, 0.41]]
    [False, False, False, False, False, True]
    >>> stopper.best, stopper.best_epoch
    (0.4, 3)
    """

    def __init__(self, patience=0, min_delta=0.0, *, restore_best_weights=False):
        self.patience, self.min_delta, self.restore_best_weights = patience, abs(min_delta), restore_best_weights
        self.best, self.best_epoch, self.best_params = np.inf, None, None
        self.wait, self.epoch = 0, -1

    def step(self, value, model):
        self.epoch += 1
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = float(value), self.epoch, 0
            self.best_params = {name: p.copy() for name, p in model.params.items()}
            return False
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            if self.restore_best_weights:
                self.restore(model)
            return True
        return False

    def restore(self, model):
        if self.best_params is None:
            raise RuntimeError("EarlyStopping: no best parameters yet: call step first")
        for name, p in model.params.items():
            p[...] = self.best_params[name]  # in place, so the layers keep their arrays
