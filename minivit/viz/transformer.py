"""Diagrams of the transformer's parts, with every shape read from the real minivit module:

    plot_multi_head_attention(attn, x)   split into heads -> attend per head -> merge -> project
    plot_transformer_block(block, x)     the pre-norm block: x + attn(norm1(x)), then x + mlp(norm2(x))
    plot_vit(model, image_size)          the ViT pipeline of the ViT paper's Figure 1, image to class scores

A model built on the meta device (`with torch.device("meta"): model = vit_b_16()`) is drawn in well
under a second: only the shapes are computed, never a number.
"""

from __future__ import annotations

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from minivit.models.layers import SelfAttention, TransformerBlock
from minivit.models.vit import VisionTransformer
from minivit.ops._checks import to_pair
from minivit.ops.attention import attention, merge_heads
from minivit.viz._common import new_figure
from minivit.viz.diagram import BOX_HEIGHT, Step, arrow, box, output_shapes, plot_flow, shape_text

MAX_HEADS = 4  # more heads than this are drawn as the first two, "...", the last one


def _check_tokens(x: object, dim: int, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (B, N, {dim}), got {type(x).__name__}")
    if x.dim() != 3 or x.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (B, N, D) = (B, N, {dim}), got shape {tuple(x.shape)}")
    return x


def drawn_heads(num_heads: int) -> list[int | None]:
    """The heads a figure draws side by side, None standing for the ones left out ("..."):
    all of them up to MAX_HEADS, else the first two, None and the last one."""
    if num_heads <= MAX_HEADS:
        return list(range(num_heads))
    return [0, 1, None, num_heads - 1]


def plot_multi_head_attention(attn: SelfAttention, x: torch.Tensor) -> Figure:
    """Multi-head self-attention (MSA) as minivit's SelfAttention computes it: one Linear gives q, k and v,
    their channels are split into nh heads, every head attends on its own (drawn side by side, a few of
    them and "..." when there are many), the heads are merged back and projected.

    Args:
        attn: a minivit.models.layers.SelfAttention.
        x: its input tokens, shape (B, N, D); a tensor on the meta device is enough.

    Returns:
        the Figure. The chain around the heads is 5 boxes with gid "step" (tokens, qkv, split, merge,
        proj), their texts gid "step-label"; each drawn head is 3 boxes with gid "head" (its q, k, v; its
        weights; its output), texts gid "head-label", left to right by head; the heads left out are one
        Text "..." with gid "more-heads"; arrows have gid "arrow".
    """
    if not isinstance(attn, SelfAttention):
        raise TypeError(f"attn must be a minivit SelfAttention, got {type(attn).__name__}")
    D, nh = attn.qkv.in_features, attn.num_heads
    _check_tokens(x, D)
    shapes = output_shapes(attn, x, ["qkv", "proj"])
    with torch.no_grad():
        q, k, v = attn.heads(x)  # 3 x (B, nh, N, hs)
        out, weights = attention(q, k, v)  # (B, nh, N, hs), (B, nh, N, N)
        merged = merge_heads(out)  # (B, N, D)
    hs = q.shape[-1]
    heads = drawn_heads(nh)

    pitch, column = 2.15, 1.95  # distance between head columns, width of a head's boxes
    half = pitch * (len(heads) - 1) / 2
    fig = new_figure(max(6.0, 2 * half + column + 1.0), 7.2)
    ax = fig.subplots()
    chain_width = 4.2

    def step(y: float, text: str, shape, kind: str) -> None:
        box(ax, 0, y, f"{text}\n{shape_text(shape)}", kind, width=chain_width, gid="step")

    step(0, "x: N tokens of D channels", tuple(x.shape), "tensor")
    step(-1, f"qkv: Linear({D}, {3 * D})", shapes["qkv"], "layer")
    step(-2, f"split into nh = {nh} heads of hs = {hs}", "q, k, v: 3 x " + shape_text(tuple(q.shape)), "op")
    step(-6, "merge heads (put side by side)", tuple(merged.shape), "op")
    step(-7, f"proj: Linear({D}, {D})", shapes["proj"], "layer")
    arrow(ax, (0, -BOX_HEIGHT / 2), (0, -1 + BOX_HEIGHT / 2))
    arrow(ax, (0, -1 - BOX_HEIGHT / 2), (0, -2 + BOX_HEIGHT / 2))
    arrow(ax, (0, -6 - BOX_HEIGHT / 2), (0, -7 + BOX_HEIGHT / 2))

    for c, h in enumerate(heads):
        cx = -half + c * pitch
        if h is None:
            ax.text(cx, -4, f"\u2026\n{nh - MAX_HEADS + 1} more\nheads", ha="center", va="center", fontsize=11,
                    gid="more-heads")
            continue
        rows = [
            (f"head {h}: q, k, v\n3 x {shape_text(tuple(q[:, h].shape))}", "tensor"),
            (f"softmax(q k\u1d40 / \u221a{hs})\n{shape_text(tuple(weights[:, h].shape))}", "attention"),
            (f"weights @ v\n{shape_text(tuple(out[:, h].shape))}", "attention"),
        ]
        for r, (text, kind) in enumerate(rows):
            box(ax, cx, -3 - r, text, kind, width=column, gid="head")
            if r:
                arrow(ax, (cx, -3 - r + 1 - BOX_HEIGHT / 2), (cx, -3 - r + BOX_HEIGHT / 2))
        arrow(ax, (0, -2 - BOX_HEIGHT / 2), (cx, -3 + BOX_HEIGHT / 2))  # from the split to the head
        arrow(ax, (cx, -5 - BOX_HEIGHT / 2), (0, -6 + BOX_HEIGHT / 2))  # from the head to the merge
    ax.set_xlim(-half - column / 2 - 0.3, half + column / 2 + 0.3)
    ax.set_ylim(-7.5, 0.5)
    ax.axis("off")
    ax.set_title(f"Multi-head self-attention: D = {D}, nh = {nh} heads of hs = {hs}")
    return fig


def plot_transformer_block(block: TransformerBlock, x: torch.Tensor) -> Figure:
    """The pre-norm transformer block as minivit's TransformerBlock computes it, top to bottom:
    x + attn(norm1(x)), then x + mlp(norm2(x)), with the MLP's layers drawn so its hidden width shows,
    and both residual connections drawn beside the chain.

    Args:
        block: a minivit.models.layers.TransformerBlock.
        x: its input tokens, shape (B, N, D); a tensor on the meta device is enough.

    Returns:
        the Figure of `plot_flow`: 9 boxes with gid "step" (x, norm1, attn, add, norm2, mlp.fc1, mlp.act,
        mlp.fc2, add), each labelled with its output shape; two residual connections with gid "skip",
        from x into the first add and from the first add into the second.
    """
    if not isinstance(block, TransformerBlock):
        raise TypeError(f"block must be a minivit TransformerBlock, got {type(block).__name__}")
    D, nh = block.norm1.normalized_shape[0], block.attn.num_heads
    _check_tokens(x, D)
    names = ["norm1", "attn", "norm2", "mlp.fc1", "mlp.act", "mlp.fc2", ""]
    shapes = output_shapes(block, x, names)
    fc1, fc2 = block.mlp.fc1, block.mlp.fc2
    steps = [
        Step("x: N tokens of D channels", tuple(x.shape), "tensor"),
        Step(f"norm1: LayerNorm({D})", shapes["norm1"], "norm"),
        Step(f"attn: multi-head self-attention, nh = {nh}", shapes["attn"], "attention"),
        Step("add: x + attn(norm1(x))", tuple(torch.broadcast_shapes(x.shape, shapes["attn"])), "op"),
        Step(f"norm2: LayerNorm({D})", shapes["norm2"], "norm"),
        Step(f"mlp.fc1: Linear({fc1.in_features}, {fc1.out_features})", shapes["mlp.fc1"], "layer"),
        Step(f"mlp.act: {type(block.mlp.act).__name__}", shapes["mlp.act"], "op"),
        Step(f"mlp.fc2: Linear({fc2.in_features}, {fc2.out_features})", shapes["mlp.fc2"], "layer"),
        Step("add: x + mlp(norm2(x))", shapes[""], "op"),
    ]
    ax = new_figure(5.6, 7.0).subplots()
    return plot_flow(steps, f"Pre-norm transformer block (D = {D}, MLP hidden {fc1.out_features})",
                     skips=[(0, 3), (3, 8)], box_width=3.8, ax=ax)


def plot_vit(model: VisionTransformer, image_size: int | tuple[int, int]) -> Figure:
    """A Vision Transformer from image to class scores, as in Figure 1 of the ViT paper (Dosovitskiy et
    al., 2020): patches, linear embedding (a p x p convolution with stride p), class token, position
    embedding, the L blocks, the final LayerNorm and the head on the class token.

    Args:
        model: a minivit VisionTransformer; built on the meta device it draws in a fraction of a second.
        image_size: H, or (H, W): the size it was built for (its position embedding fixes it).

    Returns:
        the Figure of `plot_flow`: 8 boxes with gid "step" (image, patch_embed, flatten, class token,
        position embedding, blocks, norm, head), each labelled with its output shape for one image,
        e.g. (1, 197, 768) after the position embedding of ViT-B/16 at 224.
    """
    if not isinstance(model, VisionTransformer):
        raise TypeError(f"model must be a minivit VisionTransformer, got {type(model).__name__}")
    H, W = to_pair(image_size, "image_size")
    if (H, W) != tuple(model.image_size):
        raise ValueError(f"image_size must be the size the model was built for, {model.image_size}, got {image_size!r}")
    config, L = model.config, len(model.blocks)
    p = config.patch_size
    x = torch.zeros(1, config.in_channels, H, W, device=model.pos_embed.device)
    shapes = output_shapes(model, x, ["patch_embed", f"blocks.{L - 1}", "norm", "head"])
    with torch.no_grad():
        grid = torch.zeros(shapes["patch_embed"], device=x.device)  # (1, D, H/p, W/p)
        patches = grid.flatten(2).transpose(1, 2)  # (1, N, D)
        with_cls = torch.cat([model.cls_token.expand(1, -1, -1), patches], dim=1)  # (1, 1+N, D)
        embedded = model.tokens(x)  # (1, 1+N, D)
    gh, gw = shapes["patch_embed"][2:]
    block = model.blocks[0]
    steps = [
        Step(f"image, {H} x {W} pixels", tuple(x.shape), "tensor"),
        Step(f"patch_embed: Conv2d {p} x {p}, stride {p}", shapes["patch_embed"], "layer"),
        Step(f"flatten: {gh} x {gw} = {gh * gw} patch tokens", tuple(patches.shape), "op"),
        Step("prepend the class token", tuple(with_cls.shape), "op"),
        Step("add the position embedding", tuple(embedded.shape), "op"),
        Step(f"{L} x TransformerBlock (nh = {block.attn.num_heads}, MLP {block.mlp.fc1.out_features})",
             shapes[f"blocks.{L - 1}"], "attention"),
        Step("norm: LayerNorm of the class token", shapes["norm"], "norm"),
        Step(f"head: Linear({model.head.in_features}, {model.head.out_features})", shapes["head"], "layer"),
    ]
    fig = new_figure(9.4, 6.6)
    left, right = fig.subplots(1, 2, width_ratios=[1.0, 1.25])
    _draw_sequence(left, gh, gw)
    plot_flow(steps, f"ViT: {H} x {W} image, {p} x {p} patches, D = {config.dim}", box_width=4.4, ax=right)
    return fig


def _draw_sequence(ax, gh: int, gw: int) -> None:
    """The image as a gh x gw grid of patches numbered in reading order, and below it the token sequence:
    the class token at position 0, then patch k at position k, each with its position embedding added."""
    N = gh * gw
    side = 6.0 / max(gh, gw)  # cell size, so that the grid fits in 6 x 6
    x0, y0 = 5.0 - gw * side / 2, 11.5  # top left corner of the grid
    for i in range(gh):
        for j in range(gw):
            ax.add_patch(Rectangle((x0 + j * side, y0 - (i + 1) * side), side, side, facecolor="#d6eaf8",
                                   edgecolor="#1b4f72", linewidth=0.6, gid="patch"))
    for n in sorted({1, 2, 3, N}):  # patch n is token n of the sequence
        i, j = divmod(n - 1, gw)
        size = float(min(9.0, 28 * side / max(1.0, 0.6 * len(str(n)))))  # the number fits in its cell
        ax.text(x0 + (j + 0.5) * side, y0 - (i + 0.5) * side, str(n), ha="center", va="center", fontsize=size,
                gid="patch-label")
    ax.text(5.0, y0 + 0.35, f"the image cut into {gh} x {gw} = {N} patches", ha="center", va="bottom", fontsize=9.5)
    arrow(ax, (5.0, y0 - gh * side - 0.2), (5.0, 3.6), label="patch k -> token k")
    tokens = ["cls", "1", "2", "3", None, str(N)]
    positions = [0, 1, 2, 3, None, N]
    width, pitch = 1.45, 1.7
    for c, (text, pos) in enumerate(zip(tokens, positions)):
        cx = 5.0 + (c - (len(tokens) - 1) / 2) * pitch
        if text is None:
            ax.text(cx, 2.9, "\u2026", ha="center", va="center", fontsize=12)
            continue
        box(ax, cx, 2.9, f"{text}\n+ pos {pos}", "tensor" if pos else "layer", width=width, height=1.2, gid="token",
            size=8)
    ax.text(5.0, 1.9, f"the sequence of {N + 1} tokens: the class token (position 0),\nthen the patches, each plus its "
            "position embedding", ha="center", va="top", fontsize=9)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 12.4)
    ax.set_aspect("equal")
    ax.axis("off")
