"""Figure of the three layouts of one small tensor, (B, C, H, W), (B, H, W, C) and (B, N, C), and of the
reshape that gives (B, N, C)'s shape with scrambled content (notebook 00); and figure of what
nn.MultiheadAttention does with a batch of feature maps given in three layouts, two of which mix the
images of the batch (notebook 02).

The numbers 0, 1, 2, ... fill a (1, C, H, W) tensor; every conversion is applied both to it and to a
tensor of the same shape holding each value's channel, so a cell's colour is the channel its value
came from, wherever the conversion moved it.
"""

from __future__ import annotations

import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from minivit.ops.patches import patchify
from minivit.viz._common import categorical, label_size, new_figure, number
from minivit.viz.diagram import arrow

PANELS = ("bchw", "bhwc", "bnc", "wrong")  # the gid prefixes of the four panels, in drawing order
MAX_CHANNELS, MAX_SIDE = 4, 3  # beyond, the numbers no longer fit a notebook-wide figure
WRONG = "#b03a2e"  # the colour of a mistake


def tensor_layouts(channels: int = 3, height: int = 2, width: int = 2) -> dict[str, torch.Tensor]:
    """The numbers 0 .. C*H*W-1 as a (1, C, H, W) tensor, and the same numbers in the other layouts.

    Args:
        channels, height, width: C, H, W (B = 1).

    Returns:
        {"bchw": x, shape (1, C, H, W); "bhwc": x.permute(0, 2, 3, 1), shape (1, H, W, C);
        "bnc": the tokens patchify(x, 1) = x.flatten(2).transpose(1, 2), shape (1, N, C), N = H*W;
        "wrong": x.reshape(1, N, C), the same shape as the tokens, other content}.
    """
    for name, value, most in (("channels", channels, MAX_CHANNELS), ("height", height, MAX_SIDE),
                              ("width", width, MAX_SIDE)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if not 1 <= value <= most:
            raise ValueError(f"{name} must be in 1..{most} for the numbers to stay readable, got {value}")
    x = torch.arange(channels * height * width).reshape(1, channels, height, width)  # (B, C, H, W)
    return {
        "bchw": x,
        "bhwc": x.permute(0, 2, 3, 1),  # (B, H, W, C)
        "bnc": patchify(x, 1),  # (B, N, C): one token per pixel
        "wrong": x.reshape(1, height * width, channels),  # (B, N, C)-shaped, not tokens
    }


def _cell(ax: Axes, left: float, top: float, value: int, colour, gid: str, size: float) -> None:
    ax.add_patch(Rectangle((left, top), 1, 1, facecolor=colour, edgecolor="black", linewidth=1.0, gid=f"{gid}-cell"))
    number(ax, left + 0.5, top + 0.5, value, size, gid=f"{gid}-value")


def _caption(ax: Axes, x: float, y: float, text: str, colour: str = "black") -> None:
    ax.text(x, y, text, ha="center", va="bottom", fontsize=10, color=colour, gid="caption")


def plot_tensor_layouts(channels: int = 3, height: int = 2, width: int = 2) -> Figure:
    """One (1, C, H, W) tensor holding 0 .. C*H*W-1 in three layouts, and the reshape mistake beside them.

    Top row: x in (B, C, H, W), one H x W grid per channel, and x.permute(0, 2, 3, 1) in (B, H, W, C),
    one box of C cells per pixel, the H x W boxes spaced apart along both rows and columns and named
    "pixel (i, j)". Bottom row: the tokens x.flatten(2).transpose(1, 2) (computed as
    patchify(x, 1)), one row per pixel, and x.reshape(B, H*W, C), whose rows mix the values of one channel.
    Each cell is coloured by the channel its value comes from.

    Args:
        channels, height, width: C in 1..4, H and W in 1..3 (B = 1).

    Returns:
        the Figure. For each panel p in "bchw", "bhwc", "bnc", "wrong" (in that order), its cells are
        Rectangles with gid "p-cell" and their numbers Texts with gid "p-value", in the row-major order of
        the tensor of `tensor_layouts` (so the values read as tensor_layouts(...)[p].flatten()); a cell's
        facecolor is the colour of the channel its value came from. The box around each pixel's C cells
        of "bhwc" is a Rectangle with gid "pixel" and its name a Text with gid "pixel-label", both
        row-major. The captions have gid "caption", the arrows gid "arrow".
    """
    layouts = tensor_layouts(channels, height, width)
    C, H, W, N = channels, height, width, height * width
    channel_of = torch.arange(C).view(1, C, 1, 1).expand(1, C, H, W)  # each value's channel, in x's layout
    origin = {"bchw": channel_of, "bhwc": channel_of.permute(0, 2, 3, 1), "bnc": patchify(channel_of, 1),
              "wrong": channel_of.reshape(1, N, C)}
    colours = categorical(C).colors

    # Data coordinates: one cell is 1 x 1, y grows downwards.
    gap = 0.6  # between the channel grids of (B, C, H, W), and between the pixels of (B, H, W, C) both ways
    top_width = C * W + (C - 1) * gap
    bhwc_left = top_width + 3.2
    bhwc_width = W * C + (W - 1) * gap
    tables = {"bnc": 1.5, "wrong": 1.5 + C + 6.5}  # left edge of the two (N, C) tables
    right = max(bhwc_left + bhwc_width, tables["wrong"] + C) + 0.2
    xlim = (-2.2, right + 2.6)
    width_inches = min(9.5, 0.5 * (xlim[1] - xlim[0]))
    cell_inches = width_inches / (xlim[1] - xlim[0])
    line = 14 / 72 / cell_inches  # the height of a line of text, in cells
    pitch = 1 + gap + 0.5 * line  # rows of pixels in (B, H, W, C): a gap that holds a pixel's name
    top = 0.5 * line  # the first row of pixels, below its names
    top_height = top + (H - 1) * pitch + 1  # the taller of the two top panels
    table_top = top_height + 0.35 + 3.6 * line  # below the panel notes, then room for a two-line caption
    bottom = table_top + N + 0.2
    ylim = (bottom, -0.35 - 1.3 * line)
    fig = new_figure(width_inches, width_inches * (ylim[0] - ylim[1]) / (xlim[1] - xlim[0]) + 0.5)
    ax = fig.subplots()
    size = label_size(cell_inches, 1, fraction=0.5, digits=len(str(C * H * W - 1)))

    x, x_origin = layouts["bchw"][0], origin["bchw"][0]
    bchw_top = (top_height - H) / 2  # centred beside the taller (B, H, W, C) panel
    for c in range(C):
        left = c * (W + gap)
        for i in range(H):
            for j in range(W):
                _cell(ax, left + j, bchw_top + i, int(x[c, i, j]), colours[int(x_origin[c, i, j])], "bchw", size)
        ax.text(left + W / 2, bchw_top + H + 0.15, f"channel {c}", ha="center", va="top", fontsize=9)
    _caption(ax, top_width / 2, -0.35, f"x: (B, C, H, W) = {tuple(layouts['bchw'].shape)}")

    last, last_origin = layouts["bhwc"][0], origin["bhwc"][0]
    for i in range(H):
        for j in range(W):
            left, row_top = bhwc_left + j * (C + gap), top + i * pitch
            for c in range(C):
                _cell(ax, left + c, row_top, int(last[i, j, c]), colours[int(last_origin[i, j, c])], "bhwc", size)
            ax.add_patch(Rectangle((left, row_top), C, 1, fill=False, edgecolor="black", linewidth=2.4, gid="pixel"))
            ax.text(left + C / 2, row_top - 0.08, f"pixel ({i}, {j})", ha="center", va="bottom", fontsize=8,
                    gid="pixel-label")
    _caption(ax, bhwc_left + bhwc_width / 2, -0.35 - 0.1 * line,
             f"x.permute(0, 2, 3, 1): (B, H, W, C) = {tuple(layouts['bhwc'].shape)}")
    ax.text(bhwc_left + bhwc_width / 2, top_height + 0.15, f"{H} x {W} boxes, one per pixel, each holding its "
            f"{C} channel values", ha="center", va="top", fontsize=9)
    arrow(ax, (top_width + 0.3, top_height / 2), (bhwc_left - 0.3, top_height / 2))

    captions = {"bnc": ("x.flatten(2).transpose(1, 2): tokens", "black"),
                "wrong": ("x.reshape(B, H*W, C): NOT tokens", WRONG)}
    for name, left in tables.items():
        table, table_origin = layouts[name][0], origin[name][0]
        for n in range(N):
            for c in range(C):
                _cell(ax, left + c, table_top + n, int(table[n, c]), colours[int(table_origin[n, c])], name, size)
            ax.text(left - 0.15, table_top + n + 0.5, f"token {n}", ha="right", va="center", fontsize=9)
        text, colour = captions[name]
        _caption(ax, left + C / 2, table_top - 0.35, f"{text}\n(B, N, C) = {tuple(layouts[name].shape)}", colour)
    ax.text(tables["bnc"] + C + 0.4, table_top + N / 2, "one row =\none pixel's\nC channels", ha="left",
            va="center", fontsize=9)
    ax.text(tables["wrong"] + C + 0.4, table_top + N / 2, "one row =\nC values in\nmemory order,\nnot one pixel",
            ha="left", va="center", fontsize=9, color=WRONG)

    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.suptitle(f"one tensor of {C * H * W} numbers in three layouts, and a reshape that scrambles it "
                 "(colour = channel)", fontsize=11)
    return fig


MIXING = ("flatten", "sequence first", "batch first")  # the three ways plot_batch_mixing feeds the maps


def batch_mixing(batch: int = 4, channels: int = 8, height: int = 3, width: int = 3) -> dict[str, torch.Tensor]:
    """Which images of a batch reach which outputs, when a batch of feature maps goes through
    nn.MultiheadAttention (one head, random weights, a fixed seed) fed three ways.

    "flatten": nn.Flatten()(maps), shape (B, C*H*W), which the layer reads as one unbatched sequence of B
    tokens. "sequence first": the tokens maps.flatten(2).transpose(1, 2), shape (B, H*W, C), with
    batch_first=False, so the layer reads them as (N, B, C): H*W sequences of B tokens. "batch first": the same
    tokens with batch_first=True: B sequences of H*W tokens, one per image.

    Args:
        batch, channels, height, width: B in 2..8, C in 1..16, H and W in 1..4 of the random maps (B, C, H, W).

    Returns:
        {way: a bool tensor of shape (B, B)} for the three ways, in the order of MIXING; entry [i, j] is True
        when adding 1 to image j's input changes image i's output (by more than 1e-6).
    """
    for name, value, low, high in (("batch", batch, 2, 8), ("channels", channels, 1, 16), ("height", height, 1, 4),
                                   ("width", width, 1, 4)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    B = batch
    reach = {}
    with torch.random.fork_rng(), torch.no_grad():  # the caller's random numbers are left as they were
        torch.manual_seed(0)
        maps = torch.randn(B, channels, height, width)  # (B, C, H, W)
        tokens = maps.flatten(2).transpose(1, 2)  # (B, H*W, C)
        inputs = {"flatten": (nn.Flatten()(maps), nn.MultiheadAttention(channels * height * width, 1)),
                  "sequence first": (tokens, nn.MultiheadAttention(channels, 1)),
                  "batch first": (tokens, nn.MultiheadAttention(channels, 1, batch_first=True))}
        for way, (x, layer) in inputs.items():
            out = layer(x, x, x)[0]  # the shape of x; image b is x[b] in every way
            depends = torch.zeros(B, B, dtype=torch.bool)
            for j in range(B):
                changed = x.clone()
                changed[j] += 1.0
                moved = (layer(changed, changed, changed)[0] - out).abs().reshape(B, -1).amax(dim=1)  # (B,)
                depends[:, j] = moved > 1e-6
            reach[way] = depends
    return reach


def plot_batch_mixing(batch: int = 4, channels: int = 8, height: int = 3, width: int = 3) -> Figure:
    """Which images' outputs change when one image of the batch changes, for the three ways of
    `batch_mixing`: a B x B grid per way, filled where image j reaches image i's output.

    Args:
        batch, channels, height, width: as for batch_mixing.

    Returns:
        the Figure, three panels in the order of MIXING. Each panel's image data is 0 where image j does not
        reach image i's output, 1 on the diagonal where it does (an image reaches its own output), 2 off the
        diagonal where it does (drawn in red: the images mix). Each panel's verdict is a Text with gid
        "verdict".
    """
    reach = batch_mixing(batch, channels, height, width)
    B, C, N = batch, channels, height * width
    titles = {
        "flatten": f"nn.Flatten(): (B, C*H*W) = ({B}, {C * N})\nread as 1 sequence of {B} tokens",
        "sequence first": f"tokens (B, H*W, C) = ({B}, {N}, {C}),\nbatch_first=False: read as (N, B, C)",
        "batch first": f"tokens (B, H*W, C) = ({B}, {N}, {C}),\nbatch_first=True",
    }
    cmap = ListedColormap(["white", "0.55", WRONG])  # no, its own image, another image
    fig = new_figure(11.0, 5.3)
    panels = fig.subplots(1, 3)
    for ax, way in zip(panels, MIXING):
        grid = reach[way]
        other = ~torch.eye(B, dtype=torch.bool)
        ax.imshow((grid.float() * (1 + other.float())).numpy(), cmap=cmap, vmin=0, vmax=2, interpolation="nearest")
        ax.set_xticks(range(B))
        ax.set_yticks(range(B))
        ax.set_xticks([k + 0.5 for k in range(B - 1)], minor=True)
        ax.set_yticks([k + 0.5 for k in range(B - 1)], minor=True)
        ax.grid(which="minor", color="0.6", linewidth=0.8)
        ax.tick_params(which="minor", length=0)
        ax.set_xlabel("image j changed")
        ax.set_ylabel("output of image i")
        ax.set_title(titles[way], fontsize=10)
        own = bool(torch.equal(grid, torch.eye(B, dtype=torch.bool)))
        verdict = "each image on its own" if own else "the images of the batch mix"
        ax.text(0.5, 1.2, verdict, transform=ax.transAxes, ha="center", va="bottom", fontsize=10.5,
                color="black" if own else WRONG, fontweight="bold", gid="verdict")
    fig.suptitle(f"nn.MultiheadAttention on a batch of {B} feature maps of (C, H, W) = ({C}, {height}, {width}):\n"
                 "grey: an image reaches its own output; red: changing image j changes another image's output",
                 fontsize=11)
    return fig
