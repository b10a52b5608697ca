"""The diagrams of code/diagrams.py: the cells draw, and the network diagram shows the summary.

The shapes on the solubility model's diagram must be those that ``Sequential.summary`` prints,
read here from its table independently of ``diagrams.summary_rows``, so that a change of the
model changes the figure.
"""

import contextlib
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import diagrams  # noqa: E402
from solubility import build_model  # noqa: E402

INPUT = (16, 200)


def printed_shapes(model, input_shape):
    """The "Output shape" column of ``model.summary``, as printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary(input_shape)
    header, rule, *lines = out.getvalue().splitlines()
    start = header.index("Output shape")
    rows = lines[:lines.index(rule)]  # between the two rules
    return [line[start:].rsplit(maxsplit=1)[0].strip() for line in rows]  # less the count


def shape_labels(fig):
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "shape"]


@pytest.mark.parametrize("draw", [diagrams.rnn_cell, diagrams.lstm_cell, diagrams.gru_cell])
def test_cell_draws_within_its_limits(draw):
    fig = diagrams.figure(draw)
    try:
        ax = fig.axes[0]
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        frame = fig.bbox
        assert ax.texts and ax.patches
        for text in ax.texts:  # every label inside the figure, none cut off
            box = text.get_window_extent(renderer)
            assert frame.x0 - 1 <= box.x0 and box.x1 <= frame.x1 + 1, text.get_text()
            assert frame.y0 - 1 <= box.y0 and box.y1 <= frame.y1 + 1, text.get_text()
        width, _ = fig.get_size_inches()
        assert width <= 7.5  # fits the page's column at its natural size
    finally:
        plt.close(fig)


def test_cells_label_the_page_equations():
    """Each cell writes its page's symbols (lstm-forward, gru-forward, rnn-forward)."""
    wanted = {
        diagrams.rnn_cell: ["a_t", "h_t", "h_{t-1}", "x_t", "W_{ih}", "W_{hh}"],
        diagrams.lstm_cell: ["f_t", "i_t", "g_t", "o_t", "c_t", "c_{t-1}", "z_t", "h_t"],
        diagrams.gru_cell: ["r_t", "z_t", "n_t", "h_t", "W_{hn}", "W_{in}"],
    }
    for draw, symbols in wanted.items():
        fig = diagrams.figure(draw)
        text = " ".join(t.get_text() for t in fig.axes[0].texts)
        plt.close(fig)
        for symbol in symbols:
            assert symbol in text, (draw.__name__, symbol)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_network_shapes_are_the_summary(dropout):
    model = build_model(dropout=dropout, rng=0)
    printed = printed_shapes(model, INPUT)
    rows = diagrams.summary_rows(model, INPUT)
    assert [str(shape) for _, shape, _ in rows] == printed
    fig = diagrams.figure(diagrams.network, rows, INPUT)
    try:
        labels = shape_labels(fig)
    finally:
        plt.close(fig)
    assert labels[0] == str(INPUT)
    # one label per box; a box holds a layer and the shape-keeping, parameter-free ones after it
    expected = [printed[0]] + [s for prev, s, (_, _, count) in zip(printed, printed[1:], rows[1:])
                               if s != prev or count > 0]
    assert labels[1:] == expected
    assert set(labels[1:]) == set(printed)
    assert labels[-1] == "(16, 1)"


def test_network_follows_the_model():
    """Another model, another figure: the shapes are computed, not typed."""
    from layers import Linear, ReLU, Sequential

    model = Sequential(Linear(5, 7, rng=0), ReLU(), Linear(7, 3, rng=1))
    fig = diagrams.figure(diagrams.network, diagrams.summary_rows(model, (2, 5)), (2, 5))
    try:
        assert shape_labels(fig) == ["(2, 5)", "(2, 7)", "(2, 3)"]
        counts = [t.get_text() for t in fig.axes[0].texts if t.get_text() in {"42", "24"}]
        assert counts == ["42", "24"]
    finally:
        plt.close(fig)
