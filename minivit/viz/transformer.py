"""Diagrams of the transformer's parts, with every shape read from the real minivit module:

    plot_multi_head_attention(attn, x)   split into heads -> attend per head -> merge -> project; shares=True:
                                         each head's output times its columns of W_O, the shares summed
    plot_transformer_block(block, x)     the pre-norm block: x + attn(norm1(x)), then x + mlp(norm2(x));
                                         order="post": the same modules as norm1(x + attn(x)), ...
    plot_vit(model, image_size, image)   the ViT pipeline of the ViT paper's Figure 1, image to class scores
    plot_split_heads(N, D, nh)           which channel of which token each head gets (split_heads), and the
                                         reshape without a transpose that looks the same and is not heads

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
from minivit.ops.attention import attention, merge_heads, split_heads
from minivit.viz._common import as_image, categorical, label_size, new_figure, number
from minivit.viz.diagram import BOX_HEIGHT, Step, arrow, box, output_shapes, plot_flow, shape_text

MAX_HEADS = 4  # more heads than this are drawn as the first two, "...", the last one
WRONG = "#b03a2e"  # the colour of the caption of a mistake, as in minivit.viz.layouts


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


def plot_multi_head_attention(attn: SelfAttention, x: torch.Tensor, shares: bool = False) -> Figure:
    """Multi-head self-attention (MSA) as minivit's SelfAttention computes it: one Linear gives q, k and v,
    their channels are split into nh heads, every head attends on its own (drawn side by side, a few of
    them and "..." when there are many), the heads are merged back and projected.

    Args:
        attn: a minivit.models.layers.SelfAttention.
        x: its input tokens, shape (B, N, D); a tensor on the meta device is enough.
        shares: draw the merge and the projection as what they compute together: each head's output times
            its hs columns of proj.weight (W_O), the head's share of the output, and the shares summed
            with proj's bias.

    Returns:
        the Figure. The chain around the heads is 5 boxes with gid "step" (tokens, qkv, split, merge,
        proj), their texts gid "step-label"; with shares, 4 (tokens, qkv, split, sum), and each drawn head
        has one more box with gid "share" (text gid "share-label"). Each drawn head is 3 boxes with gid
        "head" (its q, k, v; its weights; its output), texts gid "head-label", left to right by head; the
        heads left out are one Text "..." with gid "more-heads"; arrows have gid "arrow".
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
        w_o = attn.proj.weight  # (D, D), stored (out, in): columns h·hs to (h+1)·hs - 1 read head h
        head_shares = [out[:, h] @ w_o[:, h * hs:(h + 1) * hs].T for h in range(nh)]  # nh x (B, N, D)
    heads = drawn_heads(nh)

    pitch, column = 2.15, 1.95  # distance between head columns, width of a head's boxes
    half = pitch * (len(heads) - 1) / 2
    fig = new_figure(max(6.0, 2 * half + column + 1.0), 6.9)  # at 3 heads, height / width 0.95
    ax = fig.subplots()
    chain_width = 4.2

    def step(y: float, text: str, shape, kind: str) -> None:
        box(ax, 0, y, f"{text}\n{shape_text(shape)}", kind, width=chain_width, gid="step")

    step(0, "x: N tokens of D channels", tuple(x.shape), "tensor")
    step(-1, f"qkv: Linear({D}, {3 * D})", shapes["qkv"], "layer")
    step(-2, f"split into nh = {nh} heads of hs = {hs}", "q, k, v: 3 x " + shape_text(tuple(q.shape)), "op")
    if shares:
        step(-7, "sum of the shares + proj.bias", tuple(sum(head_shares).shape), "op")
    else:
        step(-6, "merge heads (put side by side)", tuple(merged.shape), "op")
        step(-7, f"proj: Linear({D}, {D})", shapes["proj"], "layer")
        arrow(ax, (0, -6 - BOX_HEIGHT / 2), (0, -7 + BOX_HEIGHT / 2))
    arrow(ax, (0, -BOX_HEIGHT / 2), (0, -1 + BOX_HEIGHT / 2))
    arrow(ax, (0, -1 - BOX_HEIGHT / 2), (0, -2 + BOX_HEIGHT / 2))

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
        if shares:  # the head's output times its columns of W_O, then into the sum
            columns = f"{h * hs}-{(h + 1) * hs - 1}"
            box(ax, cx, -6, f"@ W_O cols {columns}\n{shape_text(tuple(head_shares[h].shape))}", "layer",
                width=column, gid="share")
            arrow(ax, (cx, -5 - BOX_HEIGHT / 2), (cx, -6 + BOX_HEIGHT / 2))
            arrow(ax, (cx, -6 - BOX_HEIGHT / 2), (0, -7 + BOX_HEIGHT / 2))
        else:
            arrow(ax, (cx, -5 - BOX_HEIGHT / 2), (0, -6 + BOX_HEIGHT / 2))  # from the head to the merge
    ax.set_xlim(-half - column / 2 - 0.3, half + column / 2 + 0.3)
    ax.set_ylim(-7.5, 0.5)
    ax.axis("off")
    ax.set_title(f"Multi-head self-attention: D = {D}, nh = {nh} heads of hs = {hs}")
    return fig


def _post_norm_shapes(block: TransformerBlock, x: torch.Tensor) -> dict[str, tuple[int, ...]]:
    """Run the block's own modules in the post-norm order, norm1(x + attn(x)), then norm2(x + mlp(x)),
    and return each step's output shape ("add1", "add2" for the two sums)."""
    shapes = {}
    with torch.no_grad():
        a = block.attn(x)
        shapes["attn"] = tuple(a.shape)
        h = x + a
        shapes["add1"] = tuple(h.shape)
        h = block.norm1(h)
        shapes["norm1"] = tuple(h.shape)
        m = block.mlp.fc1(h)
        shapes["mlp.fc1"] = tuple(m.shape)
        m = block.mlp.act(m)
        shapes["mlp.act"] = tuple(m.shape)
        m = block.mlp.fc2(m)
        shapes["mlp.fc2"] = tuple(m.shape)
        y = h + m
        shapes["add2"] = tuple(y.shape)
        shapes["norm2"] = tuple(block.norm2(y).shape)
    return shapes


def plot_transformer_block(block: TransformerBlock, x: torch.Tensor, order: str = "pre") -> Figure:
    """A transformer block top to bottom, with the MLP's layers drawn so its hidden width shows, and both
    residual connections drawn beside the chain. `order="pre"` is minivit's TransformerBlock as it computes
    it: x + attn(norm1(x)), then x + mlp(norm2(x)). `order="post"` runs the same modules in the original
    Transformer's post-norm order, norm1(x + attn(x)), then norm2(x + mlp(x)), so that the LayerNorms sit on
    the residual path; minivit has no post-norm model, the figure only computes the shapes that way.

    Args:
        block: a minivit.models.layers.TransformerBlock.
        x: its input tokens, shape (B, N, D); a tensor on the meta device is enough.
        order: "pre" or "post".

    Returns:
        the Figure of `plot_flow`: 9 boxes with gid "step", each labelled with its output shape: for "pre"
        x, norm1, attn, add, norm2, mlp.fc1, mlp.act, mlp.fc2, add; for "post" x, attn, add, norm1, mlp.fc1,
        mlp.act, mlp.fc2, add, norm2. Two residual connections with gid "skip": for "pre" from x into the
        first add and from the first add into the second; for "post" from x into the first add and from
        norm1 into the second.
    """
    if not isinstance(block, TransformerBlock):
        raise TypeError(f"block must be a minivit TransformerBlock, got {type(block).__name__}")
    if order not in ("pre", "post"):
        raise ValueError(f"order must be 'pre' or 'post', got {order!r}")
    D, nh = block.norm1.normalized_shape[0], block.attn.num_heads
    _check_tokens(x, D)
    fc1, fc2 = block.mlp.fc1, block.mlp.fc2
    mlp_steps = [
        (f"mlp.fc1: Linear({fc1.in_features}, {fc1.out_features})", "mlp.fc1", "layer"),
        (f"mlp.act: {type(block.mlp.act).__name__}", "mlp.act", "op"),
        (f"mlp.fc2: Linear({fc2.in_features}, {fc2.out_features})", "mlp.fc2", "layer"),
    ]
    if order == "pre":
        shapes = output_shapes(block, x, ["norm1", "attn", "norm2", "mlp.fc1", "mlp.act", "mlp.fc2", ""])
        shapes["add1"] = tuple(torch.broadcast_shapes(x.shape, shapes["attn"]))
        shapes["add2"] = shapes[""]
        chain = [
            (f"norm1: LayerNorm({D})", "norm1", "norm"),
            (f"attn: multi-head self-attention, nh = {nh}", "attn", "attention"),
            ("add: x + attn(norm1(x))", "add1", "op"),
            (f"norm2: LayerNorm({D})", "norm2", "norm"),
            *mlp_steps,
            ("add: x + mlp(norm2(x))", "add2", "op"),
        ]
        title, skips = f"Pre-norm transformer block (D = {D}, MLP hidden {fc1.out_features})", [(0, 3), (3, 8)]
    else:
        shapes = _post_norm_shapes(block, x)
        chain = [
            (f"attn: multi-head self-attention, nh = {nh}", "attn", "attention"),
            ("add: x + attn(x)", "add1", "op"),
            (f"norm1: LayerNorm({D})", "norm1", "norm"),
            *mlp_steps,
            ("add: x + mlp(x)", "add2", "op"),
            (f"norm2: LayerNorm({D})", "norm2", "norm"),
        ]
        title, skips = f"Post-norm transformer block (D = {D}, MLP hidden {fc1.out_features})", [(0, 2), (3, 7)]
    steps = [Step("x: N tokens of D channels", tuple(x.shape), "tensor")]
    steps += [Step(text, shapes[key], kind) for text, key, kind in chain]
    ax = new_figure(5.6, 7.0).subplots()
    return plot_flow(steps, title, skips=skips, box_width=3.8, ax=ax)


def plot_vit(model: VisionTransformer, image_size: int | tuple[int, int], image: object = None) -> Figure:
    """A Vision Transformer from image to class scores, as in Figure 1 of the ViT paper (Dosovitskiy et
    al., 2021): patches, linear embedding (a p x p convolution with stride p), class token, position
    embedding, the L blocks, the final LayerNorm and the head on the class token.

    Args:
        model: a minivit VisionTransformer; built on the meta device it draws in a fraction of a second.
        image_size: H, or (H, W): the size it was built for (its position embedding fixes it).
        image: None, or a picture of that size ((H, W, C) array, or (C, H, W) / (1, C, H, W) tensor) drawn
            under the grid of patches, so that each numbered patch shows its pixels.

    Returns:
        the Figure of `plot_flow`: 8 boxes with gid "step" (image, patch_embed, flatten, class token,
        position embedding, blocks, norm, head), each labelled with its output shape for one image,
        e.g. (1, 197, 768) after the position embedding of ViT-B/16 at 224, on the right; on the left, the
        image as N Rectangles with gid "patch" (filled, or outlines over the picture when `image` is given,
        which is then the axes' one image), patches 0, 1, 2 and N-1 numbered by Texts with gid
        "patch-label" (inside their cells up to 10 patches across; beyond, beside the grid, the four cells
        outlined by Rectangles with gid "patch-marked"), and the token sequence as boxes with gid "token"
        (texts "token-label": the class token with position 0, then patch k with position k + 1).
    """
    if not isinstance(model, VisionTransformer):
        raise TypeError(f"model must be a minivit VisionTransformer, got {type(model).__name__}")
    H, W = to_pair(image_size, "image_size")
    if (H, W) != tuple(model.image_size):
        raise ValueError(f"image_size must be the size the model was built for, {model.image_size}, got {image_size!r}")
    picture = None if image is None else as_image(image)
    if picture is not None and picture.shape[:2] != (H, W):
        got = " x ".join(map(str, picture.shape[:2]))
        raise ValueError(f"image must be {H} x {W} pixels, the size the model was built for, got {got}")
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
    _draw_sequence(left, gh, gw, picture)
    plot_flow(steps, f"ViT: {H} x {W} image, {p} x {p} patches, D = {config.dim}", box_width=4.4, ax=right)
    return fig


def _draw_sequence(ax, gh: int, gw: int, picture=None) -> None:
    """The image as a gh x gw grid of patches numbered 0..N-1 in reading order (patchify's order), the
    picture under it if given, and below it the token sequence: the class token at position 0, then patch k
    at position k + 1, each with its position embedding added."""
    N = gh * gw
    side = 6.0 / max(gh, gw)  # cell size, so that the grid fits in 6 x 6
    x0, y0 = 5.0 - gw * side / 2, 11.5  # top left corner of the grid
    if picture is not None:
        ax.imshow(picture, cmap="gray", extent=(x0, x0 + gw * side, y0 - gh * side, y0), interpolation="nearest")
    style = (dict(facecolor="#d6eaf8", edgecolor="#1b4f72", linewidth=0.6) if picture is None
             else dict(fill=False, edgecolor="white", linewidth=0.8))
    for i in range(gh):
        for j in range(gw):
            ax.add_patch(Rectangle((x0 + j * side, y0 - (i + 1) * side), side, side, gid="patch", **style))
    inside = side >= 0.6  # up to 10 patches across, a number fits in its cell; beyond, it goes beside the grid
    for n in sorted({0, 1, 2, N - 1}):  # patch n is token n + 1 of the sequence
        i, j = divmod(n, gw)
        where = (x0 + (j + 0.5) * side, y0 - (i + 0.5) * side)
        if not inside:  # the first patches' numbers above their columns, the last one's right of its cell
            ax.add_patch(Rectangle((x0 + j * side, y0 - (i + 1) * side), side, side, fill=False, edgecolor="#f1c40f",
                                   linewidth=1.6, gid="patch-marked"))
            last = n == N - 1 and (i > 0 or n > 2)
            ax.text(x0 + gw * side + 0.1 if last else where[0], where[1] if last else y0 + 0.06, str(n),
                    ha="left" if last else "center", va="center" if last else "bottom", fontsize=8.5,
                    gid="patch-label")
        elif picture is None:
            ax.text(*where, str(n), ha="center", va="center", fontsize=9.0, gid="patch-label")
        else:  # white with a black rim, readable on the photo
            number(ax, *where, n, 9.0, gid="patch-label")
    caption_y = y0 + (0.35 if inside else 0.5)
    ax.text(5.0, caption_y, f"the image cut into {gh} x {gw} = {N} patches", ha="center", va="bottom", fontsize=9.5)
    arrow(ax, (5.0, y0 - gh * side - 0.2), (5.0, 3.6), label="patch k -> token k + 1")
    tokens = ["class\ntoken", "patch 0", "patch 1", "patch 2", None, f"patch {N - 1}"]
    positions = [0, 1, 2, 3, None, N]
    width, pitch = 1.45, 1.7
    for c, (text, pos) in enumerate(zip(tokens, positions)):
        cx = 5.0 + (c - (len(tokens) - 1) / 2) * pitch
        if text is None:
            ax.text(cx, 2.9, "\u2026", ha="center", va="center", fontsize=12)
            continue
        box(ax, cx, 2.9, f"{text}\n+ pos {pos}", "tensor" if pos else "layer", width=width, height=1.2, gid="token",
            size=7.5)
    ax.text(5.0, 1.9, f"the sequence of {N + 1} tokens: the class token (position 0),\nthen the patches, each plus its "
            "position embedding", ha="center", va="top", fontsize=9)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 12.4)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_split_heads(num_tokens: int = 3, dim: int = 8, num_heads: int = 2) -> Figure:
    """Tokens holding 0 .. N*D-1, cut into heads by `split_heads`, and the reshape that is not heads.

    Top left: x, shape (1, N, D), one row per token. Top right: split_heads(x, nh), shape (1, nh, N, hs),
    one N x hs table per head. Bottom right: x.reshape(1, nh, N, hs), the same shape without the transpose.
    Every cell is coloured by the head its channel belongs to (channel c goes to head c // hs), so a
    table of one colour holds one head's channels and a mixed one does not.

    Args:
        num_tokens: N, 1..4.
        dim: D, 2..12, a multiple of num_heads.
        num_heads: nh, 1..4.

    Returns:
        the Figure. For each panel p in "tokens", "heads", "wrong" (in that order), its cells are Rectangles
        with gid "p-cell" and their numbers Texts with gid "p-value", in the row-major order of the tensor
        (x[0], split_heads(x, nh)[0], x.reshape(1, nh, N, hs)[0]); a cell's facecolor is the colour of the
        head its channel belongs to. Captions have gid "caption", arrows gid "arrow".
    """
    for name, value, low, high in (("num_tokens", num_tokens, 1, 4), ("dim", dim, 2, 12),
                                   ("num_heads", num_heads, 1, 4)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name} must be in {low}..{high} for the numbers to stay readable, got {value}")
    if dim % num_heads:
        raise ValueError(f"dim must be a multiple of num_heads ({num_heads}), got {dim}")
    N, D, nh = num_tokens, dim, num_heads
    hs = D // nh
    x = torch.arange(N * D).reshape(1, N, D)  # (B, N, D)
    head_of = (torch.arange(D) // hs).expand(1, N, D)  # the head of each value's channel, in x's layout
    panels = {
        "tokens": (x[0], head_of[0]),  # (N, D)
        "heads": (split_heads(x, nh)[0], split_heads(head_of, nh)[0]),  # (nh, N, hs)
        "wrong": (x.reshape(1, nh, N, hs)[0], head_of.reshape(1, nh, N, hs)[0]),  # (nh, N, hs)
    }
    colours = categorical(max(nh, 2)).colors

    # Data coordinates: one cell is 1 x 1, y grows downwards.
    gap = 0.8  # between the tables of two heads
    heads_left = D + 4.0
    heads_width = nh * hs + (nh - 1) * gap
    row_gap = 2.6  # between the top and the bottom row, room for a caption
    xlim = (-2.6, heads_left + heads_width + 0.3)
    ylim = (2 * N + row_gap + 0.3, -2.4)
    width_inches = min(9.5, 0.42 * (xlim[1] - xlim[0]))
    cell_inches = width_inches / (xlim[1] - xlim[0])
    fig = new_figure(width_inches, width_inches * (ylim[0] - ylim[1]) / (xlim[1] - xlim[0]) + 0.4)
    ax = fig.subplots()
    size = label_size(cell_inches, 1, fraction=0.42, digits=len(str(N * D - 1)))

    def cell(left: float, top: float, value: torch.Tensor, head: torch.Tensor, gid: str) -> None:
        ax.add_patch(Rectangle((left, top), 1, 1, facecolor=colours[int(head)], edgecolor="black", linewidth=1.0,
                               gid=f"{gid}-cell"))
        number(ax, left + 0.5, top + 0.5, int(value), size, gid=f"{gid}-value")

    values, heads = panels["tokens"]
    for n in range(N):
        for c in range(D):
            cell(c, n, values[n, c], heads[n, c], "tokens")
        ax.text(-0.15, n + 0.5, f"token {n}", ha="right", va="center", fontsize=9)
    for h in range(nh):
        ax.text(h * hs + hs / 2, -0.15, f"channels {h * hs}-{(h + 1) * hs - 1}" if hs > 1 else f"ch. {h}",
                ha="center", va="bottom", fontsize=8, color=colours[h], fontweight="bold")
    ax.text(D / 2, -1.0, f"x: (B, N, D) = {tuple(x.shape)}", ha="center", va="bottom", fontsize=10, gid="caption")

    captions = {"heads": (f"split_heads(x, {nh}): (B, nh, N, hs) = {tuple(split_heads(x, nh).shape)}", "black", 0),
                "wrong": (f"x.reshape(1, {nh}, {N}, {hs}): same shape, NOT heads", WRONG, N + row_gap)}
    for name, (caption, colour, top) in captions.items():
        values, heads = panels[name]
        for h in range(nh):
            left = heads_left + h * (hs + gap)
            for n in range(N):
                for c in range(hs):
                    cell(left + c, top + n, values[h, n, c], heads[h, n, c], name)
            ax.text(left + hs / 2, top - 0.15, f"'head {h}'" if name == "wrong" else f"head {h}", ha="center",
                    va="bottom", fontsize=9, color=colour)
        ax.text(heads_left + heads_width / 2, top - 1.0, caption, ha="center", va="bottom", fontsize=10,
                color=colour, gid="caption")
    arrow(ax, (D + 0.3, N / 2), (heads_left - 0.3, N / 2))
    arrow(ax, (D / 2, N + 0.2), (heads_left - 0.3, N + row_gap + N / 2), connection="arc3,rad=0.25", color=WRONG)
    ax.text((D + heads_left) / 2, N / 2 - 0.2, "reshape to\n(B, N, nh, hs),\ntranspose(1, 2)", ha="center",
            va="bottom", fontsize=8.5, style="italic")
    ax.text(D / 2 + 1.0, N + row_gap + N / 2, "reshape to (B, nh, N, hs)\ndirectly: values in\nmemory order",
            ha="center", va="center", fontsize=8.5, style="italic", color=WRONG)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.suptitle(f"{N} tokens of D = {D} channels cut into nh = {nh} heads of hs = {hs} (colour = head)", fontsize=11)
    return fig
