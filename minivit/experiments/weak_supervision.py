"""Notebook 09's experiment: weakly supervised segmentation of digit canvases, end to end, for one seed:
classifiers trained on image-level labels, their class activation maps (CAMs) made into masks, a head
trained on those pseudo-masks, against a linear probe and a head trained on the true masks.

- `canvases`: digit canvases as three tensors (images, labels, masks).
- `train_head`: a segmentation head trained over a frozen backbone.
- `weak_supervision`: the whole pipeline for one seed, every mean IoU of its comparison.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from minivit.data import CANVAS_CLASSES, digit_canvas
from minivit.metrics import mean_iou
from minivit.models.mobilevit import mobilevit_tiny
from minivit.models.toy_models import SmallCNN
from minivit.segmentation import (
    LinearProbeHead,
    SegmentationHead,
    SegmentationModel,
    choose_threshold,
    class_activation_map,
    feature_channels,
    masks_from_cams,
    pointing_game,
    predict_masks,
)
from minivit.train import fit, seed_everything

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)  # candidates for the CAM threshold of notebook 09


def canvases(split: str, num_samples: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All items of `digit_canvas(split, num_samples)` (32 x 32 canvases, digits of 16 x 16), stacked:
    images (N, 1, 32, 32), labels (N, 10) multi-hot, masks (N, 32, 32)."""
    dataset = digit_canvas(split, num_samples=num_samples, canvas_size=32, digit_size=16)
    images, labels, masks = (torch.stack(items) for items in zip(*(dataset[i] for i in range(len(dataset)))))
    return images, labels, masks


def train_head(
    backbone: nn.Module, head: nn.Module, images: torch.Tensor, masks: torch.Tensor, seed: int, epochs: int = 2
) -> SegmentationModel:
    """A head trained on `masks` over a frozen backbone (notebook 09's recipe: batches of 32, lr 0.01)."""
    seed_everything(seed)
    model = SegmentationModel(backbone, head, freeze_backbone=True)
    loader = DataLoader(TensorDataset(images, masks), batch_size=32, shuffle=True)
    fit(model, loader, epochs=epochs, lr=1e-2, seed=seed, progress=False)
    return model


def weak_supervision(
    seed: int, num_train: int = 2000, num_test: int = 200, epochs: int = 5, head_epochs: int = 2
) -> dict[str, float | int]:
    """Notebook 09's comparison for one seed: test mean IoU of every way to get masks.

    A mobilevit_tiny and a small CNN are trained as multi-label classifiers on the image-level labels
    of `num_train` canvases; the CAM threshold is chosen on 200 training canvases. Then, over the
    frozen mobilevit_tiny: a multi-stage SegmentationHead trained on CAM pseudo-masks of the training
    canvases (made with their labels), the same head trained on the true masks, and a LinearProbeHead
    on the last map trained on the true masks.

    Returns:
        a row: seed; the mean IoU (over the num_test test canvases) of all background, the MobileViT's
        and the CNN's CAM masks, the head on pseudo-masks, the linear probe and the head on true masks;
        the pointing game hit rate of both classifiers' CAMs.
    """
    train_images, train_labels, train_masks = canvases("train", num_train)
    test_images, test_labels, test_masks = canvases("test", num_test)
    classifiers = {"mobilevit": lambda: mobilevit_tiny(num_classes=10), "cnn": lambda: SmallCNN(1, 10)}
    background = mean_iou(torch.zeros_like(test_masks), test_masks, CANVAS_CLASSES)
    row: dict[str, float | int] = dict(seed=seed, background=background)
    trained = {}
    for name, build in classifiers.items():
        seed_everything(seed)
        classifier = build()
        loader = DataLoader(TensorDataset(train_images, train_labels), batch_size=32, shuffle=True)
        fit(classifier, loader, epochs=epochs, lr=3e-3, multi_label=True, seed=seed, progress=False)
        classifier.eval()
        with torch.no_grad():
            tune_present = classifier(train_images[:200]) > 0
            test_present = classifier(test_images) > 0
            tune_cams = class_activation_map(classifier, train_images[:200])  # (200, 10, 32, 32)
            test_cams = class_activation_map(classifier, test_images)
        threshold, _ = choose_threshold(tune_cams, tune_present, train_masks[:200], THRESHOLDS)
        row[f"{name}_cam"] = mean_iou(masks_from_cams(test_cams, test_present, threshold), test_masks, CANVAS_CLASSES)
        row[f"{name}_pointing"] = pointing_game(test_cams, test_masks, test_labels.bool()).float().mean().item()
        trained[name] = (classifier, threshold)
    classifier, threshold = trained["mobilevit"]
    with torch.no_grad():
        train_cams = class_activation_map(classifier, train_images)
    pseudo = masks_from_cams(train_cams, train_labels, threshold)  # labels known in training
    channels = feature_channels(classifier, in_channels=1)

    def head_iou(head: nn.Module, masks: torch.Tensor) -> float:
        model = train_head(classifier, head, train_images, masks, seed, head_epochs)
        return mean_iou(predict_masks(model, test_images), test_masks, CANVAS_CLASSES)

    seed_everything(seed)
    row["head_on_pseudo_masks"] = head_iou(SegmentationHead(channels, CANVAS_CLASSES, dim=48), pseudo)
    seed_everything(seed)
    row["probe_on_masks"] = head_iou(LinearProbeHead(channels[-1], CANVAS_CLASSES), train_masks)
    seed_everything(seed)
    row["head_on_masks"] = head_iou(SegmentationHead(channels, CANVAS_CLASSES, dim=48), train_masks)
    return row
