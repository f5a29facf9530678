"""Figures of feature pyramids: one box per stage, its face H x W tokens, its depth the channels; one backbone
(plot_feature_pyramid) or several, one row each at one scale (plot_feature_pyramids), either in tokens or over
the same image (as the Swin paper's Figure 1)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon, Rectangle

from minivit.ops._checks import to_pair
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
    scale: str = "tokens",
) -> Figure:
    """Several backbones' feature maps, one row per backbone, all at one scale: each map drawn as by
    plot_feature_pyramid. With scale="image", every face covers the same image, cut into cells of
    stride x stride pixels, one per token, as the Swin paper's Figure 1 sets Swin's pyramid beside ViT's map.

    Args:
        pyramids: row title -> {map name -> map}, rows top to bottom, maps left to right; a map is a tensor
            (B, C, H, W) or (C, H, W), or its shape. E.g. {"Swin-T": {"stage 1": ..., ...},
            "ViT-B/16": {"after block 3": ..., ...}}.
        image_size: the input's size (H, W) or side; with it, each map's stride is written under it.
        window_sizes: row title -> M, for the rows whose windows of M x M tokens are to be drawn and counted.
        scale: "tokens" (a face is H x W tokens) or "image" (a face is the image's ih x iw pixels, its tokens
            drawn as cells; needs image_size, and every map's size must divide the image's).

    Returns:
        the Figure. Each map's face is a Rectangle with gid "stage" (H high, W wide in token units, or ih x iw
        in pixels with scale="image", row by row), its label a Text with gid "stage-label"; each row's title a
        Text with gid "row-title"; window borders are Line2D with gid "window-line" (in the map's units); with
        scale="image", each face's cell borders are one LineCollection with gid "cell-lines".
    """
    if scale not in ("tokens", "image"):
        raise ValueError(f"scale must be 'tokens' or 'image', got {scale!r}")
    if scale == "image" and image_size is None:
        raise ValueError("scale='image' needs image_size, got None")
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
    ih, iw = to_pair(image_size, "image_size") if image_size is not None else (0, 0)
    if scale == "image":
        bad = [(h, w) for _, h, w in every if ih % h or iw % w]
        if bad:
            raise ValueError(f"with scale='image' every map's H x W must divide image_size {(ih, iw)}, got {bad}")
        faces = {t: [(ih, iw)] * len(shapes) for t, shapes in rows.items()}  # every face: the whole image
    else:
        faces = {t: [(h, w) for _, h, w in shapes] for t, shapes in rows.items()}
    widest = max(w for sizes in faces.values() for _, w in sizes)
    deepest = max(c for c, _, _ in every)
    label_room = (0.48 if image_size is not None else 0.4) * widest  # the labels under a row, and its title
    if scale == "image":  # equal faces, so each is smaller on the page and its labels take more of its units
        label_room = 0.74 * widest
    heights = {t: max(fh + DEPTH * widest * c / deepest * SLANT for (c, _, _), (fh, _) in zip(shapes, faces[t]))
               for t, shapes in rows.items()}
    total = sum(heights[t] + label_room + 0.2 * widest for t in rows)
    if scale == "image":  # equal faces side by side: the height follows from the drawing's extent
        span = max(len(s) for s in rows.values()) * (1 + 0.35 + DEPTH * np.cos(np.radians(35))) * widest
        fig = new_figure(9.0, min(9.0, round(9.0 * total / span + 0.6, 1)))
    else:
        fig = new_figure(9.0, min(9.0, round(9.0 * total / (widest * 4.2) + 0.4, 1)))
    ax = fig.subplots()
    y, right = total, 0.0
    for title, shapes in rows.items():
        y -= heights[title] + 0.2 * widest
        ax.text(-0.12 * widest, y + heights[title] + 0.06 * widest, title, ha="left", va="bottom",
                fontsize=11, fontweight="bold", gid="row-title")
        row_right, _ = _draw_row(ax, shapes, list(pyramids[title]), y, widest, deepest, image_size,
                                 window_sizes.get(title), on_image=scale == "image")
        right = max(right, row_right)
        y -= label_room
    ax.set_xlim(-0.12 * widest, right + 0.05 * widest)  # room for the labels of a narrow first map
    ax.set_ylim(y, total + 0.02 * widest)
    ax.set_aspect("equal")
    ax.axis("off")
    if scale == "image":
        ax.set_title(f"over one {ih} x {iw} image: a cell per token, red lines: window borders, depth ~ C")
    else:
        ax.set_title("feature maps at one scale: each face is H x W tokens, the depth grows with the channels C")
    return fig


def _draw_row(ax: Axes, shapes: list[tuple[int, int, int]], names: Sequence[str], y0: float, widest: int,
              deepest: int, image_size: int | tuple[int, int] | None, window_size: int | None,
              on_image: bool = False) -> tuple[float, float]:
    """Draw maps left to right, their faces' bottoms at y0, labels under them; return (right edge, top).
    With on_image, each face is the image (ih x iw pixels) and its H x W tokens are drawn as cells."""
    gap = 0.35 * widest
    x = 0.0
    top = y0
    for name, (C, H, W) in zip(names, shapes):
        uh, uw = (1.0, 1.0)  # the height and width of one token on the face
        if on_image:
            ih, iw = to_pair(image_size, "image_size")
            uh, uw = ih / H, iw / W
        fh, fw = H * uh, W * uw
        depth = DEPTH * widest * C / deepest
        dx, dy = depth * np.cos(np.radians(35)), depth * SLANT
        face = Rectangle((x, y0), fw, fh, facecolor="#aed6f1", edgecolor="black", linewidth=1.2, gid="stage")
        roof = Polygon([(x, y0 + fh), (x + dx, y0 + fh + dy), (x + fw + dx, y0 + fh + dy), (x + fw, y0 + fh)],
                       closed=True, facecolor="#5dade2", edgecolor="black", linewidth=1.0, gid="depth")
        side = Polygon([(x + fw, y0), (x + fw + dx, y0 + dy), (x + fw + dx, y0 + fh + dy), (x + fw, y0 + fh)],
                       closed=True, facecolor="#2e86c1", edgecolor="black", linewidth=1.0, gid="depth")
        for patch in (side, roof, face):
            ax.add_patch(patch)
        if on_image:  # every token a cell of stride x stride pixels
            cells = [[(x, y0 + i * uh), (x + fw, y0 + i * uh)] for i in range(1, H)]
            cells += [[(x + j * uw, y0), (x + j * uw, y0 + fh)] for j in range(1, W)]
            ax.add_collection(LineCollection(cells, colors="#5b7a99", linewidths=0.35, gid="cell-lines"))
        lines = [name, f"{H} x {W} tokens, C = {C}", f"{H * W:,} tokens"]
        if image_size is not None:
            ih, iw = to_pair(image_size, "image_size")
            lines.append(f"stride {ih // H}" if ih // H == iw // W else f"stride {ih // H} x {iw // W}")
        if window_size is not None:
            M = window_size
            rows, cols = -(-H // M), -(-W // M)
            for i in range(1, rows):
                ax.plot([x, x + fw], [y0 + fh - i * M * uh] * 2, color="#c0392b" if on_image else "#1b4f72",
                        linewidth=1.6 if on_image else 0.8, gid="window-line")
            for j in range(1, cols):
                ax.plot([x + j * M * uw] * 2, [y0, y0 + fh], color="#c0392b" if on_image else "#1b4f72",
                        linewidth=1.6 if on_image else 0.8, gid="window-line")
            lines.append(f"{rows * cols} window{'s' if rows * cols > 1 else ''} of {M} x {M}")
        ax.text(x + fw / 2, y0 - 0.06 * widest, "\n".join(lines), ha="center", va="top", fontsize=9,
                gid="stage-label")
        top = max(top, y0 + fh + dy)
        x += fw + dx + gap
    return x - gap, top
