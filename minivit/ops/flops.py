"""Counting multiply-adds: measured with torch.utils.flop_counter (attention included), and from the
Swin paper's two formulas for one attention layer (Liu et al. 2021, eq. 1 and 2), for a map of h x w
tokens with C channels and M x M windows:

    Omega(MSA)   = 4 h w C^2 + 2 (h w)^2 C     quadratic in the number of tokens hw
    Omega(W-MSA) = 4 h w C^2 + 2 M^2 h w C     linear in hw for a fixed M

The 4hwC^2 term is the four projections (q, k, v, output); the second is q k^T and the weighted sum of v.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode


def msa_cost(h, w, C):
    """Omega(MSA) = 4hwC^2 + 2(hw)^2 C: multiply-adds of global multi-head self-attention over h x w
    tokens of C channels. Works on ints (exact) and numpy arrays alike."""
    return 4 * h * w * C**2 + 2 * (h * w) ** 2 * C


def window_msa_cost(h, w, C, M):
    """Omega(W-MSA) = 4hwC^2 + 2M^2 hwC: the same inside M x M windows (h, w multiples of M). Works on
    ints (exact) and numpy arrays alike."""
    return 4 * h * w * C**2 + 2 * M**2 * h * w * C


def count_multiply_adds(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of one forward pass of `model` on `x`, as torchvision's `_ops` and papers count them.

    FlopCounterMode counts a multiply-add as 2 FLOPs, and has no formula for the CPU's fused attention
    kernels; so the pass runs with PyTorch's plain (math) attention, whose matrix products it counts, and
    with nn.MultiheadAttention's fast path off (torchvision's ViT takes it in eval mode without gradients,
    and the counter would miss its attention and projections). Shapes are all it needs: `model` and `x`
    may live on the meta device.
    """
    fast_path = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)
    return counter.get_total_flops() // 2
