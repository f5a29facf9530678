"""The graded tasks of notebook 03, patch partition: an image to patch tokens and back, the patch
embedding, and the class token with the position embedding."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from minivit import patchify, unpatchify
from minivit.grading.tasks.common import (
    Case,
    Draw,
    Pitfall,
    add_task,
    arange,
    image_and_patch_size_cases,
    patch_sizes,
    three,
)

NB03 = "03_patch_partition"


def _patchify_channel_first(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    B, C, H, W = x.shape
    p = patch_size
    return x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, C * p * p)


def _patchify_column_major(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    B, C, H, W = x.shape
    p = patch_size
    return x.reshape(B, C, H // p, p, W // p, p).permute(0, 4, 2, 3, 5, 1).reshape(B, -1, C * p * p)


add_task(
    name="patchify",
    notebook=NB03,
    points=2,
    params=("x", "patch_size"),
    reference=patchify,
    public=lambda: [
        Case((arange(1, 1, 4, 4), 2), "x of shape (1, 1, 4, 4) holding 0..15, patch_size=2"),
        Case((Draw(0).randn(2, 3, 6, 4), 2)),
    ],
    hidden=image_and_patch_size_cases,
    hint="Split H into (H/p, p) and W into (W/p, p), permute to (B, H/p, W/p, p, p, C), then reshape to "
    "(B, N, p*p*C): patches left to right then top to bottom, each token's values in (row, column, channel) order.",
    pitfalls=(
        Pitfall("each token holds its values in (channel, row, column) order; ViT's is (row, column, channel): "
                "put C last before the final reshape", _patchify_channel_first),
        Pitfall("the patches go top to bottom, then left to right; they must go left to right, then top to "
                "bottom (row-major)", _patchify_column_major),
    ),
)


def _unpatchify_channel_first(tokens: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    B, N, D = tokens.shape
    p = patch_size
    C = D // (p * p)
    x = tokens.reshape(B, height // p, width // p, C, p, p).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(B, C, height, width)


def _unpatchify_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B, gh * gw, p * p * C), p, gh * p, gw * p)) for B, C, p, gh, gw in three(d, patch_sizes)]


add_task(
    name="unpatchify",
    notebook=NB03,
    points=1,
    params=("tokens", "patch_size", "height", "width"),
    reference=unpatchify,
    public=lambda: [
        Case((patchify(arange(1, 1, 4, 4), 2), 2, 4, 4), "the tokens of a (1, 1, 4, 4) image holding 0..15, "
             "patch_size=2, height=4, width=4"),
        Case((Draw(0).randn(2, 6, 12), 2, 6, 4)),
    ],
    hidden=_unpatchify_hidden,
    hint="Undo patchify step by step: reshape to (B, H/p, W/p, p, p, C), permute to (B, C, H/p, p, W/p, p), "
    "and reshape to (B, C, H, W).",
    pitfalls=(
        Pitfall("the values of a token are read in (channel, row, column) order; patchify wrote them in "
                "(row, column, channel) order", _unpatchify_channel_first),
    ),
)


def _patch_embedding_unordered_weight(x, weight, bias):
    return F.linear(patchify(x, weight.shape[-1]), weight.reshape(weight.shape[0], -1), bias)


def _patch_embedding_cases(d: Draw, sizes: list[tuple[int, int, int, int, int, int]]) -> list[Case]:
    return [
        Case((d.randn(B, C, gh * p, gw * p), d.randn(D, C, p, p, scale=0.5), d.randn(D)))
        for B, C, p, gh, gw, D in sizes
    ]


add_task(
    name="patch_embedding",
    notebook=NB03,
    points=2,
    helpers=(patchify,),
    params=("x", "weight", "bias"),
    # ViT's patch embedding (VisionTransformer.patch_embed): a p x p convolution with stride p, its
    # (B, D, H/p, W/p) output read as N tokens
    reference=lambda x, weight, bias: F.conv2d(x, weight, bias, stride=weight.shape[-1]).flatten(2).transpose(1, 2),
    public=lambda: _patch_embedding_cases(Draw(0), [(1, 3, 2, 2, 2, 5), (2, 2, 3, 2, 3, 4)]),
    hidden=lambda d: _patch_embedding_cases(d, [(*patch_sizes(d), d.size(2, 6)) for _ in range(3)]),
    hint="A conv with kernel = stride = p sees each patch once. patchify(x, p) gives tokens in (row, column, "
    "channel) order; reorder the conv weight (D, C, p, p) the same way, weight.permute(0, 2, 3, 1).reshape(D, -1), "
    "then compute tokens @ W.T + bias.",
    pitfalls=(
        Pitfall("weight.reshape(D, -1) lists each filter in (channel, row, column) order, but patchify's tokens "
                "are in (row, column, channel) order: permute the weight to (D, p, p, C) first",
                _patch_embedding_unordered_weight),
    ),
)


def _class_token_last(tokens, cls_token, pos_embedding):
    return torch.cat([tokens, cls_token.expand(tokens.shape[0], -1, -1)], dim=1) + pos_embedding


def _class_token_cases(d: Draw, sizes: list[tuple[int, int, int]]) -> list[Case]:
    return [Case((d.randn(B, N, D), d.randn(1, 1, D), d.randn(1, N + 1, D))) for B, N, D in sizes]


add_task(
    name="add_class_token",
    notebook=NB03,
    points=1,
    params=("tokens", "cls_token", "pos_embedding"),
    # as VisionTransformer.tokens does after the patch embedding: (B, 1+N, D)
    reference=lambda tokens, cls_token, pos_embedding: torch.cat(
        [cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1) + pos_embedding,
    public=lambda: _class_token_cases(Draw(0), [(1, 3, 4), (2, 4, 3)]),
    hidden=lambda d: _class_token_cases(d, [(d.size(2, 3), d.size(2, 9), d.size(2, 8)) for _ in range(3)]),
    hint="Expand the class token to (B, 1, D), concatenate it in front of the tokens along dim=1, then add "
    "the position embedding (1, N+1, D) to the whole sequence.",
    pitfalls=(
        Pitfall("the class token must come first, in front of the patch tokens", _class_token_last),
    ),
)
