"""The graded tasks of notebook 04, windows, shift and mask: a map into M x M windows and back, the
cyclic shift, and the mask of the shifted windows."""

from __future__ import annotations

import torch

from minivit import shifted_window_mask, window_partition, window_reverse
from minivit.grading.tasks.common import Case, Draw, Pitfall, add_task, arange, three

NB04 = "04_window_shift_mask"


def _window_sizes(d: Draw) -> tuple[int, int, int, int, int]:
    """(B, M, gh, gw, C), a grid of gh x gw windows with at least 2 x 2 of them, so that their order matters."""
    return d.size(1, 2), d.size(2, 4), d.size(2, 3), d.size(2, 3), d.size(1, 3)


def _partition_without_permute(x: torch.Tensor, window_size: int) -> torch.Tensor:
    return x.reshape(-1, window_size, window_size, x.shape[-1])


def _partition_column_major(x: torch.Tensor, window_size: int) -> torch.Tensor:
    B, H, W, C = x.shape
    M = window_size
    return x.reshape(B, H // M, M, W // M, M, C).permute(0, 3, 1, 2, 4, 5).reshape(-1, M, M, C)


def _window_partition_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B, gh * M, gw * M, C), M)) for B, M, gh, gw, C in three(d, _window_sizes)]


add_task(
    name="window_partition",
    notebook=NB04,
    points=2,
    params=("x", "window_size"),
    reference=window_partition,
    public=lambda: [
        Case((arange(1, 4, 4, 1), 2), "x of shape (1, 4, 4, 1) holding 0..15, window_size=2"),
        Case((Draw(0).randn(2, 4, 6, 3), 2)),
    ],
    hidden=_window_partition_hidden,
    hint="A window is M consecutive rows and M consecutive columns: reshape to (B, H/M, M, W/M, M, C), permute "
    "to (B, H/M, W/M, M, M, C) so that the two window indices come first, then reshape to (-1, M, M, C).",
    pitfalls=(
        Pitfall("reshaping straight to (-1, M, M, C) takes M*M consecutive pixels of a row, not an M x M square: "
                "split H and W, then permute", _partition_without_permute),
        Pitfall("the windows go top to bottom, then left to right; they must go left to right, then top to "
                "bottom (row-major)", _partition_column_major),
    ),
)


def _reverse_without_permute(windows: torch.Tensor, window_size: int, height: int, width: int) -> torch.Tensor:
    return windows.reshape(-1, height, width, windows.shape[-1])


def _window_reverse_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B * gh * gw, M, M, C), M, gh * M, gw * M)) for B, M, gh, gw, C in three(d, _window_sizes)]


add_task(
    name="window_reverse",
    notebook=NB04,
    points=1,
    params=("windows", "window_size", "height", "width"),
    reference=window_reverse,
    public=lambda: [
        Case((window_partition(arange(1, 4, 4, 1), 2), 2, 4, 4),
             "the windows of a (1, 4, 4, 1) map holding 0..15, window_size=2, height=4, width=4"),
        Case((Draw(0).randn(12, 2, 2, 3), 2, 4, 6)),
    ],
    hidden=_window_reverse_hidden,
    hint="Undo window_partition: reshape to (B, H/M, W/M, M, M, C), permute to (B, H/M, M, W/M, M, C), "
    "reshape to (B, H, W, C).",
    pitfalls=(
        Pitfall("reshaping straight to (B, H, W, C) lays each window out along a row: reshape to "
                "(B, H/M, W/M, M, M, C) and permute first", _reverse_without_permute),
    ),
)


def _cyclic_shift_hidden(d: Draw) -> list[Case]:
    cases = []
    for _ in range(3):
        s = d.size(1, 2)
        # sizes above 2s, so that rolling by +s and by -s differ
        cases.append(Case((d.randn(d.size(1, 2), d.size(2 * s + 1, 9), d.size(2 * s + 1, 9), d.size(1, 3)), s)))
    return cases


add_task(
    name="cyclic_shift",
    notebook=NB04,
    points=1,
    params=("x", "shift_size"),
    # the roll before the partition of shifted-window attention: up and left by s
    reference=lambda x, shift_size: torch.roll(x, shifts=(-shift_size, -shift_size), dims=(1, 2)),
    public=lambda: [
        Case((arange(1, 4, 4, 1), 1), "x of shape (1, 4, 4, 1) holding 0..15, shift_size=1"),
        # a batch of 3 rolled by 2 is not the batch unchanged: rolling axis 0 shows in the output
        Case((Draw(0).randn(3, 6, 8, 3), 2)),
    ],
    hidden=_cyclic_shift_hidden,
    hint="torch.roll(x, shifts=(-s, -s), dims=(1, 2)): the rows and columns of a (B, H, W, C) map are axes 1 "
    "and 2, and the forward shift moves the content up and to the left.",
    pitfalls=(
        Pitfall("rolled the wrong way: Swin's forward shift is by (-s, -s), moving the content up and left; "
                "(+s, +s) is the roll back after attention", lambda x, s: torch.roll(x, (s, s), dims=(1, 2))),
        # Each names the axes whose roll shows in the output. The one-axis mistakes come first: rolling an axis of
        # size 1 (a batch of one, one channel) changes nothing, so dims=(0, 1) then gives dims=1's output.
        Pitfall("the rows (axis 1) moved but the columns (axis 2) did not: roll both, dims=(1, 2)",
                lambda x, s: torch.roll(x, -s, dims=1)),
        Pitfall("the columns (axis 2) moved but the rows (axis 1) did not: roll both, dims=(1, 2)",
                lambda x, s: torch.roll(x, -s, dims=2)),
        Pitfall("rolled axes 0 and 1, the batch and the rows: a (B, H, W, C) map has its rows on axis 1 and its "
                "columns on axis 2", lambda x, s: torch.roll(x, (-s, -s), dims=(0, 1))),
        Pitfall("rolled axes 2 and 3, the columns and the channels: a (B, H, W, C) map has its rows on axis 1 and "
                "its columns on axis 2", lambda x, s: torch.roll(x, (-s, -s), dims=(2, 3))),
    ),
)


_MASK_PUBLIC = [(4, 4, 2, 1), (8, 8, 4, 2), (6, 9, 3, 1)]


def _mask_hidden(d: Draw) -> list[Case]:
    cases = []
    while len(cases) < 3:
        M = d.size(2, 5)
        args = (M * d.size(1, 3), M * d.size(1, 3), M, d.size(1, M - 1))
        if args not in _MASK_PUBLIC:
            cases.append(Case(args))
    return cases


def _nothing_masked(height, width, window_size, shift_size):
    nW = (height // window_size) * (width // window_size)
    return torch.zeros(nW, window_size**2, window_size**2)


def _mask_of_infinities(height, width, window_size, shift_size):
    mask = shifted_window_mask(height, width, window_size, shift_size)
    return mask.masked_fill(mask != 0, float("-inf"))


add_task(
    name="shifted_window_mask",
    notebook=NB04,
    points=3,
    helpers=(window_partition,),
    params=("height", "width", "window_size", "shift_size"),
    reference=shifted_window_mask,
    public=lambda: [Case(args) for args in _MASK_PUBLIC],
    hidden=_mask_hidden,
    hint="Label an (H, W) map with 9 regions: on each axis, slices (0, -M), (-M, -s), (-s, None) get labels "
    "0, 1, 2, and a pixel's region is 3 * row label + column label. Partition the label map into windows, "
    "flatten each to M*M labels, and put 0 where two labels are equal and -100 elsewhere: (nW, M*M, M*M), float.",
    pitfalls=(
        Pitfall("nothing is masked: after the cyclic shift, a window at the bottom or right edge holds pixels from "
                "opposite sides of the image, which must not attend to each other", _nothing_masked),
        Pitfall("a blocked pair gets -inf; Swin adds -100 (a large negative value that keeps the softmax finite)",
                _mask_of_infinities),
    ),
)
