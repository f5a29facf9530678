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


def test_reach_masks_colour_each_patch_by_the_marks_its_row_of_the_real_mask_holds():
    from minivit.models.toy_models import AttentionClassifier

    masks = {f"reach {r}": AttentionClassifier(reach=r).attn_mask for r in (0, 1)}
    red, blue = (12, 9), (16, 16)  # patches (4, 3) and (5, 5): patch (4, 4) or (5, 4) sees both at reach 1
    fig = viz.plot_reach_masks(masks, red, blue, patch_size=3)
    assert [ax.get_title() for ax in fig.axes] == ["reach 0", "reach 1"]
    expected = {"reach 0": torch.zeros(8, 8, dtype=torch.long), "reach 1": torch.zeros(8, 8, dtype=torch.long)}
    expected["reach 0"][4, 3], expected["reach 0"][5, 5] = 1, 2  # each mark's patch sees only itself
    for r in range(8):  # by hand: a query sees a mark's patch when at most 1 row and 1 column away
        for c in range(8):
            expected["reach 1"][r, c] = (max(abs(r - 4), abs(c - 3)) <= 1) + 2 * (max(abs(r - 5), abs(c - 5)) <= 1)
    for ax in fig.axes:
        np.testing.assert_array_equal(np.asarray(ax.get_images()[0].get_array()), expected[ax.get_title()].numpy())
        (red_box,), (blue_box,) = by_gid(ax, "red-patch"), by_gid(ax, "blue-patch")
        assert red_box.get_xy() == (3 - 0.5, 4 - 0.5) and blue_box.get_xy() == (5 - 0.5, 5 - 0.5)
    assert (expected["reach 1"] == 3).sum() == 2
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["attends to neither mark", "attends to the red mark", "attends to the blue mark",
                      "attends to both marks"]
    assert fig.get_size_inches()[0] <= 10


@pytest.mark.parametrize(
    "masks, red, words",
    [
        ({}, (0, 0), "masks must be a non-empty dict"),
        ({"a": torch.ones(5, 5, dtype=torch.bool)}, (0, 0), "masks['a'] must be an (N, N) bool tensor"),
        ({"a": torch.ones(4, 4)}, (0, 0), "got torch.float32 of shape (4, 4)"),
        ({"a": torch.ones(4, 4, dtype=torch.bool)}, (9, 0), "red must be a (row, column) inside the 6 x 6 image"),
    ],
)
def test_reach_masks_refuse_bad_input(masks, red, words):
    with pytest.raises(ValueError) as error:
        viz.plot_reach_masks(masks, red, (0, 0), patch_size=3)
    assert words in str(error.value)


def test_seed_accuracies_put_one_dot_per_run_on_its_arm_row():
    runs = [dict(arm="cnn", seed=s, test=0.5 + 0.1 * s, aligned=0.5) for s in range(3)]
    runs += [dict(arm="attention", seed=s, test=1.0, aligned=0.9 + 0.01 * s) for s in range(3)]
    fig = viz.plot_seed_accuracies(runs, ("test", "aligned"), ("test set", "aligned set"))
    assert [ax.get_title() for ax in fig.axes] == ["test set", "aligned set"]
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["cnn", "attention"]
    for ax, value in zip(fig.axes, ("test", "aligned")):
        dots = by_gid(ax, "arm")
        (baseline,) = by_gid(ax, "baseline")
        assert len(dots) == 2 and list(baseline.get_xdata()) == [0.5, 0.5]
        assert ax.get_xlabel().endswith("dashed: chance, 0.5")
        for y, (line, arm) in enumerate(zip(dots, ("cnn", "attention"))):
            np.testing.assert_allclose(line.get_xdata(), [r[value] for r in runs if r["arm"] == arm])
            np.testing.assert_allclose(line.get_ydata(), [y - 0.15, y, y + 0.15])
    assert fig.get_size_inches()[0] <= 10


def test_seed_accuracies_draw_each_panel_baseline_where_given():
    data = {name: two_marks("test", aligned_to=aligned) for name, aligned in (("test", None), ("aligned", 3))}
    shares = {name: d.labels.float().mean().item() for name, d in data.items()}
    majority = {name: max(share, 1 - share) for name, share in shares.items()}  # always the more common class
    runs = [dict(arm="cnn", seed=0, test=0.5, aligned=0.47)]
    fig = viz.plot_seed_accuracies(runs, ("test", "aligned"), ("test set", "aligned set"),
                                   baselines=[majority["test"], majority["aligned"]])
    for ax, name in zip(fig.axes, ("test", "aligned")):
        (line,) = by_gid(ax, "baseline")
        np.testing.assert_allclose(line.get_xdata(), [majority[name]] * 2)
        assert ax.get_xlabel().endswith(f"dashed: more common class, {majority[name]:.3f}")
    assert abs(majority["test"] - 273 / 500) < 1e-6  # 273 of the 500 test images are "red left of blue"


@pytest.mark.parametrize(
    "runs, values, titles, baselines, words",
    [
        ([], ("a",), ("A",), None, "runs must hold at least one row"),
        ([dict(arm="x", a=0.5)], ("a",), ("A", "B"), None, "values and titles must be sequences of the same"),
        ([dict(arm="x", a=1.5)], ("a",), ("A",), None, "every run needs a number in [0, 1] under 'a', got 1.5"),
        ([dict(arm="x", a="")], ("a",), ("A",), None, "under 'a', got ''"),
        ([dict(arm="x", a=0.5)], ("a",), ("A",), [0.5, 0.5], "one number in [0, 1] per value (1), got [0.5, 0.5]"),
        ([dict(arm="x", a=0.5)], ("a",), ("A",), [1.2], "baselines must hold one number in [0, 1] per value (1)"),
    ],
)
def test_seed_accuracies_refuse_bad_input(runs, values, titles, baselines, words):
    with pytest.raises(ValueError) as error:
        viz.plot_seed_accuracies(runs, values, titles, baselines=baselines)
    assert words in str(error.value)


def test_outcome_grid_puts_each_arm_in_its_cell_and_colours_each_run_by_its_outcome():
    from matplotlib.colors import to_rgba

    from minivit.viz.two_marks import OUTCOME

    runs = [dict(arm="cnn", seed=s, test_accuracy=a) for s, a in enumerate((0.5, 0.7, 0.99))]
    runs += [dict(arm="attention", seed=0, test_accuracy=0.96)]
    placement = {"cnn": ("near", "no"), "attention": ("far", "yes")}
    fig = viz.plot_outcome_grid(runs, placement, ("near", "far"), ("no", "yes"), part_of_the_way=0.6)
    (ax,) = fig.axes
    texts = {t.get_text(): t.get_position() for t in by_gid(ax, "arm")}
    assert set(texts) == {"cnn", "attention"}
    assert 0 < texts["cnn"][0] < 1 and 0 < texts["cnn"][1] < 1  # row "near", column "no"
    assert 1 < texts["attention"][0] < 2 and 1 < texts["attention"][1] < 2  # row "far", column "yes"
    squares = by_gid(ax, "run")
    expected = ["not solved", "part of the way", "solved", "solved"]
    assert [s.get_facecolor() for s in squares] == [to_rgba(OUTCOME[name]) for name in expected]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["no", "yes"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["near", "far"]


@pytest.mark.parametrize(
    "placement, part, words",
    [
        ({}, 0.6, "placement must give a cell for every arm, got none for 'cnn'"),
        ({"cnn": ("mid", "no")}, 0.6, "placement must name one of rows ['near'] and one of columns ['no']"),
        ({"cnn": ("near", "no")}, 0.97, "need 0 <= part_of_the_way < solved <= 1, got 0.97 and 0.95"),
    ],
)
def test_outcome_grid_refuses_bad_input(placement, part, words):
    runs = [dict(arm="cnn", seed=0, test_accuracy=0.5)]
    with pytest.raises(ValueError) as error:
        viz.plot_outcome_grid(runs, placement, ("near",), ("no",), part_of_the_way=part)
    assert words in str(error.value)
