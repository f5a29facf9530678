"""Diagrams of notebook 09's two routes to a mask, with the shapes the real modules compute:

    plot_segmentation_head   every stage's map -> 1x1 conv to D -> upsample -> concatenate -> fuse -> K scores
    plot_cam_pipeline        a classifier's last map -> its Linear at every place (the CAM) -> scale -> threshold
    plot_head_readings       a head's scores -> a mask two ways: its own argmax, or like a CAM (probabilities
                             of the digits, each scaled by its maximum, kept if the classifier answers yes,
                             thresholded)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from matplotlib.figure import Figure
from torch import nn

from minivit.segmentation import SegmentationHead, class_activation_map, masks_from_cams
from minivit.viz._common import new_figure
from minivit.viz.diagram import BOX_HEIGHT, arrow, box, output_shapes, shape_text


def plot_segmentation_head(head: SegmentationHead, features: Sequence[torch.Tensor], size: int | tuple[int, int]
                           ) -> Figure:
    """The all-multilayer-perceptron decoder of `SegmentationHead`: one column per stage (its map, the
    1x1 conv to D channels, the upsampling to the finest map), then one column for the rest (concatenate,
    fuse, classify, upsample to the input). Every shape is the one `head(features, size)` computes.

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
    columns = max(S, 2)
    fig = new_figure(2.45 * columns, 5.3)
    ax = fig.subplots()
    pitch, width = 2.45, 2.25
    for i, f in enumerate(features):
        x = i * pitch
        stage = f"stage {i + 1}" if S > 1 else "last map"
        box(ax, x, 0, f"{stage}\n{shape_text(tuple(f.shape))}", "tensor", width=width)
        box(ax, x, -1, f"1x1 conv to D = {D}\n{shape_text(shapes[f'head.project.{i}'])}", "layer", width=width)
        box(ax, x, -2, f"upsample to {H0} x {W0}\n{shape_text((B, D, H0, W0))}", "op", width=width)
        arrow(ax, (x, -BOX_HEIGHT / 2), (x, -1 + BOX_HEIGHT / 2))
        arrow(ax, (x, -1 - BOX_HEIGHT / 2), (x, -2 + BOX_HEIGHT / 2))
    middle = (S - 1) * pitch / 2
    rest = [
        (f"concatenate the {S} maps" if S > 1 else "(one map: nothing to concatenate)", (B, S * D, H0, W0), "op"),
        ("fuse: 1x1 conv, BatchNorm, ReLU", shapes["head.fuse"], "layer"),
        (f"classify: 1x1 conv to K = {head.classify.out_channels}", shapes["head.classify"], "layer"),
        ("upsample to the input", shapes[""], "op"),
    ]
    for k, (name, shape, kind) in enumerate(rest):
        y = -3 - k
        box(ax, middle, y, f"{name}\n{shape_text(shape)}", kind, width=2.9)
        if k:
            arrow(ax, (middle, y + 1 - BOX_HEIGHT / 2), (middle, y + BOX_HEIGHT / 2))
    for i in range(S):
        arrow(ax, (i * pitch, -2 - BOX_HEIGHT / 2), (middle, -3 + BOX_HEIGHT / 2))
    half = max(columns * pitch / 2, 2.9 / 2 + 0.1)  # wide enough for the columns and for the boxes below them
    ax.set_xlim(middle - half, middle + half)
    ax.set_ylim(-6.5, 0.5)
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


def plot_head_readings(head: nn.Module, features: Sequence[torch.Tensor], size: int | tuple[int, int],
                       present: torch.Tensor, threshold: float | None = None) -> Figure:
    """The two readings of a segmentation head's scores in notebook 09, side by side, with the shapes the
    code computes: by argmax (each pixel takes the class of highest score, background included), and like a
    CAM (the softmax's probabilities of the digits, each digit's map scaled by its maximum, only the digits
    the classifier answers kept, then `masks_from_cams`' rule: the highest digit, or the background where
    none reaches the threshold). Beside the two steps that the CAM reading adds, a note names the control
    that takes each away.

    Args:
        head: a trained or untrained head taking (features, size), e.g. a SegmentationHead or a
            LinearProbeHead; it is run once, in eval mode (its mode is restored after).
        features: the backbone's maps it takes.
        size: (H, W) of the input (an int for H = W).
        present: (B, K) bool, the digits kept on each image, K being the head's classes minus the background.
        threshold: the threshold of the CAM reading, in (0, 1]; None writes "a threshold t".

    Returns:
        the Figure. Boxes have gid "step" (the scores, the argmax branch, then the CAM branch top to bottom)
        and their texts "step-label"; arrows gid "arrow"; the two notes gid "control-label".
    """
    if not isinstance(head, nn.Module):
        raise TypeError(f"head must be an nn.Module taking (features, size), got {type(head).__name__}")
    if threshold is not None and not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    was_training = head.training
    with torch.no_grad():
        scores = head.eval()(features, size)  # (B, 1 + K, H, W)
        head.train(was_training)
        probabilities = scores.softmax(dim=1)[:, 1:]  # (B, K, H, W): the digits' probabilities
        by_argmax = scores.argmax(dim=1)  # (B, H, W)
        like_a_cam = masks_from_cams(probabilities, present, 0.5 if threshold is None else threshold)  # checks present
    t = "a threshold t" if threshold is None else f"{threshold:g}"
    B, classes = scores.shape[:2]
    fig = new_figure(8.8, 5.4)
    ax = fig.subplots()
    left, right, width = 0.0, 4.6, 4.2
    box(ax, (left + right) / 2, 0, f"head's scores, background first\n{shape_text(tuple(scores.shape))}", "tensor",
        width=width)
    box(ax, left, -1.4, f"by argmax: the class of highest score\nmask {shape_text(tuple(by_argmax.shape))}", "op",
        width=width)
    steps = [
        f"like a CAM: softmax, background dropped\ndigit probabilities {shape_text(tuple(probabilities.shape))}",
        f"scale each digit's map by its maximum\n{shape_text(tuple(probabilities.shape))}",
        f"keep the digits the classifier answers\n{shape_text(tuple(present.shape))} -> "
        f"{shape_text(tuple(probabilities.shape))}",
        f"highest digit, or background below {t}\nmask {shape_text(tuple(like_a_cam.shape))}",
    ]
    for k, text in enumerate(steps):
        box(ax, right, -1.4 - k, text, "op", width=width)
        if k:
            arrow(ax, (right, -1.4 - k + 1 - BOX_HEIGHT / 2), (right, -1.4 - k + BOX_HEIGHT / 2))
    for x in (left, right):
        arrow(ax, ((left + right) / 2, -BOX_HEIGHT / 2), (x, -1.4 + BOX_HEIGHT / 2))
    notes = [(-2.4, "control: skip this step\n(the unscaled reading)"),
             (-3.4, "control: keep the true labels instead\n(the reading with labels)")]
    for y, text in notes:
        ax.text(right - width / 2 - 0.15, y, text, ha="right", va="center", fontsize=8.5, style="italic",
                gid="control-label")
    ax.set_xlim(left - width / 2 - 0.1, right + width / 2 + 0.1)
    ax.set_ylim(-5.0, 0.45)
    ax.axis("off")
    ax.set_title(f"two readings of one head ({B} images, {classes} classes): its own argmax, or like a CAM")
    return fig


class _Called(nn.Module):
    """head(features, size) as a module of one argument, so that output_shapes can run it."""

    def __init__(self, head: SegmentationHead, size: int | tuple[int, int]):
        super().__init__()
        self.head, self.size = head, size

    def forward(self, features):
        return self.head(features, self.size)
