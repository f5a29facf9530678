"""Padding before or after the cyclic shift: which rows share a window and a region, by hand and as the
libraries' own blocks behave (change one token, see which rows' outputs move), and the figure that draws it."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from timm.models.swin_transformer import SwinTransformerBlock as TimmBlock  # noqa: E402

from minivit.models.swin import WindowAttention  # noqa: E402
from minivit.viz.padding import PAD, padded_rows, plot_padding_orders  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def test_rows_of_a_64_row_map_in_windows_of_7_shifted_by_3():
    data = padded_rows(64, 7, 3)
    # pad rows 64-69, then roll up by 3: rows 3..63, the six padding rows, then 0, 1, 2 at the bottom
    assert data["pad, then roll"]["rows"].tolist() == list(range(3, 64)) + [PAD] * 6 + [0, 1, 2]
    # roll the 64 rows up by 3 (0, 1, 2 go to the bottom of the image), then pad six rows below
    assert data["roll, then pad"]["rows"].tolist() == list(range(3, 64)) + [0, 1, 2] + [PAD] * 6
    # the mask's bands on the padded 70 rows: cut at 70 - 7 = 63 and 70 - 3 = 67, in both orders
    for d in data.values():
        assert d["regions"].tolist() == [0] * 63 + [1] * 4 + [2] * 3
        assert d["windows"].tolist() == [w for w in range(10) for _ in range(7)]
    assert data["pad, then roll"]["partners"] == [0, 1, 2] and data["pad, then roll"]["padding_partners"] == 0
    assert data["roll, then pad"]["partners"] == [0, 1, 59, 60, 61, 62, 63]
    assert data["roll, then pad"]["padding_partners"] == 0


def test_padding_partners():
    # pad, then roll: rows 59-63 share window 8 and region 0 with two padding rows; roll, then pad: row 2 is alone
    # with padding in window 9 (positions 63-66 form region 1)
    assert padded_rows(64, 7, 3, query_row=59)["pad, then roll"]["padding_partners"] == 2
    timm_order = padded_rows(64, 7, 3, query_row=2)["roll, then pad"]
    assert timm_order["partners"] == [2] and timm_order["padding_partners"] == 3


def changed_rows(block, height, width, channels, row):
    torch.manual_seed(0)
    x = torch.randn(1, height, width, channels)
    nudged = x.clone()
    nudged[0, row, 0] += torch.randn(channels)  # not a constant: a LayerNorm would remove it
    with torch.no_grad():
        change = (block(nudged) - block(x)).abs().amax(dim=(0, 2, 3))  # (H,)
    return (change > 1e-6).nonzero().flatten().tolist()


@pytest.mark.parametrize("height, row", [(9, 0), (9, 1), (10, 7)])
def test_partners_are_the_rows_the_libraries_blocks_mix(height, row):
    M, s, C = 4, 2, 8
    data = padded_rows(height, M, s, query_row=row)
    torch.manual_seed(1)
    ours = WindowAttention(C, num_heads=2, window_size=M, shift_size=s)
    theirs_tv = torchvision.models.swin_transformer.SwinTransformerBlock(C, 2, [M, M], [s, s]).eval()
    theirs_timm = TimmBlock(C, input_resolution=(height, M), num_heads=2, window_size=M, shift_size=s).eval()
    assert changed_rows(ours, height, M, C, row) == data["pad, then roll"]["partners"]
    assert changed_rows(theirs_tv, height, M, C, row) == data["pad, then roll"]["partners"]
    assert changed_rows(theirs_timm, height, M, C, row) == data["roll, then pad"]["partners"]


def test_figure_draws_every_position_in_order():
    fig = plot_padding_orders(9, 4, 2, query_row=0)
    left, right = fig.axes[:2]
    # by hand, H = 9, M = 4, s = 2: padded to 12. Pad then roll: rows 2..8, three pads, 0, 1.
    # Roll then pad: rows 2..8, 0, 1, three pads.
    assert [t.get_text() for t in with_gid(left.texts, "row")] == [str(r) for r in range(2, 9)] + ["pad"] * 3 + ["0", "1"]
    assert [t.get_text() for t in with_gid(right.texts, "row")] == [str(r) for r in range(2, 9)] + ["0", "1"] + ["pad"] * 3
    for ax in (left, right):
        assert len(with_gid(ax.patches, "padding")) == 3
        assert ax.images[0].get_array().tolist() == [[0] * 4, [0] * 4, [1, 1, 2, 2]]  # bands cut at 12-4 and 12-2
    # row 0, left: window 2's region 2 with row 1; right: window 1 (all region 0) with rows 6, 7, 8
    assert len(with_gid(left.patches, "partner")) == 2 and "row 0 attends to rows 0-1\n" in left.get_title() + "\n"
    assert len(with_gid(right.patches, "partner")) == 4 and "row 0 attends to rows 0, 6-8" in right.get_title()
    assert "pad, then roll (minivit, torchvision)" in left.get_title()
    assert "roll, then pad (timm)" in right.get_title()


@pytest.mark.parametrize("kwargs, message", [
    (dict(height=64, window_size=7, shift_size=7), "shift_size must be smaller"),
    (dict(height=64, window_size=7, shift_size=0), "shift_size"),
    (dict(height=64, window_size=7, shift_size=3, query_row=64), r"query_row must be a row in \[0, 64\)"),
    (dict(height=5, window_size=7, shift_size=3), "more than one window"),
])
def test_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        padded_rows(**kwargs)


def test_the_figure_names_its_colours_row_bands():
    fig = plot_padding_orders(64, 7, 3)
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[:3] == [f"row band {k} of the shift mask" for k in range(3)]
    assert texts[-1] == "same window and row band as row 0"
