"""Self-attention's three matrix steps drawn from the real tensors, and weight matrices side by side.

    attention_steps(q, k, v)          the matrices of one attention: Q, Kᵀ, the scores, the weights, V, the output
    plot_attention_steps(q, k, v)     scores = Q Kᵀ (times the scale), weights = the softmax of each row,
                                      output = weights V, every matrix with its numbers (notebook 02)
    plot_weight_matrices(weights)     (Nq, Nk) matrices of attention weights side by side on one colour
                                      scale, e.g. one layer before and after training

The weights and outputs come from minivit.attention, the function the models use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from minivit.ops._checks import check_tensor
from minivit.ops.attention import attention
from minivit.viz._common import CONTINUOUS, DIVERGING, label_size, new_figure, number
from minivit.viz.diagram import arrow

MAX_STEP_SIDE = 6  # Nq, Nk, d, dv of plot_attention_steps: beyond, its numbers no longer fit
MAX_WEIGHT_SIDE = 12  # Nq, Nk of plot_weight_matrices: beyond, its numbers no longer fit
STEP_PANELS = ("q", "kT", "scores", "weights", "v", "output")  # the gid prefixes, in drawing order


def _text(value: float) -> str:
    """A cell's number: at most two decimals and no trailing zeros ("4", "0.98", "-0.5")."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def attention_steps(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None
) -> dict[str, torch.Tensor]:
    """The matrices of one attention, step by step, as minivit.attention computes them.

    Args:
        q: queries, shape (Nq, d); k: keys, shape (Nk, d); v: values, shape (Nk, dv); every side at most 6.
        scale: multiplies the scores; None for 1/sqrt(d), as in minivit.attention.

    Returns:
        float tensors: "q" (Nq, d); "kT", k transposed (d, Nk); "scores", q kᵀ times the scale (Nq, Nk);
        "weights", the softmax of each row of the scores (Nq, Nk); "v" (Nk, dv); "output", weights @ v
        (Nq, dv). The weights and the output are minivit.attention(q, k, v, scale=scale)'s.
    """
    for name, t, shape in (("q", q, "(Nq, d)"), ("k", k, "(Nk, d)"), ("v", v, "(Nk, dv)")):
        check_tensor(t, name, shape)
        if t.dim() != 2:
            raise ValueError(f"{name} must have shape {shape}, got shape {tuple(t.shape)}")
    if k.shape[1] != q.shape[1] or v.shape[0] != k.shape[0]:
        raise ValueError(f"need q (Nq, d), k (Nk, d), v (Nk, dv), got shapes {tuple(q.shape)}, {tuple(k.shape)}, "
                         f"{tuple(v.shape)}")
    if max(*q.shape, *k.shape, *v.shape) > MAX_STEP_SIDE:
        raise ValueError(f"q, k and v must have at most {MAX_STEP_SIDE} rows and columns for the numbers to fit, "
                         f"got shapes {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))
                              or not math.isfinite(scale)):
        raise ValueError(f"scale must be None or a finite number, got {scale!r}")
    q, k, v = (t.detach().float() for t in (q, k, v))
    with torch.no_grad():
        output, weights = attention(q, k, v, scale=scale)  # (Nq, dv), (Nq, Nk)
    factor = 1.0 / math.sqrt(q.shape[1]) if scale is None else float(scale)
    return {"q": q, "kT": k.T, "scores": (q @ k.T) * factor, "weights": weights, "v": v, "output": output}


def _signed(*tensors: torch.Tensor) -> Normalize:
    """A colour scale centred at 0 that holds every value of the tensors."""
    high = max(max(float(t.abs().max()) for t in tensors), 1e-12)
    return Normalize(-high, high)


def _matrix(ax: Axes, left: float, top: float, values: torch.Tensor, gid: str, norm: Normalize, cmap: str,
            size: float, title: str, rows: Sequence[str] = (), cols: Sequence[str] = (), fixed: bool = False) -> None:
    """One matrix as a grid of coloured cells (cell (i, j) from x = left + j, y = top + i, y downwards), each
    cell with its number (`fixed`: always two decimals); the title above, row names on the left and column
    names below when given."""
    palette = colormaps[cmap]
    n_rows, n_cols = values.shape
    for i in range(n_rows):
        for j in range(n_cols):
            value = float(values[i, j])
            ax.add_patch(Rectangle((left + j, top + i), 1, 1, facecolor=palette(norm(value)), edgecolor="black",
                                   linewidth=0.8, gid=f"{gid}-cell"))
            text = f"{value:.2f}" if fixed else _text(value)
            number(ax, left + j + 0.5, top + i + 0.5, text, size, gid=f"{gid}-value")
    ax.text(left + n_cols / 2, top - 0.2, title, ha="center", va="bottom", fontsize=10, gid="caption")
    for i, name in enumerate(rows):
        ax.text(left - 0.12, top + i + 0.5, name, ha="right", va="center", fontsize=8.5)
    for j, name in enumerate(cols):
        ax.text(left + j + 0.5, top + n_rows + 0.12, name, ha="center", va="top", fontsize=8.5)


def _operator(ax: Axes, x: float, y: float, text: str) -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=14, gid="operator")


def plot_attention_steps(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None = None) -> Figure:
    """Self-attention as three matrix steps, every matrix drawn with its numbers: top, Q times Kᵀ, times the
    scale, gives the scores (one row per query, one column per key); below, the softmax of each row gives the
    weights, and the weights times V give the output, one row per query.

    Args:
        q: queries, shape (Nq, d); k: keys, shape (Nk, d); v: values, shape (Nk, dv); every side at most 6.
        scale: multiplies the scores; None for 1/sqrt(d), as in minivit.attention.

    Returns:
        the Figure, one axes. For each matrix p of `attention_steps` in the order "q", "kT", "scores",
        "weights", "v", "output", its cells are Rectangles with gid "p-cell" and their numbers Texts with gid
        "p-value", row-major (the weights with two decimals, the others with at most two). Q, Kᵀ and the
        scores are coloured on a scale centred at 0, V and the output on another, the weights from 0 to 1.
        The matrices' titles have gid "caption", the signs between them (x, =) gid "operator", the softmax
        arrow a Line2D and an arrow with gid "arrow".
    """
    steps = attention_steps(q, k, v, scale)
    Nq, d = steps["q"].shape
    Nk, dv = steps["v"].shape
    scale_text = f"1/\u221a{d}" if scale is None else f"{float(scale):g}"

    # Data coordinates: one cell is 1 x 1, y grows downwards. Row 1: Q x Kᵀ x scale = scores. Row 2, from the
    # left again: weights x V = output.
    gap, wide_gap, names = 1.3, 2.6, 1.5  # room for "x", for "x scale =", for the names right of V
    row1, row2 = max(Nq, d), max(Nq, Nk)
    x_k = d + gap
    x_scores = x_k + Nk + wide_gap
    top2 = row1 + 2.6  # room for the key names under Kᵀ, the softmax arrow and the titles of row 2
    x_v = Nk + gap
    x_out = x_v + dv + names + gap
    xlim = (-1.9, max(x_scores + Nk, x_out + dv) + 0.3)
    ylim = (top2 + row2 + 0.3, -1.0)
    cell_inches = min(0.6, 10.0 / (xlim[1] - xlim[0]))
    fig = new_figure(cell_inches * (xlim[1] - xlim[0]), cell_inches * (ylim[0] - ylim[1]) + 0.45)
    ax = fig.subplots()
    size = float(min(11.0, 0.26 * 72 * cell_inches))  # five characters ("-0.29") fit in a cell

    def middle(height: int, total: float, top: float = 0.0) -> float:
        return top + (total - height) / 2

    signed = _signed(steps["q"], steps["kT"])
    value_scale = _signed(steps["v"], steps["output"])
    queries = [f"query {i}" for i in range(Nq)]
    _matrix(ax, 0.0, middle(Nq, row1), steps["q"], "q", signed, DIVERGING, size, f"Q ({Nq}, {d})", rows=queries)
    _operator(ax, x_k - gap / 2, row1 / 2, "\u00d7")
    _matrix(ax, x_k, middle(d, row1), steps["kT"], "kT", signed, DIVERGING, size, f"K\u1d40 ({d}, {Nk})",
            cols=[f"key {j}" for j in range(Nk)])
    _operator(ax, x_scores - wide_gap / 2, row1 / 2, f"\u00d7 {scale_text} =")
    top_scores = middle(Nq, row1)
    _matrix(ax, x_scores, top_scores, steps["scores"], "scores", _signed(steps["scores"]), DIVERGING, size,
            f"scores ({Nq}, {Nk})")

    # From the scores down, left below the key names of Kᵀ, and down onto the weights: clear of every matrix.
    x_from, x_to, y_turn = x_scores + Nk / 2, Nk / 2, row1 + 1.1
    ax.plot([x_from, x_from, x_to], [top_scores + Nq + 0.1, y_turn, y_turn], color="black", linewidth=1.2,
            gid="arrow")
    arrow(ax, (x_to, y_turn), (x_to, top2 - 0.85))
    ax.text((x_from + x_to) / 2, y_turn + 0.12, "softmax of each row", ha="center", va="top", fontsize=10,
            style="italic")
    _matrix(ax, 0.0, top2, steps["weights"], "weights", Normalize(0.0, 1.0), CONTINUOUS, size,
            f"weights ({Nq}, {Nk})", rows=queries, fixed=True)
    _operator(ax, x_v - gap / 2, top2 + Nq / 2, "\u00d7")  # row 2's matrices hang from one top line
    top_v = top2
    _matrix(ax, x_v, top_v, steps["v"], "v", value_scale, DIVERGING, size, f"V ({Nk}, {dv})")
    for j in range(Nk):
        ax.text(x_v + dv + 0.12, top_v + j + 0.5, f"value {j}", ha="left", va="center", fontsize=8.5)
    _operator(ax, x_out - gap / 2, top2 + Nq / 2, "=")
    _matrix(ax, x_out, top2, steps["output"], "output", value_scale, DIVERGING, size,
            f"output ({Nq}, {dv})")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.suptitle("self-attention in three steps: scores = Q K\u1d40 \u00d7 scale, weights = softmax of each row, "
                 "output = weights V", fontsize=11)
    return fig


def plot_weight_matrices(
    weights: Mapping[str, torch.Tensor],
    query_labels: Sequence[str] | None = None,
    key_labels: Sequence[str] | None = None,
    marked: torch.Tensor | None = None,
    title: str = "",
    columns: int | None = None,
) -> Figure:
    """Matrices of attention weights side by side, each with its numbers, on one colour scale from 0 to 1.

    Args:
        weights: panel title -> weights of shape (Nq, Nk), the same shape in every panel, Nq and Nk at most 12,
            values in [0, 1] (each row one query's weights over the keys).
        query_labels: Nq names for the rows (default "0", "1", ...); key_labels: Nk names for the columns
            (default: query_labels when Nq == Nk, else "0", "1", ...).
        marked: None, or a bool tensor (Nq, Nk): cells to outline in every panel (e.g. where a query should look).
        title: the figure's title; empty for none.
        columns: panels per row; None for all in one row. Four panels read better as two rows of two
            (columns=2) at a notebook's width.

    Returns:
        the Figure, one panel per entry in order (row by row), then a colour bar. Each panel's image data is its
        weights; the numbers are Texts with gid "weight" (row-major, two decimals), the marked cells Rectangles with
        gid "marked" (row-major).
    """
    if not isinstance(weights, Mapping) or not weights:
        raise ValueError(f"weights must be a non-empty dict of title -> (Nq, Nk) tensor, got {weights!r}")
    matrices = {}
    for name, w in weights.items():
        check_tensor(w, f"weights[{name!r}]", "(Nq, Nk)")
        if w.dim() != 2:
            raise ValueError(f"weights[{name!r}] must have shape (Nq, Nk), got shape {tuple(w.shape)}")
        matrices[name] = w.detach().float().cpu()
    shapes = {tuple(w.shape) for w in matrices.values()}
    if len(shapes) != 1:
        raise ValueError(f"every matrix in weights must have the same shape (Nq, Nk), got shapes {sorted(shapes)}")
    Nq, Nk = shapes.pop()
    if max(Nq, Nk) > MAX_WEIGHT_SIDE:
        raise ValueError(f"weights must be at most {MAX_WEIGHT_SIDE} x {MAX_WEIGHT_SIDE} for the numbers to fit, "
                         f"got shape ({Nq}, {Nk})")
    for name, w in matrices.items():
        if not torch.isfinite(w).all() or w.min() < -1e-6 or w.max() > 1 + 1e-6:
            raise ValueError(f"weights[{name!r}] must hold weights in [0, 1], got values from {float(w.min()):.3g} "
                             f"to {float(w.max()):.3g}")
    rows = [str(i) for i in range(Nq)] if query_labels is None else [str(s) for s in query_labels]
    if key_labels is None:
        cols = rows if Nq == Nk else [str(j) for j in range(Nk)]
    else:
        cols = [str(s) for s in key_labels]
    if len(rows) != Nq or len(cols) != Nk:
        raise ValueError(f"query_labels and key_labels must name the {Nq} rows and {Nk} columns, got "
                         f"{len(rows)} and {len(cols)} names")
    if marked is not None and (not isinstance(marked, torch.Tensor) or marked.dtype != torch.bool
                               or tuple(marked.shape) != (Nq, Nk)):
        got = tuple(marked.shape) if isinstance(marked, torch.Tensor) else type(marked).__name__
        raise ValueError(f"marked must be None or a bool tensor of shape (Nq, Nk) = ({Nq}, {Nk}), got {got}")

    panels = len(matrices)
    if columns is not None and (isinstance(columns, bool) or not isinstance(columns, int) or columns < 1):
        raise ValueError(f"columns must be None or an int >= 1, got {columns!r}")
    across = panels if columns is None else min(columns, panels)
    down = math.ceil(panels / across)
    cell = min(0.48, 4.4 / max(Nq, Nk))  # inches per cell
    title_room = 1.2 if down == 1 else 1.0  # inches per row for its titles and labels; tighter when stacked
    fig = new_figure(across * (cell * Nk + 1.1) + 1.0, down * (cell * Nq + title_room) + 0.5)
    grid = fig.subplots(down, across, squeeze=False)
    for ax in grid.flatten()[panels:]:  # an incomplete last row
        ax.remove()
    axes = grid.flatten()[:panels]
    size = label_size(cell * Nk, Nk, fraction=0.75, digits=4)
    for ax, (name, w) in zip(axes, matrices.items()):
        image = ax.imshow(w.numpy(), cmap=CONTINUOUS, vmin=0.0, vmax=1.0, interpolation="nearest")
        for i in range(Nq):
            for j in range(Nk):
                number(ax, j, i, f"{float(w[i, j]):.2f}", size, gid="weight")
        if marked is not None:
            for i, j in marked.nonzero().tolist():
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.0,
                                       gid="marked"))
        ax.set_title(name)
        ax.set_xticks(range(Nk), cols, fontsize=8.5)
        ax.set_yticks(range(Nq), rows, fontsize=8.5)
        ax.set_xlabel("key")
        ax.set_ylabel("query")
    fig.colorbar(image, ax=axes[-1] if down == 1 else list(axes), shrink=0.8 if down == 1 else 0.5,
                 label="attention weight")
    if title:
        fig.suptitle(title)
    return fig
