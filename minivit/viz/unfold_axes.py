"""Diagram of the axes of MobileViT's unfold (notebook 07): a (B, C, H, W) map split into
(B, C, gh, ph, gw, pw), permuted to (B, ph, pw, gh, gw, C) and merged into (B*P, N, C).

The sizes on the boxes are not typed in: `unfold_axes` runs the three steps on a tensor of the given
shape on PyTorch's `meta` device (shapes, no numbers) and reads the shape after each one.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from minivit.ops.unfold import mobilevit_unfold
from minivit.viz._common import new_figure
from minivit.viz.diagram import arrow

SPLIT = ("B", "C", "gh", "ph", "gw", "pw")  # x.reshape(B, C, gh, ph, gw, pw)
MOVED = ("B", "ph", "pw", "gh", "gw", "C")  # where inside the patch first, then which patch, channels last
# Each axis of every step, as columns 0..5 of the diagram it spans (first, last).
COLUMNS = {
    "input": {"B": (0, 0), "C": (1, 1), "H": (2, 3), "W": (4, 5)},
    "split": {name: (k, k) for k, name in enumerate(SPLIT)},
    "moved": {name: (k, k) for k, name in enumerate(MOVED)},
    "merged": {"B*P": (0, 2), "N": (3, 4), "C": (5, 5)},
}
# Colour by role: the batch, which patch, where inside the patch, the channels.
ROLE = {"B": "#d9d9d9", "C": "#b8e0b0", "gh": "#a9c8ec", "gw": "#a9c8ec", "H": "#ffffff", "W": "#ffffff",
        "ph": "#f7c59f", "pw": "#f7c59f", "B*P": "#f7c59f", "N": "#a9c8ec"}


class AxesStep(NamedTuple):
    """One step of the unfold: the code that makes it, its axes' names and the sizes they have."""

    code: str
    names: tuple[str, ...]
    sizes: tuple[int, ...]


def unfold_axes(shape: tuple[int, int, int, int], patch_size: int | tuple[int, int]) -> list[AxesStep]:
    """The axes of `mobilevit_unfold` on a map of `shape`, step by step, read by running the steps.

    Args:
        shape: (B, C, H, W) of the map; H and W multiples of the patch.
        patch_size: p, or (ph, pw).

    Returns:
        four AxesSteps, "input" (B, C, H, W), "split" (B, C, gh, ph, gw, pw), "moved"
        (B, ph, pw, gh, gw, C) and "merged" (B*P, N, C), in that order: the steps of `mobilevit_unfold`,
        whose output shape the last one's sizes are.
    """
    if not (isinstance(shape, (tuple, list, torch.Size)) and len(shape) == 4):
        raise ValueError(f"shape must be (B, C, H, W), got {shape!r}")
    x = torch.empty(tuple(shape), device="meta")  # (B, C, H, W): shapes only
    mobilevit_unfold(x, patch_size)  # refuses a patch that does not tile the map, as the model would
    ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else tuple(patch_size)
    B, C, H, W = x.shape
    split = x.reshape(B, C, H // ph, ph, W // pw, pw)  # (B, C, gh, ph, gw, pw)
    order = tuple(SPLIT.index(name) for name in MOVED)  # (0, 3, 5, 2, 4, 1)
    moved = split.permute(order)  # (B, ph, pw, gh, gw, C)
    merged = moved.reshape(B * ph * pw, (H // ph) * (W // pw), C)  # (B*P, N, C)
    return [
        AxesStep("x, the map", ("B", "C", "H", "W"), tuple(x.shape)),
        AxesStep(f"x.reshape({', '.join(map(str, split.shape))})", SPLIT, tuple(split.shape)),
        AxesStep(f".permute{order}", MOVED, tuple(moved.shape)),
        AxesStep(f".reshape({', '.join(map(str, merged.shape))})", ("B*P", "N", "C"), tuple(merged.shape)),
    ]


def _axis_box(ax: Axes, columns: tuple[int, int], y: float, name: str, size: int, step: str) -> None:
    left, right = columns[0] - 0.42, columns[1] + 0.42
    if step == "merged":  # a merged axis keeps the colours of the axes it merges: B*P is grey, then orange
        for k in range(columns[0], columns[1] + 1):
            lo, hi = max(left, k - 0.5), min(right, k + 0.5)
            ax.add_patch(Rectangle((lo, y - 0.3), hi - lo, 0.6, facecolor=ROLE[MOVED[k]], edgecolor="none",
                                   gid="merged-fill"))
        face = "none"
    else:
        face = ROLE[name]
    ax.add_patch(Rectangle((left, y - 0.3), right - left, 0.6, facecolor=face, edgecolor="black",
                           linewidth=1.2, gid=f"{step}-axis"))
    ax.text((left + right) / 2, y, f"{name} = {size}", ha="center", va="center", fontsize=11, gid=f"{step}-label")


def plot_unfold_axes(
    shape: tuple[int, int, int, int] = (2, 64, 32, 32), patch_size: int | tuple[int, int] = 2
) -> Figure:
    """The axes of `mobilevit_unfold` on a map of `shape`, one row of boxes per step, top to bottom.

    Row 1 is the map (B, C, H, W); row 2 splits H into (gh, ph) and W into (gw, pw); arrows from row 2
    to row 3 show the permute to (B, ph, pw, gh, gw, C); row 4 merges (B, ph, pw) into B*P and (gh, gw)
    into N. Each box reads "name = size", the sizes from `unfold_axes`; beside each row, the code and the
    shape it gives. Colours: grey the batch, blue which patch, orange where inside the patch, green the
    channels; a merged box is filled, column by column, with the colours of the axes it merges (B*P grey
    under B, orange under ph and pw).

    Args:
        shape: (B, C, H, W) of the map; H and W multiples of the patch.
        patch_size: p, or (ph, pw).

    Returns:
        the Figure. For each step s in "input", "split", "moved", "merged", its boxes are Rectangles
        with gid "s-axis" and their Texts gid "s-label", left to right (the merged row's boxes are outlines over
        one fill per merged axis, gid "merged-fill", left to right); the code beside a row has gid
        "code"; the six permute arrows gid "permute", in the order of the axes of row 2.
    """
    steps = unfold_axes(shape, patch_size)
    fig = new_figure(9.4, 4.6)
    ax = fig.subplots()
    rows = dict(zip(COLUMNS, (0.0, 1.3, 3.3, 4.6)))  # y of each row, downwards; room for the permute's arrows
    for (step, y), axes_step in zip(rows.items(), steps):
        for name, size in zip(axes_step.names, axes_step.sizes):
            _axis_box(ax, COLUMNS[step][name], y, name, size, step)
        ax.text(6.0, y, f"{axes_step.code}\nshape {axes_step.sizes}", ha="left", va="center", fontsize=10,
                family="monospace", gid="code")
    for name in ("H", "W"):  # the split: each side becomes (which patch, where inside the patch)
        first, last = COLUMNS["input"][name]
        for k in (first, last):
            arrow(ax, (k, rows["input"] + 0.3), (k, rows["split"] - 0.3), gid="split")
    for name in SPLIT:  # the permute: every axis to its new place
        start, end = COLUMNS["split"][name][0], COLUMNS["moved"][name][0]
        arrow(ax, (start, rows["split"] + 0.3), (end, rows["moved"] - 0.3), gid="permute", linewidth=1.6)
    for first, last in COLUMNS["merged"].values():  # the merge: neighbouring axes become one
        for k in range(first, last + 1):
            arrow(ax, (k, rows["moved"] + 0.3), (k, rows["merged"] - 0.3), gid="merge")
    ax.text(-0.6, (rows["split"] + rows["moved"]) / 2, "permute", ha="right", va="center", fontsize=10,
            style="italic")
    ax.text(-0.6, (rows["input"] + rows["split"]) / 2, "split", ha="right", va="center", fontsize=10, style="italic")
    ax.text(-0.6, (rows["moved"] + rows["merged"]) / 2, "merge", ha="right", va="center", fontsize=10, style="italic")
    ax.set_xlim(-1.6, 10.6)
    ax.set_ylim(rows["merged"] + 0.5, rows["input"] - 0.5)
    ax.axis("off")
    fig.suptitle("mobilevit_unfold's axes: grey batch, blue which patch, orange where inside the patch, "
                 "green channels", fontsize=11)
    return fig
