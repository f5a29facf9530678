"""How similar a ViT's learned position embeddings are to each other, as in the ViT paper's Figure 7 (centre).

A ViT adds one learned vector per place in its sequence (notebook 03). Nothing tells it that patch 4 sits
below patch 0 on a 4 x 4 grid; if training teaches it, the vectors of neighbouring patches come to resemble
each other. The figure shows, for every patch position, the cosine similarity of its vector with every
other position's, drawn as a small map at that position's place on the grid of patches; `mean_similarity` and
`same_line_contrast` put the figure's pattern, or its absence, into numbers, and `row_column_embedding` builds a
2-D embedding that has the pattern by construction, to draw and measure beside a trained one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from minivit.viz._common import DIVERGING, new_figure


def position_similarity(pos_embed: torch.Tensor, grid: tuple[int, int], num_prefix_tokens: int = 1) -> torch.Tensor:
    """The cosine similarity of every patch position's embedding with every other's.

    Args:
        pos_embed: (1, T+N, D) or (T+N, D), e.g. a VisionTransformer's `pos_embed`, whose first T vectors
            belong to tokens of no patch (the class token: T = 1) and the next N = Gh*Gw to the patches,
            row-major.
        grid: (Gh, Gw), the rows and columns of patches.
        num_prefix_tokens: T.

    Returns:
        (Gh, Gw, Gh, Gw): entry [i, j, k, l] is the cosine similarity of patch (i, j)'s vector with patch (k, l)'s.
    """
    if not isinstance(pos_embed, torch.Tensor):
        raise TypeError(f"pos_embed must be a torch.Tensor, got {type(pos_embed).__name__}")
    if not (isinstance(grid, (tuple, list)) and len(grid) == 2
            and all(isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in grid)):
        raise ValueError(f"grid must be (rows, columns) of positive ints, got {grid!r}")
    if isinstance(num_prefix_tokens, bool) or not isinstance(num_prefix_tokens, int) or num_prefix_tokens < 0:
        raise ValueError(f"num_prefix_tokens must be an int >= 0, got {num_prefix_tokens!r}")
    Gh, Gw = grid
    vectors = pos_embed.detach()
    if vectors.dim() == 3 and vectors.shape[0] == 1:
        vectors = vectors[0]  # (T+N, D)
    if vectors.dim() != 2 or vectors.shape[0] != num_prefix_tokens + Gh * Gw:
        raise ValueError(f"pos_embed must be (1, T+N, D) or (T+N, D) with T+N = {num_prefix_tokens} + {Gh}*{Gw}"
                         f" = {num_prefix_tokens + Gh * Gw}, got {tuple(pos_embed.shape)}")
    unit = F.normalize(vectors[num_prefix_tokens:].double(), dim=-1)  # (N, D), each of length 1
    return (unit @ unit.T).reshape(Gh, Gw, Gh, Gw).float()  # (N, N) cosines -> (Gh, Gw, Gh, Gw)


def mean_similarity(pos_embed: torch.Tensor, grid: tuple[int, int], pairs: torch.Tensor,
                    num_prefix_tokens: int = 1) -> float:
    """The mean cosine similarity of the pairs of patch positions that `pairs` selects.

    Args:
        pos_embed, grid, num_prefix_tokens: as for position_similarity.
        pairs: bool, shape (N, N), N = Gh*Gw positions in row-major order: True for each pair (i, j) to average;
            the diagonal (a position with itself, always 1) is left out.

    Returns:
        the mean over the selected pairs i != j.
    """
    N = grid[0] * grid[1] if isinstance(grid, (tuple, list)) and len(grid) == 2 else None
    similarity = position_similarity(pos_embed, grid, num_prefix_tokens).reshape(N, N)
    if not isinstance(pairs, torch.Tensor) or pairs.dtype != torch.bool or pairs.shape != (N, N):
        got = tuple(pairs.shape) if isinstance(pairs, torch.Tensor) else type(pairs).__name__
        raise ValueError(f"pairs must be a bool tensor of shape (N, N) = ({N}, {N}), got {got}")
    selected = pairs & ~torch.eye(N, dtype=torch.bool)
    if not selected.any():
        raise ValueError("pairs must select at least one pair of two different positions")
    return similarity[selected].mean().item()


def same_line_contrast(pos_embed: torch.Tensor, grid: tuple[int, int], positions: torch.Tensor | None = None,
                       num_prefix_tokens: int = 1) -> float:
    """The pattern of the ViT paper's Figure 7 (centre) as one number: the mean similarity of two positions in the
    same row or column, minus that of two positions in neither.

    About 0 when rows and columns do not matter (random vectors); 0.5 for an embedding made of a row half and a
    column half (as the paper's 2-D embedding) whose halves of different rows, and of different columns, are
    orthogonal.

    Args:
        pos_embed, grid, num_prefix_tokens: as for position_similarity.
        positions: bool, shape (Gh, Gw): only pairs of two such positions count (default: all).

    Returns:
        mean over same-row-or-column pairs minus mean over the other pairs.
    """
    Gh, Gw = grid if isinstance(grid, (tuple, list)) and len(grid) == 2 else (0, 0)
    if positions is None:
        positions = torch.ones(Gh, Gw, dtype=torch.bool)
    if not isinstance(positions, torch.Tensor) or positions.dtype != torch.bool or positions.shape != (Gh, Gw):
        got = tuple(positions.shape) if isinstance(positions, torch.Tensor) else type(positions).__name__
        raise ValueError(f"positions must be a bool tensor of shape (Gh, Gw) = ({Gh}, {Gw}), got {got}")
    rows, cols = torch.arange(Gh * Gw) // Gw, torch.arange(Gh * Gw) % Gw  # each position's place on the grid
    line = (rows[:, None] == rows) | (cols[:, None] == cols)  # (N, N): same row or same column
    both = positions.flatten()[:, None] & positions.flatten()  # (N, N): both positions counted
    return (mean_similarity(pos_embed, grid, line & both, num_prefix_tokens)
            - mean_similarity(pos_embed, grid, ~line & both, num_prefix_tokens))


def row_column_embedding(grid: tuple[int, int], dim: int, num_prefix_tokens: int = 1,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """A 2-D position embedding, the kind the ViT paper compares with its learned 1-D one: each patch's vector is
    a random half for its row beside a random half for its column, so two patches of one row share their first
    half and two of one column their second. The reference for what the paper's row-and-column pattern looks like.

    Args:
        grid: (Gh, Gw), the rows and columns of patches.
        dim: D, even: D/2 numbers for the row, D/2 for the column.
        num_prefix_tokens: T zero vectors put first (the class token's place, which belongs to no row).
        generator: for the Gh + Gw random halves, drawn as torch.randn(Gh + Gw, D/2): rows first.

    Returns:
        (1, T+N, D), patches row-major, as a VisionTransformer's `pos_embed`.
    """
    if not (isinstance(grid, (tuple, list)) and len(grid) == 2
            and all(isinstance(g, int) and not isinstance(g, bool) and g > 0 for g in grid)):
        raise ValueError(f"grid must be (rows, columns) of positive ints, got {grid!r}")
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError(f"dim must be an even int >= 2, got {dim!r}")
    if isinstance(num_prefix_tokens, bool) or not isinstance(num_prefix_tokens, int) or num_prefix_tokens < 0:
        raise ValueError(f"num_prefix_tokens must be an int >= 0, got {num_prefix_tokens!r}")
    Gh, Gw = grid
    halves = torch.randn(Gh + Gw, dim // 2, generator=generator)  # Gh row halves, then Gw column halves
    rows, cols = torch.arange(Gh * Gw) // Gw, torch.arange(Gh * Gw) % Gw  # each patch's place, row-major
    patches = torch.cat([halves[rows], halves[Gh + cols]], dim=1)  # (N, D): its row's half, its column's half
    return torch.cat([torch.zeros(num_prefix_tokens, dim), patches])[None]  # (1, T+N, D)


def plot_position_similarity(
    embeddings: Mapping[str, torch.Tensor], grid: tuple[int, int], num_prefix_tokens: int = 1
) -> Figure:
    """One panel per position embedding: a Gh x Gw grid of small Gh x Gw maps, the map at place (i, j)
    holding position_similarity(...)[i, j], the similarity of patch (i, j)'s vector with every patch's.

    Args:
        embeddings: title -> pos_embed, each as position_similarity takes it (e.g. one model at
            initialisation and after training).
        grid, num_prefix_tokens: as for position_similarity.

    Returns:
        the Figure. Each panel is one Axes with one image, a mosaic of the small maps separated by one blank
        (masked) row and column: the map of (i, j) fills rows i*(Gh+1) to i*(Gh+1)+Gh-1 and columns
        j*(Gw+1) to j*(Gw+1)+Gw-1. One colour scale for all panels, from -1 (blue) through 0 (white) to 1 (red).
    """
    if not isinstance(embeddings, Mapping) or not embeddings:
        raise ValueError(f"embeddings must be a non-empty mapping of title -> pos_embed, got {embeddings!r}")
    similarities = {title: position_similarity(e, grid, num_prefix_tokens) for title, e in embeddings.items()}
    Gh, Gw = grid
    fig = new_figure(4.2 * len(similarities) + 0.9, 4.6)
    panels = np.atleast_1d(fig.subplots(1, len(similarities)))
    for ax, (title, similarity) in zip(panels, similarities.items()):
        mosaic = np.full((Gh * (Gh + 1) - 1, Gw * (Gw + 1) - 1), np.nan)
        for i in range(Gh):
            for j in range(Gw):
                mosaic[i * (Gh + 1):i * (Gh + 1) + Gh, j * (Gw + 1):j * (Gw + 1) + Gw] = similarity[i, j].numpy()
        image = ax.imshow(np.ma.masked_invalid(mosaic), cmap=DIVERGING, vmin=-1.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks([j * (Gw + 1) + (Gw - 1) / 2 for j in range(Gw)], [str(j) for j in range(Gw)])
        ax.set_yticks([i * (Gh + 1) + (Gh - 1) / 2 for i in range(Gh)], [str(i) for i in range(Gh)])
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        ax.set_xlabel("input patch column")
        if ax is panels[0]:  # one label for the row: the panels share it
            ax.set_ylabel("input patch row")
        ax.set_title(title)
    fig.colorbar(image, ax=list(panels), shrink=0.85, label="cosine similarity of two positions' vectors")
    fig.suptitle(f"position embedding similarity: the small map at patch (i, j) compares its vector with all {Gh * Gw}")
    return fig
