"""Segmentation and classification metrics: accuracy, intersection over union per class, mean IoU, and mean IoU
over bootstrap resamples of the images.

Glossary: K classes. Masks hold one class index per pixel, any shape (H, W), (B, H, W), ...
"""

from __future__ import annotations

import torch

from minivit.ops._checks import check_size


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
