"""The mixing-matrix figure: a conv's matrix is banded by its kernel and the same for every image; the
attention panels hold the layer's own weights, dense and different per image."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from minivit.models.toy_models import PixelSelfAttention  # noqa: E402
from minivit.viz.mixing import mixing_matrices, plot_mixing_matrices  # noqa: E402


def modules(channels=3):
    torch.manual_seed(0)
    return nn.Conv2d(channels, 4, kernel_size=3, padding=1), PixelSelfAttention(channels, 4)


def test_conv_matrix_is_the_kernel_band_and_the_same_for_every_image():
    conv, layer = modules()
    H, W = 5, 6
    conv_mix, _ = mixing_matrices(conv, layer, torch.rand(2, 3, H, W))
    assert conv_mix.shape == (2, H * W, H * W)
    assert torch.equal(conv_mix[0], conv_mix[1])
    rows, cols = torch.arange(H * W) // W, torch.arange(H * W) % W
    near = ((rows[:, None] - rows[None, :]).abs() <= 1) & ((cols[:, None] - cols[None, :]).abs() <= 1)
    assert torch.equal(conv_mix[0] > 0, near)  # nonzero exactly inside the 3 x 3 neighbourhood
    # entry (i, j) is the norm of the kernel's (C_out, C_in) weights at the offset from i to j
    i, j = 2 * W + 3, 1 * W + 4  # offset (-1, +1): kernel tap (0, 2)
    assert torch.allclose(conv_mix[0, i, j], conv.weight[:, :, 0, 2].norm(), atol=1e-6)


def test_attention_panels_hold_the_layers_weights():
    conv, layer = modules()
    images = torch.rand(2, 3, 4, 4)
    _, attention = mixing_matrices(conv, layer, images)
    assert torch.allclose(attention, layer.weights(images))
    fig = plot_mixing_matrices(conv, layer, images, ["a", "b"])
    shown = [ax.get_images()[0].get_array() for ax in fig.axes[:3]]
    assert shown[0].mask.sum() == 16 * 16 - int((mixing_matrices(conv, layer, images)[0][0] > 0).sum())
    for k in (1, 2):
        assert torch.allclose(torch.as_tensor(shown[k].data), attention[k - 1], atol=1e-6)
        assert (shown[k].data > 0).all()
    assert "at most 9 of 16" in fig.axes[0].get_title()


@pytest.mark.parametrize("args, error, message", [
    ((nn.Linear(3, 4), PixelSelfAttention(3, 4), torch.rand(1, 3, 4, 4)), TypeError, "conv must be"),
    ((nn.Conv2d(3, 4, 3, padding=1), nn.Linear(3, 4), torch.rand(1, 3, 4, 4)), TypeError, "layer must be"),
    ((nn.Conv2d(3, 4, 3, padding=1), PixelSelfAttention(3, 4), torch.rand(3, 4, 4)), ValueError, "4 dimensions"),
    ((nn.Conv2d(3, 4, 3, padding=1), PixelSelfAttention(3, 4), torch.rand(1, 2, 4, 4)), ValueError, "channels"),
    ((nn.Conv2d(3, 4, 3, padding=1, stride=2), PixelSelfAttention(3, 4), torch.rand(1, 3, 4, 4)), ValueError,
     "stride 1"),
    ((nn.Conv2d(3, 4, 3), PixelSelfAttention(3, 4), torch.rand(1, 3, 4, 4)), ValueError, "keep H and W"),
])
def test_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        mixing_matrices(*args)


def test_names_one_per_image():
    conv, layer = modules()
    with pytest.raises(ValueError, match="one name per image"):
        plot_mixing_matrices(conv, layer, torch.rand(2, 3, 4, 4), ["only one"])


def test_each_colour_bar_sits_under_its_own_panels():
    conv, layer = modules()
    fig = plot_mixing_matrices(conv, layer, torch.rand(2, 3, 4, 4), ["a", "b"])
    fig.canvas.draw()
    conv_bar, attention_bar = fig.axes[3], fig.axes[4]
    assert "kernel block" in conv_bar.get_xlabel() and "A_ij" in attention_bar.get_xlabel()
    for bar, panels in ((conv_bar, fig.axes[:1]), (attention_bar, fig.axes[1:3])):
        box = bar.get_position()
        assert box.y1 < min(ax.get_position().y0 for ax in panels)  # below the panels
        assert min(ax.get_position().x0 for ax in panels) - 0.02 <= box.x0  # and within their columns
        assert box.x1 <= max(ax.get_position().x1 for ax in panels) + 0.02


def test_rows_are_one_output_pixels_row_of_each_matrix():
    from minivit.viz.mixing import plot_mixing_rows

    conv, layer = modules()
    image = torch.rand(3, 5, 6)
    fig = plot_mixing_rows(conv, layer, image, (2, 3), "a")
    conv_mix, attention = mixing_matrices(conv, layer, image[None])
    i = 2 * 6 + 3
    conv_row, attention_row = fig.axes[1].get_images()[0].get_array(), fig.axes[2].get_images()[0].get_array()
    assert torch.allclose(torch.as_tensor(conv_row.data), conv_mix[0, i].reshape(5, 6), atol=1e-6)
    assert int((~conv_row.mask).sum()) == 9  # the 3 x 3 neighbourhood of an inner pixel, the rest exactly 0
    assert torch.allclose(torch.as_tensor(attention_row), attention[0, i].reshape(5, 6), atol=1e-6)
    for ax in fig.axes[:3]:
        (box,) = [p for p in ax.patches if p.get_gid() == "pixel"]
        assert box.get_xy() == (3 - 0.5, 2 - 0.5)
    with pytest.raises(ValueError, match="pixel must be"):
        plot_mixing_rows(conv, layer, image, (5, 0))
