"""The cost of global vs window attention drawn from the two formulas of the Swin paper, which
minivit.ops.flops computes (`msa_cost`, `window_msa_cost`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from minivit.ops.flops import msa_cost, window_msa_cost
from minivit.viz._common import new_figure


def plot_attention_cost(
    channels: int = 96, window_size: int = 7, sides: Sequence[int] | None = None, mark: int | None = 56
) -> Figure:
    """Omega(MSA) and Omega(W-MSA) against the number of tokens hw of square h x h maps.

    Args:
        channels: C (96 in Swin-T's first stage).
        window_size: M (7 in Swin).
        sides: the map sides h to plot; by default the multiples of M from M to 16 M.
        mark: a map side to mark with the ratio of the two costs (56: Swin-T's first stage at 224x224);
            the largest side when None or outside the plotted range.

    Returns:
        the Figure: linear axes on the left (a parabola against a line), log-log on the right (MSA's
        slope rising from 1 towards 2 as the quadratic term takes over from the projections; W-MSA's
        slope 1). Each axes holds two lines, MSA then W-MSA, with x = hw and y = the formula. The
        log-log axes also hold the ratio of the two costs at `mark` (an annotation of gid "ratio"), in a box
        clear of both lines, with an arrow to W-MSA's point.
    """
    for name, value in (("channels", channels), ("window_size", window_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    h = np.arange(1, 17) * window_size if sides is None else np.asarray(sides, dtype=np.int64)
    if h.ndim != 1 or h.size < 2 or (h < 1).any():
        raise ValueError(f"sides must hold at least two positive map sides, got {sides!r}")
    h = h.astype(np.float64)  # float: (hw)^2 C overflows int64 for large maps
    tokens = h * h
    global_cost = msa_cost(h, h, channels)
    window_cost = window_msa_cost(h, h, channels, window_size)

    fig = new_figure(12.0, 4.8)
    axes = fig.subplots(1, 2)
    for ax, scale in zip(axes, ("linear", "log")):
        ax.plot(tokens, global_cost, marker="o", markersize=3, color="C3",
                label=r"global MSA: $4hwC^2 + 2(hw)^2C$")
        ax.plot(tokens, window_cost, marker="o", markersize=3, color="C0",
                label=rf"W-MSA, M={window_size}: $4hwC^2 + 2M^2hwC$")
        ax.set_xscale(scale)
        ax.set_yscale(scale)
        ax.set_xlabel("tokens hw (square maps h = w)")
        ax.set_ylabel("Omega (multiply-adds)")
        ax.grid(True, which="major", alpha=0.4)
        ax.legend(loc="upper left")
    axes[0].set_title("linear axes: quadratic against linear")
    axes[1].set_title("log-log axes: slope rising from 1 towards 2, against slope 1")
    side = mark if mark is not None and h.min() <= mark <= h.max() else int(h[-1])
    ratio = msa_cost(side, side, channels) / window_msa_cost(side, side, channels, window_size)
    for ax in axes:
        ax.axvline(side * side, color="0.4", linestyle=":", linewidth=1.5)
    axes[1].annotate(f"{side}x{side} = {side * side} tokens:\nglobal MSA costs {ratio:.1f}x W-MSA",
                     xy=(side * side, window_msa_cost(side, side, channels, window_size)),
                     # in the empty lower right corner, below both lines, the arrow up to W-MSA's point
                     xytext=(0.97, 0.05), textcoords="axes fraction", ha="right", va="bottom", gid="ratio",
                     arrowprops=dict(arrowstyle="->"),
                     bbox=dict(boxstyle="round", facecolor="white", edgecolor="0.6", alpha=0.9))
    fig.suptitle(f"cost of one attention layer, C = {channels} channels, {window_size}x{window_size} windows")
    return fig
