"""Diagram of a self-attention layer beside a convolution (notebook 01): the same input and output
shapes, reached in two different ways. The shapes on the boxes come from running the two real modules
and the ground-floor `attention` on a real input.
"""

from __future__ import annotations

import math

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from minivit.models.toy_models import PixelSelfAttention
from minivit.ops.attention import attention
from minivit.viz._common import new_figure
from minivit.viz.diagram import BOX_HEIGHT, arrow, box, output_shapes, shape_text

KERNEL_COLOUR = "#f5b041"  # the one kernel, wherever it is applied


def attention_layer_shapes(layer: PixelSelfAttention, conv: nn.Conv2d, x: torch.Tensor) -> dict[str, tuple]:
    """Run both modules on x and return the shape of every step the diagram draws.

    Returns:
        {"input", "tokens", "query", "key", "value", "scores", "weights", "weighted sum", "attention output",
        "kernel", "conv output"}: shapes as tuples. The queries, keys and values are read off the layer's
        three Linear layers with forward hooks; scores, weights and weighted sum come from the ground-floor
        `attention` on them.
    """
    if not isinstance(layer, PixelSelfAttention):
        raise TypeError(f"layer must be a minivit PixelSelfAttention, got {type(layer).__name__}")
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"conv must be an nn.Conv2d, got {type(conv).__name__}")
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor of shape (1, C, H, W), got {type(x).__name__}")
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"x must have shape (1, C, H, W), got shape {tuple(x.shape)}")
    if conv.in_channels != x.shape[1]:
        raise ValueError(f"x must have conv.in_channels = {conv.in_channels} channels, got shape {tuple(x.shape)}")
    with torch.no_grad():
        tokens = layer.tokens(x)  # (1, N, C), checks the channels
        q, k, v = layer.query(tokens), layer.key(tokens), layer.value(tokens)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (1, N, N)
        out, weights = attention(q, k, v)  # (1, N, C_out), (1, N, N)
    hooked = output_shapes(layer, x, ["query", "key", "value", ""])
    conv_out = output_shapes(conv, x, [""])[""]
    return {
        "input": tuple(x.shape), "tokens": tuple(tokens.shape),
        "query": hooked["query"], "key": hooked["key"], "value": hooked["value"],
        "scores": tuple(scores.shape), "weights": tuple(weights.shape), "weighted sum": tuple(out.shape),
        "attention output": hooked[""], "kernel": tuple(conv.weight.shape), "conv output": conv_out,
    }


def _grid(ax: Axes, left: float, top: float, side: int, cell: float, blocks: list[tuple[int, int, int]],
          colour: str, gid: str) -> None:
    """A side x side grid of pixels, row 0 at the top; each (row, column, size) of `blocks` fills a
    size x size block with `colour`."""
    for i in range(side):
        for j in range(side):
            filled = any(r <= i < r + n and c <= j < c + n for r, c, n in blocks)
            ax.add_patch(Rectangle((left + j * cell, top - (i + 1) * cell), cell, cell, linewidth=0.6,
                                   facecolor=colour if filled else "white", edgecolor="0.35", gid=gid))


def plot_attention_layer(layer: PixelSelfAttention, conv: nn.Conv2d, x: torch.Tensor) -> Figure:
    """A convolution (left) and a self-attention layer (right) on the same input, each step a box with
    the shape of its output.

    Left: input -> conv (its kernel's shape) -> output, and below, a pixel grid where two output pixels
    are each computed from their k x k neighbourhood with the same kernel. Right: input -> pixels as
    tokens -> three Linear layers (queries, keys, values) -> scores q k^T / sqrt(d) -> softmax ->
    weighted sum of the values -> back to a map.

    Args:
        layer: a PixelSelfAttention (every pixel a token).
        conv: an nn.Conv2d with a square kernel of odd side k <= 5, e.g. nn.Conv2d(3, 4, 3, padding=1).
        x: the input, shape (1, C, H, W), C = the layer's and the conv's input channels.

    Returns:
        the Figure, two Axes (conv, attention). Boxes are patches with gid "conv-step" (3, top to bottom)
        and "attention-step" (9: input, tokens, query, key, value, scores, softmax, weighted sum, output),
        their texts gid "conv-step-label" / "attention-step-label", each ending with the step's output
        shape (for the conv box, its kernel's shape); arrows have gid "arrow" ("conv-map" for the two from a
        neighbourhood to its output pixel). The pixel grids' cells have
        gid "conv-input-pixel" and "conv-output-pixel".
    """
    shapes = attention_layer_shapes(layer, conv, x)
    if conv.kernel_size[0] != conv.kernel_size[1] or conv.kernel_size[0] % 2 == 0 or conv.kernel_size[0] > 5:
        raise ValueError(f"conv must have a square kernel of odd side <= 5, got kernel_size {conv.kernel_size}")
    k = conv.kernel_size[0]
    d = shapes["query"][-1]
    N = shapes["tokens"][1]
    text = {name: shape_text(shape) for name, shape in shapes.items()}

    fig = new_figure(9.6, 6.4)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.75])

    # The convolution: three boxes, then the picture of the shared kernel.
    w = 3.0
    conv_steps = [(f"input x\n{text['input']}", "tensor"),
                  (f"{k}x{k} conv, padding {conv.padding[0]}\nkernel {text['kernel']}", "layer"),
                  (f"output\n{text['conv output']}", "tensor")]
    for n, (label, kind) in enumerate(conv_steps):
        box(left, 0, -n, label, kind, width=w, gid="conv-step")
        if n:
            arrow(left, (0, -n + 1 - BOX_HEIGHT / 2), (0, -n + BOX_HEIGHT / 2))
    side = 2 * k + 2
    cell = min(0.2, (w / 2 - 0.15) / side)
    grid_top, span = -3.0, side * cell
    in_left, out_left = -w / 2, w / 2 - span
    corners = [(0, 0), (k + 1, k + 1)]  # top-left pixels of two neighbourhoods that do not overlap
    _grid(left, in_left, grid_top, side, cell, [(r, c, k) for r, c in corners], KERNEL_COLOUR, "conv-input-pixel")
    _grid(left, out_left, grid_top, side, cell, [(r + k // 2, c + k // 2, 1) for r, c in corners], "#c0392b",
          "conv-output-pixel")
    for r, c in corners:  # from the centre of each neighbourhood to its output pixel
        cy = grid_top - (r + k // 2 + 0.5) * cell
        cx = (c + k // 2 + 0.5) * cell
        arrow(left, (in_left + cx, cy), (out_left + cx, cy), gid="conv-map", alpha=0.7)
    left.text(0, grid_top - span - 0.12, f"every output pixel (red): its {k}x{k} neighbourhood\n"
              "times the same kernel (orange), at every position", ha="center", va="top", fontsize=9)
    left.text(in_left + span / 2, grid_top + 0.08, "input", ha="center", va="bottom", fontsize=9)
    left.text(out_left + span / 2, grid_top + 0.08, "output", ha="center", va="bottom", fontsize=9)
    left.set_xlim(-w / 2 - 0.15, w / 2 + 0.15)
    left.set_ylim(-6.4, 0.5)
    left.set_aspect("equal")
    left.axis("off")
    left.set_title("a convolution: a local, fixed kernel", fontsize=10.5)

    # Self-attention: q and k meet in the scores, the softmaxed scores weigh v.
    bw, col = 2.0, 2.3  # width of a narrow box, distance between the columns
    qk = -col / 2  # the scores sit between the q and k columns
    steps = [  # (x, y, label, kind)
        (0, 0, f"input x\n{text['input']}", "tensor"),
        (0, -1, f"pixels as tokens\n{text['tokens']}", "op"),
        (-col, -2, f"queries q: Linear\n{text['query']}", "layer"),
        (0, -2, f"keys k: Linear\n{text['key']}", "layer"),
        (col, -2, f"values v: Linear\n{text['value']}", "layer"),
        (qk, -3, f"scores q kᵀ / √{d}\n{text['scores']}", "attention"),
        (qk, -4, f"softmax over the {N} keys\n{text['weights']}", "attention"),
        (col / 2, -5, f"weighted sum of v\n{text['weighted sum']}", "attention"),
        (col / 2, -6, f"output, back to a map\n{text['attention output']}", "tensor"),
    ]
    widths = [3.4, 3.4, bw, bw, bw, 3.0, 3.0, 3.0, 3.4]
    for (bx, by, label, kind), width in zip(steps, widths):
        box(right, bx, by, label, kind, width=width, gid="attention-step")
    half = BOX_HEIGHT / 2
    links = [((0, -1 + half), (0, 0 - half)),  # drawn as (end, start) pairs below
             ((-col, -2 + half), (0, -1 - half)), ((0, -2 + half), (0, -1 - half)), ((col, -2 + half), (0, -1 - half)),
             ((qk - 0.5, -3 + half), (-col, -2 - half)), ((qk + 0.5, -3 + half), (0, -2 - half)),
             ((qk, -4 + half), (qk, -3 - half)),
             ((col / 2 - 0.6, -5 + half), (qk, -4 - half)), ((col / 2 + 0.6, -5 + half), (col, -2 - half)),
             ((col / 2, -6 + half), (col / 2, -5 - half))]
    for end, start in links:
        arrow(right, start, end)
    right.text(-col - bw / 2, -5.3, f"every output pixel:\nall {N} values, weighted\nby its query against\n"
               "every key", ha="left", va="center", fontsize=9)
    right.set_xlim(-col - bw / 2 - 0.2, col + bw / 2 + 0.2)
    right.set_ylim(-6.4, 0.5)
    right.set_aspect("equal")
    right.axis("off")
    right.set_title(f"self-attention: weights computed from the data, over all {N} tokens", fontsize=10.5)
    fig.suptitle("the same input, the same output shape: a convolution and a self-attention layer", fontsize=11)
    return fig
