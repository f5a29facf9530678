"""Figures of attention weights: where one query token looks, drawn over the input image.

`plot_attention_map` takes any weight vector or grid; `plot_model_attention` asks a model for its
weights through `attention_maps(x) -> list of (B, nh, N+1, N+1)` tensors, one per layer, token 0
being the class token (the interface of minivit.models.vit.VisionTransformer).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from minivit.ops._checks import check_tensor
from minivit.viz._common import CONTINUOUS, as_batch, as_image, new_figure, outline


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
