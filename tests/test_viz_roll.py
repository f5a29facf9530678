"""minivit.viz.roll (the cyclic shift drawn as the Swin paper's Figure 4) and plot_window_masks' region
options: every strip and every heatmap checked against torch.roll and shifted_window_mask."""

import numpy as np
import pytest
import torch

from minivit import shift_region_labels, shifted_window_mask, window_partition
from minivit.viz.roll import cyclic_shift_strips, plot_cyclic_shift
from minivit.viz.windows import plot_window_masks


def boxes(ax, name):
    found = [p for p in ax.patches if p.get_gid() == f"strip-{name}"]
    assert len(found) == 1
    p = found[0]
    return (p.get_y() + 0.5, p.get_x() + 0.5, p.get_y() + p.get_height() - 0.5, p.get_x() + p.get_width() - 0.5)


@pytest.mark.parametrize("H, W, M, s", [(8, 8, 4, 2), (12, 8, 4, 1), (6, 9, 3, 1), (14, 14, 7, 3)])
def test_strips_land_where_torch_roll_puts_them(H, W, M, s):
    before, after = cyclic_shift_strips(H, W, s)
    assert torch.equal(after, torch.roll(before, (-s, -s), (0, 1)))
    # hand-worked: A is the s x s corner, B the rest of the top rows, C the rest of the left columns
    assert (before[:s, :s] == 1).all() and (before[:s, s:] == 2).all() and (before[s:, :s] == 3).all()
    assert (before[s:, s:] == 0).all()
    fig = plot_cyclic_shift(H, W, M, s)
    np.testing.assert_array_equal(fig.axes[0].get_images()[-1].get_array(), before.numpy())
    np.testing.assert_array_equal(fig.axes[1].get_images()[-1].get_array(), after.numpy())
    # after the roll: A at the bottom-right corner, B along the bottom, C along the right edge
    assert boxes(fig.axes[1], "A") == (H - s, W - s, H - 1, W - 1)
    assert boxes(fig.axes[1], "B") == (H - s, 0, H - 1, W - s - 1)
    assert boxes(fig.axes[1], "C") == (0, W - s, H - s - 1, W - 1)
    assert boxes(fig.axes[0], "A") == (0, 0, s - 1, s - 1)
    assert [p.get_gid() for p in fig.patches] == ["roll-arrow"]
    assert len([p for p in fig.axes[1].patches if p.get_gid() == "window"]) == (H // M) * (W // M)


def test_cyclic_shift_refuses_no_shift():
    with pytest.raises(ValueError, match="shift_size"):
        plot_cyclic_shift(8, 8, 4, 0)
    with pytest.raises(ValueError, match="shift_size"):
        cyclic_shift_strips(8, 8, 8)


@pytest.mark.parametrize("H, W, M, s", [(8, 8, 4, 2), (16, 16, 4, 2), (12, 8, 4, 1), (6, 9, 3, 1)])
def test_masks_sorted_by_region_are_block_diagonal(H, W, M, s):
    fig = plot_window_masks(H, W, M, s, sort_by_region=True)
    mask = shifted_window_mask(H, W, M, s)
    labels = window_partition(shift_region_labels(H, W, M, s)[None, :, :, None], M).reshape(-1, M * M)
    heatmaps = [ax for ax in fig.axes if ax.get_images()]
    assert len(heatmaps) == mask.shape[0]
    for w, ax in enumerate(heatmaps):
        order = torch.argsort(labels[w], stable=True)
        drawn = np.asarray(ax.get_images()[0].get_array())
        np.testing.assert_array_equal(drawn, mask[w][order][:, order].numpy())
        sorted_labels = labels[w][order]
        block = (sorted_labels[:, None] == sorted_labels[None, :]).numpy()
        np.testing.assert_array_equal(drawn == 0, block)  # allowed exactly inside the diagonal blocks
        assert [int(t.get_text()) for t in ax.get_xticklabels()] == sorted_labels.unique().tolist()


def test_masks_labelled_by_region_keep_token_order():
    fig = plot_window_masks(8, 8, 4, 2, label_regions=True)
    mask = shifted_window_mask(8, 8, 4, 2)
    labels = window_partition(shift_region_labels(8, 8, 4, 2)[None, :, :, None], 4).reshape(-1, 16)
    for w, ax in enumerate(fig.axes[:4]):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), mask[w].numpy())
        assert [int(t.get_text()) for t in ax.get_yticklabels()] == labels[w].tolist()
