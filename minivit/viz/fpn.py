"""A backbone under a feature pyramid network (FPN, Lin et al., 2017) and a head: the backbone's maps, the
FPN's top-down path (a lateral 1x1 conv on every map; from the coarsest map down, each sum upsampled to
the next finer map and added to its lateral; a 3x3 conv on every sum), and the head that would take the
outputs. Every shape is the one the FPN module computes on the given maps.

    plot_fpn(fpn, features, image_size)   backbone -> neck (FPN top-down path) -> head, one row per map

Glossary: B batch, C_i channels of map i, H_i x W_i its size, D the FPN's output channels.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from matplotlib.figure import Figure
from torch import nn

from minivit.viz._common import image_size_pair, new_figure
from minivit.viz.diagram import BOX_HEIGHT, FONT_SIZE, arrow, box, output_shapes, shape_text


def _conv(block: nn.Module) -> nn.Conv2d:
    """The first Conv2d of a block (torchvision wraps each in a Conv2dNormActivation)."""
    return next(m for m in block.modules() if isinstance(m, nn.Conv2d))


def plot_fpn(fpn: nn.Module, features: Sequence[torch.Tensor], image_size: int | tuple[int, int],
             backbone: str = "backbone") -> Figure:
    """Backbone -> neck -> head, one row per backbone map, the coarsest at the top: the map (its shape and
    stride), the FPN's lateral 1x1 conv, the top-down sum (the coarsest map's lateral alone; below it, the
    sum above upsampled by nearest neighbour to this map's size and added to this lateral), the 3x3 conv,
    and one head box that takes all outputs (not built: boxes for a detector, a class per pixel for a
    segmenter).

    Args:
        fpn: a torchvision `FeaturePyramidNetwork` (any module with `inner_blocks` and `layer_blocks`, one
            per map, that takes an OrderedDict of the maps).
        features: the backbone's maps, finest first, (B, C_i, H_i, W_i) each.
        image_size: (H, W) of the input image (an int for H = W), for the strides.
        backbone: the backbone's name, for the first column's title.

    Returns:
        the Figure. Boxes have gid "map", "lateral", "sum", "smooth" (one per map, finest first) and "head",
        their texts the same gid + "-label"; arrows gid "arrow", the top-down upsampling arrows gid "upsample".
    """
    if not isinstance(fpn, nn.Module) or not hasattr(fpn, "inner_blocks") or not hasattr(fpn, "layer_blocks"):
        raise TypeError(f"fpn must be an FPN module with inner_blocks and layer_blocks, got {type(fpn).__name__}")
    H, W = image_size_pair(image_size)
    S = len(fpn.inner_blocks)
    if not isinstance(features, (list, tuple)) or not all(isinstance(f, torch.Tensor) for f in features):
        raise TypeError(f"features must be a list of tensors, got {type(features).__name__}")
    expected = [_conv(b).in_channels for b in fpn.inner_blocks]
    got = [tuple(f.shape) for f in features]
    if len(features) != S or any(f.dim() != 4 or f.shape[1] != c for f, c in zip(features, expected)):
        raise ValueError(f"features must be {S} maps (B, C_i, H_i, W_i) with C_i = {expected}, got shapes {got}")

    names = [f"inner_blocks.{i}" for i in range(S)] + [f"layer_blocks.{i}" for i in range(S)]
    shapes = output_shapes(fpn, OrderedDict((f"map {i}", f) for i, f in enumerate(features)), names)
    fig = new_figure(13.0, 1.35 * S + 1.2)
    ax = fig.subplots()
    pitch, width = 1.35, 2.55
    x_map, x_lateral, x_sum, x_smooth, x_head = 0.0, 3.05, 6.1, 9.15, 12.0
    for i, f in enumerate(features):
        y = i * pitch  # finest map at the bottom, the coarsest at the top
        stride = f"{H // f.shape[-2]}" if H // f.shape[-2] == W // f.shape[-1] else \
            f"{H // f.shape[-2]} x {W // f.shape[-1]}"
        lateral, smooth = _conv(fpn.inner_blocks[i]), _conv(fpn.layer_blocks[i])
        box(ax, x_map, y, f"stage {i + 1}, stride {stride}\n{shape_text(tuple(f.shape))}", "tensor", width=width,
            gid="map")
        box(ax, x_lateral, y, f"lateral {lateral.kernel_size[0]}x{lateral.kernel_size[1]} conv, "
            f"{lateral.in_channels} -> {lateral.out_channels}\n{shape_text(shapes[f'inner_blocks.{i}'])}", "layer",
            width=width, gid="lateral")
        top = i == S - 1
        box(ax, x_sum, y, ("coarsest: lateral alone" if top else "add: lateral + upsampled")
            + f"\n{shape_text(shapes[f'inner_blocks.{i}'])}", "op", width=width, gid="sum")
        box(ax, x_smooth, y, f"{smooth.kernel_size[0]}x{smooth.kernel_size[1]} conv, output {i + 1}"
            f"\n{shape_text(shapes[f'layer_blocks.{i}'])}", "layer", width=width, gid="smooth")
        for a, b in ((x_map, x_lateral), (x_lateral, x_sum), (x_sum, x_smooth)):
            arrow(ax, (a + width / 2, y), (b - width / 2, y))
        if not top:  # the sum above, upsampled to this map's size, comes down into this sum
            below = features[i].shape[-2:]
            arrow(ax, (x_sum, y + pitch - BOX_HEIGHT / 2), (x_sum, y + BOX_HEIGHT / 2), gid="upsample",
                  label=f"upsample to {below[0]} x {below[1]} (nearest)", color="#c0392b")
    middle = (S - 1) * pitch / 2
    head_height = max((S - 1) * pitch, 0) + BOX_HEIGHT
    box(ax, x_head, middle, "head\n(not built here):\nboxes (detector)\nor a class per\npixel (segmenter)", "op",
        width=1.7, height=head_height, gid="head")
    for i in range(S):
        arrow(ax, (x_smooth + width / 2, i * pitch), (x_head - 1.7 / 2, i * pitch))
    for x, title in ((x_map, f"backbone: {backbone}"), (x_lateral, "neck: FPN lateral convs"),
                     (x_sum, "neck: FPN top-down path"), (x_smooth, "neck: FPN outputs"), (x_head, "head")):
        ax.text(x, (S - 1) * pitch + 0.62, title, ha="center", va="bottom", fontsize=FONT_SIZE + 0.5,
                fontweight="bold", gid="column-title")
    ax.set_xlim(x_map - width / 2 - 0.1, x_head + 1.7 / 2 + 0.1)
    ax.set_ylim(-0.6, (S - 1) * pitch + 1.0)
    ax.axis("off")
    ax.set_title(f"backbone -> neck (feature pyramid network, top-down path) -> head, on a {H} x {W} image:\n"
                 f"every map brought to {shapes[f'layer_blocks.{S - 1}'][1]} channels, each coarser sum added into "
                 f"the next finer map")
    return fig
