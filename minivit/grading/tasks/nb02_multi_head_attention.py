"""The graded tasks of notebook 02, multi-head attention: splitting tokens into heads, merging them
back, and multi-head self-attention with its projections."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from minivit import attention, merge_heads, split_heads
from minivit.grading.tasks.common import Case, Draw, Pitfall, add_task, arange, three, with_weights
from minivit.models.layers import SelfAttention

NB02 = "02_multi_head_attention"


def _heads_split_without_transpose(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    B, N, D = x.shape
    return x.reshape(B, num_heads, N, D // num_heads)


def _heads_interleaved(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    B, N, D = x.shape
    return x.reshape(B, N, D // num_heads, num_heads).permute(0, 3, 1, 2)  # channel c to head c % nh


def _heads_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    return [Case((d.randn(B, N, nh * hs), nh)) for B, N, nh, hs in sizes]


def _heads_sizes(d: Draw) -> tuple[int, int, int, int]:
    """(B, N, nh, hs) with at least 2 tokens, 2 heads and 2 channels per head, so that every order matters."""
    return d.size(1, 3), d.size(2, 6), d.size(2, 4), d.size(2, 4)


add_task(
    name="split_heads",
    notebook=NB02,
    points=1,
    params=("x", "num_heads"),
    reference=split_heads,
    public=lambda: [
        Case((arange(1, 3, 8), 2), "x of shape (1, 3, 8) holding 0..23, num_heads=2"),
        Case((Draw(0).randn(2, 4, 6), 3)),
    ],
    hidden=lambda d: _heads_cases(d, three(d, _heads_sizes)),
    hint="Head h is channels h*hs .. (h+1)*hs - 1 of every token: reshape (B, N, D) to (B, N, nh, hs), then "
    "transpose to (B, nh, N, hs) so that the heads come before the tokens.",
    pitfalls=(
        Pitfall("reshaping straight to (B, nh, N, hs) takes the values in memory order, so 'head 0' "
                "holds every channel of the first tokens instead of a few channels of every token: reshape to "
                "(B, N, nh, hs), then transpose(1, 2)", _heads_split_without_transpose),
        Pitfall("the heads are interleaved (channel c in head c % nh); each head is hs consecutive channels: "
                "reshape to (B, N, nh, hs), not (B, N, hs, nh)", _heads_interleaved),
        Pitfall("(B, N, nh, hs) is one step short: transpose(1, 2) to (B, nh, N, hs), so that the heads are a "
                "batch axis", lambda x, num_heads: x.reshape(*x.shape[:2], num_heads, -1)),
    ),
)


def _merge_heads_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B, nh, N, hs),)) for B, N, nh, hs in three(d, _heads_sizes)]


add_task(
    name="merge_heads",
    notebook=NB02,
    points=1,
    params=("x",),
    reference=merge_heads,
    public=lambda: [
        Case((split_heads(arange(1, 3, 8), 2),), "the 2 heads of (1, 3, 8) tokens holding 0..23"),
        Case((Draw(0).randn(2, 3, 4, 2),)),
    ],
    hidden=_merge_heads_hidden,
    hint="Undo split_heads: transpose (B, nh, N, hs) to (B, N, nh, hs), then reshape to (B, N, nh*hs): "
    "head 0's channels first, then head 1's.",
    pitfalls=(
        Pitfall("reshaping (B, nh, N, hs) straight to (B, N, D) mixes tokens and heads: transpose(1, 2) first",
                lambda x: x.reshape(x.shape[0], x.shape[2], -1)),
        Pitfall("the heads are interleaved channel by channel; put them side by side: head 0's hs channels, "
                "then head 1's", lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1)),
    ),
)


# The known mistakes of multi-head attention, each written out. `weights` holds SelfAttention's parameters.

def _qkv(x: torch.Tensor, weights: dict) -> tuple[torch.Tensor, ...]:
    """Queries, keys and values of all heads together: 3 x (B, N, D)."""
    return F.linear(x, weights["qkv.weight"], weights["qkv.bias"]).chunk(3, dim=-1)


def _proj(out: torch.Tensor, weights: dict) -> torch.Tensor:
    return F.linear(out, weights["proj.weight"], weights["proj.bias"])


def _mha_scaled_by_token_size(x, weights, num_heads):
    q, k, v = (split_heads(t, num_heads) for t in _qkv(x, weights))
    out, _ = attention(q, k, v, scale=1 / math.sqrt(x.shape[-1]))  # 1 / sqrt(D), not 1 / sqrt(hs)
    return _proj(merge_heads(out), weights)


def _mha_one_head(x, weights, num_heads):
    out, _ = attention(*_qkv(x, weights))  # all D channels in one head
    return _proj(out, weights)


def _mha_without_projection(x, weights, num_heads):
    q, k, v = (split_heads(t, num_heads) for t in _qkv(x, weights))
    return merge_heads(attention(q, k, v)[0])


def _mha_heads_interleaved(x, weights, num_heads):
    q, k, v = (_heads_interleaved(t, num_heads) for t in _qkv(x, weights))
    out, _ = attention(q, k, v)  # (B, nh, N, hs)
    return _proj(out.permute(0, 2, 3, 1).reshape(x.shape), weights)  # channel c from head c % nh


def _mha_softmax_over_queries(x, weights, num_heads):
    q, k, v = (split_heads(t, num_heads) for t in _qkv(x, weights))
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, nh, N, N)
    return _proj(merge_heads(scores.softmax(dim=-2) @ v), weights)


def _mha_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    cases = []
    for B, N, nh, hs in sizes:
        D = nh * hs
        weights = {
            "qkv.weight": d.randn(3 * D, D, scale=D ** -0.25), "qkv.bias": d.randn(3 * D, scale=0.2),
            "proj.weight": d.randn(D, D, scale=D ** -0.5), "proj.bias": d.randn(D, scale=0.2),
        }
        cases.append(Case((d.randn(B, N, D), weights, nh)))
    return cases


add_task(
    name="multi_head_attention",
    notebook=NB02,
    points=3,
    helpers=(attention, split_heads, merge_heads),
    params=("x", "weights", "num_heads"),
    reference=lambda x, weights, num_heads: with_weights(SelfAttention(x.shape[-1], num_heads), weights, x),
    public=lambda: _mha_cases(Draw(0), [(1, 4, 2, 2), (2, 5, 3, 2)]),
    hidden=lambda d: _mha_cases(d, [(d.size(1, 2), d.size(3, 7), d.pick([2, 3, 4]), d.size(2, 4)) for _ in range(3)]),
    hint="q, k, v = (x @ W.T + b).chunk(3, dim=-1) with the (3D, D) qkv weight; split each into nh heads "
    "(B, nh, N, hs); softmax(q k^T / sqrt(hs)) over the keys, times v; merge the heads to (B, N, D); "
    "then the output projection proj.",
    pitfalls=(
        Pitfall("the scores are divided by sqrt(D), the size of a whole token; each head is an attention of its "
                "own and divides by sqrt(hs), hs = D / nh", _mha_scaled_by_token_size),
        Pitfall("this is one head over all D channels: split q, k and v into nh heads of hs channels, and let "
                "each head attend on its own", _mha_one_head),
        Pitfall("the output projection is missing: after merging the heads, apply proj "
                "(x @ proj.weight.T + proj.bias)", _mha_without_projection),
        Pitfall("the heads are interleaved (channel c in head c % nh); each head is hs consecutive channels",
                _mha_heads_interleaved),
        Pitfall("the softmax runs over the queries (dim=-2): each query's weights over the keys must sum to 1, "
                "so use dim=-1", _mha_softmax_over_queries),
    ),
    atol=1e-4,
)
