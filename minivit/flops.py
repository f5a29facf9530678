"""Counting multiply-adds with torch.utils.flop_counter, attention included."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode


def count_multiply_adds(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-adds of one forward pass of `model` on `x`, as torchvision's `_ops` and papers count them.

    FlopCounterMode counts a multiply-add as 2 FLOPs, and has no formula for the CPU's fused attention
    kernel; so the pass runs with PyTorch's plain (math) attention, whose matrix products it counts.
    """
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() // 2
