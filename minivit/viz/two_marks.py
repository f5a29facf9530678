"""Figures of the two-marks task (minivit.data.two_marks): images drawn large, each one-pixel mark ringed in
its colour and labelled with its column (and, optionally, the window a conv feature sees around it), so that a
pair such as an image and its twin reads at a glance; the patches that each patch may attend to under a local
attention mask; the weight each patch receives from each head of a trained model; the accuracy of every seed
of every arm of its experiment (minivit.experiments.two_marks); and the attention model as a diagram.

    plot_two_marks(images, red, blue, titles)       the images, marks ringed, optional patch grid and windows
    plot_reach_masks(masks, red, blue, patch_size)  which mark patches each patch may attend to
    plot_received_attention(image, received, ...)   the image and the weight each patch receives, per head
    plot_seed_accuracies(runs, values, titles)      one dot per run, one row per arm
    plot_outcome_grid(runs, placement, rows, ...)    each arm in its cell of a reach x position grid, runs coloured
    plot_attention_classifier(model, x)             AttentionClassifier from image to logits, shapes from the code
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Patch, Rectangle

from minivit.models.toy_models import AttentionClassifier
from minivit.ops._checks import check_shape, check_tensor
from minivit.viz._common import CONTINUOUS, as_image, new_figure, outline
from minivit.viz.diagram import Step, output_shapes, plot_flow

RING = {"red": "#ff4d4d", "blue": "#4d8dff"}  # lighter than the marks, to stand out on black
OUTCOME = {"solved": "#1a9850", "part of the way": "#fdae61", "not solved": "0.85"}  # readable in grey too


def plot_two_marks(
    images: torch.Tensor,
    red: torch.Tensor,
    blue: torch.Tensor,
    titles: Sequence[str],
    patch_size: int | None = None,
    window: int | None = None,
) -> Figure:
    """Images of the two-marks task side by side, each about 4 inches wide, with each mark ringed.

    Args:
        images: (B, 3, H, W), 1 <= B <= 3, values in [0, 1] (black except the marks).
        red, blue: (B, 2) int, the (row, column) of the red and of the blue mark of each image.
        titles: B strings, one above each image.
        patch_size: p, to draw the p x p patch grid in thin grey lines; None draws no grid.
        window: an odd side k, to draw the k x k window centred on each mark (what a conv feature with a k x k
            receptive field sees around it) as a dashed square in the mark's colour; None draws none.

    Returns:
        the Figure: one axes per image in batch order, its image data as_image(images[b]); in axes b a
        Circle with gid "red-mark" centred on (column, row) of red[b] and one with gid "blue-mark" on
        blue[b], each beside a Text with gid "mark-column" reading "red, column c" / "blue, column c";
        the axes title is titles[b]. With `window`, each axes also holds a Rectangle with gid "red-window"
        and one with gid "blue-window", of side k pixels, centred on the mark's pixel.
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
    if window is not None and (isinstance(window, bool) or not isinstance(window, int) or window < 1
                               or window % 2 == 0):
        raise ValueError(f"window must be None or an odd positive int, got {window!r}")

    fig = new_figure(4.2 * B, 4.6)
    axes = np.atleast_1d(fig.subplots(1, B))
    for b, ax in enumerate(axes):
        ax.imshow(as_image(images[b]), interpolation="nearest")
        if patch_size is not None:
            for k in range(patch_size, W, patch_size):
                ax.axvline(k - 0.5, color="0.35", linewidth=0.6)
            for k in range(patch_size, H, patch_size):
                ax.axhline(k - 0.5, color="0.35", linewidth=0.6)
        for name, marks, other in (("red", red, blue), ("blue", blue, red)):
            row, col = (int(v) for v in marks[b])
            ax.add_patch(Circle((col, row), 1.6, fill=False, edgecolor=RING[name], linewidth=2, gid=f"{name}-mark"))
            if window is None:
                above, gap = row > H / 2, 2.6  # the label goes on the side of the mark with more room
            else:  # outside the window, on the side away from the other mark
                half = window // 2
                outline(ax, row - half, col - half, row + half, col + half, gid=f"{name}-window",
                        edgecolor=RING[name], linewidth=1.4, linestyle="--")
                above, gap = row < int(other[b][0]) or (row == int(other[b][0]) and row > H / 2), max(2.6, half + 1.0)
            ax.text(col, row + (-gap if above else gap), f"{name}, column {col}", color=RING[name], fontsize=10,
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
    runs: Sequence[dict], values: Sequence[str], titles: Sequence[str], baselines: Sequence[float] | None = None,
    bands: Sequence[float] = (),
) -> Figure:
    """Every run's accuracy as a dot, one row per arm (in the order of first appearance), one panel per value.

    Args:
        runs: rows with an "arm", a "seed" and a number in [0, 1] under each of `values` (the rows of
            course/results/two_marks.csv).
        values: the columns to draw, one panel each, e.g. ("test_accuracy", "train_accuracy").
        titles: one panel title per value.
        baselines: one number in [0, 1] per value, the score of always answering the more common class of
            that panel's images; None draws chance, 0.5, in every panel.
        bands: accuracies in [0, 1] that sort the runs into bands (e.g. 0.6 and 0.95), each drawn as a
            dotted vertical line in every panel and named in the x label.

    Returns:
        the Figure: one axes per value; in each, one Line2D per arm (gid "arm") whose x data are that
        arm's values in the order of the runs and y data the arm's row number (0 at the top; the y tick
        labels are the arms) plus 0.15 * (k - (n - 1) / 2) for its k-th of n runs, so that equal values
        stay apart; and a dashed vertical line at the panel's baseline (gid "baseline"), named in the
        x label ("chance, 0.5" or "more common class, 0.546"); one dotted vertical line (gid "band") per
        entry of `bands`.
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
    if isinstance(bands, str) or not all(isinstance(b, (int, float)) and 0 <= b <= 1 for b in bands):
        raise ValueError(f"bands must be numbers in [0, 1], got {bands!r}")
    dotted = "" if not bands else "\ndotted: bands at " + ", ".join(f"{b:g}" for b in bands)
    arms = list(dict.fromkeys(row["arm"] for row in runs))
    fig = new_figure(3.8 * len(values) + 2.2, 0.45 * len(arms) + 1.4)
    axes = np.atleast_1d(fig.subplots(1, len(values), sharey=True))
    for ax, value, title, (baseline, name) in zip(axes, values, titles, lines):
        ax.axvline(baseline, color="0.5", linestyle="--", linewidth=1, gid="baseline")
        for band in bands:
            ax.axvline(band, color="#b03a2e", linestyle=":", linewidth=1.2, gid="band")
        for y, arm in enumerate(arms):
            xs = [row[value] for row in runs if row["arm"] == arm]
            spread = [y + 0.15 * (k - (len(xs) - 1) / 2) for k in range(len(xs))]  # seeds side by side
            ax.plot(xs, spread, "o", color="black", markerfacecolor="none", markersize=6, gid="arm")
        ax.set_title(title, fontsize=11)
        ax.set_xlim(0.4, 1.03)
        ax.set_xlabel(f"accuracy (one dot per seed)\ndashed: {name}{dotted}")
        ax.grid(axis="x", color="0.9")
    axes[0].set_yticks(range(len(arms)), arms)
    axes[0].set_ylim(len(arms) - 0.5, -0.5)
    return fig


def plot_outcome_grid(
    runs: Sequence[dict], placement: dict[str, tuple[str, str]], rows: Sequence[str], columns: Sequence[str],
    part_of_the_way: float, solved: float = 0.95, value: str = "test_accuracy",
    row_title: str = "", column_title: str = "",
) -> Figure:
    """Each arm in its cell of a grid (e.g. reach x absolute position), with one square per run coloured by
    its outcome: *solved* above `solved`, *part of the way* above `part_of_the_way`, else *not solved*.

    Args:
        runs: rows with an "arm", a "seed" and a number in [0, 1] under `value` (the rows of
            course/results/two_marks.csv).
        placement: arm -> (row name, column name), one entry for every arm of `runs`.
        rows, columns: the names of the grid's rows (top to bottom) and columns (left to right).
        part_of_the_way, solved: the two thresholds, 0 <= part_of_the_way < solved <= 1.
        value: the column of `runs` that is sorted.
        row_title, column_title: what the rows and the columns vary (e.g. "reach"), written beside them.

    Returns:
        the Figure: one axes; per arm a text (gid "arm") in its cell, followed by one Rectangle per run
        (gid "run", in the order of the runs) whose face colour is OUTCOME[its outcome]; a legend.
    """
    if not runs:
        raise ValueError("runs must hold at least one row, got none")
    bad = [row.get(value) for row in runs if not isinstance(row.get(value), (int, float)) or not 0 <= row[value] <= 1]
    if bad:
        raise ValueError(f"every run needs a number in [0, 1] under {value!r}, got {bad[0]!r}")
    if not 0 <= part_of_the_way < solved <= 1:
        raise ValueError(f"need 0 <= part_of_the_way < solved <= 1, got {part_of_the_way!r} and {solved!r}")
    arms = list(dict.fromkeys(row["arm"] for row in runs))
    missing = [arm for arm in arms if arm not in placement]
    if missing:
        raise ValueError(f"placement must give a cell for every arm, got none for {missing[0]!r}")
    wrong = [cell for cell in placement.values() if cell[0] not in rows or cell[1] not in columns]
    if wrong:
        raise ValueError(f"placement must name one of rows {list(rows)} and one of columns {list(columns)}, "
                         f"got {wrong[0]!r}")
    per_cell = {(r, c): [arm for arm in arms if placement[arm] == (r, c)] for r in rows for c in columns}
    slots = max(2, max(len(v) for v in per_cell.values()))  # arms stacked in a cell, one line each
    fig = new_figure(4.2 * len(columns) + 2.4, 0.42 * slots * len(rows) + 1.8)
    ax = fig.subplots()
    for k in range(len(rows) + 1):
        ax.axhline(k, color="0.4", linewidth=1)
    for k in range(len(columns) + 1):
        ax.axvline(k, color="0.4", linewidth=1)
    for (r, c), cell_arms in per_cell.items():
        y0, x0 = rows.index(r), columns.index(c)
        for k, arm in enumerate(cell_arms):
            y = y0 + (k + 0.5) / slots + (slots - len(cell_arms)) / (2 * slots)  # centred in the cell
            ax.text(x0 + 0.04, y, arm, va="center", fontsize=9, gid="arm")
            for s, row in enumerate(row for row in runs if row["arm"] == arm):
                outcome = ("solved" if row[value] > solved else "part of the way" if row[value] > part_of_the_way
                           else "not solved")
                ax.add_patch(Rectangle((x0 + 0.68 + 0.06 * s, y - 0.28 / slots), 0.05, 0.56 / slots,
                                       facecolor=OUTCOME[outcome], edgecolor="0.3", linewidth=0.6, gid="run"))
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    ax.set_xticks([k + 0.5 for k in range(len(columns))], columns)
    ax.set_yticks([k + 0.5 for k in range(len(rows))], rows)
    ax.set_xlabel(column_title, fontsize=11)
    ax.set_ylabel(row_title, fontsize=11)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.legend(handles=[Patch(facecolor=colour, edgecolor="0.3", label=name) for name, colour in OUTCOME.items()],
              loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, frameon=False,
              title=f"one square per seed: solved above {solved:g}, part of the way above {part_of_the_way:g}")
    return fig


def plot_received_attention(
    image: torch.Tensor, received: torch.Tensor, red: Sequence[int], blue: Sequence[int], patch_size: int
) -> Figure:
    """One image of the two-marks task and, for each head, the weight each patch receives, in one row.

    Args:
        image: (3, H, W), values in [0, 1].
        received: (nh, N), 1 <= nh <= 4: for each head, the weight each key patch receives (e.g. the
            attention weights averaged over the queries), N = (H / p) * (W / p) in row-major order.
        red, blue: the (row, column) of the red and of the blue mark in pixels.
        patch_size: p, the side of a patch in pixels.

    Returns:
        the Figure: axes 0 the image (its data as_image(image)) with each mark ringed (gids "red-mark",
        "blue-mark"); axes 1 + h the (H / p, W / p) grid received[h], titled "head h", on one colour scale
        from 0 to the largest weight of all heads, with the marks' patches outlined (gids "red-patch",
        "blue-patch"); one colorbar.
    """
    check_shape(image, "image", "(3, H, W)", (3, None, None))
    _, H, W = image.shape
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1 or H % patch_size \
            or W % patch_size:
        raise ValueError(f"patch_size must be a positive int that divides {H} x {W}, got {patch_size!r}")
    rows, cols = H // patch_size, W // patch_size
    check_tensor(received, "received", "(nh, N)")
    if received.ndim != 2 or received.shape[1] != rows * cols or not 1 <= received.shape[0] <= 4:
        raise ValueError(f"received must have shape (nh, N) = (nh, {rows * cols}) with 1 <= nh <= 4, "
                         f"got shape {tuple(received.shape)}")
    marks = {}
    for name, mark in (("red", red), ("blue", blue)):
        row, col = (int(v) for v in mark)
        if not (0 <= row < H and 0 <= col < W):
            raise ValueError(f"{name} must be a (row, column) inside the {H} x {W} image, got {tuple(mark)}")
        marks[name] = (row, col)
    nh = received.shape[0]
    grids = received.detach().float().reshape(nh, rows, cols).numpy()
    high = float(grids.max())

    fig = new_figure(3.6 * (nh + 1) + 0.8, 3.9)
    axes = fig.subplots(1, nh + 1)
    axes[0].imshow(as_image(image), interpolation="nearest")
    for name, (row, col) in marks.items():
        axes[0].add_patch(Circle((col, row), 1.6, fill=False, edgecolor=RING[name], linewidth=2, gid=f"{name}-mark"))
    axes[0].set_title("the image, marks ringed", fontsize=11)
    axes[0].set_xlabel("pixel column")
    axes[0].set_ylabel("pixel row")
    for h, ax in enumerate(axes[1:]):
        shown = ax.imshow(grids[h], cmap=CONTINUOUS, vmin=0, vmax=high, interpolation="nearest")
        for name, (row, col) in marks.items():
            r, c = row // patch_size, col // patch_size
            outline(ax, r, c, r, c, gid=f"{name}-patch", edgecolor=RING[name], linewidth=2.5)
        ax.set_title(f"head {h}", fontsize=11)
        ax.set_xlabel("patch column")
        ax.set_ylabel("patch row")
    fig.colorbar(shown, ax=list(axes[1:]), shrink=0.85, label="weight received (mean over the queries)")
    return fig


def plot_attention_classifier(model: AttentionClassifier, x: torch.Tensor) -> Figure:
    """`AttentionClassifier` from image to logits, top to bottom, each box with the shape of what it outputs,
    read by running the model's own modules on `x`: the patch embedding (a p x p conv of stride p), the
    tokens, the position embedding, the block's LayerNorm, attention, residual add, LayerNorm, MLP and
    residual add, the final LayerNorm, the mean over the tokens and the Linear head.

    Args:
        model: a minivit AttentionClassifier (any reach, with or without a position embedding).
        x: its input, shape (B, C, H, W), H = W = model.image_size.

    Returns:
        the Figure of `plot_flow`: 13 boxes with gid "step" (image, patch_embed, flatten, position embedding,
        block.norm1, block.attn, add, block.norm2, block.mlp, add, norm, mean, head), each labelled with its
        output shape; two residual connections with gid "skip" (into the two adds); the block's 6 boxes
        bracketed on the left by a Line2D with gid "block-bracket".
    """
    if not isinstance(model, AttentionClassifier):
        raise TypeError(f"model must be a minivit AttentionClassifier, got {type(model).__name__}")
    model.tokens(x)  # checks x's shape against the position embedding
    block = model.block
    names = ["patch_embed", "block.norm1", "block.attn.proj", "block.norm2", "block.mlp", "norm", "head"]
    shapes = output_shapes(model, x, names)
    B, D, gh, gw = shapes["patch_embed"]
    tokens = (B, gh * gw, D)
    p = model.patch_embed.kernel_size[0]
    nh, fc1 = block.attn.num_heads, block.mlp.fc1
    reach = "every patch" if model.reach is None else f"masked: reach {model.reach}"
    position = ("add the position embedding (learned, N x D)" if model.pos_embed is not None
                else "no position embedding: a set of tokens")
    steps = [
        Step(f"image, {x.shape[-2]} x {x.shape[-1]} pixels", tuple(x.shape), "tensor"),
        Step(f"patch_embed: Conv2d {p} x {p}, stride {p}, {model.patch_embed.in_channels} -> {D}",
             shapes["patch_embed"], "layer"),
        Step(f"flatten: {gh} x {gw} = {gh * gw} tokens of D = {D}", tokens, "op"),
        Step(position, tokens, "op"),
        Step(f"block.norm1: LayerNorm({D})", shapes["block.norm1"], "norm"),
        Step(f"block.attn: self-attention, nh = {nh}, {reach}", shapes["block.attn.proj"], "attention"),
        Step("add: residual", shapes["block.attn.proj"], "op"),
        Step(f"block.norm2: LayerNorm({D})", shapes["block.norm2"], "norm"),
        Step(f"block.mlp: Linear({D}, {fc1.out_features}), {type(block.mlp.act).__name__}, "
             f"Linear({fc1.out_features}, {D})", shapes["block.mlp"], "layer"),
        Step("add: residual", shapes["block.mlp"], "op"),
        Step(f"norm: LayerNorm({D})", shapes["norm"], "norm"),
        Step("mean over the tokens", (B, D), "op"),
        Step(f"head: Linear({model.head.in_features}, {model.head.out_features})", shapes["head"], "layer"),
    ]
    ax = new_figure(6.4, 8.6).subplots()
    fig = plot_flow(steps, f"AttentionClassifier: {p} x {p} patches, D = {D}, one transformer block",
                    skips=[(3, 6), (6, 9)], box_width=4.6, ax=ax)
    left = -4.6 / 2 - 0.15
    ax.plot([left + 0.1, left, left, left + 0.1], [-3.7, -3.7, -9.3, -9.3], color="black", linewidth=1.2,
            gid="block-bracket")
    ax.text(left - 0.08, -6.5, "one transformer block", rotation=90, ha="right", va="center", fontsize=10)
    ax.set_xlim(left - 0.45, 4.6 / 2 + 0.6)
    return fig
