"""Figure of a backbone's feature pyramid: one box per stage, its face H x W tokens, its depth the channels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from minivit.viz._common import new_figure

DEPTH = 0.5  # the deepest stage's depth, as a fraction of the widest stage's width
SLANT = 0.45  # how far up a box's depth rises for each unit it goes right


def map_shapes(maps: Sequence[object]) -> list[tuple[int, int, int]]:
    """(C, H, W) of every feature map, given as tensors (B, C, H, W) or (C, H, W), or as shapes."""
    shapes = []
    for k, m in enumerate(maps):
        shape = tuple(m.shape) if isinstance(m, torch.Tensor) else tuple(m)
        if len(shape) not in (3, 4) or not all(isinstance(n, int) and n > 0 for n in shape):
            raise ValueError(f"maps[{k}] must be a (B, C, H, W) or (C, H, W) tensor or shape, got {shape!r}")
        shapes.append(shape[-3:])
    if not shapes:
        raise ValueError("maps must hold at least one feature map")
    return shapes


def plot_feature_pyramid(
    maps: Sequence[object], image_size: int | tuple[int, int] | None = None, window_size: int | None = None
) -> Figure:
    """A backbone's stages side by side: each map a box whose face is H x W tokens (all at one scale)
    and whose depth grows with the channels C, so the pyramid trades resolution for channels.

    Args:
        maps: one feature map per stage, as tensors (B, C, H, W) or (C, H, W), or their shapes.
        image_size: the input's size (H, W) or side; with it, each stage's stride is written under it.
        window_size: M; with it, the windows of M x M tokens are drawn on each face and counted
            (ceil(H/M) x ceil(W/M): a map smaller than the window is padded to one window).

    Returns:
        the Figure. Each stage's face is a Rectangle with gid "stage", H high and W wide in token units;
        its label is a Text with gid "stage-label".
    """
    shapes = map_shapes(maps)
    widest = max(w for _, _, w in shapes)
    deepest = max(c for c, _, _ in shapes)
    gap = 0.35 * widest
    fig = new_figure(2.6 * len(shapes) + 1.0, 4.4)
    ax = fig.subplots()
    x = 0.0
    for k, (C, H, W) in enumerate(shapes):
        depth = DEPTH * widest * C / deepest
        dx, dy = depth * np.cos(np.radians(35)), depth * SLANT
        face = Rectangle((x, 0), W, H, facecolor="#aed6f1", edgecolor="black", linewidth=1.2, gid="stage")
        top = Polygon([(x, H), (x + dx, H + dy), (x + W + dx, H + dy), (x + W, H)], closed=True,
                      facecolor="#5dade2", edgecolor="black", linewidth=1.0, gid="depth")
        side = Polygon([(x + W, 0), (x + W + dx, dy), (x + W + dx, H + dy), (x + W, H)], closed=True,
                       facecolor="#2e86c1", edgecolor="black", linewidth=1.0, gid="depth")
        for patch in (side, top, face):
            ax.add_patch(patch)
        lines = [f"stage {k + 1}", f"{H} x {W} tokens, C = {C}", f"{H * W:,} tokens"]
        if image_size is not None:
            ih, iw = (image_size, image_size) if isinstance(image_size, int) else image_size
            lines.append(f"stride {ih // H}" if ih // H == iw // W else f"stride {ih // H} x {iw // W}")
        if window_size is not None:
            M = window_size
            rows, cols = -(-H // M), -(-W // M)
            for i in range(1, rows):
                ax.plot([x, x + W], [H - i * M] * 2, color="#1b4f72", linewidth=0.8, gid="window-line")
            for j in range(1, cols):
                ax.plot([x + j * M] * 2, [0, H], color="#1b4f72", linewidth=0.8, gid="window-line")
            lines.append(f"{rows * cols} window{'s' if rows * cols > 1 else ''} of {M} x {M}")
        ax.text(x + W / 2, -0.06 * widest, "\n".join(lines), ha="center", va="top", fontsize=9, gid="stage-label")
        x += W + dx + gap
    highest = max(h + DEPTH * widest * c / deepest * SLANT for c, h, _ in shapes)
    ax.set_xlim(-0.05 * widest, x - gap + 0.05 * widest)
    ax.set_ylim(-0.36 * widest, highest + 0.05 * widest)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("feature pyramid: each face is H x W tokens at one scale, the depth grows with the channels C")
    return fig
