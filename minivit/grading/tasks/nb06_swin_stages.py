"""The graded tasks of notebook 06, Swin's stages: merging 2 x 2 patches, the patch merging layer, and
the (shifted-)window attention of a Swin block."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from minivit import (
    attention,
    merge_patches,
    relative_position_index,
    shifted_window_mask,
    window_partition,
    window_reverse,
)
from minivit.grading.tasks.common import Case, Draw, Pitfall, add_task, arange, with_weights
from minivit.models.swin import PatchMerging
from minivit.ops.relative_position import relative_position_bias
from minivit.ops.window_attention import shifted_window_attention

NB06 = "06_swin_stages"


def _merge_row_major(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]], dim=-1)


def _merge_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(d.size(1, 2), 2 * d.size(1, 3), 2 * d.size(1, 3), d.size(1, 3)),)) for _ in range(3)]


add_task(
    name="merge_patches",
    notebook=NB06,
    points=2,
    params=("x",),
    reference=merge_patches,
    public=lambda: [
        Case((arange(1, 4, 4, 1),), "x of shape (1, 4, 4, 1) holding 0..15"),
        Case((Draw(0).randn(2, 4, 6, 3),)),
    ],
    hidden=_merge_hidden,
    hint="Take the four neighbours of every 2 x 2 group with strided slices, x[:, 0::2, 0::2], x[:, 1::2, 0::2], "
    "x[:, 0::2, 1::2], x[:, 1::2, 1::2], in that order, and concatenate them on the channels: (B, H/2, W/2, 4C).",
    pitfalls=(
        Pitfall("Swin's order is top-left, bottom-left, top-right, bottom-right (x[0::2, 0::2], x[1::2, 0::2], "
                "x[0::2, 1::2], x[1::2, 1::2]); yours is row-major", _merge_row_major),
    ),
)


def _patch_merging(x, norm_weight, norm_bias, reduction_weight):
    """minivit.models.swin.PatchMerging with these weights (eps 1e-5, as in swin_t)."""
    weights = {"norm.weight": norm_weight, "norm.bias": norm_bias, "reduction.weight": reduction_weight}
    return with_weights(PatchMerging(x.shape[-1], eps=1e-5), weights, x)


def _patch_merging_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    return [
        Case((d.randn(B, H, W, C), 1 + d.randn(4 * C, scale=0.2), d.randn(4 * C, scale=0.2),
              d.randn(2 * C, 4 * C, scale=0.5)))
        for B, H, W, C in sizes
    ]


add_task(
    name="patch_merging",
    notebook=NB06,
    points=2,
    helpers=(merge_patches,),
    params=("x", "norm_weight", "norm_bias", "reduction_weight"),
    reference=_patch_merging,
    public=lambda: _patch_merging_cases(Draw(0), [(1, 4, 4, 2), (2, 4, 6, 3)]),
    hidden=lambda d: _patch_merging_cases(
        d, [(d.size(1, 2), 2 * d.size(1, 3), 2 * d.size(1, 3), d.size(2, 4)) for _ in range(3)]
    ),
    hint="merge_patches(x) gives (B, H/2, W/2, 4C); apply F.layer_norm over the last axis (size 4C) with "
    "norm_weight and norm_bias (eps 1e-5), then F.linear with reduction_weight (2C, 4C) and no bias.",
    pitfalls=(
        Pitfall("the LayerNorm is missing before the reduction",
                lambda x, nw, nb, rw: F.linear(merge_patches(x), rw)),
        Pitfall("the LayerNorm ignores its weight and bias",
                lambda x, nw, nb, rw: F.linear(F.layer_norm(merge_patches(x), nw.shape, eps=1e-5), rw)),
    ),
)


def _swin_attention(x, weights, window_size, shift_size, num_heads):
    """minivit.ops.window_attention.shifted_window_attention with the weights of Swin's WindowAttention layer."""
    w = weights
    bias = relative_position_bias(w["relative_position_bias_table"], window_size)  # (nh, M*M, M*M)
    return shifted_window_attention(x, w["qkv.weight"], w["qkv.bias"], w["proj.weight"], w["proj.bias"], bias,
                                    window_size, shift_size, num_heads)


# The known mistakes of the shifted-window attention, each written out from its steps.

def _attend_in_windows(x, weights, M, nh, mask):
    """Attention inside the M x M windows of x (B, H, W, C), with the relative position bias and `mask`
    (nW, M*M, M*M) added to the logits, or no mask (None); back to (B, H, W, C)."""
    B, H, W, C = x.shape
    windows = window_partition(x, M).reshape(-1, M * M, C)  # (B*nW, M*M, C)
    qkv = F.linear(windows, weights["qkv.weight"], weights["qkv.bias"])
    q, k, v = qkv.reshape(-1, M * M, 3, nh, C // nh).permute(2, 0, 3, 1, 4)  # 3 x (B*nW, nh, M*M, C/nh)
    logits_bias = relative_position_bias(weights["relative_position_bias_table"], M)[None]  # (1, nh, M*M, M*M)
    if mask is not None:
        logits_bias = (logits_bias + mask[:, None]).repeat(B, 1, 1, 1)  # (B*nW, nh, M*M, M*M), image by image
    out, _ = attention(q, k, v, mask=logits_bias)  # (B*nW, nh, M*M, C/nh)
    out = F.linear(out.transpose(1, 2).reshape(-1, M * M, C), weights["proj.weight"], weights["proj.bias"])
    return window_reverse(out.reshape(-1, M, M, C), M, H, W)


def _swin_without_mask(x, weights, M, s, nh):
    x = torch.roll(x, (-s, -s), dims=(1, 2))
    x = _attend_in_windows(x, weights, M, nh, mask=None)
    return torch.roll(x, (s, s), dims=(1, 2))


def _swin_not_rolled_back(x, weights, M, s, nh):
    H, W = x.shape[1:3]
    x = torch.roll(x, (-s, -s), dims=(1, 2))
    return _attend_in_windows(x, weights, M, nh, shifted_window_mask(H, W, M, s))


def _swin_not_shifted(x, weights, M, s, nh):
    H, W = x.shape[1:3]
    return _attend_in_windows(x, weights, M, nh, shifted_window_mask(H, W, M, s))


def _swin_shift_ignored(x, weights, M, s, nh):
    return _attend_in_windows(x, weights, M, nh, mask=None)


def _swin_without_bias(x, weights, M, s, nh):
    w = weights
    no_bias = torch.zeros(nh, M * M, M * M)
    return shifted_window_attention(x, w["qkv.weight"], w["qkv.bias"], w["proj.weight"], w["proj.bias"], no_bias,
                                    M, s, nh)


def _swin_first_roll_reversed(x, weights, M, s, nh):
    H, W = x.shape[1:3]
    x = torch.roll(x, (s, s), dims=(1, 2))  # down and right
    x = _attend_in_windows(x, weights, M, nh, shifted_window_mask(H, W, M, s))
    return torch.roll(x, (s, s), dims=(1, 2))


def _swin_attention_cases(d: Draw, sizes: list[tuple[int, int, int, int, int, int, int]]) -> list[Case]:
    cases = []
    for B, rows, cols, M, s, nh, hs in sizes:
        C = nh * hs
        weights = {
            "qkv.weight": d.randn(3 * C, C, scale=0.4),
            "qkv.bias": d.randn(3 * C, scale=0.2),
            "proj.weight": d.randn(C, C, scale=0.4),
            "proj.bias": d.randn(C, scale=0.2),
            "relative_position_bias_table": d.randn((2 * M - 1) ** 2, nh),
        }
        cases.append(Case((d.randn(B, rows * M, cols * M, C), weights, M, s, nh)))
    return cases


def _swin_attention_hidden(d: Draw) -> list[Case]:
    sizes = []
    for _ in range(3):
        M = d.size(2, 4)
        sizes.append((d.size(1, 2), d.size(2, 3), d.size(2, 3), M, d.size(1, M - 1), d.size(1, 2), d.size(2, 3)))
    return _swin_attention_cases(d, sizes)


add_task(
    name="shifted_window_attention",
    notebook=NB06,
    points=3,
    helpers=(attention, window_partition, window_reverse, shifted_window_mask, relative_position_index),
    params=("x", "weights", "window_size", "shift_size", "num_heads"),
    reference=_swin_attention,  # the cases' maps are 2 or 3 windows high and wide: no padding, the shift kept
    public=lambda: _swin_attention_cases(Draw(0), [(1, 2, 2, 2, 1, 2, 2), (2, 2, 2, 4, 2, 3, 2)]),
    hidden=_swin_attention_hidden,
    hint="In order: roll by (-s, -s); window_partition and flatten to (B*nW, M*M, C); qkv Linear, split into "
    "heads (B*nW, nh, M*M, C/nh); add the relative position bias (nh, M*M, M*M) and the shifted-window mask "
    "(nW, M*M, M*M), repeated for each image, to the logits; attention; merge heads; proj Linear; "
    "window_reverse; roll back by (+s, +s).",
    pitfalls=(
        Pitfall("the shifted-window mask is missing: pixels that the roll brought together from opposite edges "
                "attend to each other", _swin_without_mask),
        Pitfall("the result is not rolled back by (+s, +s) after window_reverse", _swin_not_rolled_back),
        Pitfall("the map is not shifted: roll it by (-s, -s) before window_partition (and back by (+s, +s) "
                "after window_reverse), so that the mask's regions are where it expects them", _swin_not_shifted),
        Pitfall("shift_size is ignored: this is plain window attention (W-MSA), with no roll and no mask; "
                "SW-MSA rolls by (-s, -s), masks, and rolls back", _swin_shift_ignored),
        Pitfall("the relative position bias is missing from the logits", _swin_without_bias),
        Pitfall("the first roll goes the wrong way: shift by (-s, -s) before partitioning", _swin_first_roll_reversed),
    ),
    atol=1e-4,
)
