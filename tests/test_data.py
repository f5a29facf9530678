import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits

from minivit import data
from minivit.data import (
    DIGITS_MEAN,
    DIGITS_STD,
    MASK_THRESHOLD,
    denormalize,
    digit_canvas,
    digits,
    photo,
    two_marks,
)

pytestmark = pytest.mark.versions  # torch's resizing and loaders

RAW = load_digits()


@pytest.fixture(scope="module")
def train():
    return digits("train")


@pytest.fixture(scope="module")
def test():
    return digits("test")


def test_digits_shapes_dtypes_and_sizes(train, test):
    assert (len(train), len(test)) == (1437, 360)
    image, label = train[0]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32
    assert label.dtype == torch.int64 and 0 <= int(label) <= 9
    assert train.images.shape == (1437, 1, 32, 32) and test.images.shape == (360, 1, 32, 32)
    assert digits("test", size=16).images.shape == (360, 1, 16, 16)


def test_split_is_disjoint_and_covers_every_digit(train, test):
    a, b = set(train.indices.tolist()), set(test.indices.tolist())
    assert not a & b
    assert a | b == set(range(1797))


def test_split_is_stratified(train, test):
    # every class is in the same proportion in each split as in the whole set, within one digit
    total = np.bincount(RAW.target, minlength=10)
    for split in (train, test):
        counts = np.bincount(split.labels.numpy(), minlength=10)
        assert np.all(np.abs(counts - total * len(split) / 1797) <= 1)


def test_split_is_fixed_by_the_seed(test):
    assert torch.equal(digits("test").indices, test.indices)
    assert torch.equal(digits("test").images, test.images)
    assert not torch.equal(digits("test", seed=1).indices, test.indices)


def test_digits_are_the_sklearn_digits_normalised(train):
    # at size 8 the resize is the identity: the images are load_digits' pixels / 16, normalised
    small = digits("train", size=8)
    expected = torch.tensor(RAW.images[small.indices.numpy()] / 16.0, dtype=torch.float32)
    torch.testing.assert_close(denormalize(small.images[:, 0]), expected)
    assert torch.equal(small.labels, torch.tensor(RAW.target[small.indices.numpy()]))
    # the normalisation constants are the training split's pixel mean and std
    assert expected.mean().item() == pytest.approx(DIGITS_MEAN, abs=1e-4)
    assert expected.std(unbiased=False).item() == pytest.approx(DIGITS_STD, abs=1e-4)
    # at size 32: a bilinear resize of the same pixels
    resized = F.interpolate(expected[:, None], size=32, mode="bilinear", align_corners=False)
    torch.testing.assert_close(train.images, (resized - DIGITS_MEAN) / DIGITS_STD)


@pytest.fixture(scope="module")
def canvas():
    return digit_canvas("test", num_samples=60)


def test_canvas_shapes_and_dtypes(canvas):
    assert len(canvas) == 60 and len(digit_canvas("train")) == 2000 and len(digit_canvas("test")) == 500
    image, labels, mask = canvas[0]
    assert image.shape == (1, 64, 64) and image.dtype == torch.float32
    assert labels.shape == (10,) and labels.dtype == torch.float32
    assert mask.shape == (64, 64) and mask.dtype == torch.int64


def test_canvas_masks_match_the_placed_digit_pixels(canvas):
    # Rebuild every canvas and mask from load_digits and the placements, independently.
    counts = set()
    for i in range(len(canvas)):
        image, labels, mask = canvas[i]
        expected_image = torch.zeros(64, 64)
        expected_mask = torch.zeros(64, 64, dtype=torch.int64)
        expected_labels = torch.zeros(10)
        places = canvas.placements(i)
        counts.add(len(places))
        for label, top, left, index in places:
            assert RAW.target[index] == label
            digit = torch.tensor(RAW.images[index] / 16.0, dtype=torch.float32)[None, None]
            digit = F.interpolate(digit, size=24, mode="bilinear", align_corners=False)[0, 0]
            assert (expected_image[top : top + 24, left : left + 24] == 0).all()  # boxes do not overlap
            expected_image[top : top + 24, left : left + 24] = digit
            expected_mask[top : top + 24, left : left + 24][digit > MASK_THRESHOLD] = label + 1
            expected_labels[label] = 1
        torch.testing.assert_close(denormalize(image[0]), expected_image)
        assert torch.equal(mask, expected_mask)
        assert torch.equal(labels, expected_labels)
        # and straight from the image: a pixel is masked exactly where the canvas is bright (away
        # from the threshold, where normalising and back may round a pixel to the other side)
        bright = denormalize(image[0])
        clear = (bright - MASK_THRESHOLD).abs() > 1e-5
        assert torch.equal((mask > 0)[clear], (bright > MASK_THRESHOLD)[clear])
        # the classes in the mask are the image-level labels, shifted by one for the background
        assert set(mask.unique().tolist()) - {0} == {d + 1 for d in labels.nonzero()[:, 0].tolist()}
    assert counts == {1, 2}


def test_test_canvases_hold_only_test_digits(canvas, test):
    used = {index for i in range(len(canvas)) for *_, index in canvas.placements(i)}
    assert used <= set(test.indices.tolist())


def test_canvas_is_deterministic(canvas):
    again = digit_canvas("test", num_samples=60)
    for i in (0, 17, 59):
        assert all(torch.equal(a, b) for a, b in zip(canvas[i], again[i]))
    other = digit_canvas("test", num_samples=60, seed=1)
    assert any(canvas.placements(i) != other.placements(i) for i in range(60))


def test_two_marks_geometry_and_labels():
    marks = two_marks("train", num_samples=400, size=24, receptive_field=7)
    assert marks.images.shape == (400, 3, 24, 24) and marks.labels.dtype == torch.int64
    x = marks.images
    assert ((x[:, 0] > 0).sum((1, 2)) == 1).all() and ((x[:, 2] > 0).sum((1, 2)) == 1).all()
    assert (x[:, 1] == 0).all() and x.min() == 0 and x.max() <= 1
    for n in range(400):
        red = (x[n, 0] > 0).nonzero()[0]
        blue = (x[n, 2] > 0).nonzero()[0]
        assert torch.equal(red, marks.red[n]) and torch.equal(blue, marks.blue[n])
        assert abs(int(red[0] - blue[0])) >= 7  # rows 7 apart: no 7x7 window sees both
        assert 1 <= abs(int(red[1] - blue[1])) <= 3  # columns 1 to 3 apart (max_gap=3)
        assert min(red.min(), blue.min()) >= 6 and max(red.max(), blue.max()) <= 24 - 7  # nor the padding
        assert marks.labels[n] == int(red[1] < blue[1])
        assert 0.5 <= x[n, 0, red[0], red[1]] <= 1 and 0.5 <= x[n, 2, blue[0], blue[1]] <= 1
    assert 0.4 < marks.labels.float().mean() < 0.6
    gaps = (marks.red[:, 1] - marks.blue[:, 1]).abs()
    assert all(0.25 < (gaps == g).float().mean() < 0.42 for g in (1, 2, 3))  # each gap about a third


def best_rule_accuracy(keys: list, labels: list) -> float:
    """Accuracy of the best rule "label = f(key)": the majority label of each key, counted on the same images."""
    counts: dict = {}
    for key, label in zip(keys, labels):
        counts.setdefault(key, [0, 0])[label] += 1
    return sum(max(c) for c in counts.values()) / len(labels)


def test_two_marks_no_single_mark_position_gives_the_label():
    # The label needs both marks. Checked from the pixels, on 4,000 images: for each colour, every column but
    # the first and last allowed (6 and 17; no draw can avoid that a mark there has the other on one side only)
    # holds both labels, and the best rule from one mark's column scores below 0.63, from its (row, column)
    # below 0.66, against chance 0.5 (and 1.0 for the red column under the old draw). Expected: the best
    # column rule scores 0.5 + TV / 2 = 0.604, TV the total variation distance between the left and the right
    # mark's column distributions, with a standard error of 0.008 on 4,000 images; rows say nothing more, but
    # a rule fitted to 120 (row, column) cells of these same images overfits them by about 0.03.
    marks = two_marks("train", num_samples=4000)
    labels = marks.labels.tolist()
    for channel in (0, 2):  # red, blue
        where = (marks.images[:, channel] > 0).nonzero()[:, 1:].tolist()  # (4000, 2) row and column from pixels
        columns = [c for _, c in where]
        for column in range(7, 17):
            assert {label for c, label in zip(columns, labels) if c == column} == {0, 1}, (channel, column)
        assert best_rule_accuracy(columns, labels) < 0.63
        assert best_rule_accuracy([tuple(p) for p in where], labels) < 0.66
    # what the old draw (columns at least 7 apart in 6..17) allowed: the red column alone gave every label
    red_left_half = (marks.red[:, 1] <= 10).long()
    assert (red_left_half == marks.labels).float().mean() < 0.7


def test_two_marks_is_deterministic_and_splits_differ():
    a, b = two_marks("test", num_samples=50), two_marks("test", num_samples=50)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(two_marks("train", num_samples=50).images, a.images)
    assert len(two_marks("train")) == 1000 and len(two_marks("test")) == 500


@pytest.mark.parametrize("name", data.PHOTOS)
def test_photo(name):
    x = photo(name, 64)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1 and x.std() > 0.05
    assert photo(name, (48, 80)).shape == (3, 48, 80)


def test_photo_square_is_the_central_crop():
    from skimage import data as skdata

    raw = torch.tensor(skdata.coffee(), dtype=torch.float32).permute(2, 0, 1) / 255  # (3, 400, 600)
    torch.testing.assert_close(photo("coffee", 400), raw[:, :, 100:500])


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: digits("valid"), "split must be 'train' or 'test'"),
        (lambda: digits("train", size=0), "size must be a positive int"),
        (lambda: digit_canvas("train", max_digits=5), "max_digits (5)"),
        (lambda: two_marks("train", size=16, receptive_field=7), "need size >= 3 * receptive_field - 1 = 20"),
        (lambda: two_marks("train", max_gap=12), "max_gap (12) leaves no room in columns 6..17: need max_gap <= 11"),
        (lambda: photo("moon", 32), "name must be one of"),
        (lambda: photo("coffee", (32, 0)), "size must be >= 1"),
    ],
)
def test_bad_input_raises_value_error(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value)


def test_two_marks_aligned_puts_both_marks_in_the_same_column_of_their_patches():
    aligned = two_marks("test", num_samples=300, aligned_to=3)
    gap = aligned.red[:, 1] - aligned.blue[:, 1]
    assert (gap.abs() == 3).all()  # the only multiple of 3 in the gaps 1..3
    assert (aligned.red[:, 1] % 3 == aligned.blue[:, 1] % 3).all()
    assert ((aligned.red[:, 0] - aligned.blue[:, 0]).abs() >= 7).all()
    assert min(aligned.red.min(), aligned.blue.min()) >= 6 and max(aligned.red.max(), aligned.blue.max()) <= 17
    assert torch.equal(aligned.labels, (aligned.red[:, 1] < aligned.blue[:, 1]).long())
    assert 0.4 < aligned.labels.float().mean() < 0.6
    wider = two_marks("test", max_gap=6, aligned_to=3)
    assert (wider.red[:, 1] - wider.blue[:, 1]).abs().unique().tolist() == [3, 6]
    with pytest.raises(ValueError, match=r"aligned_to \(4\) leaves no gap in 1..3 \(max_gap\) that is a multiple of it"):
        two_marks("test", aligned_to=4)
