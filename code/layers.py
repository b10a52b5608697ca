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
        x = self._check(x)
        W = self.params["weight"].astype(x.dtype, copy=False)
        y = x @ W.T
        if "bias" in self.params:
            y += self.params["bias"].astype(x.dtype, copy=False)
        self._x = x
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)
        x = self._x
        W = self.params["weight"].astype(x.dtype, copy=False)
        dx = dy @ W  # dL/dx = dy W
        dy2 = dy.reshape(-1, self.out_features)  # (M, out): every leading axis is a sample
        x2 = x.reshape(-1, self.in_features)  # (M, in)
        self.grads["weight"] = dy2.T @ x2  # dL/dW = dy^T x
        if "bias" in self.params:
            self.grads["bias"] = dy2.sum(axis=0)  # dL/db = sum of dy over the samples
        return dx

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Linear: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: expected input of shape (*, {self.in_features}), got {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._x is None:
            raise RuntimeError("Linear: backward called before forward")
        expected = self._x.shape[:-1] + (self.out_features,)
        dy = np.asarray(dy, dtype=self._x.dtype)
        if dy.shape != expected:
            raise ValueError(f"Linear: expected dy of shape {expected}, got {dy.shape}")
        return dy


# --------------------------------------------------------------------------------------
# Convolution
# --------------------------------------------------------------------------------------


class Conv1d:
    """1-d convolution (cross-correlation):
    ``y[n, o, l] = b[o] + sum_{c,j} W[o, c, j] x[n, g(o) C_in/G + c, s l + d j - p]``.

    Shape: input ``(N, C_in, L)``, output ``(N, C_out, L_out)`` with
    ``L_out = floor((L + 2p - d (k - 1) - 1) / s) + 1``.
    ``weight`` is ``(C_out, C_in / groups, k)``, ``bias`` ``(C_out,)``, both from
    U(-1/sqrt(C_in k / groups), 1/sqrt(C_in k / groups)) as in torch. With ``groups=G`` the
    channels are split into G groups and output channel o sees only the inputs of its group
    g(o); ``groups=C_in`` is a depthwise convolution.
    Reference: Dumoulin & Visin, *A guide to convolution arithmetic for deep learning* (2016).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> conv = Conv1d(4, 8, kernel_size=3, padding="same", groups=2, rng=rng)
    >>> y = conv.forward(rng.standard_normal((2, 4, 10)))
    >>> y.shape, conv.params["weight"].shape
    ((2, 8, 10), (8, 2, 3))
    >>> conv.backward(np.ones_like(y)).shape
    (2, 4, 10)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, *,
                 bias=True, rng=None):
        first = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # torch accepts (k,) too
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = first(kernel_size), first(stride), first(dilation)
        self.padding = padding if isinstance(padding, str) else first(padding)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv1d: in_channels {in_channels} and out_channels {out_channels} "
                             f"must both be divisible by groups {groups}")
        if padding not in ("valid", "same") and isinstance(padding, str):
            raise ValueError(f"Conv1d: padding must be an int, 'valid' or 'same', got {padding!r}")
        if padding == "same" and self.stride != 1:
            raise ValueError(f"Conv1d: padding='same' needs stride 1, got stride {self.stride}")
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(in_channels // groups * self.kernel_size)
        shape = (out_channels, in_channels // groups, self.kernel_size)
        self.params = {"weight": rng.uniform(-bound, bound, shape).astype(np.float32)}
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_channels).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = self._check(x)
        W = self.params["weight"].astype(x.dtype, copy=False)  # (C_out, C_in/G, k)
        C_out, C_g, k = W.shape
        G, s, d = self.groups, self.stride, self.dilation
        N, C_in, L = x.shape
        left, right = self._pads()
        xp = np.pad(x, ((0, 0), (0, 0), (left, right)))
        windows = np.lib.stride_tricks.sliding_window_view(xp, d * (k - 1) + 1, axis=2)[:, :, ::s, ::d]
        L_out = windows.shape[2]  # windows: (N, C_in, L_out, k), a view of xp
        # im2col: one copy lays the windows out as columns, channels split into their groups
        cols = windows.transpose(0, 1, 3, 2).reshape(N, G, C_g * k, L_out)
        y = W.reshape(G, C_out // G, C_g * k) @ cols  # (G, C_out/G, C_g*k) @ (N, G, C_g*k, L_out)
        y = y.reshape(N, C_out, L_out)
        if "bias" in self.params:
            y += self.params["bias"].astype(x.dtype, copy=False)[:, None]
        self._cache = (cols, x.shape)
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)  # (N, C_out, L_out)
        cols, (N, C_in, L) = self._cache
        W = self.params["weight"].astype(cols.dtype, copy=False)
        C_out, C_g, k = W.shape
        G, s, d = self.groups, self.stride, self.dilation
        L_out = cols.shape[-1]
        left, right = self._pads()
        dyg = dy.reshape(N, G, C_out // G, L_out)
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=(0, 2))  # db = sum of dy over batch and positions
        self.grads["weight"] = (dyg @ cols.swapaxes(2, 3)).sum(axis=0).reshape(W.shape)  # dW = dy cols^T
        Wt = W.reshape(G, C_out // G, C_g, k).swapaxes(1, 2)  # (G, C_g, C_out/G, k): W^T per group
        # dcols = W^T dy, one kernel offset j at a time; col2im: offset j read the strided slice
        # xp[..., j*d :: s], add its share back there
        dxp = np.zeros((N, C_in, L + left + right), dtype=cols.dtype)
        for j in range(k):
            # one filter per group (depthwise): the sum over filters has one term, a scaling
            dcols = Wt[..., j] * dyg if C_out == G else Wt[..., j] @ dyg  # (N, G, C_g, L_out)
            dxp[:, :, j * d: j * d + s * (L_out - 1) + 1: s] += dcols.reshape(N, C_in, L_out)
        return dxp[:, :, left: left + L]

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _pads(self):
        """(left, right) zero padding; 'same' puts the odd extra element on the right, as torch."""
        if self.padding == "valid":
            return 0, 0
        if self.padding == "same":
            total = self.dilation * (self.kernel_size - 1)
            return total // 2, total - total // 2
        return self.padding, self.padding

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Conv1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv1d: expected input of shape (N, {self.in_channels}, L), got {x.shape}")
        span, padded = self.dilation * (self.kernel_size - 1) + 1, x.shape[2] + sum(self._pads())
        if span > padded:
            raise ValueError(f"Conv1d: kernel extent {span} is larger than the padded input length "
                             f"{padded} (input shape {x.shape})")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("Conv1d: backward called before forward")
        cols, x_shape = self._cache
        shape = (x_shape[0], self.out_channels, cols.shape[-1])
        dy = np.asarray(dy, dtype=cols.dtype)
        if dy.shape != shape:
            raise ValueError(f"Conv1d: expected dy of shape {shape}, got {dy.shape}")
        return dy


class Conv2d:
    """2-d convolution (cross-correlation):
    ``y[n, o, i, j] = b[o] + sum_{c,u,v} W[o, c, u, v] x[n, g(o) C_in/G + c, s_h i + d_h u - p_h, s_w j + d_w v - p_w]``.

    Shape: input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = floor((H + p_top + p_bottom - d_h (k_h - 1) - 1) / s_h) + 1`` (likewise ``W_out``).
    ``weight`` is ``(C_out, C_in / groups, k_h, k_w)``, ``bias`` ``(C_out,)``, both from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = C_in k_h k_w / groups``, as in torch.
    With ``groups=G`` output channel o sees only the inputs of its group g(o);
    ``groups=C_in`` is a depthwise convolution.
    Reference: LeCun et al., *Gradient-based learning applied to document recognition* (1998);
    Howard et al., *MobileNets* (2017) for depthwise convolution.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> conv = Conv2d(3, 8, kernel_size=(3, 5), stride=2, padding=1, rng=rng)
    >>> y = conv.forward(rng.standard_normal((2, 3, 16, 16)))
    >>> y.shape
    (2, 8, 8, 7)
    >>> conv.backward(np.ones_like(y)).shape
    (2, 3, 16, 16)
    >>> Conv2d(8, 8, 3, groups=8, rng=rng).params["weight"].shape  # depthwise
    (8, 1, 3, 3)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, *,
                 bias=True, rng=None):
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = pair(kernel_size), pair(stride), pair(dilation)
        self.padding = padding if isinstance(padding, str) else pair(padding)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: in_channels {in_channels} and out_channels {out_channels} "
                             f"must both be divisible by groups {groups}")
        if padding not in ("valid", "same") and isinstance(padding, str):
            raise ValueError(f"Conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if padding == "same" and self.stride != (1, 1):
            raise ValueError(f"Conv2d: padding='same' needs stride 1, got stride {self.stride}")
        rng = np.random.default_rng(rng)
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(in_channels // groups * kh * kw)
        shape = (out_channels, in_channels // groups, kh, kw)
        self.params = {"weight": rng.uniform(-bound, bound, shape).astype(np.float32)}
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_channels).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = self._check(x)
        W = self.params["weight"].astype(x.dtype, copy=False)  # (C_out, C_in/G, kh, kw)
        C_out, C_g, kh, kw = W.shape
        G, (sh, sw), (dh, dw) = self.groups, self.stride, self.dilation
        N = x.shape[0]
        (top, bottom), (left, right) = self._pads()
        xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)  # the kernel's extent once dilated
        windows = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
        H_out, W_out = windows.shape[2:4]  # windows: (N, C_in, H_out, W_out, kh, kw), a view of xp
        # im2col: one copy lays the windows out as columns, channels split into their groups
        cols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(N, G, C_g * kh * kw, H_out * W_out)
        y = W.reshape(G, C_out // G, C_g * kh * kw) @ cols  # (G, C_out/G, C_g*kh*kw) @ (N, G, C_g*kh*kw, H_out*W_out)
        y = y.reshape(N, C_out, H_out, W_out)
        if "bias" in self.params:
            y += self.params["bias"].astype(x.dtype, copy=False)[:, None, None]
        self._cache = (cols, x.shape, (H_out, W_out))
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)  # (N, C_out, H_out, W_out)
        cols, (N, C_in, H, Wd), (H_out, W_out) = self._cache
        W = self.params["weight"].astype(cols.dtype, copy=False)
        C_out, C_g, kh, kw = W.shape
        G, (sh, sw), (dh, dw) = self.groups, self.stride, self.dilation
        (top, bottom), (left, right) = self._pads()
        dyg = dy.reshape(N, G, C_out // G, H_out * W_out)
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=(0, 2, 3))  # db = sum of dy over batch and positions
        self.grads["weight"] = (dyg @ cols.swapaxes(2, 3)).sum(axis=0).reshape(W.shape)  # dW = dy cols^T
        Wt = W.reshape(G, C_out // G, C_g, kh, kw).swapaxes(1, 2)  # (G, C_g, C_out/G, kh, kw): W^T per group
        # dcols = W^T dy, one kernel offset (u, v) at a time; col2im: offset (u, v) read a strided
        # slice of xp, add its share back there
        dxp = np.zeros((N, C_in, H + top + bottom, Wd + left + right), dtype=cols.dtype)
        for u in range(kh):
            for v in range(kw):
                # one filter per group (depthwise): the sum over filters has one term, a scaling
                dcols = Wt[..., u, v] * dyg if C_out == G else Wt[..., u, v] @ dyg  # (N, G, C_g, H_out*W_out)
                dxp[:, :, u * dh: u * dh + sh * (H_out - 1) + 1: sh,
                          v * dw: v * dw + sw * (W_out - 1) + 1: sw] += dcols.reshape(N, C_in, H_out, W_out)
        return dxp[:, :, top: top + H, left: left + Wd]

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _pads(self):
        """((top, bottom), (left, right)); 'same' puts an odd extra row/column at the end, as torch."""
        if self.padding == "valid":
            return (0, 0), (0, 0)
        if self.padding == "same":
            totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        (ph, pw) = self.padding
        return (ph, ph), (pw, pw)

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Conv2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d: expected input of shape (N, {self.in_channels}, H, W), got {x.shape}")
        span = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation))
        padded = tuple(n + sum(p) for n, p in zip(x.shape[2:], self._pads()))
        if span[0] > padded[0] or span[1] > padded[1]:
            raise ValueError(f"Conv2d: kernel extent {span} is larger than the padded input "
                             f"{padded} (input shape {x.shape})")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("Conv2d: backward called before forward")
        cols, x_shape, out_size = self._cache
        shape = (x_shape[0], self.out_channels) + out_size
        dy = np.asarray(dy, dtype=cols.dtype)
        if dy.shape != shape:
            raise ValueError(f"Conv2d: expected dy of shape {shape}, got {dy.shape}")
        return dy


# --------------------------------------------------------------------------------------
# Transposed convolution
# --------------------------------------------------------------------------------------


class ConvTranspose1d:
    """1-d transposed convolution, the gradient of a convolution with respect to its input:
    ``y[n, o, s l + d j - p] += sum_c x[n, c, l] W[c, o, j]`` (plus ``b[o]``), each input
    element scattering a copy of the kernel, scaled, into the output.

    Shape: input ``(N, C_in, L)``, output ``(N, C_out, L_out)`` with
    ``L_out = (L - 1) s - 2p + d (k - 1) + output_padding + 1``.
    ``weight`` is ``(C_in, C_out / groups, k)``, ``bias`` ``(C_out,)``, both from
    U(-1/sqrt(C_out k / groups), 1/sqrt(C_out k / groups)) as in torch.
    Reference: Dumoulin & Visin, *A guide to convolution arithmetic for deep learning* (2016).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> up = ConvTranspose1d(4, 2, kernel_size=4, stride=2, padding=1, rng=rng)
    >>> y = up.forward(rng.standard_normal((3, 4, 10)))
    >>> y.shape
    (3, 2, 20)
    >>> up.backward(np.ones_like(y)).shape
    (3, 4, 10)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, *, rng=None):
        first = lambda v: v[0] if isinstance(v, (tuple, list)) else v  # torch accepts (k,) too
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.padding = first(kernel_size), first(stride), first(padding)
        self.output_padding, self.dilation = first(output_padding), first(dilation)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose1d: in_channels {in_channels} and out_channels {out_channels} "
                             f"must both be divisible by groups {groups}")
        if self.output_padding >= max(self.stride, self.dilation):
            raise ValueError(f"ConvTranspose1d: output_padding must be smaller than stride or dilation, "
                             f"got output_padding {self.output_padding} with stride {self.stride} "
                             f"and dilation {self.dilation}")
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(out_channels // groups * self.kernel_size)
        shape = (in_channels, out_channels // groups, self.kernel_size)
        self.params = {"weight": rng.uniform(-bound, bound, shape).astype(np.float32)}
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_channels).astype(np.float32)
        self.grads = {}
        self.training = True
        self._x = None

    def forward(self, x):
        x = self._check(x)
        W = self.params["weight"].astype(x.dtype, copy=False)  # (C_in, C_out/G, k)
        C_in, C_g, k = W.shape
        G, s, d, p = self.groups, self.stride, self.dilation, self.padding
        N, _, L = x.shape
        L_out = self._output_size(L)
        # cols = W^T x, group by group: the columns a convolution's backward pass scatters
        xg = x.reshape(N, G, C_in // G, L)
        cols = W.reshape(G, C_in // G, C_g * k).swapaxes(1, 2) @ xg  # (N, G, C_out/G*k, L)
        cols = cols.reshape(N, G * C_g, k, L)
        # col2im: kernel offset j writes to every s-th position from j*d on; then crop p at each end
        yp = np.zeros((N, G * C_g, L_out + 2 * p), dtype=x.dtype)
        for j in range(k):
            yp[:, :, j * d: j * d + s * (L - 1) + 1: s] += cols[:, :, j]
        y = yp[:, :, p: p + L_out]
        if "bias" in self.params:
            y += self.params["bias"].astype(x.dtype, copy=False)[:, None]
        self._x = x
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)  # (N, C_out, L_out)
        x = self._x
        W = self.params["weight"].astype(x.dtype, copy=False)
        C_in, C_g, k = W.shape
        G, s, d, p = self.groups, self.stride, self.dilation, self.padding
        N, _, L = x.shape
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=(0, 2))  # db = sum of dy over batch and positions
        # the forward pass of a convolution: pad dy back to yp's length, read the same windows
        dyp = np.pad(dy, ((0, 0), (0, 0), (p, p)))
        windows = np.lib.stride_tricks.sliding_window_view(dyp, d * (k - 1) + 1, axis=2)[:, :, :s * (L - 1) + 1:s, ::d]
        dcols = windows.transpose(0, 1, 3, 2).reshape(N, G, C_g * k, L)  # (N, G, C_out/G*k, L)
        xg = x.reshape(N, G, C_in // G, L)
        self.grads["weight"] = (xg @ dcols.swapaxes(2, 3)).sum(axis=0).reshape(W.shape)  # dW = x dcols^T
        dx = W.reshape(G, C_in // G, C_g * k) @ dcols  # dx = W dcols
        return dx.reshape(N, C_in, L)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _output_size(self, L):
        """torch's L_out = (L - 1) s - 2p + d (k - 1) + output_padding + 1."""
        k, s, d, p = self.kernel_size, self.stride, self.dilation, self.padding
        return (L - 1) * s - 2 * p + d * (k - 1) + self.output_padding + 1

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"ConvTranspose1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvTranspose1d: expected input of shape (N, {self.in_channels}, L), got {x.shape}")
        if self._output_size(x.shape[2]) < 1:
            raise ValueError(f"ConvTranspose1d: padding {self.padding} leaves no output for input shape "
                             f"{x.shape} (output length {self._output_size(x.shape[2])})")
        return x

    def _check_dy(self, dy):
        if self._x is None:
            raise RuntimeError("ConvTranspose1d: backward called before forward")
        N, _, L = self._x.shape
        shape = (N, self.out_channels, self._output_size(L))
        dy = np.asarray(dy, dtype=self._x.dtype)
        if dy.shape != shape:
            raise ValueError(f"ConvTranspose1d: expected dy of shape {shape}, got {dy.shape}")
        return dy


class ConvTranspose2d:
    """2-d transposed convolution, the gradient of a convolution with respect to its input:
    ``y[n, o, s_h i + d_h u - p_h, s_w j + d_w v - p_w] += sum_c x[n, c, i, j] W[c, o, u, v]``
    (plus ``b[o]``), each input pixel scattering a copy of the kernel, scaled, into the output.

    Shape: input ``(N, C_in, H, W)``, output ``(N, C_out, H_out, W_out)`` with
    ``H_out = (H - 1) s_h - 2 p_h + d_h (k_h - 1) + output_padding_h + 1`` (likewise ``W_out``).
    ``weight`` is ``(C_in, C_out / groups, k_h, k_w)``, ``bias`` ``(C_out,)``, both from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = C_out k_h k_w / groups``, as in torch.
    Reference: Dumoulin & Visin, *A guide to convolution arithmetic for deep learning* (2016).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> up = ConvTranspose2d(8, 4, kernel_size=4, stride=2, padding=1, rng=rng)
    >>> y = up.forward(rng.standard_normal((2, 8, 5, 6)))
    >>> y.shape
    (2, 4, 10, 12)
    >>> up.backward(np.ones_like(y)).shape
    (2, 8, 5, 6)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, *, rng=None):
        pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.padding = pair(kernel_size), pair(stride), pair(padding)
        self.output_padding, self.dilation = pair(output_padding), pair(dilation)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: in_channels {in_channels} and out_channels {out_channels} "
                             f"must both be divisible by groups {groups}")
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"ConvTranspose2d: output_padding must be smaller than stride or dilation, "
                             f"got output_padding {self.output_padding} with stride {self.stride} "
                             f"and dilation {self.dilation}")
        rng = np.random.default_rng(rng)
        kh, kw = self.kernel_size
        bound = 1.0 / np.sqrt(out_channels // groups * kh * kw)
        shape = (in_channels, out_channels // groups, kh, kw)
        self.params = {"weight": rng.uniform(-bound, bound, shape).astype(np.float32)}
        if bias:
            self.params["bias"] = rng.uniform(-bound, bound, out_channels).astype(np.float32)
        self.grads = {}
        self.training = True
        self._x = None

    def forward(self, x):
        x = self._check(x)
        W = self.params["weight"].astype(x.dtype, copy=False)  # (C_in, C_out/G, kh, kw)
        C_in, C_g, kh, kw = W.shape
        G, (sh, sw), (dh, dw), (ph, pw) = self.groups, self.stride, self.dilation, self.padding
        N, _, H, Wd = x.shape
        H_out, W_out = self._output_size(H, Wd)
        # cols = W^T x, group by group: the columns a convolution's backward pass scatters
        xg = x.reshape(N, G, C_in // G, H * Wd)
        cols = W.reshape(G, C_in // G, C_g * kh * kw).swapaxes(1, 2) @ xg  # (N, G, C_out/G*kh*kw, H*W)
        cols = cols.reshape(N, G * C_g, kh, kw, H, Wd)
        # col2im: kernel offset (u, v) writes to every (s_h, s_w)-th pixel from (u d_h, v d_w) on
        yp = np.zeros((N, G * C_g, H_out + 2 * ph, W_out + 2 * pw), dtype=x.dtype)
        for u in range(kh):
            for v in range(kw):
                yp[:, :, u * dh: u * dh + sh * (H - 1) + 1: sh,
                         v * dw: v * dw + sw * (Wd - 1) + 1: sw] += cols[:, :, u, v]
        y = yp[:, :, ph: ph + H_out, pw: pw + W_out]  # crop the padding
        if "bias" in self.params:
            y += self.params["bias"].astype(x.dtype, copy=False)[:, None, None]
        self._x = x
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)  # (N, C_out, H_out, W_out)
        x = self._x
        W = self.params["weight"].astype(x.dtype, copy=False)
        C_in, C_g, kh, kw = W.shape
        G, (sh, sw), (dh, dw), (ph, pw) = self.groups, self.stride, self.dilation, self.padding
        N, _, H, Wd = x.shape
        if "bias" in self.params:
            self.grads["bias"] = dy.sum(axis=(0, 2, 3))  # db = sum of dy over batch and positions
        # the forward pass of a convolution: pad dy back to yp's size, read the same windows
        dyp = np.pad(dy, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
        windows = np.lib.stride_tricks.sliding_window_view(dyp, span, axis=(2, 3))
        windows = windows[:, :, :sh * (H - 1) + 1:sh, :sw * (Wd - 1) + 1:sw, ::dh, ::dw]  # (N, C_out, H, W, kh, kw)
        dcols = windows.transpose(0, 1, 4, 5, 2, 3).reshape(N, G, C_g * kh * kw, H * Wd)
        xg = x.reshape(N, G, C_in // G, H * Wd)
        self.grads["weight"] = (xg @ dcols.swapaxes(2, 3)).sum(axis=0).reshape(W.shape)  # dW = x dcols^T
        dx = W.reshape(G, C_in // G, C_g * kh * kw) @ dcols  # dx = W dcols
        return dx.reshape(N, C_in, H, Wd)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _output_size(self, H, Wd):
        """torch's (H_out, W_out) = (H - 1) s - 2p + d (k - 1) + output_padding + 1, per axis."""
        return tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in zip(
            (H, Wd), self.stride, self.padding, self.dilation, self.kernel_size, self.output_padding))

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"ConvTranspose2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"ConvTranspose2d: expected input of shape (N, {self.in_channels}, H, W), "
                             f"got {x.shape}")
        if min(self._output_size(*x.shape[2:])) < 1:
            raise ValueError(f"ConvTranspose2d: padding {self.padding} leaves no output for input shape "
                             f"{x.shape} (output size {self._output_size(*x.shape[2:])})")
        return x

    def _check_dy(self, dy):
        if self._x is None:
            raise RuntimeError("ConvTranspose2d: backward called before forward")
        shape = (self._x.shape[0], self.out_channels) + self._output_size(*self._x.shape[2:])
        dy = np.asarray(dy, dtype=self._x.dtype)
        if dy.shape != shape:
            raise ValueError(f"ConvTranspose2d: expected dy of shape {shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        k, s, p = self.kernel_size, self.stride, self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (p, p)), constant_values=-np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(xp, k, axis=2)[:, :, ::s]  # (N, C, L_out, k)
        # scan each window as torch does: y is the running maximum, j the offset it came from
        y, j = windows[..., 0], np.zeros(windows.shape[:3], dtype=np.intp)
        for offset in range(1, k):
            candidate = windows[..., offset]
            # strict >: in a tie the first maximum keeps the gradient; a NaN always wins, as in torch
            better = (candidate > y) | np.isnan(candidate)
            y = np.where(better, candidate, y)
            j = np.where(better, offset, j)
        self._cache = (j, x.shape, x.dtype)
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)
        j, (N, C, L), dtype = self._cache
        s, p = self.stride, self.padding
        # each window sends its dy to the one position that won it; windows may overlap, so add
        n, c, l = np.indices(j.shape, sparse=True)
        dxp = np.zeros((N, C, L + 2 * p), dtype=dtype)
        np.add.at(dxp, (n, c, l * s + j), dy)
        return dxp[:, :, p: p + L]

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"MaxPool1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 3:
            raise ValueError(f"MaxPool1d: expected input of shape (N, C, L), got {x.shape}")
        if self.kernel_size > x.shape[2] + 2 * self.padding:
            raise ValueError(f"MaxPool1d: kernel size {self.kernel_size} is larger than the padded input length "
                             f"{x.shape[2] + 2 * self.padding} (input shape {x.shape})")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("MaxPool1d: backward called before forward")
        j, x_shape, dtype = self._cache
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != j.shape:
            raise ValueError(f"MaxPool1d: expected dy of shape {j.shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        # windows: (N, C, H_out, W_out, kh, kw). Scan each window in row-major order as torch does:
        # y is the running maximum, (u, v) = divmod(k, kw) the offset it came from
        y, k = windows[..., 0, 0], np.zeros(windows.shape[:4], dtype=np.intp)
        for offset in range(1, kh * kw):
            candidate = windows[..., offset // kw, offset % kw]
            # strict >: in a tie the first maximum keeps the gradient; a NaN always wins, as in torch
            better = (candidate > y) | np.isnan(candidate)
            y = np.where(better, candidate, y)
            k = np.where(better, offset, k)
        self._cache = (k, x.shape, x.dtype)
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)
        k, (N, C, H, W), dtype = self._cache
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        # each window sends its dy to the one position that won it; windows may overlap, so add
        u, v = np.divmod(k, kw)
        n, c, i, j = np.indices(k.shape, sparse=True)
        dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
        np.add.at(dxp, (n, c, i * sh + u, j * sw + v), dy)
        return dxp[:, :, ph: ph + H, pw: pw + W]

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"MaxPool2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4:
            raise ValueError(f"MaxPool2d: expected input of shape (N, C, H, W), got {x.shape}")
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        H, W = x.shape[2:]
        if kh > H + 2 * ph or kw > W + 2 * pw:
            raise ValueError(f"MaxPool2d: kernel size {(kh, kw)} is larger than the padded input "
                             f"{(H + 2 * ph, W + 2 * pw)} (input shape {x.shape})")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("MaxPool2d: backward called before forward")
        k, x_shape, dtype = self._cache
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != k.shape:
            raise ValueError(f"MaxPool2d: expected dy of shape {k.shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        k, s, p = self.kernel_size, self.stride, self.padding
        L = x.shape[2]
        xp = np.pad(x, ((0, 0), (0, 0), (p, p)))
        windows = np.lib.stride_tricks.sliding_window_view(xp, k, axis=2)[:, :, ::s]  # (N, C, L_out, k)
        L_out = windows.shape[2]
        if self.count_include_pad:
            count = np.full(L_out, k, dtype=x.dtype)
        else:  # how many real (unpadded) elements each window covers
            starts = np.arange(L_out) * s - p
            count = (np.minimum(starts + k, L) - np.maximum(starts, 0)).astype(x.dtype)
        total = np.zeros(windows.shape[:3], dtype=x.dtype)
        for j in range(k):  # the sum over each window, one kernel offset at a time
            total += windows[..., j]
        self._cache = (count, x.shape, x.dtype)
        return total / count

    def backward(self, dy):
        dy = self._check_dy(dy)
        count, (N, C, L), dtype = self._cache
        k, s, p = self.kernel_size, self.stride, self.padding
        L_out = count.shape[0]
        share = dy / count  # every element of a window gets an equal share
        dxp = np.zeros((N, C, L + 2 * p), dtype=dtype)
        for j in range(k):  # the elements at offset j of every window
            dxp[:, :, j: j + s * (L_out - 1) + 1: s] += share
        return dxp[:, :, p: p + L]

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"AvgPool1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 3:
            raise ValueError(f"AvgPool1d: expected input of shape (N, C, L), got {x.shape}")
        if self.kernel_size > x.shape[2] + 2 * self.padding:
            raise ValueError(f"AvgPool1d: kernel size {self.kernel_size} is larger than the padded input length "
                             f"{x.shape[2] + 2 * self.padding} (input shape {x.shape})")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("AvgPool1d: backward called before forward")
        count, (N, C, L), dtype = self._cache
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != (N, C, count.shape[0]):
            raise ValueError(f"AvgPool1d: expected dy of shape {(N, C, count.shape[0])}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        H, W = x.shape[2:]
        xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
        windows = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
        H_out, W_out = windows.shape[2:4]  # windows: (N, C, H_out, W_out, kh, kw)
        if self.count_include_pad:
            count = np.full((H_out, W_out), kh * kw, dtype=x.dtype)
        else:  # real (unpadded) rows times real columns under each window
            top, left = np.arange(H_out) * sh - ph, np.arange(W_out) * sw - pw
            rows = np.minimum(top + kh, H) - np.maximum(top, 0)
            cols = np.minimum(left + kw, W) - np.maximum(left, 0)
            count = np.outer(rows, cols).astype(x.dtype)
        total = np.zeros(windows.shape[:4], dtype=x.dtype)
        for u in range(kh):  # the sum over each window, one kernel offset at a time
            for v in range(kw):
                total += windows[..., u, v]
        self._cache = (count, x.shape, x.dtype)
        return total / count

    def backward(self, dy):
        dy = self._check_dy(dy)
        count, (N, C, H, W), dtype = self._cache
        (kh, kw), (sh, sw), (ph, pw) = self.kernel_size, self.stride, self.padding
        H_out, W_out = count.shape
        share = dy / count  # every element of a window gets an equal share
        dxp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=dtype)
        for u in range(kh):  # the elements at offset (u, v) of every window
            for v in range(kw):
                dxp[:, :, u: u + sh * (H_out - 1) + 1: sh, v: v + sw * (W_out - 1) + 1: sw] += share
        return dxp[:, :, ph: ph + H, pw: pw + W]

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"AvgPool2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4:
            raise ValueError(f"AvgPool2d: expected input of shape (N, C, H, W), got {x.shape}")
        (kh, kw), (ph, pw) = self.kernel_size, self.padding
        H, W = x.shape[2:]
        if kh > H + 2 * ph or kw > W + 2 * pw:
            raise ValueError(f"AvgPool2d: kernel size {(kh, kw)} is larger than the padded input "
                             f"{(H + 2 * ph, W + 2 * pw)} (input shape {x.shape})")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("AvgPool2d: backward called before forward")
        count, (N, C, H, W), dtype = self._cache
        dy = np.asarray(dy, dtype=dtype)
        if dy.shape != (N, C) + count.shape:
            raise ValueError(f"AvgPool2d: expected dy of shape {(N, C) + count.shape}, got {dy.shape}")
        return dy


# --------------------------------------------------------------------------------------
# Adaptive pooling and upsampling
# --------------------------------------------------------------------------------------


class AdaptiveAvgPool1d:
    """1-d adaptive average pooling: ``y[n, c, i] = mean(x[n, c, a_i : b_i])`` with
    ``a_i = floor(i L / L_out)`` and ``b_i = ceil((i + 1) L / L_out)``, torch's bins.

    The bins depend on the input length, so the output length is fixed. Pooling is linear:
    ``y = x A^T`` with ``A[i, l] = 1 / (b_i - a_i)`` inside bin i, zero elsewhere, and the
    backward pass is ``dx = dy A``. When ``L_out`` divides ``L`` the bins are equal blocks: ``y``
    is the mean of each block and ``dx`` spreads ``dy`` evenly over it. ``output_size=1`` is
    global average pooling.
    Shape: input ``(N, C, L)``, output ``(N, C, output_size)``. No parameters.
    Reference: Lin, Chen & Yan, *Network in network* (2014), for global average pooling.

    >>> import numpy as np
    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> AdaptiveAvgPool1d(2).forward(x)  # bins [0, 3) and [2, 5) overlap at 2
    array([[[1., 3.]]])
    >>> AdaptiveAvgPool1d(1).forward(x)  # global average pooling
    array([[[2.]]])
    """

    def __init__(self, output_size):
        self.output_size = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
        if not isinstance(self.output_size, (int, np.integer)) or self.output_size < 1:
            raise ValueError(f"AdaptiveAvgPool1d: output_size must be a positive int, got {output_size!r}")
        self.params, self.grads = {}, {}
        self.training = True
        self._x_shape, self._dtype = None, None

    def forward(self, x):
        x = self._check(x)
        (N, C, L), L_out = x.shape, self.output_size
        self._x_shape, self._dtype = x.shape, x.dtype
        if L % L_out == 0:  # equal bins of L / L_out elements: the mean of each block
            return x.reshape(N, C, L_out, L // L_out).mean(axis=3)
        A = self._bins(L, L_out).astype(x.dtype)  # (L_out, L)
        return x @ A.T  # (N, C, L) @ (L, L_out)

    def backward(self, dy):
        dy = self._check_dy(dy)
        (N, C, L), L_out = self._x_shape, self.output_size
        if L % L_out == 0:  # each element of block i gets the share dy_i / (L / L_out)
            k = L // L_out
            return (np.broadcast_to(dy[:, :, :, None], (N, C, L_out, k)) / k).reshape(N, C, L)
        A = self._bins(L, L_out).astype(dy.dtype)  # (L_out, L)
        return dy @ A  # each element of bin i gets the share dy_i / (b_i - a_i)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    @staticmethod
    def _bins(n_in, n_out):
        """The (n_out, n_in) averaging matrix of torch's bins [floor(i n_in / n_out), ceil((i+1) n_in / n_out))."""
        i = np.arange(n_out)[:, None]
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)  # floor and ceil, exactly
        inside = (np.arange(n_in) >= start) & (np.arange(n_in) < end)
        return inside / (end - start)

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"AdaptiveAvgPool1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 3 or x.shape[2] < 1:
            raise ValueError(f"AdaptiveAvgPool1d: expected input of shape (N, C, L) with L >= 1, got {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._x_shape is None:
            raise RuntimeError("AdaptiveAvgPool1d: backward called before forward")
        shape = self._x_shape[:2] + (self.output_size,)
        dy = np.asarray(dy, dtype=self._dtype)
        if dy.shape != shape:
            raise ValueError(f"AdaptiveAvgPool1d: expected dy of shape {shape}, got {dy.shape}")
        return dy


class AdaptiveAvgPool2d:
    """2-d adaptive average pooling: ``y[n, c, i, j] = mean(x[n, c, a_i : b_i, a'_j : b'_j])`` with
    torch's bins ``a_i = floor(i H / H_out)``, ``b_i = ceil((i + 1) H / H_out)`` (likewise for columns).

    The bins of rows and columns are independent, so pooling is ``y = A_h x A_w^T`` with one
    averaging matrix per axis, and the backward pass is ``dx = A_h^T dy A_w``. When ``H_out``
    divides ``H`` and ``W_out`` divides ``W`` the bins are equal blocks: ``y`` is the mean of each
    block and ``dx`` spreads ``dy`` evenly over it. ``output_size=1`` (or ``(1, 1)``) is global
    average pooling.
    Shape: input ``(N, C, H, W)``, output ``(N, C, H_out, W_out)``. No parameters.
    Reference: Lin, Chen & Yan, *Network in network* (2014), for global average pooling.

    >>> import numpy as np
    >>> x = np.arange(12.0).reshape(1, 1, 3, 4)
    >>> AdaptiveAvgPool2d((2, 2)).forward(x)
    array([[[[2.5, 4.5],
             [6.5, 8.5]]]])
    >>> AdaptiveAvgPool2d(1).forward(x)[..., 0, 0]  # global average pooling
    array([[5.5]])
    """

    def __init__(self, output_size):
        self.output_size = (output_size, output_size) if isinstance(output_size, (int, np.integer)) else tuple(output_size)
        if len(self.output_size) != 2 or not all(isinstance(n, (int, np.integer)) and n >= 1 for n in self.output_size):
            raise ValueError(f"AdaptiveAvgPool2d: output_size must be a positive int or a pair of them, "
                             f"got {output_size!r}")
        self.params, self.grads = {}, {}
        self.training = True
        self._x_shape, self._dtype = None, None

    def forward(self, x):
        x = self._check(x)
        (N, C, H, W), (H_out, W_out) = x.shape, self.output_size
        self._x_shape, self._dtype = x.shape, x.dtype
        if H % H_out == 0 and W % W_out == 0:  # equal bins of (H / H_out, W / W_out): the mean of each block
            return x.reshape(N, C, H_out, H // H_out, W_out, W // W_out).mean(axis=(3, 5))
        A_h = self._bins(H, H_out).astype(x.dtype)  # (H_out, H)
        A_w = self._bins(W, W_out).astype(x.dtype)  # (W_out, W)
        return A_h @ x @ A_w.T  # (H_out, H) @ (N, C, H, W) @ (W, W_out)

    def backward(self, dy):
        dy = self._check_dy(dy)
        (N, C, H, W), (H_out, W_out) = self._x_shape, self.output_size
        if H % H_out == 0 and W % W_out == 0:  # each pixel of block (i, j) gets the share dy_ij / (kh kw)
            kh, kw = H // H_out, W // W_out
            dx = np.broadcast_to(dy[:, :, :, None, :, None], (N, C, H_out, kh, W_out, kw)) / (kh * kw)
            return dx.reshape(N, C, H, W)
        A_h = self._bins(H, H_out).astype(dy.dtype)  # (H_out, H)
        A_w = self._bins(W, W_out).astype(dy.dtype)  # (W_out, W)
        return A_h.T @ dy @ A_w  # each pixel of bin (i, j) gets the share of dy_ij

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    @staticmethod
    def _bins(n_in, n_out):
        """The (n_out, n_in) averaging matrix of torch's bins [floor(i n_in / n_out), ceil((i+1) n_in / n_out))."""
        i = np.arange(n_out)[:, None]
        start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)  # floor and ceil, exactly
        inside = (np.arange(n_in) >= start) & (np.arange(n_in) < end)
        return inside / (end - start)

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"AdaptiveAvgPool2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4 or min(x.shape[2:]) < 1:
            raise ValueError(f"AdaptiveAvgPool2d: expected input of shape (N, C, H, W) with H, W >= 1, "
                             f"got {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._x_shape is None:
            raise RuntimeError("AdaptiveAvgPool2d: backward called before forward")
        shape = self._x_shape[:2] + self.output_size
        dy = np.asarray(dy, dtype=self._dtype)
        if dy.shape != shape:
            raise ValueError(f"AdaptiveAvgPool2d: expected dy of shape {shape}, got {dy.shape}")
        return dy


class Upsample:
    """Upsampling by interpolation, one axis at a time: ``y = A_h x A_w^T`` on ``(N, C, H, W)``
    (``y = x A^T`` on ``(N, C, L)``), where row i of ``A`` holds the interpolation weights of
    output position i. ``'nearest'`` copies input ``floor(i * scale)``; ``'linear'`` and
    ``'bilinear'`` blend the two inputs nearest to ``(i + 1/2) scale - 1/2`` (or ``i (in - 1) /
    (out - 1)`` with ``align_corners=True``). ``scale`` is ``in / out`` for a given ``size``,
    ``1 / scale_factor`` for a given ``scale_factor``, as in torch. The backward pass is
    ``dx = A_h^T dy A_w``.

    Shape: ``(N, C, L)`` for ``'nearest'`` and ``'linear'``, ``(N, C, H, W)`` for ``'nearest'``
    and ``'bilinear'``; an output side is ``size`` or ``floor(side * scale_factor)``. No parameters.
    Reference: Odena, Dumoulin & Olah, *Deconvolution and checkerboard artifacts* (2016).

    >>> import numpy as np
    >>> x = np.array([[[1.0, 2.0, 4.0]]])
    >>> Upsample(scale_factor=2).forward(x)
    array([[[1., 1., 2., 2., 4., 4.]]])
    >>> Upsample(scale_factor=2, mode="linear").forward(x)
    array([[[1.  , 1.25, 1.75, 2.5 , 3.5 , 4.  ]]])
    """

    def __init__(self, size=None, scale_factor=None, mode="nearest", *, align_corners=None):
        if mode not in ("nearest", "linear", "bilinear"):
            raise ValueError(f"Upsample: mode must be 'nearest', 'linear' or 'bilinear', got {mode!r}")
        if (size is None) == (scale_factor is None):
            raise ValueError(f"Upsample: give either size or scale_factor, got size={size!r}, "
                             f"scale_factor={scale_factor!r}")
        if mode == "nearest" and align_corners is not None:
            raise ValueError("Upsample: align_corners can only be set with mode 'linear' or 'bilinear'")
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners = bool(align_corners)
        self.params, self.grads = {}, {}
        self.training = True
        self._A, self._x_shape = None, None

    def forward(self, x):
        x = self._check(x)
        self._A = [self._weights(n_in, n_out, scale, x.ndim).astype(x.dtype) for n_in, n_out, scale in self._axes(x.shape)]
        self._x_shape = x.shape
        if x.ndim == 3:
            (A,) = self._A
            return x @ A.T  # (N, C, L) @ (L, L_out)
        A_h, A_w = self._A
        return A_h @ x @ A_w.T  # (H_out, H) @ (N, C, H, W) @ (W, W_out)

    def backward(self, dy):
        dy = self._check_dy(dy)
        if dy.ndim == 3:
            (A,) = self._A
            return dy @ A
        A_h, A_w = self._A
        return A_h.T @ dy @ A_w  # each input gets back the weighted shares it gave

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _weights(self, n_in, n_out, scale, ndim):
        """The (n_out, n_in) interpolation matrix of one axis."""
        i, inputs = np.arange(n_out)[:, None], np.arange(n_in)
        if self.mode == "nearest":
            # torch rounds i * scale to float32 (its 2-d kernel multiplies in float32 too), copies
            # an axis whose size does not change and halves an exact doubling in its 2-d kernel
            src = np.floor((i * scale).astype(np.float32))
            if ndim == 4:
                src = np.floor(i.astype(np.float32) * np.float32(scale))
            if ndim == 4 and n_out in (n_in, 2 * n_in):
                src = i * n_in // n_out
            return (inputs == np.minimum(src, n_in - 1)).astype(np.float64)
        if self.align_corners or n_out == n_in:  # torch copies an axis whose size does not change
            src = i * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
        else:
            src = np.maximum((i + 0.5) * scale - 0.5, 0.0)  # pixel centres; clamped at the first
        left = np.minimum(np.floor(src), n_in - 1)
        right = np.minimum(left + 1, n_in - 1)
        t = np.clip(src - left, 0.0, 1.0)  # 0 at the left neighbour, 1 at the right one
        return (1 - t) * (inputs == left) + t * (inputs == right)

    def _axes(self, shape):
        """(input side, output side, scale) for each spatial axis, as torch computes them."""
        sides, n = shape[2:], len(shape) - 2
        if self.size is not None:
            outs = (self.size,) * n if isinstance(self.size, (int, np.integer)) else tuple(self.size)
            return [(s_in, s_out, s_in / s_out) for s_in, s_out in zip(sides, outs)]
        factors = (self.scale_factor,) * n if np.isscalar(self.scale_factor) else tuple(self.scale_factor)
        return [(s_in, int(np.floor(s_in * f)), 1.0 / f) for s_in, f in zip(sides, factors)]

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Upsample: expected a floating-point input, got dtype {x.dtype}")
        ndim = {"nearest": (3, 4), "linear": (3,), "bilinear": (4,)}[self.mode]
        if x.ndim not in ndim:
            expected = " or ".join(["(N, C, L)", "(N, C, H, W)"][d - 3] for d in ndim)
            raise ValueError(f"Upsample: mode {self.mode!r} expects input of shape {expected}, got {x.shape}")
        given = self.scale_factor if self.size is None else self.size
        if not np.isscalar(given) and len(given) != x.ndim - 2:
            raise ValueError(f"Upsample: size={self.size!r}, scale_factor={self.scale_factor!r} has "
                             f"{len(given)} entries; input of shape {x.shape} has {x.ndim - 2} spatial axes")
        out = tuple(s_out for _, s_out, _ in self._axes(x.shape))
        if min(x.shape[2:]) < 1 or min(out) < 1:
            raise ValueError(f"Upsample: cannot resize input of shape {x.shape} to {out} "
                             f"(size={self.size!r}, scale_factor={self.scale_factor!r})")
        return x

    def _check_dy(self, dy):
        if self._A is None:
            raise RuntimeError("Upsample: backward called before forward")
        shape = self._x_shape[:2] + tuple(A.shape[0] for A in self._A)
        dy = np.asarray(dy, dtype=self._A[0].dtype)
        if dy.shape != shape:
            raise ValueError(f"Upsample: expected dy of shape {shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        axes = (0,) if x.ndim == 2 else (0, 2)  # every axis but the channels
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1)  # broadcast per-channel values over those axes
        if self.training:
            mean, var = x.mean(axis=axes), x.var(axis=axes)  # biased variance normalises
            self._update_running_stats(mean, var, n=x.size // self.num_features)
        else:
            mean, var = self.running_mean.astype(x.dtype), self.running_var.astype(x.dtype)
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        y = x_hat
        if self.affine:
            gamma, beta = self.params["weight"].astype(x.dtype), self.params["bias"].astype(x.dtype)
            y = gamma.reshape(shape) * x_hat + beta.reshape(shape)
        self._cache = (x_hat, inv_std, axes, shape, self.training)
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)
        x_hat, inv_std, axes, shape, training = self._cache
        d_gamma = (dy * x_hat).sum(axis=axes)
        d_beta = dy.sum(axis=axes)
        gamma = self.params["weight"].astype(dy.dtype) if self.affine else 1
        if self.affine:
            self.grads["weight"], self.grads["bias"] = d_gamma, d_beta
        scale = (gamma * inv_std).reshape(shape)  # dx_hat = gamma dy, and x_hat = (x - mean) inv_std
        if not training:  # the running statistics are constants
            return scale * dy
        n = x_hat.size // self.num_features  # values per channel
        # the mean and the variance depend on every x of the channel; gamma is one number per
        # channel, so sum(dx_hat) = gamma d_beta and sum(dx_hat x_hat) = gamma d_gamma
        dx = scale * (dy - (d_beta / n).reshape(shape) - x_hat * (d_gamma / n).reshape(shape))
        return dx

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _update_running_stats(self, mean, var, n):
        self.num_batches_tracked += 1
        m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        self.running_mean = (1 - m) * self.running_mean + m * mean
        self.running_var = (1 - m) * self.running_var + m * var * n / (n - 1)  # unbiased estimate

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"BatchNorm1d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d: expected input of shape (N, {self.num_features}) or "
                             f"(N, {self.num_features}, L), got {x.shape}")
        if self.training and x.size // self.num_features < 2:
            raise ValueError(f"BatchNorm1d: expected more than 1 value per channel in training, "
                             f"got input of shape {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("BatchNorm1d: backward called before forward")
        x_hat = self._cache[0]
        dy = np.asarray(dy, dtype=x_hat.dtype)
        if dy.shape != x_hat.shape:
            raise ValueError(f"BatchNorm1d: expected dy of shape {x_hat.shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        axes, shape = (0, 2, 3), (1, -1, 1, 1)  # statistics over all but the channels
        if self.training:
            mean, var = x.mean(axis=axes), x.var(axis=axes)  # biased variance normalises
            self._update_running_stats(mean, var, n=x.size // self.num_features)
        else:
            mean, var = self.running_mean.astype(x.dtype), self.running_var.astype(x.dtype)
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
        y = x_hat
        if self.affine:
            gamma, beta = self.params["weight"].astype(x.dtype), self.params["bias"].astype(x.dtype)
            y = gamma.reshape(shape) * x_hat + beta.reshape(shape)
        self._cache = (x_hat, inv_std, self.training)
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)
        x_hat, inv_std, training = self._cache
        axes, shape = (0, 2, 3), (1, -1, 1, 1)
        d_gamma = (dy * x_hat).sum(axis=axes)
        d_beta = dy.sum(axis=axes)
        gamma = self.params["weight"].astype(dy.dtype) if self.affine else 1
        if self.affine:
            self.grads["weight"], self.grads["bias"] = d_gamma, d_beta
        scale = (gamma * inv_std).reshape(shape)  # dx_hat = gamma dy, and x_hat = (x - mean) inv_std
        if not training:  # the running statistics are constants
            return scale * dy
        n = x_hat.size // self.num_features  # values per channel
        # the mean and the variance depend on every x of the channel; gamma is one number per
        # channel, so sum(dx_hat) = gamma d_beta and sum(dx_hat x_hat) = gamma d_gamma
        dx = scale * (dy - (d_beta / n).reshape(shape) - x_hat * (d_gamma / n).reshape(shape))
        return dx

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _update_running_stats(self, mean, var, n):
        self.num_batches_tracked += 1
        m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
        self.running_mean = (1 - m) * self.running_mean + m * mean
        self.running_var = (1 - m) * self.running_var + m * var * n / (n - 1)  # unbiased estimate

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"BatchNorm2d: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d: expected input of shape (N, {self.num_features}, H, W), got {x.shape}")
        if self.training and x.size // self.num_features < 2:
            raise ValueError(f"BatchNorm2d: expected more than 1 value per channel in training, "
                             f"got input of shape {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("BatchNorm2d: backward called before forward")
        x_hat = self._cache[0]
        dy = np.asarray(dy, dtype=x_hat.dtype)
        if dy.shape != x_hat.shape:
            raise ValueError(f"BatchNorm2d: expected dy of shape {x_hat.shape}, got {dy.shape}")
        return dy


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

    def forward(self, x):
        x = self._check(x)
        axes = tuple(range(-len(self.normalized_shape), 0))  # the trailing, normalised axes
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)  # biased variance
        inv_std = 1 / np.sqrt(var + self.eps)
        x_hat = (x - mean) * inv_std
        y = x_hat
        if self.elementwise_affine:
            gamma, beta = self.params["weight"].astype(x.dtype), self.params["bias"].astype(x.dtype)
            y = gamma * x_hat + beta
        self._cache = (x_hat, inv_std)
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)
        x_hat, inv_std = self._cache
        axes = tuple(range(-len(self.normalized_shape), 0))
        dx_hat = dy
        if self.elementwise_affine:
            samples = tuple(range(dy.ndim - len(axes)))  # gamma and beta are shared by every sample
            self.grads["weight"] = (dy * x_hat).sum(axis=samples)  # d gamma
            self.grads["bias"] = dy.sum(axis=samples)  # d beta
            dx_hat = dy * self.params["weight"].astype(dy.dtype)
        # as in batch norm, with the means over each sample's features instead of over the batch
        dx = inv_std * (dx_hat - dx_hat.mean(axis=axes, keepdims=True)
                        - x_hat * (dx_hat * x_hat).mean(axis=axes, keepdims=True))
        return dx

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"LayerNorm: expected a floating-point input, got dtype {x.dtype}")
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(f"LayerNorm: expected input of shape (*, {', '.join(map(str, self.normalized_shape))}), "
                             f"got {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("LayerNorm: backward called before forward")
        x_hat = self._cache[0]
        dy = np.asarray(dy, dtype=x_hat.dtype)
        if dy.shape != x_hat.shape:
            raise ValueError(f"LayerNorm: expected dy of shape {x_hat.shape}, got {dy.shape}")
        return dy


class GroupNorm:
    """Group normalisation: ``y = gamma * (x - mean_g) / sqrt(var_g + eps) + beta``, one mean and
    variance per sample and group of ``num_channels / num_groups`` channels.

    Shape: input ``(N, C, *)``, output the same. ``weight`` (gamma) and ``bias`` (beta) are
    ``(C,)``, initialised to ones and zeros. The statistics of a group run over its channels and
    every position, with the biased variance; they do not depend on the other samples, so training
    and evaluation agree. ``num_groups=1`` normalises each sample as a whole (as LayerNorm over
    ``(C, H, W)``), ``num_groups=C`` each channel of each sample (instance normalisation).
    Reference: Wu & He, *Group normalization* (2018).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> gn = GroupNorm(2, 4)
    >>> y = gn.forward(5 + 3 * rng.standard_normal((2, 4, 3, 3)))
    >>> g = y.reshape(2, 2, -1)  # (N, groups, values of a group)
    >>> np.round(g.mean(axis=2), 6) + 0.0, np.round(g.var(axis=2), 3)
    (array([[0., 0.],
           [0., 0.]]), array([[1., 1.],
           [1., 1.]]))
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True):
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.params = {"weight": np.ones(num_channels, dtype=np.float32),
                       "bias": np.zeros(num_channels, dtype=np.float32)} if affine else {}
        self.grads = {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = self._check(x)
        N, G = x.shape[0], self.num_groups
        shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcasts a (C,) vector over (N, C, *)
        x_g = x.reshape(N, G, -1)  # (N, G, C/G * positions): one row per sample and group
        mean = x_g.mean(axis=2, keepdims=True)
        var = x_g.var(axis=2, keepdims=True)  # biased variance
        inv_std = 1 / np.sqrt(var + x.dtype.type(self.eps))
        x_hat = ((x_g - mean) * inv_std).reshape(x.shape)
        y = x_hat
        if self.affine:
            gamma = self.params["weight"].astype(x.dtype).reshape(shape)
            beta = self.params["bias"].astype(x.dtype).reshape(shape)
            y = gamma * x_hat + beta
        self._cache = (x_hat, inv_std)
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)
        x_hat, inv_std = self._cache
        N, C, G = x_hat.shape[0], x_hat.shape[1], self.num_groups
        shape = (1, -1) + (1,) * (x_hat.ndim - 2)
        dx_hat = dy
        if self.affine:
            dy_c, x_hat_c = dy.reshape(N, C, -1), x_hat.reshape(N, C, -1)  # (N, C, positions)
            self.grads["weight"] = np.einsum("ncp,ncp->c", dy_c, x_hat_c)  # d gamma = sum of dy x_hat
            self.grads["bias"] = np.einsum("ncp->c", dy_c)  # d beta = sum of dy
            dx_hat = dy * self.params["weight"].astype(dy.dtype).reshape(shape)
        dx_hat_g = dx_hat.reshape(N, G, -1)  # (N, G, m): m = C/G * positions, as in forward
        x_hat_g = x_hat.reshape(N, G, -1)
        m = x_hat_g.shape[2]
        # the mean and the variance of a group depend on every x of the group: two extra terms
        dx = inv_std * (dx_hat_g - dx_hat_g.mean(axis=2, keepdims=True)
                        - x_hat_g * (np.einsum("ngi,ngi->ng", dx_hat_g, x_hat_g)[:, :, None] / m))
        return dx.reshape(x_hat.shape)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"GroupNorm: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim < 2 or x.shape[1] != self.num_channels or x.shape[0] == 0:
            raise ValueError(f"GroupNorm: expected input of shape (N, {self.num_channels}, *) with N >= 1, "
                             f"got {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("GroupNorm: backward called before forward")
        x_hat = self._cache[0]
        dy = np.asarray(dy, dtype=x_hat.dtype)
        if dy.shape != x_hat.shape:
            raise ValueError(f"GroupNorm: expected dy of shape {x_hat.shape}, got {dy.shape}")
        return dy


class RMSNorm:
    """Root-mean-square normalisation over the trailing dimensions:
    ``y = gamma * x / sqrt(mean(x^2) + eps)``, one scale per sample, no centring and no bias.

    Shape: input ``(*, *normalized_shape)``, output the same. ``weight`` (gamma) has shape
    ``normalized_shape``, initialised to ones. ``eps=None`` uses the machine epsilon of the
    input's dtype, as PyTorch does.
    Reference: Zhang & Sennrich, *Root mean square layer normalization* (2019).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> rms = RMSNorm(4)
    >>> y = rms.forward(10 * rng.standard_normal((2, 4)))
    >>> np.round(np.sqrt((y ** 2).mean(axis=-1)), 6)
    array([1., 1.])
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True):
        self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.params = {"weight": np.ones(self.normalized_shape, dtype=np.float32)} if elementwise_affine else {}
        self.grads = {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = self._check(x)
        axes = tuple(range(x.ndim - len(self.normalized_shape), x.ndim))  # the normalised axes
        eps = np.finfo(x.dtype).eps if self.eps is None else x.dtype.type(self.eps)
        inv_rms = 1 / np.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
        x_hat = x * inv_rms
        y = x_hat
        if self.elementwise_affine:
            y = x_hat * self.params["weight"].astype(x.dtype)
        self._cache = (x_hat, inv_rms, axes)
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)
        x_hat, inv_rms, axes = self._cache
        lead = tuple(range(x_hat.ndim - len(axes)))  # the axes of the samples
        dx_hat = dy
        if self.elementwise_affine:
            self.grads["weight"] = (dy * x_hat).sum(axis=lead)  # d gamma
            dx_hat = dy * self.params["weight"].astype(dy.dtype)
        # the rms depends on every x of the sample: one extra term (no mean was subtracted)
        dx = inv_rms * (dx_hat - x_hat * (dx_hat * x_hat).mean(axis=axes, keepdims=True))
        return dx

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"RMSNorm: expected a floating-point input, got dtype {x.dtype}")
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k:] != self.normalized_shape:
            raise ValueError(f"RMSNorm: expected input of shape (*, {', '.join(map(str, self.normalized_shape))}), "
                             f"got {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("RMSNorm: backward called before forward")
        x_hat = self._cache[0]
        dy = np.asarray(dy, dtype=x_hat.dtype)
        if dy.shape != x_hat.shape:
            raise ValueError(f"RMSNorm: expected dy of shape {x_hat.shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        self._shape = x.shape
        if not self.training or self.p == 0:
            self._mask = None  # identity
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p  # kept with probability 1 - p
        scale = 0.0 if self.p == 1 else 1.0 / (1.0 - self.p)
        self._mask = keep * x.dtype.type(scale)  # m / (1 - p); the same mask scales the gradient
        return x * self._mask

    def backward(self, dy):
        dy = self._check_dy(dy)
        return dy if self._mask is None else dy * self._mask

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Dropout: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._shape is None:
            raise RuntimeError("Dropout: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._shape:
            raise ValueError(f"Dropout: expected dy of shape {self._shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        self._x = x
        return np.take(self.params["weight"], x, axis=0)  # W[x]: (*, embedding_dim), row x of W per index

    def backward(self, dy):
        dy = self._check_dy(dy)
        W = self.params["weight"]
        dW = np.zeros(W.shape, dtype=np.result_type(W.dtype, dy.dtype))
        np.add.at(dW, self._x, dy)  # dW[x] += dy; a row used twice gets both gradients
        if self.padding_idx is not None:
            dW[self.padding_idx] = 0
        self.grads["weight"] = dW
        return None

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            raise TypeError(f"Embedding: expected integer indices, got dtype {x.dtype}")
        if x.size and (x.min() < 0 or x.max() >= self.num_embeddings):
            raise ValueError(f"Embedding: expected indices in [0, {self.num_embeddings}), "
                             f"got values from {x.min()} to {x.max()}")
        return x

    def _check_dy(self, dy):
        if self._x is None:
            raise RuntimeError("Embedding: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._x.shape + (self.embedding_dim,):
            raise ValueError(f"Embedding: expected dy of shape {self._x.shape + (self.embedding_dim,)}, got {dy.shape}")
        return dy


# --------------------------------------------------------------------------------------
# Recurrent layers
# --------------------------------------------------------------------------------------


class RNN:
    """Elman recurrent layer: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or ReLU).

    Shape: input ``(T, N, input_size)`` (``(N, T, input_size)`` if ``batch_first``; ``(T, input_size)``
    unbatched), optional ``hx`` ``(L * D, N, hidden_size)`` where ``L = num_layers`` and ``D = 2``
    if ``bidirectional`` else 1; returns ``output`` ``(T, N, D * hidden_size)`` (batch-first
    likewise) and ``h_n`` ``(L * D, N, hidden_size)``. Layer ``k`` has ``weight_ih_l{k}``
    ``(hidden_size, input_size)`` (``D * hidden_size`` inputs above the first layer),
    ``weight_hh_l{k}`` ``(hidden_size, hidden_size)``, biases ``(hidden_size,)``, and ``_reverse``
    twins if bidirectional, all from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as in torch.
    ``dropout`` drops the input of every layer above the first, in training only.
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
    >>> birnn = RNN(3, 5, bidirectional=True, rng=rng)  # the reverse direction ends at t = 0
    >>> output, h_n = birnn.forward(rng.standard_normal((7, 2, 3)))
    >>> output.shape, h_n.shape, bool(np.all(output[0, :, 5:] == h_n[1]))
    ((7, 2, 10), (2, 2, 5), True)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, *, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, rng=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"RNN: dropout must be a probability in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.batch_first = nonlinearity, batch_first
        self.dropout, self.bidirectional = dropout, bidirectional
        self.directions = ("", "_reverse") if bidirectional else ("",)  # suffixes of the names
        self.rng = np.random.default_rng(rng)  # the initial weights, then the dropout masks
        H, k = hidden_size, 1.0 / np.sqrt(hidden_size)
        self.params = {}
        for layer in range(num_layers):
            I = input_size if layer == 0 else len(self.directions) * H  # the layer below's output
            for suffix in self.directions:
                name = f"l{layer}{suffix}"
                self.params[f"weight_ih_{name}"] = self.rng.uniform(-k, k, (H, I)).astype(np.float32)
                self.params[f"weight_hh_{name}"] = self.rng.uniform(-k, k, (H, H)).astype(np.float32)
                if bias:
                    self.params[f"bias_ih_{name}"] = self.rng.uniform(-k, k, H).astype(np.float32)
                    self.params[f"bias_hh_{name}"] = self.rng.uniform(-k, k, H).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    def forward(self, x, hx=None):
        # every layer runs the recurrence of _run_forward over time, in each direction; the
        # layer above reads both directions' outputs, concatenated on the feature axis
        x, h0, unbatched = self._check(x, hx)  # x (T, N, I); h0 (L * D, N, H)
        D = len(self.directions)
        h_n = np.empty(h0.shape, x.dtype)
        self._cache = {"unbatched": unbatched}
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:  # between layers, in training only
                keep = self.rng.random(x.shape) >= self.dropout
                scale = 0 if self.dropout == 1 else 1 / (1 - self.dropout)
                self._cache[f"mask_l{layer}"] = mask = keep * x.dtype.type(scale)
                x = x * mask
            outputs = []
            for d, suffix in enumerate(self.directions):
                k = layer * D + d  # the row of h_n
                y, h_n[k] = self._run_forward(x, h0[k], f"l{layer}{suffix}", reverse=d == 1)
                outputs.append(y)
            x = np.concatenate(outputs, axis=-1)  # (T, N, D * H)
        if unbatched:
            return x[:, 0], h_n[:, 0]
        return (x.swapaxes(0, 1) if self.batch_first else x), h_n

    def _run_forward(self, x, h0, name, reverse):
        """One direction of one layer over x (T, N, I); returns the outputs (T, N, H) in x's time
        order and the final h. The reverse direction reads x from the last step back."""
        # h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)   (or ReLU)
        x = x[::-1] if reverse else x
        T, N, _ = x.shape
        W_ih = self.params[f"weight_ih_{name}"].astype(x.dtype, copy=False)
        W_hh = self.params[f"weight_hh_{name}"].astype(x.dtype, copy=False)
        b = (self.params[f"bias_ih_{name}"] + self.params[f"bias_hh_{name}"]).astype(x.dtype) \
            if f"bias_ih_{name}" in self.params else 0
        a_x = x @ W_ih.T + b  # (T, N, H): the input projection of every step, one product
        h = np.empty((T + 1, N, self.hidden_size), dtype=x.dtype)  # h[0] is the initial state
        h[0] = h0
        for t in range(T):
            a = a_x[t] + h[t] @ W_hh.T
            h[t + 1] = np.tanh(a) if self.nonlinearity == "tanh" else np.maximum(a, 0)
        self._cache[name] = (x, h)
        return (h[1:][::-1] if reverse else h[1:]), h[-1]

    def backward(self, d_output, dh_n=None):
        # backpropagation through time, from the top layer down, each direction on its own
        dy, dh_n = self._check_backward(d_output, dh_n)  # (T, N, D * H); (L * D, N, H)
        D, H = len(self.directions), self.hidden_size
        dh0 = np.empty_like(dh_n)
        for layer in reversed(range(self.num_layers)):
            dx = 0
            for d, suffix in enumerate(self.directions):
                k = layer * D + d
                dy_d = dy[:, :, d * H:(d + 1) * H]  # this direction's part of the output
                dx_d, dh0[k] = self._run_backward(dy_d, dh_n[k], f"l{layer}{suffix}", reverse=d == 1)
                dx = dx + dx_d  # both directions read the same input
            if f"mask_l{layer}" in self._cache:
                dx = dx * self._cache[f"mask_l{layer}"]  # through the dropout below this layer
            dy = dx
        if self._cache["unbatched"]:
            self.dh0 = dh0[:, 0]
            return dx[:, 0]
        self.dh0 = dh0
        return dx.swapaxes(0, 1) if self.batch_first else dx

    def _run_backward(self, dy, dh, name, reverse):
        """Backpropagation through time for one direction of one layer: from dy (T, N, H) and the
        gradient of its final h, returns dx (T, N, I) and the gradient of h_0."""
        x, h = self._cache[name]  # in the time order of the run
        dy = dy[::-1] if reverse else dy
        T, N, H = dy.shape
        W_ih = self.params[f"weight_ih_{name}"].astype(x.dtype, copy=False)
        W_hh = self.params[f"weight_hh_{name}"].astype(x.dtype, copy=False)
        da = np.empty((T, N, H), dtype=x.dtype)  # gradient of the pre-activation at every step
        for t in reversed(range(T)):
            dh = dh + dy[t]  # from the output at t and from step t + 1
            da[t] = dh * (1 - h[t + 1] ** 2) if self.nonlinearity == "tanh" else dh * (h[t + 1] > 0)
            dh = da[t] @ W_hh  # to h_{t-1}
        # sums over time and batch of outer products
        self.grads[f"weight_ih_{name}"] = np.tensordot(da, x, axes=([0, 1], [0, 1]))
        self.grads[f"weight_hh_{name}"] = np.tensordot(da, h[:-1], axes=([0, 1], [0, 1]))
        if f"bias_ih_{name}" in self.params:
            db = da.sum(axis=(0, 1))  # both biases enter every step's sum equally
            self.grads[f"bias_ih_{name}"], self.grads[f"bias_hh_{name}"] = db, db.copy()  # two arrays
        dx = da @ W_ih  # (T, N, I)
        return (dx[::-1] if reverse else dx), dh

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x, hx):
        """x as (T, N, input_size); h_0 as (L * D, N, hidden_size), zeros without hx."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"RNN: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
            raise ValueError(f"RNN: expected input of shape {layout.format(self.input_size)} or "
                             f"(T, {self.input_size}), got {x.shape}")
        unbatched = x.ndim == 2
        x = x[:, None] if unbatched else (x.swapaxes(0, 1) if self.batch_first else x)
        state = (self.num_layers * len(self.directions), x.shape[1], self.hidden_size)
        h_shape = (state[0], state[2]) if unbatched else state
        if hx is None:
            return x, np.zeros(state, x.dtype), unbatched
        if np.shape(hx) != h_shape:
            raise ValueError(f"RNN: expected hx of shape {h_shape}, got {np.shape(hx)}")
        return x, np.reshape(hx, state), unbatched

    def _check_backward(self, d_output, dh_n):
        """d_output as (T, N, D * hidden_size); dh_n as (L * D, N, hidden_size), zeros if None."""
        if self._cache is None:
            raise RuntimeError("RNN: backward called before forward")
        x = self._cache["l0"][0]  # the input of the first layer
        (T, N, _), H = x.shape, self.hidden_size
        unbatched, D = self._cache["unbatched"], len(self.directions)
        dy = np.asarray(d_output, dtype=x.dtype)
        expected = (T, D * H) if unbatched else ((N, T, D * H) if self.batch_first else (T, N, D * H))
        if dy.shape != expected:
            raise ValueError(f"RNN: expected d_output of shape {expected}, got {dy.shape}")
        dy = dy[:, None] if unbatched else (dy.swapaxes(0, 1) if self.batch_first else dy)
        state = (self.num_layers * D, N, H)
        h_shape = (state[0], H) if unbatched else state
        if dh_n is not None and np.shape(dh_n) != h_shape:
            raise ValueError(f"RNN: expected dh_n of shape {h_shape}, got {np.shape(dh_n)}")
        return dy, (np.zeros(state, x.dtype) if dh_n is None else np.reshape(dh_n, state).astype(x.dtype))


class LSTM:
    """Long short-term memory layer, gates stacked ``i, f, g, o`` as in torch:
    ``[i, f, g, o] = [sigma, sigma, tanh, sigma](x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``,
    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.

    Shape: input ``(T, N, input_size)`` (``(N, T, input_size)`` if ``batch_first``; ``(T, input_size)``
    unbatched), optional ``hx = (h_0, c_0)``, each ``(L * D, N, hidden_size)`` where
    ``L = num_layers`` and ``D = 2`` if ``bidirectional`` else 1; returns ``output``
    ``(T, N, D * hidden_size)`` and ``(h_n, c_n)``, each ``(L * D, N, hidden_size)``. Layer ``k``
    has ``weight_ih_l{k}`` ``(4 hidden_size, input_size)`` (``D * hidden_size`` inputs above the
    first layer), ``weight_hh_l{k}`` ``(4 hidden_size, hidden_size)``, biases ``(4 hidden_size,)``,
    and ``_reverse`` twins if bidirectional, all from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)).
    ``dropout`` drops the input of every layer above the first, in training only.
    ``backward(d_output, dh_n=None, dc_n=None)`` returns ``dx`` and sets ``dh0`` and ``dc0``.
    Reference: Hochreiter & Schmidhuber, *Long short-term memory* (1997).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> lstm = LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True, rng=rng)
    >>> output, (h_n, c_n) = lstm.forward(rng.standard_normal((2, 7, 3)))
    >>> output.shape, h_n.shape, c_n.shape
    ((2, 7, 10), (4, 2, 5), (4, 2, 5))
    >>> lstm.backward(np.ones_like(output)).shape, lstm.grads["weight_ih_l1_reverse"].shape
    ((2, 7, 3), (20, 10))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None):
        if not 0 <= dropout <= 1:
            raise ValueError(f"LSTM: dropout must be a probability in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.dropout, self.bidirectional = batch_first, dropout, bidirectional
        self.directions = ("", "_reverse") if bidirectional else ("",)  # suffixes of the names
        self.rng = np.random.default_rng(rng)  # the initial weights, then the dropout masks
        H, k = hidden_size, 1.0 / np.sqrt(hidden_size)
        self.params = {}
        for layer in range(num_layers):
            I = input_size if layer == 0 else len(self.directions) * H  # the layer below's output
            for suffix in self.directions:
                name = f"l{layer}{suffix}"
                self.params[f"weight_ih_{name}"] = self.rng.uniform(-k, k, (4 * H, I)).astype(np.float32)
                self.params[f"weight_hh_{name}"] = self.rng.uniform(-k, k, (4 * H, H)).astype(np.float32)
                if bias:
                    self.params[f"bias_ih_{name}"] = self.rng.uniform(-k, k, 4 * H).astype(np.float32)
                    self.params[f"bias_hh_{name}"] = self.rng.uniform(-k, k, 4 * H).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    @staticmethod
    def _sigmoid(z):
        # sigma(z) = 1 / (1 + exp(-z)), written as (1 + tanh(z / 2)) / 2, which never overflows
        return (1 + np.tanh(z / 2)) / 2

    def forward(self, x, hx=None):
        # every layer runs the cell of _run_forward over time, in each direction; the layer
        # above reads both directions' outputs, concatenated on the feature axis
        x, h0, c0, unbatched = self._check(x, hx)  # x (T, N, I); h0, c0 (L * D, N, H)
        D = len(self.directions)
        h_n, c_n = np.empty(h0.shape, x.dtype), np.empty(c0.shape, x.dtype)
        self._cache = {"unbatched": unbatched}
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:  # between layers, in training only
                keep = self.rng.random(x.shape) >= self.dropout
                scale = 0 if self.dropout == 1 else 1 / (1 - self.dropout)
                self._cache[f"mask_l{layer}"] = mask = keep * x.dtype.type(scale)
                x = x * mask
            outputs = []
            for d, suffix in enumerate(self.directions):
                k = layer * D + d  # the row of h_n and c_n
                y, h_n[k], c_n[k] = self._run_forward(x, h0[k], c0[k], f"l{layer}{suffix}", reverse=d == 1)
                outputs.append(y)
            x = np.concatenate(outputs, axis=-1)  # (T, N, D * H)
        if unbatched:
            return x[:, 0], (h_n[:, 0], c_n[:, 0])
        return (x.swapaxes(0, 1) if self.batch_first else x), (h_n, c_n)

    def _run_forward(self, x, h0, c0, name, reverse):
        """One direction of one layer over x (T, N, I); returns the outputs (T, N, H) in x's time
        order and the final h and c. The reverse direction reads x from the last step back."""
        # [i, f, g, o] = [sigma, sigma, tanh, sigma](x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
        # c_t = f * c_{t-1} + i * g
        # h_t = o * tanh(c_t)
        x = x[::-1] if reverse else x
        T, N, _ = x.shape
        H = self.hidden_size
        W_ih = self.params[f"weight_ih_{name}"].astype(x.dtype, copy=False)
        W_hh = self.params[f"weight_hh_{name}"].astype(x.dtype, copy=False)
        b = (self.params[f"bias_ih_{name}"] + self.params[f"bias_hh_{name}"]).astype(x.dtype) \
            if f"bias_ih_{name}" in self.params else 0
        z_x = x @ W_ih.T + b  # (T, N, 4H): the input part of every gate at every step, one product
        h = np.empty((T + 1, N, H), dtype=x.dtype)  # h[0] is the initial state
        c = np.empty((T + 1, N, H), dtype=x.dtype)
        gates = np.empty((T, N, 4 * H), dtype=x.dtype)  # i, f, g, o after their nonlinearities
        h[0], c[0] = h0, c0
        for t in range(T):
            z = z_x[t] + h[t] @ W_hh.T  # (N, 4H): all four gates in one product
            gates[t] = self._sigmoid(z)
            gates[t, :, 2 * H:3 * H] = np.tanh(z[:, 2 * H:3 * H])  # g is the candidate, in (-1, 1)
            i, f, g, o = gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:3 * H], gates[t, :, 3 * H:]
            c[t + 1] = f * c[t] + i * g
            h[t + 1] = o * np.tanh(c[t + 1])
        self._cache[name] = (x, h, c, gates)
        return (h[1:][::-1] if reverse else h[1:]), h[-1], c[-1]

    def backward(self, d_output, dh_n=None, dc_n=None):
        # backpropagation through time, from the top layer down, each direction on its own
        dy, dh_n, dc_n = self._check_backward(d_output, dh_n, dc_n)  # (T, N, D * H); (L * D, N, H)
        D, H = len(self.directions), self.hidden_size
        dh0, dc0 = np.empty_like(dh_n), np.empty_like(dc_n)
        for layer in reversed(range(self.num_layers)):
            dx = 0
            for d, suffix in enumerate(self.directions):
                k = layer * D + d
                dy_d = dy[:, :, d * H:(d + 1) * H]  # this direction's part of the output
                dx_d, dh0[k], dc0[k] = self._run_backward(dy_d, dh_n[k], dc_n[k], f"l{layer}{suffix}", reverse=d == 1)
                dx = dx + dx_d  # both directions read the same input
            if f"mask_l{layer}" in self._cache:
                dx = dx * self._cache[f"mask_l{layer}"]  # through the dropout below this layer
            dy = dx
        if self._cache["unbatched"]:
            self.dh0, self.dc0 = dh0[:, 0], dc0[:, 0]
            return dx[:, 0]
        self.dh0, self.dc0 = dh0, dc0
        return dx.swapaxes(0, 1) if self.batch_first else dx

    def _run_backward(self, dy, dh, dc, name, reverse):
        """Backpropagation through time for one direction of one layer: from dy (T, N, H) and the
        gradients of its final h and c, returns dx (T, N, I) and the gradients of h_0 and c_0."""
        x, h, c, gates = self._cache[name]  # in the time order of the run
        dy = dy[::-1] if reverse else dy
        T, N, H = dy.shape
        W_ih = self.params[f"weight_ih_{name}"].astype(x.dtype, copy=False)
        W_hh = self.params[f"weight_hh_{name}"].astype(x.dtype, copy=False)
        dz = np.empty((T, N, 4 * H), dtype=x.dtype)  # gradient of the gate pre-activations
        for t in reversed(range(T)):
            i, f, g, o = gates[t, :, :H], gates[t, :, H:2 * H], gates[t, :, 2 * H:3 * H], gates[t, :, 3 * H:]
            tanh_c = np.tanh(c[t + 1])
            dh = dh + dy[t]  # from the output at t and from step t + 1
            do = dh * tanh_c  # h = o * tanh(c)
            dc = dc + dh * o * (1 - tanh_c ** 2)
            di, df, dg = dc * g, dc * c[t], dc * i  # c = f * c_prev + i * g
            dz[t, :, :H] = di * i * (1 - i)  # through each gate's nonlinearity
            dz[t, :, H:2 * H] = df * f * (1 - f)
            dz[t, :, 2 * H:3 * H] = dg * (1 - g ** 2)
            dz[t, :, 3 * H:] = do * o * (1 - o)
            dc = dc * f  # to c_{t-1}
            dh = dz[t] @ W_hh  # to h_{t-1}
        # sums over time and batch of outer products
        self.grads[f"weight_ih_{name}"] = np.tensordot(dz, x, axes=([0, 1], [0, 1]))
        self.grads[f"weight_hh_{name}"] = np.tensordot(dz, h[:-1], axes=([0, 1], [0, 1]))
        if f"bias_ih_{name}" in self.params:
            db = dz.sum(axis=(0, 1))  # both biases enter every step's sum equally
            self.grads[f"bias_ih_{name}"], self.grads[f"bias_hh_{name}"] = db, db.copy()  # two arrays
        dx = dz @ W_ih  # (T, N, I)
        return (dx[::-1] if reverse else dx), dh, dc

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x, hx):
        """x as (T, N, input_size); h_0 and c_0 as (L * D, N, hidden_size), zeros without hx."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"LSTM: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
            raise ValueError(f"LSTM: expected input of shape {layout.format(self.input_size)} or "
                             f"(T, {self.input_size}), got {x.shape}")
        unbatched = x.ndim == 2
        x = x[:, None] if unbatched else (x.swapaxes(0, 1) if self.batch_first else x)
        state = (self.num_layers * len(self.directions), x.shape[1], self.hidden_size)
        h_shape = (state[0], state[2]) if unbatched else state
        if hx is None:
            return x, np.zeros(state, x.dtype), np.zeros(state, x.dtype), unbatched
        if len(hx) != 2 or np.shape(hx[0]) != h_shape or np.shape(hx[1]) != h_shape:
            raise ValueError(f"LSTM: expected hx = (h_0, c_0), each of shape {h_shape}, "
                             f"got {tuple(np.shape(v) for v in hx)}")
        return x, np.reshape(hx[0], state), np.reshape(hx[1], state), unbatched

    def _check_backward(self, d_output, dh_n, dc_n):
        """d_output as (T, N, D * hidden_size); dh_n and dc_n as (L * D, N, hidden_size), zeros if None."""
        if self._cache is None:
            raise RuntimeError("LSTM: backward called before forward")
        x = self._cache["l0"][0]  # the input of the first layer
        (T, N, _), H = x.shape, self.hidden_size
        unbatched, D = self._cache["unbatched"], len(self.directions)
        dy = np.asarray(d_output, dtype=x.dtype)
        expected = (T, D * H) if unbatched else ((N, T, D * H) if self.batch_first else (T, N, D * H))
        if dy.shape != expected:
            raise ValueError(f"LSTM: expected d_output of shape {expected}, got {dy.shape}")
        dy = dy[:, None] if unbatched else (dy.swapaxes(0, 1) if self.batch_first else dy)
        state = (self.num_layers * D, N, H)
        h_shape = (state[0], H) if unbatched else state
        grads = []
        for what, g in (("dh_n", dh_n), ("dc_n", dc_n)):
            if g is not None and np.shape(g) != h_shape:
                raise ValueError(f"LSTM: expected {what} of shape {h_shape}, got {np.shape(g)}")
            grads.append(np.zeros(state, x.dtype) if g is None else np.reshape(g, state).astype(x.dtype))
        return dy, *grads


class GRU:
    """Gated recurrent unit, gates stacked ``r, z, n`` as in torch:
    ``r = sigma(x W_ir^T + b_ir + h W_hr^T + b_hr)``, ``z = sigma(x W_iz^T + b_iz + h W_hz^T + b_hz)``,
    ``n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))``, ``h_t = (1 - z) * n + z * h_{t-1}``.

    Shape: input ``(T, N, input_size)`` (``(N, T, input_size)`` if ``batch_first``; ``(T, input_size)``
    unbatched), optional ``hx`` ``(L * D, N, hidden_size)`` where ``L = num_layers`` and ``D = 2``
    if ``bidirectional`` else 1; returns ``output`` ``(T, N, D * hidden_size)`` and ``h_n``
    ``(L * D, N, hidden_size)``. Layer ``k`` has ``weight_ih_l{k}`` ``(3 hidden_size, input_size)``
    (``D * hidden_size`` inputs above the first layer), ``weight_hh_l{k}``
    ``(3 hidden_size, hidden_size)``, biases ``(3 hidden_size,)``, and ``_reverse`` twins if
    bidirectional, all from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). ``dropout`` drops the
    input of every layer above the first, in training only. ``backward(d_output, dh_n=None)``
    returns ``dx`` and sets ``dh0``.
    Reference: Cho et al., *Learning phrase representations using RNN encoder-decoder* (2014).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> gru = GRU(3, 5, num_layers=2, rng=rng)
    >>> output, h_n = gru.forward(rng.standard_normal((7, 2, 3)))
    >>> output.shape, h_n.shape, bool(np.all(output[-1] == h_n[1]))
    ((7, 2, 5), (2, 2, 5), True)
    >>> gru.backward(np.ones_like(output)).shape
    (7, 2, 3)
    """

    def __init__(self, input_size, hidden_size, num_layers=1, *, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, rng=None):
        if not 0 <= dropout <= 1:
            raise ValueError(f"GRU: dropout must be a probability in [0, 1], got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.batch_first, self.dropout, self.bidirectional = batch_first, dropout, bidirectional
        self.directions = ("", "_reverse") if bidirectional else ("",)  # suffixes of the names
        self.rng = np.random.default_rng(rng)  # the initial weights, then the dropout masks
        H, k = hidden_size, 1.0 / np.sqrt(hidden_size)
        self.params = {}
        for layer in range(num_layers):
            I = input_size if layer == 0 else len(self.directions) * H  # the layer below's output
            for suffix in self.directions:
                name = f"l{layer}{suffix}"
                self.params[f"weight_ih_{name}"] = self.rng.uniform(-k, k, (3 * H, I)).astype(np.float32)
                self.params[f"weight_hh_{name}"] = self.rng.uniform(-k, k, (3 * H, H)).astype(np.float32)
                if bias:
                    self.params[f"bias_ih_{name}"] = self.rng.uniform(-k, k, 3 * H).astype(np.float32)
                    self.params[f"bias_hh_{name}"] = self.rng.uniform(-k, k, 3 * H).astype(np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    @staticmethod
    def _sigmoid(z):
        # sigma(z) = 1 / (1 + exp(-z)), written as (1 + tanh(z / 2)) / 2, which never overflows
        return (1 + np.tanh(z / 2)) / 2

    def forward(self, x, hx=None):
        # every layer runs the cell of _run_forward over time, in each direction; the layer
        # above reads both directions' outputs, concatenated on the feature axis
        x, h0, unbatched = self._check(x, hx)  # x (T, N, I); h0 (L * D, N, H)
        D = len(self.directions)
        h_n = np.empty(h0.shape, x.dtype)
        self._cache = {"unbatched": unbatched}
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:  # between layers, in training only
                keep = self.rng.random(x.shape) >= self.dropout
                scale = 0 if self.dropout == 1 else 1 / (1 - self.dropout)
                self._cache[f"mask_l{layer}"] = mask = keep * x.dtype.type(scale)
                x = x * mask
            outputs = []
            for d, suffix in enumerate(self.directions):
                k = layer * D + d  # the row of h_n
                y, h_n[k] = self._run_forward(x, h0[k], f"l{layer}{suffix}", reverse=d == 1)
                outputs.append(y)
            x = np.concatenate(outputs, axis=-1)  # (T, N, D * H)
        if unbatched:
            return x[:, 0], h_n[:, 0]
        return (x.swapaxes(0, 1) if self.batch_first else x), h_n

    def _run_forward(self, x, h0, name, reverse):
        """One direction of one layer over x (T, N, I); returns the outputs (T, N, H) in x's time
        order and the final h. The reverse direction reads x from the last step back."""
        # r = sigma(x_t W_ir^T + b_ir + h_{t-1} W_hr^T + b_hr)
        # z = sigma(x_t W_iz^T + b_iz + h_{t-1} W_hz^T + b_hz)
        # n = tanh(x_t W_in^T + b_in + r * (h_{t-1} W_hn^T + b_hn))
        # h_t = (1 - z) * n + z * h_{t-1}
        x = x[::-1] if reverse else x
        T, N, _ = x.shape
        H = self.hidden_size
        W_ih = self.params[f"weight_ih_{name}"].astype(x.dtype, copy=False)
        W_hh = self.params[f"weight_hh_{name}"].astype(x.dtype, copy=False)
        has_bias = f"bias_ih_{name}" in self.params
        b_ih = self.params[f"bias_ih_{name}"].astype(x.dtype) if has_bias else 0
        b_hh = self.params[f"bias_hh_{name}"].astype(x.dtype) if has_bias else 0
        a_x = x @ W_ih.T + b_ih  # (T, N, 3H): the input part of r, z and n at every step, one product
        h = np.empty((T + 1, N, H), dtype=x.dtype)  # h[0] is the initial state
        gates = np.empty((T, N, 3 * H), dtype=x.dtype)  # r, z, n after their nonlinearities
        hn = np.empty((T, N, H), dtype=x.dtype)  # h W_hn^T + b_hn, which r multiplies
        h[0] = h0
        for t in range(T):
            a_h = h[t] @ W_hh.T + b_hh  # (N, 3H): the hidden part of r, z and n, one product
            gates[t, :, :2 * H] = self._sigmoid(a_x[t, :, :2 * H] + a_h[:, :2 * H])  # r and z
            r, z = gates[t, :, :H], gates[t, :, H:2 * H]
            hn[t] = a_h[:, 2 * H:]
            gates[t, :, 2 * H:] = n = np.tanh(a_x[t, :, 2 * H:] + r * hn[t])  # the candidate uses x and r * h
            h[t + 1] = (1 - z) * n + z * h[t]
        self._cache[name] = (x, h, gates, hn)
        return (h[1:][::-1] if reverse else h[1:]), h[-1]

    def backward(self, d_output, dh_n=None):
        # backpropagation through time, from the top layer down, each direction on its own
        dy, dh_n = self._check_backward(d_output, dh_n)  # (T, N, D * H); (L * D, N, H)
        D, H = len(self.directions), self.hidden_size
        dh0 = np.empty_like(dh_n)
        for layer in reversed(range(self.num_layers)):
            dx = 0
            for d, suffix in enumerate(self.directions):
                k = layer * D + d
                dy_d = dy[:, :, d * H:(d + 1) * H]  # this direction's part of the output
                dx_d, dh0[k] = self._run_backward(dy_d, dh_n[k], f"l{layer}{suffix}", reverse=d == 1)
                dx = dx + dx_d  # both directions read the same input
            if f"mask_l{layer}" in self._cache:
                dx = dx * self._cache[f"mask_l{layer}"]  # through the dropout below this layer
            dy = dx
        if self._cache["unbatched"]:
            self.dh0 = dh0[:, 0]
            return dx[:, 0]
        self.dh0 = dh0
        return dx.swapaxes(0, 1) if self.batch_first else dx

    def _run_backward(self, dy, dh, name, reverse):
        """Backpropagation through time for one direction of one layer: from dy (T, N, H) and the
        gradient of its final h, returns dx (T, N, I) and the gradient of h_0."""
        x, h, gates, hn = self._cache[name]  # in the time order of the run
        dy = dy[::-1] if reverse else dy
        T, N, H = dy.shape
        W_ih = self.params[f"weight_ih_{name}"].astype(x.dtype, copy=False)
        W_hh = self.params[f"weight_hh_{name}"].astype(x.dtype, copy=False)
        da_x = np.empty((T, N, 3 * H), dtype=x.dtype)  # gradient of the input parts (and b_ih)
        da_h = np.empty((T, N, 3 * H), dtype=x.dtype)  # gradient of the hidden parts (and b_hh)
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
        # sums over time and batch of outer products
        self.grads[f"weight_ih_{name}"] = np.tensordot(da_x, x, axes=([0, 1], [0, 1]))
        self.grads[f"weight_hh_{name}"] = np.tensordot(da_h, h[:-1], axes=([0, 1], [0, 1]))
        if f"bias_ih_{name}" in self.params:
            self.grads[f"bias_ih_{name}"] = da_x.sum(axis=(0, 1))
            self.grads[f"bias_hh_{name}"] = da_h.sum(axis=(0, 1))
        dx = da_x @ W_ih  # (T, N, I)
        return (dx[::-1] if reverse else dx), dh

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x, hx):
        """x as (T, N, input_size); h_0 as (L * D, N, hidden_size), zeros without hx."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"GRU: expected a floating-point input, got dtype {x.dtype}")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, T, {0})" if self.batch_first else "(T, N, {0})"
            raise ValueError(f"GRU: expected input of shape {layout.format(self.input_size)} or "
                             f"(T, {self.input_size}), got {x.shape}")
        unbatched = x.ndim == 2
        x = x[:, None] if unbatched else (x.swapaxes(0, 1) if self.batch_first else x)
        state = (self.num_layers * len(self.directions), x.shape[1], self.hidden_size)
        h_shape = (state[0], state[2]) if unbatched else state
        if hx is None:
            return x, np.zeros(state, x.dtype), unbatched
        if np.shape(hx) != h_shape:
            raise ValueError(f"GRU: expected hx of shape {h_shape}, got {np.shape(hx)}")
        return x, np.reshape(hx, state), unbatched

    def _check_backward(self, d_output, dh_n):
        """d_output as (T, N, D * hidden_size); dh_n as (L * D, N, hidden_size), zeros if None."""
        if self._cache is None:
            raise RuntimeError("GRU: backward called before forward")
        x = self._cache["l0"][0]  # the input of the first layer
        (T, N, _), H = x.shape, self.hidden_size
        unbatched, D = self._cache["unbatched"], len(self.directions)
        dy = np.asarray(d_output, dtype=x.dtype)
        expected = (T, D * H) if unbatched else ((N, T, D * H) if self.batch_first else (T, N, D * H))
        if dy.shape != expected:
            raise ValueError(f"GRU: expected d_output of shape {expected}, got {dy.shape}")
        dy = dy[:, None] if unbatched else (dy.swapaxes(0, 1) if self.batch_first else dy)
        state = (self.num_layers * D, N, H)
        h_shape = (state[0], H) if unbatched else state
        if dh_n is not None and np.shape(dh_n) != h_shape:
            raise ValueError(f"GRU: expected dh_n of shape {h_shape}, got {np.shape(dh_n)}")
        return dy, (np.zeros(state, x.dtype) if dh_n is None else np.reshape(dh_n, state).astype(x.dtype))


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
        x = self._check(x)
        self._y = np.maximum(x, 0)  # y > 0 exactly where x > 0: the output is all backward needs
        return self._y

    def backward(self, dy):
        dy = self._check_dy(dy)
        return dy * (self._y > 0)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"ReLU: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._y is None:
            raise RuntimeError("ReLU: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._y.shape:
            raise ValueError(f"ReLU: expected dy of shape {self._y.shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        self._positive = x > 0
        return np.where(self._positive, x, x * x.dtype.type(self.negative_slope))

    def backward(self, dy):
        dy = self._check_dy(dy)
        return np.where(self._positive, dy, dy * dy.dtype.type(self.negative_slope))

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"LeakyReLU: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._positive is None:
            raise RuntimeError("LeakyReLU: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._positive.shape:
            raise ValueError(f"LeakyReLU: expected dy of shape {self._positive.shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        e = np.exp(-np.abs(x))  # in (0, 1]: no overflow for either sign
        self._y = np.where(x >= 0, 1, e) / (1 + e)  # 1/(1 + e) for x >= 0, e/(1 + e) below
        return self._y

    def backward(self, dy):
        dy = self._check_dy(dy)
        return dy * self._y * (1 - self._y)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Sigmoid: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._y is None:
            raise RuntimeError("Sigmoid: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._y.shape:
            raise ValueError(f"Sigmoid: expected dy of shape {self._y.shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        self._y = np.tanh(x)
        return self._y

    def backward(self, dy):
        dy = self._check_dy(dy)
        return dy * (1 - self._y ** 2)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Tanh: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._y is None:
            raise RuntimeError("Tanh: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._y.shape:
            raise ValueError(f"Tanh: expected dy of shape {self._y.shape}, got {dy.shape}")
        return dy


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
        x = self._check(x)
        # subtract the maximum: the largest exponent is exp(0) = 1, so exp cannot overflow.
        # initial=-inf gives an empty axis a maximum too (the output is then empty)
        e = np.exp(x - x.max(axis=self.dim, keepdims=True, initial=-np.inf))
        self._y = e / e.sum(axis=self.dim, keepdims=True)
        return self._y

    def backward(self, dy):
        dy = self._check_dy(dy)
        y = self._y
        return y * (dy - (dy * y).sum(axis=self.dim, keepdims=True))

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Softmax: expected a floating-point input, got dtype {x.dtype}")
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"Softmax: dim {self.dim} is out of range for input of shape {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._y is None:
            raise RuntimeError("Softmax: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._y.shape:
            raise ValueError(f"Softmax: expected dy of shape {self._y.shape}, got {dy.shape}")
        return dy


class GELU:
    """Gaussian error linear unit: ``y = x Phi(x)``, ``dy/dx = Phi(x) + x phi(x)``. Shape: any, kept.

    ``Phi(x) = (1 + erf(x / sqrt 2)) / 2`` (``erf`` from scipy), ``phi(x) = exp(-x^2/2) / sqrt(2 pi)``;
    ``approximate='tanh'``: ``Phi(x) = (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``, ``phi = Phi'``.
    Reference: Hendrycks & Gimpel, *Gaussian error linear units (GELUs)* (2016).

    >>> import numpy as np
    >>> GELU().forward(np.array([-3.0, 0.0, 1.0, 1e4])).round(6)
    array([-4.05000e-03,  0.00000e+00,  8.41345e-01,  1.00000e+04])
    """

    def __init__(self, approximate="none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate, self.params, self.grads = approximate, {}, {}
        self.training, self._cache = True, None

    @np.errstate(over="ignore", invalid="ignore")  # x^2 = inf gives exp(-inf) = 0; -inf * 0 = nan, as in torch
    def forward(self, x):
        from scipy.special import erf  # numpy has no error function
        x = self._check(x)
        if self.approximate == "tanh":
            c, xc = (2 / np.pi) ** 0.5, np.clip(x, -100, 100)  # tanh(u) is +-1 long before: x^3 stays finite
            t = np.tanh(c * (xc + 0.044715 * xc ** 3))
            Phi = (1 + t) / 2
            phi = (1 - t ** 2) / 2 * c * (1 + 3 * 0.044715 * xc ** 2)  # the derivative of this Phi
        else:
            Phi = (1 + erf(x / 2 ** 0.5)) / 2
            phi = np.exp(-x ** 2 / 2) / (2 * np.pi) ** 0.5
        self._cache = (x, Phi, phi)
        return x * Phi

    @np.errstate(invalid="ignore")  # inf * 0 = nan at x = +-inf, as in torch
    def backward(self, dy):
        dy = self._check_dy(dy)
        x, Phi, phi = self._cache
        return dy * (Phi + x * phi)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"GELU: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("GELU: backward called before forward")
        if np.shape(dy) != self._cache[0].shape:
            raise ValueError(f"GELU: expected dy of shape {self._cache[0].shape}, got {np.shape(dy)}")
        return np.asarray(dy)


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
        x = self._check(x)
        e = np.exp(-np.abs(x))  # in (0, 1]: no overflow for either sign
        s = np.where(x >= 0, 1, e) / (1 + e)  # sigma(x)
        self._cache = (x, s)
        return x * s

    def backward(self, dy):
        dy = self._check_dy(dy)
        x, s = self._cache
        return dy * s * (1 + x * (1 - s))

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"SiLU: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("SiLU: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._cache[0].shape:
            raise ValueError(f"SiLU: expected dy of shape {self._cache[0].shape}, got {dy.shape}")
        return dy


class PReLU:
    """Parametric ReLU: ``y = x if x > 0 else a * x``, with the slope ``a`` learnt.

    Shape: any input, output the same. ``weight`` (the slopes ``a``) is ``(num_parameters,)``,
    initialised to ``init``: one slope shared by every entry, or one per channel (axis 1 of an
    input of at least two axes, which must have ``num_parameters`` channels).
    Backward: ``dx = dy`` where ``x > 0``, ``a dy`` elsewhere; ``da = sum(dy * x)`` over the
    entries with ``x <= 0`` (of its channel).
    Reference: He et al., *Delving deep into rectifiers* (2015).

    >>> import numpy as np
    >>> act = PReLU()
    >>> act.forward(np.array([-2.0, 0.0, 3.0]))
    array([-0.5,  0. ,  3. ])
    >>> act.backward(np.ones(3)), act.grads["weight"]
    (array([0.25, 0.25, 1.  ]), array([-2.]))
    """

    def __init__(self, num_parameters=1, init=0.25):
        self.num_parameters = num_parameters
        self.params = {"weight": np.full(num_parameters, init, dtype=np.float32)}
        self.grads = {}
        self.training = True
        self._x = None

    def forward(self, x):
        x = self._check(x)
        a = self._slopes(x)
        self._x = x
        return np.where(x > 0, x, a * x)

    def backward(self, dy):
        dy = self._check_dy(dy)
        x = self._x
        a = self._slopes(x)
        dx = np.where(x > 0, dy, a * dy)
        da = np.where(x > 0, 0, dy * x)  # dy * dy/da, entry by entry
        if self.num_parameters == 1:
            self.grads["weight"] = da.sum().reshape(1)
        else:  # sum over every axis but the channels
            self.grads["weight"] = da.sum(axis=(0,) + tuple(range(2, x.ndim)))
        return dx

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _slopes(self, x):
        """The slopes, shaped to broadcast against x: one number, or (1, C, 1, ...)."""
        a = self.params["weight"].astype(x.dtype)
        if self.num_parameters == 1:
            return a.reshape(())
        return a.reshape((1, -1) + (1,) * (x.ndim - 2))

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"PReLU: expected a floating-point input, got dtype {x.dtype}")
        if self.num_parameters != 1 and (x.ndim < 2 or x.shape[1] != self.num_parameters):
            raise ValueError(f"PReLU: expected input of shape (N, {self.num_parameters}, *) for "
                             f"{self.num_parameters} slopes, got {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._x is None:
            raise RuntimeError("PReLU: backward called before forward")
        dy = np.asarray(dy, dtype=self._x.dtype)
        if dy.shape != self._x.shape:
            raise ValueError(f"PReLU: expected dy of shape {self._x.shape}, got {dy.shape}")
        return dy


class ELU:
    """Exponential linear unit: ``y = x if x > 0 else alpha (exp(x) - 1)``,
    ``dy/dx = 1 if x > 0 else alpha exp(x)``.

    Shape: any input, output the same. No parameters. The exponential is taken of ``min(x, 0)``
    only, so a large positive input cannot overflow it.
    Reference: Clevert, Unterthiner & Hochreiter, *Fast and accurate deep network learning by
    exponential linear units (ELUs)* (2016).

    >>> import numpy as np
    >>> act = ELU()
    >>> act.forward(np.array([-1e4, 0.0, 2.0]))
    array([-1.,  0.,  2.])
    >>> act.backward(np.ones(3))
    array([0., 1., 1.])
    """

    def __init__(self, alpha=1.0):
        self.alpha = alpha
        self.params, self.grads = {}, {}
        self.training = True
        self._cache = None

    def forward(self, x):
        x = self._check(x)
        alpha = x.dtype.type(self.alpha)
        m = np.expm1(np.minimum(x, 0))  # exp(x) - 1 where x <= 0, 0 elsewhere: exp never overflows
        self._cache = (x > 0, alpha * (m + 1))  # where y = x, and the slope alpha exp(x) elsewhere
        return np.where(x > 0, x, alpha * m)

    def backward(self, dy):
        dy = self._check_dy(dy)
        positive, slope = self._cache
        return np.where(positive, dy, dy * slope)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"ELU: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._cache is None:
            raise RuntimeError("ELU: backward called before forward")
        slope = self._cache[1]
        dy = np.asarray(dy, dtype=slope.dtype)
        if dy.shape != slope.shape:
            raise ValueError(f"ELU: expected dy of shape {slope.shape}, got {dy.shape}")
        return dy


class Softplus:
    """Softplus: ``y = log(1 + exp(beta x)) / beta``, and ``y = x`` where ``beta x > threshold``;
    ``dy/dx = sigma(beta x)`` (1 on the linear part).

    Shape: any input, output the same. No parameters. ``log(1 + exp(z))`` is computed as
    ``max(z, 0) + log(1 + exp(-|z|))``, which never overflows.
    Reference: Dugas et al., *Incorporating second-order functional knowledge for better option
    pricing* (2001).

    >>> import numpy as np
    >>> act = Softplus()
    >>> act.forward(np.array([-1e4, 0.0, 1e4])).round(6)
    array([0.00000e+00, 6.93147e-01, 1.00000e+04])
    >>> act.backward(np.ones(3))
    array([0. , 0.5, 1. ])
    """

    def __init__(self, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold
        self.params, self.grads = {}, {}
        self.training = True
        self._grad = None

    def forward(self, x):
        x = self._check(x)
        z = x * x.dtype.type(self.beta)
        e = np.exp(-np.abs(z))  # in (0, 1]: no overflow for either sign
        linear = z > self.threshold
        self._grad = np.where(linear, 1, np.where(z >= 0, 1, e) / (1 + e))  # dy/dx = sigma(z)
        return np.where(linear, x, (np.maximum(z, 0) + np.log1p(e)) / x.dtype.type(self.beta))

    def backward(self, dy):
        dy = self._check_dy(dy)
        return dy * self._grad

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Softplus: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._grad is None:
            raise RuntimeError("Softplus: backward called before forward")
        dy = np.asarray(dy, dtype=self._grad.dtype)
        if dy.shape != self._grad.shape:
            raise ValueError(f"Softplus: expected dy of shape {self._grad.shape}, got {dy.shape}")
        return dy


class LogSoftmax:
    """Log of the softmax over one axis: ``y_i = x_i - max x - log sum_j exp(x_j - max x)``.

    Shape: any input, output the same; ``dim`` is the axis to normalise and must be given.
    Subtracting the maximum keeps ``exp`` from overflowing, and the log is never taken of a
    probability that has underflowed to 0. Backward: ``dx = dy - exp(y) * sum(dy, dim)``.
    No parameters.
    Reference: Goodfellow, Bengio & Courville, *Deep Learning* (2016), section 6.2.2.3.

    >>> import numpy as np
    >>> act = LogSoftmax(dim=1)
    >>> y = act.forward(np.array([[0.0, 1e4], [0.0, np.log(3.0)]]))
    >>> y.round(6) + 0.0
    array([[-1.000000e+04,  0.000000e+00],
           [-1.386294e+00, -2.876820e-01]])
    >>> act.backward(np.array([[1.0, 0.0], [0.0, 0.0]])).round(6) + 0.0
    array([[ 1., -1.],
           [ 0.,  0.]])
    """

    def __init__(self, dim):
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"LogSoftmax: dim must be an int (the axis to normalise), got {dim!r}")
        self.dim = int(dim)
        self.params, self.grads = {}, {}
        self.training = True
        self._y = None

    def forward(self, x):
        x = self._check(x)
        z = x - x.max(axis=self.dim, keepdims=True)  # the largest exponent is exp(0) = 1
        self._y = z - np.log(np.exp(z).sum(axis=self.dim, keepdims=True))
        return self._y

    def backward(self, dy):
        dy = self._check_dy(dy)
        return dy - np.exp(self._y) * dy.sum(axis=self.dim, keepdims=True)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"LogSoftmax: expected a floating-point input, got dtype {x.dtype}")
        if not -x.ndim <= self.dim < x.ndim or x.shape[self.dim] == 0:
            raise ValueError(f"LogSoftmax: expected input with a non-empty axis {self.dim}, got shape {x.shape}")
        return x

    def _check_dy(self, dy):
        if self._y is None:
            raise RuntimeError("LogSoftmax: backward called before forward")
        dy = np.asarray(dy, dtype=self._y.dtype)
        if dy.shape != self._y.shape:
            raise ValueError(f"LogSoftmax: expected dy of shape {self._y.shape}, got {dy.shape}")
        return dy


class Mish:
    """Mish: ``y = x tanh(softplus(x))``, ``dy/dx = t + x sigma(x) (1 - t^2)`` with
    ``t = tanh(softplus(x))``.

    Shape: any input, output the same. No parameters. ``softplus(x)`` is computed as
    ``max(x, 0) + log(1 + exp(-|x|))`` and ``sigma`` from ``exp(-|x|)``: neither overflows.
    Reference: Misra, *Mish: a self regularized non-monotonic activation function* (2019).

    >>> import numpy as np
    >>> act = Mish()
    >>> act.forward(np.array([-1e4, 0.0, 1.0, 1e4])).round(6) + 0.0
    array([0.00000e+00, 0.00000e+00, 8.65098e-01, 1.00000e+04])
    >>> act.backward(np.ones(4)).round(6) + 0.0
    array([0.      , 0.6     , 1.049036, 1.      ])
    """

    def __init__(self):
        self.params, self.grads = {}, {}
        self.training = True
        self._grad = None

    def forward(self, x):
        x = self._check(x)
        e = np.exp(-np.abs(x))  # in (0, 1]: no overflow for either sign
        t = np.tanh(np.maximum(x, 0) + np.log1p(e))  # tanh(softplus(x))
        s = np.where(x >= 0, 1, e) / (1 + e)  # sigma(x)
        self._grad = t + x * s * (1 - t * t)  # dy/dx, cached for backward
        return x * t

    def backward(self, dy):
        dy = self._check_dy(dy)
        return dy * self._grad

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"Mish: expected a floating-point input, got dtype {x.dtype}")
        return x

    def _check_dy(self, dy):
        if self._grad is None:
            raise RuntimeError("Mish: backward called before forward")
        dy = np.asarray(dy, dtype=self._grad.dtype)
        if dy.shape != self._grad.shape:
            raise ValueError(f"Mish: expected dy of shape {self._grad.shape}, got {dy.shape}")
        return dy


# --------------------------------------------------------------------------------------
# Positional encoding
# --------------------------------------------------------------------------------------


class PositionalEncoding:
    """Sinusoidal positional encoding, then dropout: ``y = dropout(x + PE[:L])`` with
    ``PE[t, 2i] = sin(t / 10000^(2i/d))`` and ``PE[t, 2i+1] = cos(t / 10000^(2i/d))``.

    Shape: input ``(L, N, d_model)`` (``(N, L, d_model)`` with ``batch_first=True``),
    ``L <= max_len``; output the same. The table ``pe`` ``(max_len, d_model)`` is computed
    once in float64 and added in the input's dtype. No parameters; torch has no such layer.
    Reference: Vaswani et al., *Attention is all you need* (2017), section 3.5.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> encode = PositionalEncoding(4, max_len=10)
    >>> encode.pe[:2].round(4)
    array([[0.    , 1.    , 0.    , 1.    ],
           [0.8415, 0.5403, 0.01  , 1.    ]])
    >>> x = rng.standard_normal((3, 2, 4)).astype(np.float32)  # (L, N, d_model)
    >>> y = encode(x)
    >>> y.shape, y.dtype, bool(np.allclose(y - x, encode.pe[:3, None, :]))
    ((3, 2, 4), dtype('float32'), True)
    """

    def __init__(self, d_model, max_len=5000, *, dropout=0.0, batch_first=False, rng=None):
        if d_model < 1 or max_len < 1 or not 0 <= dropout <= 1:
            raise ValueError(f"PositionalEncoding: expected d_model >= 1, max_len >= 1 and dropout in [0, 1], "
                             f"got d_model={d_model}, max_len={max_len}, dropout={dropout}")
        self.d_model, self.max_len, self.p, self.batch_first = d_model, max_len, dropout, batch_first
        self.rng = np.random.default_rng(rng)
        t = np.arange(max_len)[:, None]  # positions, (max_len, 1)
        j = np.arange(d_model)  # features; 2i and 2i+1 share the frequency 1 / 10000^(2i/d)
        angle = t / 10000.0 ** (2 * (j // 2) / d_model)  # (max_len, d_model)
        self.pe = np.where(j % 2 == 0, np.sin(angle), np.cos(angle))
        self.params, self.grads = {}, {}
        self.training = True
        self._mask = None
        self._shape = None

    def forward(self, x):
        x, L = self._check(x)
        pe = self.pe[None, :L] if self.batch_first else self.pe[:L, None]  # broadcast over the batch
        y = x + pe.astype(x.dtype)
        self._shape = x.shape
        if not self.training or self.p == 0:
            self._mask = None  # no dropout
            return y
        keep = self.rng.random(y.shape, dtype=np.float32) >= self.p  # kept with probability 1 - p
        self._mask = keep * y.dtype.type(0.0 if self.p == 1 else 1.0 / (1.0 - self.p))
        return y * self._mask

    def backward(self, dy):
        if self._shape is None:
            raise RuntimeError("PositionalEncoding: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._shape:
            raise ValueError(f"PositionalEncoding: expected dy of shape {self._shape}, got {dy.shape}")
        return dy if self._mask is None else dy * self._mask  # the encoding is a constant: dx = dy

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def _check(self, x):
        """The validated input and its length L."""
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"PositionalEncoding: expected a floating-point input, got dtype {x.dtype}")
        layout = "(N, L, d_model)" if self.batch_first else "(L, N, d_model)"
        L = x.shape[1 if self.batch_first else 0] if x.ndim == 3 else None
        if x.ndim != 3 or x.shape[2] != self.d_model or L > self.max_len:
            raise ValueError(f"PositionalEncoding: expected input {layout} with d_model={self.d_model} "
                             f"and L <= {self.max_len}, got shape {x.shape}")
        return x, L

    __call__ = forward


# --------------------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------------------


class MultiheadAttention:
    """Multi-head attention: ``y = concat_h(softmax(Q_h K_h^T / sqrt(d) + M) V_h) W_o^T + b_o``
    with ``Q = query W_q^T + b_q``, ``K = key W_k^T + b_k``, ``V = value W_v^T + b_v`` cut into
    ``num_heads`` heads of ``d = embed_dim / num_heads`` features each, and ``M`` the masks.

    Shape: query ``(L, N, E)``, key and value ``(S, N, E)``; ``(N, L, E)`` and ``(N, S, E)`` with
    ``batch_first=True``; ``(L, E)`` and ``(S, E)`` unbatched. The output has the query's shape;
    the weights are ``(N, L, S)`` averaged over the heads, ``(N, num_heads, L, S)`` with
    ``average_attn_weights=False``. Masks as torch: ``attn_mask`` ``(L, S)`` or
    ``(N*num_heads, L, S)``, ``key_padding_mask`` ``(N, S)``; boolean (``True``: may not attend)
    or float (added to the scores). ``in_proj_weight`` ``(3E, E)`` stacks ``W_q, W_k, W_v``
    (Glorot uniform), ``out_proj.weight`` ``(E, E)`` is drawn from U(-1/sqrt(E), 1/sqrt(E)), the
    biases start at zero, as in torch. ``dropout`` zeroes attention weights in training.
    A query whose keys are all masked gets weights nan with ``need_weights=True`` (0/0, as torch)
    and weights 0 with ``need_weights=False`` (output ``out_proj.bias``, as torch's
    ``scaled_dot_product_attention``; torch's inference fast path gives nan there).
    ``backward(d_output)`` returns ``(d_query, d_key, d_value)``; for self-attention add them.
    Reference: Vaswani et al., *Attention is all you need* (2017).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mha = MultiheadAttention(8, 2, batch_first=True, rng=rng)
    >>> x = rng.standard_normal((3, 5, 8))  # (N, L, E)
    >>> causal = np.triu(np.ones((5, 5), dtype=bool), k=1)  # True above the diagonal: no peeking ahead
    >>> y, w = mha(x, x, x, attn_mask=causal)
    >>> y.shape, w.shape, w[0, 0]
    ((3, 5, 8), (3, 5, 5), array([1., 0., 0., 0., 0.]))
    >>> d_query, d_key, d_value = mha.backward(np.ones_like(y))
    >>> (d_query + d_key + d_value).shape  # self-attention: x is all three inputs
    (3, 5, 8)
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, *, batch_first=False, rng=None):
        if embed_dim % num_heads != 0:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if not 0 <= dropout <= 1:
            raise ValueError(f"MultiheadAttention: dropout must be a probability in [0, 1], got {dropout}")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.rng = np.random.default_rng(rng)
        E = embed_dim
        xavier = np.sqrt(6 / (E + 3 * E))  # Glorot uniform on the (3E, E) matrix, as torch
        self.params = {"in_proj_weight": self.rng.uniform(-xavier, xavier, (3 * E, E)).astype(np.float32)}
        if bias:
            self.params["in_proj_bias"] = np.zeros(3 * E, dtype=np.float32)
        self.params["out_proj.weight"] = self.rng.uniform(-1 / np.sqrt(E), 1 / np.sqrt(E), (E, E)).astype(np.float32)
        if bias:
            self.params["out_proj.bias"] = np.zeros(E, dtype=np.float32)
        self.grads = {}
        self.training = True
        self._cache = None

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True):
        x_q, x_k, x_v, M = self._check(query, key, value, key_padding_mask, attn_mask)  # (N, L, E), (N, S, E)
        N, L, E = x_q.shape
        S, H, d = x_k.shape[1], self.num_heads, self.head_dim
        W_q, W_k, W_v = np.split(self.params["in_proj_weight"].astype(x_q.dtype, copy=False), 3)  # (E, E) each
        b_q, b_k, b_v = np.split(self.params.get("in_proj_bias", np.zeros(3 * E)).astype(x_q.dtype, copy=False), 3)
        W_o = self.params["out_proj.weight"].astype(x_q.dtype, copy=False)
        b_o = self.params.get("out_proj.bias", np.zeros(E)).astype(x_q.dtype, copy=False)
        # project, then cut the E features into H heads of d: (N, T, E) -> (N, T, H, d) -> (N, H, T, d)
        Q = (x_q @ W_q.T + b_q).reshape(N, L, H, d).transpose(0, 2, 1, 3)
        K = (x_k @ W_k.T + b_k).reshape(N, S, H, d).transpose(0, 2, 1, 3)
        V = (x_v @ W_v.T + b_v).reshape(N, S, H, d).transpose(0, 2, 1, 3)
        scores = Q @ K.transpose(0, 1, 3, 2) / np.sqrt(d).astype(x_q.dtype)  # (N, H, L, S)
        if M is not None:
            scores = scores + M  # -inf where a key may not be attended to
        # softmax over the keys, minus each row's maximum so that exp cannot overflow; a fully
        # masked row has maximum -inf: subtract 0 there, so that its exp is all zeros, not nan
        s_max = scores.max(axis=-1, keepdims=True)
        e = np.exp(scores - np.where(s_max == -np.inf, 0, s_max))
        total = e.sum(axis=-1, keepdims=True)  # at least exp(0) = 1 unless every key is masked
        A = e / np.where(total > 0, total, 1)  # a fully masked row: weights 0, as torch's scaled_dot_product_attention
        if need_weights:
            A = np.where(total > 0, A, np.nan)  # torch's path that returns the weights gives 0/0 = nan there
        keep = None  # dropout on the weights: zero each with probability p, scale the rest by 1/(1-p)
        if self.training and self.dropout > 0:
            scale = 0.0 if self.dropout == 1 else 1 / (1 - self.dropout)
            keep = (self.rng.random(A.shape) >= self.dropout) * x_q.dtype.type(scale)
        A_drop = A if keep is None else A * keep
        O = (A_drop @ V).transpose(0, 2, 1, 3).reshape(N, L, E)  # (N, H, L, d) -> heads side by side
        y = O @ W_o.T + b_o
        self._cache = (x_q, x_k, x_v, Q, K, V, A, keep, O, query.ndim)
        weights = None
        if need_weights:
            weights = A_drop.mean(axis=1) if average_attn_weights else A_drop
            weights = weights[0] if query.ndim == 2 else weights
        return self._layout(y, query.ndim), weights

    def backward(self, d_output):
        if self._cache is None:
            raise RuntimeError("MultiheadAttention: backward called before forward")
        x_q, x_k, x_v, Q, K, V, A, keep, O, ndim = self._cache
        dy = np.asarray(d_output, dtype=x_q.dtype)
        if dy.shape != self._layout(O, ndim).shape:
            raise ValueError(f"MultiheadAttention: expected d_output of shape {self._layout(O, ndim).shape}, "
                             f"got {dy.shape}")
        dy = self._to_batch_first(dy, ndim)  # (N, L, E)
        N, L, E = O.shape
        S, H, d = x_k.shape[1], self.num_heads, self.head_dim
        W_q, W_k, W_v = np.split(self.params["in_proj_weight"].astype(x_q.dtype, copy=False), 3)
        W_o = self.params["out_proj.weight"].astype(x_q.dtype, copy=False)
        # y = O W_o^T + b_o
        dW_o = dy.reshape(-1, E).T @ O.reshape(-1, E)  # sums over the batch and the positions
        dO = (dy @ W_o).reshape(N, L, H, d).transpose(0, 2, 1, 3)  # (N, H, L, d)
        # O = A_drop V
        A_drop = A if keep is None else A * keep
        dA = dO @ V.transpose(0, 1, 3, 2)  # (N, H, L, S)
        dV = A_drop.transpose(0, 1, 3, 2) @ dO  # (N, H, S, d)
        if keep is not None:
            dA = dA * keep  # through the dropout
        # A = softmax(scores): d scores = A (dA - sum_s dA A)
        d_scores = A * (dA - (dA * A).sum(axis=-1, keepdims=True))
        # scores = Q K^T / sqrt(d)
        dQ = d_scores @ K / np.sqrt(d).astype(x_q.dtype)  # (N, H, L, d)
        dK = d_scores.transpose(0, 1, 3, 2) @ Q / np.sqrt(d).astype(x_q.dtype)  # (N, H, S, d)
        # heads back side by side: (N, H, T, d) -> (N, T, E)
        dQ = dQ.transpose(0, 2, 1, 3).reshape(N, L, E)
        dK = dK.transpose(0, 2, 1, 3).reshape(N, S, E)
        dV = dV.transpose(0, 2, 1, 3).reshape(N, S, E)
        # Q = x_q W_q^T + b_q, and likewise K and V
        self.grads["in_proj_weight"] = np.concatenate([dQ.reshape(-1, E).T @ x_q.reshape(-1, E),
                                                       dK.reshape(-1, E).T @ x_k.reshape(-1, E),
                                                       dV.reshape(-1, E).T @ x_v.reshape(-1, E)])
        if "in_proj_bias" in self.params:
            self.grads["in_proj_bias"] = np.concatenate([dQ.sum(axis=(0, 1)), dK.sum(axis=(0, 1)), dV.sum(axis=(0, 1))])
        self.grads["out_proj.weight"] = dW_o
        if "out_proj.bias" in self.params:
            self.grads["out_proj.bias"] = dy.sum(axis=(0, 1))
        d_query, d_key, d_value = dQ @ W_q, dK @ W_k, dV @ W_v
        return self._layout(d_query, ndim), self._layout(d_key, ndim), self._layout(d_value, ndim)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _to_batch_first(self, x, ndim):
        """The input layout -> (N, T, E): add a batch axis to unbatched input, or swap (T, N) to (N, T)."""
        if ndim == 2:
            return x[None]
        return x if self.batch_first else x.transpose(1, 0, 2)

    def _layout(self, x, ndim):
        """(N, T, E) -> the layout of the input: the inverse of _to_batch_first."""
        if ndim == 2:
            return x[0]
        return x if self.batch_first else x.transpose(1, 0, 2)

    def _check(self, query, key, value, key_padding_mask, attn_mask):
        """Validate the inputs; return them as (N, T, E) and the masks as one additive mask (or None)."""
        name, E, H = "MultiheadAttention", self.embed_dim, self.num_heads
        query, key, value = np.asarray(query), np.asarray(key), np.asarray(value)
        for label, x in (("query", query), ("key", key), ("value", value)):
            if not np.issubdtype(x.dtype, np.floating):
                raise TypeError(f"{name}: expected a floating-point {label}, got dtype {x.dtype}")
            if x.dtype != query.dtype:
                raise TypeError(f"{name}: expected {label} of the query's dtype {query.dtype}, got {x.dtype}")
        layout = "(L, E)" if query.ndim == 2 else "(N, L, E)" if self.batch_first else "(L, N, E)"
        if query.ndim not in (2, 3) or query.shape[-1] != E:
            raise ValueError(f"{name}: expected query of shape {layout} with E = {E}, got {query.shape}")
        for label, x in (("key", key), ("value", value)):
            if x.ndim != query.ndim or x.shape[-1] != E:
                raise ValueError(f"{name}: expected {label} of shape {layout.replace('L', 'S')} with E = {E}, "
                                 f"got {x.shape}")
        x_q, x_k, x_v = (self._to_batch_first(x, query.ndim) for x in (query, key, value))
        if x_k.shape != x_v.shape or x_k.shape[0] != x_q.shape[0]:
            raise ValueError(f"{name}: expected key and value of one shape with the query's batch size, "
                             f"got query {query.shape}, key {key.shape}, value {value.shape}")
        (N, L, _), S = x_q.shape, x_k.shape[1]
        M = None
        for label, mask in (("attn_mask", attn_mask), ("key_padding_mask", key_padding_mask)):
            if mask is None:
                continue
            mask = np.asarray(mask)
            if mask.dtype != bool and not np.issubdtype(mask.dtype, np.floating):
                raise TypeError(f"{name}: expected a boolean or floating-point {label}, got dtype {mask.dtype}")
            if label == "attn_mask":
                shapes = {(L, S): "(L, S)", (N * H, L, S): "(N*num_heads, L, S)"}
            elif query.ndim == 2:
                shapes = {(S,): "(S,)"}
            else:
                shapes = {(N, S): "(N, S)"}
            if mask.shape not in shapes:
                expected = " or ".join(f"{k} = {v}" for v, k in shapes.items())
                raise ValueError(f"{name}: expected {label} of shape {expected}, got {mask.shape}")
            # boolean: True -> -inf (may not attend), False -> 0; float: added as it is
            additive = np.where(mask, -np.inf, 0).astype(query.dtype) if mask.dtype == bool else mask.astype(query.dtype)
            if label == "attn_mask":  # (L, S) -> (1, 1, L, S); (N*H, L, S) -> (N, H, L, S)
                additive = additive.reshape(-1 if mask.ndim == 3 else 1, H if mask.ndim == 3 else 1, L, S)
            else:  # (N, S) -> (N, 1, 1, S): the same keys hidden from every head and query
                additive = additive.reshape(N, 1, 1, S)
            M = additive if M is None else M + additive
        return x_q, x_k, x_v, M


class TransformerEncoderLayer:
    """Transformer encoder layer: self-attention then a feed-forward network, each in a residual
    branch with layer normalisation. Post-norm (``norm_first=False``, the original):
    ``h = LN1(x + SA(x))``, ``y = LN2(h + FF(h))``; pre-norm (``norm_first=True``):
    ``h = x + SA(LN1(x))``, ``y = h + FF(LN2(h))``; ``FF(x) = linear2(act(linear1(x)))``.

    Shape: src ``(L, N, d_model)``, ``(N, L, d_model)`` with ``batch_first=True``, or ``(L, d_model)``;
    output the same. ``src_mask`` and ``src_key_padding_mask`` as ``MultiheadAttention``'s
    ``attn_mask`` and ``key_padding_mask``. Built, as torch's, from this module's
    ``MultiheadAttention``, ``Linear``, ``LayerNorm``, ``Dropout`` and ``ReLU`` or ``GELU``: a reader
    copying this class copies those too. ``params`` and ``grads`` use torch's dotted names
    (``self_attn.in_proj_weight``, ``linear1.weight``, ``norm1.bias``, ...), so weights copy to and
    from torch's ``state_dict``; assigning to a key assigns to the sublayer. With ``bias=False`` the
    layer norms keep a zero bias that is not a parameter (torch's have none). ``dropout`` acts on
    the attention weights, after the activation and on both residual branches, in training.
    ``backward(d_out)`` returns ``d_src``, so the layer fits in ``Sequential`` and ``Residual``.
    Reference: Vaswani et al., *Attention is all you need* (2017); Xiong et al., *On layer
    normalization in the Transformer architecture* (2020) for pre-norm.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> layer = TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, batch_first=True, rng=rng)
    >>> x = rng.standard_normal((3, 5, 8))  # (N, L, d_model)
    >>> y = layer(x)
    >>> y.shape, layer.backward(np.ones_like(y)).shape
    ((3, 5, 8), (3, 5, 8))
    >>> list(layer.params)[:3], sum(p.size for p in layer.params.values())
    (['self_attn.in_proj_weight', 'self_attn.in_proj_bias', 'self_attn.out_proj.weight'], 600)
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", *,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True, rng=None):
        if d_model % nhead != 0:
            raise ValueError(f"TransformerEncoderLayer: d_model ({d_model}) must be divisible by nhead ({nhead})")
        if activation not in ("relu", "gelu"):
            raise ValueError(f"TransformerEncoderLayer: activation must be 'relu' or 'gelu', got {activation!r}")
        rng = np.random.default_rng(rng)
        self.d_model, self.nhead, self.batch_first, self.norm_first = d_model, nhead, batch_first, norm_first
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first=batch_first, rng=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias, rng=rng)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias, rng=rng)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = Dropout(dropout, rng=rng)
        self.dropout2 = Dropout(dropout, rng=rng)
        self.activation = ReLU() if activation == "relu" else GELU()
        self._not_params = () if bias else ("norm1.bias", "norm2.bias")
        self.training = True
        self._shape = None

    def forward(self, src, src_mask=None, src_key_padding_mask=None):
        x = self._check(src, src_mask, src_key_padding_mask)
        if self.norm_first:
            h = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask)
            y = h + self._ff_block(self.norm2(h))
        else:
            h = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask))
            y = self.norm2(h + self._ff_block(h))
        self._shape = y.shape
        return y

    def _sa_block(self, x, attn_mask, key_padding_mask):
        y, _ = self.self_attn(x, x, x, key_padding_mask, need_weights=False, attn_mask=attn_mask)
        return self.dropout1(y)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def backward(self, d_out):
        if self._shape is None:
            raise RuntimeError("TransformerEncoderLayer: backward called before forward")
        dy = np.asarray(d_out)
        if dy.shape != self._shape:
            raise ValueError(f"TransformerEncoderLayer: expected d_out of shape {self._shape}, got {dy.shape}")
        if self.norm_first:  # each residual branch: d(input) = d(output) + d(branch)
            dh = dy + self.norm2.backward(self._ff_block_backward(dy))
            dx = dh + self.norm1.backward(self._sa_block_backward(dh))
        else:
            dz = self.norm2.backward(dy)  # z = h + FF(h)
            dh = dz + self._ff_block_backward(dz)
            dz = self.norm1.backward(dh)  # z = x + SA(x)
            dx = dz + self._sa_block_backward(dz)
        return dx

    def _sa_block_backward(self, dy):
        d_query, d_key, d_value = self.self_attn.backward(self.dropout1.backward(dy))
        return d_query + d_key + d_value  # x is the query, the key and the value

    def _ff_block_backward(self, dy):
        dy = self.linear2.backward(self.dropout2.backward(dy))
        return self.linear1.backward(self.activation.backward(self.dropout.backward(dy)))

    class _Named(dict):
        """The sublayers' arrays by dotted name ("linear1.weight"); assigning to a key assigns to
        the sublayer that owns it."""

        def __init__(self, sublayers, kind, skip):
            super().__init__((f"{n}.{k}", a) for n, layer in sublayers.items()
                             for k, a in getattr(layer, kind).items() if f"{n}.{k}" not in skip)
            self._sublayers, self._kind = sublayers, kind

        def __setitem__(self, key, value):
            name, _, rest = key.partition(".")
            getattr(self._sublayers[name], self._kind)[rest] = value
            super().__setitem__(key, value)

    def _sublayers(self):  # in torch's order of registration, which is its state_dict's order
        names = ("self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1", "dropout2", "activation")
        return {n: getattr(self, n) for n in names}

    @property
    def params(self):
        return self._Named(self._sublayers(), "params", self._not_params)

    @property
    def grads(self):
        return self._Named(self._sublayers(), "grads", self._not_params)

    def train(self, mode=True):
        self.training = mode
        for layer in self._sublayers().values():
            layer.train(mode)
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, src, src_mask, src_key_padding_mask):
        name, E = "TransformerEncoderLayer", self.d_model
        src = np.asarray(src)
        if not np.issubdtype(src.dtype, np.floating):
            raise TypeError(f"{name}: expected a floating-point src, got dtype {src.dtype}")
        layout = "(L, d_model)" if src.ndim == 2 else "(N, L, d_model)" if self.batch_first else "(L, N, d_model)"
        if src.ndim not in (2, 3) or src.shape[-1] != E:
            raise ValueError(f"{name}: expected src of shape {layout} with d_model = {E}, got {src.shape}")
        L = src.shape[1] if src.ndim == 3 and self.batch_first else src.shape[0]
        N = 1 if src.ndim == 2 else src.shape[0] if self.batch_first else src.shape[1]
        shapes = {"src_mask": {(L, L): "(L, L)", (N * self.nhead, L, L): "(N*nhead, L, L)"},
                  "src_key_padding_mask": {(L,): "(L,)"} if src.ndim == 2 else {(N, L): "(N, L)"}}
        for label, mask in (("src_mask", src_mask), ("src_key_padding_mask", src_key_padding_mask)):
            if mask is None:
                continue
            mask = np.asarray(mask)
            if mask.dtype != bool and not np.issubdtype(mask.dtype, np.floating):
                raise TypeError(f"{name}: expected a boolean or floating-point {label}, got dtype {mask.dtype}")
            if mask.shape not in shapes[label]:
                expected = " or ".join(f"{k} = {v}" for v, k in shapes[label].items())
                raise ValueError(f"{name}: expected {label} of shape {expected}, got {mask.shape}")
        return src


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
        x, start, end = self._check(x)
        y = x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])
        self._shape = (x.shape, y.shape)
        return y

    def backward(self, dy):
        dy = self._check_dy(dy)
        x_shape, y_shape = self._shape
        return dy.reshape(x_shape)

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x):
        """The input as an array, and start_dim and end_dim as non-negative axes."""
        x = np.asarray(x)
        start = self.start_dim % x.ndim if -x.ndim <= self.start_dim < x.ndim else None
        end = self.end_dim % x.ndim if -x.ndim <= self.end_dim < x.ndim else None
        if start is None or end is None or start > end:
            raise ValueError(f"Flatten: dims {self.start_dim}..{self.end_dim} do not fit input of shape {x.shape}")
        return x, start, end

    def _check_dy(self, dy):
        if self._shape is None:
            raise RuntimeError("Flatten: backward called before forward")
        dy = np.asarray(dy)
        if dy.shape != self._shape[1]:
            raise ValueError(f"Flatten: expected dy of shape {self._shape[1]}, got {dy.shape}")
        return dy


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

    def train(self, mode=True):
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self):
        return self.train(False)

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
        return x + self._check(x, fx)

    def backward(self, dy):
        df = dy
        for layer in reversed(self.layers):
            df = layer.backward(df)
        return dy + df  # identity path plus the path through f

    def train(self, mode=True):
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def eval(self):
        return self.train(False)

    __call__ = forward

    def _check(self, x, fx):
        """f(x), once it is known to have the shape of x (x + f(x) must not broadcast)."""
        if np.shape(fx) != np.shape(x):
            raise ValueError(f"Residual: the block must keep the input shape {np.shape(x)}, got {np.shape(fx)}")
        return fx


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
        prediction, target = self._check(prediction, target)
        self._diff = prediction - target
        total = float(np.sum(self._diff ** 2))
        return total / self._diff.size if self.reduction == "mean" else total

    def backward(self):
        if self._diff is None:
            raise RuntimeError("MSELoss: backward called before forward")
        n = self._diff.size if self.reduction == "mean" else 1
        return 2 * self._diff / n

    __call__ = forward

    def _check(self, prediction, target):
        prediction, target = np.asarray(prediction), np.asarray(target)
        if not np.issubdtype(prediction.dtype, np.floating):
            raise TypeError(f"MSELoss: expected a floating-point prediction, got dtype {prediction.dtype}")
        if prediction.shape != target.shape:
            raise ValueError(f"MSELoss: expected target of shape {prediction.shape} (the prediction's), got {target.shape}")
        return prediction, target.astype(prediction.dtype)


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
        x, t = self._check(logits, target)
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

    def _check(self, logits, target):
        x, t = np.asarray(logits), np.asarray(target)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"BCEWithLogitsLoss: expected floating-point logits, got dtype {x.dtype}")
        if x.shape != t.shape:
            raise ValueError(f"BCEWithLogitsLoss: expected target of shape {x.shape} (the logits'), got {t.shape}")
        return x, t.astype(x.dtype)


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
        x, t = self._check(logits, target)
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

    def _check(self, logits, target):
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
        return x, t


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


class AdamW:
    """Adam with decoupled weight decay, torch's rule: ``p = p - lr * weight_decay * p``, then
    ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.

    Unlike ``Adam(weight_decay=...)``, the decay does not enter ``g``, so it is not rescaled
    by ``1 / sqrt(v)``: every weight shrinks by the same factor ``1 - lr * weight_decay``.
    ``model`` is any layer or ``Sequential``; ``step()`` reads ``model.params`` and
    ``model.grads`` afresh and updates the parameter arrays in place.
    Reference: Loshchilov & Hutter, *Decoupled weight decay regularization* (2019).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> layer = Linear(2, 1, rng=rng)
    >>> layer.params["weight"] = np.array([[1.0, 1.0]])
    >>> layer.grads = {"weight": np.array([[0.5, -0.5]]), "bias": np.zeros(1)}
    >>> AdamW(layer, lr=0.1, weight_decay=0.5).step()
    >>> layer.params["weight"]  # 1 * (1 - 0.1 * 0.5) -/+ 0.1
    array([[0.85, 1.05]])
    """

    def __init__(self, model, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        if lr < 0 or eps < 0 or weight_decay < 0 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"AdamW: expected lr, eps, weight_decay >= 0 and betas in [0, 1), "
                             f"got lr={lr}, betas={betas}, eps={eps}, weight_decay={weight_decay}")
        self.model, self.lr, self.betas, self.eps, self.weight_decay = model, lr, betas, eps, weight_decay
        self.m, self.v, self.t = {}, {}, 0

    def step(self):
        params, grads = self.model.params, self.model.grads
        b1, b2 = self.betas
        self.t += 1
        for name, p in params.items():
            if name not in grads:
                raise RuntimeError(f"AdamW: no gradient for parameter {name!r}: call backward before step")
            g = grads[name]
            p *= 1 - self.lr * self.weight_decay  # decoupled: shrink p itself, g is left alone
            self.m[name] = b1 * self.m.get(name, 0) + (1 - b1) * g  # first moment
            self.v[name] = b2 * self.v.get(name, 0) + (1 - b2) * g * g  # second moment
            m_hat = self.m[name] / (1 - b1 ** self.t)  # the moments start at 0: undo that bias
            v_hat = self.v[name] / (1 - b2 ** self.t)
            p -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.dtype, copy=False)


def clip_grad_norm_(model, max_norm):
    """Scales every gradient in place so that their global 2-norm is at most ``max_norm``:
    ``g = g * min(1, max_norm / (norm + 1e-6))``, ``norm = sqrt(sum of g^2 over every array)``.

    ``model`` is any layer or ``Sequential``; call it between ``backward`` and the optimiser's
    ``step()``. Returns ``norm`` before clipping, as a float. As ``torch.nn.utils.clip_grad_norm_``
    (with its 1e-6): the direction of the whole gradient is kept, only its length is capped.
    Reference: Pascanu, Mikolov & Bengio, *On the difficulty of training recurrent neural networks* (2013).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> layer = Linear(2, 1, rng=rng)
    >>> layer.grads = {"weight": np.array([[3.0, 0.0]]), "bias": np.array([4.0])}
    >>> clip_grad_norm_(layer, max_norm=1.0)  # sqrt(3^2 + 4^2)
    5.0
    >>> layer.grads["weight"].round(6), layer.grads["bias"].round(6)
    (array([[0.6, 0. ]]), array([0.8]))
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm_: expected max_norm >= 0, got {max_norm}")
    grads = model.grads
    # summed in float64, so that float32 gradients of 1e20 do not overflow when squared
    norm = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads.values())))
    scale = min(1.0, max_norm / (norm + 1e-6))
    for g in grads.values():
        g *= scale  # in place: the layers hold these arrays
    return norm


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
