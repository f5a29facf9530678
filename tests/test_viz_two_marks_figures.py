"""The figures notebook 01 added to minivit.viz.two_marks: the windows around each mark, the bands of the seed
plot, the weight each patch receives per head, and AttentionClassifier as a diagram with its real shapes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (only to check that no figure is left open in pyplot)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit import viz  # noqa: E402
from minivit.data import two_marks  # noqa: E402
from minivit.models.toy_models import AttentionClassifier  # noqa: E402
from minivit.viz._common import as_image  # noqa: E402


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_windows_are_centred_on_each_mark_with_the_given_side():
    marks = two_marks("test", num_samples=2)
    fig = viz.plot_two_marks(marks.images, marks.red, marks.blue, ["a", "b"], window=7)
    for b, ax in enumerate(fig.axes):
        for name, where in (("red", marks.red), ("blue", marks.blue)):
            (square,) = by_gid(ax, f"{name}-window")
            row, col = where[b].tolist()
            assert (square.get_width(), square.get_height()) == (7, 7)
            assert square.get_xy() == (col - 3.5, row - 3.5)  # pixel centres are integers
        labels = by_gid(ax, "mark-column")
        assert len(labels) == 2
        for text in labels:  # each label lies outside both windows
            x, y = text.get_position()
            for name in ("red", "blue"):
                (square,) = by_gid(ax, f"{name}-window")
                x0, y0 = square.get_xy()
                assert not (x0 < x < x0 + 7 and y0 < y < y0 + 7)
    assert plt.get_fignums() == []


def test_without_window_no_window_is_drawn():
    marks = two_marks("test", num_samples=1)
    fig = viz.plot_two_marks(marks.images, marks.red, marks.blue, ["only"])
    assert by_gid(fig.axes[0], "red-window") == [] and by_gid(fig.axes[0], "blue-window") == []


@pytest.mark.parametrize("window", [4, 0, -1, 2.0, True])
def test_window_must_be_an_odd_positive_int(window):
    marks = two_marks("test", num_samples=1)
    with pytest.raises(ValueError, match="window must be None or an odd positive int"):
        viz.plot_two_marks(marks.images, marks.red, marks.blue, ["only"], window=window)


RUNS = [dict(arm=arm, seed=s, test_accuracy=a) for arm, accs in (("x", (0.5, 0.7)), ("y", (0.96, 1.0)))
        for s, a in enumerate(accs)]


def test_bands_are_dotted_lines_named_in_the_label():
    fig = viz.plot_seed_accuracies(RUNS, ("test_accuracy",), ("t",), bands=(0.6, 0.95))
    (ax,) = fig.axes
    lines = by_gid(ax, "band")
    assert sorted(line.get_xdata()[0] for line in lines) == [0.6, 0.95]
    assert all(line.get_linestyle() == ":" for line in lines)
    assert "bands at 0.6, 0.95" in ax.get_xlabel()
    assert by_gid(viz.plot_seed_accuracies(RUNS, ("test_accuracy",), ("t",)).axes[0], "band") == []


@pytest.mark.parametrize("bands", [(1.2,), ("0.6",), "0.6"])
def test_bad_bands_raise(bands):
    with pytest.raises(ValueError, match="bands must be numbers in"):
        viz.plot_seed_accuracies(RUNS, ("test_accuracy",), ("t",), bands=bands)


def test_received_attention_draws_each_head_on_one_scale_with_the_mark_patches_outlined():
    marks = two_marks("test", num_samples=1)
    received = torch.rand(2, 64)
    red, blue = marks.red[0].tolist(), marks.blue[0].tolist()
    fig = viz.plot_received_attention(marks.images[0], received, red, blue, patch_size=3)
    image_ax, *head_axes = fig.axes[:3]
    np.testing.assert_array_equal(np.asarray(image_ax.get_images()[0].get_array()), as_image(marks.images[0]))
    assert by_gid(image_ax, "red-mark")[0].center == (red[1], red[0])
    for h, ax in enumerate(head_axes):
        shown = ax.get_images()[0]
        np.testing.assert_allclose(np.asarray(shown.get_array()), received[h].reshape(8, 8).numpy())
        assert shown.get_clim() == (0, pytest.approx(float(received.max())))
        assert ax.get_title() == f"head {h}"
        (patch,) = by_gid(ax, "blue-patch")
        assert patch.get_xy() == (blue[1] // 3 - 0.5, blue[0] // 3 - 0.5)
    assert len(fig.axes) == 4  # the image, two heads, one colorbar


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(received=torch.rand(2, 63)), "received must have shape (nh, N) = (nh, 64)"),
        (dict(received=torch.rand(5, 64)), "1 <= nh <= 4"),
        (dict(patch_size=5), "patch_size must be a positive int that divides 24 x 24"),
        (dict(red=[30, 2]), "red must be a (row, column) inside the 24 x 24 image"),
        (dict(image=torch.zeros(1, 24, 24)), "image must have shape (3, H, W)"),
    ],
)
def test_received_attention_bad_input(kwargs, words):
    args = dict(image=torch.zeros(3, 24, 24), received=torch.rand(2, 64), red=[6, 6], blue=[15, 8], patch_size=3)
    with pytest.raises(ValueError) as error:
        viz.plot_received_attention(**(args | kwargs))
    assert words in str(error.value)


def step_labels(fig):
    return [t.get_text() for t in fig.axes[0].get_children() if t.get_gid() == "step-label"]


@pytest.mark.parametrize("options", [{}, dict(reach=1), dict(position_embedding=False)])
def test_attention_classifier_diagram_has_the_model_shapes(options):
    model = AttentionClassifier(in_channels=3, num_classes=2, image_size=24, patch_size=3, dim=32, num_heads=2,
                                **options)
    x = torch.zeros(2, 3, 24, 24)
    fig = viz.plot_attention_classifier(model, x)
    labels = step_labels(fig)
    assert len(labels) == 13
    assert labels[0].endswith("(2, 3, 24, 24)") and labels[1].endswith("(2, 32, 8, 8)")
    assert all(label.endswith("(2, 64, 32)") for label in labels[2:11])
    assert labels[11].endswith("(2, 32)")
    assert labels[12].endswith(str(tuple(model(x).shape)))
    assert "nh = 2" in labels[5] and ("reach 1" in labels[5]) == ("reach" in options)
    assert ("no position embedding" in labels[3]) == ("position_embedding" in options)
    assert len([a for a in fig.axes[0].get_children() if a.get_gid() == "skip"]) == 4  # 2 lines, 2 arrows
    assert len([a for a in fig.axes[0].get_children() if a.get_gid() == "block-bracket"]) == 1


def test_attention_classifier_diagram_bad_input():
    with pytest.raises(TypeError, match="AttentionClassifier"):
        viz.plot_attention_classifier(torch.nn.Linear(2, 2), torch.zeros(1, 3, 24, 24))
    model = AttentionClassifier(in_channels=3, num_classes=2, image_size=24, patch_size=3)
    with pytest.raises(ValueError, match="to match the position embedding"):
        viz.plot_attention_classifier(model, torch.zeros(1, 3, 12, 12))
