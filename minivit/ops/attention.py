"""Scaled dot-product attention written out (scores, mask, softmax, weighted sum), and the two
reshapes of multi-head attention: split the channels into heads, merge the heads back.

Glossary: B batch, N tokens, D embedding size, nh heads, hs = D / nh head size.
"""

from __future__ import annotations

import math

import torch

from minivit.ops._checks import check_size, check_tensor


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention, step by step; the same result as
    `torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)`.

    Args:
        q: queries, shape (..., Nq, d).
        k: keys, shape (..., Nk, d), same leading dimensions as q.
        v: values, shape (..., Nk, dv), same leading dimensions as q.
        mask: broadcastable to (..., Nq, Nk). A bool mask says where a query may attend (True);
            a float mask is added to the scores (0 to keep, a large negative value to block).
        scale: multiplies the scores; 1/sqrt(d) when None.

    Returns:
        (output, weights): output of shape (..., Nq, dv), and the attention weights of shape
        (..., Nq, Nk), each row summing to 1.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() < 2:
            check_tensor(t, name, "(..., N, d)")  # raises with the shape it needs
    if q.shape[:-2] != k.shape[:-2] or q.shape[:-2] != v.shape[:-2]:
        raise ValueError(
            f"q, k and v must share their leading dimensions (...), got shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"need q (..., Nq, d), k (..., Nk, d), v (..., Nk, dv), got shapes "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    scores_shape = (*q.shape[:-1], k.shape[-2])
    if mask is not None:
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a torch.Tensor broadcastable to {scores_shape}, got {type(mask).__name__}")
        try:  # expand broadcasts the mask to the scores' shape, or raises (a view: nothing is copied)
            ok = mask.expand(scores_shape).shape == scores_shape
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"mask must be broadcastable to {scores_shape} (..., Nq, Nk), got shape {tuple(mask.shape)}"
            )

    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (..., Nq, Nk)
    if mask is not None:
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    weights = scores.softmax(dim=-1)
    return weights @ v, weights  # (..., Nq, dv), (..., Nq, Nk)


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """Cut each token's D channels into nh heads of hs = D / nh consecutive channels.

    Args:
        x: tokens, shape (B, N, D); D a multiple of num_heads.
        num_heads: nh.

    Returns:
        shape (B, nh, N, hs): head h holds channels h*hs .. (h+1)*hs - 1 of every token.
    """
    check_size(num_heads, "num_heads")
    check_tensor(x, "x", "(B, N, D)")
    B, N, D = x.shape
    if D % num_heads != 0:
        raise ValueError(
            f"x must have shape (B, N, D) with D a multiple of num_heads ({num_heads}), got shape {tuple(x.shape)}"
        )
    return x.reshape(B, N, num_heads, D // num_heads).transpose(1, 2)  # (B, nh, N, hs)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """Put the heads side by side again: the inverse of split_heads.

    Args:
        x: shape (B, nh, N, hs).

    Returns:
        shape (B, N, D) with D = nh * hs: head 0's hs channels first, then head 1's, ...
    """
    check_tensor(x, "x", "(B, nh, N, hs)")
    B, nh, N, hs = x.shape
    return x.transpose(1, 2).reshape(B, N, nh * hs)  # (B, N, D)
