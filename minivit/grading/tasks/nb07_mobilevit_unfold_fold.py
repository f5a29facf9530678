"""The graded tasks of notebook 07, MobileViT's unfold and fold: a feature map into sequences of one
position inside every patch and back, and MobileViT's transformer block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minivit import attention, merge_heads, mobilevit_fold, mobilevit_unfold
from minivit.grading.tasks.common import (
    Case,
    Draw,
    Pitfall,
    add_task,
    arange,
    image_and_patch_size_cases,
    patch_sizes,
    three,
    with_weights,
)
from minivit.models.layers import Mlp, SelfAttention, TransformerBlock

NB07 = "07_mobilevit_unfold_fold"


def _unfold_patch_per_sequence(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    B, C, H, W = x.shape
    p = patch_size
    x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)  # (B, gh, gw, p, p, C)
    return x.reshape(-1, p * p, C)  # (B*N, P, C)


def _fold_patch_per_sequence(tokens: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    p, C = patch_size, tokens.shape[-1]
    gh, gw = height // p, width // p
    x = tokens.reshape(-1, gh, gw, p, p, C).permute(0, 5, 1, 3, 2, 4)  # (B, C, gh, p, gw, p)
    return x.reshape(-1, C, height, width)


add_task(
    name="mobilevit_unfold",
    notebook=NB07,
    points=2,
    params=("x", "patch_size"),
    reference=mobilevit_unfold,
    public=lambda: [
        Case((arange(1, 1, 4, 4), 2), "x of shape (1, 1, 4, 4) holding 0..15, patch_size=2"),
        Case((Draw(0).randn(2, 3, 4, 6), 2)),
    ],
    hidden=image_and_patch_size_cases,
    hint="Reshape to (B, C, H/p, p, W/p, p), permute to (B, p, p, H/p, W/p, C) so that the position inside "
    "the patch comes first, then reshape to (B*P, N, C): sequence r*p + c holds pixel (r, c) of every patch.",
    pitfalls=(
        Pitfall("each sequence holds one whole patch, as ViT's patchify does; MobileViT's sequences hold one "
                "position inside the patch, taken from every patch: (B*P, N, C)", _unfold_patch_per_sequence),
    ),
)


def _fold_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B * p * p, gh * gw, C), p, gh * p, gw * p)) for B, C, p, gh, gw in three(d, patch_sizes)]


add_task(
    name="mobilevit_fold",
    notebook=NB07,
    points=1,
    params=("tokens", "patch_size", "height", "width"),
    reference=mobilevit_fold,
    public=lambda: [
        Case((mobilevit_unfold(arange(1, 1, 4, 4), 2), 2, 4, 4),
             "the sequences of a (1, 1, 4, 4) map holding 0..15, patch_size=2, height=4, width=4"),
        Case((Draw(0).randn(8, 6, 3), 2, 4, 6)),
    ],
    hidden=_fold_hidden,
    hint="Undo mobilevit_unfold: reshape to (B, p, p, H/p, W/p, C), permute to (B, C, H/p, p, W/p, p), "
    "reshape to (B, C, H, W).",
    pitfalls=(
        Pitfall("the sequences are read as whole patches; mobilevit_unfold made sequence r*p + c from pixel (r, c) "
                "of every patch", _fold_patch_per_sequence),
    ),
)


def _transformer_block(x, weights, num_heads):
    """minivit.models.layers.TransformerBlock with these weights, as MobileViT builds it: SiLU, eps 1e-5."""
    D, hidden = x.shape[-1], weights["mlp.fc1.weight"].shape[0]
    block = TransformerBlock(D, num_heads, mlp_ratio=hidden / D, act_layer=nn.SiLU, eps=1e-5)
    return with_weights(block, weights, x)


# The known mistakes of the block, each written out from minivit's layers. `weights` holds TransformerBlock's.

def _layer(weights: dict, prefix: str) -> dict:
    """The weights of one layer of the block, e.g. "attn." -> {"qkv.weight": ..., ...}."""
    return {name.removeprefix(prefix): w for name, w in weights.items() if name.startswith(prefix)}


def _norm(x, weights, name):
    return F.layer_norm(x, x.shape[-1:], weights[f"{name}.weight"], weights[f"{name}.bias"], eps=1e-5)


def _attn(x, weights, num_heads):
    return with_weights(SelfAttention(x.shape[-1], num_heads), _layer(weights, "attn."), x)


def _attn_unscaled(x, weights, num_heads):
    """The block's attention with the logits q k^T not divided by sqrt(hs)."""
    layer = SelfAttention(x.shape[-1], num_heads)
    layer.load_state_dict(_layer(weights, "attn."))
    with torch.no_grad():
        out, _ = attention(*layer.eval().heads(x), scale=1.0)
        return layer.proj(merge_heads(out))


def _mlp(x, weights, act_layer=nn.SiLU):
    hidden = weights["mlp.fc1.weight"].shape[0]
    return with_weights(Mlp(x.shape[-1], hidden, act_layer), _layer(weights, "mlp."), x)


def _block_without_mlp(x, weights, num_heads):
    x = x + _attn(_norm(x, weights, "norm1"), weights, num_heads)
    return x + _norm(x, weights, "norm2")


def _block_post_norm(x, weights, num_heads):
    x = _norm(x + _attn(x, weights, num_heads), weights, "norm1")
    return _norm(x + _mlp(x, weights), weights, "norm2")


def _block_with_gelu(x, weights, num_heads):
    x = x + _attn(_norm(x, weights, "norm1"), weights, num_heads)
    return x + _mlp(_norm(x, weights, "norm2"), weights, nn.GELU)


def _block_unscaled(x, weights, num_heads):
    x = x + _attn_unscaled(_norm(x, weights, "norm1"), weights, num_heads)
    return x + _mlp(_norm(x, weights, "norm2"), weights)


def _block_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    cases = []
    for B, N, nh, hs in sizes:
        D = nh * hs
        weights = {
            "norm1.weight": 1 + d.randn(D, scale=0.2), "norm1.bias": d.randn(D, scale=0.2),
            "attn.qkv.weight": d.randn(3 * D, D, scale=D ** -0.5), "attn.qkv.bias": d.randn(3 * D, scale=0.2),
            "attn.proj.weight": d.randn(D, D, scale=D ** -0.5), "attn.proj.bias": d.randn(D, scale=0.2),
            "norm2.weight": 1 + d.randn(D, scale=0.2), "norm2.bias": d.randn(D, scale=0.2),
            "mlp.fc1.weight": d.randn(2 * D, D, scale=D ** -0.5), "mlp.fc1.bias": d.randn(2 * D, scale=0.2),
            "mlp.fc2.weight": d.randn(D, 2 * D, scale=(2 * D) ** -0.5), "mlp.fc2.bias": d.randn(D, scale=0.2),
        }
        cases.append(Case((d.randn(B, N, D), weights, nh)))
    return cases


add_task(
    name="transformer_block",
    notebook=NB07,
    points=3,
    helpers=(attention,),
    params=("x", "weights", "num_heads"),
    reference=_transformer_block,
    public=lambda: _block_cases(Draw(0), [(1, 4, 2, 4), (2, 6, 3, 4)]),
    hidden=lambda d: _block_cases(d, [(d.size(1, 2), d.size(3, 8), d.pick([1, 2, 4]), d.size(2, 4)) for _ in range(3)]),
    hint="Pre-norm, both halves residual: x = x + attn(norm1(x)), then x = x + mlp(norm2(x)). attn: qkv Linear, "
    "split into nh heads, scaled dot-product attention, merge heads, proj Linear. mlp: fc1, SiLU, fc2. "
    "LayerNorms use eps 1e-5.",
    pitfalls=(
        Pitfall("the second half adds norm2(x) to x and has no MLP, a mistake in a widely copied snippet: it must "
                "be x + mlp(norm2(x))", _block_without_mlp),
        Pitfall("this is a post-norm block (norm after each residual sum); MobileViT's, like ViT's, normalises "
                "before attention and before the MLP", _block_post_norm),
        Pitfall("the MLP uses GELU; MobileViT's uses SiLU", _block_with_gelu),
        Pitfall("the attention's scores q k^T are not divided by sqrt(hs), the size of one head's query",
                _block_unscaled),
    ),
    atol=1e-4,
)
