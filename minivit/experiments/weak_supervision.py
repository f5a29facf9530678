"""Notebook 09's experiment: weakly supervised segmentation of digit canvases, end to end, for one seed,
with the controls that isolate each of its conclusions.

Classifiers are trained on image-level labels ("this canvas holds a 3 and a 7"); their class activation
maps (CAMs) are made into masks; segmentation heads are trained over the frozen MobileViT, on those
pseudo-masks and on the true masks.

The controls (`CLASSIFIERS` and the heads of `weak_supervision`), one change each:
- "mobilevit_no_attention": the same MobileViT with the transformer of each MobileViT block replaced by
  the identity (`mobilevit_without_attention`): what the attention does to the CAMs;
- "cnn": a small CNN trained for more epochs, to about the MobileViT's classification accuracy: a CAM
  whose every value sees only pixels around its place;
- every head read two ways (`head_measures`): by its own argmax, and thresholded like the CAMs
  (`masks_from_cams` on its probabilities, the threshold chosen on the same training canvases), so that
  the linear probe on true masks against the CAM changes the supervision with the decision rule fixed;
- the probe trained again with a class-balanced cross-entropy (`balanced_class_weights`): only the loss's
  weights change, to test whether the imbalance of background and digits makes it answer "background";
- a head on the last map only, with the multi-stage head's parameter count: resolution with capacity
  and decision rule held fixed;
- heads on the last map and on all maps, each trained on pseudo-masks and on true masks: the maps read
  and the supervision, each changed with the other held both ways (a 2 x 2);
- every head trained for each of HEAD_EPOCHS: the notebook's short training, and two long ones, to see
  whether the comparisons change with the training length;
- the pointing game beside its chance level and a class-blind baseline (`ink_maps`).

- `canvases`: digit canvases as three tensors (images, labels, masks).
- `backbone_maps`: a frozen backbone's feature maps of many images, computed once.
- `train_head`, `head_scores`: a segmentation head trained and run on such maps; `digit_probabilities`,
  its scores as maps that `masks_from_cams` thresholds like CAMs; `head_masks`, a head's masks by its
  argmax and by the CAM masks' rule; `head_measures`, a head trained and both its masks measured;
  `balanced_class_weights`, cross-entropy weights under which every class weighs the same.
- `train_classifier`, `cam_measures`: one of CLASSIFIERS trained on the labels; what its CAMs are worth.
- `weak_supervision`: the whole pipeline for one seed, every measure of its comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from minivit.data import CANVAS_CLASSES, digit_canvas
from minivit.metrics import mean_iou
from minivit.models.mobilevit import MobileViT, MobileViTBlock, mobilevit_tiny
from minivit.models.toy_models import SmallCNN
from minivit.segmentation import (
    LinearProbeHead,
    SegmentationHead,
    choose_threshold,
    class_activation_map,
    far_gradient_share,
    masks_from_cams,
    pointing_chance,
    pointing_game,
)
from minivit.train import evaluate, fit, seed_everything

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # candidates for the threshold of masks_from_cams
NUM_TUNE = 200  # the training canvases whose true masks choose that threshold
NUM_FAR = 32  # the test canvases far_gradient_share is measured on
HEAD_DIM = 48  # D of the multi-stage SegmentationHead
LAST_MAP_DIM = 86  # D of the SegmentationHead on the last map only: then it has the multi-stage head's parameters
HEAD_EPOCHS = (2, 30, 60)  # the heads' training lengths: notebook 09's, and two long ones: do comparisons settle?


def mobilevit_without_attention() -> MobileViT:
    """mobilevit_tiny with the transformer of each MobileViT block replaced by nn.Identity.

    Everything else stays: the convolutions, the unfold, the LayerNorm and the fold. The unfolded tokens
    just no longer see each other, so every feature depends on the pixels its convolutions reach.
    """
    model = mobilevit_tiny(num_classes=10)
    for block in model.modules():
        if isinstance(block, MobileViTBlock):
            block.transformer = nn.Identity()
    return model


@dataclass(frozen=True)
class Classifier:
    """How one classifier of notebook 09 is built and trained on the image-level labels."""

    build: Callable[[], nn.Module]  # a new model, from the seed set just before
    epochs: int  # passes over the training canvases, at learning rate 3e-3, batches of 32


CLASSIFIERS = {
    "mobilevit": Classifier(lambda: mobilevit_tiny(num_classes=10), epochs=5),
    "mobilevit_no_attention": Classifier(mobilevit_without_attention, epochs=5),
    # 5 epochs leave the CNN far below the MobileViT (exact-match accuracy 0.38 against 0.74 in seed 0); with
    # 10 it comes near it (see the stored results)
    "cnn": Classifier(lambda: SmallCNN(in_channels=1, num_classes=10), epochs=10),
}


def canvases(split: str, num_samples: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All items of `digit_canvas(split, num_samples)` (32 x 32 canvases, digits of 16 x 16), stacked:
    images (N, 1, 32, 32), labels (N, 10) multi-hot, masks (N, 32, 32)."""
    dataset = digit_canvas(split, num_samples=num_samples, canvas_size=32, digit_size=16)
    images, labels, masks = (torch.stack(items) for items in zip(*(dataset[i] for i in range(len(dataset)))))
    return images, labels, masks


def train_classifier(
    name: str, images: torch.Tensor, labels: torch.Tensor, seed: int, epochs: int | None = None
) -> nn.Module:
    """CLASSIFIERS[name] trained as a multi-label classifier on (images, labels), returned in eval mode."""
    spec = CLASSIFIERS[name]
    seed_everything(seed)
    model = spec.build()
    loader = DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=True)
    fit(model, loader, epochs=epochs or spec.epochs, lr=3e-3, multi_label=True, seed=seed, progress=False)
    return model.eval()


@torch.no_grad()
def backbone_maps(backbone: nn.Module, images: torch.Tensor, batch_size: int = 200) -> list[torch.Tensor]:
    """A frozen backbone's feature maps of all images: [(N, C_i, H_i, W_i), ...], finest first, in eval
    mode. A head trained over a frozen backbone sees the same maps in every epoch, so they are computed
    once instead of once per batch of every epoch."""
    was_training = backbone.training
    backbone.eval()
    per_batch = [backbone.feature_maps(x) for x in images.split(batch_size)]
    backbone.train(was_training)
    return [torch.cat(stage) for stage in zip(*per_batch)]


class _Maps(Dataset):
    """Item i: ([maps of image i, one per stage], mask i)."""

    def __init__(self, maps: Sequence[torch.Tensor], masks: torch.Tensor):
        self.maps, self.masks = maps, masks

    def __len__(self) -> int:
        return len(self.masks)

    def __getitem__(self, i: int) -> tuple[list[torch.Tensor], torch.Tensor]:
        return [m[i] for m in self.maps], self.masks[i]


class _HeadAtSize(nn.Module):
    """A head as `fit` calls a model: maps -> scores (B, K, H, W) at a fixed input size."""

    def __init__(self, head: nn.Module, size: tuple[int, int]):
        super().__init__()
        self.head, self.size = head, size

    def forward(self, maps: list[torch.Tensor]) -> torch.Tensor:
        return self.head(maps, size=self.size)


def train_head(
    head: nn.Module, maps: Sequence[torch.Tensor], masks: torch.Tensor, seed: int, epochs: int = 2,
    class_weights: torch.Tensor | None = None,
) -> nn.Module:
    """A segmentation head trained on `masks` (N, H, W) from a frozen backbone's `maps` (see
    `backbone_maps`), with notebook 09's recipe: per-pixel cross-entropy (weighted per class by
    `class_weights` (K,) when given), batches of 32, lr 0.01. Returned in eval mode."""
    seed_everything(seed)
    loader = DataLoader(_Maps(maps, masks), batch_size=32, shuffle=True)
    fit(_HeadAtSize(head, tuple(masks.shape[-2:])), loader, epochs=epochs, lr=1e-2, seed=seed,
        class_weights=class_weights, progress=False)
    return head.eval()


@torch.no_grad()
def head_scores(head: nn.Module, maps: Sequence[torch.Tensor], size: int | tuple[int, int]) -> torch.Tensor:
    """A trained head's class scores (N, K, H, W) on a backbone's maps, in eval mode."""
    was_training = head.training
    head.eval()
    scores = head(maps, size=size)
    head.train(was_training)
    return scores


def digit_probabilities(scores: torch.Tensor) -> torch.Tensor:
    """A segmentation head's scores (B, 1 + K, H, W), background first, as per-class maps (B, K, H, W)
    that `masks_from_cams` can threshold like CAMs: the softmax probability of each object class."""
    return scores.softmax(dim=1)[:, 1:]


def ink_maps(images: torch.Tensor, shape: torch.Size | tuple[int, int, int, int]) -> torch.Tensor:
    """The pointing game's class-blind baseline: maps of `shape` (B, K, h, w) that are, for every class,
    the mean of the image (B, 1, H, W) over each place. Their peak is the place with the most ink, the
    same for every digit on the canvas."""
    batch, num_classes, h, w = shape
    return F.adaptive_avg_pool2d(images, (h, w)).expand(batch, num_classes, h, w)


def cam_measures(
    classifier: nn.Module, train: tuple[torch.Tensor, ...], test: tuple[torch.Tensor, ...]
) -> dict[str, float]:
    """What one trained classifier's CAMs are worth, every measure of notebook 09 (in eval mode, in which
    the classifier is left).

    Args:
        classifier: trained on image-level labels, with `feature_maps` and a Linear `head`.
        train: (images, labels, masks) of the training canvases; the first NUM_TUNE choose the threshold.
        test: (images, labels, masks) of the test canvases.

    Returns:
        accuracy (test canvases with all 10 answers right), threshold (chosen among THRESHOLDS), cam (test
        mean IoU of masks_from_cams with the classifier's own answers), pointing (pointing game hit rate
        over the digits of the test canvases, played at the CAM's own resolution), pointing_chance (the
        hit rate of a peak on a random place of a map of that resolution), pointing_ink (the hit rate of
        `ink_maps`, which know where the ink is but not which digit), far_share (far_gradient_share on
        NUM_FAR test canvases, following the first digit of each).
    """
    (train_images, _, train_masks), (test_images, test_labels, test_masks) = train, test
    classifier.eval()  # BatchNorm with its running statistics, even when called straight after fit
    tune_images = train_images[:NUM_TUNE]
    with torch.no_grad():
        tune_present, test_present = classifier(tune_images) > 0, classifier(test_images) > 0
        tune_cams = class_activation_map(classifier, tune_images)
        test_cams = class_activation_map(classifier, test_images)
        coarse_cams = class_activation_map(classifier, test_images, upsample=False)  # for the pointing game
    threshold, _ = choose_threshold(tune_cams, tune_present, train_masks[:NUM_TUNE], THRESHOLDS)
    labels_loader = DataLoader(TensorDataset(test_images, test_labels), batch_size=100)
    first_digit = test_labels[:NUM_FAR].argmax(dim=1)
    present = test_labels.bool()  # the digits the pointing game follows: every digit on each canvas
    return dict(
        accuracy=evaluate(classifier, labels_loader, multi_label=True),
        threshold=threshold,
        cam=mean_iou(masks_from_cams(test_cams, test_present, threshold), test_masks, CANVAS_CLASSES),
        pointing=pointing_game(coarse_cams, test_masks, present).float().mean().item(),
        pointing_chance=pointing_chance(test_masks, present, coarse_cams.shape[-2:]).mean().item(),
        pointing_ink=pointing_game(ink_maps(test_images, coarse_cams.shape), test_masks, present).float().mean().item(),
        far_share=far_gradient_share(classifier, test_images[:NUM_FAR], first_digit),
    )


def head_masks(
    head: nn.Module,
    tune: tuple[Sequence[torch.Tensor], torch.Tensor, torch.Tensor],
    test_maps: Sequence[torch.Tensor],
    test_present: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """A trained segmentation head's masks of the test canvases, by two decision rules.

    Args:
        head: trained, taking the maps given.
        tune: (maps, true masks (N, H, W), the classifier's answers (N, K) bool) of the canvases that
            choose the threshold among THRESHOLDS, by mean IoU.
        test_maps: the test canvases' maps.
        test_present: the classifier's answers on the test canvases (B, K) bool.

    Returns:
        argmax masks (B, H, W), the class of highest score at each pixel (the head's own decision);
        thresholded masks (B, H, W), masks_from_cams on its digit_probabilities with the classifier's
        answers (the decision rule of the CAM masks); the threshold chosen for them.
    """
    tune_maps, tune_masks, tune_present = tune
    size = tuple(tune_masks.shape[-2:])
    tune_probabilities = digit_probabilities(head_scores(head, tune_maps, size))
    threshold, _ = choose_threshold(tune_probabilities, tune_present, tune_masks, THRESHOLDS)
    scores = head_scores(head, test_maps, size)
    return scores.argmax(dim=1), masks_from_cams(digit_probabilities(scores), test_present, threshold), threshold


def head_measures(
    head: nn.Module,
    maps: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]],
    masks: torch.Tensor,
    truth: tuple[torch.Tensor, torch.Tensor],
    present: tuple[torch.Tensor, torch.Tensor],
    seed: int,
    epochs: int,
    class_weights: torch.Tensor | None = None,
) -> dict[str, float]:
    """A segmentation head trained with `train_head`, its test masks by both rules of `head_masks`, and
    what they are worth.

    Args:
        head: untrained, taking the maps given.
        maps: (training maps, test maps), from `backbone_maps`.
        masks: the masks of the training canvases that the head learns from (true masks or pseudo-masks).
        truth: the true masks of (the training canvases, the test canvases); the first NUM_TUNE
            training canvases' choose the threshold, as they chose the CAM masks' threshold.
        present: the classifier's answers (B, K) bool on (the first NUM_TUNE training canvases, the test
            canvases).
        seed, epochs, class_weights: of train_head.

    Returns:
        argmax and thresholded (the test mean IoU of each rule's masks), threshold, and argmax_background
        (the share of test pixels that the argmax paints background).
    """
    (train_maps, test_maps), (train_truth, test_truth), (tune_present, test_present) = maps, truth, present
    head = train_head(head, train_maps, masks, seed, epochs, class_weights)
    tune = [m[:NUM_TUNE] for m in train_maps], train_truth[:NUM_TUNE], tune_present
    argmax, thresholded, threshold = head_masks(head, tune, test_maps, test_present)
    return dict(
        argmax=mean_iou(argmax, test_truth, CANVAS_CLASSES),
        thresholded=mean_iou(thresholded, test_truth, CANVAS_CLASSES),
        threshold=threshold,
        argmax_background=(argmax == 0).float().mean().item(),
    )


def balanced_class_weights(masks: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Cross-entropy weights (num_classes,) under which every class's pixels in `masks` (N, H, W) weigh as
    much in total: N*H*W / (num_classes * pixels of the class). A class with no pixel gets weight 0."""
    counts = torch.bincount(masks.flatten(), minlength=num_classes).float()  # (K,)
    if len(counts) != num_classes:
        raise ValueError(f"masks must hold classes 0..{num_classes - 1}, got a class {len(counts) - 1}")
    weights = counts.sum() / (num_classes * counts)
    return torch.where(counts > 0, weights, torch.zeros_like(weights))


def weak_supervision(
    seed: int,
    num_train: int = 2000,
    num_test: int = 200,
    epochs: int | None = None,
    head_epochs: Sequence[int] = HEAD_EPOCHS,
) -> dict[str, float | int]:
    """Notebook 09's comparison for one seed.

    Each of CLASSIFIERS is trained on the image-level labels of `num_train` canvases (for `epochs`, or
    its own number when None); for each, the CAM threshold is chosen on NUM_TUNE training canvases and
    its CAM masks are measured on the test canvases. Then over the frozen MobileViT, each of five heads
    is trained for each number of `head_epochs` and read two ways (`head_measures`). On CAM pseudo-masks of
    the training canvases (made with their labels): last_map_head_on_pseudo_masks (a SegmentationHead on
    the last map only, with the multi-stage head's parameter count) and head_on_pseudo_masks (the
    multi-stage SegmentationHead). On the true masks: probe_on_masks (a LinearProbeHead on the last map),
    weighted_probe_on_masks (the same, its cross-entropy weighted by `balanced_class_weights`: is the
    probe's answer "background" the classes' imbalance?), last_map_head_on_masks and head_on_masks (the
    same two SegmentationHeads).

    Returns:
        a row: seed; the mean IoU (over the num_test test canvases) of all background; per classifier
        `{name}_accuracy` (test canvases with all 10 answers right), `{name}_threshold`, `{name}_cam`
        (mean IoU), `{name}_pointing`, `{name}_pointing_chance`, `{name}_pointing_ink`, `{name}_far_share`;
        per head and number of epochs e, `{head}_{e}_argmax`, `{head}_{e}_thresholded`, `{head}_{e}_threshold`,
        `{head}_{e}_argmax_background`.
    """
    train = canvases("train", num_train)
    test = canvases("test", num_test)
    (train_images, train_labels, train_masks), (test_images, _, test_masks) = train, test
    row: dict[str, float | int] = dict(
        seed=seed, background=mean_iou(torch.zeros_like(test_masks), test_masks, CANVAS_CLASSES)
    )
    classifiers = {name: train_classifier(name, train_images, train_labels, seed, epochs) for name in CLASSIFIERS}
    for name, classifier in classifiers.items():
        row.update({f"{name}_{key}": value for key, value in cam_measures(classifier, train, test).items()})
    mobilevit = classifiers["mobilevit"]

    with torch.no_grad():
        cams = class_activation_map(mobilevit, train_images)
        pseudo_masks = masks_from_cams(cams, train_labels, row["mobilevit_threshold"])
        present = mobilevit(train_images[:NUM_TUNE]) > 0, mobilevit(test_images) > 0
    maps = backbone_maps(mobilevit, train_images), backbone_maps(mobilevit, test_images)
    channels = [m.shape[1] for m in maps[0]]
    last = tuple(m[-1:] for m in maps)
    balanced = balanced_class_weights(train_masks, CANVAS_CLASSES)
    heads = {  # name: (a new head, the maps it reads, the masks it learns from, the cross-entropy's class weights)
        "last_map_head_on_pseudo_masks": (
            lambda: SegmentationHead(channels[-1:], CANVAS_CLASSES, dim=LAST_MAP_DIM), last, pseudo_masks, None
        ),
        "head_on_pseudo_masks": (
            lambda: SegmentationHead(channels, CANVAS_CLASSES, dim=HEAD_DIM), maps, pseudo_masks, None
        ),
        "probe_on_masks": (lambda: LinearProbeHead(channels[-1], CANVAS_CLASSES), maps, train_masks, None),
        "weighted_probe_on_masks": (lambda: LinearProbeHead(channels[-1], CANVAS_CLASSES), maps, train_masks, balanced),
        "last_map_head_on_masks": (
            lambda: SegmentationHead(channels[-1:], CANVAS_CLASSES, dim=LAST_MAP_DIM), last, train_masks, None
        ),
        "head_on_masks": (lambda: SegmentationHead(channels, CANVAS_CLASSES, dim=HEAD_DIM), maps, train_masks, None),
    }
    truth = train_masks, test_masks
    for name, (new_head, head_maps, masks, weights) in heads.items():
        for epochs_of_head in head_epochs:
            seed_everything(seed)
            measures = head_measures(new_head(), head_maps, masks, truth, present, seed, epochs_of_head, weights)
            row.update({f"{name}_{epochs_of_head}_{key}": value for key, value in measures.items()})
    return row
