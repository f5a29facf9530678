"""Figure of the patch partition: an image cut into patches, numbered in token order, and the
tokens they become."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from minivit.ops._checks import to_pair
from minivit.ops.patches import patchify
from minivit.viz._common import as_batch, as_image, label_size, new_figure, number, outline

MARK = "#ff00ff"  # the highlighted token: magenta, a colour that photographs rarely contain


def patch_boxes(height: int, width: int, patch_size: int | tuple[int, int]) -> torch.Tensor:
    """The pixel rectangle of every token of `patchify`, in token order.

    Returns:
        shape (N, 4): (row0, col0, row1, col1), inclusive, of the patch that becomes token n.
    """
    ph, pw = to_pair(patch_size, "patch_size")
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    coords = torch.stack([rows, cols])[None].float()  # (1, 2, H, W): a 2-channel "image" of coordinates
    tokens = patchify(coords, patch_size).reshape(-1, ph * pw, 2)  # (N, ph*pw, 2), values (row, col, channel)
    return torch.cat([tokens.min(1).values, tokens.max(1).values], dim=1).long()


CHANNEL_TINTS = ("#f6c4c4", "#c4ebc4", "#c4d4f6")  # R, G, B: the channel of each number in the zoomed strip


def plot_patches(
    image: object, patch_size: int | tuple[int, int], highlight: int | None = None, zoom: int | None = None
) -> Figure:
    """An image cut into patches numbered in token order, and the token sequence patchify makes of it.

    Args:
        image: (H, W, C) array (e.g. from skimage.data) or (C, H, W) tensor; H, W multiples of the patch size.
        patch_size: p, or (ph, pw).
        highlight: a token number n to mark in both panels (its patch on the left, its row on the right), or None.
        zoom: with `highlight`, a number of pixels k: a strip below spells out the first k pixels of row n as the
            k*C numbers patchify lays out, in (row, column, channel) order; None for no strip.

    Returns:
        the Figure. Left: the image, each patch a Rectangle with gid "patch" and a Text with gid
        "patch-number" (0..N-1, row-major). Right: the tokens, one row per token, its ph*pw pixels in
        patchify's order; that image's data equals patchify(image).reshape(N, ph*pw, C). With `highlight`,
        one Rectangle with gid "highlight" in each panel: around patch n, and around row n. With `zoom`, a third
        Axes: one Rectangle with gid "number" per number (x = its index in row n) whose Text (gid "value") is
        the value, and one Rectangle with gid "pixel" per pixel, filled with the pixel's colour.
    """
    batch = as_batch(image)  # (1, C, H, W)
    _, C, H, W = batch.shape
    ph, pw = to_pair(patch_size, "patch_size")
    tokens = patchify(batch, patch_size)[0]  # (N, ph*pw*C), checks the sizes
    N = tokens.shape[0]
    if highlight is not None and not 0 <= highlight < N:
        raise ValueError(f"highlight must be a token number in 0..{N - 1}, got {highlight}")
    if zoom is not None and (
        highlight is None or isinstance(zoom, bool) or not isinstance(zoom, int) or not 0 < zoom <= ph * pw
    ):
        raise ValueError(
            f"zoom must be an int in 1..{ph * pw} with a highlight, got zoom={zoom!r}, highlight={highlight!r}"
        )
    boxes = patch_boxes(H, W, patch_size)
    picture = as_image(image)
    rows_of_tokens = tokens.reshape(N, ph * pw, C).numpy()  # one token per row, (N, P, C)
    shown = as_image(rows_of_tokens)  # (N, P, 3) colours or (N, P) grey, as the picture is drawn

    if zoom is None:
        fig = new_figure(11.0, 5.6)
        left, right = fig.subplots(1, 2, width_ratios=[1.2, 1])
    else:
        fig = new_figure(11.0, 7.6)
        grid = fig.add_gridspec(2, 2, width_ratios=[1.2, 1], height_ratios=[5.6, 1.6])
        left, right = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    left.imshow(picture, cmap="gray", extent=(-0.5, W - 0.5, H - 0.5, -0.5))
    left.set_title(f"{H}x{W} image, {ph}x{pw} patches: N = {N} tokens")
    left.set_xlabel("pixel column")
    left.set_ylabel("pixel row")
    size = label_size(4.4, max(H // ph, W // pw), 0.7, digits=len(str(N - 1)))
    for n, (r0, c0, r1, c1) in enumerate(boxes.tolist()):
        outline(left, r0, c0, r1, c1, gid="patch", edgecolor="white", linewidth=1.2)
        number(left, (c0 + c1) / 2, (r0 + r1) / 2, n, size, gid="patch-number")

    right.imshow(shown, cmap="gray", aspect="auto", interpolation="nearest")
    right.set_title(f"patchify: ({N}, {ph}*{pw}*{C}) tokens,\none row per patch")
    right.set_xlabel(f"pixel inside the patch (row-major, {ph * pw} pixels x {C} channels)")
    right.set_ylabel("token n")
    step = max(1, int(np.ceil(N / 12)))
    right.set_yticks(range(0, N, step))
    if highlight is not None:
        r0, c0, r1, c1 = boxes[highlight].tolist()
        outline(left, r0, c0, r1, c1, gid="highlight", edgecolor=MARK, linewidth=3.5)
        outline(right, highlight, 0, highlight, ph * pw - 1, gid="highlight", edgecolor=MARK, linewidth=2.5)
        ticks = sorted(set(range(0, N, step)) | {highlight})
        right.set_yticks(ticks)
        right.get_yticklabels()[ticks.index(highlight)].set_color(MARK)
        right.set_title(f"patchify: ({N}, {ph}*{pw}*{C}) tokens,\none row per patch; token {highlight} outlined")
    if zoom is not None:
        _zoom_strip(fig.add_subplot(grid[1, :]), tokens[highlight], highlight, zoom, (ph, pw), C)
    fig.suptitle("patch partition: patches numbered in token order (left to right, then top to bottom)")
    return fig


def _zoom_strip(ax, row: torch.Tensor, n: int, zoom: int, patch: tuple[int, int], C: int) -> None:
    """The first `zoom` pixels of patchify's row n, spelled out as their zoom*C numbers."""
    ph, pw = patch
    names = "RGB" if C == 3 else [f"c{c}" for c in range(C)]
    values = row[: zoom * C].tolist()  # (zoom*C,): patchify's own numbers, in its order
    colours = as_image(row[: zoom * C].reshape(1, zoom, C).numpy())  # (1, zoom, 3) or (1, zoom), as displayed
    for k, value in enumerate(values):
        tint = CHANNEL_TINTS[k % C] if C == 3 else "#e6e6e6"
        ax.add_patch(Rectangle((k, 0), 1, 1, facecolor=tint, edgecolor="black", linewidth=0.8, gid="number"))
        ax.text(k + 0.5, 0.5, f"{value:.2f}", ha="center", va="center", fontsize=10, gid="value")
        ax.text(k + 0.5, 1.25, names[k % C], ha="center", va="center", fontsize=10)
    for j in range(zoom):
        colour = colours[0, j] if colours.ndim == 3 else [colours[0, j]] * 3
        ax.add_patch(
            Rectangle(
                (j * C + 0.15, 1.5), C - 0.3, 0.7, facecolor=colour, edgecolor="black", linewidth=0.8, gid="pixel"
            )
        )
        ax.text(j * C + C / 2, 2.5, f"pixel ({j // pw}, {j % pw})", ha="center", va="center", fontsize=10)
    ax.text(zoom * C + 0.3, 0.5, f"... {ph * pw * C:,} numbers in all", ha="left", va="center", fontsize=10)
    ax.set_xlim(-0.2, zoom * C + 4.5)
    ax.set_ylim(-0.1, 2.8)
    ax.axis("off")
    ax.set_title(
        f"row {n} of patchify, zoomed: its first {zoom} pixels (of {ph * pw:,}) as {zoom * C} numbers,"
        f" in (row, column, channel) order inside the patch",
        fontsize=11,
    )
