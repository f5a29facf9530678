"""Figures of Swin's windows: the windows before and after the cyclic shift, the 9 regions of the
shifted map, the attention mask of every window, which tokens one token may attend to, the padding that
the roll avoids, and how far a token's reach grows over block pairs. (SW-MSA's steps as a flow diagram
drawn from a real layer: plot_swin_attention in minivit.viz.backbones.)

Windows are greys (a checkerboard, window_shades) and the 9 regions are colours (REGION_COLOURS), in
every figure: a colour never means a window in one figure and a region in the next.

All data comes from minivit.ops.windows: a map of token coordinates is cut by `window_partition`, so
each window's outline and number are the ones the model uses.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from minivit.ops._checks import to_pair
from minivit.ops.windows import MASK_VALUE, shift_region_labels, shifted_window_mask, window_partition, window_reverse
from minivit.viz._common import (
    REGION_COLOURS,
    as_image,
    grid_position,
    label_size,
    legend_patches,
    new_figure,
    number,
    outline,
    show_labels,
    token_grid,
    window_pieces,
    window_shades,
)

PANEL = 4.2  # inches per map panel
MAX_HEATMAPS = 64  # plot_window_masks draws one small heatmap per window
MAX_NUMBERED = 144  # beyond this many windows their numbers would be unreadable
MAX_TOKEN_NUMBERS = 400  # a number in every token up to 20 x 20 tokens
INSET = 0.1  # cells between a dashed piece's outline and its border: neighbours' dashes stay apart
SHIFTED_COLOUR = "#1f4e9c"  # SW-MSA's dashed windows where W-MSA's solid black ones cross them


def token_coordinates(height: int, width: int) -> torch.Tensor:
    """(row, column) of every token of an H x W map, shape (1, H, W, 2): a map window_partition can cut."""
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([rows, cols], dim=-1)[None]


def window_members(
    height: int, width: int, window_size: int | tuple[int, int], shift_size: int | tuple[int, int] = 0
) -> torch.Tensor:
    """The original (row, column) of the tokens of every window, after the cyclic shift.

    Returns:
        shape (nW, Mh*Mw, 2): window w, token k of the window (row-major) -> its (row, column) in the
        map before torch.roll. With shift 0 these are the plain windows.
    """
    shift_region_labels(height, width, window_size, shift_size)  # checks the sizes, names the bad one
    sh, sw = to_pair(shift_size, "shift_size", minimum=0)
    rolled = torch.roll(token_coordinates(height, width), shifts=(-sh, -sw), dims=(1, 2))  # (1, H, W, 2)
    return window_partition(rolled, window_size).flatten(1, 2)  # (nW, Mh*Mw, 2)


def _owner(height: int, width: int, members: torch.Tensor) -> np.ndarray:
    """Which window each token of the original map belongs to, shape (H, W)."""
    owner = torch.empty(height, width, dtype=torch.long)
    for w, m in enumerate(members):
        owner[m[:, 0], m[:, 1]] = w
    return owner.numpy()


def _content(ax, height: int, width: int, picture: np.ndarray | None, owner: np.ndarray, shades: list) -> None:
    """Draw the picture (or a plain grid) with each token shaded by the grey of the window it belongs to."""
    tint = np.asarray(shades)[owner]  # (H, W, 4)
    if picture is not None:
        ax.imshow(picture, cmap="gray", extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="nearest")
        tint[..., 3] = 0.3  # a veil: the photo stays visible under it
    ax.imshow(tint, interpolation="nearest")


def badge_spot(row0: int, col0: int, row1: int, col1: int) -> tuple[float, float]:
    """(x, y) for the number of the block rows row0..row1, columns col0..col1: its centre, moved to the
    nearest corner between cells (up and left) when the centre falls on a cell, so that the badge sits
    between the token numbers instead of on one."""
    x, y = (col0 + col1) / 2, (row0 + row1) / 2
    return (x - 0.5 if x == int(x) else x), (y - 0.5 if y == int(y) else y)


def _badge(ax, r0: int, c0: int, r1: int, c1: int, w: int, size: float) -> None:
    """Window w's number in a dark badge on a corner between cells."""
    x, y = badge_spot(r0, c0, r1, c1)
    number(ax, x, y, w, size, gid="window-number", badge="0.3")


def _boxed_windows(ax, members: torch.Tensor, size: float | None) -> None:
    """Outline the regular windows (gid "window"), numbered in a dark badge unless size is None."""
    for w, m in enumerate(members):
        (r0, c0), (r1, c1) = m.min(0).values.tolist(), m.max(0).values.tolist()
        outline(ax, r0, c0, r1, c1, gid="window")
        if size is not None:
            _badge(ax, r0, c0, r1, c1, w, size)


def _dashed(ax, r0: int, c0: int, r1: int, c1: int, **kwargs) -> None:
    """A dashed outline (gid "piece") on a solid white one (gid "piece-halo"): visible on any colour."""
    outline(ax, r0, c0, r1, c1, gid="piece-halo", edgecolor="white", linewidth=4.5)
    outline(ax, r0, c0, r1, c1, gid="piece", **({"linestyle": "--", "linewidth": 2.5} | kwargs))


def _token_numbers(ax, height: int, width: int, numbers: np.ndarray, size: float) -> None:
    for i in range(height):
        for j in range(width):
            ax.text(j, i, str(numbers[i, j]), ha="center", va="center", fontsize=size, color="0.25", gid="token")


def plot_windows(
    height: int,
    width: int,
    window_size: int | tuple[int, int],
    shift_size: int | tuple[int, int],
    image: object | None = None,
) -> Figure:
    """Windows over a token grid (or a picture) before and after the cyclic shift, outlined and numbered.

    Three panels: (1) W-MSA's windows, numbered 0..nW-1 in row-major order; (2) SW-MSA's windows,
    shifted by s, on the same map: the pieces that wrap around are labelled with the window they end
    up in; (3) the map after torch.roll by (-sh, -sw), where those windows are regular blocks again.

    Args:
        height, width: the token map H, W, multiples of the window size.
        window_size: M, or (Mh, Mw).
        shift_size: s, or (sh, sw), 0 <= s < M.
        image: optional picture under the tokens, (H', W', C) array or (C, H', W') tensor with H' and
            W' multiples of H and W; without it the tokens show their row-major index.

    Returns:
        the Figure. Window outlines are Rectangles with gid "window" (panels 1, 3) or "piece" (panel 2, dashed,
        INSET = 0.1 cells inside its piece so that two neighbours never draw one line),
        their numbers Texts with gid "window-number" (left out beyond MAX_NUMBERED = 144 windows), each
        at badge_spot of its window or piece: on a corner between cells, clear of the token numbers. A
        legend below the panels keys the two outlines: solid, a whole window; dashed, a piece of a
        shifted window (pieces with the same number are one window).
    """
    plain = window_members(height, width, window_size, 0)  # (nW, Mh*Mw, 2)
    shifted = window_members(height, width, window_size, shift_size)
    sh, sw = to_pair(shift_size, "shift_size", minimum=0)
    nW = plain.shape[0]
    picture = rolled_picture = None
    if image is not None:
        picture = as_image(image)
        ph, pw = picture.shape[0] // height, picture.shape[1] // width
        if picture.shape[0] != ph * height or picture.shape[1] != pw * width or ph == 0 or pw == 0:
            raise ValueError(
                f"image must be (H', W') pixels with H', W' multiples of the map size {height}x{width}, "
                f"got {picture.shape[0]}x{picture.shape[1]}"
            )
        rolled_picture = np.roll(picture, shift=(-sh * ph, -sw * pw), axis=(0, 1))  # torch.roll's cyclic shift

    aspect = height / width
    panel = 3.2  # three panels side by side in a notebook's width
    fig = new_figure(3 * panel, panel * aspect + 1.5)
    axes = fig.subplots(1, 3)
    big = 12.0 if nW <= 16 else label_size(panel, 2 * np.sqrt(nW), 0.5)
    small = label_size(panel, max(height, width), 0.3)
    index = np.arange(height * width).reshape(height, width)
    numbered = picture is None and height * width <= MAX_TOKEN_NUMBERS  # small numbers: the tokens
    if numbered:  # the badge sits on a corner between four token numbers: at most about a third of a cell
        big = min(big, label_size(panel, max(height, width), 0.3))
    badge = big if nW <= MAX_NUMBERED else None  # window numbers, while they stay readable
    Mh, Mw = to_pair(window_size, "window_size")
    shades = window_shades(height // Mh, width // Mw)  # window w's grey, the same in all three panels

    ax = axes[0]
    _content(ax, height, width, picture, _owner(height, width, plain), shades)
    token_grid(ax, height, width, f"W-MSA: {nW} windows")
    if numbered:
        _token_numbers(ax, height, width, index, small)
    _boxed_windows(ax, plain, badge)

    ax = axes[1]
    _content(ax, height, width, picture, _owner(height, width, shifted), shades)
    token_grid(ax, height, width, f"SW-MSA: windows shifted by ({sh}, {sw})")
    if numbered:
        _token_numbers(ax, height, width, index, small)
    for w, m in enumerate(shifted):
        for r0, c0, r1, c1 in window_pieces(m):
            _inset_dashed(ax, r0, c0, r1, c1)
            if badge is not None:
                _badge(ax, r0, c0, r1, c1, w, badge)

    ax = axes[2]
    after = np.arange(nW).repeat(plain.shape[1])  # window w owns its Mh*Mw slots of the rolled map
    owner_after = np.empty((height, width), dtype=int)
    owner_after[plain[..., 0].flatten().numpy(), plain[..., 1].flatten().numpy()] = after
    _content(ax, height, width, rolled_picture, owner_after, shades)
    token_grid(ax, height, width, f"after torch.roll by ({-sh}, {-sw})")
    if numbered:
        rolled_index = np.empty((height, width), dtype=int)  # which original token sits in each slot
        rolled_index[plain[..., 0].flatten().numpy(), plain[..., 1].flatten().numpy()] = (
            shifted[..., 0] * width + shifted[..., 1]
        ).flatten().numpy()
        _token_numbers(ax, height, width, rolled_index, small)
    _boxed_windows(ax, plain, badge)
    fig.legend(handles=_outline_key(), loc="outside lower center")
    fig.suptitle(
        f"{height}x{width} tokens, window {window_size}, shift {shift_size}\n"
        + ("boxed numbers: windows" if nW <= MAX_NUMBERED else f"{nW} windows, too many to number")
        + ("; small numbers: tokens (row-major index on the original map)" if numbered else "")
    )
    return fig


def _inset_dashed(ax, r0: int, c0: int, r1: int, c1: int, colour: str = "black") -> Rectangle:
    """A dashed outline (gid "piece") drawn INSET cells inside the block rows r0..r1, columns c0..c1, so
    that two neighbouring pieces show two dashed lines with a gap, never one line that looks solid."""
    box = Rectangle((c0 - 0.5 + INSET, r0 - 0.5 + INSET), c1 - c0 + 1 - 2 * INSET, r1 - r0 + 1 - 2 * INSET,
                    fill=False, edgecolor=colour, linewidth=2, linestyle="--", gid="piece")
    ax.add_patch(box)
    return box


def _outline_key() -> list[Line2D]:
    """Legend entries for plot_windows' two kinds of outline."""
    return [
        Line2D([], [], color="black", linewidth=2.5,
               label="solid: a window of the regular grid (left and right panels)"),
        Line2D([], [], color="black", linewidth=2, linestyle="--",
               label="dashed (middle): a shifted window, or a piece of one cut by the map's edge; "
                     "same number, same window"),
    ]


def plot_shift_regions(
    height: int, width: int, window_size: int | tuple[int, int], shift_size: int | tuple[int, int]
) -> Figure:
    """The 3 x 3 regions of the cyclically shifted map (shift_region_labels), with the windows outlined.

    Left: the labels on the shifted map, where the mask is computed; right: the same labels carried back
    to the original map, where each region is one contiguous block of the image.

    Args:
        height, width: the (padded) map size, multiples of the window size.
        window_size: M, or (Mh, Mw).
        shift_size: s, or (sh, sw), 0 <= s < M.

    Returns:
        the Figure; the left image's data equals shift_region_labels(height, width, window_size, shift_size).
        Each panel's title is two lines no wider than the panel, below the figure's one-line title (a clear gap
        between them). The left panel outlines the windows of the shifted map (Rectangles of gid "window");
        the right one the pieces of the same windows on the original map, dashed (gid "piece") on a white
        line (gid "piece-halo") so that they show on every region's colour.
    """
    labels = shift_region_labels(height, width, window_size, shift_size)  # (H, W)
    sh, sw = to_pair(shift_size, "shift_size", minimum=0)
    plain = window_members(height, width, window_size, 0)
    back = torch.roll(labels, shifts=(sh, sw), dims=(0, 1))  # undo torch.roll(-s): labels on the original map
    fig = new_figure(2 * PANEL + 1.6, PANEL * height / width + 0.8)
    axes = fig.subplots(1, 2)
    size = label_size(PANEL, max(height, width), 0.45)  # fits one digit per token
    for ax, data, title in (  # two short lines each: a title as wide as its panel at most
        (axes[0], labels, f"regions of the shifted map\n(torch.roll by ({-sh}, {-sw})), windows solid"),
        (axes[1], back, "the same regions on the original map,\nthe same windows dashed"),
    ):
        show_labels(ax, data.numpy(), 9, colours=REGION_COLOURS)
        token_grid(ax, height, width, title)
        if height * width <= 256:
            for i in range(height):
                for j in range(width):
                    number(ax, j, i, int(data[i, j]), size)
        else:  # one number per region: each region is one rectangle on either map
            for k in data.unique().tolist():
                rows, cols = torch.nonzero(data == k, as_tuple=True)
                number(ax, (cols.min() + cols.max()).item() / 2, (rows.min() + rows.max()).item() / 2, k, 13)
    _boxed_windows(axes[0], plain, None)
    for m in window_members(height, width, window_size, shift_size):
        for r0, c0, r1, c1 in window_pieces(m):
            _dashed(axes[1], r0, c0, r1, c1)
    present = sorted(set(labels.flatten().tolist()))
    fig.legend(
        handles=legend_patches([REGION_COLOURS[k] for k in present], [f"region {k}" for k in present]),
        loc="outside right center", title="label",
    )
    fig.suptitle("two tokens of a window may attend to each other exactly when their labels are equal",
                 fontsize="large")
    fig.get_layout_engine().set(h_pad=0.12)  # a clear gap (inches) between the figure's title and the panels'
    return fig


def plot_window_masks(
    height: int, width: int, window_size: int | tuple[int, int], shift_size: int | tuple[int, int],
    label_regions: bool = False, sort_by_region: bool = False,
) -> Figure:
    """The attention mask of every window, as a grid of small heatmaps laid out like the windows.

    Heatmap w is shifted_window_mask(...)[w]: row = query token, column = key token (row-major inside
    the window), 0 where attention is allowed and -100 where it is masked.

    Args:
        height, width, window_size, shift_size: as for shifted_window_mask; at most MAX_HEATMAPS = 64 windows.
        label_regions: tick every token with its region label (shift_region_labels) instead of its index.
        sort_by_region: order each window's tokens by region (a stable sort, so row-major within a region)
            before drawing: the mask becomes block-diagonal, one block per region; ticks mark the blocks.

    Returns:
        the Figure; its first nW axes hold the masks of windows 0..nW-1, in order (with sort_by_region, the
        mask with rows and columns permuted by each window's order).
    """
    mask = shifted_window_mask(height, width, window_size, shift_size)  # (nW, Mh*Mw, Mh*Mw)
    Mh, Mw = to_pair(window_size, "window_size")
    rows, cols = height // Mh, width // Mw
    if rows * cols > MAX_HEATMAPS:
        raise ValueError(f"{rows * cols} windows are too many heatmaps to draw (at most {MAX_HEATMAPS}): "
                         f"choose a larger window_size or a smaller map")
    labels = window_partition(shift_region_labels(height, width, window_size, shift_size)[None, :, :, None],
                              window_size).reshape(rows * cols, Mh * Mw)  # (nW, Mh*Mw): each token's region
    cell = float(np.clip(9.0 / cols, 0.9, 2.4))
    fig = new_figure(cols * cell + 1.6, rows * cell + 0.7)
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    cmap = ListedColormap(["#c0392b", "#f4f1de"])  # masked: red, allowed: cream
    image = None
    by_label = label_regions or sort_by_region
    for w, ax in enumerate(axes.flat):
        order = torch.argsort(labels[w], stable=True) if sort_by_region else torch.arange(Mh * Mw)
        image = ax.imshow(mask[w][order][:, order].numpy(), cmap=cmap, vmin=MASK_VALUE, vmax=0,
                          interpolation="nearest")
        ax.set_title(f"window {w}", fontsize=max(10.0, label_size(cell, 6, 0.6)))
        if sort_by_region:  # one tick in the middle of each region's block
            found, counts = torch.unique_consecutive(labels[w][order], return_counts=True)
            starts = torch.cumsum(counts, 0) - counts
            ticks, names = ((starts + (counts - 1) / 2).tolist(), found.tolist())
        elif label_regions:
            ticks, names = list(range(Mh * Mw)), labels[w].tolist()
        else:  # a tick at the first token of every window row: the mask's blocks follow the window's rows
            ticks = range(0, Mh * Mw, Mw) if cell * 72 / Mh >= 16 else [0, Mh * Mw - 1]  # room for the labels?
            names = [str(t) for t in ticks]
        ax.set_xticks(ticks, names)
        ax.set_yticks(ticks, names)
        size = 8 if label_regions and not sort_by_region else 9
        ax.tick_params(labelsize=size, length=2, labelbottom=by_label or w // cols == rows - 1,
                       labelleft=by_label or w % cols == 0)
        what = "region" if by_label else "token"
        if by_label or w // cols == rows - 1:
            ax.set_xlabel(f"key {what}", fontsize=9)
        if by_label or w % cols == 0:
            ax.set_ylabel(f"query {what}", fontsize=9)
    bar = fig.colorbar(image, ax=axes, ticks=[MASK_VALUE * 0.75, MASK_VALUE * 0.25], shrink=min(1.0, 3 / rows + 0.3))
    bar.ax.set_yticklabels([f"{MASK_VALUE:g}\nmasked", "0\nmay attend"])
    bar.ax.tick_params(labelsize=10)
    order_text = ", tokens sorted by region" if sort_by_region else ""
    fig.suptitle(f"shifted-window masks: {height}x{width} map, window {window_size}, shift {shift_size}{order_text}")
    return fig


def plot_token_reach(
    height: int,
    width: int,
    window_size: int | tuple[int, int],
    shift_size: int | tuple[int, int],
    token: int | tuple[int, int],
) -> Figure:
    """Which tokens one token may attend to in SW-MSA, drawn on the shifted and the original map.

    Args:
        height, width, window_size, shift_size: as for shifted_window_mask.
        token: the query token on the original map, as its row-major index or (row, column).

    Returns:
        the Figure; each panel's image holds 0 (another window), 1 (same window, masked), 2 (may attend)
        or 3 (the query token) per token. Both panels outline the regular (W-MSA) windows with
        Rectangles of gid "window"; the right one also the pieces of the token's shifted window (gid
        "piece"), so a shifted window that straddles W-MSA borders shows what the shift buys.
    """
    mask = shifted_window_mask(height, width, window_size, shift_size)  # (nW, Mh*Mw, Mh*Mw)
    shifted = window_members(height, width, window_size, shift_size)  # (nW, Mh*Mw, 2) original positions
    plain = window_members(height, width, window_size, 0)  # slots of the rolled map, same layout
    row, col = grid_position(token, height, width, "token")
    w, k = torch.nonzero((shifted[..., 0] == row) & (shifted[..., 1] == col))[0].tolist()
    allowed = mask[w, k] == 0  # (Mh*Mw,) keys this query may attend to
    reach = [np.zeros((height, width), dtype=int) for _ in range(2)]  # original map, shifted map
    for where, grid in ((shifted, reach[0]), (plain, reach[1])):
        m = where[w]
        grid[m[:, 0], m[:, 1]] = np.where(allowed.numpy(), 2, 1)
        grid[m[k, 0], m[k, 1]] = 3
    fig = new_figure(2 * PANEL + 1.0, PANEL * height / width + 2.0)
    fig.get_layout_engine().set(h_pad=0.15)  # a gap between suptitle, panel titles, axis labels and legend
    axes = fig.subplots(1, 2)
    colours = ["#eeeeee", "#e59866", "#58d68d", "#1b2631"]
    cmap = ListedColormap(colours)
    sh, sw = to_pair(shift_size, "shift_size", minimum=0)
    for ax, grid, title in (
        (axes[0], reach[1], f"shifted map: window {w}\nquery at {tuple(plain[w, k].tolist())}"),
        (axes[1], reach[0], "original map: W-MSA windows solid,\nits SW-MSA window dashed"),
    ):
        ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=3.5, interpolation="nearest")
        token_grid(ax, height, width, title)
    for m in plain:  # on the shifted map the windows of SW-MSA; on the original map those of W-MSA
        (r0, c0), (r1, c1) = m.min(0).values.tolist(), m.max(0).values.tolist()
        for ax in axes:
            outline(ax, r0, c0, r1, c1, gid="window", linewidth=1.5)
    for r0, c0, r1, c1 in window_pieces(shifted[w]):
        outline(axes[1], r0, c0, r1, c1, gid="piece", linestyle="--", linewidth=2.5, edgecolor="#1f4e9c")
    names = ["other windows", "same window, masked (other region)", "may attend", "query token"]
    fig.legend(handles=legend_patches(colours, names), loc="outside lower center", ncols=2)
    fig.suptitle(
        f"token ({row}, {col}) may attend to {int(allowed.sum())} of the {allowed.numel()} tokens of its window "
        f"(shift {sh}, {sw})"
    )
    return fig


def plot_padded_windows(height: int, width: int, window_size: int, shift_size: int) -> Figure:
    """The two ways to give SW-MSA's shifted windows M x M tokens each, side by side: pad the map, or roll
    it. The left panel is our drawing of what the Swin paper (section 3.2) only describes in words; the
    right one is the cyclic shift that the paper's Figure 4 draws.

    Left, the naive solution: the map is padded with M - s rows and columns at the top and left and s at
    the bottom and right (F.pad), so that the regular grid of the padded map cuts it where the shifted
    grid cuts the original map; window_partition then gives (H/M + 1)(W/M + 1) windows, partly padding.
    Right, the cyclic shift: the map rolled by (-s, -s) (torch.roll), cut into its nW windows by the same
    window_partition, with no padding.

    Args:
        height, width: the map H, W, multiples of the window size.
        window_size: M.
        shift_size: s, 0 < s < M.

    Returns:
        the Figure. Panel 0 draws the padded (H + M, W + M) map: padding is white and hatched (a Rectangle
        of gid "padding" per padded token); each of its windows is a Rectangle of gid "window", shaded and
        numbered (Text, gid "window-number") by the shifted window whose piece it holds, the number that
        window has on the rolled map, so that the pieces of one shifted window share a number; the original
        map is outlined in a Rectangle of gid "map". Panel 1 shows the rolled map's nW windows the same way.
    """
    shift_region_labels(height, width, window_size, shift_size)  # checks the sizes, names the bad one
    M, s = window_size, shift_size
    if s == 0:
        raise ValueError(f"shift_size must be at least 1 for shifted windows, got {s}")
    index = torch.arange(height * width).reshape(1, height, width, 1)  # (B, H, W, C): each token's index
    padded = F.pad(index, (0, 0, M - s, s, M - s, s), value=-1)  # (1, H + M, W + M, 1); padding -1
    Hp, Wp = height + M, width + M
    rolled = torch.roll(index, shifts=(-s, -s), dims=(1, 2))  # (1, H, W, 1)

    # the shifted window of every token: its window on the rolled map, numbered row-major as there
    nW = (height // M) * (width // M)
    shifted_of = torch.empty(height * width, dtype=torch.long)  # token index -> its shifted window
    shifted_of[window_partition(rolled, M).flatten(1)] = torch.arange(nW)[:, None]

    fig = new_figure(2 * PANEL + 0.6, PANEL * Hp / Wp + 1.3)
    axes = fig.subplots(1, 2, width_ratios=[Wp, width])
    for ax, x, h, w, name in ((axes[0], padded, Hp, Wp, "padded"), (axes[1], rolled, height, width, "rolled")):
        windows = window_partition(x, M)  # (n, M, M, 1)
        n = windows.shape[0]
        members = window_members(h, w, M, 0)  # (n, M*M, 2): where each window sits on this map
        tokens = window_reverse(windows, M, h, w)[0, :, :, 0].numpy()  # the map again: token index or -1
        # each window's number: the shifted window whose piece it holds (on the rolled map, its own number)
        numbers = [int(shifted_of[int(t[t >= 0][0])]) for t in windows.flatten(1)]
        owner = np.asarray(numbers)[_owner(h, w, members)]  # (h, w): the shifted window of each place
        shades = np.asarray(window_shades(height // M, width // M))[owner]  # (h, w, 4)
        shades[tokens < 0] = (1.0, 1.0, 1.0, 1.0)  # padding: white, hatched below
        ax.imshow(shades, interpolation="nearest", gid=name)
        real = int((tokens >= 0).sum())
        title = (f"padded to {h} x {w}: {n} windows, pieces of\nthe {nW} shifted windows;"
                 f" {h * w - real} of {h * w} tokens padding" if name == "padded"
                 else f"rolled by ({-s}, {-s}): {n} windows,\nno padding")
        token_grid(ax, h, w, title)
        size = label_size(PANEL * w / Wp, w, 0.35)
        for i, j in zip(*np.nonzero(tokens >= 0)):
            ax.text(j, i, str(tokens[i, j]), ha="center", va="center", fontsize=size, color="0.25", gid="token")
        for i, j in zip(*np.nonzero(tokens < 0)):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", edgecolor="0.7",
                                   linewidth=0, gid="padding"))
        _boxed_windows(ax, members, None)
        for k, m in zip(numbers, members):  # the number on the window's real tokens, not on its padding
            inside = m[tokens[m[:, 0], m[:, 1]] >= 0]  # (real tokens, 2)
            (r0, c0), (r1, c1) = inside.min(0).values.tolist(), inside.max(0).values.tolist()
            _badge(ax, r0, c0, r1, c1, k, 11.0)
    axes[0].images[0].set_gid("padded")
    axes[0].add_patch(Rectangle((M - s - 0.5, M - s - 0.5), width, height, fill=False, edgecolor="#c0392b",
                                linewidth=2.5, linestyle="--", gid="map"))
    fig.legend(handles=[Patch(facecolor="white", edgecolor="0.6", hatch="///", label="padding")]
               + [Line2D([], [], color="#c0392b", linewidth=2.5, linestyle="--", label="the original map")],
               loc="outside lower center", ncols=2)
    fig.suptitle(f"shifted windows on a {height}x{width} map, window {M}, shift {s}: pad, or roll")
    return fig


def attend_table(height: int, width: int, window_size: int, shift_size: int) -> torch.Tensor:
    """Which token of the map may attend to which in one W-MSA (shift 0) or SW-MSA block, read from
    shifted_window_mask and the windows' members after the roll.

    Returns:
        shape (N, N) bool, N = H*W tokens of the original map in row-major order: [i, j] is True when
        token i may attend to token j.
    """
    members = window_members(height, width, window_size, shift_size)  # (nW, Mh*Mw, 2) original positions
    mask = shifted_window_mask(height, width, window_size, shift_size)  # (nW, Mh*Mw, Mh*Mw)
    flat = members[..., 0] * width + members[..., 1]  # (nW, Mh*Mw) row-major token indices
    table = torch.zeros(height * width, height * width, dtype=torch.bool)
    for w in range(flat.shape[0]):
        table[flat[w][:, None], flat[w][None, :]] = mask[w] == 0
    return table


def block_pair_reach(
    height: int, width: int, window_size: int, shift_size: int, token: int | tuple[int, int], pairs: int
) -> torch.Tensor:
    """The input tokens one output token can depend on after 1, 2, ... `pairs` block pairs (W-MSA, then
    SW-MSA). Attention is the only step of a block that mixes tokens, so output i depends on input j
    after a block exactly when i may attend to j (attend_table); over several blocks these chain.

    Returns:
        shape (pairs, H, W) bool: [k] is True where an input token can change the output token after k + 1 pairs.
    """
    if isinstance(pairs, bool) or not isinstance(pairs, int):
        raise TypeError(f"pairs must be an int, got {type(pairs).__name__}")
    if pairs < 1:
        raise ValueError(f"pairs must be at least 1, got {pairs}")
    row, col = grid_position(token, height, width, "token")
    w_msa = attend_table(height, width, window_size, 0).float()  # (N, N)
    sw_msa = attend_table(height, width, window_size, shift_size).float()
    reach = torch.zeros(height * width)
    reach[row * width + col] = 1  # (N,): the output token, before any block
    steps = []
    for _ in range(pairs):  # the last block is SW-MSA: its inputs, then the W-MSA before it
        reach = (((reach @ sw_msa) > 0).float() @ w_msa > 0).float()
        steps.append(reach.bool().reshape(height, width))
    return torch.stack(steps)


def plot_block_pair_reach(
    height: int, width: int, window_size: int, shift_size: int, token: int | tuple[int, int], pairs: int = 2
) -> Figure:
    """block_pair_reach drawn: one panel per number of block pairs, the reached input tokens green, the
    output token dark, W-MSA's windows solid black and SW-MSA's shifted windows dashed blue (SHIFTED_COLOUR),
    inset as in plot_windows. W-MSA's borders cross the middle of shifted windows, so outlines alone read
    as one grid of smaller boxes; every piece of a shifted window therefore carries that window's number
    in a blue badge (its number on the rolled map, as in plot_windows), and the pieces of a window cut by
    the map's edge share it.

    Returns:
        the Figure; panel k's image (gid "reach") holds per input token 0 (cannot change the output token),
        1 (can) or 2 (the output token itself), and its title the count of tokens that can; the shifted
        windows are Rectangles of gid "piece" numbered by Texts of gid "shifted-number" (one per piece,
        when the panels leave room for a readable number), the regular ones Rectangles of gid "window".
    """
    reach = block_pair_reach(height, width, window_size, shift_size, token, pairs)  # (pairs, H, W)
    row, col = grid_position(token, height, width, "token")
    panel = min(PANEL, 9.0 / pairs)
    fig = new_figure(pairs * panel + 0.4, panel * height / width + 2.0)  # room for two title lines and the legend
    axes = np.atleast_1d(fig.subplots(1, pairs, squeeze=False)[0])
    colours = ["#eeeeee", "#58d68d", "#1b2631"]
    plain = window_members(height, width, window_size, 0)
    shifted = window_members(height, width, window_size, shift_size)
    size = label_size(panel, width, 0.3)
    for k, ax in enumerate(axes):
        grid = reach[k].long().numpy()
        grid[row, col] = 2
        ax.imshow(grid, cmap=ListedColormap(colours), vmin=-0.5, vmax=2.5, interpolation="nearest", gid="reach")
        n = int(reach[k].sum())
        token_grid(ax, height, width, f"after {k + 1} pair{'s' if k else ''}:\n{n} of {height * width} tokens")
        _boxed_windows(ax, plain, None)
        for w, m in enumerate(shifted):
            for r0, c0, r1, c1 in window_pieces(m):
                _inset_dashed(ax, r0, c0, r1, c1, colour=SHIFTED_COLOUR)
                if size >= 7:  # smaller badges would cover the cells and still be unreadable
                    number(ax, *badge_spot(r0, c0, r1, c1), w, size, gid="shifted-number", badge=SHIFTED_COLOUR)
    fig.legend(handles=legend_patches(colours[1:], ["can change the output token", "the output token"])
               + [Line2D([], [], color="black", linewidth=2.5, label="W-MSA window"),
                  Line2D([], [], color=SHIFTED_COLOUR, linewidth=2, linestyle="--",
                         label="SW-MSA window, numbered; the pieces\nof one cut by the map's edge share a number")],
               loc="outside lower center", ncols=2)
    fig.suptitle(f"what output token ({row}, {col}) depends on: {height}x{width} map, window {window_size}, "
                 f"shift {shift_size}")
    return fig
