"""Swin's patch merging, the tensor part: each 2 x 2 group of neighbouring tokens becomes one token
with 4x the channels, halving the resolution (a LayerNorm and Linear 4C -> 2C follow in the model)."""

from __future__ import annotations

import torch

from minivit.ops._checks import check_tensor


def merge_patches(x: torch.Tensor) -> torch.Tensor:
    """Concatenate every 2 x 2 group of neighbouring tokens along the channels.

    The order is that of the official Swin code, torchvision and timm: top-left x[0::2, 0::2],
    bottom-left x[1::2, 0::2], top-right x[0::2, 1::2], bottom-right x[1::2, 1::2].

    Args:
        x: shape (B, H, W, C), H and W even.

    Returns:
        shape (B, H/2, W/2, 4C).
    """
    check_tensor(x, "x", "(B, H, W, C)")
    B, H, W, C = x.shape
    if H % 2 or W % 2:
        raise ValueError(f"x must have an even height and width (B, 2h, 2w, C), got shape {tuple(x.shape)}")
    # (B, H/2, row offset, W/2, column offset, C) -> the four tokens of a group with the column offset
    # outer: (0, 0), (1, 0), (0, 1), (1, 1), which are x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]
    groups = x.reshape(B, H // 2, 2, W // 2, 2, C).permute(0, 1, 3, 4, 2, 5)  # (B, H/2, W/2, 2, 2, C)
    return groups.reshape(B, H // 2, W // 2, 4 * C)  # (B, H/2, W/2, 4C)
