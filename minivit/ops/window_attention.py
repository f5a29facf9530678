"""Swin's (shifted-)window attention as one function, in the order of section 3 of the paper: pad, roll,
partition, attend with the relative position bias and the shift mask, reverse, roll back, crop. Swin's
WindowAttention layer calls it; the course and the grader use it as the reference.

Glossary: B batch, H x W map (tokens), C channels, M window size, N = M*M tokens per window,
nW windows per image, nh heads, hs = C / nh head size, s shift.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from minivit.ops._checks import check_size, check_tensor
from minivit.ops.attention import merge_heads
from minivit.ops.windows import shifted_window_mask, window_partition, window_reverse


def shifted_window_attention(
    x: torch.Tensor,
    qkv_weight: torch.Tensor,
    qkv_bias: torch.Tensor | None,
    proj_weight: torch.Tensor,
    proj_bias: torch.Tensor | None,
    relative_position_bias: torch.Tensor,
    window_size: int,
    shift_size: int,
    num_heads: int,
) -> torch.Tensor:
    """Multi-head self-attention inside M x M windows (W-MSA), or inside windows shifted by s
    (SW-MSA, s > 0), with a relative position bias. Works on a map of any size, as torchvision's
    does: the map is padded bottom and right to multiples of M (the window never shrinks; padded
    tokens are not masked), and the shift is dropped along an axis that holds a single window.

    The attention itself, softmax(q k^T / sqrt(hs) + bias + mask) v, is PyTorch's fused
    F.scaled_dot_product_attention with the bias and the mask added into one float mask, in training
    and in eval alike; it gives the same numbers as minivit.ops.attention.attention, which writes the
    steps out (course notebook 06 shows both side by side).

    Args:
        x: the map, shape (B, H, W, C).
        qkv_weight, qkv_bias: the Linear that gives every token's query, key and value: (3C, C) and
            (3C,) or None.
        proj_weight, proj_bias: the output Linear: (C, C) and (C,) or None.
        relative_position_bias: what each head adds to the logit of each (query, key) pair of a
            window, shape (nh, N, N); see minivit.ops.relative_position.relative_position_bias.
        window_size: M.
        shift_size: s, 0 <= s < M: 0 for W-MSA, M // 2 for SW-MSA.
        num_heads: nh; C must be a multiple of it.

    Returns:
        the attended map, shape (B, H, W, C).
    """
    M, nh = check_size(window_size, "window_size"), check_size(num_heads, "num_heads")
    s = check_size(shift_size, "shift_size", minimum=0)
    B, H, W, C = check_tensor(x, "x", "(B, H, W, C)").shape
    N, hs = M * M, C // nh
    if C % nh:
        raise ValueError(f"x's channels C ({C}) must be a multiple of num_heads ({nh})")
    if s >= M:
        raise ValueError(f"shift_size ({s}) must be smaller than window_size ({M})")
    bias_shape = tuple(check_tensor(relative_position_bias, "relative_position_bias", "(nh, N, N)").shape)
    if bias_shape != (nh, N, N):
        raise ValueError(
            f"relative_position_bias must have shape (nh, N, N) = ({nh}, {N}, {N}) for num_heads {nh} and "
            f"window_size {M}, got shape {bias_shape}"
        )

    # 1. pad bottom and right, up to multiples of the window
    pad_b, pad_r = -H % M, -W % M
    if pad_b or pad_r:
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))  # (B, Hp, Wp, C)
    Hp, Wp = H + pad_b, W + pad_r

    # 2. roll up and left by s: the shifted windows become regular windows. No shift along an axis that
    # holds a single window, where it would only cut that window into regions
    shift = (s if Hp > M else 0, s if Wp > M else 0)
    if any(shift):
        x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))

    # 3. partition into windows of N tokens
    windows = window_partition(x, M).reshape(-1, N, C)  # (B*nW, N, C), image 0's windows first

    # 4. attend inside every window, each head with its own relative position bias; after a roll, the
    # shift mask keeps tokens that came from opposite edges of the map from attending to each other
    qkv = F.linear(windows, qkv_weight, qkv_bias).view(-1, N, 3, nh, hs)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)  # 3 x (B*nW, nh, N, hs)
    if any(shift):
        mask = shifted_window_mask(Hp, Wp, M, shift).to(x.device)  # (nW, N, N): 0 or -100
        logits_bias = (relative_position_bias + mask[:, None]).repeat(B, 1, 1, 1)  # (B*nW, nh, N, N)
    else:
        logits_bias = relative_position_bias[None]  # (1, nh, N, N): the same in every window
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=logits_bias.to(q.dtype))  # (B*nW, nh, N, hs)
    out = F.linear(merge_heads(out), proj_weight, proj_bias)  # (B*nW, N, C)

    # 5. reverse: the windows back into maps
    x = window_reverse(out.view(-1, M, M, C), M, Hp, Wp)  # (B, Hp, Wp, C)

    # 6. roll back down and right by s
    if any(shift):
        x = torch.roll(x, shifts=shift, dims=(1, 2))

    # 7. crop the padding
    return x[:, :H, :W]  # (B, H, W, C)
