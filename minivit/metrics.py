"""Segmentation and classification metrics: accuracy, intersection over union per class, mean IoU, and mean IoU
over bootstrap resamples of the images; intervals of an accuracy and of a difference of accuracies (Wilson,
Newcombe); and one measure of attention, its mean distance.

Glossary: K classes. Masks hold one class index per pixel, any shape (H, W), (B, H, W), ...
"""

from __future__ import annotations

import torch

from minivit.ops._checks import check_size, check_tensor, to_pair


def _check_masks(pred: torch.Tensor, target: torch.Tensor) -> None:
    for name, t in (("pred", pred), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of class indices, got {type(t).__name__}")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of entries where pred equals target: labels (N,) or masks (pixel accuracy)."""
    _check_masks(pred, target)
    return (pred == target).float().mean().item()


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(K, K) int64 counts: entry [t, p] is how many pixels of true class t were predicted p."""
    check_size(num_classes, "num_classes")
    _check_masks(pred, target)
    for name, t in (("pred", pred), ("target", target)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(
                f"{name} must hold class indices in [0, {num_classes}), got values in [{int(t.min())}, {int(t.max())}]"
            )
    pairs = target.reshape(-1).long() * num_classes + pred.reshape(-1).long()
    return torch.bincount(pairs, minlength=num_classes**2).reshape(num_classes, num_classes)


def _iou_from_confusion(cm: torch.Tensor) -> torch.Tensor:
    """IoU per class from confusion matrices (..., K, K) float: (..., K), NaN for classes absent from both."""
    intersection = cm.diagonal(dim1=-2, dim2=-1)
    union = cm.sum(-2) + cm.sum(-1) - intersection  # predicted k + truly k - both
    return intersection / union  # 0 / 0 = NaN where the class is absent from both


def iou_per_class(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Intersection over union of each class: |pred == k and target == k| / |pred == k or target == k|.

    A class absent from both pred and target has no IoU (0 / 0): its entry is NaN, and `mean_iou`
    leaves it out. A class present in only one of them has IoU 0.

    Pass all masks of a data set stacked, (N, H, W), to get the data set's IoU (pixels counted over
    all images, as PASCAL VOC does); that is not the mean of per-image IoUs.

    Args:
        pred: predicted class indices, any shape.
        target: true class indices, the same shape.
        num_classes: K.

    Returns:
        (K,) float64, NaN for classes absent from both.
    """
    return _iou_from_confusion(confusion_matrix(pred, target, num_classes).double())


def mean_iou(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    """Mean of `iou_per_class` over the classes present in pred or target (NaN if there are none)."""
    return iou_per_class(pred, target, num_classes).nanmean().item()


def mean_iou_resampled(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, indices: torch.Tensor
) -> torch.Tensor:
    """The mean IoU of many resamples of a data set's images, for a bootstrap.

    Row r of `indices` names the images of resample r (with repeats, as drawn with replacement); its mean
    IoU is `mean_iou(pred[indices[r]], target[indices[r]], num_classes)`, pixels counted over the
    resample's images. Each image's confusion matrix is counted once, and a resample sums them. Two
    methods measured with the same `indices` give a *paired* bootstrap of their difference: both are
    judged on the same images in every resample.

    Args:
        pred, target: (N, ...) masks of N images.
        num_classes: K.
        indices: (R, M) int64 in [0, N), R resamples of M images each.

    Returns:
        (R,) float64, the mean IoU of each resample.
    """
    _check_masks(pred, target)
    in_range = indices.numel() == 0 or 0 <= indices.min() <= indices.max() < len(pred)
    if indices.dim() != 2 or indices.dtype != torch.int64 or not in_range:
        raise ValueError(
            f"indices must be (R, M) int64 in [0, {len(pred)}), got shape {tuple(indices.shape)}, dtype {indices.dtype}"
        )
    per_image = torch.stack([confusion_matrix(p, t, num_classes) for p, t in zip(pred, target)])  # (N, K, K)
    times_drawn = torch.zeros(len(indices), len(pred), dtype=torch.float64)
    times_drawn.scatter_add_(1, indices, torch.ones_like(indices, dtype=torch.float64))  # (R, N)
    cm = (times_drawn @ per_image.reshape(len(pred), -1).double()).reshape(-1, num_classes, num_classes)  # (R, K, K)
    return _iou_from_confusion(cm).nanmean(dim=1)


def mean_iou_difference_interval(
    pred_a: torch.Tensor, pred_b: torch.Tensor, target: torch.Tensor, num_classes: int,
    resamples: int = 1000, level: float = 0.95, seed: int = 0,
) -> tuple[float, float]:
    """A paired bootstrap interval of mean_iou(pred_a) - mean_iou(pred_b) over the images of a test set.

    `resamples` resamples of the N images are drawn with replacement (from a generator seeded by `seed`);
    both methods are measured on the same resample (`mean_iou_resampled`), and the interval is the central
    `level` share of the differences (the percentile bootstrap). It says how much the difference could move
    with another test set of N images like these; not how much it moves with another training run.

    Args:
        pred_a, pred_b, target: (N, ...) masks of the same N images.
        num_classes: K.

    Returns:
        (low, high).
    """
    _check_masks(pred_b, target)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    check_size(resamples, "resamples")
    generator = torch.Generator().manual_seed(seed)
    indices = torch.randint(len(target), (resamples, len(target)), generator=generator)
    differences = (mean_iou_resampled(pred_a, target, num_classes, indices)
                   - mean_iou_resampled(pred_b, target, num_classes, indices))
    low, high = torch.quantile(differences, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=differences.dtype))
    return low.item(), high.item()


def wilson_interval(accuracy: float, n: int, z: float = 2.0) -> tuple[float, float]:
    """Wilson's score interval of an accuracy measured on n independent test images.

    The simple interval, accuracy +- z * sqrt(p (1 - p) / n), is symmetric and shrinks to nothing as the
    accuracy nears 1 (at 359 of 360 right it would say the true accuracy is within +-0.006). Wilson's interval
    holds every p whose own standard error puts the measured accuracy within z of it: it is lopsided near 1
    and never leaves [0, 1] (Wilson, 1927; Brown, Cai and DasGupta, 2001, recommend it).

    Args:
        accuracy: the measured share of right answers, in [0, 1] (a mean over seeds is fine: the interval is
            about the n test images, not the seeds).
        n: the number of test images.
        z: how many standard errors wide; 2 (about 95%) matches "twice the standard error".

    Returns:
        (low, high), with low <= accuracy <= high.
    """
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must be in [0, 1], got {accuracy}")
    check_size(n, "n")
    if not z > 0:
        raise ValueError(f"z must be positive, got {z}")
    shrink = 1 + z**2 / n
    centre = (accuracy + z**2 / (2 * n)) / shrink
    half = z / shrink * (accuracy * (1 - accuracy) / n + z**2 / (4 * n**2)) ** 0.5
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy_combination_interval(terms, z: float = 2.0) -> tuple[float, float]:
    """An interval of sum(c * accuracy) over terms (c, accuracy, n), each accuracy measured on its own n test
    images, from their Wilson intervals: Newcombe's (1998) "hybrid score" method, for any number of accuracies.

    Each accuracy's Wilson interval gives its distance below and above it; the sum goes down by the distances on
    the side that lowers it (times |c|), combined as independent errors, and up likewise. It treats the accuracies
    as independent; measured on the same test images they are usually positively correlated, which makes the
    interval wider than a paired test (McNemar's) would be: cautious.

    Returns:
        (low, high).
    """
    total, down, up = 0.0, 0.0, 0.0
    for c, accuracy, n in terms:
        low, high = wilson_interval(accuracy, n, z)
        lowers, raises = (accuracy - low, high - accuracy) if c > 0 else (high - accuracy, accuracy - low)
        total, down, up = total + c * accuracy, down + (c * lowers) ** 2, up + (c * raises) ** 2
    return total - down**0.5, total + up**0.5


def accuracy_difference_interval(
    accuracy_a: float, accuracy_b: float, n: int, z: float = 2.0, n_b: int | None = None
) -> tuple[float, float]:
    """An interval of accuracy_a - accuracy_b, measured on n test images (b on n_b, if given):
    `accuracy_combination_interval` of the two, low = d - sqrt((a - low_a)^2 + (high_b - b)^2) and
    high = d + sqrt((high_a - a)^2 + (b - low_b)^2), from their Wilson intervals (Newcombe, 1998).

    Returns:
        (low, high); low > 0 says a is above b beyond the test set's noise.
    """
    return accuracy_combination_interval(((1, accuracy_a, n), (-1, accuracy_b, n if n_b is None else n_b)), z)


def mean_attention_distance(attention: torch.Tensor, grid: int | tuple[int, int], patch_size: int) -> torch.Tensor:
    """How far, in pixels, the queries of an attention layer reach on average (Dosovitskiy et al., 2021,
    Figure 7: "mean attention distance").

    Query patch q with weights a_qk over the key patches reaches sum_k a_qk d(q, k), where d(q, k) is the
    Euclidean distance between the centres of the two patches, in pixels (patch_size times their distance in
    grid cells); the result averages that over the queries. A query that attends only to itself reaches 0.

    Args:
        attention: (..., N, N) weights among the N = h * w patch tokens, rows the queries and columns the keys,
            both in row-major order over the grid, e.g. one layer's (B, nh, N, N). Drop a class token first
            (`maps[..., 1:, 1:]`): each row is then divided by its sum, so that the weights over the patch keys
            add up to 1.
        grid: (h, w) patches, or an int for a square grid.
        patch_size: the side of a patch, in pixels.

    Returns:
        (...,) float, the mean distance over the N queries, in pixels.
    """
    check_tensor(attention, "attention", "(..., N, N)")
    h, w = to_pair(grid, "grid")
    check_size(patch_size, "patch_size")
    if attention.shape[-2:] != (h * w, h * w):
        raise ValueError(f"attention must have shape (..., N, N) with N = h * w = {h * w} for grid ({h}, {w}), "
                         f"got {tuple(attention.shape)}")
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    centres = torch.stack([rows.flatten(), cols.flatten()], dim=1).double() * patch_size  # (N, 2), in pixels
    distance = torch.cdist(centres, centres)  # (N, N): from query to key
    weights = attention.double() / attention.double().sum(dim=-1, keepdim=True)  # rows add up to 1 over the patches
    return (weights * distance).sum(dim=-1).mean(dim=-1)  # (...,)
