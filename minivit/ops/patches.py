"""Patch partition: an image cut into non-overlapping p x p patches, each flattened into a token.

Glossary: B batch, C channels, H x W image, p = ph = pw the side of a patch in pixels (ph x pw when the
patch is not square), P = ph*pw pixels per patch, gh x gw the grid of patches (gh = H/ph rows of
patches, gw = W/pw columns), N = gh*gw patches.
"""

from __future__ import annotations

import torch

from minivit.ops._checks import check_grid, check_tensor


def patchify(x: torch.Tensor, patch_size: int | tuple[int, int]) -> torch.Tensor:
    """Cut images into patches and flatten each patch into one token.

    Args:
        x: images, shape (B, C, H, W); H and W multiples of the patch size.
        patch_size: p, or (ph, pw).

    Returns:
        tokens, shape (B, N, P*C), P = ph*pw, N = (H/ph)(W/pw). Patches in row-major order (left to right,
        then top to bottom); inside a token the values are ordered (row, column, channel).
    """
    check_tensor(x, "x", "(B, C, H, W)")
    B, C, H, W = x.shape
    (ph, pw), (gh, gw) = check_grid(H, W, patch_size, "patch_size", "patch")
    x = x.reshape(B, C, gh, ph, gw, pw)
    x = x.permute(0, 2, 4, 3, 5, 1)  # (B, gh, gw, ph, pw, C)
    return x.reshape(B, gh * gw, ph * pw * C)  # (B, N, P*C)


def unpatchify(
    tokens: torch.Tensor, patch_size: int | tuple[int, int], height: int, width: int
) -> torch.Tensor:
    """Inverse of `patchify`: put the patches back into images.

    Args:
        tokens: shape (B, N, P*C), P = ph*pw, N = (height/ph)(width/pw).
        patch_size: p, or (ph, pw).
        height, width: the image size H, W.

    Returns:
        images, shape (B, C, H, W).
    """
    (ph, pw), (gh, gw) = check_grid(height, width, patch_size, "patch_size", "patch")
    check_tensor(tokens, "tokens", "(B, N, P*C)")
    B, N, D = tokens.shape
    if N != gh * gw or D % (ph * pw) != 0:
        raise ValueError(
            f"tokens must have shape (B, {gh * gw}, {ph}*{pw}*C) for a {height}x{width} image and "
            f"{ph}x{pw} patches, got shape {tuple(tokens.shape)}"
        )
    C = D // (ph * pw)
    x = tokens.reshape(B, gh, gw, ph, pw, C)
    x = x.permute(0, 5, 1, 3, 2, 4)  # (B, C, gh, ph, gw, pw)
    return x.reshape(B, C, height, width)
