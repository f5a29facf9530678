"""Figure of the two-marks task (minivit.data.two_marks): images drawn large, each one-pixel mark ringed in
its colour and labelled with its column, so that a pair such as an image and its twin reads at a glance."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from minivit.ops._checks import check_shape, check_tensor
from minivit.viz._common import as_image, new_figure

RING = {"red": "#ff4d4d", "blue": "#4d8dff"}  # lighter than the marks, to stand out on black


def plot_two_marks(
    images: torch.Tensor,
    red: torch.Tensor,
    blue: torch.Tensor,
    titles: Sequence[str],
    patch_size: int | None = None,
) -> Figure:
    """Images of the two-marks task side by side, each about 4 inches wide, with each mark ringed.

    Args:
        images: (B, 3, H, W), 1 <= B <= 3, values in [0, 1] (black except the marks).
        red, blue: (B, 2) int, the (row, column) of the red and of the blue mark of each image.
        titles: B strings, one above each image.
        patch_size: p, to draw the p x p patch grid in thin grey lines; None draws no grid.

    Returns:
        the Figure: one axes per image in batch order, its image data as_image(images[b]); in axes b a
        Circle with gid "red-mark" centred on (column, row) of red[b] and one with gid "blue-mark" on
        blue[b], each beside a Text with gid "mark-column" reading "red, column c" / "blue, column c";
        the axes title is titles[b].
    """
    check_tensor(images, "images", "(B, 3, H, W)")
    B, C, H, W = images.shape
    if C != 3 or not 1 <= B <= 3:
        raise ValueError(f"images must have shape (B, 3, H, W) with 1 <= B <= 3, got shape {tuple(images.shape)}")
    check_shape(red, "red", "(B, 2)", (B, 2))
    check_shape(blue, "blue", "(B, 2)", (B, 2))
    if isinstance(titles, str) or len(titles) != B:
        raise ValueError(f"titles must be {B} strings, one per image, got {titles!r}")
    if patch_size is not None and (H % patch_size or W % patch_size):
        raise ValueError(f"patch_size must divide the image size {H} x {W}, got {patch_size!r}")

    fig = new_figure(4.2 * B, 4.6)
    axes = np.atleast_1d(fig.subplots(1, B))
    for b, ax in enumerate(axes):
        ax.imshow(as_image(images[b]), interpolation="nearest")
        if patch_size is not None:
            for k in range(patch_size, W, patch_size):
                ax.axvline(k - 0.5, color="0.35", linewidth=0.6)
            for k in range(patch_size, H, patch_size):
                ax.axhline(k - 0.5, color="0.35", linewidth=0.6)
        for name, marks in (("red", red), ("blue", blue)):
            row, col = (int(v) for v in marks[b])
            ax.add_patch(Circle((col, row), 1.6, fill=False, edgecolor=RING[name], linewidth=2, gid=f"{name}-mark"))
            above = row > H / 2  # the label goes on the side of the mark with more room
            ax.text(col, row + (-2.6 if above else 2.6), f"{name}, column {col}", color=RING[name], fontsize=10,
                    ha="center", va="bottom" if above else "top", gid="mark-column")
        ax.set_title(titles[b], fontsize=11)
        ax.set_xticks(range(0, W, 3 if W <= 36 else W // 8))
        ax.set_yticks(range(0, H, 3 if H <= 36 else H // 8))
        ax.tick_params(labelsize=8)
        ax.set_xlabel("column")
    axes[0].set_ylabel("row")
    return fig
