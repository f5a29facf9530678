"""Figures of Swin's relative position bias: the index matrix, a bias table gathered by it, and the
crop of the table that each query of a window reads.

One convention for every table drawn here: a head's table is drawn where the keys sit around the query,
cell [a, b] being a key a - (Mh-1) rows below and b - (Mw-1) columns right of its query (key - query, so a
key above and to the left is drawn above and to the left). The index counts the other way,
(dy, dx) = query - key, so the table in its own row-major order is the drawn grid turned by 180 degrees:
plot_table_layout draws the two side by side, once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from minivit.ops._checks import check_shape, to_pair
from minivit.ops.relative_position import relative_position_bias, relative_position_index
from minivit.ops.windows import shift_region_labels
from minivit.viz._common import DIVERGING, grid_position, label_size, new_figure, number, outline, show_labels


def plot_relative_position_index(window_size: int | tuple[int, int], query: int = 0) -> Figure:
    """The (M*M, M*M) relative position index, and one query's row of it laid out on the window.

    Args:
        window_size: M, or (Mh, Mw).
        query: the token (row-major index inside the window) whose row is drawn on the right.

    Returns:
        the Figure; the left image's data equals relative_position_index(window_size), the right
        image's equals its row `query` reshaped to (Mh, Mw). The index is drawn in categorical
        colours, one per table row (it is a label, not a quantity: row 12 is not "more" than row 11).
        The right panel shows the sign convention once: an arrow (an Annotation of gid "offset-arrow")
        from the query to key 0 (to the last key when the query is token 0), and its x label gives
        that pair's (dy, dx) = query - key and the table row it reads.
    """
    index = relative_position_index(window_size)  # (Mh*Mw, Mh*Mw)
    Mh, Mw = to_pair(window_size, "window_size")
    N = Mh * Mw
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < N:
        raise ValueError(f"query must be a token index in [0, {N}) for window_size {window_size!r}, got {query!r}")
    table_size = (2 * Mh - 1) * (2 * Mw - 1)
    fig = new_figure(8.8, 5.0)  # small enough to sit beside a bias figure in an explorer
    left, right = fig.subplots(1, 2, width_ratios=[1.35, 1])

    image = show_labels(left, index.numpy(), table_size)
    left.set_title(f"the index, {N}x{N} (row {query} in red)")
    left.set_xlabel("key token (row-major in the window)")
    left.set_ylabel("query token")
    ticks = range(0, N, Mw)  # the first token of every window row: the index is block-Toeplitz
    left.set_xticks(ticks)
    left.set_yticks(ticks)
    outline(left, query, 0, query, N - 1, gid="query", edgecolor="red", linewidth=2)
    if N <= 16:
        size = label_size(4.3, N, 0.45)
        for i in range(N):
            for j in range(N):
                number(left, j, i, int(index[i, j]), size)
    bar = fig.colorbar(image, ax=left, label="row of the bias table: one colour each", shrink=0.85)
    bar.set_ticks(_few(table_size))

    row = index[query].reshape(Mh, Mw)  # keys of the window in their (row, column) places
    show_labels(right, row.numpy(), table_size)
    qi, qj = divmod(query, Mw)
    right.set_title(f"row {query} on the window:\nquery ({qi}, {qj}) in red")
    right.set_xlabel("key column")
    right.set_ylabel("key row")
    right.set_xticks(range(Mw))
    right.set_yticks(range(Mh))
    size = label_size(3.2, max(Mh, Mw), 0.22)
    for i in range(Mh):
        for j in range(Mw):
            number(right, j, i, int(row[i, j]), size)
    outline(right, qi, qj, qi, qj, gid="query", edgecolor="red", linewidth=3)
    # one pair's offset, drawn once: from the query to a key in a corner of the window
    key = 0 if query != 0 else N - 1
    ki, kj = divmod(key, Mw)
    right.annotate("", xy=(kj, ki), xytext=(qj, qi), gid="offset-arrow",
                   arrowprops=dict(arrowstyle="-|>", color="red", linewidth=2, shrinkA=15, shrinkB=17))
    right.set_xlabel(f"key column\n\narrow: query ({qi}, {qj}) to key ({ki}, {kj})\n"
                     f"(dy, dx) = query - key = ({qi - ki}, {qj - kj}): row {int(row[ki, kj])}")
    fig.suptitle(
        f"window {Mh}x{Mw}: index = (dy + {Mh - 1}) * {2 * Mw - 1} + (dx + {Mw - 1}), "
        f"code's sign (dy, dx) = query - key"
    )
    return fig


def plot_relative_position_bias(
    table: torch.Tensor, window_size: int | tuple[int, int], heads: Sequence[int] | None = None,
    names: Sequence[str] | None = None,
) -> Figure:
    """A bias table and the (M*M, M*M) bias each head adds to its attention logits.

    For each head: its column of the table, laid out as the (2Mh-1) x (2Mw-1) grid of offsets it is
    indexed by, and the same numbers gathered by the index, table[index], the bias of every
    (query, key) pair of a window; equal offsets give equal bias, whatever the position. The grid is
    drawn where the keys sit around the query (key_grid: rows below the query downwards, = -dy; columns
    right of the query to the right, = -dx), so a key above and to the left of its query is drawn above and
    to the left of the centre. Tables are on top and biases below (one column per head), or side by side
    for one or two heads.

    Args:
        table: shape ((2Mh-1)(2Mw-1), nh), e.g. a model's relative_position_bias_table.
        window_size: M, or (Mh, Mw).
        heads: which heads to draw (all when None).
        names: what to call each drawn column of the table in the titles, one per drawn head ("head h"
            when None), e.g. "seed 0" when the columns are the same head trained from three seeds.

    Returns:
        the Figure; the image titled "head h: table" (or "<name>: table") holds key_grid(table[:, h], Mh, Mw)
        (entry [a, b] is the key at (a - (Mh-1), b - (Mw-1)) from the query, (dy, dx) = ((Mh-1) - a, (Mw-1) - b); the
        axes' ticks are the key's rows and columns from the query),
        the image titled "head h: table[index]" holds table[index].permute(2, 0, 1)[h]. The centre cell
        (offset (0, 0), the query itself) is outlined by a Rectangle of gid "query". Each
        "table[index]" image is cut by two LineCollections of gid "block" (across and down, after every
        Mw tokens) into the Mw x Mw blocks of one window row of queries against one window row of keys.
    """
    index = relative_position_index(window_size)  # (Mh*Mw, Mh*Mw)
    Mh, Mw = to_pair(window_size, "window_size")
    table = _check_table(table, Mh, Mw)
    nh = table.shape[1]
    heads = list(range(nh)) if heads is None else list(heads)
    if not heads or any(not isinstance(h, int) or isinstance(h, bool) or not 0 <= h < nh for h in heads):
        raise ValueError(f"heads must be indices in [0, {nh}), got {heads!r}")
    if names is None:
        names = [f"head {h}" for h in heads]
    elif isinstance(names, str) or len(names) != len(heads):
        raise ValueError(f"names must be a list of {len(heads)} strings, one per drawn head, got {names!r}")
    bias = table[index].permute(2, 0, 1)  # (nh, Mh*Mw, Mh*Mw): the gather every window attention does
    limit = float(table[:, heads].abs().max()) or 1.0

    panel = float(np.clip(8.4 / len(heads), 2.2, 2.8))  # at most about 10 inches wide
    if len(heads) <= 2:  # one row per head: the table beside the bias it fills
        fig = new_figure(2 * panel + 1.4, len(heads) * panel + 0.9)
        pairs = fig.subplots(len(heads), 2, squeeze=False)
    else:  # one column per head: tables on top, the gathered biases below
        fig = new_figure(panel * len(heads) + 1.2, 2 * panel + 0.9)
        pairs = fig.subplots(2, len(heads), squeeze=False).T
    for column, (h, name, (top, bottom)) in enumerate(zip(heads, names, pairs)):
        image = _draw_table(top, table[:, h], Mh, Mw, limit)
        top.set_title(f"{name}: table")
        bottom.imshow(bias[h].numpy(), cmap=DIVERGING, vmin=-limit, vmax=limit, interpolation="nearest")
        bottom.set_title(f"{name}: table[index]")
        bottom.set_xlabel("key token")
        bottom.set_xticks(range(0, Mh * Mw, Mw))
        bottom.set_yticks(range(0, Mh * Mw, Mw))
        # the Mw x Mw blocks of one window row of queries against one window row of keys: each block holds
        # one row of the table's grid (one dy), and equal blocks run along the block diagonals
        edges = np.arange(Mw, Mh * Mw, Mw) - 0.5
        bottom.hlines(edges, -0.5, Mh * Mw - 0.5, colors="black", linewidth=0.8, gid="block")
        bottom.vlines(edges, -0.5, Mh * Mw - 0.5, colors="black", linewidth=0.8, gid="block")
        if column == 0 or len(heads) <= 2:
            top.set_ylabel(ROW_LABEL)
            bottom.set_ylabel("query token")
    fig.colorbar(image, ax=pairs, label="bias added to the logit", shrink=0.8)
    fig.suptitle(f"relative position bias, window {Mh}x{Mw}: {table_size(Mh, Mw)} numbers per head fill "
                 f"{Mh * Mw}x{Mh * Mw} pairs\ntables drawn where the keys sit (key - query)")
    return fig


ROW_LABEL = "rows below the query\n(negative: above it)"  # the key's row minus the query's, = -dy
COLUMN_LABEL = "columns right of the query\n(negative: left of it)"  # the key's column minus the query's, = -dx
CROP_STYLES = (("black", "-"), ("#2ca02c", "--"), ("#9467bd", ":"))  # one per query


def table_size(Mh: int, Mw: int) -> int:
    return (2 * Mh - 1) * (2 * Mw - 1)


def _check_table(table: object, Mh: int, Mw: int) -> torch.Tensor:
    if not isinstance(table, torch.Tensor):
        raise TypeError(f"table must be a torch.Tensor, got {type(table).__name__}")
    check_shape(table, "table", "((2Mh-1)(2Mw-1), nh)", (table_size(Mh, Mw), None))
    return table.detach().float().cpu()


def offset_grid(column: torch.Tensor, Mh: int, Mw: int) -> torch.Tensor:
    """One head's table column in its own order: the (2Mh-1, 2Mw-1) grid of the offsets that index it.

    The table is row-major over query-minus-key offsets (dy, dx) from -(M-1) to M-1, so this is a plain
    reshape: entry [a, b] is the bias of offset (dy, dx) = (a - (Mh-1), b - (Mw-1)).
    """
    return column.reshape(2 * Mh - 1, 2 * Mw - 1)


def key_grid(column: torch.Tensor, Mh: int, Mw: int) -> torch.Tensor:
    """One head's table column drawn where the keys sit around the query: offset_grid turned by 180 degrees.

    Entry [a, b] is the bias of a key a - (Mh-1) rows below and b - (Mw-1) columns right of its query
    (negative: above, left), that is of (dy, dx) = query - key = ((Mh-1) - a, (Mw-1) - b).
    """
    return offset_grid(column, Mh, Mw).flip(0, 1)


def _draw_table(ax, column: torch.Tensor, Mh: int, Mw: int, limit: float, cmap: str = DIVERGING,
                vmax: float | None = None):
    """One head's table where the keys sit, ticks the key's rows and columns from the query, whose own cell
    is outlined. Colours from -limit to vmax (limit when None)."""
    vmax = limit if vmax is None else vmax
    image = ax.imshow(key_grid(column, Mh, Mw).numpy(), cmap=cmap, vmin=-limit, vmax=vmax,
                      interpolation="nearest", extent=(-Mw + 0.5, Mw - 0.5, Mh - 0.5, -Mh + 0.5))
    ax.set_xticks(_offsets(Mw))
    ax.set_yticks(_offsets(Mh))
    ax.set_xlabel(COLUMN_LABEL)
    outline(ax, 0, 0, 0, 0, gid="query", linewidth=1.5)  # offset (0, 0): the query itself
    return image


def plot_bias_crops(
    table: torch.Tensor,
    window_size: int | tuple[int, int],
    queries: Sequence[int | tuple[int, int]] = ((0, 0), (2, 1)),
    head: int = 0,
) -> Figure:
    """How each query of a window reads its biases: an Mh x Mw crop of the (2Mh-1) x (2Mw-1) table.

    Left, one head's table drawn where the keys sit around the query (key_grid, as in
    plot_relative_position_bias), with the crop of every query outlined: a query at (i, j) has keys from
    i rows above it to Mh-1-i rows below and from j columns left of it to Mw-1-j right, so it reads the
    crop of the drawn grid whose cell at offset (0, 0) sits where the query sits in the window. Then,
    for each query, its row of the gathered bias, relative_position_bias(table, window_size)[head, query],
    laid on the window (key row, key column): exactly the crop, as drawn.

    Args:
        table: shape ((2Mh-1)(2Mw-1), nh), e.g. a model's relative_position_bias_table.
        window_size: M, or (Mh, Mw).
        queries: 1 to 3 query tokens, each a row-major index in the window or (row, column).
        head: which head's column of the table to draw.

    Returns:
        the Figure. Axes 0 is the table: its image holds key_grid(table[:, head]) on offsets
        -(M-1) .. M-1; the crop of query k is the Rectangle of gid "crop-k", offsets -i .. Mh-1-i down and
        -j .. Mw-1-j across. Axes 1 + k is query k's bias on the window: its image holds the (Mh, Mw)
        bias of every key, entry [r, c] the key at (r, c) of the window; the query itself is the
        Rectangle of gid "query".
    """
    Mh, Mw = to_pair(window_size, "window_size")
    table = _check_table(table, Mh, Mw)
    nh = table.shape[1]
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < nh:
        raise ValueError(f"head must be an index in [0, {nh}), got {head!r}")
    if not isinstance(queries, (list, tuple)) or not 1 <= len(queries) <= len(CROP_STYLES):
        raise ValueError(f"queries must be a list of 1 to {len(CROP_STYLES)} query tokens, got {queries!r}")
    places = [grid_position(q, Mh, Mw, "queries") for q in queries]
    bias = relative_position_bias(table, (Mh, Mw))[head]  # (Mh*Mw, Mh*Mw): row q is query q's bias
    limit = float(table[:, head].abs().max()) or 1.0

    panel = 2.5 if len(places) <= 2 else 2.0  # at most about 10 inches wide
    fig = new_figure(1.45 * panel + len(places) * (panel + 0.3) + 1.2, 1.45 * panel + 0.9)
    axes = fig.subplots(1, 1 + len(places), width_ratios=[1.45] + [1] * len(places))
    image = _draw_table(axes[0], table[:, head], Mh, Mw, limit)
    axes[0].set_ylabel(ROW_LABEL)
    axes[0].set_title(f"head {head}: the table, {2 * Mh - 1}x{2 * Mw - 1}")
    size = label_size(panel, max(Mh, Mw), 0.5, digits=4)  # one value such as -0.5 per cell
    if Mh * Mw <= 25:  # the values of the table too, to compare with the crops
        grid = key_grid(table[:, head], Mh, Mw)
        for a in range(2 * Mh - 1):
            for b in range(2 * Mw - 1):
                _value(axes[0], b - Mw + 1, a - Mh + 1, float(grid[a, b]), limit, size)
    for k, ((i, j), ax) in enumerate(zip(places, axes[1:])):
        colour, style = CROP_STYLES[k]
        # the keys of query (i, j) sit from i rows above to Mh-1-i rows below it, j left to Mw-1-j right
        outline(axes[0], -i, -j, Mh - 1 - i, Mw - 1 - j, gid=f"crop-{k}", edgecolor=colour, linestyle=style,
                linewidth=3)
        on_window = bias[i * Mw + j].reshape(Mh, Mw)  # (Mh, Mw): [r, c] is key (r, c) of the window
        ax.imshow(on_window.numpy(), cmap=DIVERGING, vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_title(f"query ({i}, {j})")
        ax.set_xlabel("key column")
        ax.set_ylabel("key row")
        ax.set_xticks(range(Mw))
        ax.set_yticks(range(Mh))
        for spine in ax.spines.values():
            spine.set(edgecolor=colour, linestyle=style, linewidth=3)
        outline(ax, i, j, i, j, gid="query", linewidth=1.5)  # offset (0, 0): the query itself
        if Mh * Mw <= 25:
            for r in range(Mh):
                for c in range(Mw):
                    _value(ax, c, r, float(on_window[r, c]), limit, size)
    fig.colorbar(image, ax=axes, label="bias added to the logit", shrink=0.8)
    fig.suptitle(f"query (i, j) reads the {Mh}x{Mw} crop of the table around it (outlined in its style):\n"
                 f"table drawn where the keys sit (key - query); the query itself (thin box) at offset (0, 0)")
    return fig


def plot_table_layout(window_size: int | tuple[int, int]) -> Figure:
    """Which table row each key reads, drawn where the key sits around its query, beside the table's own order.

    Left, the (2Mh-1) x (2Mw-1) grid of table rows drawn where the keys sit (key_grid of the row numbers:
    the query's own row in the centre, a key above and to the left of the query drawn above and to its
    left); right, the same rows in the table's order, row t at grid row t // (2Mw-1), column t % (2Mw-1),
    on axes dy and dx = query - key. The left grid is the right one turned by 180 degrees. One colour per
    table row, as in plot_relative_position_index. The key one row above and one column left of its
    query, (dy, dx) = (1, 1), is outlined in red in both (when Mh, Mw > 1).

    Args:
        window_size: M, or (Mh, Mw).

    Returns:
        the Figure; axes 0's image holds key_grid(arange(T)) and axes 1's offset_grid(arange(T)),
        T = (2Mh-1)(2Mw-1), each cell labelled with its row (texts of gid "row" when T <= 49). The
        query's own cell, offset (0, 0), is the Rectangle of gid "query" in both; the red one, of gid
        "example", is at offset (-1, -1) on the left and (dy, dx) = (1, 1) on the right.
    """
    Mh, Mw = to_pair(window_size, "window_size")
    rows = torch.arange(table_size(Mh, Mw))
    fig = new_figure(8.6, 5.3)
    left, right = fig.subplots(1, 2)
    extent = (-Mw + 0.5, Mw - 0.5, Mh - 0.5, -Mh + 0.5)  # cells centred on the offsets -(M-1) .. M-1
    size = label_size(3.4, 2 * max(Mh, Mw) - 1, 0.45, digits=len(str(len(rows) - 1)))
    for ax, grid in ((left, key_grid(rows, Mh, Mw)), (right, offset_grid(rows, Mh, Mw))):
        show_labels(ax, grid.numpy(), len(rows), extent=extent)
        ax.set_xticks(_offsets(Mw))
        ax.set_yticks(_offsets(Mh))
        if len(rows) <= 49:
            for a in range(2 * Mh - 1):
                for b in range(2 * Mw - 1):
                    number(ax, b - Mw + 1, a - Mh + 1, int(grid[a, b]), size, gid="row")
        outline(ax, 0, 0, 0, 0, gid="query", linewidth=2.5)
    left.set_title("figures: where the key sits (key - query),\nthe table row it reads")
    left.set_xlabel(COLUMN_LABEL)
    left.set_ylabel(ROW_LABEL)
    right.set_title(f"stored table: row t at (dy, dx) = query - key,\n"
                    f"t = (dy + {Mh - 1}) * {2 * Mw - 1} + (dx + {Mw - 1})")
    right.set_xlabel("dx = query column - key column\n(> 0: key to the left)")
    right.set_ylabel("dy = query row - key row\n(> 0: key above)")
    if Mh > 1 and Mw > 1:  # the key above and to the left: (dy, dx) = (1, 1)
        example = int(offset_grid(rows, Mh, Mw)[Mh, Mw])
        outline(left, -1, -1, -1, -1, gid="example", edgecolor="red", linewidth=3)
        outline(right, 1, 1, 1, 1, gid="example", edgecolor="red", linewidth=3)
        fig.suptitle(f"window {Mh}x{Mw}: the key one row above and one column left of its query (red) reads row "
                     f"{example};\nthe left grid is the right one turned by 180 degrees")
    return fig


def _value(ax, x: float, y: float, value: float, limit: float, size: float) -> None:
    """Write a bias value in a cell: dark text on the pale middle of the colour map, white on its ends."""
    colour = "white" if abs(value) > 0.55 * limit else "black"
    text = f"{value:.1f}".replace("-0.0", "0.0")
    ax.text(x, y, text, ha="center", va="center", fontsize=size, color=colour, gid="value")


def _few(n: int) -> list[int]:
    """At most about 8 ticks among 0 .. n-1, always with both ends."""
    step = max(1, int(np.ceil((n - 1) / 7)))
    return sorted({*range(0, n, step), n - 1})


def _offsets(M: int) -> list[int]:
    """A few integer ticks between -(M-1) and M-1, always with 0."""
    step = max(1, int(np.ceil((M - 1) / 3)))
    return sorted({0, *range(0, M, step), *range(0, -M, -step)})


def plot_bias_resize(table: torch.Tensor, resized: torch.Tensor, head: int = 0) -> Figure:
    """One head's bias table before and after it was resized to another window size, side by side on
    one colour scale, e.g. a table learned with M = 7 (13 x 13) resized to M = 12 (23 x 23).

    Both grids are drawn as in plot_relative_position_bias (where the keys sit around the query, the
    query's own cell outlined), each over its own offsets -(M-1) .. M-1, so the larger one shows the
    same picture on a finer grid. The resize itself is the caller's (e.g. F.interpolate(mode="bicubic") on the table
    seen as an image): this function only draws the two tables, and beside them one row of each, the
    query's own row (dy = 0), as curves over the same offsets, where the slower fall-off shows.

    Args:
        table: shape ((2M-1)^2, nh), a square window's table.
        resized: shape ((2M'-1)^2, nh), the same heads for another square window M'.
        head: which head to draw.

    Returns:
        the Figure; axes 0 holds key_grid(table[:, head]), axes 1 key_grid(resized[:, head]),
        both images with the same colour limits (-limit, limit), limit = the largest |value| of the two;
        when no value of the drawn head is positive (e.g. minus the distance), the scale is one-sided,
        (-limit, 0) in blues, so that no colour is spent on values that do not occur.
        Each of these two panels' titles starts with "M = <window size>". Axes 2 is the profile of both
        through the query's row (dy = 0) on one axis of offsets: Line2D of gid "before" (x from -(M-1) to
        M-1) and "after" (from -(M'-1) to M'-1), each y the middle row of its key_grid.
    """
    grids = []
    for name, t in (("table", table), ("resized", resized)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        side = round(t.shape[0] ** 0.5) if t.dim() == 2 else 0
        if t.dim() != 2 or side * side != t.shape[0] or side % 2 == 0:
            raise ValueError(f"{name} must have shape ((2M-1)^2, nh) for a square window, got {tuple(t.shape)}")
        grids.append(((side + 1) // 2, t.detach().float().cpu()))
    (M, table), (M2, resized) = grids
    if table.shape[1] != resized.shape[1]:
        raise ValueError(f"table and resized must have the same number of heads, got {table.shape[1]} and "
                         f"{resized.shape[1]}")
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < table.shape[1]:
        raise ValueError(f"head must be an index in [0, {table.shape[1]}), got {head!r}")
    limit = max(float(table[:, head].abs().max()), float(resized[:, head].abs().max())) or 1.0
    one_sided = max(float(table[:, head].max()), float(resized[:, head].max())) <= 0
    cmap, vmax = ("Blues_r", 0.0) if one_sided else (DIVERGING, limit)
    fig = new_figure(10.0, 4.0)
    axes = fig.subplots(1, 3, width_ratios=[1, 1, 1.15])
    image = None
    for ax, (m, t), when in zip(axes, ((M, table), (M2, resized)), ("before", "after")):
        image = _draw_table(ax, t[:, head], m, m, limit, cmap, vmax)
        ax.set_title(f"M = {m}: {2 * m - 1}x{2 * m - 1} table ({when})", fontsize=10)
    axes[0].set_ylabel(ROW_LABEL)
    fig.colorbar(image, ax=axes[:2], label="bias added to the logit", shrink=0.85)
    # the centre row (dy = 0, keys in the query's row) of both, on one axis of offsets
    profile = axes[2]
    for (m, t), when, marker in (((M, table), "before", "o"), ((M2, resized), "after", "s")):
        row = key_grid(t[:, head], m, m)[m - 1]  # (2m-1,): key column - query column = -(m-1) .. m-1
        profile.plot(range(-(m - 1), m), row.numpy(), marker=marker, markersize=4, gid=when,
                     label=f"{when}: M = {m}, offsets -{m - 1} .. {m - 1}")
    profile.axvline(0, color="0.6", linewidth=0.8)
    low, high = profile.get_ylim()
    profile.set_ylim(low - 0.4 * (high - low), high)  # room for the legend below the curves
    profile.set_title("the query's own row (dy = 0):\nthe bias by key column, both sizes", fontsize=10)
    profile.set_xlabel(COLUMN_LABEL)
    profile.legend(fontsize=8, loc="lower center")
    profile.grid(alpha=0.3)
    fig.suptitle(f"head {head}'s table resized from window {M} to window {M2}; tables drawn where the keys sit "
                 f"(key - query)")
    return fig


EDGE_GREY = "#d5d8dc"  # an edge piece of a shifted window


def column_pieces(width: int, window_size: int, shift_size: int) -> list[list[int]]:
    """Which columns of a map attend together in (S)W-MSA, along the columns: for each column j, the
    columns that share its window after the roll by -s and its region (shift_region_labels), so that a
    wrapped window splits into its two edge pieces. Shift 0: the plain windows.

    Args:
        width: W, a multiple of the window size.
        window_size: M.
        shift_size: s, 0 <= s < M.

    Returns:
        a list of W sorted lists of column indices.
    """
    labels = shift_region_labels(window_size, width, window_size, (0, shift_size))[0]  # (W,): one window row
    rolled = (torch.arange(width) - shift_size) % width  # where torch.roll by -s puts each column
    key = [(int(r) // window_size, int(labels[r])) for r in rolled]  # (window, region) of each column
    return [[i for i in range(width) if key[i] == key[j]] for j in range(width)]


def following_columns(width: int, window_size: int, shift_size: int, move: int) -> list[int]:
    """The columns whose (S)W-MSA output follows a translation by `move` columns, predicted from the cuts.

    The first map shows the columns move .. move + W - 1 of a wider scene, the moved map the columns
    0 .. W - 1: the same content sits `move` columns further right in it. Column j of the first map
    follows when the moved map cuts the same scene columns into its piece as the first map does (the same
    tokens, at the same offsets, attend together), for the columns both maps show, j < W - move.

    Returns:
        the sorted columns j of the first map that follow.
    """
    pieces = column_pieces(width, window_size, shift_size)
    return [j for j in range(width - move)
            if [p + move for p in pieces[j]] == [p for p in pieces[j + move]]]


def plot_translation_windows(width: int = 16, window_size: int = 4, shift_size: int = 2, move: int = 4) -> Figure:
    """How W-MSA and SW-MSA cut the columns of a map and of the same scene moved by `move` columns, drawn
    over the scene's columns so that the same content is in the same column of the figure.

    Two strips per layer: the first map (scene columns move .. move + W - 1) and the moved map (scene
    columns 0 .. W - 1), each cell showing the map's own column number, each piece of columns that attend
    together (column_pieces) outlined, its edge pieces grey. Behind both strips, the scene columns that
    both maps show: green where the output follows (following_columns), red where it does not.

    Returns:
        the Figure. Each piece is a Rectangle of gid "piece" (an edge piece: gid "edge"), each band behind
        a compared column a Rectangle of gid "follows" or "differs"; the first axes' x axis is the scene column.
    """
    for name, value in (("width", width), ("window_size", window_size), ("move", move)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 0 < move < width:
        raise ValueError(f"move must be in 1..{width - 1}, got {move}")
    scene = width + move
    fig = new_figure(min(10.0, 0.42 * scene + 2.6), 4.6)
    ax = fig.subplots()
    rows = []  # (y, label, first scene column, shift)
    for k, (name, s) in enumerate((("W-MSA", 0), (f"SW-MSA (shift {shift_size})", shift_size))):
        y0 = k * 3.2
        rows += [(y0, f"{name}\nfirst map", move, s), (y0 + 1.2, f"{name}\ncontent moved {move} right", 0, s)]
        follow = set(following_columns(width, window_size, s, move))
        for j in range(width - move):  # the columns both maps show, as columns of the first map
            gid = "follows" if j in follow else "differs"
            colour = "#abebc6" if j in follow else "#f5b7b1"
            ax.add_patch(Rectangle((j + move - 0.5, y0 - 0.55), 1, 2.3, facecolor=colour, edgecolor="none",
                                   gid=gid, zorder=0))
    for y, label, start, s in rows:
        pieces = column_pieces(width, window_size, s)
        seen = set()
        for j in range(width):
            ax.text(start + j, y, str(j), ha="center", va="center", fontsize=9, color="0.2", zorder=3)
            piece = tuple(pieces[j])
            if piece in seen:
                continue
            seen.add(piece)
            edge = len(piece) < window_size
            ax.add_patch(Rectangle((start + piece[0] - 0.45, y - 0.4), len(piece) - 0.1, 0.8,
                                   facecolor=EDGE_GREY if edge else "white", edgecolor="black", linewidth=1.5,
                                   zorder=2, gid="edge" if edge else "piece"))
        ax.text(-1.0, y, label, ha="right", va="center", fontsize=9)
    ax.set_xlim(-0.6, scene - 0.4)
    ax.set_ylim(rows[-1][0] + 0.8, -0.8)
    ax.set_yticks([])
    ax.set_xticks(range(0, scene, 2))
    ax.set_xlabel("column of the scene (numbers in the cells: each map's own columns)")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.legend(handles=[Patch(facecolor="#abebc6", label="output follows the move"),
                        Patch(facecolor="#f5b7b1", label="output differs"),
                        Patch(facecolor=EDGE_GREY, edgecolor="black",
                              label="edge piece: masked apart from the other edge's"),
                        Patch(facecolor="white", edgecolor="black", label="window: its columns attend together")],
               loc="outside lower center", ncols=2)
    fig.suptitle(f"a {width}-column map and the same scene moved by {move}: which columns attend together")
    return fig
