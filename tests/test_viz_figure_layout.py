"""Notebook 04's regions figure and cost plot lay out cleanly: the figure's title clear of the panels' titles,
each panel's title no wider than its panel, the cost plot's label box clear of both cost lines. Measured on the
drawn figure (matplotlib's renderer, display pixels at dpi 100), not read from the drawing code."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from minivit import viz  # noqa: E402


def drawn(fig):
    fig.set_dpi(100)
    fig.draw_without_rendering()
    return fig._get_renderer()


@pytest.mark.parametrize("size, window, shift", [(8, 8 // 2, 2), (16, 4, 2), (4, 2, 1)])
def test_regions_figure_titles_do_not_crowd(size, window, shift):
    fig = viz.plot_shift_regions(size, size, window, shift)
    renderer = drawn(fig)
    top = fig._suptitle.get_window_extent(renderer)
    assert fig._suptitle.get_text().count("\n") == 0  # one line above the panels
    titles = [ax.title.get_window_extent(renderer) for ax in fig.axes[:2]]
    for ax, box in zip(fig.axes[:2], titles):
        panel = ax.get_window_extent(renderer)
        assert box.width <= panel.width + 1, ax.get_title()  # no wider than its panel
        assert top.y0 - box.y1 >= 10, (top, box)  # at least 10 px (0.1 inch) below the figure's title
    assert not titles[0].overlaps(titles[1])
    # the left title names the roll that made the shifted map: torch.roll by -s on both axes
    assert fig.axes[0].get_title().splitlines()[1].startswith(f"(torch.roll by ({-shift}, {-shift}))")


def line_points(line, renderer, steps=200):
    """Display coordinates of a Line2D, with `steps` points on every segment (the segments count, not only
    the markers)."""
    xy = line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
    t = np.linspace(0, 1, steps)[:, None, None]
    return (xy[:-1] + t * (xy[1:] - xy[:-1])).reshape(-1, 2)


@pytest.mark.parametrize("kwargs", [dict(channels=96, window_size=7), dict(channels=32, window_size=4, mark=None),
                                    dict(channels=768, window_size=7, mark=14)])
def test_cost_label_box_is_clear_of_both_lines(kwargs):
    fig = viz.plot_attention_cost(**kwargs)
    renderer = drawn(fig)
    ax = fig.axes[1]
    (label,) = [t for t in ax.texts if t.get_gid() == "ratio"]
    box = label.get_bbox_patch().get_window_extent(renderer)
    msa, wmsa = ax.get_lines()[:2]
    for line in (msa, wmsa):
        points = line_points(line, renderer)
        inside = ((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1) & (points[:, 1] >= box.y0)
                  & (points[:, 1] <= box.y1))
        assert not inside.any(), f"the label box {box} sits on {line.get_label()!r}"
    assert ax.get_window_extent(renderer).contains(box.x0, box.y0) and ax.get_window_extent(renderer).contains(
        box.x1, box.y1)  # inside the axes


def test_cost_label_points_at_w_msa_at_the_marked_side():
    fig = viz.plot_attention_cost(channels=96, window_size=7)
    (label,) = [t for t in fig.axes[1].texts if t.get_gid() == "ratio"]
    hw, C, M = 56 * 56, 96, 7
    assert label.xy == (hw, 4 * hw * C**2 + 2 * M**2 * hw * C)  # the Swin paper's Omega(W-MSA), by hand
    ratio = (4 * hw * C**2 + 2 * hw**2 * C) / (4 * hw * C**2 + 2 * M**2 * hw * C)
    assert f"global MSA costs {ratio:.1f}x W-MSA" in label.get_text()
