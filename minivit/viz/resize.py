"""A resize round trip drawn as a filter: its error against the frequency of the map, and rows before and after.

MobileViT resizes a map that its patches do not tile (25 -> 26 -> 25, bilinear) around the transformer.
Notebook 07 measures the round trip's error on cosines that differ only in their frequency; this module
draws those numbers, so that "mostly low-pass" is seen: small error at low frequency, large at high.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from minivit.viz._common import new_figure


def plot_round_trip_errors(
    frequencies: Sequence[float],
    errors: Sequence[float],
    rows: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
) -> Figure:
    """The round trip's error against frequency (left), and one row of a few maps before and after it (right).

    Args:
        frequencies: F frequencies in cycles per pixel, increasing (0.5 alternates every pixel).
        errors: F root-mean-square errors of the round trip, one per frequency.
        rows: title -> (before, after), each a 1-D tensor of W values: one row of the map before and
            after the round trip; one panel each, stacked on the right.

    Returns:
        the Figure; fig.axes[0] has one line whose data are (frequencies, errors); fig.axes[1 + k] has
        two lines, "before" then "after", for the k-th entry of `rows`.
    """
    if len(frequencies) != len(errors) or not frequencies:
        raise ValueError(
            f"frequencies and errors need the same nonzero length, got {len(frequencies)} and {len(errors)}"
        )
    if not rows:
        raise ValueError("rows must hold at least one (before, after) pair, got an empty mapping")
    for name, (before, after) in rows.items():
        if before.ndim != 1 or before.shape != after.shape:
            raise ValueError(
                f"rows[{name!r}] needs two 1-D tensors of one length,"
                f" got {tuple(before.shape)} and {tuple(after.shape)}"
            )
    fig = new_figure(9.6, max(3.4, 1.7 * len(rows)))
    left, right = fig.subfigures(1, 2, width_ratios=[1.0, 1.25])
    ax = left.subplots()
    ax.plot(list(frequencies), list(errors), "o-", color="tab:red")
    ax.set_xlabel("frequency (cycles per pixel)")
    ax.set_ylabel("round-trip error (RMS)")
    ax.set_xlim(0, 0.52)
    ax.set_ylim(0, max(errors) * 1.12)
    ax.grid(alpha=0.3)
    ax.set_title("error grows with frequency: mostly low-pass", fontsize=10)
    panels = np.atleast_1d(right.subplots(len(rows), 1, sharex=True))
    for panel, (name, (before, after)) in zip(panels, rows.items()):
        columns = np.arange(before.numel())
        panel.plot(columns, before.numpy(), "o", color="0.35", markersize=3.5, label="before")
        panel.plot(columns, after.numpy(), "-", color="tab:red", linewidth=1.6, label="after")
        panel.set_ylim(-1.9, 1.9)
        panel.set_title(name, fontsize=9)
        panel.grid(alpha=0.3)
    panels[0].legend(loc="upper right", fontsize=8, ncol=2)
    panels[-1].set_xlabel("column")
    return fig
