"""Diagrams of the two backbones built from blocks: Swin's stages and its pair of blocks (the Swin paper's
Figure 3), the MobileViT block and MobileNetV2's inverted residual (MV2) block. Every shape on a box is read
from the real module running on an input (minivit.viz.diagram.output_shapes); every count (blocks per stage,
shift sizes, layers) from its attributes.

    plot_swin_stages(model, image_size)           patch partition, linear embedding, the stages, left to right
    plot_swin_block_pair(model, stage_number, pair_index, ...)   a W-MSA block and the SW-MSA block after it
    plot_swin_attention(model, stage_number, block_index, ...)   inside one block's attn: pad, roll, partition,
                                                                 attend, reverse, roll back, crop
    (stage_number counts from 1, as the paper does: stage_number=1 is model.stages[0]; block_index and
    pair_index count from 0, as Python indexes stage.blocks)
    plot_patch_merging(merging, height, width)    the four strided sub-grids, concatenated, LayerNorm, Linear
    plot_stage_windows(H, W, M, s, image)         one stage's regular and shifted windows over the picture
    plot_mobilevit_block(block, x)                local convs, unfold, transformer, fold, fuse
    plot_inverted_residual(block, x)              MV2: 1x1 expand, 3x3 depthwise, 1x1 project, residual
    plot_mobilevit_stages(model, image_size)      MobileViT's stem, stages and head, top to bottom
    plot_mobilevit_routes(H, W, p, pixel, source) the two conv + attention routes from one pixel to another

Glossary: B batch, H x W map, C channels, M window size, d token size, L layers,
P pixels per patch, N patches.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from torch import nn

from minivit.models.mobilevit import InvertedResidual, MobileViT, MobileViTBlock
from minivit.models.swin import PatchMerging, SwinTransformer
from minivit.ops.attention import attention, merge_heads, split_heads
from minivit.ops.merging import merge_patches
from minivit.ops.patches import patchify
from minivit.ops.relative_position import relative_position_bias
from minivit.ops.unfold import mobilevit_fold
from minivit.ops.windows import shift_region_labels, shifted_window_mask, window_partition, window_reverse
from minivit.viz._common import (
    as_image,
    categorical,
    grid_position,
    image_size_pair,
    label_size,
    new_figure,
    number,
    outline,
    show_labels,
    token_grid,
    window_pieces,
)
from minivit.viz.diagram import BOX_HEIGHT, FONT_SIZE, Step, arrow, box, output_shapes, plot_flow, shape_text
from minivit.viz.unfold import unfold_sequences


def _check_swin(model: object, image_size: object) -> tuple[int, int]:
    if not isinstance(model, SwinTransformer):
        raise TypeError(f"model must be a minivit SwinTransformer, got {type(model).__name__}")
    H, W = image_size_pair(image_size)
    smallest = model.config.patch_size * 2 ** (len(model.stages) - 1)
    if min(H, W) < smallest:
        raise ValueError(f"image_size must be at least {smallest} (one patch per stage), got {image_size!r}")
    return H, W


def _images(model: nn.Module, H: int, W: int) -> torch.Tensor:
    """Zero images (1, C, H, W) on the model's device: shapes are all we need, and a model built on the meta
    device runs on meta tensors in no time."""
    device = next(model.parameters()).device
    return torch.zeros(1, model.config.in_channels, H, W, device=device)


def _check_block_input(block: object, kind: type, x: object, in_channels) -> int:
    """Check that `block` is a `kind` and `x` a (B, C, H, W) tensor with C = in_channels(block); return C."""
    if not isinstance(block, kind):
        raise TypeError(f"block must be a minivit {kind.__name__}, got {type(block).__name__}")
    channels = in_channels(block)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"x must have shape (B, {channels}, H, W) for a block of {channels} input channels, "
                         f"got {tuple(x.shape)}")
    return channels


def _tall_box(ax: Axes, x: float, y: float, text: str, kind: str, width: float, height: float) -> None:
    """A box whose text runs bottom to top, as in the Swin paper's Figure 3."""
    box(ax, x, y, text, kind, width=width, height=height, size=FONT_SIZE - 0.5)
    ax.texts[-1].set_rotation(90)


def plot_swin_stages(model: SwinTransformer, image_size: int | tuple[int, int] = 224) -> Figure:
    """Swin's architecture as in the Swin paper's Figure 3(a): the image, patch partition, linear embedding,
    then every stage (stage 1: its blocks; each later stage: patch merging, then its blocks), left to right.

    Each box names its step over the shape the step outputs, read from `model` run on an image of
    `image_size`. Patch partition is the paper's conceptual step, which the model never computes on its own:
    its box gives the grid of patches and the p*p*3 numbers of each (`minivit.ops.patches.patchify` would
    give them as (B, N, p*p*3)), with no batch axis. Linear embedding is `model.patch_embed` (a p x p
    convolution with stride p, which does patch partition and the Linear in one step, then a LayerNorm),
    and its box says so.
    The boxes of each stage are framed, the frame titled with the stage number and the stage's output as
    H x W x C with its feature stride (image pixels per map position along a side); "n x (W, SW)" under a
    block box says that the stage's blocks are n pairs, a W-MSA block followed by an SW-MSA block. Build the
    model on the meta device for speed: only shapes are read.

    Args:
        model: a minivit SwinTransformer, e.g. swin_t().
        image_size: the input's side, or (H, W); at least p * 2^(stages - 1).

    Returns:
        the Figure. Boxes are patches with gid "step", left to right (image, partition, embedding, then per
        stage: merging if any, blocks), their texts gid "step-label"; arrows gid "arrow"; each stage's frame
        a Rectangle with gid "stage", its title a Text with gid "stage-label"; the block pairs Texts with
        gid "repeat".
    """
    H, W = _check_swin(model, image_size)
    x = _images(model, H, W)
    p = model.config.patch_size
    names = ["patch_embed"] + [f"stages.{i}.merge" for i in range(1, len(model.stages))]
    names += [f"stages.{i}" for i in range(len(model.stages))]
    shapes = output_shapes(model, x, names)
    numbers = patchify(x, p).shape[-1]  # p*p*3 numbers per patch
    partition = f"{H // p} x {W // p} x {numbers}"  # conceptual: no tensor of the model has this shape

    # (name, shape, kind, stage or None); the stage's blocks say how many they are
    columns = [("Images", tuple(x.shape), "tensor", None), ("Patch Partition (conceptual)", partition, "op", None),
               (f"Linear Embedding\n{p} x {p} conv, stride {p}; LayerNorm", shapes["patch_embed"], "layer", 0)]
    for i in range(len(model.stages)):
        if i:
            columns.append(("Patch Merging", shapes[f"stages.{i}.merge"], "layer", i))
        columns.append(("Swin Transformer Block", shapes[f"stages.{i}"], "attention", i))

    width, height, pitch = 0.62, 2.45, 0.93
    fig = new_figure(pitch * len(columns) + 0.35, 3.7)
    ax = fig.subplots()
    xs = [0.5 + pitch * k for k in range(len(columns))]
    for k, (name, shape, kind, _) in enumerate(columns):
        _tall_box(ax, xs[k], 0, f"{name}\n{shape_text(shape)}", kind, width, height)
        if k:
            arrow(ax, (xs[k - 1] + width / 2, 0), (xs[k] - width / 2, 0))
    for i, stage in enumerate(model.stages):
        ks = [k for k, column in enumerate(columns) if column[3] == i]
        left, right = xs[ks[0]] - width / 2 - 0.1, xs[ks[-1]] + width / 2 + 0.1
        ax.add_patch(Rectangle((left, -height / 2 - 0.42), right - left, height + 0.55, fill=False,
                               linestyle="--", linewidth=1.1, edgecolor="0.35", gid="stage"))
        _, h, w, c = shapes[f"stages.{i}"]
        ax.text((left + right) / 2, height / 2 + 0.3, f"Stage {i + 1}\n{h} x {w} x {c}\nfeature stride {H // h}",
                ha="center", va="bottom", fontsize=FONT_SIZE - 0.5, gid="stage-label")
        pairs = len(stage.blocks) // 2  # blocks alternate W-MSA and SW-MSA, so a stage's depth is even
        ax.text(right - 0.06, -height / 2 - 0.22, f"{pairs} \u00d7 (W, SW)", ha="right", va="center",
                fontsize=FONT_SIZE, fontweight="bold", gid="repeat")
    ax.set_xlim(0.5 - pitch / 2, xs[-1] + pitch / 2)
    ax.set_ylim(-height / 2 - 0.5, height / 2 + 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"Swin at {H} x {W}, output shape in each box: the images (B, C, H, W), then tokens (B, H, W, C)",
                 fontsize=FONT_SIZE + 1)
    return fig


def plot_swin_block_pair(model: SwinTransformer, stage_number: int = 1, pair_index: int = 0,
                         image_size: int | tuple[int, int] = 224) -> Figure:
    """Two successive Swin blocks, as in the Swin paper's Figure 3(b): the first with regular windows
    (W-MSA, window multi-head self-attention), the second with windows shifted (SW-MSA); each is
    LayerNorm -> (S)W-MSA -> add -> LayerNorm -> MLP -> add, the adds being the residual connections.

    The shapes are read from `model` run on an image of `image_size`; each attention box gives the
    block's shift size as the model's block holds it (attn.shift_size: 0, then M // 2). Build the model on
    the meta device for speed.

    Args:
        model: a minivit SwinTransformer.
        stage_number: which stage, counted from 1 as in the paper: stage_number=1 is model.stages[0].
        pair_index: which pair of the stage's blocks, from 0: blocks[2 * pair_index] and
            blocks[2 * pair_index + 1].
        image_size: the input's side, or (H, W).

    Returns:
        the Figure. Two columns of boxes (gid "step", the first block's seven then the second's seven, each
        top to bottom: input, LayerNorm, attention, add, LayerNorm, MLP, add), texts gid "step-label";
        arrows between steps gid "arrow"; residual connections gid "skip" (two per block); the line from the
        first block's output to the second block's input gid "link".
    """
    H, W = _check_swin(model, image_size)
    stage, pair = stage_number, pair_index
    if isinstance(stage, bool) or not isinstance(stage, int):
        raise TypeError(f"stage_number must be an int, got {type(stage).__name__}")
    if not 1 <= stage <= len(model.stages):
        raise ValueError(f"stage_number must be in 1..{len(model.stages)} (counted from 1), got {stage}")
    blocks = model.stages[stage - 1].blocks
    if isinstance(pair, bool) or not isinstance(pair, int):
        raise TypeError(f"pair_index must be an int, got {type(pair).__name__}")
    if not 0 <= pair < len(blocks) // 2:
        raise ValueError(f"pair_index must be in 0..{len(blocks) // 2 - 1} (stage {stage} has {len(blocks)} "
                         f"blocks), got {pair}")
    first = 2 * pair
    base = f"stages.{stage - 1}.blocks."
    if first:  # the module whose output the first block of the pair is given
        before = f"{base}{first - 1}"
    else:
        before = f"stages.{stage - 1}.merge" if stage > 1 else "patch_embed"
    names = [before] + [f"{base}{b}{part}" for b in (first, first + 1) for part in ("", ".norm1", ".attn", ".norm2",
                                                                                        ".mlp")]
    shapes = output_shapes(model, _images(model, H, W), names)

    fig = new_figure(9.0, 0.62 * 7 + 1.0)
    ax = fig.subplots()
    box_width, columns = 2.7, (0.0, 4.6)
    for c, b in enumerate((first, first + 1)):
        shift = blocks[b].attn.shift_size
        name = f"{base}{b}"
        source = shapes[before] if c == 0 else shapes[f"{base}{first}"]
        steps = [
            Step(f"input of block {b}" if c == 0 else f"output of block {first}", source, "tensor"),
            Step("LayerNorm", shapes[f"{name}.norm1"], "norm"),
            Step(f"{'SW-MSA' if shift else 'W-MSA'}, shift {shift}", shapes[f"{name}.attn"], "attention"),
            Step("add", None, "op"),
            Step("LayerNorm", shapes[f"{name}.norm2"], "norm"),
            Step("MLP", shapes[f"{name}.mlp"], "layer"),
            Step(f"add: output of block {b}", shapes[name], "op"),
        ]
        plot_flow(steps, "", skips=[(0, 3), (3, 6)], box_width=box_width, ax=ax, x=columns[c])
    # the first block's output feeds the second block: down, right past the skips, up, into its first box
    x0, x1, bottom = columns[0], columns[1] - box_width / 2, -6 - BOX_HEIGHT / 2
    middle = (columns[0] + box_width / 2 + 0.35 + x1) / 2
    ax.plot([x0, x0, middle, middle], [bottom, bottom - 0.25, bottom - 0.25, 0], color="black", linewidth=1.2,
            gid="link")
    arrow(ax, (middle, 0), (x1, 0), gid="link")
    ax.set_xlim(columns[0] - box_width / 2 - 0.2, columns[1] + box_width / 2 + 0.6)
    ax.set_ylim(bottom - 0.4, 0.5)
    ax.set_title(f"Stage {stage} of Swin at {H} x {W}: blocks {first} and {first + 1}, "
                 f"window {blocks[first].attn.window_size} x {blocks[first].attn.window_size}")
    return fig


def plot_swin_attention(model: SwinTransformer, stage_number: int = 1, block_index: int = 1,
                        image_size: int | tuple[int, int] = 224) -> Figure:
    """What one Swin block's `attn` computes, top to bottom in the paper's order and in the order of
    minivit.ops.window_attention.shifted_window_attention: pad -> torch.roll -> window_partition -> q, k, v
    -> attention with the relative position bias and the shift mask -> merge heads and project ->
    window_reverse -> roll back -> crop. The bias and the mask are boxes beside the attention, which they enter.

    The input shape is the one `model` gives the block's attn on an image of `image_size` (a forward
    pre-hook); every later shape comes from running the steps themselves on a tensor of that shape, with the
    layer's own weights (qkv, proj, bias table) and minivit's ground-floor functions; the last one is checked
    against the attn's real output shape. M, s and nh are read from the layer. As the function does, the map
    is padded to multiples of M, and the shift is dropped on an axis that holds a single window. Build the
    model on the meta device for speed.

    Args:
        model: a minivit SwinTransformer, e.g. swin_t().
        stage_number: which stage, counted from 1 as in the paper: stage_number=1 is model.stages[0].
        block_index: which block of the stage, from 0 as Python indexes it: the figure draws
            model.stages[stage_number - 1].blocks[block_index] (odd blocks shift their windows).
        image_size: the input's side, or (H, W).

    Returns:
        the Figure. The chain's ten boxes are patches of gid "step" (input, pad, roll, partition, q k v,
        attention, project, reverse, roll back, crop), their texts gid "step-label" ending in the output
        shape; the bias and the mask are boxes of gid "side" (texts gid "side-label"), joined to the
        attention box by arrows of gid "side-arrow".
    """
    H, W = _check_swin(model, image_size)
    stage, block = stage_number, block_index
    for name, value in (("stage_number", stage), ("block_index", block)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if not 1 <= stage <= len(model.stages):
        raise ValueError(f"stage_number must be in 1..{len(model.stages)} (counted from 1), got {stage}")
    blocks = model.stages[stage - 1].blocks
    if not 0 <= block < len(blocks):
        raise ValueError(f"block_index must be in 0..{len(blocks) - 1} (stage {stage} has {len(blocks)} "
                         f"blocks), got {block}")
    attn = blocks[block].attn
    seen: dict[str, torch.Tensor] = {}

    def record(_module, args):
        seen.setdefault("x", args[0])

    handle = attn.register_forward_pre_hook(record)
    try:
        name = f"stages.{stage - 1}.blocks.{block}.attn"
        out_shape = output_shapes(model, _images(model, H, W), [name])[name]
    finally:
        handle.remove()

    x = seen["x"]  # (B, h, w, C): the attn's input
    B, h, w, C = x.shape
    M, s, nh = attn.window_size, attn.shift_size, attn.num_heads
    N, hs = M * M, C // nh
    with torch.no_grad():
        pad_b, pad_r = -h % M, -w % M
        padded = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))  # (B, Hp, Wp, C)
        Hp, Wp = h + pad_b, w + pad_r
        shift = (s if Hp > M else 0, s if Wp > M else 0)  # no shift on an axis of one window
        rolled = torch.roll(padded, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        windows = window_partition(rolled, M).reshape(-1, N, C)  # (B*nW, N, C)
        q, k, v = (split_heads(t, nh) for t in attn.qkv(windows).chunk(3, dim=-1))  # 3 x (B*nW, nh, N, hs)
        bias = relative_position_bias(attn.relative_position_bias_table, M)  # (nh, N, N)
        logits_bias = bias[None]
        if any(shift):
            mask = shifted_window_mask(Hp, Wp, M, shift).to(x.device)  # (nW, N, N)
            logits_bias = (bias + mask[:, None]).repeat(B, 1, 1, 1)  # (B*nW, nh, N, N)
        attended, _ = attention(q, k, v, mask=logits_bias)  # (B*nW, nh, N, hs)
        projected = attn.proj(merge_heads(attended))  # (B*nW, N, C)
        reversed_ = window_reverse(projected.reshape(-1, M, M, C), M, Hp, Wp)  # (B, Hp, Wp, C)
        back = torch.roll(reversed_, shifts=shift, dims=(1, 2))
        cropped = back[:, :h, :w]  # (B, h, w, C)
    if tuple(cropped.shape) != out_shape:  # the steps drawn must be the layer's
        raise RuntimeError(f"the steps give {tuple(cropped.shape)}, {name} gives {out_shape}")

    nW = windows.shape[0] // B
    rolls = any(shift)
    why = "shift 0" if not s else "one window: shift dropped"
    steps = [
        Step("input: norm1 of the block's input, (B, H, W, C)", tuple(x.shape), "tensor"),
        Step(f"1. pad bottom, right to multiples of M = {M}: + {pad_b} rows, + {pad_r} columns",
             tuple(padded.shape), "op"),
        Step(f"2. torch.roll(x, shifts=({-shift[0]}, {-shift[1]}), dims=(1, 2))" if rolls
             else f"2. no roll ({why})", tuple(rolled.shape), "op"),
        Step(f"3. window_partition(x, {M}): nW = {nW} window{'s' if nW > 1 else ''} of N = {N} tokens",
             tuple(windows.shape), "op"),
        Step(f"4a. qkv: Linear {C} -> {3 * C}, split into nh = {nh} heads: q, k, v each", tuple(q.shape),
             "layer"),
        Step(f"4b. softmax(q k^T / sqrt({hs}) + bias{' + mask' if rolls else ''}) v", tuple(attended.shape),
             "attention"),
        Step(f"4c. merge the heads, proj: Linear {C} -> {C}", tuple(projected.shape), "layer"),
        Step(f"5. window_reverse(x, {M}, {Hp}, {Wp})", tuple(reversed_.shape), "op"),
        Step(f"6. torch.roll(x, shifts=({shift[0]}, {shift[1]}), dims=(1, 2))" if rolls
             else f"6. no roll back ({why})", tuple(back.shape), "op"),
        Step(f"7. crop x[:, :{h}, :{w}]: the output of attn", tuple(cropped.shape), "op"),
    ]
    box_width, side_width = 5.2, 3.3
    fig = new_figure(9.2, 0.8 * len(steps) + 0.9)
    ax = fig.subplots()
    kind = "SW-MSA" if s else "W-MSA"
    plot_flow(steps, f"stage {stage}, block {block}: attn ({kind}, M = {M}, shift_size {s}, nh = {nh}) "
              f"at {H} x {W}", box_width=box_width, ax=ax)
    side = box_width / 2 + 0.45 + side_width / 2
    table = tuple(attn.relative_position_bias_table.shape)
    sides = [(-4.45, f"relative_position_bias(table {shape_text(table)}, {M})\n{shape_text(tuple(bias.shape))}: "
                     "one per head")]
    if rolls:
        sides.append((-5.55, f"shifted_window_mask({Hp}, {Wp}, {M}, {shift})\n"
                              f"{shape_text(tuple(mask.shape))}: one per window"))
    else:
        sides.append((-5.55, f"no mask ({why}):\nno token came round an edge"))
    for y, text in sides:
        box(ax, side, y, text, "op", width=side_width, height=0.8, gid="side", size=FONT_SIZE - 1)
        arrow(ax, (side - side_width / 2, y), (box_width / 2, -5 + (0.12 if y > -5 else -0.12)),
              gid="side-arrow")
    ax.set_xlim(-box_width / 2 - 0.2, side + side_width / 2 + 0.1)
    return fig


def plot_mobilevit_block(block: MobileViTBlock, x: torch.Tensor) -> Figure:
    """The MobileViT block, top to bottom, in the order of MobileViTBlock.forward: 3x3 conv (local) ->
    1x1 conv C -> d -> unfold into P sequences -> L transformer layers -> LayerNorm -> fold -> 1x1 conv
    d -> C -> concatenate with the block's input -> 3x3 conv 2C -> C (fusion). When the map's sides are not
    multiples of the patch, a bilinear resize to the next multiple comes before the unfold and one back
    after the fold, as the forward does.

    Every shape is the one the block computes on `x`: module outputs by output_shapes, and the inputs of
    the transformer (the unfold's output), of conv_out (the fold's output) and of the fusion (the
    concatenation) by hooks on those modules in the same run.

    Args:
        block: a minivit MobileViTBlock.
        x: its input, shape (B, C, H, W), e.g. (1, 48, 32, 32) for the first MobileViT block of
            mobilevit_xxs at 256 x 256.

    Returns:
        the Figure. Boxes gid "step" in order, their texts gid "step-label"; arrows gid "arrow"; the
        block's input carried to the concatenation is drawn as a connection with gid "skip". Brackets on the
        left (gid "bracket", labels gid "bracket-label": local, global, fusion) group the steps as the paper's
        Figure 1b does: the two convs before the unfold; unfold to fold (resizes included); conv_out, the
        concatenation and the fusion conv.
    """
    C = _check_block_input(block, MobileViTBlock, x, lambda b: b.conv_local.conv.in_channels)
    inputs: dict[str, tuple[int, ...]] = {}

    def record(name):
        def hook(_module, args):
            inputs.setdefault(name, tuple(args[0].shape))
        return hook

    parts = {"transformer": block.transformer, "conv_out": block.conv_out, "fusion": block.fusion}
    handles = [m.register_forward_pre_hook(record(name)) for name, m in parts.items()]
    try:
        shapes = output_shapes(block, x, ["conv_local", "conv_in", "transformer", "norm", "conv_out", "fusion"])
    finally:
        for handle in handles:
            handle.remove()

    B, _, H, W = x.shape
    ph, pw = block.patch_size
    d, L = block.conv_in.out_channels, len(block.transformer)
    h, w = math.ceil(H / ph) * ph, math.ceil(W / pw) * pw
    resized = (h, w) != (H, W)
    folded = tuple(mobilevit_fold(torch.zeros(shapes["norm"], device=x.device), block.patch_size, h, w).shape)
    steps = [
        Step("input x", tuple(x.shape), "tensor"),
        Step(f"conv_local: 3x3 conv {C} -> {C}, BN, SiLU", shapes["conv_local"], "layer"),
        Step(f"conv_in: 1x1 conv {C} -> {d}", shapes["conv_in"], "layer"),
    ]
    if resized:
        steps.append(Step(f"resize to {h} x {w} (bilinear)", (B, d, h, w), "op"))
    steps += [
        Step(f"unfold: P = {ph * pw} sequences of N = {(h // ph) * (w // pw)} tokens (one pixel per patch)",
             inputs["transformer"], "op"),
        Step(f"transformer: L = {L} layer{'s' if L > 1 else ''}", shapes["transformer"], "attention"),
        Step("LayerNorm", shapes["norm"], "norm"),
        Step("fold", folded, "op"),
    ]
    if resized:
        steps.append(Step(f"resize back to {H} x {W} (bilinear)", inputs["conv_out"], "op"))
    steps += [
        Step(f"conv_out: 1x1 conv {d} -> {C}, BN, SiLU", shapes["conv_out"], "layer"),
        Step("concatenate [x, conv_out]", inputs["fusion"], "op"),
        Step(f"fusion: 3x3 conv {2 * C} -> {C}, BN, SiLU", shapes["fusion"], "layer"),
    ]
    concat = len(steps) - 2
    fig = new_figure(7.6, 0.62 * len(steps) + 0.8)
    ax = fig.subplots()
    plot_flow(steps, f"MobileViT block: C = {C}, d = {d}, L = {L}, {ph} x {pw} patches", skips=[(0, concat)],
              box_width=4.6, ax=ax)
    # the paper's three parts (its Figure 1b): local convs, global unfold-transformer-fold, fusion
    parts = [("local", 1, 2), ("global", 3, len(steps) - 4), ("fusion", len(steps) - 3, len(steps) - 1)]
    edge = -4.6 / 2 - 0.12
    for name, first, last in parts:
        top, bottom = -first + BOX_HEIGHT / 2, -last - BOX_HEIGHT / 2
        ax.plot([edge, edge - 0.15, edge - 0.15, edge], [top, top, bottom, bottom], color="black",
                linewidth=1.2, gid="bracket")
        ax.text(edge - 0.25, (top + bottom) / 2, name, rotation=90, ha="right", va="center",
                fontsize=FONT_SIZE + 1, gid="bracket-label")
    ax.set_xlim(edge - 0.75, 4.6 / 2 + 0.6)
    return fig


def plot_inverted_residual(block: InvertedResidual, x: torch.Tensor) -> Figure:
    """MobileNetV2's inverted residual block (MV2), top to bottom in the order of InvertedResidual.forward:
    1x1 conv widening C -> e C channels (BN, SiLU) -> 3x3 depthwise conv, one filter per channel, carrying
    the stride (BN, SiLU) -> 1x1 conv back to the output channels (BN, no activation) -> add the block's
    input, drawn only when the block has its residual connection (stride 1 and as many channels out as in).

    Each step is a box as wide as the channels of the tensor it outputs (the widest box for the most
    channels), so the block's shape shows: narrow, wide in the middle, narrow, the inverse of a ResNet
    bottleneck. The box holds its channel count; the step's name and output shape are written beside it.
    Every shape is the one the block computes on `x` (output_shapes); the channels, the stride and the
    groups are read from the block's convolutions.

    Args:
        block: a minivit InvertedResidual.
        x: its input, shape (B, C, H, W), e.g. (1, 24, 64, 64) for the second MV2 block of stage 2 of
            mobilevit_xxs at 256 x 256.

    Returns:
        the Figure. Boxes gid "step" in order (input, expand, depthwise, project, and "add" with a residual),
        each as wide as its output's channels; the names and shapes beside them, texts gid "step-label"; the
        channel counts inside them, texts gid "channels"; arrows gid "arrow"; the residual connection, if
        any, gid "skip".
    """
    C = _check_block_input(block, InvertedResidual, x, lambda b: b.expand.conv.in_channels)
    shapes = output_shapes(block, x, ["", "expand", "depthwise", "project"])
    hidden, out = block.expand.conv.out_channels, block.project.conv.out_channels
    depthwise = block.depthwise.conv
    stride = depthwise.stride[0]
    steps = [
        Step("input x", tuple(x.shape), "tensor"),
        Step(f"expand: 1x1 conv {C} -> {hidden}, BN, SiLU", shapes["expand"], "layer"),
        Step(f"depthwise: 3x3 conv, groups {depthwise.groups}, stride {stride}, BN, SiLU", shapes["depthwise"],
             "layer"),
        Step(f"project: 1x1 conv {hidden} -> {out}, BN (no activation)", shapes["project"], "layer"),
    ]
    if block.residual:
        steps.append(Step("add x: the block's output", shapes[""], "op"))
        why = f"residual: stride 1 and {C} -> {out} channels"
    else:
        reasons = ([f"stride {stride}"] if stride != 1 else []) + ([f"{C} -> {out} channels"] if C != out else [])
        why = "no residual: " + " and ".join(reasons)

    widest = 3.0  # the box of the most channels; the others in proportion
    channels = [step.shape[1] for step in steps]
    widths = [widest * c / max(channels) for c in channels]
    side, text_x = -widest / 2 - 0.35, widest / 2 + 0.3
    fig = new_figure(7.6, 0.62 * len(steps) + 1.1)
    ax = fig.subplots()
    for k, (step, width, c) in enumerate(zip(steps, widths, channels)):
        box(ax, 0, -k, f"{c}", step.kind, width=width)
        ax.texts[-1].set_gid("channels")
        ax.text(text_x, -k, f"{step.name}\n{shape_text(step.shape)}", ha="left", va="center", fontsize=FONT_SIZE,
                gid="step-label")
        if k:
            arrow(ax, (0, -k + 1 - BOX_HEIGHT / 2), (0, -k + BOX_HEIGHT / 2))
    if block.residual:  # out of the input's left side, down, into the add's left side
        last = len(steps) - 1
        ax.plot([-widths[0] / 2, side, side], [0, 0, -last], color="black", linewidth=1.2, linestyle="--",
                gid="skip")
        arrow(ax, (side, -last), (-widths[last] / 2, -last), gid="skip")
    ax.set_xlim(side - 0.2, text_x + 3.7)
    ax.set_ylim(-len(steps) + 0.5, 0.5)
    ax.axis("off")
    ax.set_title(f"MV2 block, expansion {hidden // C}; {why}\nbox widths in proportion to channels "
                 f"(the number in each box)", fontsize=FONT_SIZE + 1)
    return fig


def plot_stage_windows(height: int, width: int, window_size: int, shift_size: int, image: object) -> Figure:
    """The windows of one Swin stage over the picture it sees: left W-MSA's regular windows, right SW-MSA's
    windows shifted by s, as the pieces they cover on the map (dashed; a shifted window along the bottom or
    right edge wraps around and covers 2 or 4 pieces). Every window is numbered in each of its pieces, in
    `window_partition`'s order; the pieces of a window that wraps around share one colour and a badge of
    that colour, so a reader can see which pieces form one window. The right panel's title counts the
    shifted windows: as many as the regular ones.

    Which token lies in which window is computed as the model does it: a map of token coordinates rolled by
    (-s, -s) with torch.roll and cut by `minivit.ops.windows.window_partition`.

    Args:
        height, width: the stage's map H x W in tokens, multiples of the window size.
        window_size: M.
        shift_size: s, 0 <= s < M.
        image: the picture, (H', W', C) array or (C, H', W') tensor with H' and W' multiples of H and W.

    Returns:
        the Figure. Regular windows: Rectangles with gid "window" (left panel, row-major); pieces of the
        shifted windows: Rectangles with gid "piece" (right panel, window by window), each white on a dark
        Rectangle of gid "halo"; the pieces of a wrapping window also filled, a Rectangle of gid "fill" each.
        Texts of gid "window-number": the window's index, once in each piece, in the same order.
    """
    for name, n in (("window_size", window_size), ("shift_size", shift_size)):
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"{name} must be an int, got {type(n).__name__}")
    shift_region_labels(height, width, window_size, shift_size)  # checks the sizes, names the bad one
    picture = as_image(image)
    ph, pw = picture.shape[0] // height, picture.shape[1] // width
    if ph == 0 or pw == 0 or picture.shape[0] != ph * height or picture.shape[1] != pw * width:
        raise ValueError(f"image must be (H', W') pixels with H', W' multiples of the map size {height}x{width}, "
                         f"got {picture.shape[0]}x{picture.shape[1]}")
    M, s = window_size, shift_size
    rows, cols = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    coords = torch.stack([rows, cols], dim=-1)[None]  # (1, H, W, 2): each token's (row, column)
    members = {shift: window_partition(torch.roll(coords, (-shift, -shift), dims=(1, 2)), M).flatten(1, 2)
               for shift in (0, s)}  # (nW, M*M, 2): the original (row, column) of every window's tokens
    nW = members[0].shape[0]
    pieces = {shift: [window_pieces(window) for window in members[shift]] for shift in (0, s)}
    wrapping = [w for w, p in enumerate(pieces[s]) if len(p) > 1]  # the windows cut by the map's edge
    colours = dict(zip(wrapping, categorical(len(wrapping)).colors)) if wrapping else {}
    panel = 4.2
    size = label_size(panel, max(height, width) / min(M, s if s else M), fraction=0.55, digits=len(str(nW - 1)))
    fig = new_figure(2 * panel + 0.4, panel * height / width + 1.1)
    axes = fig.subplots(1, 2)
    titles = (f"W-MSA: {nW} windows of {M} x {M} tokens",
              f"SW-MSA, shift ({s}, {s}): still {len(pieces[s])} windows,\n{len(wrapping)} cut by the edge "
              f"(one colour, one number each)")
    for ax, shift, title in zip(axes, (0, s), titles):
        ax.imshow(picture, cmap="gray", extent=(-0.5, width - 0.5, height - 0.5, -0.5), interpolation="nearest")
        ax.set_xlim(-0.5, width - 0.5)
        ax.set_ylim(height - 0.5, -0.5)
        ax.set_title(title, fontsize=10.5)
        ax.set_xlabel("token column")
        ax.set_ylabel("token row")
        for w, window_pieces_ in enumerate(pieces[shift]):
            colour = colours.get(w) if shift else None
            for r0, c0, r1, c1 in window_pieces_:
                if colour is not None:
                    outline(ax, r0, c0, r1, c1, gid="fill", fill=True, facecolor=colour, alpha=0.45, linewidth=0)
                # white on a dark line: visible on light and dark parts of the picture alike
                outline(ax, r0, c0, r1, c1, gid="halo", linewidth=3.2, edgecolor="black", alpha=0.6)
                outline(ax, r0, c0, r1, c1, gid="piece" if shift else "window", linewidth=1.6,
                        edgecolor="white", linestyle="--" if shift else "-")
                number(ax, (c0 + c1) / 2, (r0 + r1) / 2, w, size, gid="window-number", badge=colour)
    fig.suptitle(f"{height} x {width} tokens of {ph} x {pw} pixels: each window covers {M * ph} x {M * pw} pixels")
    return fig


# merge_patches's order: (row, column) offsets inside each 2 x 2 group, as the slices that give them
_MERGE_SLICES = ("x[0::2, 0::2]", "x[1::2, 0::2]", "x[0::2, 1::2]", "x[1::2, 1::2]")


def plot_patch_merging(merging: PatchMerging, height: int = 4, width: int = 4) -> Figure:
    """Swin's patch merging on a small map: left, an H x W map of tokens, each numbered with its row-major
    index and coloured by its place in its 2 x 2 group; middle, the four strided sub-grids in the order
    `merge_patches` concatenates them (x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]), each
    (B, H/2, W/2, C); right, the C-vectors of merged token (0, 0) side by side (4C), then the module's
    LayerNorm and its Linear 4C -> 2C.

    Which token goes where is computed by `minivit.ops.merging.merge_patches` on a map holding each
    token's index; the shapes by running `merging` on a (1, H, W, C) map of its own channel count C.

    Args:
        merging: a minivit PatchMerging (e.g. PatchMerging(dim=96, eps=1e-5), built on the meta device
            for speed).
        height, width: the map's sides, even ints from 2 to 8.

    Returns:
        the Figure. Tokens of the map: Rectangles gid "token", their numbers Texts gid "token-label" (row-major);
        each sub-grid's cells Rectangles gid "subgrid" and numbers Texts gid "subgrid-label" (sub-grid by
        sub-grid, row-major inside each); the sub-grids' titles Texts gid "subgrid-title"; the four C-long
        pieces of merged token (0, 0) Rectangles gid "piece", their texts gid "piece-label"; the steps
        boxes gid "step" with texts gid "step-label"; arrows gid "arrow".
    """
    if not isinstance(merging, PatchMerging):
        raise TypeError(f"merging must be a minivit PatchMerging, got {type(merging).__name__}")
    for name, n in (("height", height), ("width", width)):
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"{name} must be an int, got {type(n).__name__}")
        if n % 2 or not 2 <= n <= 8:
            raise ValueError(f"{name} must be an even int from 2 to 8, got {n}")
    H, W = height, width
    C = merging.norm.normalized_shape[0] // 4
    ids = merge_patches(torch.arange(H * W).reshape(1, H, W, 1))[0]  # (H/2, W/2, 4): token indices
    x = torch.zeros(1, H, W, C, device=merging.norm.weight.device)
    shapes = output_shapes(merging, x, ["norm", "reduction"])
    concat = tuple(merge_patches(x).shape)  # (1, H/2, W/2, 4C)
    sub = (1, H // 2, W // 2, C)
    colours = categorical(4).colors

    fig = new_figure(9.6, 4.4)
    ax = fig.subplots()
    # left: the map, cells of 1 x 1; y grows downwards (the axis is inverted below)
    scale = 4.0 / max(H, W)
    for i in range(H):
        for j in range(W):
            k = 2 * (j % 2) + i % 2  # place in the concatenation: column offset outer, as merge_patches
            ax.add_patch(Rectangle((j * scale, i * scale), scale, scale, facecolor=colours[k], edgecolor="white",
                                   linewidth=2, gid="token"))
            ax.text((j + 0.5) * scale, (i + 0.5) * scale, str(i * W + j), ha="center", va="center",
                    fontsize=FONT_SIZE + 1, gid="token-label")
    ax.text(2.0, -0.35, f"map (1, {H}, {W}, C)", ha="center", va="bottom", fontsize=FONT_SIZE + 1)
    # middle: the four sub-grids, stacked, each (H/2) x (W/2) cells
    cell = min(0.9 / (H // 2), 1.1 / (W // 2))
    left, pitch = 5.6, 1.05
    for k in range(4):
        top = k * pitch
        for a in range(H // 2):
            for b in range(W // 2):
                ax.add_patch(Rectangle((left + b * cell, top + a * cell), cell, cell, facecolor=colours[k],
                                       edgecolor="white", linewidth=1.5, gid="subgrid"))
                ax.text(left + (b + 0.5) * cell, top + (a + 0.5) * cell, str(int(ids[a, b, k])), ha="center",
                        va="center", fontsize=FONT_SIZE - 0.5, gid="subgrid-label")
        ax.text(left + (W // 2) * cell + 0.15, top + (H // 2) * cell / 2, f"{k + 1}. {_MERGE_SLICES[k]}\n{sub}",
                ha="left", va="center", fontsize=FONT_SIZE - 0.5, family="monospace", gid="subgrid-title")
    arrow(ax, (4.15, 2.0), (left - 0.15, 2.0), label=None)
    ax.text((4.15 + left - 0.15) / 2, 1.85, "every 2nd\nrow, column", ha="center", va="bottom", fontsize=FONT_SIZE - 1,
            style="italic")
    # right: the steps, and above them merged token (0, 0) as its four pieces of C numbers
    x0, piece = 9.9, 0.62
    centre = x0 + 2 * piece
    for k in range(4):
        ax.add_patch(Rectangle((x0 + k * piece, -0.05), piece, 0.45, facecolor=colours[k], edgecolor="black",
                               linewidth=1, gid="piece"))
        ax.text(x0 + (k + 0.5) * piece, 0.175, str(int(ids[0, 0, k])), ha="center", va="center",
                fontsize=FONT_SIZE, gid="piece-label")
    ax.text(centre, -0.12, "merged token (0, 0): 4 pieces of C", ha="center", va="bottom", fontsize=FONT_SIZE - 0.5)
    steps = [("concatenate: 4C channels", concat, "op"), (f"LayerNorm({4 * C})", shapes["norm"], "norm"),
             (f"Linear {4 * C} -> {2 * C}, no bias", shapes["reduction"], "layer")]
    ys = [1.0, 2.2, 3.4]
    for (name, shape, kind), y in zip(steps, ys):
        box(ax, centre, y, f"{name}\n{shape_text(shape)}", kind, width=2.9, height=0.75)
    ax.plot([centre, centre], [0.4, ys[0] - 0.375], color="0.4", linestyle=":", linewidth=1.2)  # a view, not a step
    for a, b in zip(ys, ys[1:]):
        arrow(ax, (centre, a + 0.375), (centre, b - 0.375))
    arrow(ax, (left + (W // 2) * cell + 1.7, ys[0]), (centre - 1.45, ys[0]))  # from past the titles
    ax.set_xlim(-0.1, centre + 1.55)
    ax.set_ylim(4.3, -0.6)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"Patch merging, C = {C}: each 2 x 2 group of tokens becomes one token of 2C channels",
                 fontsize=FONT_SIZE + 1)
    return fig


def plot_mobilevit_stages(model: MobileViT, image_size: int | tuple[int, int] = 256) -> Figure:
    """MobileViT's architecture, top to bottom: the image, the stride-2 stem, every stage (its MV2 blocks,
    and in the last stages a MobileViT block with its token size d and L transformer layers), the final 1x1
    conv, and the average pool with the Linear head. Each box gives the shape that part outputs, read from
    `model` run on an image of `image_size`; the counts from the model's own modules. Build the model on the
    meta device for speed.

    Args:
        model: a minivit MobileViT, e.g. mobilevit_xxs().
        image_size: the input's side, or (H, W); at least 32.

    Returns:
        the Figure. Boxes gid "step" in order (image, stem, stages, final conv, head), their texts gid
        "step-label"; arrows gid "arrow".
    """
    if not isinstance(model, MobileViT):
        raise TypeError(f"model must be a minivit MobileViT, got {type(model).__name__}")
    H, W = image_size_pair(image_size)
    if min(H, W) < 32:
        raise ValueError(f"image_size must be at least 32 (five halvings), got {image_size!r}")
    x = _images(model, H, W)
    names = ["stem"] + [f"stages.{i}" for i in range(len(model.stages))] + ["final_conv", "head"]
    shapes = output_shapes(model, x, names)
    steps = [Step("image", tuple(x.shape), "tensor"),
             Step(f"stem: 3x3 conv stride 2, {model.stem.conv.out_channels} channels", shapes["stem"], "layer")]
    for i, stage in enumerate(model.stages):
        mv2 = [b for b in stage if isinstance(b, InvertedResidual)]
        stride = mv2[0].depthwise.conv.stride[0]
        text = f"stage {i + 1}: {len(mv2)} MV2{' (stride 2)' if stride == 2 else ''}"
        vit = [b for b in stage if isinstance(b, MobileViTBlock)]
        if vit:
            text += f" + MobileViT block (d {vit[0].conv_in.out_channels}, L {len(vit[0].transformer)})"
        steps.append(Step(text, shapes[f"stages.{i}"], "attention" if vit else "layer"))
    steps += [Step(f"final 1x1 conv -> {model.final_conv.conv.out_channels}", shapes["final_conv"], "layer"),
              Step(f"average pool, Linear -> {model.head.out_features}", shapes["head"], "layer")]
    fig = new_figure(6.6, 0.62 * len(steps) + 0.8)
    ax = fig.subplots()
    plot_flow(steps, f"MobileViT at {H} x {W}: each box's output shape, (B, C, H, W)", box_width=5.0, ax=ax)
    return fig


def _window(r: int, c: int, height: int, width: int) -> set[tuple[int, int]]:
    """The pixels a 3x3 conv (zero padding) at (r, c) reads: its 3x3 window, cut at the border."""
    return {(i, j) for i in range(r - 1, r + 2) for j in range(c - 1, c + 2) if 0 <= i < height and 0 <= j < width}


def plot_mobilevit_routes(height: int = 8, width: int = 8, patch_size: int | tuple[int, int] = 2,
                          pixel: int | tuple[int, int] = (2, 3), source: int | tuple[int, int] = (5, 5)) -> Figure:
    """How `source`, a pixel in another sequence than `pixel`, reaches `pixel` through a MobileViT block: two
    routes of two hops, one 3x3 conv and one attention along a sequence (the MobileViT paper's Figure 4 draws
    the first). The sequences are read from `mobilevit_unfold` itself (minivit.viz.unfold.unfold_sequences).

    Route 1, conv_local then attention: a pixel t of `pixel`'s sequence has `source` in its 3x3 window, so the
    local 3x3 conv mixes `source` into t before the unfold, and attention along the sequence carries t to `pixel`.
    Route 2, attention then fusion: a pixel t of `source`'s sequence lies in `pixel`'s 3x3 window, so attention
    carries `source` into t, and the fusion 3x3 conv after the fold mixes t into `pixel`.

    Args:
        height, width: the map size, multiples of the patch size.
        patch_size: p, or (ph, pw).
        pixel: the output pixel, row-major index or (row, column).
        source: the input pixel, in another sequence, reachable by both routes.

    Returns:
        the Figure, two axes (route 1, route 2). Each: image data (H, W), the sequence of each pixel; a Line2D
        of gid "relay" at t (x = column, y = row); a Rectangle of gid "window", the conv hop's 3x3 window;
        arrows (FancyArrowPatch) of gid "conv" and "attention" for the two hops of the route, and one of gid
        "attention-all" from every other pixel of the attending sequence to its receiver. Each title ends with
        how many of the H*W pixels reach `pixel` by that route, from any source.
    """
    sequences = unfold_sequences(height, width, patch_size)  # (P, N), pixel numbers; checks the sizes
    P, N = sequences.shape
    r, c = grid_position(pixel, height, width, "pixel")
    sr, sc = grid_position(source, height, width, "source")
    sequence_of = torch.empty(height * width, dtype=torch.long)
    sequence_of[sequences.flatten()] = torch.arange(P).repeat_interleave(N)
    seq_map = sequence_of.reshape(height, width).numpy()
    p, q = int(seq_map[r, c]), int(seq_map[sr, sc])
    if p == q:
        raise ValueError(f"source {(sr, sc)} must be in another sequence than pixel {(r, c)}: both are in "
                         f"sequence {p}, where attention alone links them")
    members = {s: [divmod(int(k), width) for k in sequences[s]] for s in range(P)}
    relay1 = [t for t in members[p] if (sr, sc) in _window(*t, height, width)]  # source in t's window
    relay2 = [t for t in members[q] if t in _window(r, c, height, width)]  # t in pixel's window
    if not relay1 or not relay2:
        raise ValueError(f"source {(sr, sc)} must reach pixel {(r, c)} by both routes, but no pixel of sequence "
                         f"{p if not relay1 else q} lies within one pixel of {(sr, sc) if not relay1 else (r, c)} "
                         f"for {height}x{width} with patch {patch_size!r}")
    reach1 = set().union(*(_window(*t, height, width) for t in members[p]))
    reach2 = {k for t in _window(r, c, height, width) for k in members[int(seq_map[t])]}

    fig = new_figure(9.6, 5.6)
    axes = fig.subplots(1, 2)
    routes = (
        (axes[0], "route 1: conv_local (3x3), then attention", p, relay1[0], (sr, sc), (r, c), reach1),
        (axes[1], "route 2: attention, then fusion (3x3)", q, relay2[0], (sr, sc), (r, c), reach2),
    )
    for k, (ax, title, attending, relay, start, end, reach) in enumerate(routes):
        show_labels(ax, seq_map, P)
        token_grid(ax, height, width,
                   f"{title}\npixels that reach ({r}, {c}) this way: {len(reach)} of {height * width}")
        veil = np.ones((height, width, 4))  # fade every pixel outside the sequence that attends
        veil[..., 3] = 0.7
        for i, j in members[attending]:
            veil[i, j, 3] = 0.0
        ax.imshow(veil, interpolation="nearest")
        for n in range(N):  # the patches
            rows, cols = sequences[:, n] // width, sequences[:, n] % width
            outline(ax, int(rows.min()), int(cols.min()), int(rows.max()), int(cols.max()), gid="patch",
                    linewidth=1.5, edgecolor="0.35")
        receiver = end if k == 0 else relay  # where attention delivers, on this route
        for t in members[attending]:
            if t != receiver:
                arrow(ax, (t[1], t[0]), (receiver[1], receiver[0]), gid="attention-all", color="0.45",
                      linewidth=0.7, mutation_scale=7, alpha=0.8)
        centre = relay if k == 0 else end  # the pixel whose 3x3 window the conv hop reads
        outline(ax, centre[0] - 1, centre[1] - 1, centre[0] + 1, centre[1] + 1, gid="window", linestyle="--",
                linewidth=2.5, edgecolor="black")
        hops = [(start, relay, "conv"), (relay, end, "attention")] if k == 0 else \
               [(start, relay, "attention"), (relay, end, "conv")]
        for a, b, kind in hops:
            arrow(ax, (a[1], a[0]), (b[1], b[0]), gid=kind, color="black" if kind == "attention" else "tab:red",
                  linewidth=2.8, mutation_scale=18 if kind == "attention" else 14, shrinkA=5, shrinkB=7)
        ax.plot([relay[1]], [relay[0]], marker="s", markersize=11, color="white", markeredgecolor="black",
                linestyle="none", gid="relay")
        ax.plot([sc], [sr], marker="o", markersize=12, color="black", markeredgecolor="white", linestyle="none",
                gid="source")
        ax.plot([c], [r], marker="*", markersize=17, color="white", markeredgecolor="black", linestyle="none",
                gid="pixel")
    key = [
        Line2D([], [], marker="o", color="black", markeredgecolor="white", markersize=10, linestyle="none",
               label=f"source pixel ({sr}, {sc}), sequence {q}"),
        Line2D([], [], marker="s", color="white", markeredgecolor="black", markersize=9, linestyle="none",
               label="relay t: the pixel between the two hops"),
        Line2D([], [], marker="*", color="white", markeredgecolor="black", markersize=14, linestyle="none",
               label=f"output pixel ({r}, {c}), sequence {p}"),
        Line2D([], [], color="tab:red", linewidth=2.8, label="3x3 conv hop (dashed box: its window)"),
        Line2D([], [], color="black", linewidth=2.8, label="attention hop, along one sequence"),
        Line2D([], [], color="0.45", linewidth=0.8, label="the rest of that attention: the sequence left clear"),
    ]
    fig.legend(handles=key, loc="outside lower center", ncols=2, fontsize=9)
    fig.suptitle(f"{height}x{width} map, {P} pixels per patch: colour = sequence (position inside the patch)")
    return fig
