"""Notebook 04's window figures: window numbers clear of the token numbers, dashed windows on a white line
or inset so that two never merge into one solid line; the padded map against the rolled one; a token's
reach over block pairs, worked out here by hand."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from minivit import viz  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


@pytest.mark.parametrize("H, W, M, s", [(8, 8, 4, 2), (6, 9, 3, 1)])
def test_window_numbers_sit_on_corners_between_token_numbers(H, W, M, s):
    fig = viz.plot_windows(H, W, M, s)
    for ax in fig.axes[:3]:
        tokens = {t.get_position() for t in with_gid(ax.texts, "token")}
        assert len(tokens) == H * W  # a number on every cell centre (j, i)
        badges = with_gid(ax.texts, "window-number")
        assert badges
        for badge in badges:
            x, y = badge.get_position()
            assert x % 1 == 0.5 and y % 1 == 0.5  # between cells, never on a token's number
    # 8 x 8, window 4, shift 2, middle panel: the corner pieces of window 3 are 2 x 2, numbered at their
    # centres; the middle window 0 at (3.5, 3.5)
    if (H, W, M, s) == (8, 8, 4, 2):
        spots = sorted((int(t.get_text()), t.get_position()) for t in with_gid(fig.axes[1].texts, "window-number"))
        assert spots[0] == (0, (3.5, 3.5))
        assert sorted(p for k, p in spots if k == 3) == [(0.5, 0.5), (0.5, 6.5), (6.5, 0.5), (6.5, 6.5)]


def test_dashed_windows_of_the_regions_figure_lie_on_a_white_line():
    fig = viz.plot_shift_regions(16, 16, 4, 2)
    right = fig.axes[1]
    pieces, halos = with_gid(right.patches, "piece"), with_gid(right.patches, "piece-halo")
    # 16 windows of the shifted map: 9 whole, 6 cut in two, 1 in four = 25 pieces on the original map
    assert len(pieces) == len(halos) == 9 + 6 * 2 + 4
    for piece, halo in zip(pieces, halos):
        assert halo.get_xy() == piece.get_xy() and (halo.get_width(), halo.get_height()) == (piece.get_width(), piece.get_height())
        assert halo.get_edgecolor()[:3] == (1.0, 1.0, 1.0) and halo.get_linestyle() == "solid"
        assert piece.get_linestyle() == "--" and halo.get_linewidth() > piece.get_linewidth()
    order = right.patches[:]
    assert all(order.index(h) < order.index(p) for p, h in zip(pieces, halos))  # the white line underneath


def test_neighbouring_dashed_pieces_never_touch():
    fig = viz.plot_windows(8, 8, 4, 2)
    pieces = with_gid(fig.axes[1].patches, "piece")
    boxes = [(p.get_x(), p.get_y(), p.get_x() + p.get_width(), p.get_y() + p.get_height()) for p in pieces]
    for k, (x0, y0, x1, y1) in enumerate(boxes):
        assert x0 % 1 == pytest.approx(0.6) and y0 % 1 == pytest.approx(0.6)  # inset 0.1 from the border at -0.5 + n
        for m, (u0, v0, u1, v1) in enumerate(boxes):
            if k != m:  # a gap between any two outlines, along both axes or one
                assert x1 < u0 or u1 < x0 or y1 < v0 or v1 < y0


def test_padded_map_hand_worked_8x8():
    fig = viz.plot_padded_windows(8, 8, 4, 2)
    padded, rolled = fig.axes[:2]
    # 8 x 8 padded by M - s = 2 top and left, s = 2 bottom and right: 12 x 12, 3 x 3 windows, 144 - 64 = 80 padding
    assert len(with_gid(padded.patches, "window")) == 9 and len(with_gid(padded.patches, "padding")) == 80
    assert len(with_gid(rolled.patches, "window")) == 4 and not with_gid(rolled.patches, "padding")
    tokens = {(t.get_position()[1], t.get_position()[0]): int(t.get_text()) for t in with_gid(padded.texts, "token")}
    assert sorted(tokens.values()) == list(range(64)) and tokens[(2, 2)] == 0 and tokens[(9, 9)] == 63
    (outline,) = with_gid(padded.patches, "map")  # the original map sits inside the padding
    assert outline.get_xy() == (1.5, 1.5) and (outline.get_width(), outline.get_height()) == (8, 8)
    # each padded window is numbered by the shifted window it holds a piece of: the four corner pieces (tokens
    # 0, 1, 8, 9 top left) are shifted window 3, the middle one (tokens 18 ... 45) window 0, as on the rolled map
    badges = {t.get_position(): int(t.get_text()) for t in with_gid(padded.texts, "window-number")}
    assert badges[(2.5, 2.5)] == 3 and badges[(5.5, 5.5)] == 0
    assert sorted(badges.values()) == [0, 1, 1, 2, 2, 3, 3, 3, 3]
    rolled_badges = sorted(int(t.get_text()) for t in with_gid(rolled.texts, "window-number"))
    assert rolled_badges == [0, 1, 2, 3]


def test_padded_map_needs_a_shift():
    with pytest.raises(ValueError, match="shift_size must be at least 1"):
        viz.plot_padded_windows(8, 8, 4, 0)


def test_block_pair_reach_of_a_corner_hand_worked():
    # 8 x 8, M = 4, s = 2: token (0, 0)'s shifted window is the 2 x 2 corner piece, inside W-MSA window 0, so
    # after one pair it depends on window 0 only; after two, window 0's tokens have reached everything
    reach = viz.block_pair_reach(8, 8, 4, 2, (0, 0), pairs=2)
    window0 = torch.zeros(8, 8, dtype=torch.bool)
    window0[:4, :4] = True
    assert torch.equal(reach[0], window0) and reach[1].all()
    # the middle token (3, 3): its shifted window is the middle block, across all four W-MSA windows
    assert viz.block_pair_reach(8, 8, 4, 2, (3, 3), pairs=1)[0].all()
    # 16 x 16: the corner reaches 4^2, 8^2, 12^2, 16^2 tokens, one more window row and column per pair
    counts = [int(r.sum()) for r in viz.block_pair_reach(16, 16, 4, 2, 0, pairs=4)]
    assert counts == [16, 64, 144, 256]


def test_block_pair_reach_figure_and_its_checks():
    fig = viz.plot_block_pair_reach(8, 8, 4, 2, (0, 0), pairs=2)
    images = [im for ax in fig.axes for im in ax.images if im.get_gid() == "reach"]
    assert len(images) == 2
    first = images[0].get_array()
    assert first[0, 0] == 2 and (first[:4, :4] >= 1).all() and first.sum() == 15 + 2
    assert "16 of 64" in fig.axes[0].get_title() and "64 of 64" in fig.axes[1].get_title()
    # the shifted windows are inset and in another colour than the regular ones, which cross them
    pieces = [p for p in fig.axes[0].patches if p.get_gid() == "piece"]
    windows = [p for p in fig.axes[0].patches if p.get_gid() == "window"]
    assert len(pieces) == 9 and len(windows) == 4
    assert {p.get_edgecolor() for p in pieces}.isdisjoint({w.get_edgecolor() for w in windows})
    assert all(p.get_x() % 1 == pytest.approx(0.6) for p in pieces)
    # every piece carries its shifted window's number: 0 in the middle, the four corner pieces 3
    badges = {t.get_position(): int(t.get_text()) for t in fig.axes[0].texts if t.get_gid() == "shifted-number"}
    assert sorted(badges.values()) == [0, 1, 1, 2, 2, 3, 3, 3, 3]
    assert badges[(3.5, 3.5)] == 0 and badges[(0.5, 0.5)] == badges[(6.5, 6.5)] == 3
    with pytest.raises(ValueError, match="pairs must be at least 1, got 0"):
        viz.block_pair_reach(8, 8, 4, 2, 0, pairs=0)
    with pytest.raises(TypeError, match="pairs must be an int, got float"):
        viz.block_pair_reach(8, 8, 4, 2, 0, pairs=2.0)
