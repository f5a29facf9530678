import math

import pytest
import torch
from torch import nn

from minivit.data import two_marks
from minivit.models.toy_models import AddCoordinates, AttentionClassifier, PixelSelfAttention, SmallCNN
from minivit.ops.receptive_field import receptive_field_of

pytestmark = pytest.mark.versions  # training with torch's ops


def test_pixel_attention_maps_like_a_conv_layer():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 7)
    conv = nn.Conv2d(3, 4, kernel_size=3, padding=1)
    attn = PixelSelfAttention(3, 4)
    assert conv(x).shape == attn(x).shape == (2, 4, 5, 7)


def test_pixel_attention_equals_brute_force_over_pixels():
    # Every output pixel (i, j) is a softmax-weighted sum of the values of all pixels, written
    # here pixel by pixel from the definition.
    torch.manual_seed(0)
    x = torch.randn(1, 3, 3, 4)
    attn = PixelSelfAttention(3, 4, dim=6)
    out = attn(x)
    pixels = [(i, j) for i in range(3) for j in range(4)]
    for i, j in pixels:
        q = attn.query(x[0, :, i, j])
        scores = torch.stack([q @ attn.key(x[0, :, a, b]) / math.sqrt(6) for a, b in pixels])
        w = scores.softmax(0)
        expected = sum(w[n] * attn.value(x[0, :, a, b]) for n, (a, b) in enumerate(pixels))
        torch.testing.assert_close(out[0, :, i, j], expected, rtol=1e-5, atol=1e-5)
    weights = attn.weights(x)
    assert weights.shape == (1, 12, 12)  # one token per pixel: (B, H*W, H*W), not one token per image
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 12))


def test_pixel_attention_has_no_idea_of_position():
    # shuffle the pixels and the output pixels shuffle the same way: attention sees a set of tokens
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 5)
    attn = PixelSelfAttention(3, 4)
    order = torch.randperm(20)
    shuffled = x.flatten(2)[..., order].reshape(2, 3, 4, 5)
    torch.testing.assert_close(attn(shuffled).flatten(2), attn(x).flatten(2)[..., order], rtol=1e-5, atol=1e-6)


def test_attention_sees_far_pixels_a_conv_does_not():
    torch.manual_seed(0)
    x = torch.randn(1, 3, 8, 8)
    y = x.clone()
    y[0, :, 7, 7] += 1.0  # change the far corner
    conv, attn = nn.Conv2d(3, 4, 3, padding=1), PixelSelfAttention(3, 4)
    assert torch.equal(conv(x)[..., 0, 0], conv(y)[..., 0, 0])
    assert not torch.allclose(attn(x)[..., 0, 0], attn(y)[..., 0, 0])


@pytest.mark.parametrize(
    "widths, downsample, expected", [((8, 8, 8), False, 7), ((8, 8), False, 5), ((16, 32, 64), True, 22)]
)
def test_receptive_field_is_where_the_gradient_reaches(widths, downsample, expected):
    model = SmallCNN(1, 2, widths, downsample=downsample).eval()
    assert model.receptive_field == expected == receptive_field_of(model.features)
    if downsample:
        return
    # the gradient of one feature in the middle of the map is nonzero exactly on an R x R window
    x = torch.randn(1, 1, 21, 21, requires_grad=True)
    model.features(x)[0, :, 10, 10].sum().backward()
    rows, cols = (x.grad[0, 0] != 0).nonzero().unbind(1)
    half = expected // 2
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (10 - half, 10 + half, 10 - half, 10 + half)


def test_small_cnn_shapes():
    model = SmallCNN()
    assert model(torch.randn(4, 1, 32, 32)).shape == (4, 10)
    assert model.features(torch.randn(4, 1, 32, 32)).shape == (4, 64, 4, 4)
    assert SmallCNN(3, 2, (8, 8, 8), downsample=False).features(torch.randn(2, 3, 24, 24)).shape == (2, 8, 24, 24)


def swap_marks(images: torch.Tensor, red: torch.Tensor, blue: torch.Tensor) -> torch.Tensor:
    """The same images with the red and blue marks' positions exchanged (each keeps its brightness)."""
    n = torch.arange(len(images))
    swapped = torch.zeros_like(images)
    swapped[n, 0, blue[:, 0], blue[:, 1]] = images[n, 0, red[:, 0], red[:, 1]]
    swapped[n, 2, red[:, 0], red[:, 1]] = images[n, 2, blue[:, 0], blue[:, 1]]
    return swapped


def test_cnn_gives_the_same_answer_when_the_marks_swap():
    # The reason a small CNN cannot do the two-marks task, whatever its weights: swapping the marks
    # flips the label but leaves the bag of pooled features, and so the logits, unchanged.
    marks = two_marks("test", num_samples=64)
    swapped = swap_marks(marks.images, marks.red, marks.blue)
    assert torch.equal((swapped[:, 0] > 0).nonzero()[:, 1:], marks.blue)
    torch.manual_seed(0)
    cnn = SmallCNN(3, 2, (8, 8, 8), downsample=False).eval()
    assert cnn.receptive_field == 7
    torch.testing.assert_close(cnn(swapped), cnn(marks.images), rtol=1e-4, atol=1e-5)
    # attention with a position embedding tells them apart
    attn = AttentionClassifier().eval()
    assert not torch.allclose(attn(swapped), attn(marks.images), rtol=1e-3, atol=1e-4)


def test_attention_classifier_shapes_and_weights():
    model = AttentionClassifier(in_channels=1, num_classes=10, image_size=32, patch_size=4, dim=16, num_heads=2)
    x = torch.randn(3, 1, 32, 32)
    assert model.tokens(x).shape == (3, 64, 16)
    assert model(x).shape == (3, 10)
    weights = model.attention_weights(x)
    assert weights.shape == (3, 2, 64, 64)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 2, 64))
    assert AttentionClassifier(position_embedding=False).pos_embed is None


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: PixelSelfAttention(3, 4)(torch.randn(3, 8, 8)), "(B, C, H, W)"),
        (lambda: PixelSelfAttention(3, 4)(torch.randn(1, 2, 8, 8)), "x must have 3 channels"),
        (lambda: AttentionClassifier()(torch.randn(1, 3, 32, 32)), "(B, C, 24, 24)"),
        (lambda: AttentionClassifier(image_size=24, patch_size=5), "image_size (24) must be a multiple of patch_size"),
    ],
)
def test_bad_input_raises_value_error(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value)


def test_attention_classifier_with_reach_attends_only_to_nearby_patches():
    torch.manual_seed(0)
    model = AttentionClassifier(3, 2, image_size=12, patch_size=3, dim=8, num_heads=2, reach=1).eval()
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        weights = model.attention_weights(x)  # (B, nh, 16, 16) on a 4 x 4 grid of patches
    assert weights.shape == (2, 2, 16, 16)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 16))
    for query in range(16):  # written out: patch (r, c) may look at patches (r +- 1, c +- 1)
        r, c = divmod(query, 4)
        near = [4 * a + b for a in range(4) for b in range(4) if abs(a - r) <= 1 and abs(b - c) <= 1]
        far = [n for n in range(16) if n not in near]
        assert (weights[:, :, query, near] > 0).all() and (weights[:, :, query, far] == 0).all()


def test_attention_classifier_with_a_reach_over_the_whole_grid_is_the_global_model():
    torch.manual_seed(0)
    full = AttentionClassifier(3, 2, image_size=12, patch_size=3, dim=8, num_heads=2).eval()
    wide = AttentionClassifier(3, 2, image_size=12, patch_size=3, dim=8, num_heads=2, reach=3).eval()
    wide.load_state_dict(full.state_dict())  # the mask is not a parameter: the same weights load
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(wide(x), full(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(wide.attention_weights(x), full.attention_weights(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reach, error", [(-1, ValueError), (1.5, TypeError)])
def test_attention_classifier_rejects_a_bad_reach(reach, error):
    with pytest.raises(error, match="reach must be an int >= 0"):
        AttentionClassifier(3, 2, image_size=12, patch_size=3, reach=reach)


def test_add_coordinates_appends_each_pixels_row_and_column():
    x = torch.randn(2, 3, 5, 4)
    y = AddCoordinates()(x)
    assert y.shape == (2, 5, 5, 4) and torch.equal(y[:, :3], x)
    for i in range(5):
        for j in range(4):  # by hand: -1 at the first row (column), +1 at the last, evenly spaced between
            assert math.isclose(y[1, 3, i, j].item(), -1 + 2 * i / 4, abs_tol=1e-6)
            assert math.isclose(y[1, 4, i, j].item(), -1 + 2 * j / 3, abs_tol=1e-6)


def test_cnn_with_coordinates_keeps_its_field_and_tells_the_twin_apart():
    # in float64, so that a difference of 1e-8 is no rounding: the plain CNN's logits for an image and its
    # twin agree to rounding, the CNN given coordinates tells them apart (a little, untrained)
    marks = two_marks("test", num_samples=16)
    images = marks.images.double()
    swapped = swap_marks(images, marks.red, marks.blue)
    gaps = {}
    for coordinates in (False, True):
        torch.manual_seed(0)
        cnn = SmallCNN(3, 2, (8, 8, 8), downsample=False, coordinates=coordinates).double().eval()
        assert cnn.receptive_field == 7 and cnn.features[0 + coordinates].in_channels == 3 + 2 * coordinates
        with torch.no_grad():
            gaps[coordinates] = (cnn(swapped) - cnn(images)).abs().min().item()
    assert gaps[False] < 1e-12 and gaps[True] > 1e-8


def test_cnn_with_wide_kernels_has_the_wider_field_the_gradient_shows():
    model = SmallCNN(1, 2, (4, 4, 4), downsample=False, kernel_size=5).eval()
    assert model.receptive_field == 1 + 4 * 3 == 13
    x = torch.randn(1, 1, 25, 25, requires_grad=True)
    model.features(x)[0, :, 12, 12].sum().backward()
    rows, cols = (x.grad[0, 0] != 0).nonzero().unbind(1)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (6, 18, 6, 18)


def test_circular_cnn_gives_the_same_logits_for_an_image_rolled_anywhere():
    # no border: the features of a rolled image are the features rolled, and their average is the same
    torch.manual_seed(0)
    cnn = SmallCNN(3, 2, (8, 8, 8), downsample=False, kernel_size=5, padding_mode="circular").eval()
    x = torch.rand(2, 3, 12, 12)
    with torch.no_grad():
        for shift in [(0, 5), (3, 0), (-4, 7)]:
            rolled = torch.roll(x, shift, dims=(2, 3))
            torch.testing.assert_close(cnn.features(rolled), torch.roll(cnn.features(x), shift, dims=(2, 3)))
            torch.testing.assert_close(cnn(rolled), cnn(x))
    # with zero padding the border shows: a mark moved next to it changes the logits
    zero = SmallCNN(3, 2, (8, 8, 8), downsample=False, kernel_size=5).eval()
    mark = torch.zeros(1, 3, 12, 12)
    mark[0, 0, 6, 6] = 1.0
    with torch.no_grad():
        assert not torch.allclose(zero(torch.roll(mark, 5, dims=3)), zero(mark), rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize(
    "options, error, words",
    [
        (dict(kernel_size=4), ValueError, "kernel_size must be odd, got 4"),
        (dict(kernel_size=0), ValueError, "kernel_size must be a positive int"),
        (dict(padding_mode="reflect"), ValueError, "padding_mode must be 'zeros' or 'circular', got 'reflect'"),
    ],
)
def test_small_cnn_rejects_bad_options(options, error, words):
    with pytest.raises(error) as raised:
        SmallCNN(3, 2, **options)
    assert words in str(raised.value)
