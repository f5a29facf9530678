"""Where a roll of the input fails to roll the output: |f(roll(x)) - roll(f(x))| per pixel, drawn.

A module f is shift-equivariant if rolling its input rolls its output: f(roll(x)) == roll(f(x)). With zero
padding it is not quite, near the map's borders and near the *seam*, the row and column where torch.roll
brings the wrapped-around pixels in next to the old first row and column. Notebook 07 draws this map for
a MobileViT block, a copy with its transformer replaced by the identity, and a copy with circular padding.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from minivit.viz._common import CONTINUOUS, new_figure

FLOOR = 1e-5  # differences below this are float rounding: drawn grey, "equal"


def roll_difference(module: nn.Module, x: torch.Tensor, shift: int) -> torch.Tensor:
    """|module(roll(x)) - roll(module(x))|, the largest over the channels, at each pixel.

    Args:
        module: maps (B, C, H, W) to (B, C', H, W), e.g. a MobileViTBlock in eval mode.
        x: the input, (1, C, H, W).
        shift: s, the roll down and right: torch.roll(., (s, s), dims=(2, 3)).

    Returns:
        (H, W): 0 everywhere for a shift-equivariant module, up to float rounding.
    """
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be a tensor of shape (1, C, H, W), got {getattr(x, 'shape', type(x).__name__)}")
    with torch.no_grad():
        out = module(x)
        rolled = module(torch.roll(x, (shift, shift), dims=(2, 3)))
    if out.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"module must keep the map's size {tuple(x.shape[-2:])}, got {tuple(out.shape[-2:])}")
    return (rolled - torch.roll(out, (shift, shift), dims=(2, 3))).abs().amax(dim=(0, 1))


def plot_roll_differences(modules: dict[str, nn.Module], x: torch.Tensor, shift: int = 1,
                          margin: int = 4) -> Figure:
    """One heat map per module of roll_difference(module, x, shift), side by side, on a log colour scale.

    Grey pixels differ by less than 1e-5 (float rounding). A dashed square outlines the interior, `margin`
    pixels or more from every border; red lines mark the seam, between rows s - 1 and s and columns s - 1 and
    s, where the roll has put the map's last s rows and columns in front of its first ones.

    Args:
        modules: name -> module, each mapping (1, C, H, W) to (1, C', H, W).
        x: the input, (1, C, H, W).
        shift: s, the roll down and right.
        margin: the width of the border band left out of the interior.

    Returns:
        the Figure; panel k (fig.axes[k], in the order of `modules`) has as image data module k's map, masked
        below 1e-5; its title gives the largest difference in the interior, or says that it is below 1e-5.
    """
    if not modules:
        raise ValueError("modules must name at least one module, got an empty mapping")
    H, W = x.shape[-2:]
    if not 0 < shift < min(H, W) or not 0 <= margin < min(H, W) / 2:
        raise ValueError(f"shift must lie in 1..{min(H, W) - 1} and margin below {min(H, W) / 2}, "
                         f"got shift {shift} and margin {margin}")
    maps = {name: roll_difference(module, x, shift) for name, module in modules.items()}
    n = len(maps)
    fig = new_figure(3.9 * n + 1.0, 4.4)
    axes = np.atleast_1d(fig.subplots(1, n))
    cmap = colormaps[CONTINUOUS].with_extremes(bad="0.8", under="0.8")
    norm = LogNorm(vmin=FLOOR, vmax=1)
    image = None
    for ax, (name, diff) in zip(axes, maps.items()):
        image = ax.imshow(np.ma.masked_less(diff.numpy(), FLOOR), cmap=cmap, norm=norm, interpolation="nearest")
        ax.add_patch(Rectangle((margin - 0.5, margin - 0.5), W - 2 * margin, H - 2 * margin, fill=False,
                               edgecolor="white", linestyle="--", linewidth=1.5, gid="interior"))
        ax.axhline(shift - 0.5, color="red", linewidth=1.2, gid="seam")
        ax.axvline(shift - 0.5, color="red", linewidth=1.2, gid="seam")
        inner = diff[margin:H - margin, margin:W - margin].max().item()
        said = f"largest {inner:.2g}" if inner >= FLOOR else "below 1e-5"
        ax.set_title(f"{name}\ninterior (dashed): {said}", fontsize=11)
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    fig.colorbar(image, ax=list(axes), shrink=0.85, extend="min", label="|f(roll x) - roll f(x)|, max over channels")
    fig.suptitle(f"after a roll by {shift} pixel{'s' if shift > 1 else ''} down and right: "
                 "red lines = seam, grey = equal within 1e-5")
    return fig
