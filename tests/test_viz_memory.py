"""The memory figure draws one tensor's storage as a strip and, above and below it, the order in which x and
its channels-last view read that storage: the addresses come from stride() and storage_offset(), and the
steps between neighbours are +1 for x and +H*W, then back, for x.permute(0, 2, 3, 1)."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from minivit.viz._common import categorical  # noqa: E402
from minivit.viz.memory import VIEWS, addresses, memory_order, plot_memory_order  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def test_addresses_of_views_and_slices():
    base = torch.arange(24).reshape(2, 3, 4)
    for t in (base, base.permute(2, 0, 1), base.transpose(0, 2), base[:, 1:, ::2], base[1], base.expand(3, 2, 3, 4)):
        # base holds 0, 1, 2, ... in memory order, so the value read is its address
        assert addresses(t).tolist() == t.flatten().tolist()
    assert addresses(base[1, 2:]).tolist() == [20, 21, 22, 23]  # a storage offset of 20


def test_memory_order_by_hand():
    order = memory_order(2, 2, 3)
    assert order["x"].tolist() == list(range(12))
    assert order["x_last"].tolist() == [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]  # pixel by pixel, its 2 channels
    assert (order["x_last"][1:] - order["x_last"][:-1]).tolist() == [6, -5] * 5 + [6]


@pytest.mark.parametrize("channels, height, width", [(2, 2, 3), (3, 2, 2), (1, 3, 3)])
def test_figure_draws_memory_and_both_reading_orders(channels, height, width):
    fig = plot_memory_order(channels, height, width)
    ax = fig.axes[0]
    n, plane = channels * height * width, height * width
    x = torch.arange(n).reshape(1, channels, height, width)
    x_last = x.permute(0, 2, 3, 1)
    colours = categorical(channels).colors
    expected = {"memory": list(range(n)), "x": x.flatten().tolist(), "x_last": x_last.flatten().tolist()}
    for name, values in expected.items():
        assert [int(t.get_text()) for t in with_gid(ax.texts, f"{name}-value")] == values, name
        cells = with_gid(ax.patches, f"{name}-cell")
        assert [c.get_facecolor() for c in cells] == [to_rgba(colours[v // plane]) for v in values], name
    memory_left = {int(t.get_text()): c.get_x() for t, c in zip(with_gid(ax.texts, "memory-value"),
                                                                with_gid(ax.patches, "memory-cell"))}
    for view, t in zip(VIEWS, (x, x_last)):
        cells = with_gid(ax.patches, f"{view}-cell")
        arrows = with_gid(ax.patches, f"{view}-arrow")
        assert len(arrows) == n
        for cell, arrow_, value in zip(cells, arrows, t.flatten().tolist()):
            shaft = arrow_.get_path().vertices  # data coordinates: the start, a control point, the tip, the head
            assert shaft[0, 0] == pytest.approx(cell.get_x() + 0.5)
            assert shaft[2, 0] == pytest.approx(memory_left[value] + 0.5, abs=0.1)  # to the cell it is read from
        steps = [int(s.get_text()) for s in with_gid(ax.texts, f"{view}-step")]
        offsets = t.flatten()
        assert steps == (offsets[1:] - offsets[:-1]).tolist()
    assert set(int(s.get_text()) for s in with_gid(ax.texts, "x-step")) <= {1}
    captions = [t.get_text() for t in with_gid(ax.texts, "caption")]
    assert captions[0].startswith(f"x: shape {tuple(x.shape)}, strides {x.stride()}") and "view works" in captions[0]
    if channels > 1:
        assert f"strides {x_last.stride()}" in captions[1] and "view fails" in captions[1]
        assert f"+{plane}, -{(channels - 1) * plane - 1}" in captions[1]


def test_two_channels_of_two_by_three_show_plus_six_minus_five():
    ax = plot_memory_order(2, 2, 3).axes[0]
    assert [t.get_text() for t in with_gid(ax.texts, "x_last-step")] == ["+6", "-5"] * 5 + ["+6"]
    assert "(12, 3, 1, 6)" in [t.get_text() for t in with_gid(ax.texts, "caption")][1]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(channels=0), ValueError, "channels must be in 1..4"),
    (dict(width=4), ValueError, "width must be in 1..3"),
    (dict(height=2.0), TypeError, "height must be an int"),
])
def test_rejects_bad_sizes(kwargs, error, message):
    with pytest.raises(error, match=message):
        plot_memory_order(**kwargs)
