"""Receptive fields: which input pixels one output position of a network can see (notebook 01).

Two ways to the same answer:

- counting: `receptive_field(kernel_sizes, strides)` from the layers' kernels and strides, and
  `receptive_field_of(layers)` which reads them off the conv and pooling layers of a module;
- measuring: `receptive_field_map(module, x, position)` from gradients. d output(i, j) / d input is
  zero outside the receptive field, so no bookkeeping is needed, and it works for attention too
  (whose field is the whole image).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from minivit.ops._checks import check_tensor

__all__ = ["receptive_field", "receptive_field_map", "receptive_field_of"]


def receptive_field(kernel_sizes: list[int], strides: list[int]) -> int:
    """Side, in input pixels, of the window one output of a stack of layers sees (no dilation).

    Layer i widens the field by k_i - 1 of its own steps, and one step of layer i spans as many input
    pixels as the product of the strides before it (its own stride only affects the layers after it):

        r = 1 + sum_i (k_i - 1) * s_1 * ... * s_(i-1)

    Args:
        kernel_sizes: k_1, ..., k_L, the kernel side of each layer, first layer first.
        strides: s_1, ..., s_L, the stride of each layer.

    Returns:
        r, an int >= 1.
    """
    if len(kernel_sizes) != len(strides):
        raise ValueError(
            f"kernel_sizes and strides must have one entry per layer, got {len(kernel_sizes)} and {len(strides)}"
        )
    for name, values in (("kernel_sizes", kernel_sizes), ("strides", strides)):
        if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
            raise TypeError(f"{name} must hold ints, got {list(values)!r}")
        if any(v < 1 for v in values):
            raise ValueError(f"{name} must hold positive ints, got {list(values)!r}")
    return 1 + sum((k - 1) * math.prod(strides[:i]) for i, k in enumerate(kernel_sizes))


def receptive_field_of(layers: nn.Module) -> int:
    """`receptive_field` of the Conv2d, MaxPool2d and AvgPool2d layers of `layers`, in the order
    `layers.modules()` lists them (the order of a Sequential); square kernels and strides assumed."""
    kernel_sizes, strides = [], []
    for m in layers.modules():
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s = m.kernel_size, m.stride
            kernel_sizes.append(k[0] if isinstance(k, tuple) else k)
            strides.append(s[0] if isinstance(s, tuple) else s)
    return receptive_field(kernel_sizes, strides)


def receptive_field_map(module: nn.Module, x: torch.Tensor, position: tuple[int, int]) -> torch.Tensor:
    """How strongly each input pixel moves the output at one position, from gradients.

    Sums |d y[c, i, j] / d x[c', :, :]| over the output channels c and the input channels c'. Each
    output channel gets its own backward pass, so gradients of opposite sign cannot cancel.

    Args:
        module: maps (1, C, H, W) to (1, C', H', W'); put it in eval mode first if it has dropout.
        x: the input, shape (C, H, W) or (1, C, H, W); the result depends on it unless the module is linear.
        position: (i, j), a position of the output map.

    Returns:
        shape (H, W), float, >= 0: zero exactly where the pixel cannot influence output (i, j).
    """
    if isinstance(x, torch.Tensor) and x.dim() == 3:
        x = x[None]
    check_tensor(x, "x", "(1, C, H, W)")
    if x.shape[0] != 1:
        raise ValueError(f"x must have shape (C, H, W) or (1, C, H, W), got shape {tuple(x.shape)}")
    x = x.detach().float().clone().requires_grad_(True)  # (1, C, H, W)
    y = module(x)
    if y.dim() != 4:
        raise ValueError(f"module must return a (1, C', H', W') map, got shape {tuple(y.shape)}")
    i, j = position
    if not (0 <= i < y.shape[2] and 0 <= j < y.shape[3]):
        raise ValueError(f"position must lie in the {y.shape[2]}x{y.shape[3]} output, got {position!r}")
    field = torch.zeros(x.shape[2:])
    for c in range(y.shape[1]):
        (grad,) = torch.autograd.grad(y[0, c, i, j], x, retain_graph=c < y.shape[1] - 1)  # (1, C, H, W)
        field += grad[0].abs().sum(0)
    return field
