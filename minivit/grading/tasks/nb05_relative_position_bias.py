"""The graded tasks of notebook 05, the relative position bias: the relative coordinates of the tokens
of a window, their index into the bias table, and the bias each head adds to its logits."""

from __future__ import annotations

import torch

from minivit import relative_position_index
from minivit.grading.tasks.common import Case, Draw, Pitfall, add_task
from minivit.ops.relative_position import relative_position_bias

NB05 = "05_relative_position_bias"


def _coordinates_of_index(window_size: int) -> torch.Tensor:
    """The relative coordinates (dy, dx) of every pair of tokens, read back from minivit's relative position
    index, index = (dy + M - 1) * (2M - 1) + (dx + M - 1): shape (M*M, M*M, 2)."""
    M = window_size
    index = relative_position_index(M)
    return torch.stack([index // (2 * M - 1), index % (2 * M - 1)], dim=-1) - (M - 1)


def _window_sizes_not_public(d: Draw) -> list[Case]:
    first = d.size(4, 7)
    return [Case((first,)), Case((d.pick([m for m in range(4, 9) if m != first]),))]


add_task(
    name="relative_coordinates",
    notebook=NB05,
    points=1,
    params=("window_size",),
    reference=_coordinates_of_index,
    public=lambda: [Case((2,)), Case((3,))],
    hidden=_window_sizes_not_public,
    hint="List the (row, column) of the M*M tokens in row-major order, a (M*M, 2) tensor; then "
    "coords[:, None, :] - coords[None, :, :] gives entry [i, j] = position of token i minus position of token j.",
    pitfalls=(
        Pitfall("the offsets have the wrong sign: entry [i, j] is token i's position minus token j's",
                lambda window_size: -_coordinates_of_index(window_size)),
        Pitfall("the two offsets are swapped: the last axis holds (row offset, column offset)",
                lambda window_size: _coordinates_of_index(window_size).flip(-1)),
    ),
)


def _index_scaled_by_m(window_size: int) -> torch.Tensor:
    M = window_size
    dy, dx = (_coordinates_of_index(M) + (M - 1)).unbind(-1)
    return dy * M + dx


def _index_scaled_by_2m(window_size: int) -> torch.Tensor:
    M = window_size
    dy, dx = (_coordinates_of_index(M) + (M - 1)).unbind(-1)
    return dy * (2 * M) + dx


def _index_without_shift(window_size: int) -> torch.Tensor:
    dy, dx = _coordinates_of_index(window_size).unbind(-1)
    return dy * (2 * window_size - 1) + dx


add_task(
    name="relative_position_index",
    notebook=NB05,
    points=2,
    params=("window_size",),
    reference=relative_position_index,
    public=lambda: [Case((2,)), Case((3,))],
    hidden=_window_sizes_not_public,
    hint="From the relative coordinates (dy, dx) of every pair: add M - 1 to both (now in 0..2M-2), then "
    "index = dy * (2M - 1) + dx, an (M*M, M*M) int64 tensor with values in 0..(2M-1)^2 - 1.",
    pitfalls=(
        Pitfall("the index is transposed: entry [i, j] uses token i's position minus token j's",
                lambda window_size: relative_position_index(window_size).T),
        Pitfall("the row offset is multiplied by M; it must be 2M - 1, the number of possible column offsets, "
                "or two different offsets share one index", _index_scaled_by_m),
        Pitfall("the row offset is multiplied by 2M; it must be 2M - 1, the number of possible column offsets "
                "(-(M-1) to M-1), or the largest index falls past the end of the (2M-1)^2 table", _index_scaled_by_2m),
        Pitfall("M - 1 is not added to the offsets, so some indices are negative", _index_without_shift),
    ),
)


def _bias_cases(d: Draw, sizes: list[tuple[int, int]]) -> list[Case]:
    return [Case((d.randn((2 * M - 1) ** 2, nh), M)) for M, nh in sizes]


add_task(
    name="relative_position_bias",
    notebook=NB05,
    points=2,
    helpers=(relative_position_index,),
    params=("table", "window_size"),
    reference=relative_position_bias,
    public=lambda: _bias_cases(Draw(0), [(2, 2), (3, 3)]),
    hidden=lambda d: _bias_cases(d, [(d.size(2, 5), d.size(1, 4)) for _ in range(3)]),
    hint="Index the table with the (M*M, M*M) relative position index: table[index] has shape "
    "(M*M, M*M, nh); permute it to (nh, M*M, M*M), one bias matrix per head.",
    pitfalls=(
        Pitfall("the heads must come first: permute table[index] from (M*M, M*M, nh) to (nh, M*M, M*M)",
                lambda table, window_size: table[relative_position_index(window_size)]),
        Pitfall("each head's matrix is transposed: use permute(2, 0, 1), not permute(2, 1, 0)",
                lambda table, window_size: table[relative_position_index(window_size)].permute(2, 1, 0)),
    ),
)
