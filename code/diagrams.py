"""Diagrams of the recurrent cells and of a whole network, drawn with Matplotlib at build time.

``rnn_cell(ax)``, ``lstm_cell(ax)`` and ``gru_cell(ax)`` draw one step of each recurrent layer
in the notation of its page (``layers/rnn.md``, ``lstm.md``, ``gru.md``): the inputs at the left
and bottom, the learned parts as filled boxes (purple: a linear map; orange and green: a linear
map followed by σ or tanh), the elementwise operations as circles and white boxes, the states
leaving at the right. Beside each part sits the line of the page's forward equation that it
computes.

``network(ax, rows, input_shape)`` draws a ``Sequential`` model as a column of layer boxes,
each with its output shape and parameter count, read from the table that
``Sequential.summary`` prints (``summary_rows`` captures and parses it): the picture changes
when the model does.

Each function draws into the axes it is given; ``figure(draw, *args)`` makes a figure sized to
the drawing, with the same size of lettering in every diagram.

>>> from layers import Linear, ReLU, Sequential
>>> model = Sequential(Linear(4, 8, rng=0), ReLU(), Linear(8, 2, rng=1))
>>> rows = summary_rows(model, (3, 4))
>>> rows
[('Linear', (3, 8), 40), ('ReLU', (3, 8), 0), ('Linear', (3, 2), 18)]
>>> fig = figure(network, rows, (3, 4))
>>> sorted(t.get_text() for t in fig.axes[0].texts if t.get_gid() == "shape")
['(3, 2)', '(3, 4)', '(3, 8)']
>>> plt.close(fig)
"""

import contextlib
import io
import re

import matplotlib.patches as mpatches
import matplotlib.pyplot as plt

# Colours that read on white (the site shows figures on a white card in both themes).
INK = "#1a1a1a"  # lines, arrows, labels
STATE = "#1f5fa8"  # the cell state c (LSTM) or the carried state h (GRU): the memory path
SIGMOID = ("#fde2c4", "#b35806")  # fill and edge of a σ layer
TANH = ("#d5ecd4", "#1b7837")  # fill and edge of a tanh layer
LINEAR = ("#e3e0f3", "#54278f")  # fill and edge of a linear map without nonlinearity
FRAME = ("#f4f4f4", "#9a9a9a")  # the cell's outline
EQUATION = "#5a5a5a"  # the equation lines written next to the parts

FONT = 12  # points: labels and boxes
SMALL = 11  # points: the equations and notes (subscripts at 70 %: 7.7 pt, 10 px)
INCH = 0.36  # inches per unit of the drawings' coordinates


def figure(draw, *args):
    """A new figure holding ``draw(ax, *args)`` on axes that fill it, sized to the drawing.

    The figure's size follows the axes' limits at ``INCH`` inches per unit, so the lettering has
    the same size in every diagram.
    """
    fig = plt.figure()
    ax = fig.add_axes((0, 0, 1, 1))
    draw(ax, *args)
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    fig.set_size_inches((x1 - x0) * INCH, (y1 - y0) * INCH)
    return fig


# -- drawing helpers ---------------------------------------------------------------------


def _layer(ax, x, y, text, colours, w=1.2, h=0.72):
    """A learned layer: a filled rounded box centred at (x, y)."""
    fill, edge = colours
    ax.add_patch(mpatches.FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                         boxstyle="round,pad=0.02,rounding_size=0.12",
                                         facecolor=fill, edgecolor=edge, linewidth=1.6, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=FONT, color=INK, zorder=4)


def _op(ax, x, y, text, r=0.3, color=INK):
    """An elementwise operation: a circle centred at (x, y)."""
    ax.add_patch(mpatches.Circle((x, y), r, facecolor="white", edgecolor=color, linewidth=1.6, zorder=3))
    ax.text(x, y, text, ha="center", va="center_baseline", fontsize=FONT + 1, color=color, zorder=4)


def _dot(ax, x, y, color=INK):
    """A junction: the line is copied to a branch."""
    ax.add_patch(mpatches.Circle((x, y), 0.08, facecolor=color, edgecolor=color, zorder=5))


def _wire(ax, *points, color=INK, arrow=True, lw=1.6):
    """A polyline through ``points``; an arrow head at the last point when ``arrow``."""
    xs, ys = zip(*points)
    if arrow and len(points) > 1:
        ax.plot(xs[:-1], ys[:-1], color=color, lw=lw, solid_capstyle="butt", zorder=2)
        ax.annotate("", xy=points[-1], xytext=points[-2], zorder=2,
                    arrowprops=dict(arrowstyle="-|>,head_length=0.5,head_width=0.25", color=color,
                                    lw=lw, shrinkA=0, shrinkB=0))
    else:
        ax.plot(xs, ys, color=color, lw=lw, solid_capstyle="butt", zorder=2)


def _label(ax, x, y, text, ha="center", va="center", size=FONT, color=INK, **kw):
    ax.text(x, y, text, ha=ha, va=va, fontsize=size, color=color, zorder=6, **kw)


def _op_box(ax, x, y, text, w=1.0, h=0.64):
    """An elementwise function (not a learned layer): a white rounded box centred at (x, y)."""
    ax.add_patch(mpatches.FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                                         boxstyle="round,pad=0,rounding_size=0.3",
                                         facecolor="white", edgecolor=INK, linewidth=1.6, zorder=3))
    ax.text(x, y, text, ha="center", va="center", fontsize=FONT, color=INK, zorder=4)


def _frame(ax, x0, y0, x1, y1):
    """The outline of one step of the cell."""
    fill, edge = FRAME
    ax.add_patch(mpatches.FancyBboxPatch((x0, y0), x1 - x0, y1 - y0,
                                         boxstyle="round,pad=0,rounding_size=0.35",
                                         facecolor=fill, edgecolor=edge, linewidth=1.2, zorder=0))


def _setup(ax, width, height, bottom=-0.4):
    ax.set_xlim(0, width)
    ax.set_ylim(bottom, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


# -- the cells ---------------------------------------------------------------------------


def rnn_cell(ax):
    """One step of the Elman RNN, the two equations of ``rnn-forward``."""
    W = 13.0
    _setup(ax, W, 6.9)
    _frame(ax, 1.35, 0.75, 11.4, 6.5)
    y, xhh, xplus, yih, xtanh, xo = 4.7, 3.5, 6.4, 2.35, 8.4, 10.3
    _label(ax, 0.05, y + 0.12, "$h_{t-1}$", ha="left", va="bottom")
    _wire(ax, (0.05, y), (xhh - 1.0, y))
    _layer(ax, xhh, y, r"$W_{hh},\ b_{hh}$", LINEAR, w=2.0)
    _wire(ax, (xplus, -0.3), (xplus, yih - 0.38))
    _label(ax, xplus - 0.2, -0.25, "$x_t$", ha="right", va="bottom")
    _layer(ax, xplus, yih, r"$W_{ih},\ b_{ih}$", LINEAR, w=2.0)
    _op(ax, xplus, y, "+")
    _wire(ax, (xhh + 1.0, y), (xplus - 0.3, y))
    _wire(ax, (xplus, yih + 0.38), (xplus, y - 0.3))
    _label(ax, (xplus + xtanh) / 2 - 0.15, y + 0.12, "$a_t$", va="bottom")
    _layer(ax, xtanh, y, "tanh", TANH, w=1.3)
    _wire(ax, (xplus + 0.3, y), (xtanh - 0.67, y))
    _wire(ax, (xtanh + 0.67, y), (W - 0.05, y))
    _label(ax, W - 0.05, y + 0.12, "$h_t$", ha="right", va="bottom")
    _dot(ax, xo, y)
    _wire(ax, (xo, y), (xo, -0.3))
    _label(ax, xo - 0.3, -0.25, "$h_t$ (output)", ha="right", va="bottom")
    # the equations, next to what computes them
    _label(ax, 3.4, 2.35, r"$a_t = x_t W_{ih}^\top + b_{ih}$" "\n"
           r"$\quad + h_{t-1} W_{hh}^\top + b_{hh}$", size=SMALL, color=EQUATION, linespacing=1.6)
    _label(ax, xtanh, y + 0.65, r"$h_t = \tanh(a_t)$", size=SMALL, color=EQUATION, va="bottom")
    return ax


def lstm_cell(ax):
    """One step of the LSTM, the four lines of ``lstm-forward``."""
    W = 14.4
    _setup(ax, W, 8.4)
    _frame(ax, 1.3, 0.75, 13.1, 8.25)
    yc, ybus, ygate = 7.0, 2.3, 4.1  # cell-state line, input bus, gate boxes
    # inputs: c_{t-1} along the top, h_{t-1} and x_t joined on the bus
    _label(ax, 0.05, yc + 0.12, "$c_{t-1}$", ha="left", va="bottom", color=STATE)
    _label(ax, 0.05, ybus + 0.12, "$h_{t-1}$", ha="left", va="bottom")
    _wire(ax, (0.05, ybus), (9.0, ybus), arrow=False)
    _wire(ax, (2.3, -0.3), (2.3, ybus), arrow=False)
    _dot(ax, 2.3, ybus)
    _label(ax, 2.5, -0.25, "$x_t$", ha="left", va="bottom")
    _label(ax, 6.0, ybus - 0.3, r"$z_t = x_t W_{ih}^\top + b_{ih} + h_{t-1} W_{hh}^\top + b_{hh}$",
           va="top", size=SMALL, color=EQUATION)
    # the four gate layers, each fed from the bus: PyTorch's blocks i, f, g, o of z_t
    gates = [(3.5, "f", r"$\sigma$", SIGMOID), (5.1, "i", r"$\sigma$", SIGMOID),
             (6.7, "g", "tanh", TANH), (9.0, "o", r"$\sigma$", SIGMOID)]
    for x, name, text, colours in gates:
        _layer(ax, x, ygate, text, colours, w=1.15 if text == "tanh" else 0.8)
        if x != 9.0:
            _dot(ax, x, ybus)
        _wire(ax, (x, ybus), (x, ygate - 0.38))
        _label(ax, x + 0.1, (ybus + ygate - 0.38) / 2, f"$z^{name}_t$", ha="left", size=SMALL)
    # forget: f_t ⊙ c_{t-1}
    xf, xplus = 3.5, 6.7
    _op(ax, xf, yc, r"$\times$", color=STATE)
    _wire(ax, (0.05, yc), (xf - 0.3, yc), color=STATE)
    _wire(ax, (xf, ygate + 0.38), (xf, yc - 0.3))
    _label(ax, xf - 0.12, 5.4, "$f_t$", ha="right")
    # write: i_t ⊙ g_t, added to the cell state
    yig = 5.6
    _op(ax, xplus, yig, r"$\times$")
    _wire(ax, (5.1, ygate + 0.38), (5.1, yig), (xplus - 0.3, yig))
    _label(ax, 5.1 - 0.12, 4.95, "$i_t$", ha="right")
    _wire(ax, (xplus, ygate + 0.38), (xplus, yig - 0.3))
    _label(ax, xplus + 0.12, 4.8, "$g_t$", ha="left")
    _op(ax, xplus, yc, "+", color=STATE)
    _wire(ax, (xf + 0.3, yc), (xplus - 0.3, yc), color=STATE)
    _wire(ax, (xplus, yig + 0.3), (xplus, yc - 0.3))
    _label(ax, (xf + xplus) / 2 + 0.3, yc + 0.4, r"$c_t = f_t \odot c_{t-1} + i_t \odot g_t$",
           size=SMALL, color=EQUATION, va="bottom")
    _wire(ax, (xplus + 0.3, yc), (W - 0.05, yc), color=STATE)
    _label(ax, W - 0.05, yc + 0.12, "$c_t$", ha="right", va="bottom", color=STATE)
    # output: h_t = o_t ⊙ tanh(c_t)
    xo, yo, yt = 10.6, ygate, 5.6
    _dot(ax, xo, yc, color=STATE)
    _wire(ax, (xo, yc), (xo, yt + 0.32), color=STATE)
    _op_box(ax, xo, yt, "tanh", w=1.15)
    _wire(ax, (xo, yt - 0.32), (xo, yo + 0.3))
    _op(ax, xo, yo, r"$\times$")
    _wire(ax, (9.0 + 0.42, yo), (xo - 0.3, yo))
    _label(ax, (9.42 + xo - 0.3) / 2, yo + 0.12, "$o_t$", va="bottom")
    xh = 12.5
    _wire(ax, (xo + 0.3, yo), (xh, yo), (xh, -0.3))
    _dot(ax, xh, ybus)
    _wire(ax, (xh, ybus), (W - 0.05, ybus))
    _label(ax, W - 0.05, ybus + 0.12, "$h_t$", ha="right", va="bottom")
    _label(ax, xh - 0.3, -0.25, "$h_t$ (output)", ha="right", va="bottom")
    _label(ax, xo + 0.2, yc + 0.4, r"$h_t = o_t \odot \tanh(c_t)$", size=SMALL, color=EQUATION,
           va="bottom")
    return ax


def gru_cell(ax):
    """One step of the GRU, the four lines of ``gru-forward`` (PyTorch's reset-after form)."""
    W = 15.2
    _setup(ax, W, 10.2)
    _frame(ax, 1.35, 0.95, 14.0, 9.9)
    yh, yb, yn, ygate, yhl, yxl = 9.1, 7.75, 5.3, 3.85, 2.35, 1.5  # lines from the top down
    xz, xr, xhn, xin, xt, xo = 4.0, 5.8, 8.2, 10.5, 12.4, 13.4
    # h_{t-1} along the top and down to its lane; x_t up to its lane
    _label(ax, 0.05, yh + 0.12, "$h_{t-1}$", ha="left", va="bottom", color=STATE)
    xd = 1.9
    _dot(ax, xd, yh, color=STATE)
    _wire(ax, (xd, yh), (xd, yhl), (xhn, yhl), arrow=False, color=STATE)
    _wire(ax, (2.5, -0.3), (2.5, yxl), (xin, yxl), arrow=False)
    _label(ax, 2.7, -0.25, "$x_t$", ha="left", va="bottom")
    # the gates z and r read both lanes
    for x, name in ((xz, "z"), (xr, "r")):
        _layer(ax, x, ygate, r"$\sigma$", SIGMOID, w=0.8)
        _dot(ax, x, yxl)
        _dot(ax, x, yhl, color=STATE)
        _wire(ax, (x, yxl), (x, ygate - 0.38))
    # the candidate's two linear maps: of h_{t-1}, and of x_t
    _layer(ax, xhn, ygate, r"$W_{hn},\,b_{hn}$", LINEAR, w=1.9)
    _wire(ax, (xhn, yhl), (xhn, ygate - 0.38), color=STATE)
    _layer(ax, xin, ygate, r"$W_{in},\,b_{in}$", LINEAR, w=1.9)
    _wire(ax, (xin, yxl), (xin, ygate - 0.38))
    # n_t = tanh(x_t W_in^T + b_in + r_t ⊙ (h_{t-1} W_hn^T + b_hn)): r_t acts after the product
    _op(ax, xhn, yn, r"$\times$")
    _wire(ax, (xhn, ygate + 0.38), (xhn, yn - 0.3))
    _wire(ax, (xr, ygate + 0.38), (xr, yn), (xhn - 0.3, yn))
    _label(ax, xr + 0.12, 4.75, "$r_t$", ha="left")
    _op(ax, xin, yn, "+")
    _wire(ax, (xhn + 0.3, yn), (xin - 0.3, yn))
    _wire(ax, (xin, ygate + 0.38), (xin, yn - 0.3))
    _layer(ax, xt, yn, "tanh", TANH, w=1.15)
    _wire(ax, (xin + 0.3, yn), (xt - 0.6, yn))
    _label(ax, 8.9, 6.55, r"$n_t = \tanh(x_t W_{in}^\top + b_{in}$" "\n"
           r"$\quad + r_t \odot (h_{t-1} W_{hn}^\top + b_{hn}))$", size=SMALL, color=EQUATION,
           linespacing=1.6)
    # the blend: h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    _op(ax, xz, yh, r"$\times$", color=STATE)
    _wire(ax, (0.05, yh), (xz - 0.3, yh), color=STATE)
    _wire(ax, (xz, ygate + 0.38), (xz, yh - 0.3))
    _label(ax, xz - 0.12, 5.6, "$z_t$", ha="right")
    _dot(ax, xz, yb)
    _op_box(ax, 6.6, yb, r"$1 -$", w=1.15, h=0.6)
    _wire(ax, (xz, yb), (6.6 - 0.58, yb))
    _op(ax, xt, yb, r"$\times$")
    _wire(ax, (6.6 + 0.58, yb), (xt - 0.3, yb))
    _label(ax, 9.6, yb + 0.12, r"$1 - z_t$", va="bottom")
    _wire(ax, (xt, yn + 0.38), (xt, yb - 0.3))
    _label(ax, xt + 0.12, 6.5, "$n_t$", ha="left")
    _op(ax, xt, yh, "+", color=STATE)
    _wire(ax, (xz + 0.3, yh), (xt - 0.3, yh), color=STATE)
    _wire(ax, (xt, yb + 0.3), (xt, yh - 0.3))
    _label(ax, 8.2, yh + 0.2, r"$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$", size=SMALL,
           color=EQUATION, va="bottom")
    _wire(ax, (xt + 0.3, yh), (W - 0.05, yh), color=STATE)
    _label(ax, W - 0.05, yh + 0.12, "$h_t$", ha="right", va="bottom", color=STATE)
    _dot(ax, xo, yh, color=STATE)
    _wire(ax, (xo, yh), (xo, -0.3), color=STATE)
    _label(ax, xo - 0.3, -0.25, "$h_t$ (output)", ha="right", va="bottom")
    return ax


# -- a whole network ---------------------------------------------------------------------

_ROW = re.compile(r"^\d+ \((?P<kind>\w+)\)\s+(?P<shape>\([\d, ]*\))\s+(?P<count>[\d,]+)$")


def summary_rows(model, input_shape):
    """``(layer type, output shape, parameter count)`` of every layer, from ``model.summary``."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        model.summary(input_shape)
    rows = []
    for line in text.getvalue().splitlines():
        match = _ROW.match(line.strip())
        if match:
            shape = tuple(int(n) for n in match["shape"].strip("()").split(",") if n.strip())
            rows.append((match["kind"], shape, int(match["count"].replace(",", ""))))
    return rows


def network(ax, rows, input_shape):
    """Draw ``rows`` (from ``summary_rows``) as a column of layer boxes, input at the top.

    A layer without parameters that keeps its input's shape (an activation, dropout) shares
    the box of the layer before it. Beside each box: the output shape and the parameter count.
    The shape labels have the gid ``"shape"``.
    """
    boxes = []  # [names, shape, count]
    for kind, shape, count in rows:
        if boxes and count == 0 and shape == boxes[-1][1]:
            boxes[-1][0].append(kind)
        else:
            boxes.append([[kind], shape, count])
    pitch, h, w = 1.15, 0.7, 4.6
    xbox, xshape, xcount = 2.45, 4.95, 12.0
    top = 1.1 + len(boxes) * pitch
    _setup(ax, 12.2, top + 1.0, bottom=-0.6)
    _label(ax, xshape, top + 0.55, "output shape", ha="left", size=SMALL, color=EQUATION)
    _label(ax, xcount, top + 0.55, "parameters", ha="right", size=SMALL, color=EQUATION)
    _label(ax, xbox, top, "input", color=INK)
    _label(ax, xshape, top, str(tuple(input_shape)), ha="left", gid="shape")
    for k, (names, shape, count) in enumerate(boxes):
        y = top - (k + 1) * pitch
        colours = _COLOURS.get(names[0], ("white", INK))
        _layer(ax, xbox, y, " + ".join(names), colours, w=w, h=h)
        _wire(ax, (xbox, y + pitch - (h / 2 if k else 0.25)), (xbox, y + h / 2 + 0.02))
        _label(ax, xshape, y, str(tuple(shape)), ha="left", gid="shape")
        _label(ax, xcount, y, f"{count:,}" if count else "–", ha="right")
    y = top - len(boxes) * pitch - 0.85
    _label(ax, xcount, y, f"total {sum(r[2] for r in rows):,}", ha="right", size=SMALL,
           color=EQUATION)
    return ax


_COLOURS = {"Embedding": LINEAR, "Linear": LINEAR, "Conv1d": TANH, "Conv2d": TANH,
            "MaxPool1d": SIGMOID, "MaxPool2d": SIGMOID, "AvgPool1d": SIGMOID, "AvgPool2d": SIGMOID}
