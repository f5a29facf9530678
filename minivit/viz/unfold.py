"""Figures of MobileViT's unfold: every pixel coloured by its position inside its patch, and the
sequences those colours become, one sequence per position; and the same pixels as ViT's patch tokens."""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.figure import Figure

from minivit.ops.patches import patchify
from minivit.ops.unfold import mobilevit_unfold
from minivit.viz._common import (
    categorical,
    cell_lines,
    grid_position,
    label_size,
    legend_patches,
    new_figure,
    number,
    outline,
    show_labels,
    token_grid,
)


def unfold_sequences(height: int, width: int, patch_size: int | tuple[int, int]) -> torch.Tensor:
    """Which pixel each token of each sequence of `mobilevit_unfold` is.

    Returns:
        shape (P, N), P = ph*pw, int64: entry (q, n) is the row-major index (row * W + column) of the map pixel
        that is token n of sequence q.
    """
    ids = torch.arange(height * width, dtype=torch.float64).reshape(1, 1, height, width)  # a map of pixel numbers
    return mobilevit_unfold(ids, patch_size)[:, :, 0].long()  # (P, N, 1) -> (P, N)


def plot_mobilevit_unfold(
    height: int, width: int, patch_size: int | tuple[int, int], pixel: int | tuple[int, int] | None = None
) -> Figure:
    """An H x W map with each pixel coloured by the unfold sequence it goes to, and those sequences.

    A sequence holds the pixel at one position inside every patch, so the colour of a pixel is its
    position inside its patch; attention runs along a sequence, among pixels of one colour.

    Args:
        height, width: the map size, multiples of the patch size.
        patch_size: p, or (ph, pw).
        pixel: optionally one pixel (row-major index or (row, column)) whose sequence, the pixels it
            attends to, is outlined.

    Returns:
        the Figure. Top: the map; its image data (H, W) is the sequence of each pixel; every patch outlined
        (Rectangles of gid "patch") and, up to 64 patches, numbered (texts of gid "patch-number"): in a badge at
        the patch's top-left corner when a patch holds several pixels, so that no number sits on a pixel's
        centre. Bottom: the P x N sequences; its image data (P, N) is the sequence of each token (row q is all q).
    """
    sequences = unfold_sequences(height, width, patch_size)  # (P, N)
    P, N = sequences.shape
    colour_of = torch.empty(height * width, dtype=torch.long)
    colour_of[sequences.flatten()] = torch.arange(P).repeat_interleave(N)  # pixel -> its sequence
    colour_map = colour_of.reshape(height, width).numpy()
    strip = colour_of[sequences].numpy()  # (P, N): the colour of every token after unfold

    tall = P >= N  # big patches on a small map: as many sequences as tokens or more, so the strip stands beside the map
    labelled = N <= (4 if tall else 16) and P <= 16  # room to say which pixel every token is
    if tall:
        fig = new_figure(9.0, 7.0)
        top, bottom = fig.subplots(1, 2, width_ratios=[2.3, 1])
    else:
        fig = new_figure(9.0, 7.6)  # at most 760 px tall at 100 dpi: the whole figure fits on a laptop screen
        top, bottom = fig.subplots(2, 1, height_ratios=[2.3, 1])
    strip_aspect = "auto" if tall or N > 32 else "equal"
    show_labels(top, colour_map, P)
    badge = P > 1  # a patch of several pixels: its number in a badge at its top-left corner, on no pixel's centre
    token_grid(top, height, width, f"{height}x{width} map, colour = position inside the patch"
               + (", patch numbers in the corners" if badge and N <= 64 else ""))
    size = label_size(4.0, max(height, width), 0.5)
    for n in range(N):
        rows, cols = sequences[:, n] // width, sequences[:, n] % width
        r0, c0, r1, c1 = int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max())
        outline(top, r0, c0, r1, c1, gid="patch", linewidth=2)
        if N <= 64 and badge:
            top.text(c0 - 0.42, r0 - 0.42, f"patch {n}" if N <= 16 else str(n), ha="left", va="top",
                     fontsize=min(size, 9), color="white", gid="patch-number",
                     bbox=dict(boxstyle="round,pad=0.2", facecolor="black", edgecolor="none", alpha=0.8))
        elif N <= 64:
            number(top, (c0 + c1) / 2, (r0 + r1) / 2, n, size, gid="patch-number")  # one pixel is the patch

    show_labels(bottom, strip, P, aspect=strip_aspect)
    if labelled:
        size = label_size(2.2 if tall else 7.0, N, 0.6, digits=len(f"{height - 1},{width - 1}"))
        for q in range(P):
            for n in range(N):
                r, c = divmod(int(sequences[q, n]), width)
                number(bottom, n, q, f"{r},{c}", size, gid="pixel")
    gap = "\n" if tall else " "
    bottom.set_title(f"unfold: {P} sequences{gap}of N = {N} tokens,{gap}token n from patch n"
                     + (f"\n(each labelled with{gap}its pixel's row,column)" if labelled else ""))
    bottom.set_xlabel("token n =\npatch number" if tall else "token n = patch number")
    bottom.set_ylabel("sequence p")
    bottom.set_yticks(range(0, P, max(1, int(np.ceil(P / 16)))))
    bottom.set_xticks(range(0, N, max(1, int(np.ceil(N / (4 if tall else 16))))))
    cell_lines(bottom, P, N, linewidth=0.8)

    if pixel is not None:
        r, c = grid_position(pixel, height, width, "pixel")
        index = r * width + c  # the pixel's number in the map of pixel numbers that was unfolded
        p, n = torch.nonzero(sequences == index)[0].tolist()
        veil = np.ones((height, width, 4))  # white, opaque enough to fade the pixels it cannot see
        veil[..., 3] = 0.7
        veil[(sequences[p] // width).numpy(), (sequences[p] % width).numpy(), 3] = 0.0  # its sequence: clear
        top.imshow(veil, interpolation="nearest", gid="veil")
        veil = np.ones((P, N, 4))
        veil[..., 3] = 0.7
        veil[p, :, 3] = 0.0
        bottom.imshow(veil, interpolation="nearest", aspect=strip_aspect, gid="veil")
        top.plot([c], [r], marker="*", markersize=14, color="white", markeredgecolor="black", linestyle="none")
        outline(bottom, p, 0, p, N - 1, gid="same-sequence", edgecolor="black", linewidth=2.5)
        outline(bottom, p, n, p, n, gid="pixel-token", edgecolor="white", linewidth=3)
        top.set_title(f"pixel ({r}, {c}) attends to the {N} pixel{'s' if N > 1 else ''} of sequence {p}\n"
                      "(the others are faded)")

    inside = [divmod(int(sequences[p, 0]), width) for p in range(P)]  # token 0 comes from the top-left patch
    fig.legend(
        handles=legend_patches(categorical(P).colors, [f"{p}: pixel {inside[p]}" for p in range(P)]),
        loc="outside lower center" if tall else "outside right center", title="sequence: position inside the patch",
        ncols=min(P, 4) if tall else 1 if P <= 9 else 2,
    )
    return fig


def plot_vit_vs_mobilevit_tokens(height: int = 4, width: int = 4, patch_size: int | tuple[int, int] = 2) -> Figure:
    """The same map cut into tokens two ways: ViT's one token per patch, MobileViT's one token per pixel.

    Both ways put the map's pixels in the same (P, N) grid, entry (p, n) being pixel p (row-major inside the
    patch) of patch n: patchify(x)[0].T for ViT equals mobilevit_unfold(x)[:, :, 0] for MobileViT. ViT
    makes each column one token (its P pixels' channels concatenated) and attends across the N columns, in
    one sequence; MobileViT makes each cell one token and attends along each row of the grid, one sequence
    per row, P sequences.

    Args:
        height, width: the map size, multiples of the patch size.
        patch_size: p, or (ph, pw).

    Returns:
        the Figure, four axes. 0 (ViT's map): image data (H, W), the patch of each pixel; 1 (MobileViT's
        map): image data (H, W), the position of each pixel inside its patch (its sequence); both maps
        outline every patch (Rectangles of gid "patch") and number every pixel (texts of gid "pixel"); 2 (ViT's
        tokens): image data (P, N), column n all n, with a Rectangle of gid "token" around every column;
        3 (MobileViT's sequences): image data (P, N), row p all p, with a Rectangle of gid "sequence"
        around every row. In 2 and 3 the texts of gid "pixel" are the pixels' row-major indices, row by
        row: patchify's and mobilevit_unfold's, the same numbers.
    """
    ids = torch.arange(height * width, dtype=torch.float64).reshape(1, 1, height, width)  # a map of pixel numbers
    vit_grid = patchify(ids, patch_size)[0].T.long()  # (P, N): column n is token n, the pixels of patch n
    mobilevit_grid = unfold_sequences(height, width, patch_size)  # (P, N): row p is sequence p
    P, N = mobilevit_grid.shape
    position = torch.empty(height * width, dtype=torch.long)
    position[mobilevit_grid.flatten()] = torch.arange(P).repeat_interleave(N)  # pixel -> its position in the patch
    patch = torch.empty(height * width, dtype=torch.long)
    patch[vit_grid.flatten()] = torch.arange(N).repeat(P)  # pixel -> its patch

    colours = categorical(P + N).colors  # P colours for the positions, then N others for the patches
    fig = new_figure(9.4, 7.2)
    (vit_map, mv_map), (vit_tokens, mv_tokens) = fig.subplots(2, 2, height_ratios=[1.3, 1])
    size = label_size(3.6, max(height, width, N), 0.45, digits=len(str(height * width - 1)))
    for ax, labels, palette, title in (
        (vit_map, patch, colours[P:], f"ViT: one token per patch\n(colour = patch, {N} patches)"),
        (mv_map, position, colours[:P],
         f"MobileViT: one token per pixel\n(colour = position inside the patch, {P} positions)"),
    ):
        show_labels(ax, labels.reshape(height, width).numpy(), len(palette), colours=palette)
        token_grid(ax, height, width, title)
        for pixel in range(height * width):
            number(ax, pixel % width, pixel // width, pixel, size, gid="pixel")
        for n in range(N):  # the patches, outlined on both maps
            rows, cols = vit_grid[:, n] // width, vit_grid[:, n] % width
            outline(ax, int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max()), gid="patch", linewidth=2)
    for ax, grid, labels, palette, gid in (
        (vit_tokens, vit_grid, torch.arange(N).repeat(P, 1), colours[P:], "token"),
        (mv_tokens, mobilevit_grid, torch.arange(P)[:, None].repeat(1, N), colours[:P], "sequence"),
    ):
        show_labels(ax, labels.numpy(), len(palette), colours=palette)
        for p in range(P):
            for n in range(N):
                number(ax, n, p, int(grid[p, n]), size, gid="pixel")
        ax.set_xticks(range(N))
        ax.set_yticks(range(P))
        ax.set_xlabel("patch n")
        ax.set_ylabel("position p inside the patch" if gid == "token" else "sequence p\n(= position inside the patch)")
        if gid == "token":
            for n in range(N):
                outline(ax, 0, n, P - 1, n, gid=gid, linewidth=2.5)
        else:
            for p in range(P):
                outline(ax, p, 0, p, N - 1, gid=gid, linewidth=2.5)
    vit_tokens.set_title(f"patchify: 1 sequence of N = {N} tokens;\na token is a column: {P} pixels x C channels;\n"
                         "attention between the columns")
    mv_tokens.set_title(f"unfold: P = {P} sequences of N = {N} tokens;\na token is one pixel x C channels;\n"
                        "attention only along each sequence (row)")
    fig.suptitle(f"a {height}x{width} map in {N} patches of {P} pixels: the same ({P}, {N}) grid of pixels, "
                 "grouped into tokens two ways")
    return fig
