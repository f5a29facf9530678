"""The cyclic shift itself, as the Swin paper's Figure 4 draws it: the strips at the top and left edges of
the map move to the bottom and right under torch.roll by (-s, -s).

    cyclic_shift_strips(H, W, s)      which strip each token belongs to, before and after the roll
    plot_cyclic_shift(H, W, M, s)     the two maps side by side, strips A, B, C hatched and lettered

The strips: A, the s x s corner at the top left; B, the rest of the top s rows; C, the rest of the left
s columns. Windows are greys, as in minivit.viz.windows; the strips are hatched, not coloured, because
colours mean Swin's 9 regions in every figure of the course.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from minivit.ops._checks import to_pair
from minivit.viz._common import label_size, new_figure, number, token_grid, window_pieces, window_shades
from minivit.viz.windows import _boxed_windows, _content, _inset_dashed, _owner, window_members

STRIPS = ("A", "B", "C")  # label 1, 2, 3 of cyclic_shift_strips; 0 is the rest of the map
HATCHES = ("xx", "///", "\\\\\\")


def cyclic_shift_strips(
    height: int, width: int, shift_size: int | tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which strip each token of an H x W map belongs to: 1 = A (the top-left s x s corner), 2 = B (the
    rest of the top s rows), 3 = C (the rest of the left s columns), 0 = neither.

    Returns:
        (before, after), each (H, W): the labels on the original map, and the same labels moved by
        torch.roll(before, shifts=(-sh, -sw), dims=(0, 1)), the cyclic shift of SW-MSA.
    """
    sh, sw = to_pair(shift_size, "shift_size", minimum=0)
    if sh >= height or sw >= width:
        raise ValueError(f"shift_size must be smaller than the map {height}x{width}, got ({sh}, {sw})")
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    top, left = rows < sh, cols < sw
    before = torch.zeros(height, width, dtype=torch.long)
    before[top & left], before[top & ~left], before[~top & left] = 1, 2, 3
    return before, torch.roll(before, shifts=(-sh, -sw), dims=(0, 1))


def _strip_boxes(labels: torch.Tensor) -> dict[str, tuple[int, int, int, int]]:
    """(row0, col0, row1, col1) of each strip present: each is one rectangle before and after the roll."""
    boxes = {}
    for k, name in enumerate(STRIPS, start=1):
        rows, cols = np.nonzero(labels.numpy() == k)
        if len(rows):
            boxes[name] = (int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max()))
    return boxes


def _draw_strips(ax, labels: torch.Tensor, size: float) -> None:
    for name, (r0, c0, r1, c1) in _strip_boxes(labels).items():
        hatch = HATCHES[STRIPS.index(name)]
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False, hatch=hatch,
                               edgecolor="0.2", linewidth=1.5, gid=f"strip-{name}"))
        number(ax, (c0 + c1) / 2, (r0 + r1) / 2, name, size, gid="strip-name", badge="0.3")


def plot_cyclic_shift(
    height: int, width: int, window_size: int | tuple[int, int], shift_size: int | tuple[int, int]
) -> Figure:
    """torch.roll by (-s, -s) as the Swin paper's Figure 4 draws it: strips A, B, C of the original map
    (left, cut by the shifted windows, dashed) land at the bottom and right of the rolled map (right, cut
    by the regular windows, solid), where the pieces of each shifted window make one window.

    Args:
        height, width: the token map H, W, multiples of the window size.
        window_size: M, or (Mh, Mw).
        shift_size: s, or (sh, sw), 0 < s < M.

    Returns:
        the Figure. Panel 1's and panel 2's images hold cyclic_shift_strips (before, after); each strip is a
        hatched Rectangle with gid "strip-A", "strip-B" or "strip-C" and its letter a Text with gid
        "strip-name"; shifted pieces are dashed Rectangles with gid "piece", regular windows solid ones with
        gid "window"; an arrow between the panels (gid "roll-arrow") names the roll.
    """
    sh, sw = to_pair(shift_size, "shift_size", minimum=0)
    if sh == 0 or sw == 0:
        raise ValueError(f"shift_size must be at least 1 on both axes to show strips, got ({sh}, {sw})")
    plain = window_members(height, width, window_size, 0)  # (nW, Mh*Mw, 2); checks the sizes
    shifted = window_members(height, width, window_size, shift_size)
    before, after = cyclic_shift_strips(height, width, shift_size)
    Mh, Mw = to_pair(window_size, "window_size")
    shades = window_shades(height // Mh, width // Mw)
    panel = 3.6
    fig = new_figure(2 * panel + 0.8, panel * height / width + 1.0)
    fig.get_layout_engine().set(wspace=0.12)  # room for the arrow between the panels
    axes = fig.subplots(1, 2)
    letter = float(np.clip(label_size(panel, max(height, width), 0.5), 10, 14))

    ax = axes[0]
    _content(ax, height, width, None, _owner(height, width, shifted), shades)
    ax.imshow(before.numpy(), alpha=0.0)  # the strip labels, invisible: the figure's data, for tests
    token_grid(ax, height, width, f"original map, windows shifted by ({sh}, {sw})")
    for m in shifted:
        for r0, c0, r1, c1 in window_pieces(m):
            _inset_dashed(ax, r0, c0, r1, c1)
    _draw_strips(ax, before, letter)

    ax = axes[1]
    _content(ax, height, width, None, _owner(height, width, plain), shades)
    ax.imshow(after.numpy(), alpha=0.0)
    token_grid(ax, height, width, f"after torch.roll by ({-sh}, {-sw})", ylabel="")
    _boxed_windows(ax, plain, None)
    _draw_strips(ax, after, letter)

    fig.canvas.draw()  # place the panels, then point from one to the other
    left, right = axes[0].get_position(), axes[1].get_position()
    y = (left.y0 + left.y1) / 2
    fig.patches.append(_arrow(fig, left.x1 + 0.005, right.x0 - 0.005, y))
    fig.suptitle(f"{height}x{width} tokens, window {window_size}, shift {shift_size}: "
                 "the top and left strips move to the bottom and right")
    return fig


def _arrow(fig: Figure, x0: float, x1: float, y: float) -> FancyArrowPatch:
    return FancyArrowPatch((x0, y), (x1, y), transform=fig.transFigure, arrowstyle="-|>", mutation_scale=18,
                           linewidth=2, color="black", gid="roll-arrow")
