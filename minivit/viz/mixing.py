"""A convolution and an attention layer as matrices that mix pixels (notebook 01).

Both layers compute output pixel i as a weighted mix of input pixels j. For a convolution, how much
input pixel j enters output pixel i is the (C_out, C_in) block of its Jacobian at (i, j): the kernel's
weights for the offset from i to j, or zero outside the kernel. Over an H x W image the HW x HW matrix
of those blocks is banded and the same for every image. For attention, output i is sum_j A_ij v_j with
v_j = W_v x_j + b_v, so the block at (i, j) is A_ij W_v: the attention weights A, which fill the whole
matrix and change with the image.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from minivit.models.toy_models import PixelSelfAttention
from minivit.ops._checks import check_tensor
from minivit.viz._common import CONTINUOUS, new_figure


def mixing_matrices(
    conv: nn.Conv2d, layer: PixelSelfAttention, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """How much each input pixel enters each output pixel, for a convolution and an attention layer.

    Args:
        conv: a Conv2d of stride 1 that keeps H and W (e.g. 3x3, padding 1), C_in channels in.
        layer: a PixelSelfAttention with C_in channels in.
        images: (B, C_in, H, W).

    Returns:
        conv_mix: (B, HW, HW), entry [b, i, j] = the Frobenius norm of the (C_out, C_in) block
            d conv(images[b])[:, i] / d images[b][:, j] of the Jacobian, pixels in row-major order;
        attention: (B, HW, HW), the layer's attention weights A on each image (rows sum to 1).
    """
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    if not isinstance(layer, PixelSelfAttention):
        raise TypeError(f"layer must be a minivit PixelSelfAttention, got {type(layer).__name__}")
    check_tensor(images, "images", "(B, C, H, W)")
    B, C, H, W = images.shape
    if conv.in_channels != C or layer.query.in_features != C:
        raise ValueError(f"images must have conv.in_channels = {conv.in_channels} and the layer's "
                         f"{layer.query.in_features} channels, got shape {tuple(images.shape)}")
    if conv.stride != (1, 1):
        raise ValueError(f"conv must have stride 1, got stride {conv.stride}")
    with torch.no_grad():
        if conv(images[:1]).shape[-2:] != (H, W):
            raise ValueError(f"conv must keep H and W (e.g. padding = kernel_size // 2), got padding {conv.padding} "
                             f"for kernel {conv.kernel_size}")
    blocks = []
    for image in images:
        jacobian = torch.autograd.functional.jacobian(conv, image[None])  # (1, C_out, H, W, 1, C_in, H, W)
        jacobian = jacobian.reshape(conv.out_channels, H * W, C, H * W)  # (C_out, HW, C_in, HW)
        blocks.append(jacobian.pow(2).sum(dim=(0, 2)).sqrt())  # (HW, HW): norm of each (C_out, C_in) block
    with torch.no_grad():
        weights = layer.weights(images)  # (B, HW, HW)
    return torch.stack(blocks), weights


def plot_mixing_matrices(
    conv: nn.Conv2d, layer: PixelSelfAttention, images: torch.Tensor, names: list[str]
) -> Figure:
    """The convolution's mixing matrix beside the attention weights on each image.

    Panel 0: the conv's matrix on images[0] (the same on every image, which the caller can check with
    mixing_matrices); grey = exactly 0. Panels 1 .. B: the attention weights on each image, on one colour
    scale shared by those panels. The two quantities differ (a norm of kernel weights, a softmax weight),
    so each has its own colour bar, drawn under its panels. Ticks every W pixels mark the start of each
    image row.

    Args:
        conv, layer, images: as for mixing_matrices.
        names: one name per image, for the panel titles.

    Returns:
        the Figure; fig.axes[k] for k = 0 .. B holds as image data the conv's matrix (masked where 0) for
        k = 0 and the attention weights on images[k - 1] for k >= 1; the conv's colour bar (fig.axes[B + 1])
        and the attention's (fig.axes[B + 2]) follow.
    """
    conv_mix, attention = mixing_matrices(conv, layer, images)
    B, _, H, W = images.shape
    if isinstance(names, str) or len(names) != B:
        raise ValueError(f"names must hold one name per image ({B}), got {names!r}")
    N = H * W
    fig = new_figure(3.6 * (B + 1) + 1.0, 4.8)
    axes = fig.subplots(1, B + 1)
    ticks = list(range(0, N, W))
    k_h, k_w = conv.kernel_size
    nonzero = int((conv_mix[0] > 0).sum(dim=1).max())
    grey = colormaps[CONTINUOUS].with_extremes(bad="0.8")
    shown = axes[0].imshow(np.ma.masked_equal(conv_mix[0].numpy(), 0.0), cmap=grey, interpolation="nearest")
    axes[0].set_title(f"{k_h}x{k_w} conv: banded, fixed\nat most {nonzero} of {N} inputs per row")
    fig.colorbar(shown, ax=axes[0], location="bottom", shrink=0.9, aspect=30,
                 label="conv: |kernel block| (norm of its weights), grey: 0")
    low, high = float(attention.min()), float(attention.max())
    for ax, weights, name in zip(axes[1:], attention, names):
        shown = ax.imshow(weights.numpy(), cmap=CONTINUOUS, vmin=low, vmax=high, interpolation="nearest")
        ax.set_title(f"attention on {name}: dense,\n{int((weights > 0).sum(dim=1).min())} of {N} inputs per row")
    fig.colorbar(shown, ax=list(axes[1:]), location="bottom", shrink=0.6, aspect=40,
                 label="attention: weight A_ij (one scale for these panels)")
    for ax in axes:
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        ax.tick_params(labelsize=7)
        ax.set_xlabel(f"input pixel j (row-major, {W} per image row)")
    axes[0].set_ylabel("output pixel i")
    fig.suptitle(f"how much input pixel j enters output pixel i, {H} x {W} image ({N} pixels)\n"
                 "conv and attention plot different quantities, each on its own colour scale: "
                 "compare patterns, not colours")
    return fig


def plot_mixing_rows(
    conv: nn.Conv2d, layer: PixelSelfAttention, image: torch.Tensor, pixel: tuple[int, int], name: str = "the image"
) -> Figure:
    """One output pixel's row of both mixing matrices, reshaped to the image: which input pixels enter it.

    Args:
        conv, layer: as for mixing_matrices.
        image: (C_in, H, W), one image, values in [0, 1] (drawn as RGB when C_in is 3).
        pixel: (row, column) of the output pixel.
        name: the image's name, for the first panel's title.

    Returns:
        the Figure. fig.axes[0]: the image, the pixel outlined (a Rectangle with gid "pixel"); fig.axes[1]: the
        conv's row for the pixel as (H, W) image data, masked where 0; fig.axes[2]: the attention weights of the
        pixel as (H, W) image data; then the colour bars of panels 1 and 2.
    """
    check_tensor(image, "image", "(C, H, W)")
    C, H, W = image.shape
    if (not isinstance(pixel, (tuple, list)) or len(pixel) != 2
            or not (0 <= pixel[0] < H and 0 <= pixel[1] < W)):
        raise ValueError(f"pixel must be (row, column) inside the {H} x {W} image, got {pixel!r}")
    conv_mix, attention = mixing_matrices(conv, layer, image[None])
    i = pixel[0] * W + pixel[1]  # row-major index of the output pixel
    conv_row, attention_row = conv_mix[0, i].reshape(H, W), attention[0, i].reshape(H, W)
    fig = new_figure(11.0, 4.0)
    axes = fig.subplots(1, 3)
    picture = image.permute(1, 2, 0).clamp(0, 1).numpy() if C == 3 else image.mean(dim=0).numpy()
    axes[0].imshow(picture, cmap=None if C == 3 else "gray", interpolation="nearest")
    axes[0].set_title(f"{name}, output pixel {tuple(pixel)}")
    grey = colormaps[CONTINUOUS].with_extremes(bad="0.8")
    shown = axes[1].imshow(np.ma.masked_equal(conv_row.numpy(), 0.0), cmap=grey, interpolation="nearest")
    axes[1].set_title(f"{conv.kernel_size[0]}x{conv.kernel_size[1]} conv: {int((conv_row > 0).sum())} of {H * W}"
                      " inputs\n(grey: exactly 0)")
    fig.colorbar(shown, ax=axes[1], location="bottom", shrink=0.8, label="|kernel block|")
    shown = axes[2].imshow(attention_row.numpy(), cmap=CONTINUOUS, interpolation="nearest")
    axes[2].set_title(f"attention: {int((attention_row > 0).sum())} of {H * W} inputs\n(its own colour scale)")
    fig.colorbar(shown, ax=axes[2], location="bottom", shrink=0.8, label="weight A_ij")
    for ax in axes:
        ax.add_patch(Rectangle((pixel[1] - 0.5, pixel[0] - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2,
                               gid="pixel"))
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"one row of each mixing matrix, reshaped to the {H} x {W} image: the input pixels that enter "
                 f"output pixel {tuple(pixel)}")
    return fig
