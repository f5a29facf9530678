"""The SW-MSA pipeline diagram of notebook 04: one box per step, in the order of the paper, each labelled
with the shape worked out here by hand from H, W, C, M (never read back from the figure code). Also the
readability of notebook 04's window figures: window numbers clear of the token numbers, dashed windows
on a white line."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from minivit import viz  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


@pytest.mark.parametrize("B, H, W, C, M, s", [(1, 8, 8, 16, 4, 2), (2, 8, 12, 6, 4, 1), (1, 14, 7, 3, 7, 3)])
def test_pipeline_boxes_carry_the_shapes_of_each_step(B, H, W, C, M, s):
    fig = viz.plot_shifted_window_pipeline(H, W, C, M, s, batch=B)
    ax = fig.axes[0]
    nW, N = (H // M) * (W // M), M * M  # windows per image, tokens per window
    map_shape, window_shape = f"({B}, {H}, {W}, {C})", f"({B * nW}, {N}, {C})"
    labels = [t.get_text() for t in with_gid(ax.texts, "step-label")]
    assert len(labels) == len(with_gid(ax.patches, "step")) == 6
    expected = [  # (what the step does, the shape it outputs), top to bottom
        ("x: the map", map_shape),
        (f"torch.roll(x, shifts=({-s}, {-s})", map_shape),
        (f"window_partition(x, {M})", window_shape),
        ("softmax(q k^T / sqrt(d) + mask) v", window_shape),
        (f"window_reverse(x, {M}, {H}, {W})", map_shape),
        (f"torch.roll(x, shifts=({s}, {s})", map_shape),
    ]
    for label, (name, shape) in zip(labels, expected):
        first, last = label.splitlines()[0], label.splitlines()[-1]
        assert first.startswith(name) and last == shape, (label, name, shape)
    boxes = with_gid(ax.patches, "step")
    assert [b.get_y() for b in boxes] == sorted((b.get_y() for b in boxes), reverse=True)  # top to bottom
    # the mask: one (N, N) table per window of one image, beside the attention box and pointing into it
    (mask_label,) = with_gid(ax.texts, "mask-label")
    assert mask_label.get_text().splitlines() == [  # the call, argument names and all, then the shape
        "shifted_window_mask(", f"height={H}, width={W},", f"window_size={M}, shift_size={s})", f"({nW}, {N}, {N})"]
    (mask_arrow,) = with_gid(ax.patches, "mask-arrow")
    attention_box = boxes[3]
    (x0, y0), (x1, y1) = mask_arrow._posA_posB
    assert x1 < x0 and x1 == pytest.approx(attention_box.get_x() + attention_box.get_width(), abs=0.05)
    assert y0 == y1 == pytest.approx(attention_box.get_y() + attention_box.get_height() / 2)


@pytest.mark.parametrize("args, kwargs, error, message", [
    ((8, 8, 16, 4, 4), {}, ValueError, "shift_size must be smaller than window_size"),
    ((9, 8, 16, 4, 2), {}, ValueError, "multiple of window height"),
    ((8, 8, 16.0, 4, 2), {}, TypeError, "channels must be an int, got float"),
    ((8, 8, 16, 4, 2), {"batch": 0}, ValueError, "batch must be at least 1, got 0"),
])
def test_pipeline_checks_its_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        viz.plot_shifted_window_pipeline(*args, **kwargs)


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
