"""Layers shared by the models: the MLP, stochastic depth, multi-head self-attention and the pre-norm
transformer block of ViT and MobileViT. Swin's window attention lives in minivit.ops.window_attention.

Glossary: B batch, N tokens, D token size, nh heads, hs = D / nh head size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from minivit.ops.attention import attention, merge_heads, split_heads


class Mlp(nn.Module):
    """Linear -> activation -> Linear, applied to every token on its own."""

    def __init__(self, dim: int, hidden_dim: int, act_layer: type[nn.Module] = nn.GELU):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))  # (..., hidden_dim) in between


class DropPath(nn.Module):
    """Stochastic depth (Huang et al., 2016) on a residual branch: in training, the branch of each
    sample is dropped with probability p and the kept ones are scaled by 1 / (1 - p), so that its
    expected value is unchanged; in eval mode it is the identity. The same random draws, in the same
    order, as torchvision's StochasticDepth(p, "row") and timm's DropPath, so a model that uses it
    matches them in training too, given the same seed.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"p must be a probability in [0, 1), got {p!r}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        # one draw per sample, broadcast over its other dimensions
        kept = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * kept.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class SelfAttention(nn.Module):
    """Multi-head self-attention: one Linear for q, k and v, attention per head, an output Linear.

    `forward` lets torch's fused kernel do the attention; `weights` computes the same attention
    with minivit.attention, written out, and returns the weights for plotting.
    """

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be a multiple of num_heads ({num_heads})")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries, keys and values of tokens x (B, N, D), each split into heads: 3 x (B, nh, N, hs)."""
        q, k, v = self.qkv(x).chunk(3, dim=-1)  # 3 x (B, N, D)
        return split_heads(q, self.num_heads), split_heads(k, self.num_heads), split_heads(v, self.num_heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.scaled_dot_product_attention(*self.heads(x))  # (B, nh, N, hs)
        return self.proj(merge_heads(x))  # (B, N, D)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights of tokens x (B, N, D): shape (B, nh, N, N), each row summing to 1."""
        return attention(*self.heads(x))[1]


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)).

    Both halves are residual, and the second half is an MLP: adding norm2(x) to x with no MLP, as
    a widely copied snippet does, is a mistake the course shows.

    Args:
        dim: D, the token size.
        num_heads: nh; D must be a multiple of it.
        mlp_ratio: the MLP's hidden size is int(mlp_ratio * D) (4.0 in ViT, 2.0 in MobileViT).
        act_layer: the MLP's activation (GELU in ViT, SiLU in MobileViT).
        eps: the LayerNorms' epsilon (1e-6 in torchvision's ViT, 1e-5 in timm's MobileViT).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
        eps: float = 1e-5,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = SelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(mlp_ratio * dim), act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))  # (B, N, D)
        return x + self.mlp(self.norm2(x))
