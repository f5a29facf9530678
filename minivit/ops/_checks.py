"""Input checks shared by the public functions: each names the argument, what it got and what it needs,
so that bad input never reaches a raw torch error. A wrong type raises TypeError, a wrong value (a size, a
shape) ValueError."""

from __future__ import annotations

import torch

Pair = tuple[int, int]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def to_pair(value: int | tuple[int, int], name: str, *, minimum: int = 1) -> Pair:
    """Return `value` as an (h, w) pair of ints >= `minimum`; an int n means (n, n)."""
    if _is_int(value):
        pair = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{name} must be an int or an (h, w) pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be >= {minimum} on both axes, got {value!r}")
    return pair


def check_size(value: int, name: str, *, minimum: int = 1) -> int:
    """Return `value` if it is an int >= `minimum` (a positive int by default), else raise."""
    wanted = "a positive int" if minimum == 1 else f"an int >= {minimum}"
    if not _is_int(value):
        raise TypeError(f"{name} must be {wanted}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be {wanted}, got {value!r}")
    return value


def check_tensor(x: object, name: str, layout: str) -> torch.Tensor:
    """Check that `x` is a tensor with one dimension per letter group of `layout`, e.g. "(B, H, W, C)";
    a "..." in the layout stands for any number of leading dimensions, e.g. "(..., N, d)"."""
    groups = [g.strip() for g in layout.strip("()").split(",")]
    named = sum(g != "..." for g in groups)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if "..." in groups and x.dim() < named:
        raise ValueError(f"{name} must have shape {layout} (at least {named} dimensions), got shape {tuple(x.shape)}")
    if "..." not in groups and x.dim() != named:
        raise ValueError(f"{name} must have shape {layout} ({named} dimensions), got shape {tuple(x.shape)}")
    return x


def check_images(
    images: object, in_channels: int, *, size: Pair | None = None, min_size: int = 1, name: str = "images"
) -> torch.Tensor:
    """Check that `images` is a (B, in_channels, H, W) tensor, of exactly `size` = (H, W) if given, and
    at least `min_size` pixels on each side."""
    H, W = ("H", "W") if size is None else size
    wanted = f"(B, C, H, W) = (B, {in_channels}, {H}, {W})"
    if size is not None:
        wanted += ", the size this model was built for"
    elif min_size > 1:
        wanted += f" with H, W >= {min_size}"
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {wanted}, got {type(images).__name__}")
    if (
        images.dim() != 4
        or images.shape[1] != in_channels
        or (size is not None and tuple(images.shape[2:]) != tuple(size))
        or min(images.shape[2:]) < min_size
    ):
        raise ValueError(f"{name} must have shape {wanted}, got shape {tuple(images.shape)}")
    return images


def check_divisible(size: int, by: int, what: str, by_what: str) -> None:
    """Raise unless `size` is a multiple of `by`."""
    if size % by != 0:
        raise ValueError(f"{what} ({size}) must be a multiple of {by_what} ({by})")


def check_shape(x: object, name: str, layout: str, shape: tuple[int | None, ...]) -> torch.Tensor:
    """`check_tensor`, and each dimension equal to `shape`'s entry where that is not None, e.g.
    check_shape(masks, "masks", "(B, H, W)", (4, 32, 32)) or (4, None, 32, 32) to leave one free."""
    check_tensor(x, name, layout)
    groups = [g.strip() for g in layout.strip("()").split(",")]
    if len(groups) != len(shape):
        raise TypeError(f"layout {layout} and shape {shape} must have one entry per dimension")
    if any(s is not None and n != s for n, s in zip(x.shape, shape)):
        wanted = ", ".join(g if s is None else str(s) for g, s in zip(groups, shape))
        raise ValueError(f"{name} must have shape {layout} = ({wanted}), got shape {tuple(x.shape)}")
    return x


def check_grid(height: int, width: int, size: int | tuple[int, int], name: str, what: str) -> tuple[Pair, Pair]:
    """Check that `size` (the argument `name`: an int or an (h, w) pair) cuts a height x width map into
    whole tiles, e.g. `what` = "patch"; return the tile (h, w) and the grid of tiles (height/h, width/w)."""
    h, w = to_pair(size, name)
    check_size(height, "height")
    check_size(width, "width")
    check_divisible(height, h, "height H", f"{what} height")
    check_divisible(width, w, "width W", f"{what} width")
    return (h, w), (height // h, width // w)
