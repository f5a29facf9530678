"""The cost of global vs window attention drawn from the two formulas of the Swin paper, which
minivit.ops.flops computes (`msa_cost`, `window_msa_cost`); and the multiply-adds of a Swin model's
stages, counted on the model itself and split into patch merging, the blocks' Linear layers and the
attention's matrix products.

    plot_attention_cost(channels, window_size)    Omega(MSA) against Omega(W-MSA), linear and log-log
    stage_costs(model, x)                         per stage: merging, Linears, attention (multiply-adds)
    plot_stage_costs(model, image_size)           the same as stacked bars
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from minivit.models.swin import SwinTransformer
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


STAGE_PARTS = ("patch merging", "Linear layers of the blocks", "attention: q k^T and the weighted sum of v")
STAGE_COLOURS = ("0.65", "C0", "C1")


def stage_costs(model: SwinTransformer, x: torch.Tensor) -> list[dict[str, int]]:
    """The multiply-adds of every stage of a Swin model on `x`, split three ways.

    Counted as minivit.ops.flops.count_multiply_adds counts them (torch's FlopCounterMode, PyTorch's
    plain math attention, a multiply-add = 2 FLOPs), but per stage and per kind of operation: the
    attention's two matrix products (q k^T and the weighted sum of v) are the batched products (bmm)
    of the stage; patch merging is everything its `merge` module counts (a Linear 4C -> 2C); the rest
    are the blocks' Linear layers (q, k, v, output projection, MLP). Softmax, LayerNorm and GELU are
    not counted, as in count_multiply_adds.

    Args:
        model: a minivit SwinTransformer (e.g. swin_t()); it may live on the meta device.
        x: images, shape (B, in_channels, H, W), on the model's device.

    Returns:
        one dict per stage, its keys STAGE_PARTS, its values multiply-adds (ints).
    """
    if not isinstance(model, SwinTransformer):
        raise TypeError(f"model must be a minivit SwinTransformer, got {type(model).__name__}")
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(x)
    counts = counter.get_flop_counts()  # module name -> {operation: FLOPs}, names starting with the class
    root = type(model).__name__
    stages = []
    for i in range(len(model.stages)):
        ops = counts.get(f"{root}.stages.{i}", {})
        merge = sum(counts.get(f"{root}.stages.{i}.merge", {}).values()) // 2
        attention = sum(flops for op, flops in ops.items() if str(op) == "aten.bmm") // 2
        total = sum(ops.values()) // 2
        stages.append(dict(zip(STAGE_PARTS, (merge, total - merge - attention, attention))))
    return stages


def plot_stage_costs(model: SwinTransformer, image_size: int | tuple[int, int] = 224) -> Figure:
    """The multiply-adds of every stage of a Swin model as stacked bars: patch merging, the blocks'
    Linear layers, the attention's matrix products (stage_costs), on one image of `image_size`.

    Args:
        model: a minivit SwinTransformer; it may live on the meta device (only shapes are needed).
        image_size: H, or (H, W).

    Returns:
        the Figure; its axes hold one BarContainer per part, in the order of STAGE_PARTS, each bar's
        height the part's multiply-adds in G (10^9) for one stage, stacked; the total of each stage
        and the attention's share of it are written above its bar (texts of gid "total"). The x tick
        labels give each stage's map, channels and number of blocks.
    """
    if not isinstance(model, SwinTransformer):
        raise TypeError(f"model must be a minivit SwinTransformer, got {type(model).__name__}")
    H, W = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    device = next(model.parameters()).device
    x = torch.zeros(1, model.config.in_channels, H, W, device=device)
    costs = stage_costs(model, x)
    with torch.no_grad():
        maps = model.feature_maps(x)  # (1, C_i, H_i, W_i): the sizes for the labels
    fig = new_figure(8.4, 4.6)
    ax = fig.subplots()
    positions = np.arange(len(costs))
    bottom = np.zeros(len(costs))
    for part, colour in zip(STAGE_PARTS, STAGE_COLOURS):
        heights = np.array([c[part] for c in costs]) / 1e9
        ax.bar(positions, heights, bottom=bottom, color=colour, edgecolor="black", linewidth=0.6, label=part)
        bottom += heights
    for k, (total, cost) in enumerate(zip(bottom, costs)):
        share = cost[STAGE_PARTS[2]] / sum(cost.values())
        ax.text(k, total, f"{total:.2f} G\nattention {share:.0%}", ha="center", va="bottom", fontsize=10, gid="total")
    ax.set_xticks(positions, [f"stage {i + 1}\n{m.shape[2]}x{m.shape[3]}, C = {m.shape[1]}\n"
                              f"{len(model.stages[i].blocks)} blocks" for i, m in enumerate(maps)])
    ax.set_ylabel("multiply-adds (G)")
    ax.set_ylim(0, bottom.max() * 1.22)
    ax.legend(loc="upper left")
    ax.grid(True, axis="y", alpha=0.4)
    ax.set_title(f"multiply-adds per stage on a {H}x{W} image, counted on the model")
    return fig
