"""Figures of attention weights: where one query token looks, drawn over the input image.

`plot_attention_map` takes any weight vector or grid; `plot_model_attention` asks a model for its
weights through `attention_maps(x) -> list of (B, nh, N+1, N+1)` tensors, one per layer, token 0
being the class token (the interface of minivit.models.vit.VisionTransformer).
`plot_attention_vs_uniform` draws the same row as multiples of the uniform weight, on a colour scale
centred there, so that a nearly uniform map looks nearly uniform. `plot_masked_attention` draws a
whole (Nq, Nk) matrix of weights, without and with a mask.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from minivit.ops._checks import check_tensor
from minivit.ops.attention import attention
from minivit.viz._common import CONTINUOUS, DIVERGING, as_batch, as_image, label_size, new_figure, number, outline


def token_grid_shape(num_tokens: int, height: int, width: int) -> tuple[int, int]:
    """The (rows, columns) of patches that `num_tokens` square patches of an H x W image form."""
    patch = math.sqrt(height * width / num_tokens)
    rows, cols = round(height / patch), round(width / patch)
    if rows * cols != num_tokens:
        raise ValueError(f"{num_tokens} tokens do not tile a {height}x{width} image in square patches; "
                         f"pass the weights as a (rows, columns) grid")
    return rows, cols


def plot_attention_map(
    image: object,
    weights: torch.Tensor | np.ndarray,
    query: tuple[int, int] | None = None,
    title: str = "attention weights",
    token_name: str = "patch",
) -> Figure:
    """The weights of one query over the tokens of an image: the image, the weights, and both overlaid.

    Args:
        image: (H, W, C) array or (C, H, W) / (1, C, H, W) tensor.
        weights: shape (N,) (tokens in row-major order; the grid follows the image's aspect ratio) or
            (rows, columns).
        query: the query's token (row, column), outlined; None for a query that is no token of the grid
            (class token).
        title: the figure's title.
        token_name: what one token is, for the panel titles and axes: "patch", or "pixel" when every
            pixel is a token.

    Returns:
        the Figure; the middle panel's image data is the (rows, columns) grid of weights.
    """
    picture = as_image(image)
    H, W = picture.shape[:2]
    grid = torch.as_tensor(np.asarray(weights.detach().cpu() if isinstance(weights, torch.Tensor) else weights))
    grid = grid.float()
    if grid.dim() == 1:
        grid = grid.reshape(token_grid_shape(grid.numel(), H, W))
    elif grid.dim() != 2:
        raise ValueError(f"weights must have shape (N,) or (rows, columns), got {tuple(grid.shape)}")
    rows, cols = grid.shape
    grid = grid.numpy()

    fig = new_figure(12.0, 3.6 * H / W + 1.0)
    left, middle, right = fig.subplots(1, 3)
    cell_h, cell_w = H / rows, W / cols
    left.imshow(picture, cmap="gray")
    left.set_title("input image" + ("" if query is None else f", query {token_name} {tuple(query)} in red"))
    low, high = float(grid.min()), float(grid.max())  # one colour scale for both weight panels
    image = middle.imshow(grid, cmap=CONTINUOUS, vmin=low, vmax=high, interpolation="nearest")
    plural = token_name + ("es" if token_name.endswith(("s", "x", "ch", "sh")) else "s")  # patches, pixels
    middle.set_title(f"weights on the {rows}x{cols} {plural}")
    middle.set_xlabel(f"{token_name} column")
    middle.set_ylabel(f"{token_name} row")
    fig.colorbar(image, ax=middle, shrink=0.8, label="attention weight")
    right.imshow(picture, cmap="gray")
    right.imshow(grid, cmap=CONTINUOUS, vmin=low, vmax=high, alpha=0.6, interpolation="nearest",
                 extent=(-0.5, W - 0.5, H - 0.5, -0.5))
    right.set_title("weights over the image")
    for ax in (left, right):
        ax.set_xlabel("pixel column")
        ax.set_ylabel("pixel row")
    for ax in (left, middle, right):  # ticks on tokens and pixels, never between them
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.get_major_locator().set_params(integer=True)
    if query is not None:
        r, c = query
        outline(middle, r, c, r, c, gid="query", edgecolor="red", linewidth=2.5)
        for ax in (left, right):
            ax.add_patch(Rectangle((c * cell_w - 0.5, r * cell_h - 0.5), cell_w, cell_h, fill=False,
                                   edgecolor="red", linewidth=2.5, gid="query"))
    fig.suptitle(title)
    return fig


def model_attention_maps(model: torch.nn.Module, image: object) -> list[torch.Tensor]:
    """Run `model.attention_maps` on one image, in eval mode and without gradients.

    Args:
        model: has attention_maps(x) -> list of (B, nh, N+1, N+1) tensors, token 0 the class token.
        image: (C, H, W) or (1, C, H, W) tensor as the model takes it, or an (H, W, C) array.

    Returns:
        the list, one (1, nh, N+1, N+1) tensor per layer. The model's train/eval mode is restored.
    """
    if not hasattr(model, "attention_maps"):
        raise ValueError(f"model must have an attention_maps(x) method, got {type(model).__name__}")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return [m.detach().cpu() for m in model.attention_maps(as_batch(image))]
    finally:
        model.train(was_training)


def model_attention_maps_of_batch(model: torch.nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    """`model.attention_maps(images)` for a batch (B, C, H, W), in eval mode and without gradients: one
    (B, nh, N+1, N+1) tensor per layer. The model's train/eval mode is restored."""
    if not hasattr(model, "attention_maps"):
        raise ValueError(f"model must have an attention_maps(x) method, got {type(model).__name__}")
    check_tensor(images, "images", "(B, C, H, W)")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return [m.detach().cpu() for m in model.attention_maps(images.float())]
    finally:
        model.train(was_training)


def plot_attention_maps(
    maps: list[torch.Tensor], image: object, layer: int = -1, head: int | None = None, query: int = 0
) -> Figure:
    """One query's weights over the patches, from a list of attention maps (see model_attention_maps).

    Args:
        maps: one (B, nh, N+1, N+1) tensor per layer, token 0 the class token; image 0 of the batch is drawn.
        image: the input image (drawn under the weights).
        layer: which layer, 0 for the first (negative counts from the end); the title counts blocks
            from 1, "block 4 of 4" for layer -1 of four.
        head: which head; None averages the heads.
        query: the query token, 0 for the class token, 1 + n for patch n.

    Returns:
        the Figure of plot_attention_map, with the weights of the N patch keys (the class token's own
        weight is given in the title).
    """
    L = len(maps)
    if not isinstance(layer, int) or not -L <= layer < L:
        raise ValueError(f"layer must be in [{-L}, {L}) for {L} layers, got {layer!r}")
    attn = maps[layer]
    check_tensor(attn, "each attention map", "(B, nh, N+1, N+1)")
    if attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f"each attention map must have shape (B, nh, N+1, N+1), got {tuple(attn.shape)}")
    nh, T = attn.shape[1], attn.shape[-1]
    if head is not None and (not isinstance(head, int) or not 0 <= head < nh):
        raise ValueError(f"head must be None (mean) or in [0, {nh}), got {head!r}")
    if not isinstance(query, int) or not 0 <= query < T:
        raise ValueError(f"query must be a token in [0, {T}) (0 = class token), got {query!r}")
    per_head = attn[0, :, query].float()  # (nh, N+1): this query's row in every head
    row = per_head.mean(0) if head is None else per_head[head]
    picture = as_image(image)
    rows, cols = token_grid_shape(T - 1, *picture.shape[:2])
    where = None if query == 0 else divmod(query - 1, cols)
    who = "class token" if query == 0 else f"patch {query - 1} {where}"
    title = (f"block {layer % L + 1} of {L}, {'mean of the heads' if head is None else f'head {head}'}: query = {who}; "
             f"weight on the class token {float(row[0]):.3f}")
    return plot_attention_map(picture, row[1:].reshape(rows, cols), query=where, title=title)


def plot_model_attention(
    model: torch.nn.Module, image: object, layer: int = -1, head: int | None = None, query: int = 0
) -> Figure:
    """Where one query token of a model looks, over the input image.

    Args:
        model: has attention_maps(x) -> list of (B, nh, N+1, N+1), e.g. minivit.models.vit.VisionTransformer.
        image: (C, H, W) or (1, C, H, W) tensor as the model takes it (an (H, W, C) array is converted).
        layer, head, query: as for plot_attention_maps (query 0 = class token).

    Returns:
        the Figure of plot_attention_maps.
    """
    return plot_attention_maps(model_attention_maps(model, image), image, layer, head, query)


def plot_attention_vs_uniform(
    model: torch.nn.Module, image: object, layer: int = -1, head: int | None = None, query: int = 0
) -> Figure:
    """One query's weights over the patches as multiples of the uniform weight 1/(N+1).

    A weight w is drawn as (N+1)·w: 1 where the query spreads its weight evenly over the N+1 tokens, 0
    where it ignores a token. The colour scale is diverging and centred at 1 (white), from 0 (blue) to
    max(2, the largest value) (red), so that a map within a few percent of uniform looks nearly white
    instead of being stretched over the whole palette.

    Args:
        model: has attention_maps(x) -> list of (B, nh, N+1, N+1), e.g. minivit.models.vit.VisionTransformer.
        image: (C, H, W) or (1, C, H, W) tensor as the model takes it (an (H, W, C) array is converted); or a
            batch (B, C, H, W) of B > 1 images, whose weights are averaged over the images (the left panel
            then shows their mean image).
        layer, head, query: as for plot_attention_maps (query 0 = class token).

    Returns:
        the Figure. Left: the image (or the mean image) with the patch grid (the query's patch outlined, gid "query"),
        titled with the grid and each patch's size in pixels ("a 4 x 4 grid of 8 x 8-pixel patches").
        Right: an image whose data is the (rows, columns) grid of (N+1)·w for the N patch keys, each
        cell's value written in it (Texts with gid "ratio", row-major) when the grid has at most 16 x 16
        cells; the query's own weight on the class token is given in the title.
    """
    batch = isinstance(image, torch.Tensor) and image.dim() == 4 and image.shape[0] > 1
    if batch:
        maps = [m.mean(dim=0, keepdim=True) for m in model_attention_maps_of_batch(model, image)]
        image = image.mean(dim=0)  # (C, H, W): the mean image, drawn under the mean weights
    else:
        maps = model_attention_maps(model, image)
    L = len(maps)
    if not isinstance(layer, int) or not -L <= layer < L:
        raise ValueError(f"layer must be in [{-L}, {L}) for {L} layers, got {layer!r}")
    attn = maps[layer]  # (1, nh, N+1, N+1)
    nh, T = attn.shape[1], attn.shape[-1]
    if head is not None and (isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < nh):
        raise ValueError(f"head must be None (mean) or in [0, {nh}), got {head!r}")
    if isinstance(query, bool) or not isinstance(query, int) or not 0 <= query < T:
        raise ValueError(f"query must be a token in [0, {T}) (0 = class token), got {query!r}")
    per_head = attn[0, :, query].float()  # (nh, N+1)
    row = (per_head.mean(0) if head is None else per_head[head]) * T  # (N+1,): 1 = uniform
    picture = as_image(image)
    H, W = picture.shape[:2]
    rows, cols = token_grid_shape(T - 1, H, W)
    grid = row[1:].reshape(rows, cols).numpy()
    where = None if query == 0 else divmod(query - 1, cols)

    fig = new_figure(10.0, 4.2 * H / W + 0.9)
    left, right = fig.subplots(1, 2)
    left.imshow(picture, cmap="gray", extent=(-0.5, W - 0.5, H - 0.5, -0.5))
    cell_h, cell_w = H / rows, W / cols
    left.hlines([r * cell_h - 0.5 for r in range(1, rows)], -0.5, W - 0.5, colors="white", linewidth=0.6)
    left.vlines([c * cell_w - 0.5 for c in range(1, cols)], -0.5, H - 0.5, colors="white", linewidth=0.6)
    patch = f"{H // rows} x {W // cols}-pixel" if H % rows == 0 and W % cols == 0 else "equal"
    left.set_title(("mean of the images" if batch else "input image") + f", a {rows} x {cols} grid of {patch} patches"
                   + ("" if where is None else ", query patch in red"))
    left.set_xlabel("pixel column")
    left.set_ylabel("pixel row")
    high = max(2.0, float(grid.max()))
    image_ = right.imshow(grid, cmap=DIVERGING, norm=TwoSlopeNorm(vcenter=1.0, vmin=0.0, vmax=high),
                          interpolation="nearest")
    right.set_title(f"(N+1) x weight on each patch, N+1 = {T}")
    right.set_xlabel("patch column")
    right.set_ylabel("patch row")
    for axis in (right.xaxis, right.yaxis):  # patches are counted in whole numbers
        axis.set_major_locator(MaxNLocator(integer=True))
    fig.colorbar(image_, ax=right, shrink=0.85, label=f"{T} x weight  (1 = uniform, 1/{T})")
    if max(rows, cols) <= 16:
        size = float(np.clip(0.32 * 72 * 4.2 / max(rows, cols), 5, 11))
        for r in range(rows):
            for c in range(cols):
                value = float(grid[r, c])  # black on the light middle of the scale, white on its dark ends
                right.text(c, r, f"{value:.1f}", ha="center", va="center", fontsize=size, gid="ratio",
                           color="black" if 0.3 < value < 0.7 * high + 0.3 else "white")
    if where is not None:
        r, c = where
        outline(right, r, c, r, c, gid="query", edgecolor="red", linewidth=2.5)
        left.add_patch(Rectangle((c * cell_w - 0.5, r * cell_h - 0.5), cell_w, cell_h, fill=False,
                                 edgecolor="red", linewidth=2.5, gid="query"))
    who = "class token" if query == 0 else f"patch {query - 1} {where}"
    fig.suptitle(("mean over the images, " if batch else "")
                 + f"block {layer % L + 1} of {L}, {'mean of the heads' if head is None else f'head {head}'}: "
                 f"query = {who}; {T} x its weight on the class token: {float(row[0]):.2f}")
    return fig


MAX_MASKED = 12  # beyond, the numbers in the cells of plot_masked_attention no longer fit


def plot_masked_attention(q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor) -> Figure:
    """The attention weights of Nq queries over Nk keys, without and with a mask, as minivit.attention
    computes them (scale 1/sqrt(d)).

    Args:
        q: queries, shape (Nq, d); k: keys, shape (Nk, d); Nq and Nk at most 12.
        mask: bool, shape (Nq, Nk): True where query i may attend to key j; every row allows at least one key.

    Returns:
        the Figure, three panels, query i in row i and key j in column j. "without the mask": an image whose
        data is attention(q, k, k)'s weights; "the mask": an image whose data is the mask as a float (1 = may
        attend), each cell labelled with what it adds to the score, "0" or "-inf" (the latter Texts with
        gid "blocked", row-major);
        "with the mask": an image whose data is attention(q, k, k, mask=mask)'s weights, each forbidden cell
        hatched (Rectangles with gid "forbidden", row-major). The weights are written in their cells (Texts
        with gid "weight", the first panel's then the third's, row-major; an exact 0 as "0") on one colour
        scale from 0 to 1.
    """
    check_tensor(q, "q", "(Nq, d)")
    check_tensor(k, "k", "(Nk, d)")
    if k.shape[1] != q.shape[1]:
        raise ValueError(f"k must have shape (Nk, d) = (Nk, {q.shape[1]}) like q, got {tuple(k.shape)}")
    Nq, Nk = q.shape[0], k.shape[0]
    if max(Nq, Nk) > MAX_MASKED:
        raise ValueError(f"q and k must hold at most {MAX_MASKED} tokens each for the numbers to fit, "
                         f"got Nq = {Nq}, Nk = {Nk}")
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (Nq, Nk):
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a bool tensor of shape (Nq, Nk) = ({Nq}, {Nk}), got {got}"
                         + (f" of dtype {mask.dtype}" if isinstance(mask, torch.Tensor) else ""))
    if not mask.any(dim=-1).all():
        empty = (~mask.any(dim=-1)).nonzero().flatten().tolist()
        raise ValueError(f"every row of mask must allow at least one key, rows {empty} allow none")
    with torch.no_grad():
        plain = attention(q, k, k)[1].float()  # (Nq, Nk)
        masked = attention(q, k, k, mask=mask)[1].float()  # (Nq, Nk): exactly 0 where mask is False

    cell = min(0.5, 3.0 / max(Nq, Nk))  # inches per cell: at most about 11 inches across
    fig = new_figure(3 * (cell * Nk + 0.85) + 0.9, cell * Nq + 1.6)
    panels = fig.subplots(1, 3)
    size = label_size(cell * Nk, Nk, fraction=0.75, digits=4)
    for ax, weights, title in ((panels[0], plain, "weights without the mask"),
                               (panels[2], masked, "weights with the mask")):
        image_ = ax.imshow(weights.numpy(), cmap=CONTINUOUS, vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(title)
        for i in range(Nq):
            for j in range(Nk):
                value = float(weights[i, j])
                number(ax, j, i, "0" if value == 0 else f"{value:.2f}", size, gid="weight")
    for i, j in (~mask).nonzero().tolist():
        panels[2].add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", edgecolor="0.75",
                                      linewidth=0.0, gid="forbidden"))
    panels[1].imshow(mask.float().numpy(), cmap="Greys_r", vmin=-0.6, vmax=1.0, interpolation="nearest")
    panels[1].set_title("the mask, added to the scores")
    for i in range(Nq):
        for j in range(Nk):
            allowed = bool(mask[i, j])
            panels[1].text(j, i, "0" if allowed else "-inf", ha="center", va="center", fontsize=size,
                           color="black" if allowed else "white", gid=None if allowed else "blocked")
    for ax in panels:
        ax.set_xticks(range(Nk))
        ax.set_yticks(range(Nq))
        ax.set_xlabel("key j")
        ax.set_ylabel("query i")
    fig.colorbar(image_, ax=panels[2], shrink=0.8, label="attention weight")
    fig.suptitle("each row is one query's weights over the keys; each row sums to 1 in both weight panels")
    return fig
