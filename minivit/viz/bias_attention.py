"""What the relative position bias does inside attention: the path from the table to the softmax, drawn as
a diagram with the shapes of a real window attention layer, and one query's attention weights with and
without the bias, laid on the window.

    plot_bias_path(layer)                       table -> index -> gather -> + q k^T / sqrt(hs) -> softmax -> @ v
    plot_biased_attention(q, k, table, M, ...)  one query's softmax weights without and with the bias
"""

from __future__ import annotations

import math

import torch
from matplotlib.figure import Figure

from minivit.models.swin import WindowAttention
from minivit.ops._checks import check_shape, to_pair
from minivit.ops.attention import attention, merge_heads, split_heads
from minivit.ops.relative_position import relative_position_bias, relative_position_index
from minivit.viz._common import CONTINUOUS, DIVERGING, grid_position, label_size, new_figure, outline
from minivit.viz.diagram import FONT_SIZE, arrow, box, shape_text


def plot_bias_path(layer: WindowAttention, seed: int = 0) -> Figure:
    """The relative position bias on its way into one window's attention, with the shapes of `layer`.

    Left, the bias: the layer's table ((2M-1)^2, nh) and relative_position_index(M) (N, N), N = M*M, gathered
    into (nh, N, N). Right, the content: one window of N tokens, the layer's qkv Linear, the scores
    q k^T / sqrt(hs). Both meet in an add (where SW-MSA also adds the shift mask), then the softmax over the
    keys and the weighted sum of the values. Every shape is computed: the steps run on a random window
    (B = 1, M x M tokens) with the layer's own weights and table, and the result, projected, must equal
    the layer's output on that window (a single window, so no shift and no mask apply).

    Args:
        layer: a minivit WindowAttention, e.g. WindowAttention(dim=96, num_heads=3, window_size=7).
        seed: for the random window the shapes are computed on.

    Returns:
        the Figure. Boxes are patches of gid "step" in the order table, index, gather, tokens, qkv, scores,
        add, softmax, weighted sum; their texts gid "step-label", each ending in its shape; the arrows gid "arrow".
    """
    if not isinstance(layer, WindowAttention):
        raise TypeError(f"layer must be a minivit WindowAttention, got {type(layer).__name__}")
    M, nh = layer.window_size, layer.num_heads
    table = layer.relative_position_bias_table
    C = layer.qkv.in_features
    N, hs = M * M, C // nh
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(1, M, M, C, generator=generator, dtype=table.dtype)  # (B, M, M, C): one window
    with torch.no_grad():
        index = relative_position_index(M)  # (N, N)
        bias = relative_position_bias(table, M)  # (nh, N, N) = table[index].permute(2, 0, 1)
        tokens = x.reshape(1, N, C)  # (1, N, C)
        q, k, v = (split_heads(t, nh) for t in layer.qkv(tokens).chunk(3, dim=-1))  # 3 x (1, nh, N, hs)
        scores = q @ k.transpose(-2, -1) / math.sqrt(hs)  # (1, nh, N, N)
        logits = scores + bias  # (1, nh, N, N)
        weights = logits.softmax(dim=-1)  # (1, nh, N, N): each row sums to 1
        out = weights @ v  # (1, nh, N, hs)
        by_layer = layer(x)  # (1, M, M, C)
    ours = layer.proj(merge_heads(out)).reshape(1, M, M, C)
    if not torch.allclose(ours.detach(), by_layer, atol=1e-5):  # the steps drawn must be the layer's
        raise RuntimeError("the drawn steps do not give the layer's output")

    steps = [  # (x, y, width, text, kind)
        (-3.55, 0.0, 2.9, f"table: relative_position_bias_table\n{shape_text(tuple(table.shape))} = ((2M-1)^2, nh)",
         "tensor"),
        (-0.45, 0.0, 2.9, f"relative_position_index({M})\n{shape_text(tuple(index.shape))} = (N, N)", "op"),
        (-2.0, -1.3, 4.0, f"gather: table[index].permute(2, 0, 1)\n{shape_text(tuple(bias.shape))} = (nh, N, N)",
         "op"),
        (3.6, 0.0, 3.5, f"one window's tokens, N = {M} x {M}\n{shape_text(tuple(tokens.shape))}", "tensor"),
        (3.6, -1.3, 3.5, f"qkv: Linear {C} -> {3 * C}, {nh} heads\nq, k, v {shape_text(tuple(q.shape))} each",
         "layer"),
        (3.6, -2.6, 3.5, f"scores: q k^T / sqrt({hs})\n{shape_text(tuple(scores.shape))}", "attention"),
        (0.8, -3.9, 4.6, f"add: scores + bias (SW-MSA: + mask too)\n{shape_text(tuple(logits.shape))}", "op"),
        (0.8, -5.2, 4.6, f"softmax over the keys: weights\n{shape_text(tuple(weights.shape))}", "op"),
        (0.8, -6.5, 4.6, f"weights @ v\n{shape_text(tuple(out.shape))}", "attention"),
    ]
    fig = new_figure(9.6, 6.6)
    ax = fig.subplots()
    height = 0.75
    for x0, y0, width, text, kind in steps:
        box(ax, x0, y0, text, kind, width=width, height=height, size=FONT_SIZE - 0.5)
    top, bottom = height / 2, -height / 2

    def join(a: int, b: int, label: str | None = None) -> None:
        (xa, ya, *_), (xb, yb, *_) = steps[a], steps[b]
        arrow(ax, (xa, ya + bottom), (xb, yb + top), label=label)

    for a, b in ((0, 2), (1, 2), (3, 4), (4, 5), (2, 6), (5, 6), (6, 7), (7, 8)):
        join(a, b)
    ax.set_xlim(-5.1, 5.5)
    ax.set_ylim(-7.0, 0.5)
    ax.axis("off")
    ax.set_title(f"the relative position bias on its way into attention: window M = {M}, nh = {nh}, hs = {hs}\n"
                 f"left the position (one bias per offset), right the content; they meet before the softmax")
    return fig


def plot_biased_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    table: torch.Tensor,
    window_size: int | tuple[int, int],
    query: int | tuple[int, int],
    head: int = 0,
) -> Figure:
    """One query's attention weights over the keys of its window, without and with the relative position bias.

    Three panels laid on the window (key row, key column), each key where it sits: the softmax weights of
    the scores q k^T / sqrt(hs) alone; the bias the table adds to each key's score (the query's row of
    relative_position_bias(table, window_size)); the softmax weights of the scores plus the bias. The
    weights are computed by minivit.ops.attention.attention, with the bias as its float mask.

    Args:
        q, k: one window's queries and keys, shape (nh, N, hs), N = Mh*Mw.
        table: shape ((2Mh-1)(2Mw-1), nh).
        window_size: M, or (Mh, Mw).
        query: the query token, a row-major index in the window or (row, column).
        head: which head.

    Returns:
        the Figure. Axes 0 holds the weights without the bias, axes 1 the bias, axes 2 the weights with the
        bias, each an (Mh, Mw) image, entry [r, c] the key at (r, c) of the window; panels 0 and 2 share one
        colour scale from 0. The query is a Rectangle of gid "query" in each; every cell carries its value
        (texts of gid "value", weights in percent) when N <= 49.
    """
    Mh, Mw = to_pair(window_size, "window_size")
    N = Mh * Mw
    for name, t in (("q", q), ("k", k)):
        check_shape(t, name, "(nh, N, hs)", (None, N, None))
    if q.shape != k.shape:
        raise ValueError(f"q and k must have the same shape, got {tuple(q.shape)} and {tuple(k.shape)}")
    nh = q.shape[0]
    bias = relative_position_bias(table, (Mh, Mw))  # (nh, N, N); checks the table's shape
    if table.shape[1] != nh:
        raise ValueError(f"table must have one column per head of q ({nh}), got {table.shape[1]}")
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < nh:
        raise ValueError(f"head must be an index in [0, {nh}), got {head!r}")
    i, j = grid_position(query, Mh, Mw, "query")
    qh, kh = q[head].detach().float(), k[head].detach().float()  # (N, hs)
    with torch.no_grad():
        _, plain = attention(qh, kh, kh)  # (N, N): the weights of q k^T / sqrt(hs)
        _, biased = attention(qh, kh, kh, mask=bias[head].detach().float())  # (N, N): + the bias
    row = i * Mw + j
    maps = [plain[row], bias[head, row].detach().float(), biased[row]]  # (N,) each
    maps = [m.reshape(Mh, Mw) for m in maps]
    top = float(max(maps[0].max(), maps[2].max()))
    limit = float(maps[1].abs().max()) or 1.0

    fig = new_figure(10.0, 3.9)
    axes = fig.subplots(1, 3)
    table_name = "the table" if nh == 1 else f"column {head} of the table"  # no "head 0" of another table
    titles = ["weights: softmax(q k^T / sqrt(hs))", f"+ bias from {table_name} (keys where they sit)",
              "weights: softmax(q k^T / sqrt(hs) + bias)"]
    size = label_size(2.6, max(Mh, Mw), 0.42, digits=3)
    images = []
    for k_, (ax, m, title) in enumerate(zip(axes, maps, titles)):
        if k_ == 1:
            images.append(ax.imshow(m.numpy(), cmap=DIVERGING, vmin=-limit, vmax=limit, interpolation="nearest"))
        else:
            images.append(ax.imshow(m.numpy(), cmap=CONTINUOUS, vmin=0, vmax=top, interpolation="nearest"))
        ax.set_title(title, fontsize=10)
        ax.set_xticks(range(Mw))
        ax.set_yticks(range(Mh))
        ax.set_xlabel("key column")
        outline(ax, i, j, i, j, gid="query", edgecolor="red", linewidth=2.5)
        if N <= 49:
            for r in range(Mh):
                for c in range(Mw):
                    value = float(m[r, c])
                    text = f"{100 * value:.0f}%" if k_ != 1 else f"{value:+.1f}".replace("+0.0", "0")
                    dark = value < 0.6 * top if k_ != 1 else abs(value) > 0.55 * limit  # a dark cell: white text
                    ax.text(c, r, text, ha="center", va="center", fontsize=size, gid="value",
                            color="white" if dark else "black")
    axes[0].set_ylabel("key row")
    fig.colorbar(images[1], ax=axes[1], label="bias added to the score", shrink=0.8, location="bottom")
    fig.colorbar(images[2], ax=axes[2], label="weight (both weight panels)", shrink=0.8)
    fig.suptitle(f"query ({i}, {j}) (red) of a {Mh}x{Mw} window: the same q and k, without and with the bias; "
                 f"each key where it sits")
    return fig
