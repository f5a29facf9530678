"""Where the rows of a map land when its height is not a multiple of the window: padding before the
cyclic shift (minivit, torchvision) against padding after it (timm).

Shifted-window attention rolls the map up by s and cuts it into windows of M rows; the shift mask then
lets two tokens of a window attend to each other only if they lie in the same region (notebook 04). When
H is not a multiple of M the map is padded at the bottom to Hp, the next multiple of M, with tokens of
zeros, and the three libraries build the mask on that padded map. They differ in when they pad:
minivit and torchvision pad, then roll; timm rolls the H rows, then pads. This module follows one column
of rows through both orders with the operations the models use (F.pad, torch.roll) and reads each row's
region from minivit.ops.windows.shift_region_labels, the labels the shift mask is built from.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from minivit.ops._checks import check_size
from minivit.ops.windows import shift_region_labels
from minivit.viz._common import REGION_COLOURS, label_size, legend_patches, new_figure, number, show_labels

PAD = -1  # stands for a padding token in the returned rows
ORDERS = ("pad, then roll", "roll, then pad")
LIBRARIES = {"pad, then roll": "minivit, torchvision", "roll, then pad": "timm"}


def padded_rows(height: int, window_size: int, shift_size: int, query_row: int = 0) -> dict[str, dict]:
    """Follow the rows 0..H-1 of one column through padding and the cyclic shift, in both orders.

    Args:
        height: H, the number of rows of the map (any size >= 1).
        window_size: M; the map is padded at the bottom to Hp, the next multiple of M.
        shift_size: s, 0 < s < M, the shift of SW-MSA; the roll is by -s along the rows.
        query_row: a row of the map whose partners are returned (the rows it may attend to).

    Returns:
        for each order, "pad, then roll" (minivit, torchvision) and "roll, then pad" (timm), a dict:
        "rows", shape (Hp,): which row of the map sits at each position of the padded, rolled column
        (PAD, i.e. -1, for a padding token); "regions", shape (Hp,): the region of each position along
        the rows, 0, 1 or 2, as the shift mask labels it on the padded map; "windows", shape (Hp,): the
        window of each position, position // M; "partners": the sorted rows of the map in the same window
        and region as `query_row` (itself included), and "padding_partners": how many padding tokens are.
    """
    H, M = check_size(height, "height"), check_size(window_size, "window_size")
    s = check_size(shift_size, "shift_size")
    if s >= M:
        raise ValueError(f"shift_size must be smaller than window_size (0 < s < M), got shift_size={shift_size!r} "
                         f"for window_size={window_size!r}")
    if isinstance(query_row, bool) or not isinstance(query_row, int) or not 0 <= query_row < H:
        raise ValueError(f"query_row must be a row in [0, {H}), got {query_row!r}")
    Hp = -(-H // M) * M
    if Hp <= M:
        raise ValueError(f"height must give more than one window of {M} rows once padded (the libraries drop the "
                         f"shift otherwise), got height={height!r}")
    column = (torch.arange(H) + 1).float()[None, :, None, None]  # (B, H, W, C) = (1, H, 1, 1): row + 1, 0 = padding

    def pad(x):
        return F.pad(x, (0, 0, 0, 0, 0, Hp - x.shape[1]))  # bottom rows of zeros, as the libraries pad

    def roll(x):
        return torch.roll(x, shifts=-s, dims=1)  # up by s, as SW-MSA rolls

    regions = shift_region_labels(Hp, M, M, (s, 0))[:, 0] // 3  # (Hp,): the row band, 0, 1 or 2
    windows = torch.arange(Hp) // M
    result = {}
    for order, steps in zip(ORDERS, ((pad, roll), (roll, pad))):
        x = column
        for step in steps:
            x = step(x)
        rows = x.flatten().long() - 1  # (Hp,): -1 = PAD
        at = int((rows == query_row).nonzero())
        together = (windows == windows[at]) & (regions == regions[at])
        result[order] = {
            "rows": rows, "regions": regions, "windows": windows,
            "partners": sorted(rows[together & (rows != PAD)].tolist()),
            "padding_partners": int((together & (rows == PAD)).sum()),
        }
    return result


def _runs_text(rows: list[int]) -> str:
    """[0, 1, 59, 60, 61] -> '0-1, 59-61'."""
    runs, start = [], rows[0]
    for prev, cur in zip(rows, rows[1:] + [None]):
        if cur != prev + 1:
            runs.append(str(start) if start == prev else f"{start}-{prev}")
            start = cur
    return ", ".join(runs)


def plot_padding_orders(height: int = 64, window_size: int = 7, shift_size: int = 3, query_row: int = 0) -> Figure:
    """One column of a map whose height is not a multiple of the window, through SW-MSA's padding and
    cyclic shift in both orders, side by side: left, pad then roll (minivit, torchvision); right, roll then
    pad (timm). Each panel has one line per window (window 0 at the top) and one cell per position in it;
    a cell shows which row of the map sits there ("pad" for a padding token) and is coloured by its row
    band in the shift mask (one column meets only the 3 row bands of the 3 x 3 regions). Two tokens attend
    to each other only in the same window and the same colour. The cells that `query_row` attends to are
    outlined in red.

    Args:
        height, window_size, shift_size, query_row: as for padded_rows.

    Returns:
        the Figure; in each panel, in position order: texts with gid "row" (the row number or "pad"),
        Rectangles with gid "padding" (hatched, one per padding token) and gid "partner" (red, one per
        position in `query_row`'s window and row band); the image data is the (Hp/M, M) grid of row bands.
    """
    data = padded_rows(height, window_size, shift_size, query_row)
    M = window_size
    Hp = len(data[ORDERS[0]]["rows"])
    nW = Hp // M
    cell = min(0.5, 6.0 / nW, 3.4 / M)  # inches per square cell: panels at most about 3.4 x 6 inches
    fig = new_figure(2 * M * cell + 2.6, nW * cell + 1.9)
    size = label_size(M * cell, M, fraction=0.55, digits=2)
    for ax, order in zip(fig.subplots(1, 2), ORDERS):
        d = data[order]
        show_labels(ax, d["regions"].reshape(nW, M).numpy(), 3, colours=REGION_COLOURS[:3])
        for position, row in enumerate(d["rows"].tolist()):
            w, i = divmod(position, M)
            if row == PAD:
                ax.add_patch(Rectangle((i - 0.5, w - 0.5), 1, 1, facecolor="white", alpha=0.55, hatch="///",
                                       edgecolor="0.3", linewidth=0, gid="padding"))
            number(ax, i, w, "pad" if row == PAD else row, size * (0.75 if row == PAD else 1), gid="row")
            if (d["windows"][position] == d["windows"][d["rows"] == query_row]).item() and (
                    d["regions"][position] == d["regions"][d["rows"] == query_row]).item():
                ax.add_patch(Rectangle((i - 0.45, w - 0.45), 0.9, 0.9, fill=False, edgecolor="red", linewidth=2,
                                       gid="partner"))
        ax.hlines([w + 0.5 for w in range(nW - 1)], -0.5, M - 0.5, colors="black", linewidth=2)
        ax.set_xticks(range(M))
        ax.set_yticks(range(nW))
        ax.set_yticklabels([f"window {w}" for w in range(nW)])
        ax.set_xlabel("position inside the window")
        ax.tick_params(length=0)
        partners = _runs_text(d["partners"])
        padding = d["padding_partners"]
        ax.set_title(f"{order} ({LIBRARIES[order]})\nrow {query_row} attends to rows {partners}"
                     + (f" and {padding} padding" if padding else ""), fontsize=10)
    names = [f"row band {k} of the shift mask" for k in range(3)]
    handles = legend_patches(REGION_COLOURS[:3], names)
    handles.append(Rectangle((0, 0), 1, 1, facecolor="white", hatch="///", edgecolor="0.3", label="padding (zeros)"))
    handles.append(Rectangle((0, 0), 1, 1, fill=False, edgecolor="red", linewidth=2,
                             label=f"same window and row band as row {query_row}"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle(f"one column of a {height}-row map, padded to {Hp} rows and rolled up by {shift_size}, in windows "
                 f"of {M}: which row sits where", fontsize=11)
    return fig
