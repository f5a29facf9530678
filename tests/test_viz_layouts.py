"""The layouts figure draws the numbers of one small tensor in the order each layout holds them, each cell
coloured by the channel its value came from; the reshape mistake draws the same shape with scrambled rows.
The batch-mixing figure draws which images of a batch reach which outputs of nn.MultiheadAttention."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from minivit import patchify  # noqa: E402
from minivit.viz._common import categorical  # noqa: E402
from minivit.viz.layouts import (  # noqa: E402
    MIXING,
    PANELS,
    batch_mixing,
    plot_batch_mixing,
    plot_tensor_layouts,
    tensor_layouts,
)


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def test_tensor_layouts_by_hand():
    layouts = tensor_layouts(3, 2, 2)
    assert layouts["bchw"].shape == (1, 3, 2, 2) and layouts["bhwc"].shape == (1, 2, 2, 3)
    # pixel (i, j) holds channel c's value 4c + 2i + j; a token is one pixel's 3 channels, row-major
    assert layouts["bnc"][0].tolist() == [[0, 4, 8], [1, 5, 9], [2, 6, 10], [3, 7, 11]]
    assert torch.equal(layouts["bnc"], patchify(torch.arange(12).reshape(1, 3, 2, 2), 1))
    assert torch.equal(layouts["bnc"], layouts["bhwc"].reshape(1, 4, 3))
    assert layouts["wrong"][0].tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]  # memory order


@pytest.mark.parametrize("channels, height, width", [(3, 2, 2), (2, 1, 3)])
def test_figure_draws_every_layout_in_order_coloured_by_channel(channels, height, width):
    fig = plot_tensor_layouts(channels, height, width)
    ax = fig.axes[0]
    x = torch.arange(channels * height * width).reshape(1, channels, height, width)
    expected = {  # written out independently: the values in the row-major order of each layout
        "bchw": x.flatten().tolist(),
        "bhwc": [int(x[0, c, i, j]) for i in range(height) for j in range(width) for c in range(channels)],
        "bnc": [int(x[0, c, n // width, n % width]) for n in range(height * width) for c in range(channels)],
        "wrong": list(range(channels * height * width)),
    }
    colours = categorical(channels).colors
    plane = height * width
    for panel in PANELS:
        values = [int(t.get_text()) for t in with_gid(ax.texts, f"{panel}-value")]
        assert values == expected[panel], panel
        cells = with_gid(ax.patches, f"{panel}-cell")
        assert len(cells) == len(values)
        # value v sits in channel v // (H*W) of x
        assert [c.get_facecolor() for c in cells] == [to_rgba(colours[v // plane]) for v in values], panel
    assert len(with_gid(ax.patches, "pixel")) == plane  # one box around each pixel's C values


def test_figure_shows_the_mistake_mixing_channels_within_a_token():
    ax = plot_tensor_layouts(3, 2, 2).axes[0]
    colours = categorical(3).colors
    wrong = [c.get_facecolor() for c in with_gid(ax.patches, "wrong-cell")]
    rows = [set(wrong[3 * n:3 * n + 3]) for n in range(4)]
    assert rows[0] == {to_rgba(colours[0])}  # token 0: three values of channel 0
    assert rows[1] == {to_rgba(colours[0]), to_rgba(colours[1])}  # token 1: channels 0 and 1 mixed
    captions = [t.get_text() for t in with_gid(ax.texts, "caption")]
    assert captions[0] == "x: (B, C, H, W) = (1, 3, 2, 2)"
    assert "(B, H, W, C) = (1, 2, 2, 3)" in captions[1]
    assert captions[2].endswith("(B, N, C) = (1, 4, 3)") and captions[3].endswith("(B, N, C) = (1, 4, 3)")
    assert "reshape" in captions[3] and "transpose" in captions[2]


@pytest.mark.parametrize("channels, height, width", [(2, 2, 3), (3, 3, 2)])
def test_channels_last_panel_draws_one_separate_box_per_pixel(channels, height, width):
    ax = plot_tensor_layouts(channels, height, width).axes[0]
    boxes = with_gid(ax.patches, "pixel")
    assert len(boxes) == height * width
    names = [t.get_text() for t in with_gid(ax.texts, "pixel-label")]
    assert names == [f"pixel ({i}, {j})" for i in range(height) for j in range(width)]
    x = torch.arange(channels * height * width).reshape(channels, height, width)
    cells = with_gid(ax.patches, "bhwc-cell")
    values = [int(t.get_text()) for t in with_gid(ax.texts, "bhwc-value")]
    for n, pixel in enumerate(boxes):  # each box holds exactly its pixel's C values, one per channel
        i, j = divmod(n, width)
        inside = [v for cell, v in zip(cells, values) if pixel.contains_point(
            ax.transData.transform((cell.get_x() + 0.5, cell.get_y() + 0.5)))]
        assert inside == x[:, i, j].tolist()
        assert (pixel.get_width(), pixel.get_height()) == (channels, 1)
    # boxes are apart both ways: a gap between neighbours along a row and along a column
    lefts = sorted({b.get_x() for b in boxes})
    tops = sorted({b.get_y() for b in boxes})
    assert len(lefts) == width and len(tops) == height
    assert all(b - a > channels for a, b in zip(lefts, lefts[1:]))
    assert all(b - a > 1 for a, b in zip(tops, tops[1:]))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(channels=0), ValueError, "channels must be in 1..4"),
    (dict(height=5), ValueError, "height must be in 1..3"),
    (dict(width=2.0), TypeError, "width must be an int"),
    (dict(channels=True), TypeError, "channels must be an int"),
])
def test_rejects_bad_sizes(kwargs, error, message):
    with pytest.raises(error, match=message):
        plot_tensor_layouts(**kwargs)


@pytest.mark.parametrize("batch, channels, height, width", [(4, 8, 3, 3), (2, 3, 1, 4)])
def test_batch_mixing_only_batch_first_tokens_keep_the_images_apart(batch, channels, height, width):
    reach = batch_mixing(batch, channels, height, width)
    assert list(reach) == list(MIXING)
    everything = torch.ones(batch, batch, dtype=torch.bool)
    assert torch.equal(reach["flatten"], everything)  # one sequence of B tokens: every image attends to every other
    assert torch.equal(reach["sequence first"], everything)  # (B, N, C) read as (N, B, C): the same
    assert torch.equal(reach["batch first"], torch.eye(batch, dtype=torch.bool))


def test_batch_mixing_leaves_the_callers_random_numbers_alone():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    batch_mixing()
    assert torch.equal(torch.rand(3), expected)


def test_batch_mixing_figure_draws_the_reach_red_where_images_mix():
    fig = plot_batch_mixing(3, 2, 2, 2)
    reach = batch_mixing(3, 2, 2, 2)
    other = ~torch.eye(3, dtype=torch.bool)
    for ax, way in zip(fig.axes, MIXING):
        expected = reach[way].float() * (1 + other.float())  # 1: its own image, 2: another image
        np.testing.assert_array_equal(np.asarray(ax.get_images()[0].get_array()), expected.numpy())
    verdicts = [t.get_text() for ax in fig.axes for t in with_gid(ax.texts, "verdict")]
    assert verdicts == ["the images of the batch mix"] * 2 + ["each image on its own"]
    assert "(3, 8)" in fig.axes[0].get_title() and "batch_first=True" in fig.axes[2].get_title()


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(batch=1), ValueError, "batch must be in 2..8"),
    (dict(height=5), ValueError, "height must be in 1..4"),
    (dict(channels=2.0), TypeError, "channels must be an int"),
])
def test_batch_mixing_rejects_bad_sizes(kwargs, error, message):
    with pytest.raises(error, match=message):
        batch_mixing(**kwargs)
