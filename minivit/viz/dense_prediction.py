"""Diagrams of notebook 09, with the shapes the real modules compute, and its results over seeds:

    plot_segmentation_head   every stage's map -> 1x1 conv to D -> upsample -> concatenate -> fuse -> K scores
    plot_cam_pipeline        a classifier's last map -> its Linear at every place (the CAM) -> scale -> threshold
    plot_weak_supervision    the whole pipeline: classifier on image labels -> CAMs -> threshold -> pseudo-masks
                             -> a head on the frozen maps -> argmax, beside the true masks that choose the
                             threshold and the same head trained on them; and the test path (logit > 0)
    plot_heads_by_masks      heads' results over seeds (an interaction plot) with reference levels drawn across
    plot_loss_curves         one training loss per epoch for each run (e.g. each seed), with reference levels
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import nn

from minivit.ops._checks import check_tensor
from minivit.segmentation import SegmentationHead, class_activation_map, masks_from_cams
from minivit.viz._common import new_figure
from minivit.viz.diagram import BOX_HEIGHT, arrow, box, output_shapes, shape_text
from minivit.viz.training import plot_interaction


def plot_segmentation_head(head: SegmentationHead, features: Sequence[torch.Tensor], size: int | tuple[int, int]
                           ) -> Figure:
    """The all-multilayer-perceptron decoder of `SegmentationHead`: one column per stage (its map, the
    1x1 conv to D channels, the upsampling to the finest map, drawn only for a map smaller than that),
    then one column for the rest (concatenate, for several maps; fuse, classify, upsample to the input).
    Every shape is the one `head(features, size)` computes.

    Args:
        head: a SegmentationHead.
        features: the backbone's maps, finest first, (B, C_i, H_i, W_i) each.
        size: (H, W) of the input (an int for H = W).

    Returns:
        the Figure. Boxes have gid "step" and their texts "step-label"; arrows gid "arrow".
    """
    if not isinstance(head, SegmentationHead):
        raise TypeError(f"head must be a SegmentationHead, got {type(head).__name__}")
    head._check_features(features)
    names = [f"project.{i}" for i in range(len(features))] + ["fuse", "classify"]
    shapes = output_shapes(_Called(head, size), list(features), ["head." + n for n in names] + [""])
    B, _, H0, W0 = features[0].shape
    D = head.fuse[0].out_channels
    S = len(features)
    resized = [tuple(f.shape[-2:]) != (H0, W0) for f in features]  # the finest map needs no upsampling
    top = -3 if any(resized) else -2  # the row where the columns meet
    columns = max(S, 2)
    fig = new_figure(2.45 * columns, 5.3 if any(resized) else 4.6)
    ax = fig.subplots()
    pitch, width = 2.45, 2.25
    middle = (S - 1) * pitch / 2
    for i, f in enumerate(features):
        x = i * pitch
        stage = f"stage {i + 1}" if S > 1 else "the one map"
        box(ax, x, 0, f"{stage}\n{shape_text(tuple(f.shape))}", "tensor", width=width)
        box(ax, x, -1, f"1x1 conv to D = {D}\n{shape_text(shapes[f'head.project.{i}'])}", "layer", width=width)
        arrow(ax, (x, -BOX_HEIGHT / 2), (x, -1 + BOX_HEIGHT / 2))
        if resized[i]:
            box(ax, x, -2, f"upsample to {H0} x {W0}\n{shape_text((B, D, H0, W0))}", "op", width=width)
            arrow(ax, (x, -1 - BOX_HEIGHT / 2), (x, -2 + BOX_HEIGHT / 2))
        elif top == -3:  # already at the finest size: straight past the other columns' upsampling
            ax.plot([x, x], [-1 - BOX_HEIGHT / 2, -2 - BOX_HEIGHT / 2], color="black", linewidth=1.2, gid="pass")
        arrow(ax, (x, top + 1 - BOX_HEIGHT / 2), (middle, top + BOX_HEIGHT / 2))
    rest = [(f"concatenate the {S} maps", (B, S * D, H0, W0), "op")] if S > 1 else []
    rest += [
        ("fuse: 1x1 conv, BatchNorm, ReLU", shapes["head.fuse"], "layer"),
        (f"classify: 1x1 conv to K = {head.classify.out_channels}", shapes["head.classify"], "layer"),
        ("upsample to the input", shapes[""], "op"),
    ]
    for k, (name, shape, kind) in enumerate(rest):
        y = top - k
        box(ax, middle, y, f"{name}\n{shape_text(shape)}", kind, width=2.9)
        if k:
            arrow(ax, (middle, y + 1 - BOX_HEIGHT / 2), (middle, y + BOX_HEIGHT / 2))
    half = max(columns * pitch / 2, 2.9 / 2 + 0.1)  # wide enough for the columns and for the boxes below them
    ax.set_xlim(middle - half, middle + half)
    ax.set_ylim(top - len(rest) + 0.5, 0.5)
    ax.axis("off")
    ax.set_title("segmentation head: every stage brought to the finest map, then K scores per pixel" if S > 1
                 else "segmentation head on one map: K scores per pixel")
    return fig


def plot_cam_pipeline(classifier: nn.Module, images: torch.Tensor, threshold: float | None = None) -> Figure:
    """From an image to a mask with a classifier trained on image labels: its last feature map, on one side
    pooled and classified (the logits it was trained to give), on the other side its Linear's weights applied
    at every place (the class activation maps, whose average plus the bias is the logit), then scaled to
    [0, 1], upsampled and thresholded into a mask. Every shape is the one the code computes for `images`.

    Args:
        classifier: has `feature_maps(images)` and a Linear `head` on the pooled last map (as for
            `class_activation_map`).
        images: (B, C, H, W).
        threshold: the threshold given to `masks_from_cams`; None writes "a threshold" (the masks' shape does
            not depend on it).

    Returns:
        the Figure. Boxes have gid "step" and their texts "step-label"; arrows gid "arrow".
    """
    was_training = getattr(classifier, "training", False)
    with torch.no_grad():
        small = class_activation_map(classifier, images, upsample=False)  # checks its inputs
        last = classifier.eval().feature_maps(images)[-1]
        logits = classifier(images)
        cams = class_activation_map(classifier, images)
        masks = masks_from_cams(cams, logits > 0, 0.5 if threshold is None else threshold)
    classifier.train(was_training)
    below = "a threshold" if threshold is None else f"{threshold:g}"
    K, C = classifier.head.weight.shape
    fig = new_figure(7.6, 5.3)
    ax = fig.subplots()
    left, right, width = 0.0, 3.7, 3.3
    steps = [
        (left, 0, f"image\n{shape_text(tuple(images.shape))}", "tensor"),
        (left, -1, f"backbone: last feature map\n{shape_text(tuple(last.shape))}", "layer"),
        (right, -2, f"global average pool, Linear ({K} x {C})\nlogits {shape_text(tuple(logits.shape))}", "layer"),
        (left, -2, f"the same Linear at every place: CAMs\n{shape_text(tuple(small.shape))}", "layer"),
        (left, -3, f"upsample to {images.shape[-2]} x {images.shape[-1]}\n{shape_text(tuple(cams.shape))}", "op"),
        (left, -4, f"scale to [0, 1], keep classes with logit > 0\n{shape_text(tuple(cams.shape))}", "op"),
        (left, -5, f"highest class, or background below {below}\nmask {shape_text(tuple(masks.shape))}", "op"),
    ]
    for x, y, text, kind in steps:
        box(ax, x, y, text, kind, width=width)
    for (x0, y0), (x1, y1) in [((left, 0), (left, -1)), ((left, -1), (left, -2)), ((left, -2), (left, -3)),
                               ((left, -3), (left, -4)), ((left, -4), (left, -5))]:
        arrow(ax, (x0, y0 - BOX_HEIGHT / 2), (x1, y1 + BOX_HEIGHT / 2))
    arrow(ax, (left + width / 2, -1), (right, -2 + BOX_HEIGHT / 2), connection="angle,angleA=0,angleB=90")
    arrow(ax, (right - width / 2, -2), (left + width / 2, -2), label=None, linestyle=":", arrowstyle="<|-|>")
    ax.text(right, -2.45, "each CAM's average + the bias\n= that class's logit (checked below)", ha="center",
            va="top", fontsize=8.5, style="italic", gid="identity-label")
    ax.set_xlim(left - width / 2 - 0.1, right + width / 2 + 0.1)
    ax.set_ylim(-5.5, 0.5)
    ax.axis("off")
    ax.set_title("class activation maps: the classifier's own Linear, applied before the pooling")
    return fig


def plot_weak_supervision(classifier: nn.Module, head: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                          tune_masks: torch.Tensor, threshold: float | None = None) -> Figure:
    """Weak supervision from end to end, as notebook 09 runs it: a classifier trained on image labels, its
    class activation maps, scaled and thresholded into pseudo-masks, and a segmentation head trained on them
    over the classifier's frozen feature maps, read by argmax. Beside it, the true masks the pipeline spends
    to choose its threshold, and the rival: a second head of the same kind, trained on those masks instead
    over the same frozen maps (the line under the chain), read by argmax too. Below it, the test path, where
    the labels are unknown: the classifier's own answers (logit > 0) choose the digits whose CAMs are
    thresholded into the CAM masks, while both heads read the test canvases' frozen maps and need no
    answers. Every shape is the one the code computes for `images`.

    Args:
        classifier: has `feature_maps(images)` and a Linear `head` on its pooled last map (as for
            `class_activation_map`); run in eval mode, its mode restored after.
        head: a head taking (the classifier's feature maps, size), e.g. a SegmentationHead; run likewise.
        images: (B, C, H, W).
        labels: (B, K) bool or 0/1, the image-level labels (the digits kept in the pseudo-masks).
        tune_masks: (N, H, W), the true masks on which the threshold is chosen (notebook 09: N = 200).
        threshold: given to `masks_from_cams`; None writes "t" (the masks' shape does not depend on it).

    Returns:
        the Figure. Boxes have gid "step" (the main chain top to bottom, then the frozen maps, then the true
        masks that choose the threshold, the rival head and its mask, then the test path left to right, then
        the test canvases' frozen maps and the heads on them) and their texts "step-label"; arrows gid "arrow",
        the frozen maps' line to the rival gid "rival-maps".
    """
    check_tensor(labels, "labels", "(B, K)")
    check_tensor(tune_masks, "tune_masks", "(N, H, W)")
    if tuple(tune_masks.shape[-2:]) != tuple(images.shape[-2:]):
        raise ValueError(f"tune_masks must have shape (N, H, W) = (N, {images.shape[-2]}, {images.shape[-1]}) "
                         f"like the images, got shape {tuple(tune_masks.shape)}")
    was_training = (getattr(classifier, "training", False), getattr(head, "training", False))
    with torch.no_grad():
        small = class_activation_map(classifier, images, upsample=False)  # checks the classifier and the images
        logits = classifier.eval()(images)
        maps = classifier.feature_maps(images)
        cams = class_activation_map(classifier, images)
        pseudo = masks_from_cams(cams, labels, 0.5 if threshold is None else threshold)  # checks the labels
        answered = logits > 0  # (B, K): the test path's digits
        cam_masks = masks_from_cams(cams, answered, 0.5 if threshold is None else threshold)
        scores = head.eval()(maps, tuple(images.shape[-2:]))
    classifier.train(was_training[0])
    head.train(was_training[1])
    t = "t" if threshold is None else f"{threshold:g}"
    H, W = images.shape[-2:]
    main = [
        (f"training canvases with image labels only\nimages {shape_text(tuple(images.shape))}, labels "
         f"{shape_text(tuple(labels.shape))}", "tensor"),
        (f"1. classifier, trained on the labels\nlogits {shape_text(tuple(logits.shape))}", "layer"),
        (f"2. CAMs: its Linear at every place of its last map\n{shape_text(tuple(small.shape))}", "layer"),
        (f"upsample to {H} x {W}, scale each to [0, 1],\nkeep the labelled digits {shape_text(tuple(cams.shape))}",
         "op"),
        (f"3. threshold: the highest digit, or background below {t}\npseudo-masks "
         f"{shape_text(tuple(pseudo.shape))}", "op"),
        (f"4. segmentation head, trained on the pseudo-masks\nscores {shape_text(tuple(scores.shape))}", "layer"),
        (f"argmax (on any canvas's frozen maps): each pixel takes\nits class of highest score, mask "
         f"{shape_text(tuple(pseudo.shape))}", "op"),
    ]
    fig = new_figure(12.5, 8.4)
    ax = fig.subplots()
    width, side, side_width = 5.6, 4.9, 3.6
    for k, (text, kind) in enumerate(main):
        box(ax, 0, -k, text, kind, width=width, height=0.72)
        if k:
            arrow(ax, (0, -k + 1 - 0.36), (0, -k + 0.36))
    maps_text = "its feature maps, frozen (per canvas)\n" + ", ".join(shape_text(tuple(m.shape[1:])) for m in maps)
    box(ax, -side - 0.4, -2.5, maps_text, "tensor", width=side_width + 0.8, height=0.72)
    arrow(ax, (-width / 2, -1), (-side - 0.4, -2.5 + 0.36), connection="angle,angleA=0,angleB=90")
    arrow(ax, (-side - 0.4, -2.5 - 0.36), (-width / 2, -5), connection="angle,angleA=90,angleB=0")
    N = tune_masks.shape[0]
    box(ax, side + 0.4, -4, f"{N} true masks {shape_text(tuple(tune_masks.shape))}\nchoose the threshold {t}",
        "tensor", width=side_width)
    arrow(ax, (side + 0.4 - side_width / 2, -4), (width / 2, -4))
    box(ax, side + 0.4, -5, f"the rival: a second head like step 4,\ntrained on those {N} true masks instead",
        "layer", width=side_width)
    arrow(ax, (side + 0.4, -4 - 0.36), (side + 0.4, -5 + 0.36))
    box(ax, side + 0.4, -6, f"argmax: the rival's mask\n{shape_text(tuple(pseudo.shape))}", "op", width=side_width)
    arrow(ax, (side + 0.4, -5 - 0.36), (side + 0.4, -6 + 0.36))
    # the same frozen maps feed the rival: down the left, under the chain, up the right
    x_right, y_low = side + 0.4 + side_width / 2 + 0.3, -len(main) + 0.3
    ax.plot([-side - 0.4, -side - 0.4, x_right, x_right], [-2.5 - 0.36, y_low, y_low, -5], color="black",
            linewidth=1.2, gid="rival-maps")
    arrow(ax, (x_right, -5), (side + 0.4 + side_width / 2, -5))
    y = -len(main) - 0.65  # the test path, below the chain and the line under it
    ax.axhline(y + 0.58, color="0.6", linewidth=0.8, linestyle=":")
    ax.text(-side - 0.4 - (side_width + 0.8) / 2, y + 0.42, "test canvases: the labels are unknown", ha="left",
            va="bottom", fontsize=8.5, style="italic", gid="test-path-label")
    test_path = [
        (-side - 0.4, f"test canvases, no labels\nimages {shape_text(tuple(images.shape))}", side_width + 0.8),
        (0, f"1. the classifier's answers: the digits with\nlogit > 0, {shape_text(tuple(answered.shape))}, "
            "instead of the labels", width),
        (side + 0.4, f"2.-3. their CAMs, threshold {t}:\nCAM masks {shape_text(tuple(cam_masks.shape))}",
         side_width),
    ]
    for k, (x, text, w) in enumerate(test_path):
        box(ax, x, y, text, "tensor" if k == 0 else "op", width=w, height=0.72)
        if k:
            previous_x, _, previous_w = test_path[k - 1]
            arrow(ax, (previous_x + previous_w / 2, y), (x - w / 2, y))
    y_heads = y - 1  # both heads on the test canvases' frozen maps: no answers needed
    box(ax, -side - 0.4, y_heads, "their feature maps, frozen\n" + ", ".join(shape_text(tuple(m.shape[1:]))
                                                                         for m in maps),
        "tensor", width=side_width + 0.8, height=0.72)
    arrow(ax, (-side - 0.4, y - 0.36), (-side - 0.4, y_heads + 0.36))
    box(ax, 0, y_heads, "4. each head (the pipeline's, the rival's), argmax, no\nanswers needed: masks "
        f"{shape_text(tuple(pseudo.shape))}", "layer", width=width, height=0.72)
    arrow(ax, (-side - 0.4 + (side_width + 0.8) / 2, y_heads), (-width / 2, y_heads))
    ax.set_xlim(-side - 0.4 - (side_width + 0.8) / 2 - 0.1, x_right + 0.1)
    ax.set_ylim(y_heads - 0.45, 0.45)
    ax.axis("off")
    ax.set_title("weak supervision: a segmentation head learned from image labels, through the classifier's CAMs")
    return fig


_REFERENCE_STYLES = ("--", ":", "-.", (0, (6, 2, 1, 2, 1, 2)))  # dashed, dotted, dash-dot, dash-dot-dot


def plot_heads_by_masks(
    panels: Mapping[str, Mapping[tuple[str, str], Sequence[float]]],
    references: Mapping[str, float],
    ylabel: str,
    title: str,
    log_x: Mapping[str, float] | None = None,
) -> Figure:
    """Heads' results over seeds as an interaction plot (`minivit.viz.training.plot_interaction`: per
    panel, the masks learned from along x, one line per choice of maps, at the mean over the seeds, with a
    bar from the lowest to the highest seed), with reference levels drawn across every panel.

    Args:
        panels: {panel title: {(line level, x level): per-seed values}}, as plot_interaction takes them.
        references: {name: value}, e.g. {"CAM masks": 0.27, "all background": 0.08}: a dashed line across
            every panel at each value, named in the legend.
        ylabel: what the values are.
        title: the figure's title; the number of seeds and what the bars show are added below it.
        log_x: {x level: a positive number}, e.g. {"10": 10, "2,000": 2000} for numbers of masks: each x level
            is placed at its number on a logarithmic x axis (ticks at the levels only) instead of evenly spaced.

    Returns:
        the Figure of plot_interaction; each reference is one line per axes with gid "reference", in the
        order given. With `log_x`, every errorbar's x (line, caps and bars) is its level's number.
    """
    if not isinstance(references, Mapping):
        raise TypeError(f"references must map names to values, got {type(references).__name__}")
    fig = plot_interaction(panels, ylabel, title)  # checks the panels
    if log_x is not None:
        levels = list(dict.fromkeys(x for _, x in next(iter(panels.values()))))  # plot_interaction's x order
        if not isinstance(log_x, Mapping) or set(levels) - set(log_x):
            raise ValueError(f"log_x must map every x level {levels} to a number, got {log_x!r}")
        positions = np.array([float(log_x[x]) for x in levels])
        if (positions <= 0).any():
            raise ValueError(f"log_x must give positive numbers on a log axis, got {log_x!r}")
        for ax in fig.axes:
            _place_levels(ax, positions)
            ax.set_xlim(positions.min() / 1.5, positions.max() * 1.5)
            ax.set_xscale("log")
            ax.set_xticks(positions, levels)
            ax.minorticks_off()
    seeds = "/".join(str(n) for n in sorted({len(v) for cells in panels.values() for v in cells.values()}))
    fig.suptitle(f"{title}\npoints: mean over {seeds} seeds; bars: lowest to highest seed")
    for ax in fig.axes:
        for k, (name, value) in enumerate(references.items()):
            ax.axhline(float(value), color="0.35", linestyle=_REFERENCE_STYLES[k % len(_REFERENCE_STYLES)],
                       linewidth=1.2, label=name, gid="reference")
    fig.axes[-1].legend(loc="best", fontsize=8.5)
    return fig


def _place_levels(ax, positions: np.ndarray) -> None:
    """Move every errorbar of `ax` drawn at x = 0, 1, ... (plot_interaction's levels) to x = positions[i]."""
    def moved(x):
        return positions[np.rint(np.asarray(x, dtype=float)).astype(int)]

    for container in ax.containers:
        line, caps, bars = container.lines
        line.set_xdata(moved(line.get_xdata()))
        for cap in caps:
            cap.set_xdata(moved(cap.get_xdata()))
        for collection in bars:
            segments = collection.get_segments()  # each [(x, y_low), (x, y_high)]
            collection.set_segments([np.column_stack([moved(seg[:, 0]), seg[:, 1]]) for seg in segments])


def plot_loss_curves(
    losses: Mapping[str, Sequence[float]], references: Mapping[str, float], title: str,
) -> Figure:
    """Training losses, one line per run (e.g. per seed), against the epoch, with reference levels drawn across.

    Args:
        losses: {run name: the mean training loss of each epoch, first epoch first}; runs may differ in length.
        references: {name: value}: a line at each value (gid "reference"; dashed, dotted, ... as in
            plot_heads_by_masks), named in the legend.
        title: the figure's title.

    Returns:
        the Figure with one axes: each run a line (x 1..epochs, y its losses, label its name) in the order of
        `losses`, then the references in theirs.
    """
    if not isinstance(losses, Mapping) or not losses:
        raise ValueError(f"losses must be a non-empty mapping of run name -> losses per epoch, got {losses!r}")
    if not isinstance(references, Mapping):
        raise TypeError(f"references must map names to values, got {type(references).__name__}")
    for name, values in losses.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"losses[{name!r}] must be a non-empty sequence of numbers, got {values!r}")
    fig = new_figure(7.2, 4.2)
    ax = fig.subplots()
    for k, (name, values) in enumerate(losses.items()):
        ax.plot(range(1, len(values) + 1), [float(v) for v in values], marker="o", markersize=3, color=f"C{k % 10}",
                label=name)
    for k, (name, level) in enumerate(references.items()):
        ax.axhline(float(level), color="0.35", linestyle=_REFERENCE_STYLES[k % len(_REFERENCE_STYLES)],
                   linewidth=1.2, label=name, gid="reference")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean over the epoch's batches)")
    ax.set_ylim(bottom=0)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, alpha=0.4)
    ax.legend(loc="best", fontsize=8.5)
    ax.set_title(title)
    return fig


class _Called(nn.Module):
    """head(features, size) as a module of one argument, so that output_shapes can run it."""

    def __init__(self, head: SegmentationHead, size: int | tuple[int, int]):
        super().__init__()
        self.head, self.size = head, size

    def forward(self, features):
        return self.head(features, self.size)
