"""Segmentation and classification metrics: accuracy, intersection over union per class, mean IoU, and mean IoU
over bootstrap resamples of the images; and one measure of attention, its mean distance.

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
