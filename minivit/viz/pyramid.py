"""Figures of feature pyramids: one box per stage, its face H x W tokens, its depth the channels; one backbone
(plot_feature_pyramid) or several, one row each at one scale (plot_feature_pyramids)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
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
    fig = new_figure(2.6 * len(shapes) + 1.0, 4.4)
    ax = fig.subplots()
    names = [f"stage {k + 1}" for k in range(len(shapes))]
    right, top = _draw_row(ax, shapes, names, 0.0, widest, deepest, image_size, window_size)
    ax.set_xlim(-0.05 * widest, right + 0.05 * widest)
    ax.set_ylim(-0.36 * widest, top + 0.05 * widest)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("feature pyramid: each face is H x W tokens at one scale, the depth grows with the channels C")
    return fig


def plot_feature_pyramids(
    pyramids: Mapping[str, Mapping[str, object]],
    image_size: int | tuple[int, int] | None = None,
    window_sizes: Mapping[str, int] | None = None,
) -> Figure:
    """Several backbones' feature maps, one row per backbone, all at one scale (as the Swin paper's Figure 1
    sets Swin's pyramid beside ViT's single map): each map drawn as by plot_feature_pyramid.

    Args:
        pyramids: row title -> {map name -> map}, rows top to bottom, maps left to right; a map is a tensor
            (B, C, H, W) or (C, H, W), or its shape. E.g. {"Swin-T": {"stage 1": ..., ...},
            "ViT-B/16": {"after block 3": ..., ...}}.
        image_size: the input's size (H, W) or side; with it, each map's stride is written under it.
        window_sizes: row title -> M, for the rows whose windows of M x M tokens are to be drawn and counted.

    Returns:
        the Figure. Each map's face is a Rectangle with gid "stage" (H high, W wide in token units, row by
        row), its label a Text with gid "stage-label"; each row's title a Text with gid "row-title".
    """
    if not isinstance(pyramids, Mapping) or not pyramids:
        raise ValueError(f"pyramids must map at least one row title to its maps, got {pyramids!r}")
    for title, maps in pyramids.items():
        if not isinstance(maps, Mapping):
            raise TypeError(f"pyramids[{title!r}] must map names to maps, got {type(maps).__name__}")
    window_sizes = dict(window_sizes or {})
    unknown = [t for t in window_sizes if t not in pyramids]
    if unknown:
        raise ValueError(f"window_sizes names rows {unknown} that pyramids does not have ({list(pyramids)})")
    rows = {title: map_shapes(list(maps.values())) for title, maps in pyramids.items()}
    every = [shape for shapes in rows.values() for shape in shapes]
    widest = max(w for _, _, w in every)
    deepest = max(c for c, _, _ in every)
    label_room = (0.48 if image_size is not None else 0.4) * widest  # the labels under a row, and its title
    heights = {t: max(h + DEPTH * widest * c / deepest * SLANT for c, h, _ in shapes) for t, shapes in rows.items()}
    total = sum(heights[t] + label_room + 0.2 * widest for t in rows)
    fig = new_figure(9.0, min(9.0, round(9.0 * total / (widest * 4.2) + 0.4, 1)))
    ax = fig.subplots()
    y, right = total, 0.0
    for title, shapes in rows.items():
        y -= heights[title] + 0.2 * widest
        ax.text(-0.12 * widest, y + heights[title] + 0.06 * widest, title, ha="left", va="bottom",
                fontsize=11, fontweight="bold", gid="row-title")
        row_right, _ = _draw_row(ax, shapes, list(pyramids[title]), y, widest, deepest, image_size,
                                 window_sizes.get(title))
        right = max(right, row_right)
        y -= label_room
    ax.set_xlim(-0.12 * widest, right + 0.05 * widest)  # room for the labels of a narrow first map
    ax.set_ylim(y, total + 0.02 * widest)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("feature maps at one scale: each face is H x W tokens, the depth grows with the channels C")
    return fig


def _draw_row(ax: Axes, shapes: list[tuple[int, int, int]], names: Sequence[str], y0: float, widest: int,
              deepest: int, image_size: int | tuple[int, int] | None, window_size: int | None) -> tuple[float, float]:
    """Draw maps left to right, their faces' bottoms at y0, labels under them; return (right edge, top)."""
    gap = 0.35 * widest
    x = 0.0
    for name, (C, H, W) in zip(names, shapes):
        depth = DEPTH * widest * C / deepest
        dx, dy = depth * np.cos(np.radians(35)), depth * SLANT
        face = Rectangle((x, y0), W, H, facecolor="#aed6f1", edgecolor="black", linewidth=1.2, gid="stage")
        top = Polygon([(x, y0 + H), (x + dx, y0 + H + dy), (x + W + dx, y0 + H + dy), (x + W, y0 + H)],
                      closed=True, facecolor="#5dade2", edgecolor="black", linewidth=1.0, gid="depth")
        side = Polygon([(x + W, y0), (x + W + dx, y0 + dy), (x + W + dx, y0 + H + dy), (x + W, y0 + H)],
                       closed=True, facecolor="#2e86c1", edgecolor="black", linewidth=1.0, gid="depth")
        for patch in (side, top, face):
            ax.add_patch(patch)
        lines = [name, f"{H} x {W} tokens, C = {C}", f"{H * W:,} tokens"]
        if image_size is not None:
            ih, iw = (image_size, image_size) if isinstance(image_size, int) else image_size
            lines.append(f"stride {ih // H}" if ih // H == iw // W else f"stride {ih // H} x {iw // W}")
        if window_size is not None:
            M = window_size
            rows, cols = -(-H // M), -(-W // M)
            for i in range(1, rows):
                ax.plot([x, x + W], [y0 + H - i * M] * 2, color="#1b4f72", linewidth=0.8, gid="window-line")
            for j in range(1, cols):
                ax.plot([x + j * M] * 2, [y0, y0 + H], color="#1b4f72", linewidth=0.8, gid="window-line")
            lines.append(f"{rows * cols} window{'s' if rows * cols > 1 else ''} of {M} x {M}")
        ax.text(x + W / 2, y0 - 0.06 * widest, "\n".join(lines), ha="center", va="top", fontsize=9,
                gid="stage-label")
        x += W + dx + gap
    top = y0 + max(h + DEPTH * widest * c / deepest * SLANT for c, h, _ in shapes)
    return x - gap, top
