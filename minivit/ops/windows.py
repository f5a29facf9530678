"""Swin's windows: partition a (B, H, W, C) map into M x M windows, put them back, and the mask that keeps
shifted-window attention inside each region after the cyclic roll.

Glossary: M = (Mh, Mw) window size, s = (sh, sw) shift size, nW = (H/Mh)(W/Mw) windows per image.
"""

from __future__ import annotations

import torch

from minivit.ops._checks import check_divisible, check_size, check_tensor, to_pair

MASK_VALUE = -100.0  # what timm, torchvision and the official code add to the logits of a masked pair


def window_partition(x: torch.Tensor, window_size: int | tuple[int, int]) -> torch.Tensor:
    """Cut a feature map into non-overlapping windows.

    Args:
        x: shape (B, H, W, C); H and W multiples of the window size.
        window_size: M, or (Mh, Mw).

    Returns:
        windows, shape (B*nW, Mh, Mw, C): image 0's windows first, each image's windows in row-major
        order (the order of timm and torchvision).
    """
    Mh, Mw = to_pair(window_size, "window_size")
    check_tensor(x, "x", "(B, H, W, C)")
    B, H, W, C = x.shape
    check_divisible(H, Mh, "height H", "window height")
    check_divisible(W, Mw, "width W", "window width")
    x = x.view(B, H // Mh, Mh, W // Mw, Mw, C)
    x = x.permute(0, 1, 3, 2, 4, 5)  # (B, H/Mh, W/Mw, Mh, Mw, C)
    return x.reshape(-1, Mh, Mw, C)


def window_reverse(
    windows: torch.Tensor, window_size: int | tuple[int, int], height: int, width: int
) -> torch.Tensor:
    """Inverse of `window_partition`: put the windows back into feature maps.

    Args:
        windows: shape (B*nW, Mh, Mw, C), nW = (height/Mh)(width/Mw).
        window_size: M, or (Mh, Mw).
        height, width: the map size H, W.

    Returns:
        feature maps, shape (B, H, W, C).
    """
    Mh, Mw = to_pair(window_size, "window_size")
    check_size(height, "height")
    check_size(width, "width")
    check_divisible(height, Mh, "height", "window height")
    check_divisible(width, Mw, "width", "window width")
    check_tensor(windows, "windows", "(B*nW, Mh, Mw, C)")
    nW = (height // Mh) * (width // Mw)
    if tuple(windows.shape[1:3]) != (Mh, Mw) or windows.shape[0] % nW != 0:
        raise ValueError(
            f"windows must have shape (B*{nW}, {Mh}, {Mw}, C) for a {height}x{width} map, "
            f"got shape {tuple(windows.shape)}"
        )
    C = windows.shape[-1]
    x = windows.view(-1, height // Mh, width // Mw, Mh, Mw, C)
    x = x.permute(0, 1, 3, 2, 4, 5)  # (B, H/Mh, Mh, W/Mw, Mw, C)
    return x.reshape(-1, height, width, C)


def _check_shift(height: int, width: int, window_size, shift_size) -> tuple[tuple[int, int], tuple[int, int]]:
    check_size(height, "height")
    check_size(width, "width")
    Mh, Mw = to_pair(window_size, "window_size")
    sh, sw = to_pair(shift_size, "shift_size", minimum=0)
    if sh >= Mh or sw >= Mw:
        raise ValueError(
            f"shift_size must be smaller than window_size on both axes (0 <= s < M), "
            f"got shift_size={shift_size!r} for window_size={window_size!r}"
        )
    check_divisible(height, Mh, "height", "window height")
    check_divisible(width, Mw, "width", "window width")
    return (Mh, Mw), (sh, sw)


def shift_region_labels(
    height: int, width: int, window_size: int | tuple[int, int], shift_size: int | tuple[int, int]
) -> torch.Tensor:
    """Label every position of the cyclically shifted (H, W) map with its region, 0 to 8.

    After torch.roll by (-sh, -sw), the last window row and column hold pixels from opposite edges of
    the image. Each axis is cut at H-Mh and H-sh (W-Mw and W-sw): three bands, so 3 x 3 regions,
    labelled 3 * row_band + column_band. An axis with shift 0 has a single band.

    Args:
        height, width: the (padded) map size, multiples of the window size.
        window_size: M, or (Mh, Mw).
        shift_size: s, or (sh, sw), with 0 <= s < M.

    Returns:
        labels, shape (H, W), int64.
    """
    (Mh, Mw), (sh, sw) = _check_shift(height, width, window_size, shift_size)

    def bands(length: int, window: int, shift: int) -> torch.Tensor:
        band = torch.zeros(length, dtype=torch.long)
        if shift > 0:
            band[length - window :] = 1  # the last window: pixels that stayed in place...
            band[length - shift :] = 2  # ...and pixels that wrapped around from the start
        return band

    return 3 * bands(height, Mh, sh)[:, None] + bands(width, Mw, sw)[None, :]


def shifted_window_mask(
    height: int, width: int, window_size: int | tuple[int, int], shift_size: int | tuple[int, int]
) -> torch.Tensor:
    """The additive attention mask of shifted-window attention (SW-MSA).

    Two tokens of a window may attend to each other iff they lie in the same region of
    `shift_region_labels`; the others get MASK_VALUE (-100) added to their logits, as in timm,
    torchvision and the official Swin code.

    Args:
        height, width: the (padded) map size, multiples of the window size.
        window_size: M, or (Mh, Mw).
        shift_size: s, or (sh, sw), with 0 <= s < M.

    Returns:
        mask, shape (nW, Mh*Mw, Mh*Mw), float32: 0 where attention is allowed, -100 elsewhere.
    """
    labels = shift_region_labels(height, width, window_size, shift_size)
    Mh, Mw = to_pair(window_size, "window_size")
    windows = window_partition(labels[None, :, :, None], (Mh, Mw)).reshape(-1, Mh * Mw)  # (nW, Mh*Mw)
    same_region = windows[:, :, None] == windows[:, None, :]  # (nW, Mh*Mw, Mh*Mw)
    return torch.where(same_region, 0.0, MASK_VALUE)
