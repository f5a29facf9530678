"""Receptive fields from gradients, drawn: which input pixels can change the output at one position.

A 3x3 convolution sees a 3x3 neighbourhood, two of them a 5x5 one; one attention layer sees the
whole image. minivit.ops.receptive_field.receptive_field_map computes the fields; this module draws them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from torch import nn

from minivit.ops.receptive_field import receptive_field_map
from minivit.viz._common import CONTINUOUS, new_figure


def plot_receptive_fields(
    modules: dict[str, nn.Module], x: torch.Tensor, position: tuple[int, int], log_scale: bool = True
) -> Figure:
    """Side-by-side receptive fields of several modules at one output position.

    Each panel shows receptive_field_map(module, x, position) divided by its largest value, on a log
    scale from 1e-4 to 1 (or a linear one from 0 to 1); pixels with exactly zero gradient, which cannot
    influence the output, are grey.
    Up to three panels stand in one row; four or more fill rows of at most three (four: 2 x 2), the figure
    at most 7.6 inches tall (760 px at 100 dpi, less than a laptop screen).

    Args:
        modules: name -> module mapping (1, C, H, W) to (1, C', H', W'), e.g. {"3x3 conv": ..., "attention": ...}.
        x: the input, (C, H, W) or (1, C, H, W).
        position: (i, j), the output position.
        log_scale: True for a log colour scale from 1e-4 to 1, which shows gradients that fall by orders of
            magnitude; False for a linear one from 0 to 1, which shows differences between gradients of one size.

    Returns:
        the Figure; panel k (fig.axes[k], in the order of `modules`) has as image data module k's field / its
        max, masked where the field is 0; its title gives the number of pixels with a nonzero gradient.
    """
    if not modules:
        raise ValueError("modules must name at least one module, got an empty mapping")
    fields = {name: receptive_field_map(module, x, position) for name, module in modules.items()}
    H, W = next(iter(fields.values())).shape
    n = len(fields)
    cols = n if n <= 3 else min(3, math.ceil(n / 2))  # four panels as 2 x 2: each stays readable
    rows = math.ceil(n / cols)
    panel = 4.0 if n <= 3 else min(4.0, 7.6 / cols, (7.3 / rows - 0.6) * W / H)  # several rows: <= 7.6 in tall
    width = panel * cols + 1.2 if n <= 3 else min(9.6, panel * cols + 1.2 + 0.8 * cols)  # room for the titles
    fig = new_figure(width, rows * (panel * H / W + 0.6) + 0.3)
    grid = np.atleast_1d(fig.subplots(rows, cols)).flatten()
    for ax in grid[n:]:
        ax.remove()
    axes = grid[:n]
    cmap = colormaps[CONTINUOUS].with_extremes(bad="0.75")  # grey where the gradient is exactly 0
    norm = LogNorm(vmin=1e-4, vmax=1) if log_scale else Normalize(vmin=0, vmax=1)
    image = None
    for ax, (name, field) in zip(axes, fields.items()):
        share = (field / field.max().clamp_min(1e-30)).numpy()
        shown = np.ma.masked_equal(share, 0.0)
        image = ax.imshow(shown, cmap=cmap, norm=norm, interpolation="nearest")
        ax.plot([position[1]], [position[0]], marker="x", color="red", markersize=10, markeredgewidth=2.5,
                linestyle="none")
        reach = int((field > 0).sum())
        ax.set_title(f"{name}\n{reach} of {H * W} pixels reach output {tuple(position)}")
        ax.set_xlabel("input column")
        ax.set_ylabel("input row")
    fig.colorbar(image, ax=axes, shrink=0.9, extend="min" if log_scale else "neither", label="|gradient| / largest")
    fig.suptitle("receptive fields from gradients |d output(i, j) / d input|: red x = (i, j), grey = exactly 0")
    return fig
