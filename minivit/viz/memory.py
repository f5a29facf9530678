"""Figure of a tensor's memory as a 1-D strip, and the order in which x and x.permute(0, 2, 3, 1) read it
(notebook 00): x steps +1 through memory, the channels-last view steps +H*W, then back, so no single stride
reads it as one row, which is why `view` fails on it and `.contiguous()` copies.

Where each value is read from is computed from the tensor's own stride() and storage_offset(), not from
the values, so the figure shows what PyTorch does with the strides.
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from minivit.viz._common import categorical, label_size, new_figure, number
from minivit.viz.diagram import arrow
from minivit.viz.layouts import tensor_layouts

VIEWS = ("x", "x_last")  # the two tensors drawn, x above the memory strip and x_last below it
BACK = "#b03a2e"  # the colour of a step back through memory


def addresses(t: torch.Tensor) -> torch.Tensor:
    """Where each value of `t` sits in its storage, in reading (row-major) order.

    Args:
        t: any tensor.

    Returns:
        shape (t.numel(),), int64: storage_offset + sum over the axes of index * stride, for the indices
        in row-major order.
    """
    address = torch.full(t.shape, t.storage_offset(), dtype=torch.long)
    for axis, (size, stride) in enumerate(zip(t.shape, t.stride())):
        along = [1] * t.dim()
        along[axis] = size
        address = address + (torch.arange(size) * stride).view(along)  # broadcast over the other axes
    return address.flatten()


def memory_order(channels: int = 2, height: int = 2, width: int = 2) -> dict[str, torch.Tensor]:
    """The memory addresses that x = the numbers 0 .. C*H*W-1 as (1, C, H, W), and its channels-last
    view x.permute(0, 2, 3, 1), read in row-major order.

    Args:
        channels, height, width: C in 1..4, H and W in 1..3 (B = 1).

    Returns:
        {"x": addresses(x), "x_last": addresses(x_last)}, each of shape (C*H*W,). Since x holds 0, 1, 2, ...
        in memory order, each address is also the value read there.
    """
    layouts = tensor_layouts(channels, height, width)
    return {"x": addresses(layouts["bchw"]), "x_last": addresses(layouts["bhwc"])}


def plot_memory_order(channels: int = 2, height: int = 2, width: int = 2) -> Figure:
    """The C*H*W values of x, (1, C, H, W), as one strip of memory (middle), coloured by channel; above it,
    x's values in reading order, each with an arrow to the memory cell it is read from; below it, the
    same for x.permute(0, 2, 3, 1). Between two values read one after the other, the step through memory:
    +1 all along for x; +H*W and a step back for x_last (steps back in red).

    Args:
        channels, height, width: C in 1..4, H and W in 1..3 (B = 1).

    Returns:
        the Figure. The memory cells are Rectangles with gid "memory-cell" and their values Texts with gid
        "memory-value", by address. For v in VIEWS, the cells read are Rectangles with gid "v-cell" and
        Texts with gid "v-value", in reading order; the arrows from each to its memory cell have gid
        "v-arrow", the steps between neighbours are Texts with gid "v-step" ("+1", "+6", "-5", ...).
        A cell's facecolor is the colour of its value's channel. The captions have gid "caption".
    """
    layouts = tensor_layouts(channels, height, width)
    order = memory_order(channels, height, width)
    C, plane = channels, height * width
    n = C * plane
    memory = layouts["bchw"].flatten()  # x is contiguous: its values in memory order
    colours = categorical(C).colors

    # Data coordinates: a cell is 1 x 1, y grows downwards; the x row, the memory strip, the x_last row.
    rows = {"x": 0.0, "memory": 3.4, "x_last": 6.8}
    left_margin, right = 4.2, n + 0.3
    xlim, ylim = (-left_margin, right), (rows["x_last"] + 2.4, -1.5)
    width_inches = min(9.5, 0.62 * (xlim[1] - xlim[0]))
    cell_inches = width_inches / (xlim[1] - xlim[0])
    fig = new_figure(width_inches, cell_inches * (ylim[0] - ylim[1]) + 0.5)
    ax = fig.subplots()
    size = label_size(cell_inches, 1, fraction=0.5, digits=len(str(n - 1)))

    def cell(left: float, top: float, value: int, gid: str) -> None:
        ax.add_patch(Rectangle((left, top), 1, 1, facecolor=colours[value // plane], edgecolor="black",
                               linewidth=1.0, gid=f"{gid}-cell"))
        number(ax, left + 0.5, top + 0.5, value, size, gid=f"{gid}-value")

    top = rows["memory"]
    for address in range(n):
        cell(address, top, int(memory[address]), "memory")
        ax.text(address + 0.5, top + 1.12, str(address), ha="center", va="top", fontsize=7, color="0.35")
    ax.text(-0.3, top + 0.5, "memory,\none strip", ha="right", va="center", fontsize=10, fontweight="bold")
    ax.text(-0.3, top + 1.12, "address", ha="right", va="top", fontsize=7, color="0.35")

    names = {"x": ("x", layouts["bchw"]), "x_last": ("x_last =\nx.permute(0, 2, 3, 1)", layouts["bhwc"])}
    for view in VIEWS:
        label, t = names[view]
        read, row = order[view], rows[view]
        above = row < top
        for k in range(n):
            cell(k, row, int(memory[read[k]]), view)
            start = (k + 0.5, row + 1 if above else row)
            end = (int(read[k]) + 0.5, top if above else top + 1.3)
            arrow(ax, start, end, gid=f"{view}-arrow", linewidth=0.8, mutation_scale=8, color="0.3")
        steps = (read[1:] - read[:-1]).tolist()
        y_step = row - 0.12 if above else row + 1.12
        for k, step in enumerate(steps):
            ax.text(k + 1, y_step, f"{step:+d}", ha="center", va="bottom" if above else "top", fontsize=8,
                    color=BACK if step < 0 else "black", fontweight="bold" if step != 1 else "normal",
                    gid=f"{view}-step")
        ax.text(-0.3, row + 0.5, f"{label}\nread in order", ha="right", va="center", fontsize=9)
        kinds = sorted(set(steps), reverse=True)
        verdict = ("one stride reads it as one row: view works" if len(kinds) <= 1 else
                   f"steps {', '.join(f'{s:+d}' for s in kinds)}: no single stride, so view fails")
        caption = f"{view}: shape {tuple(t.shape)}, strides {t.stride()}; {verdict}"
        y_caption = row - 0.75 if above else row + 1.75
        ax.text(n / 2, y_caption, caption, ha="center", va="bottom" if above else "top", fontsize=10,
                color="black" if len(kinds) <= 1 else BACK, gid="caption")

    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.suptitle(f"the {n} numbers of one tensor in memory, and the order two views read them in (colour = channel)",
                 fontsize=11)
    return fig
