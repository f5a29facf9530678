"""Figures of the two-marks task (minivit.data.two_marks): images drawn large, each one-pixel mark ringed in
its colour and labelled with its column, so that a pair such as an image and its twin reads at a glance; the
patches that each patch may attend to under a local attention mask; the accuracy of every seed of every arm
of its experiment (minivit.experiments.two_marks)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Patch

from minivit.ops._checks import check_shape, check_tensor
from minivit.viz._common import as_image, new_figure, outline

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


SEES = ("neither mark", "the red mark", "the blue mark", "both marks")  # the category of a query patch
SEES_COLOURS = ("#2b2b2b", "#ff4d4d", "#4d8dff", "#c04dff")


def plot_reach_masks(
    masks: dict[str, torch.Tensor], red: Sequence[int], blue: Sequence[int], patch_size: int
) -> Figure:
    """What each patch of one image may attend to, under each attention mask: one panel per mask.

    Args:
        masks: panel title -> (N, N) bool mask, True where query q may attend to key k (as
            `AttentionClassifier(reach=r).attn_mask`); N a square number, the patches of a square grid.
        red, blue: the (row, column) of the red and of the blue mark in pixels.
        patch_size: p, the side of a patch in pixels.

    Returns:
        the Figure: one axes per mask in the order given, titled by its key, whose image data is the
        (side, side) grid of categories of the query patches, 0 + 1 * (may attend to the red mark's patch)
        + 2 * (may attend to the blue mark's patch), coloured by SEES_COLOURS and named in the legend
        by SEES; the marks' patches outlined, gids "red-patch" and "blue-patch".
    """
    if not isinstance(masks, dict) or not masks:
        raise ValueError(f"masks must be a non-empty dict of title -> (N, N) bool mask, got {masks!r}")
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive int, got {patch_size!r}")
    first = next(iter(masks.values()))
    side = round(first.shape[0] ** 0.5) if isinstance(first, torch.Tensor) and first.ndim == 2 else 0
    for title, mask in masks.items():
        is_tensor = isinstance(mask, torch.Tensor)
        if side == 0 or not is_tensor or mask.dtype != torch.bool or tuple(mask.shape) != (side**2, side**2):
            got = f"{mask.dtype} of shape {tuple(mask.shape)}" if is_tensor else type(mask).__name__
            raise ValueError(f"masks[{title!r}] must be an (N, N) bool tensor, N a square number and the same for "
                             f"every mask, got {got}")
    patches = {}
    for name, mark in (("red", red), ("blue", blue)):
        row, col = (int(v) for v in mark)
        if not (0 <= row < side * patch_size and 0 <= col < side * patch_size):
            raise ValueError(f"{name} must be a (row, column) inside the {side * patch_size} x {side * patch_size} "
                             f"image, got {tuple(mark)}")
        patches[name] = (row // patch_size, col // patch_size)

    key = {name: r * side + c for name, (r, c) in patches.items()}  # the marks' token numbers
    fig = new_figure(4.0 * len(masks) + 1.6, 4.3)
    axes = np.atleast_1d(fig.subplots(1, len(masks)))
    for ax, (title, mask) in zip(axes, masks.items()):
        sees = mask[:, key["red"]].long() + 2 * mask[:, key["blue"]].long()  # (N,): one category per query
        ax.imshow(sees.reshape(side, side).numpy(), cmap=ListedColormap(SEES_COLOURS), vmin=-0.5, vmax=3.5,
                  interpolation="nearest")
        for k in range(1, side):
            ax.axvline(k - 0.5, color="0.6", linewidth=0.6)
            ax.axhline(k - 0.5, color="0.6", linewidth=0.6)
        for name, (r, c) in patches.items():
            outline(ax, r, c, r, c, gid=f"{name}-patch", edgecolor="white", linewidth=2.5)
            ax.text(c, r, name[0].upper(), color="white", fontsize=11, ha="center", va="center", weight="bold")
        ax.set_title(title, fontsize=11)
        ax.set_xticks(range(side))
        ax.set_yticks(range(side))
        ax.set_xlabel("patch column")
    axes[0].set_ylabel("patch row")
    fig.legend(handles=[Patch(color=c, label=f"attends to {s}") for c, s in zip(SEES_COLOURS, SEES)],
               loc="outside right center", fontsize=9, title="query patch", title_fontsize=9)
    return fig


def plot_seed_accuracies(
    runs: Sequence[dict], values: Sequence[str], titles: Sequence[str], baselines: Sequence[float] | None = None
) -> Figure:
    """Every run's accuracy as a dot, one row per arm (in the order of first appearance), one panel per value.

    Args:
        runs: rows with an "arm", a "seed" and a number in [0, 1] under each of `values` (the rows of
            course/results/two_marks.csv).
        values: the columns to draw, one panel each, e.g. ("test_accuracy", "train_accuracy").
        titles: one panel title per value.
        baselines: one number in [0, 1] per value, the score of always answering the more common class of
            that panel's images; None draws chance, 0.5, in every panel.

    Returns:
        the Figure: one axes per value; in each, one Line2D per arm (gid "arm") whose x data are that
        arm's values in the order of the runs and y data the arm's row number (0 at the top; the y tick
        labels are the arms) plus 0.15 * (k - (n - 1) / 2) for its k-th of n runs, so that equal values
        stay apart; and a dashed vertical line at the panel's baseline (gid "baseline"), named in the
        x label ("chance, 0.5" or "more common class, 0.546").
    """
    if not runs:
        raise ValueError("runs must hold at least one row, got none")
    if isinstance(values, str) or not values or isinstance(titles, str) or len(titles) != len(values):
        raise ValueError(
            f"values and titles must be sequences of the same non-zero length, got {values!r} and {titles!r}")
    for value in values:
        bad = [row.get(value) for row in runs if not isinstance(row.get(value), (int, float))
               or not 0 <= row[value] <= 1]
        if bad:
            raise ValueError(f"every run needs a number in [0, 1] under {value!r}, got {bad[0]!r}")
    if baselines is None:
        lines = [(0.5, "chance, 0.5")] * len(values)
    elif (isinstance(baselines, str) or len(baselines) != len(values)
          or not all(isinstance(b, (int, float)) and 0 <= b <= 1 for b in baselines)):
        raise ValueError(f"baselines must hold one number in [0, 1] per value ({len(values)}), got {baselines!r}")
    else:
        lines = [(b, f"more common class, {b:.3f}") for b in baselines]
    arms = list(dict.fromkeys(row["arm"] for row in runs))
    fig = new_figure(3.8 * len(values) + 2.2, 0.45 * len(arms) + 1.4)
    axes = np.atleast_1d(fig.subplots(1, len(values), sharey=True))
    for ax, value, title, (baseline, name) in zip(axes, values, titles, lines):
        ax.axvline(baseline, color="0.5", linestyle="--", linewidth=1, gid="baseline")
        for y, arm in enumerate(arms):
            xs = [row[value] for row in runs if row["arm"] == arm]
            spread = [y + 0.15 * (k - (len(xs) - 1) / 2) for k in range(len(xs))]  # seeds side by side
            ax.plot(xs, spread, "o", color="black", markerfacecolor="none", markersize=6, gid="arm")
        ax.set_title(title, fontsize=11)
        ax.set_xlim(0.4, 1.03)
        ax.set_xlabel(f"accuracy (one dot per seed)\ndashed: {name}")
        ax.grid(axis="x", color="0.9")
    axes[0].set_yticks(range(len(arms)), arms)
    axes[0].set_ylim(len(arms) - 0.5, -0.5)
    return fig
