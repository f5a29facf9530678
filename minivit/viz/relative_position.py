"""Figures of Swin's relative position bias: the index matrix, and a bias table gathered by it."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from minivit.ops._checks import check_shape, to_pair
from minivit.ops.relative_position import relative_position_index
from minivit.viz._common import DIVERGING, label_size, new_figure, number, outline, show_labels


def plot_relative_position_index(window_size: int | tuple[int, int], query: int = 0) -> Figure:
    """The (M*M, M*M) relative position index, and one query's row of it laid out on the window.

    Args:
        window_size: M, or (Mh, Mw).
        query: the token (row-major index inside the window) whose row is drawn on the right.

    Returns:
        the Figure; the left image's data equals relative_position_index(window_size), the right
        image's equals its row `query` reshaped to (Mh, Mw). The index is drawn in categorical
        colours, one per table row (it is a label, not a quantity: row 12 is not "more" than row 11).
    """
    index = relative_position_index(window_size)  # (Mh*Mw, Mh*Mw)
    Mh, Mw = to_pair(window_size, "window_size")
    N = Mh * Mw
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < N:
        raise ValueError(f"query must be a token index in [0, {N}) for window_size {window_size!r}, got {query!r}")
    table_size = (2 * Mh - 1) * (2 * Mw - 1)
    fig = new_figure(10.5, 5.2)
    left, right = fig.subplots(1, 2, width_ratios=[1.35, 1])

    image = show_labels(left, index.numpy(), table_size)
    left.set_title(f"relative position index, {N}x{N} (row {query} in red)")
    left.set_xlabel("key token (row-major in the window)")
    left.set_ylabel("query token")
    ticks = range(0, N, Mw)  # the first token of every window row: the index is block-Toeplitz
    left.set_xticks(ticks)
    left.set_yticks(ticks)
    outline(left, query, 0, query, N - 1, gid="query", edgecolor="red", linewidth=2)
    if N <= 16:
        size = label_size(5.5, N, 0.45)
        for i in range(N):
            for j in range(N):
                number(left, j, i, int(index[i, j]), size)
    bar = fig.colorbar(image, ax=left, label="row of the bias table: one colour each", shrink=0.85)
    bar.set_ticks(_few(table_size))

    row = index[query].reshape(Mh, Mw)  # keys of the window in their (row, column) places
    show_labels(right, row.numpy(), table_size)
    qi, qj = divmod(query, Mw)
    right.set_title(f"row {query} on the window: query ({qi}, {qj}) in red")
    right.set_xlabel("key column")
    right.set_ylabel("key row")
    right.set_xticks(range(Mw))
    right.set_yticks(range(Mh))
    size = label_size(4.0, max(Mh, Mw), 0.22)
    for i in range(Mh):
        for j in range(Mw):
            number(right, j, i, int(row[i, j]), size)
    outline(right, qi, qj, qi, qj, gid="query", edgecolor="red", linewidth=3)
    fig.suptitle(
        f"window {Mh}x{Mw}: index = (dy + {Mh - 1}) * {2 * Mw - 1} + (dx + {Mw - 1}), "
        f"one of {table_size} table rows"
    )
    return fig


def plot_relative_position_bias(
    table: torch.Tensor, window_size: int | tuple[int, int], heads: Sequence[int] | None = None
) -> Figure:
    """A bias table and the (M*M, M*M) bias each head adds to its attention logits.

    For each head: its column of the table, laid out as the (2Mh-1) x (2Mw-1) grid of relative
    offsets (dy, dx), and the same numbers gathered by the index, table[index], the bias of every
    (query, key) pair of a window; equal offsets give equal bias, whatever the position. Tables are
    on top and biases below (one column per head), or side by side for one or two heads.

    Args:
        table: shape ((2Mh-1)(2Mw-1), nh), e.g. a model's relative_position_bias_table.
        window_size: M, or (Mh, Mw).
        heads: which heads to draw (all when None).

    Returns:
        the Figure; the image titled "head h: table[index]" holds table[index].permute(2, 0, 1)[h].
    """
    index = relative_position_index(window_size)  # (Mh*Mw, Mh*Mw)
    Mh, Mw = to_pair(window_size, "window_size")
    table_size = (2 * Mh - 1) * (2 * Mw - 1)
    check_shape(table, "table", "((2Mh-1)(2Mw-1), nh)", (table_size, None))
    nh = table.shape[1]
    heads = list(range(nh)) if heads is None else list(heads)
    if not heads or any(not isinstance(h, int) or not 0 <= h < nh for h in heads):
        raise ValueError(f"heads must be indices in [0, {nh}), got {heads!r}")
    table = table.detach().float().cpu()
    bias = table[index].permute(2, 0, 1)  # (nh, Mh*Mw, Mh*Mw): the gather every window attention does
    limit = float(table[:, heads].abs().max()) or 1.0

    panel = float(np.clip(10.0 / len(heads), 2.2, 3.6))
    if len(heads) <= 2:  # one row per head: the table beside the bias it fills
        fig = new_figure(2 * panel + 1.4, len(heads) * panel + 0.9)
        pairs = fig.subplots(len(heads), 2, squeeze=False)
    else:  # one column per head: tables on top, the gathered biases below
        fig = new_figure(panel * len(heads) + 1.2, 2 * panel + 0.9)
        pairs = fig.subplots(2, len(heads), squeeze=False).T
    for column, (h, (top, bottom)) in enumerate(zip(heads, pairs)):
        image = top.imshow(table[:, h].reshape(2 * Mh - 1, 2 * Mw - 1).numpy(), cmap=DIVERGING,
                           vmin=-limit, vmax=limit, interpolation="nearest",
                           extent=(-Mw + 0.5, Mw - 0.5, Mh - 0.5, -Mh + 0.5))
        top.set_title(f"head {h}: table")
        top.set_xticks(_offsets(Mw))
        top.set_yticks(_offsets(Mh))
        top.set_xlabel("dx = column of query - column of key\n(dx > 0: key left of the query)")
        bottom.imshow(bias[h].numpy(), cmap=DIVERGING, vmin=-limit, vmax=limit, interpolation="nearest")
        bottom.set_title(f"head {h}: table[index]")
        bottom.set_xlabel("key token")
        bottom.set_xticks(range(0, Mh * Mw, Mw))
        bottom.set_yticks(range(0, Mh * Mw, Mw))
        if column == 0 or len(heads) <= 2:
            top.set_ylabel("dy = row of query - row of key\n(dy > 0: key above the query)")
            bottom.set_ylabel("query token")
    axes = pairs
    fig.colorbar(image, ax=axes, label="bias added to the logit", shrink=0.8)
    fig.suptitle(f"relative position bias, window {Mh}x{Mw}: {table_size} numbers per head fill "
                 f"{Mh * Mw}x{Mh * Mw} pairs")
    return fig


def _few(n: int) -> list[int]:
    """At most about 8 ticks among 0 .. n-1, always with both ends."""
    step = max(1, int(np.ceil((n - 1) / 7)))
    return sorted({*range(0, n, step), n - 1})


def _offsets(M: int) -> list[int]:
    """A few integer ticks between -(M-1) and M-1, always with 0."""
    step = max(1, int(np.ceil((M - 1) / 3)))
    return sorted({0, *range(0, M, step), *range(0, -M, -step)})
