"""Small data sets that need no download: real digits and photographs that ship inside scikit-learn
and scikit-image, and two synthetic sets made for a lesson.

- `digits`: the 1,797 handwritten digits of `sklearn.datasets.load_digits`, resized, split, normalised;
  `stratified_split` holds some of them out (a validation split, a smaller training set), and
  `Translated` shifts them at random (data augmentation).
- `digit_canvas`: one or two digits placed on a larger canvas, with the pixel mask of each digit
  (segmentation ground truth, for evaluation only: the models learn from the image-level labels).
- `two_marks`: "is the red mark left of the blue mark?", a task that needs to compare where the two marks
  are: a small stride-1 CNN with global average pooling cannot solve it, one attention layer can (notebook 01).
- `photo`: a sample photograph (astronaut, coffee, chelsea) as a (3, H, W) tensor in [0, 1].

Glossary: B batch, C channels, H x W image, K classes.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from minivit.ops._checks import check_size, to_pair

# Digit pixels are 0..16 in load_digits. We divide by 16 to get [0, 1], then standardise with the
# mean and standard deviation of the training split's pixels (measured at 8x8, split seed 0), so
# that the test digits never shape the normalisation.
DIGITS_MEAN = 0.3054
DIGITS_STD = 0.3761
DIGITS_TEST_SIZE = 360  # 1,437 training digits, 360 test digits (20%), 35 to 37 of each class
DIGITS_VALIDATION_SIZE = 288  # held out of the 1,437 training digits (20%) to choose a learning rate
MASK_THRESHOLD = 0.5  # a canvas pixel belongs to a digit where the digit's intensity (0..1) is above this
BACKGROUND = 0  # canvas masks: 0 is background, digit d is class d + 1 (11 classes in all)
CANVAS_CLASSES = 11
PHOTOS = ("astronaut", "coffee", "chelsea")


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Digit intensities in [0, 1] -> the normalised values the models see."""
    return (x - DIGITS_MEAN) / DIGITS_STD


def denormalize(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `normalize`: normalised digits or canvases back to intensities in [0, 1], to draw them."""
    return x * DIGITS_STD + DIGITS_MEAN


def _check_split(split: str) -> int:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return 0 if split == "train" else 1


def _resize(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of (N, H, W) or (N, C, H, W) images; align_corners=False, as torchvision does."""
    squeeze = images.dim() == 3
    x = images[:, None] if squeeze else images
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x[:, 0] if squeeze else x


def _digit_split(split: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices into load_digits, their 8x8 images in [0, 1] and labels, for one split.

    The split is stratified: each digit class is in the same proportion in both splits.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    train, test = train_test_split(
        np.arange(len(bunch.target)), test_size=DIGITS_TEST_SIZE, stratify=bunch.target, random_state=seed
    )
    indices = np.sort(train if split == "train" else test)
    return indices, bunch.images[indices] / 16.0, bunch.target[indices]


class DigitsDataset(Dataset):
    """Images and labels held as two tensors; item i is (images[i], labels[i]).

    Attributes:
        images: (N, 1, size, size) float32, normalised (see `normalize`).
        labels: (N,) int64, the digit 0..9.
        indices: (N,) int64, each digit's position in `sklearn.datasets.load_digits()`.
    """

    classes = tuple(range(10))

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor):
        self.images, self.labels, self.indices = images, labels, indices

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i], self.labels[i]


def digits(split: str, size: int = 32, seed: int = 0) -> DigitsDataset:
    """The handwritten digits of scikit-learn, as a Dataset of (image, label).

    The 8x8 digits are scaled from 0..16 to [0, 1], resized (bilinear) to size x size, and
    normalised: (x - DIGITS_MEAN) / DIGITS_STD, the training split's statistics.

    Args:
        split: "train" (1,437 digits) or "test" (360 digits). The split is stratified and fixed
            by `seed`: the same seed always gives the same two disjoint sets.
        size: side of the square images; 32 suits the course's models (patch 4, window 4, ...).
        seed: the split's random state.

    Returns:
        a DigitsDataset; item i is (image (1, size, size) float32, label int64 scalar).
    """
    _check_split(split)
    check_size(size, "size")
    indices, images, labels = _digit_split(split, seed)
    x = _resize(torch.tensor(images, dtype=torch.float32), (size, size))  # (N, size, size)
    return DigitsDataset(
        normalize(x)[:, None],  # (N, 1, size, size)
        torch.tensor(labels, dtype=torch.int64),
        torch.tensor(indices, dtype=torch.int64),
    )


def stratified_split(dataset: DigitsDataset, size: int, seed: int = 0) -> tuple[DigitsDataset, DigitsDataset]:
    """Draw `size` items of `dataset` at random, each digit in the same proportion as in the whole.

    Args:
        dataset: e.g. digits("train").
        size: how many items to draw, 10 <= size <= len(dataset) - 10 (at least one of each digit on
            both sides); e.g. DIGITS_VALIDATION_SIZE for a validation split.
        seed: which items are drawn.

    Returns:
        (the rest, the drawn items), two disjoint DigitsDatasets, each in its original order.
    """
    check_size(size, "size")
    if not 10 <= size <= len(dataset) - 10:
        raise ValueError(f"size must be between 10 and len(dataset) - 10 = {len(dataset) - 10}, got {size}")
    from sklearn.model_selection import train_test_split

    rest, drawn = train_test_split(
        np.arange(len(dataset)), test_size=size, stratify=dataset.labels.numpy(), random_state=seed
    )
    return _take(dataset, rest), _take(dataset, drawn)


def _take(dataset: DigitsDataset, items: np.ndarray) -> DigitsDataset:
    keep = torch.as_tensor(np.sort(items))
    return DigitsDataset(dataset.images[keep], dataset.labels[keep], dataset.indices[keep])


class Translated(Dataset):
    """The items of a digits dataset, each shifted by a random number of pixels, anew every time it is
    read: data augmentation that shows a model the same digit at other places (torchvision's RandomCrop
    of the image padded with background by `max_shift` pixels on every side).

    Args:
        dataset: a DigitsDataset (images (N, 1, S, S)).
        max_shift: the largest shift, in pixels, along each axis (4 pixels of a 32 x 32 digit are one
            pixel of the 8 x 8 original).
    """

    def __init__(self, dataset: DigitsDataset, max_shift: int = 4):
        from torchvision.transforms import v2

        check_size(max_shift, "max_shift")
        self.dataset = dataset
        size = dataset.images.shape[-2:]
        self.crop = v2.RandomCrop(size, padding=max_shift, fill=normalize(torch.tensor(0.0)).item())

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, label = self.dataset[i]
        return self.crop(image), label  # (1, S, S): the digit moved, background filling the gap


class DigitCanvas(Dataset):
    """One or two digits at random places on an empty canvas; see `digit_canvas`.

    Item i is (image, labels, mask):
        image: (1, S, S) float32, normalised like `digits` (the empty canvas is 0 before normalising).
        labels: (10,) float32 multi-hot, labels[d] = 1 when digit d is on the canvas.
        mask: (S, S) int64, BACKGROUND (0) or d + 1 where digit d's intensity is above MASK_THRESHOLD.
    """

    classes = ("background", *map(str, range(10)))

    def __init__(
        self,
        digit_pixels: torch.Tensor,
        digit_labels: torch.Tensor,
        digit_indices: torch.Tensor,
        canvas_size: int,
        placements: list[list[tuple[int, int, int]]],
    ):
        self.digit_pixels = digit_pixels  # (n, s, s) in [0, 1], the split's digits already resized
        self.digit_labels = digit_labels  # (n,) the digit 0..9
        self.digit_indices = digit_indices  # (n,) positions in load_digits()
        self.canvas_size = canvas_size
        self._placements = placements  # per item: [(digit index, top, left), ...]

    def __len__(self) -> int:
        return len(self._placements)

    def placements(self, i: int) -> list[tuple[int, int, int, int]]:
        """Where item i's digits are: a list of (label, top, left, index into load_digits)."""
        return [
            (int(self.digit_labels[j]), top, left, int(self.digit_indices[j])) for j, top, left in self._placements[i]
        ]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        S, s = self.canvas_size, self.digit_pixels.shape[-1]
        canvas = torch.zeros(S, S)
        mask = torch.full((S, S), BACKGROUND, dtype=torch.int64)
        labels = torch.zeros(10)
        for j, top, left in self._placements[i]:
            digit, label = self.digit_pixels[j], int(self.digit_labels[j])
            canvas[top : top + s, left : left + s] = digit  # boxes never overlap
            mask[top : top + s, left : left + s][digit > MASK_THRESHOLD] = label + 1
            labels[label] = 1.0
        return normalize(canvas)[None], labels, mask  # (1, S, S), (10,), (S, S)


def digit_canvas(
    split: str,
    num_samples: int | None = None,
    canvas_size: int = 64,
    digit_size: int = 24,
    max_digits: int = 2,
    seed: int = 0,
) -> DigitCanvas:
    """Canvases holding one to `max_digits` digits, with image-level labels and pixel masks.

    Each canvas draws how many digits it holds (1..max_digits, equally likely), which digits (from
    the same split of `digits`, so test canvases hold only test digits), and where: top-left
    corners uniform over the canvas, redrawn until no two digit boxes overlap. A digit is its
    8x8 image in [0, 1] resized (bilinear) to digit_size x digit_size; its mask is where that
    resized intensity is above MASK_THRESHOLD (0.5).

    Args:
        split: "train" or "test".
        num_samples: how many canvases; 2,000 for "train" and 500 for "test" when None.
        canvas_size: S, the side of the square canvas.
        digit_size: s, the side of each digit on the canvas.
        max_digits: at most this many digits per canvas.
        seed: fixes the digit split and every canvas; item i is the same on every call.

    Returns:
        a DigitCanvas; item i is (image (1, S, S), labels (10,) multi-hot, mask (S, S) int64 with
        0 = background and d + 1 = digit d).
    """
    split_id = _check_split(split)
    check_size(canvas_size, "canvas_size")
    check_size(digit_size, "digit_size")
    check_size(max_digits, "max_digits")
    if num_samples is None:
        num_samples = 2000 if split == "train" else 500
    check_size(num_samples, "num_samples")
    if max_digits > (canvas_size // digit_size) ** 2:
        raise ValueError(
            f"max_digits ({max_digits}) {digit_size}x{digit_size} digits cannot be sure to fit, without "
            f"overlapping, on a {canvas_size}x{canvas_size} canvas; need max_digits <= (canvas_size // digit_size)**2"
        )
    indices, images, labels = _digit_split(split, seed)
    pixels = _resize(torch.tensor(images, dtype=torch.float32), (digit_size, digit_size)).clamp(0, 1)

    rng = np.random.default_rng([seed, split_id, 1])
    placements = []
    for _ in range(num_samples):
        count = int(rng.integers(1, max_digits + 1))
        chosen = rng.choice(len(labels), size=count, replace=False)
        while True:
            corners = rng.integers(0, canvas_size - digit_size + 1, size=(count, 2)).tolist()  # [top, left] each
            if all(abs(a[0] - b[0]) >= digit_size or abs(a[1] - b[1]) >= digit_size  # apart in rows or columns
                   for a, b in itertools.combinations(corners, 2)):
                break
        placements.append([(int(j), int(top), int(left)) for j, (top, left) in zip(chosen, corners)])
    return DigitCanvas(pixels, torch.tensor(labels), torch.tensor(indices), canvas_size, placements)


class TwoMarks(Dataset):
    """Images with one red and one blue mark; the label says whether red is left of blue.

    Attributes:
        images: (N, 3, S, S) float32 in [0, 1]; black except the two marks.
        labels: (N,) int64, 1 when the red mark is left of the blue mark, else 0.
        red, blue: (N, 2) int64, the (row, column) of each mark.
    """

    classes = ("red right of blue", "red left of blue")

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, red: torch.Tensor, blue: torch.Tensor):
        self.images, self.labels, self.red, self.blue = images, labels, red, blue

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[i], self.labels[i]


def two_marks(
    split: str,
    num_samples: int | None = None,
    size: int = 24,
    receptive_field: int = 7,
    seed: int = 0,
    aligned_to: int | None = None,
    max_gap: int = 3,
) -> TwoMarks:
    """A task that needs to compare where the marks are: is the red mark left of the blue mark?

    Each image is black with a red pixel and a blue pixel of random brightness (0.5..1). Both marks
    are at least receptive_field - 1 pixels from every border, so that no window of that size that
    sees a mark reaches the zero padding, and their rows are at least `receptive_field` apart, so
    that no such window sees both marks.

    The columns are drawn so that neither mark's position alone gives the label away: a gap g
    (uniform over 1..max_gap), the left mark's column (uniform over the columns with room for the
    other g to its right), then a fair coin for which of the two marks is red. A red (or blue) mark
    in any column but the first and last allowed then has the other mark on either side. The best
    rule "label = f(column of one mark)" scores 299/495 = 0.604 over the draw itself (its expected
    accuracy on endless images) for the defaults (12 columns, gaps 1 to 3; 0.737 with gaps 1 to 6),
    where chance is 0.5: the answer needs both columns. A rule fitted on a finite training set and
    scored on a finite test set lands near that, not on it (notebook 01 prints its score on the test
    set). (No draw on a bounded range of columns reaches 0.5: a mark in the first column is always
    left of the other.)

    Why a small CNN cannot solve it: each output feature of a stride-1 CNN with receptive field R
    (such as SmallCNN(3, 2, widths, downsample=False)) sees one R x R window of the image. A window
    holding a mark looks the same wherever the mark is, and a window holding no mark looks the same
    in every image. So global pooling receives the same bag of features from an image and from its
    twin with the two marks swapped, whose label is the opposite: the CNN gives both the same answer
    and is right on exactly one. Swapping is as likely as not, so its accuracy is 50%, however long
    it trains and whatever head follows the pooling. A model that knows where each mark is (a
    position embedding, or coordinates given as input channels) can score each mark by its column
    and compare the two scores, without any feature that sees both marks.

    Args:
        split: "train" or "test" (independent draws).
        num_samples: how many images; 1,000 for "train" and 500 for "test" when None.
        size: S, the side of the square images.
        receptive_field: R, the receptive field (in pixels) of the CNN that must fail; the marks'
            rows differ by at least R and each mark is at least R - 1 pixels from the borders.
        seed: fixes every image.
        aligned_to: None, or a patch side p: only gaps that are multiples of p are drawn, so both
            marks sit in the same column inside their p x p patches (a test for a model that sees
            what lies inside each patch but not where the patch is).
        max_gap: the largest gap between the two marks' columns (at least 1).

    Returns:
        a TwoMarks dataset; item i is (image (3, S, S) float32, label int64 scalar).
    """
    split_id = _check_split(split)
    check_size(size, "size")
    check_size(receptive_field, "receptive_field")
    check_size(max_gap, "max_gap")
    if num_samples is None:
        num_samples = 1000 if split == "train" else 500
    check_size(num_samples, "num_samples")
    if aligned_to is not None:
        check_size(aligned_to, "aligned_to")
    lo, hi = receptive_field - 1, size - receptive_field  # marks in [lo, hi] on both axes
    if hi - lo < receptive_field:
        raise ValueError(
            f"size ({size}) is too small for receptive_field ({receptive_field}): need size >= "
            f"3 * receptive_field - 1 = {3 * receptive_field - 1}"
        )
    if max_gap > hi - lo:
        raise ValueError(f"max_gap ({max_gap}) leaves no room in columns {lo}..{hi}: need max_gap <= {hi - lo}")
    step = 1 if aligned_to is None else aligned_to
    gaps = [g for g in range(1, max_gap + 1) if g % step == 0]
    if not gaps:
        raise ValueError(f"aligned_to ({aligned_to}) leaves no gap in 1..{max_gap} (max_gap) that is a multiple of it")
    rng = np.random.default_rng([seed, split_id, 3])
    rows = rng.integers(lo, hi + 1, size=(num_samples, 2))
    for n in range(num_samples):
        while abs(rows[n, 0] - rows[n, 1]) < receptive_field:
            rows[n] = rng.integers(lo, hi + 1, size=2)
    gap = rng.choice(gaps, size=num_samples)
    left = rng.integers(lo, hi - gap + 1)  # (num_samples,): the left mark's column, room for gap to its right
    red_left = rng.integers(0, 2, size=num_samples).astype(bool)  # the fair coin
    cols = np.stack([np.where(red_left, left, left + gap), np.where(red_left, left + gap, left)], 1)  # (red, blue)
    brightness = rng.uniform(0.5, 1.0, size=(num_samples, 2))

    images = torch.zeros(num_samples, 3, size, size)
    n = torch.arange(num_samples)
    red, blue = torch.tensor(np.stack([rows[:, 0], cols[:, 0]], 1)), torch.tensor(np.stack([rows[:, 1], cols[:, 1]], 1))
    images[n, 0, red[:, 0], red[:, 1]] = torch.tensor(brightness[:, 0], dtype=torch.float32)
    images[n, 2, blue[:, 0], blue[:, 1]] = torch.tensor(brightness[:, 1], dtype=torch.float32)
    labels = (red[:, 1] < blue[:, 1]).long()
    return TwoMarks(images, labels, red, blue)


def photo(name: str, size: int | tuple[int, int] = 224) -> torch.Tensor:
    """A sample photograph from skimage.data, resized, as a (3, H, W) float32 tensor in [0, 1].

    Args:
        name: "astronaut" (512x512), "coffee" (400x600) or "chelsea" (a cat, 300x451).
        size: an int s gives an s x s picture: the central square of the photograph, resized. A
            pair (h, w) resizes the whole photograph to h x w (its aspect ratio may change).

    Returns:
        the picture, shape (3, H, W), values in [0, 1].
    """
    if name not in PHOTOS:
        raise ValueError(f"name must be one of {PHOTOS}, got {name!r}")
    square = isinstance(size, int) and not isinstance(size, bool)
    h, w = to_pair(size, "size")
    from skimage import data as skdata

    x = torch.tensor(getattr(skdata, name)(), dtype=torch.float32).permute(2, 0, 1) / 255  # (3, H, W)
    if square:
        side = min(x.shape[1:])
        top, left = (x.shape[1] - side) // 2, (x.shape[2] - side) // 2
        x = x[:, top : top + side, left : left + side]
    # antialias: shrinking a photograph without it leaves jagged, aliased edges
    x = F.interpolate(x[None], size=(h, w), mode="bilinear", align_corners=False, antialias=True)[0]
    return x.clamp(0, 1)
