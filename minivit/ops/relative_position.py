"""Swin's relative position bias: which entry of the ((2Mh-1)(2Mw-1), nh) bias table each pair of
tokens in a window reads (the index), and the bias each head adds to their attention logit."""

from __future__ import annotations

import torch

from minivit.ops._checks import check_tensor, to_pair


def relative_position_index(window_size: int | tuple[int, int]) -> torch.Tensor:
    """Index into the relative position bias table for every (query, key) pair of a window.

    For a query at (i1, j1) and a key at (i2, j2): dy = i1 - i2 + Mh - 1 and dx = j1 - j2 + Mw - 1 (both now
    >= 0), and the index is dy * (2Mw - 1) + dx, a row-major position in a (2Mh-1) x (2Mw-1) grid.

    Args:
        window_size: M, or (Mh, Mw).

    Returns:
        index, shape (Mh*Mw, Mh*Mw), int64, values in [0, (2Mh-1)(2Mw-1)).
    """
    Mh, Mw = to_pair(window_size, "window_size")
    rows, cols = torch.meshgrid(torch.arange(Mh), torch.arange(Mw), indexing="ij")
    rows, cols = rows.flatten(), cols.flatten()  # (Mh*Mw,) each, tokens in row-major order
    dy = rows[:, None] - rows[None, :] + (Mh - 1)  # (Mh*Mw, Mh*Mw), in [0, 2Mh-2]
    dx = cols[:, None] - cols[None, :] + (Mw - 1)
    return dy * (2 * Mw - 1) + dx


def relative_position_bias(table: torch.Tensor, window_size: int | tuple[int, int]) -> torch.Tensor:
    """What each head adds to the attention logit of every (query, key) pair of a window: the table's
    entry for their relative position.

    Args:
        table: the learned bias table, shape ((2Mh-1)(2Mw-1), nh): one row per relative position
            (dy, dx), one column per head.
        window_size: M, or (Mh, Mw).

    Returns:
        bias, shape (nh, N, N) with N = Mh*Mw: bias[h, i, j] = table[index[i, j], h].
    """
    Mh, Mw = to_pair(window_size, "window_size")
    check_tensor(table, "table", "(R, nh)")
    if table.shape[0] != (2 * Mh - 1) * (2 * Mw - 1):
        raise ValueError(
            f"table must have shape ((2Mh-1)(2Mw-1), nh) = ({(2 * Mh - 1) * (2 * Mw - 1)}, nh) for a "
            f"{Mh}x{Mw} window, got shape {tuple(table.shape)}"
        )
    index = relative_position_index((Mh, Mw)).to(table.device)  # (N, N)
    return table[index].permute(2, 0, 1)  # (nh, N, N)
