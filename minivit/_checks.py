"""Input checks shared by the public functions: each raises a ValueError that names the argument,
what it got and what it needs, so that bad input never reaches a raw torch error."""

from __future__ import annotations

import torch

Pair = tuple[int, int]


def to_pair(value: int | tuple[int, int], name: str, *, minimum: int = 1) -> Pair:
    """Return `value` as an (h, w) pair of ints >= `minimum`; an int n means (n, n)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    if isinstance(value, int):
        pair = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum} on both axes, got {value!r}")
    return pair


def check_size(value: int, name: str) -> int:
    """Return `value` if it is a positive int, else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


def check_tensor(x: object, name: str, layout: str) -> torch.Tensor:
    """Check that `x` is a tensor with one dimension per letter group of `layout`, e.g. "(B, H, W, C)"."""
    ndim = layout.count(",") + 1
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if x.dim() != ndim:
        raise ValueError(f"{name} must have shape {layout} ({ndim} dimensions), got shape {tuple(x.shape)}")
    return x


def check_divisible(size: int, by: int, what: str, by_what: str) -> None:
    """Raise unless `size` is a multiple of `by`."""
    if size % by != 0:
        raise ValueError(f"{what} ({size}) must be a multiple of {by_what} ({by})")
