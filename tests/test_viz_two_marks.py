"""plot_two_marks draws each image as given, rings each mark where the image's own pixels put it, and labels
it with its column."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (only to check that no figure is left open in pyplot)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit import viz  # noqa: E402
from minivit.data import two_marks  # noqa: E402
from minivit.viz._common import as_image  # noqa: E402


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_marks_are_ringed_where_the_pixels_are_and_labelled_with_their_columns():
    marks = two_marks("test", num_samples=3)
    fig = viz.plot_two_marks(marks.images, marks.red, marks.blue, ["a", "b", "c"], patch_size=3)
    assert len(fig.axes) == 3 and fig.get_size_inches()[0] <= 13
    for b, ax in enumerate(fig.axes):
        np.testing.assert_array_equal(np.asarray(ax.get_images()[0].get_array()), as_image(marks.images[b]))
        assert ax.get_title() == "abc"[b]
        for name, channel in (("red", 0), ("blue", 2)):
            row, col = (marks.images[b, channel] > 0).nonzero()[0].tolist()  # from the pixels, not from red/blue
            (ring,) = by_gid(ax, f"{name}-mark")
            assert ring.center == (col, row)
        texts = sorted(t.get_text() for t in by_gid(ax, "mark-column"))
        assert texts == sorted([f"red, column {int(marks.red[b, 1])}", f"blue, column {int(marks.blue[b, 1])}"])
        assert len(ax.lines) == 2 * (24 // 3 - 1)  # the patch grid: 7 vertical, 7 horizontal lines
    assert plt.get_fignums() == []


def test_without_patch_size_no_grid_is_drawn():
    marks = two_marks("test", num_samples=1)
    fig = viz.plot_two_marks(marks.images, marks.red, marks.blue, ["only"])
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 0


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(images=torch.zeros(4, 3, 24, 24)), "1 <= B <= 3, got shape (4, 3, 24, 24)"),
        (dict(images=torch.zeros(2, 1, 24, 24)), "(B, 3, H, W) with 1 <= B <= 3"),
        (dict(red=torch.zeros(2, 3, dtype=torch.long)), "red"),
        (dict(titles=["one"]), "titles must be 2 strings"),
        (dict(titles="ab"), "titles must be 2 strings"),
        (dict(patch_size=5), "patch_size must divide the image size 24 x 24, got 5"),
    ],
)
def test_bad_input_raises_value_error(kwargs, words):
    marks = two_marks("test", num_samples=2)
    args = dict(images=marks.images, red=marks.red, blue=marks.blue, titles=["x", "y"]) | kwargs
    with pytest.raises(ValueError) as error:
        viz.plot_two_marks(**args)
    assert words in str(error.value)
