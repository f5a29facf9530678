"""The reach of one token through W-MSA, SW-MSA, patch merging and the merged map's W-MSA: measured from
gradients by minivit.viz.swin_reach, checked against the windows and regions worked out by hand, and drawn."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from minivit.viz.swin_reach import STEPS, plot_swin_reach, swin_reach  # noqa: E402


def band(i, n, M, s):
    """The region band (0, 1, 2) of position i of an axis of n after the roll, by the slices (0, -M),
    (-M, -s), (-s, None) that every reference uses."""
    return 0 if i < n - M else (1 if i < n - s else 2)


def by_hand(H, W, M, s, token, masked=True):
    """The four reach maps from window and region indices alone (H and W multiples of M); masked=False
    drops the region condition of SW-MSA (the control without the shift mask)."""
    def w_msa(r, c):
        out = np.zeros((H, W), bool)
        out[r // M * M:(r // M + 1) * M, c // M * M:(c // M + 1) * M] = True
        return out

    def sw_partners(r, c):  # tokens in the same shifted window and the same region, on the original map
        rr, cc = (r - s) % H, (c - s) % W  # where the roll by -s puts (r, c)
        out = np.zeros((H, W), bool)
        for i in range(H):
            for j in range(W):
                ri, cj = (i - s) % H, (j - s) % W
                same_window = ri // M == rr // M and cj // M == cc // M
                same_region = band(ri, H, M, s) == band(rr, H, M, s) and band(cj, W, M, s) == band(cc, W, M, s)
                out[i, j] = same_window and (same_region or not masked)
        return out

    def after_two(r, c):
        return np.any([w_msa(i, j) for i, j in zip(*np.nonzero(sw_partners(r, c)))], axis=0)

    def after_merging(mr, mc):
        return np.any([after_two(2 * mr + a, 2 * mc + b) for a in (0, 1) for b in (0, 1)], axis=0)

    r, c = token
    mr, mc = r // 2, c // 2
    merged_window = [(i, j) for i in range(H // 2) for j in range(W // 2) if i // M == mr // M and j // M == mc // M]
    return {
        "W-MSA": w_msa(r, c),
        "SW-MSA": after_two(r, c),
        "patch merging": after_merging(mr, mc),
        "W-MSA on the merged map": np.any([after_merging(i, j) for i, j in merged_window], axis=0),
    }


CASES = [(8, 8, 4, 2, (1, 2)), (8, 8, 4, 2, (3, 3)), (8, 8, 4, 2, (6, 7)), (8, 16, 4, 2, (5, 6)), (8, 12, 4, 2, (2, 9))]


@pytest.mark.parametrize("H, W, M, s, token", CASES)
def test_reach_from_gradients_equals_windows_and_regions(H, W, M, s, token):
    measured = swin_reach(H, W, M, s, token)
    expected = by_hand(H, W, M, s, token)
    assert list(measured) == list(STEPS)
    for name in STEPS:
        assert measured[name].shape == (H, W)
        np.testing.assert_array_equal(measured[name].numpy(), expected[name], err_msg=name)


def test_default_counts():
    # token (1, 2) on 8 x 8, window 4, shift 2: its window (16); SW-MSA joins rows 0-1, columns 2-5 of the
    # shifted window that wraps round the bottom, whose W-MSA windows cover rows 0-3 (32); merging adds none;
    # the merged 4 x 4 map is one window (64)
    counts = [int(m.sum()) for m in swin_reach().values()]
    assert counts == [16, 32, 32, 64]


def test_figure_draws_each_step():
    H, W, M, s, token = 8, 16, 4, 2, (5, 6)
    fig = plot_swin_reach(H, W, M, s, token)
    expected = by_hand(H, W, M, s, token)
    assert len(fig.axes) == 4
    for k, (ax, name) in enumerate(zip(fig.axes, STEPS)):
        images = [a for a in ax.get_children() if isinstance(a, AxesImage) and a.get_gid() == "reach"]
        assert len(images) == 1
        shown = np.asarray(images[0].get_array())
        own = np.zeros((H, W), bool)
        if k < 2:
            own[token] = True
        else:
            own[token[0] // 2 * 2:token[0] // 2 * 2 + 2, token[1] // 2 * 2:token[1] // 2 * 2 + 2] = True
        np.testing.assert_array_equal(shown, np.where(own, 2, expected[name].astype(int)))
        assert f"{int(expected[name].sum())} of {H * W} tokens" in ax.get_title()
        outputs = [p for p in ax.patches if p.get_gid() == "output"]
        assert len(outputs) == 1
        assert (outputs[0].get_width(), outputs[0].get_height()) == ((1, 1) if k < 2 else (2, 2))
    windows = [[p for p in ax.patches if isinstance(p, Rectangle) and p.get_gid() == "window"] for ax in fig.axes]
    assert [len(w) for w in windows] == [(H // M) * (W // M), 0, 0, 2]  # merged map 4 x 8: two windows of 4 x 4
    borders = [c for c in fig.axes[1].collections if isinstance(c, LineCollection) and c.get_gid() == "shifted border"]
    assert [len(c.get_segments()) for c in borders] == [len(range(s, H, M)), len(range(s, W, M))]
    assert fig.get_size_inches()[0] <= 9.5


def test_interior_token_reaches_both_ways_and_the_figure_gives_it_a_row():
    # token (3, 3) on 8 x 8, window 4, shift 2: rolled to (1, 1), inside shifted window 0 (rows and columns 2-5)
    # with no mask; those 16 tokens lie in all four W-MSA windows, so SW-MSA already reaches all 64
    counts = [int(m.sum()) for m in swin_reach(token=(3, 3)).values()]
    assert counts == [16, 64, 64, 64]
    fig = plot_swin_reach(token=[(1, 2), (3, 3)])
    assert len(fig.axes) == 8
    titles = [ax.get_title() for ax in fig.axes]
    assert "16 of 64 tokens" in titles[0] and "32 of 64 tokens" in titles[1] and "token (1, 2)" in titles[1]
    assert "16 of 64 tokens" in titles[4] and "64 of 64 tokens" in titles[5] and "token (3, 3)" in titles[5]
    for t, token in enumerate([(1, 2), (3, 3)]):
        expected = by_hand(8, 8, 4, 2, token)
        for k, name in enumerate(STEPS):
            images = [a for a in fig.axes[4 * t + k].get_children() if isinstance(a, AxesImage)]
            assert (np.asarray(images[0].get_array()) > 0).sum() == expected[name].sum()
    with pytest.raises(ValueError, match="non-empty list"):
        plot_swin_reach(token=[])


@pytest.mark.parametrize("H, W, M, s, token", CASES)
def test_without_the_mask_the_reach_is_the_shifted_windows_alone(H, W, M, s, token):
    measured = swin_reach(H, W, M, s, token, masked=False)
    expected = by_hand(H, W, M, s, token, masked=False)
    for name in STEPS:
        np.testing.assert_array_equal(measured[name].numpy(), expected[name], err_msg=name)
    # W-MSA runs before the mask matters: the same with and without it
    np.testing.assert_array_equal(measured["W-MSA"].numpy(), swin_reach(H, W, M, s, token)["W-MSA"].numpy())


def test_without_the_mask_token_1_2_reaches_round_the_bottom_edge():
    # token (1, 2) sits in the shifted window that wraps round the bottom edge: with the mask it attends only to
    # rows 0-1 (reach rows 0-3, 32 tokens); without it, also to rows 6-7, whose windows bring in rows 4-7 (64)
    masked, unmasked = swin_reach(token=(1, 2))["SW-MSA"], swin_reach(token=(1, 2), masked=False)["SW-MSA"]
    assert masked.any(dim=1).nonzero().flatten().tolist() == [0, 1, 2, 3]
    assert int(masked.sum()) == 32 and int(unmasked.sum()) == 64
    # token (3, 3)'s shifted window is not cut by the edge: the mask changes nothing there
    for name in STEPS:
        assert torch.equal(swin_reach(token=(3, 3))[name], swin_reach(token=(3, 3), masked=False)[name])


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(height=7), ValueError, "height and width must be even"),
    (dict(shift_size=4), ValueError, "shift_size must be smaller"),
    (dict(shift_size=0), ValueError, "shift_size"),
    (dict(window_size=2.0), TypeError, "window_size"),
    (dict(token=(8, 0)), ValueError, "token"),
    (dict(masked=0), TypeError, "masked"),
])
def test_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        swin_reach(**kwargs)
