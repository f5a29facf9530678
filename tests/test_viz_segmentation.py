"""The segmentation figures draw what they are given: masks in fixed class colours beside their
images, class activation maps scaled as masks_from_cams scales them, the pointing game's places, box and
peak, and one place's gradient with its near block. No screen needed."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit import viz  # noqa: E402
from minivit.models.toy_models import SmallCNN  # noqa: E402
from minivit.segmentation import class_activation_map  # noqa: E402
from minivit.viz.segmentation import BACKGROUND_COLOUR, mask_colours  # noqa: E402


def data(ax, k=0):
    return np.asarray(ax.get_images()[k].get_array())


def masks_and_images():
    masks = torch.zeros(2, 6, 8, dtype=torch.int64)
    masks[0, 1:3, 1:4] = 4  # digit 3
    masks[1, 2:5, 5:7] = 1  # digit 0
    masks[1, 0, 0] = 10  # digit 9
    images = (masks > 0).float()[:, None] * 2 - 1  # (2, 1, 6, 8), bright where a digit is
    return images, masks


def test_masks_are_drawn_below_their_images_in_the_order_given():
    images, masks = masks_and_images()
    predicted = torch.roll(masks, 1, dims=2)
    fig = viz.plot_masks(images, {"true mask": masks, "predicted": predicted})
    axes = np.array(fig.axes).reshape(3, 2)  # rows: images, then the masks; one column per image
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["image", "true mask", "predicted"]
    for b in range(2):
        np.testing.assert_array_equal(data(axes[0, b]), images[b, 0].numpy() * 0.5 + 0.5)  # rescaled to [0, 1]
        np.testing.assert_array_equal(data(axes[1, b]), masks[b].numpy())
        np.testing.assert_array_equal(data(axes[2, b]), predicted[b].numpy())
    assert plt.get_fignums() == []


def test_every_class_keeps_its_colour_and_the_legend_names_the_present_ones():
    images, masks = masks_and_images()
    classes = ("background", *map(str, range(10)))
    fig = viz.plot_masks(images, {"true mask": masks}, classes=classes)
    image = fig.axes[2].get_images()[0]  # row 1, column 0
    assert image.cmap(image.norm(0))[:3] == BACKGROUND_COLOUR
    assert image.cmap(image.norm(4)) == mask_colours(11)(4)  # digit 3, whatever else is in the figure
    assert len({mask_colours(11)(k) for k in range(11)}) == 11
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == ["background", "0", "3", "9"]


def test_cams_are_drawn_for_the_present_classes_scaled_to_their_maximum():
    images, _ = masks_and_images()
    cams = torch.zeros(2, 10, 6, 8)
    cams[0, 3, 1, 2] = 4.0
    cams[0, 3, 2, 2] = 2.0
    cams[0, 3, 5, 7] = -3.0  # negative evidence is clipped to 0
    cams[1, 0, 3, 5] = 0.5
    cams[1, 9, 0, 0] = 1.0
    present = torch.zeros(2, 10, dtype=torch.bool)
    present[0, 3] = present[1, 0] = present[1, 9] = True
    fig = viz.plot_cams(images, cams, present)
    axes = np.array(fig.axes[:6]).reshape(2, 3)  # the last axes is the colour bar
    assert [ax.get_title() for ax in axes[1]] == ["", "CAM of 0", "CAM of 9"]
    expected = torch.zeros(6, 8)
    expected[1, 2], expected[2, 2] = 1.0, 0.5
    np.testing.assert_allclose(data(axes[0, 1], 1), expected.numpy())
    np.testing.assert_allclose(data(axes[1, 1], 1), (cams[1, 0] / 0.5).numpy())
    np.testing.assert_allclose(data(axes[1, 2], 1), cams[1, 9].numpy())
    assert not axes[0, 2].axison and axes[0, 2].get_images() == []  # image 0 holds one class only


def test_cams_of_several_models_side_by_side():
    images, _ = masks_and_images()
    a, b = torch.zeros(2, 10, 6, 8), torch.zeros(2, 10, 6, 8)
    a[:, :, 0, 0], b[:, :, 5, 7] = 2.0, 3.0
    present = torch.zeros(2, 10, dtype=torch.bool)
    present[0, 3] = present[1, 0] = present[1, 9] = True
    fig = viz.plot_cams(images, {"CNN": a, "ViT": b}, present)
    axes = np.array(fig.axes[:10]).reshape(2, 5)  # image, then 2 panels per model
    assert [ax.get_title() for ax in axes[1]] == ["", "CNN: CAM of 0", "CNN: CAM of 9", "ViT: CAM of 0", "ViT: CAM of 9"]
    assert [ax.get_title() for ax in axes[0, :4:2]] == ["image", ""] and axes[0, 3].get_title() == "ViT: CAM of 3"
    np.testing.assert_allclose(data(axes[1, 3], 1), (b[1, 0] / 3.0).numpy())
    np.testing.assert_allclose(data(axes[0, 1], 1), (a[0, 3] / 2.0).numpy())
    assert not axes[0, 2].axison and not axes[0, 4].axison  # image 0 holds one class only
    with pytest.raises(ValueError, match=r"cams\['ViT'\] must"):
        viz.plot_cams(images, {"CNN": a, "ViT": b[:1]}, present)


def test_cam_titles_give_the_probability_and_mark_a_missed_digit():
    images, _ = masks_and_images()
    cams = torch.rand(2, 10, 6, 8)
    present = torch.zeros(2, 10, dtype=torch.bool)
    present[0, 3] = present[1, 0] = present[1, 9] = True
    probabilities = torch.full((2, 10), 0.9)
    probabilities[1, 9] = 0.49
    fig = viz.plot_cams(images, cams, present, probabilities=probabilities)
    axes = np.array(fig.axes[:6]).reshape(2, 3)
    assert [ax.get_title() for ax in axes[1, 1:]] == ["CAM of 0\np = 0.90", "CAM of 9\np = 0.49: missed"]
    assert axes[1, 2].title.get_color() == "red" and axes[1, 1].title.get_color() == "black"
    with pytest.raises(ValueError, match="one model's"):
        viz.plot_cams(images, {"a": cams, "b": cams}, present, probabilities=probabilities)


def test_cam_titles_mark_an_answered_digit_that_is_not_there():
    images, _ = masks_and_images()
    cams = torch.rand(2, 10, 6, 8)
    present = torch.zeros(2, 10, dtype=torch.bool)
    present[0, 3] = present[1, 0] = present[1, 9] = present[1, 5] = True  # drawn: on the canvas or answered
    labels = torch.zeros(2, 10, dtype=torch.bool)
    labels[0, 3] = labels[1, 0] = labels[1, 9] = True  # the 5 of image 1 is not there
    probabilities = torch.full((2, 10), 0.9)
    probabilities[1, 9] = 0.49
    fig = viz.plot_cams(images, cams, present, probabilities=probabilities, labels=labels)
    axes = np.array(fig.axes[:8]).reshape(2, 4)
    assert [ax.get_title() for ax in axes[1, 1:]] == [
        "CAM of 0\np = 0.90", "CAM of 5\np = 0.90: not there", "CAM of 9\np = 0.49: missed"]
    assert [ax.title.get_color() for ax in axes[1, 1:]] == ["black", "darkorange", "red"]
    with pytest.raises(ValueError, match="give probabilities"):
        viz.plot_cams(images, cams, present, labels=labels)
    with pytest.raises(ValueError, match="labels must"):
        viz.plot_cams(images, cams, present, probabilities=probabilities, labels=labels[:1])


def test_pointing_game_draws_the_places_the_box_and_the_peak():
    images = torch.zeros(1, 1, 8, 8)
    masks = torch.zeros(1, 8, 8, dtype=torch.long)
    masks[0, 0:3, 0:3] = 1  # digit 0: its box holds the centre (1.5, 1.5) of the 2 x 2 map's top-left place
    masks[0, 6:8, 4:6] = 2  # digit 1: rows 6-7 and columns 4-5 hold no centre (5.5 is the nearest)
    masks[0, 0, 7] = 3  # digit 2, one pixel: no centre either
    cams = torch.zeros(1, 3, 2, 2)
    cams[0, 0, 0, 0] = 1.0  # digit 0 peaks on its place: a hit
    cams[0, 1, 1, 1] = 1.0  # digit 1 peaks on the place that holds it, but its box holds no centre
    present = torch.tensor([[True, True, False]])
    fig = viz.plot_pointing_game(images, masks, present, cams)
    assert [ax.get_title() for ax in fig.axes] == ["CAM of 0: hit", "CAM of 1: no centre in its box"]
    for ax, (top, left, height, width) in zip(fig.axes, [(0, 0, 3, 3), (6, 4, 2, 2)]):
        (box,) = [p for p in ax.patches if p.get_gid() == "box"]
        assert (box.get_y(), box.get_x(), box.get_height(), box.get_width()) == (top - 0.5, left - 0.5, height, width)
        (centres,) = [c for c in ax.collections if c.get_gid() == "centres"]
        assert sorted(map(tuple, centres.get_offsets().tolist())) == [(1.5, 1.5), (1.5, 5.5), (5.5, 1.5), (5.5, 5.5)]
    (peak,) = [line for line in fig.axes[1].lines if line.get_gid() == "peak"]
    assert (peak.get_xdata()[0], peak.get_ydata()[0]) == (5.5, 5.5)  # (column, row) of place (1, 1)'s centre
    with pytest.raises(ValueError, match="at least one class"):
        viz.plot_pointing_game(images, masks, torch.zeros(1, 3, dtype=torch.bool), cams)


def test_far_share_draws_one_place_s_gradient_and_its_near_block():
    torch.manual_seed(0)
    model = SmallCNN(1, 10, (4, 8, 8, 8)).eval()  # 32 x 32 images: a 2 x 2 map of 16 x 16 places
    image = torch.randn(1, 1, 32, 32)
    fig = viz.plot_far_share(model, image, digit=3, place=(0, 1))
    left, right = fig.axes[:2]
    image_ = right.get_images()[0]
    gradient = torch.autograd.functional.jacobian(
        lambda x: class_activation_map(model, x, upsample=False)[0, 3, 0, 1], image)[0, 0].abs()  # (32, 32)
    np.testing.assert_allclose(np.asarray(image_.get_array()), gradient.numpy(), rtol=1e-5, atol=1e-7)
    for ax in (left, right):
        (place,) = [p for p in ax.patches if p.get_gid() == "place"]
        assert (place.get_x(), place.get_y(), place.get_width(), place.get_height()) == (15.5, -0.5, 16, 16)
        (near,) = [p for p in ax.patches if p.get_gid() == "near"]  # the 3 x 3 places around, cut to the map
        assert (near.get_x(), near.get_y(), near.get_width(), near.get_height()) == (-0.5, -0.5, 32, 32)
    assert right.get_title().endswith("far share: 0.00")  # everything is near on a 2 x 2 map
    with pytest.raises(ValueError, match="place must be on the 2 x 2 map"):
        viz.plot_far_share(model, image, digit=3, place=(2, 0))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: viz.plot_masks(torch.zeros(1, 4, 4), {"m": torch.zeros(1, 4, 4, dtype=torch.long)}), "images must"),
        (lambda: viz.plot_masks(torch.zeros(1, 1, 4, 4), {"m": torch.zeros(1, 4, 5, dtype=torch.long)}), "masks['m']"),
        (lambda: viz.plot_masks(torch.zeros(1, 1, 4, 4), {}), "at least one"),
        (lambda: viz.plot_masks(torch.zeros(1, 1, 2, 2), {"m": torch.full((1, 2, 2), 3)}, ["a", "b"]), "class 3"),
        (lambda: viz.plot_cams(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 3), torch.ones(1, 2)), "cams must"),
        (lambda: viz.plot_cams(torch.zeros(1, 1, 4, 4), torch.zeros(1, 2, 4, 4), torch.ones(1, 3)), "present must"),
    ],
)
def test_bad_input_raises_value_error(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value)


def test_panel_size_sets_the_figure_height_and_is_checked():
    images, masks = masks_and_images()
    six_rows = {f"mask {k}": masks for k in range(6)}
    small = viz.plot_masks(images, six_rows, panel_inches=1.25)
    assert small.get_figheight() == pytest.approx(7 * 1.25 + 0.2)  # 7 rows: the images and 6 masks
    assert small.get_figheight() * 100 <= 900  # fits a 900 px window at the notebooks' 100 dpi
    with pytest.raises(ValueError, match="panel_inches must be"):
        viz.plot_masks(images, six_rows, panel_inches=0)


def test_row_titles_wrap_to_fit_small_panels():
    images, masks = masks_and_images()
    fig = viz.plot_masks(images, {"last-map head, like a CAM": masks}, panel_inches=1.25)
    title = fig.axes[2].get_ylabel()  # row 1, column 0
    assert title.replace("\n", " ") == "last-map head, like a CAM" and "\n" in title  # wrapped at 20 characters
    assert all(len(line) <= 20 for line in title.splitlines())
    assert fig.axes[2].yaxis.label.get_fontsize() < 11


def test_images_in_rows_puts_each_image_beside_its_masks_within_a_low_figure():
    images, masks = masks_and_images()
    predicted = torch.roll(masks, 1, dims=2)
    fig = viz.plot_masks(images, {"true mask": masks, "head on the 200 true masks": predicted},
                         panel_inches=1.25, images_in="rows")
    axes = np.array(fig.axes[:6]).reshape(2, 3)  # rows: the images; columns: the image, then the masks
    assert [ax.get_title() for ax in axes[0]] == ["image", "true mask", "head on the 200\ntrue masks"]
    assert axes[0, 2].title.get_fontsize() >= 9  # 12.5 px at the notebooks' 100 dpi
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["", ""]
    for b in range(2):
        np.testing.assert_array_equal(data(axes[b, 0]), images[b, 0].numpy() * 0.5 + 0.5)
        np.testing.assert_array_equal(data(axes[b, 1]), masks[b].numpy())
        np.testing.assert_array_equal(data(axes[b, 2]), predicted[b].numpy())
    four_by_five = viz.plot_masks(torch.zeros(4, 1, 8, 8), {f"mask {k}": torch.zeros(4, 8, 8, dtype=torch.long)
                                                            for k in range(5)}, panel_inches=1.25, images_in="rows")
    assert four_by_five.get_figheight() < 0.95 * four_by_five.get_figwidth()  # shown whole at 1440 x 900
    with pytest.raises(ValueError, match='images_in must be "columns" or "rows"'):
        viz.plot_masks(images, {"true mask": masks}, images_in="row")
