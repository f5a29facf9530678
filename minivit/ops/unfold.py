"""MobileViT's unfold and fold: a (B, C, H, W) map regrouped into sequences, one per position
inside a patch, so that the transformer mixes pixels that sit at the same place in every patch.

Glossary: B batch, C channels, H x W map, p = ph = pw the side of a patch (ph x pw when it is not
square), P = ph*pw pixels per patch (as in the MobileViT paper), gh x gw the grid of patches
(gh = H/ph rows of patches, gw = W/pw columns), N = gh*gw patches.
"""

from __future__ import annotations

import torch

from minivit.ops._checks import check_grid, check_tensor


def mobilevit_unfold(x: torch.Tensor, patch_size: int | tuple[int, int]) -> torch.Tensor:
    """Unfold a feature map into P sequences of N tokens.

    Sequence b*P + (r*pw + c) holds, for image b, the pixel at row r and column c inside every
    patch, patches in row-major order: the layout of timm's MobileVitBlock.

    Args:
        x: shape (B, C, H, W); H and W multiples of the patch size.
        patch_size: p, or (ph, pw).

    Returns:
        tokens, shape (B*P, N, C).
    """
    check_tensor(x, "x", "(B, C, H, W)")
    B, C, H, W = x.shape
    (ph, pw), (gh, gw) = check_grid(H, W, patch_size, "patch_size", "patch")
    x = x.reshape(B, C, gh, ph, gw, pw)
    x = x.permute(0, 3, 5, 2, 4, 1)  # (B, ph, pw, gh, gw, C)
    return x.reshape(B * ph * pw, gh * gw, C)  # (B*P, N, C)


def mobilevit_fold(
    tokens: torch.Tensor, patch_size: int | tuple[int, int], height: int, width: int
) -> torch.Tensor:
    """Inverse of `mobilevit_unfold`: put the sequences back into a feature map.

    Args:
        tokens: shape (B*P, N, C), P = ph*pw, N = (height/ph)(width/pw).
        patch_size: p, or (ph, pw).
        height, width: the map size H, W.

    Returns:
        feature map, shape (B, C, H, W).
    """
    (ph, pw), (gh, gw) = check_grid(height, width, patch_size, "patch_size", "patch")
    check_tensor(tokens, "tokens", "(B*P, N, C)")
    if tokens.shape[0] % (ph * pw) != 0 or tokens.shape[1] != gh * gw:
        raise ValueError(
            f"tokens must have shape (B*{ph * pw}, {gh * gw}, C) for a {height}x{width} map and "
            f"{ph}x{pw} patches, got shape {tuple(tokens.shape)}"
        )
    C = tokens.shape[-1]
    x = tokens.reshape(-1, ph, pw, gh, gw, C)
    x = x.permute(0, 5, 3, 1, 4, 2)  # (B, C, gh, ph, gw, pw)
    return x.reshape(-1, C, height, width)
