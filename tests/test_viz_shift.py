"""The roll-difference maps: zero where a module commutes with torch.roll, nonzero where it does not."""

import matplotlib

matplotlib.use("Agg")

import copy  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from minivit.viz import plot_roll_differences, roll_difference  # noqa: E402


def conv(padding_mode):
    torch.manual_seed(0)
    return nn.Conv2d(2, 3, 3, padding=1, padding_mode=padding_mode, bias=False).eval()


def test_roll_difference_is_zero_for_circular_padding_and_marks_borders_and_seam_for_zeros():
    x = torch.randn(1, 2, 10, 10)
    assert roll_difference(conv("circular"), x, 1).max() < 1e-6
    diff = roll_difference(conv("zeros"), x, 1)
    assert diff.shape == (10, 10)
    # one 3x3 conv reaches 1 pixel: the top border (row 0) and the seam (rows 0-1 meet at 0.5) and the bottom
    # border (row 9) differ; rows 2 to 8 and columns 2 to 8 do not
    assert diff[2:9, 2:9].max() < 1e-6
    assert (diff[[0, 1, 9]] > 1e-3).any(dim=1).all() and (diff[:, [0, 1, 9]] > 1e-3).any(dim=0).all()


def test_plot_roll_differences_draws_each_map_masked_below_1e_5():
    x = torch.randn(1, 2, 10, 10)
    modules = {"zeros": conv("zeros"), "circular": conv("circular")}
    fig = plot_roll_differences(modules, x, shift=1, margin=1)  # row 1, next to the seam, differs
    panels = fig.axes[:2]
    shown = panels[0].images[0].get_array()
    np.testing.assert_allclose(shown.filled(0), np.where(shown.mask, 0, roll_difference(modules["zeros"], x, 1)))
    assert panels[1].images[0].get_array().mask.all()  # circular: all below 1e-5, grey
    assert panels[0].get_title().startswith("zeros\ninterior (dashed): largest")
    assert panels[1].get_title() == "circular\ninterior (dashed): below 1e-5"
    seams = [line for line in panels[0].lines if line.get_gid() == "seam"]
    assert len(seams) == 2
    assert [p for p in panels[0].patches if p.get_gid() == "interior"][0].get_width() == 8


@pytest.mark.parametrize("kwargs, message", [
    (dict(modules={}), "at least one"),
    (dict(shift=0), "shift must lie"),
    (dict(margin=5), "margin below"),
    (dict(x=torch.zeros(2, 2, 10, 10)), r"shape \(1, C, H, W\)"),
])
def test_plot_roll_differences_rejects_bad_arguments(kwargs, message):
    args = dict(modules={"zeros": conv("zeros")}, x=torch.zeros(1, 2, 10, 10), shift=1, margin=2) | kwargs
    with pytest.raises(ValueError, match=message):
        plot_roll_differences(**args)


def test_roll_difference_rejects_a_module_that_changes_the_size():
    with pytest.raises(ValueError, match="keep the map's size"):
        roll_difference(copy.deepcopy(nn.MaxPool2d(2)), torch.zeros(1, 2, 10, 10), 1)
