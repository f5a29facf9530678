"""Swin's (shifted-)window attention as one function, in the order of the paper: pad, roll, partition,
attend with the relative position bias and the shift mask, reverse, roll back, crop (roll and partition
as one gather, and their inverse too). Swin's WindowAttention layer calls it; the course and the grader
use it as the reference.

Glossary: B batch, H x W map (tokens), C channels, M window size, N = M*M tokens per window,
nW windows per image, nh heads, hs = C / nh head size, s shift.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from minivit.ops._checks import check_size, check_tensor
from minivit.ops.attention import attention, merge_heads
from minivit.ops.windows import shifted_window_index, shifted_window_mask


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
    F.scaled_dot_product_attention with the bias and mask added into one float mask; it gives the
    same numbers as minivit.ops.attention.attention, which writes the steps out (course notebook 06), and
    which runs instead when the bias needs a gradient (in training), where the fused kernel cannot
    give it one.

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
    B, H, W, C = check_tensor(x, "x", "(B, H, W, C)").shape
    N, hs = M * M, C // nh
    if C % nh or tuple(relative_position_bias.shape) != (nh, N, N) or not 0 <= shift_size < M:
        raise ValueError(
            f"need C a multiple of num_heads, relative_position_bias of shape (nh, N, N) = ({nh}, {N}, {N}) "
            f"and 0 <= shift_size < window_size; got C = {C}, num_heads = {nh}, relative_position_bias of shape "
            f"{tuple(relative_position_bias.shape)}, shift_size = {shift_size}, window_size = {M}"
        )

    # 1. pad: bottom and right, up to multiples of the window
    pad_b, pad_r = -H % M, -W % M
    if pad_b or pad_r:
        x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))  # (B, Hp, Wp, C)
    Hp, Wp = H + pad_b, W + pad_r
    nW = (Hp // M) * (Wp // M)

    # 2. roll up and left by s and 3. partition into windows of N tokens, as one gather: shifted_window_index
    # is where window_partition(torch.roll(x, (-s, -s), dims=(1, 2)), M) takes each token from. No shift
    # along an axis that holds a single window, where it would only cut that window into regions.
    shift = (shift_size if Hp > M else 0, shift_size if Wp > M else 0)
    index = shifted_window_index(Hp, Wp, M, shift).to(x.device)  # (Hp*Wp,), one image
    # the same gather in every image, over the B*Hp*Wp tokens of the batch (image b's start at b*Hp*Wp):
    # selecting whole rows of C channels is about twice as fast as selecting along the token axis per image
    starts = torch.arange(B, device=x.device)[:, None] * (Hp * Wp)  # (B, 1)
    windows = x.reshape(B * Hp * Wp, C).index_select(0, (starts + index).flatten())
    windows = windows.view(B * nW, N, C)  # image 0's windows first

    # 4. attend inside every window, each head with its own relative position bias; after a roll, the
    # shift mask keeps tokens that came from opposite edges of the map from attending to each other
    qkv = F.linear(windows, qkv_weight, qkv_bias).view(B * nW, N, 3, nh, hs)
    q, k, v = qkv.permute(2, 0, 3, 1, 4)  # 3 x (B*nW, nh, N, hs)
    if shift == (0, 0):
        logits_bias = relative_position_bias[None]  # (1, nh, N, N): the same in every window
    else:
        mask = shifted_window_mask(Hp, Wp, M, shift).to(x.device)  # (nW, N, N): 0 or -100
        logits_bias = (relative_position_bias + mask[:, None]).repeat(B, 1, 1, 1)  # (B*nW, nh, N, N)
    logits_bias = logits_bias.to(q.dtype)
    if logits_bias.requires_grad:
        # the bias table is learning: PyTorch's fused kernel cannot give the bias its gradient and falls
        # back to these same steps plus a check for rows masked out entirely (none are here); written out,
        # a training step of swin_t is about 1.5% faster
        out, _ = attention(q, k, v, logits_bias)  # (B*nW, nh, N, hs)
    else:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=logits_bias)  # (B*nW, nh, N, hs)
    out = F.linear(merge_heads(out), proj_weight, proj_bias)  # (B*nW, N, C)

    # 5. and 6. reverse and roll back: the inverse gather
    x = out.view(B * Hp * Wp, C).index_select(0, (starts + index.argsort()).flatten()).view(B, Hp, Wp, C)

    # 7. crop the padding
    return x[:, :H, :W]  # (B, H, W, C)
