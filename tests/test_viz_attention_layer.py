"""The attention-layer diagram labels its boxes with the shapes the real modules produce, in the order
of the computation, beside the convolution with its kernel's shape."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from minivit.models.toy_models import PixelSelfAttention  # noqa: E402
from minivit.viz.attention_layer import attention_layer_shapes, plot_attention_layer  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def shapes_on(ax, gid):
    return [t.get_text().split("\n")[-1] for t in with_gid(ax.texts, gid)]


def test_boxes_carry_the_shapes_of_the_computation():
    # 6 x 5 pixels = 30 tokens of 3 channels; queries and keys of size 2, values of size 5
    layer, conv = PixelSelfAttention(3, 5, dim=2), nn.Conv2d(3, 5, kernel_size=3, padding=1)
    fig = plot_attention_layer(layer, conv, torch.rand(1, 3, 6, 5))
    conv_ax, attention_ax = fig.axes
    assert len(with_gid(conv_ax.patches, "conv-step")) == 3
    assert shapes_on(conv_ax, "conv-step-label") == ["(1, 3, 6, 5)", "kernel (5, 3, 3, 3)", "(1, 5, 6, 5)"]
    boxes = with_gid(attention_ax.patches, "attention-step")
    assert len(boxes) == 9
    labels = [t.get_text() for t in with_gid(attention_ax.texts, "attention-step-label")]
    assert [label.split("\n")[-1] for label in labels] == [
        "(1, 3, 6, 5)", "(1, 30, 3)", "(1, 30, 2)", "(1, 30, 2)", "(1, 30, 5)",
        "(1, 30, 30)", "(1, 30, 30)", "(1, 30, 5)", "(1, 5, 6, 5)"]
    assert labels[5].startswith("scores q kᵀ / √2")  # d = 2, the size of the queries
    assert [label.split(":")[0] for label in labels[2:5]] == ["queries q", "keys k", "values v"]
    # top to bottom: each row of boxes lies below the one before (q, k, v side by side)
    tops = [b.get_y() for b in boxes]
    assert tops[0] > tops[1] > tops[2] == tops[3] == tops[4] > tops[5] > tops[6] > tops[7] > tops[8]


def test_shapes_match_the_modules_run_by_hand():
    layer, conv = PixelSelfAttention(3, 4), nn.Conv2d(3, 4, 3, padding=1)
    x = torch.rand(1, 3, 24, 24)
    shapes = attention_layer_shapes(layer, conv, x)
    tokens = x.flatten(2).transpose(1, 2)
    assert shapes["tokens"] == tuple(tokens.shape) == (1, 576, 3)
    assert shapes["query"] == tuple(layer.query(tokens).shape) == (1, 576, 4)
    assert shapes["scores"] == shapes["weights"] == (1, 576, 576)
    assert shapes["attention output"] == tuple(layer(x).shape) == (1, 4, 24, 24)
    assert shapes["conv output"] == tuple(conv(x).shape) and shapes["kernel"] == (4, 3, 3, 3)


def test_the_kernel_picture_follows_the_kernel_size():
    fig = plot_attention_layer(PixelSelfAttention(2, 4), nn.Conv2d(2, 4, 5, padding=2), torch.rand(1, 2, 4, 4))
    conv_ax = fig.axes[0]
    pixels = with_gid(conv_ax.patches, "conv-input-pixel")
    assert len(pixels) == 12 * 12  # a (2k + 2)-pixel square grid, k = 5
    assert sum(p.get_facecolor() != (1, 1, 1, 1) for p in pixels) == 2 * 25  # two 5 x 5 neighbourhoods
    outputs = with_gid(conv_ax.patches, "conv-output-pixel")
    assert sum(p.get_facecolor() != (1, 1, 1, 1) for p in outputs) == 2  # one output pixel each
    assert "5x5 conv" in with_gid(conv_ax.texts, "conv-step-label")[1].get_text()


@pytest.mark.parametrize("args, error, message", [
    ((nn.Linear(3, 4), nn.Conv2d(3, 4, 3), torch.rand(1, 3, 4, 4)), TypeError, "layer must be"),
    ((PixelSelfAttention(3, 4), nn.Linear(3, 4), torch.rand(1, 3, 4, 4)), TypeError, "conv must be"),
    ((PixelSelfAttention(3, 4), nn.Conv2d(3, 4, 3), [1, 2]), TypeError, "x must be a torch.Tensor"),
    ((PixelSelfAttention(3, 4), nn.Conv2d(3, 4, 3), torch.rand(2, 3, 4, 4)), ValueError, r"\(1, C, H, W\)"),
    ((PixelSelfAttention(3, 4), nn.Conv2d(3, 4, 3), torch.rand(1, 2, 4, 4)), ValueError, "3 channels"),
    ((PixelSelfAttention(3, 4), nn.Conv2d(2, 4, 3), torch.rand(1, 3, 4, 4)), ValueError, "conv.in_channels = 2"),
    ((PixelSelfAttention(3, 4), nn.Conv2d(3, 4, 2), torch.rand(1, 3, 4, 4)), ValueError, "odd side"),
])
def test_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        plot_attention_layer(*args)
