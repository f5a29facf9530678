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
  and the last-map head on true masks trained the same way, so that the multi-stage head's lead by argmax
  is not just the last-map head answering "background";
- the probe, and the multi-stage head on true masks at its shortest training, read again like a CAM with
  one of that rule's handicaps taken away at a time (`READINGS`): the true labels instead of the
  classifier's answers, and the probabilities thresholded without scaling each digit's by its maximum;
- a head on the last map only, with the multi-stage head's parameter count: resolution with capacity
  and decision rule held fixed;
- heads on the last map and on all maps, each trained on pseudo-masks and on true masks: the maps read
  and the supervision, each changed with the other held both ways (a 2 x 2);
- every head trained for each of HEAD_EPOCHS: the notebook's short training, and two long ones, to see
  whether the comparisons change with the training length;
- the pointing game beside its chance level and a class-blind baseline (`ink_maps`);
- a reference point, not a control: a plain ViT trained on the same labels, as a single-scale backbone
  (`ViTBackbone`: its patch tokens as one map at stride 4) under a head with the multi-stage head's
  parameter count, on true masks, at the notebook's length (`vit_additions`).

- `canvases`: digit canvases as three tensors (images, labels, masks).
- `backbone_maps`: a frozen backbone's feature maps of many images, computed once.
- `train_head`, `head_scores`: a segmentation head trained and run on such maps; `digit_probabilities`,
  its scores as maps that `masks_from_cams` thresholds like CAMs; `head_masks`, a head's masks by its
  argmax and by the CAM masks' rule; `head_measures`, a head trained and both its masks measured;
  `balanced_class_weights`, cross-entropy weights under which every class weighs the same.
- `train_classifier`, `cam_measures`: one of CLASSIFIERS trained on the labels; what its CAMs are worth.
- `weak_supervision`: the whole pipeline for one seed, every measure of its comparison.
- `additions`, `vit_additions`, `add_to_results`: the columns added after the stored run (the class-weighted
  last-map head and the re-readings; the plain ViT), computed for one seed without the rest, and merged
  into the stored CSV file, seed by seed, after checking that the columns they recompute agree with the
  stored ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from minivit.data import CANVAS_CLASSES, digit_canvas
from minivit.experiments.processes import map_in_processes
from minivit.experiments.results import read_csv, write_csv
from minivit.metrics import mean_iou
from minivit.models.mobilevit import MobileViT, MobileViTBlock, mobilevit_tiny
from minivit.models.toy_models import SmallCNN
from minivit.models.vit import VisionTransformer, ViTConfig
from minivit.segmentation import (
    LinearProbeHead,
    SegmentationHead,
    ViTBackbone,
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
VIT_HEAD_DIM = 106  # D of the SegmentationHead on the plain ViT's one map of 64 channels: the same parameters, -0.7%
HEAD_EPOCHS = (2, 30, 60)  # the heads' training lengths: notebook 09's, and two long ones: do comparisons settle?
# Ways to read a head like a CAM (masks_from_cams on its digit probabilities, a threshold chosen among THRESHOLDS):
# name: (the digits kept on each canvas, "answers" of the classifier or true "labels"; each digit's map scaled by
# its maximum). "thresholded" is the CAM masks' own rule; each other one takes one of its handicaps away.
READINGS = {
    "thresholded": ("answers", True),
    "labels_thresholded": ("labels", True),
    "unscaled": ("answers", False),
    "labels_unscaled": ("labels", False),
}


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


def plain_vit() -> VisionTransformer:
    """A plain ViT for the 32 x 32 canvases: patches of 4 (an 8 x 8 grid of tokens, stride 4), 4 blocks of
    D 64 with 4 heads and an MLP of 2D, 10 outputs (notebook 08's vit_tiny, with patches of 4 instead of 8)."""
    return VisionTransformer(ViTConfig(image_size=32, patch_size=4, in_channels=1, num_classes=10, dim=64, depth=4,
                                       num_heads=4, mlp_ratio=2.0))


CLASSIFIERS = {
    "mobilevit": Classifier(lambda: mobilevit_tiny(num_classes=10), epochs=5),
    "mobilevit_no_attention": Classifier(mobilevit_without_attention, epochs=5),
    # 5 epochs leave the CNN far below the MobileViT (exact-match accuracy 0.38 against 0.74 in seed 0); with
    # 10 it comes near it (see the stored results)
    "cnn": Classifier(lambda: SmallCNN(in_channels=1, num_classes=10), epochs=10),
}
# Trained only by vit_additions (it has no CAM: its classifier reads the class token, not a pooled map).
PLAIN_VIT = Classifier(plain_vit, epochs=5)


def canvases(split: str, num_samples: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All items of `digit_canvas(split, num_samples)` (32 x 32 canvases, digits of 16 x 16), stacked:
    images (N, 1, 32, 32), labels (N, 10) multi-hot, masks (N, 32, 32)."""
    dataset = digit_canvas(split, num_samples=num_samples, canvas_size=32, digit_size=16)
    images, labels, masks = (torch.stack(items) for items in zip(*(dataset[i] for i in range(len(dataset)))))
    return images, labels, masks


def train_classifier(
    name: str, images: torch.Tensor, labels: torch.Tensor, seed: int, epochs: int | None = None
) -> nn.Module:
    """CLASSIFIERS[name] (or PLAIN_VIT for "plain_vit") trained as a multi-label classifier on (images,
    labels), returned in eval mode."""
    spec = PLAIN_VIT if name == "plain_vit" else CLASSIFIERS[name]
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
    scores = head_scores(head, test_maps, size)
    thresholded, threshold = read_like_a_cam(
        (digit_probabilities(head_scores(head, tune_maps, size)), tune_present, tune_masks),
        (digit_probabilities(scores), test_present),
    )
    return scores.argmax(dim=1), thresholded, threshold


def read_like_a_cam(
    tune: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    rescale: bool = True,
) -> tuple[torch.Tensor, float]:
    """Per-digit maps made into masks by `masks_from_cams`, with the threshold that fits the tuning
    canvases best (among THRESHOLDS, by mean IoU), never the test canvases.

    Args:
        tune: (maps (N, K, H, W), the digits kept (N, K) bool, true masks (N, H, W)) of the tuning canvases.
        test: (maps (B, K, H, W), the digits kept (B, K) bool) of the test canvases.
        rescale: given to `masks_from_cams`: scale each digit's map by its maximum (the CAM rule) or not.

    Returns:
        the test masks (B, H, W) and the threshold chosen.
    """
    (tune_maps, tune_present, tune_masks), (test_maps, test_present) = tune, test
    threshold, _ = choose_threshold(tune_maps, tune_present, tune_masks, THRESHOLDS, rescale=rescale)
    return masks_from_cams(test_maps, test_present, threshold, rescale), threshold


def head_readings(
    head: nn.Module,
    tune: tuple[Sequence[torch.Tensor], torch.Tensor],
    test_maps: Sequence[torch.Tensor],
    present: dict[str, tuple[torch.Tensor, torch.Tensor]],
) -> dict[str, tuple[torch.Tensor, float]]:
    """A trained head's test masks by every rule of READINGS.

    Args:
        head: trained, taking the maps given.
        tune: (maps, true masks (N, H, W)) of the canvases that choose each reading's threshold.
        test_maps: the test canvases' maps.
        present: {"answers": (the classifier's answers on the tuning canvases (N, K), on the test canvases
            (B, K)), "labels": (the true labels of each, likewise)}, bool.

    Returns:
        {reading: (test masks (B, H, W), the threshold chosen on the tuning canvases)}.
    """
    tune_maps, tune_masks = tune
    size = tuple(tune_masks.shape[-2:])
    tune_probabilities = digit_probabilities(head_scores(head, tune_maps, size))
    test_probabilities = digit_probabilities(head_scores(head, test_maps, size))
    return {
        name: read_like_a_cam((tune_probabilities, present[kept][0], tune_masks),
                              (test_probabilities, present[kept][1]), rescale)
        for name, (kept, rescale) in READINGS.items()
    }


def head_measures(
    head: nn.Module,
    maps: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]],
    masks: torch.Tensor,
    truth: tuple[torch.Tensor, torch.Tensor],
    present: tuple[torch.Tensor, torch.Tensor],
    seed: int,
    epochs: int,
    class_weights: torch.Tensor | None = None,
    labels: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict[str, float]:
    """A segmentation head trained with `train_head`, its test masks by both rules of `head_masks`, and
    what they are worth; given `labels`, also by the other READINGS.

    Args:
        head: untrained, taking the maps given.
        maps: (training maps, test maps), from `backbone_maps`.
        masks: the masks of the training canvases that the head learns from (true masks or pseudo-masks).
        truth: the true masks of (the training canvases, the test canvases); the first NUM_TUNE
            training canvases' choose the threshold, as they chose the CAM masks' threshold.
        present: the classifier's answers (B, K) bool on (the first NUM_TUNE training canvases, the test
            canvases).
        seed, epochs, class_weights: of train_head.
        labels: the true image labels (B, K) bool of (the first NUM_TUNE training canvases, the test
            canvases), for the READINGS that keep them; None for no other reading.

    Returns:
        argmax and thresholded (the test mean IoU of each rule's masks), threshold, and argmax_background
        (the share of test pixels that the argmax paints background); given labels, the test mean IoU of
        each other reading of READINGS under its name, and unscaled_threshold.
    """
    (train_maps, test_maps), (train_truth, test_truth), (tune_present, test_present) = maps, truth, present
    head = train_head(head, train_maps, masks, seed, epochs, class_weights)
    tune = [m[:NUM_TUNE] for m in train_maps], train_truth[:NUM_TUNE], tune_present
    argmax, thresholded, threshold = head_masks(head, tune, test_maps, test_present)
    measures = dict(
        argmax=mean_iou(argmax, test_truth, CANVAS_CLASSES),
        thresholded=mean_iou(thresholded, test_truth, CANVAS_CLASSES),
        threshold=threshold,
        argmax_background=(argmax == 0).float().mean().item(),
    )
    if labels is not None:
        readings = head_readings(head, tune[:2], test_maps, dict(answers=present, labels=labels))
        measures.update({name: mean_iou(m, test_truth, CANVAS_CLASSES) for name, (m, _) in readings.items()
                         if name != "thresholded"})  # the same masks as head_masks'
        measures["unscaled_threshold"] = readings["unscaled"][1]
    return measures


def balanced_class_weights(masks: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Cross-entropy weights (num_classes,) under which every class's pixels in `masks` (N, H, W) weigh as
    much in total: N*H*W / (num_classes * pixels of the class). A class with no pixel gets weight 0."""
    counts = torch.bincount(masks.flatten(), minlength=num_classes).float()  # (K,)
    if len(counts) != num_classes:
        raise ValueError(f"masks must hold classes 0..{num_classes - 1}, got a class {len(counts) - 1}")
    weights = counts.sum() / (num_classes * counts)
    return torch.where(counts > 0, weights, torch.zeros_like(weights))


def _head_specs(
    channels: Sequence[int], pseudo_masks: torch.Tensor | None, masks: torch.Tensor, balanced: torch.Tensor
) -> dict[str, tuple[Callable[[], nn.Module], bool, torch.Tensor | None, torch.Tensor | None]]:
    """The heads of `weak_supervision`: name: (a new head, whether it reads all maps (else the last only),
    the masks it learns from, the cross-entropy's class weights)."""
    def last_map_head():
        return SegmentationHead(channels[-1:], CANVAS_CLASSES, dim=LAST_MAP_DIM)

    def multi_stage_head():
        return SegmentationHead(channels, CANVAS_CLASSES, dim=HEAD_DIM)

    def probe():
        return LinearProbeHead(channels[-1], CANVAS_CLASSES)

    return {
        "last_map_head_on_pseudo_masks": (last_map_head, False, pseudo_masks, None),
        "head_on_pseudo_masks": (multi_stage_head, True, pseudo_masks, None),
        "probe_on_masks": (probe, True, masks, None),
        "weighted_probe_on_masks": (probe, True, masks, balanced),
        "last_map_head_on_masks": (last_map_head, False, masks, None),
        "weighted_last_map_head_on_masks": (last_map_head, False, masks, balanced),
        "head_on_masks": (multi_stage_head, True, masks, None),
    }


def reread_epochs(name: str, head_epochs: Sequence[int]) -> tuple[int, ...]:
    """The training lengths at which head `name` is also read by every one of READINGS: the probe at every
    length; the multi-stage head on true masks at the shortest (notebook 09's), as the longer ones would
    cost several times this whole addition; no other head."""
    return {"probe_on_masks": tuple(head_epochs), "head_on_masks": (min(head_epochs),)}.get(name, ())


@dataclass(frozen=True)
class _Frozen:
    """What the heads of one seed share: the frozen MobileViT's maps, the masks and labels they use."""

    channels: list[int]
    maps: tuple[list[torch.Tensor], list[torch.Tensor]]  # (training maps, test maps), all stages
    truth: tuple[torch.Tensor, torch.Tensor]  # true masks of (training, test) canvases
    present: tuple[torch.Tensor, torch.Tensor]  # the classifier's answers on (the NUM_TUNE, the test) canvases
    labels: tuple[torch.Tensor, torch.Tensor]  # the true labels of (the NUM_TUNE, the test) canvases, bool
    balanced: torch.Tensor  # balanced_class_weights of the training masks

    @classmethod
    def of(cls, mobilevit: nn.Module, train: tuple[torch.Tensor, ...], test: tuple[torch.Tensor, ...]) -> _Frozen:
        (train_images, train_labels, train_masks), (test_images, test_labels, test_masks) = train, test
        with torch.no_grad():
            present = mobilevit(train_images[:NUM_TUNE]) > 0, mobilevit(test_images) > 0
        maps = backbone_maps(mobilevit, train_images), backbone_maps(mobilevit, test_images)
        return cls([m.shape[1] for m in maps[0]], maps, (train_masks, test_masks), present,
                   (train_labels[:NUM_TUNE].bool(), test_labels.bool()),
                   balanced_class_weights(train_masks, CANVAS_CLASSES))

    def measure(self, name: str, spec: tuple, epochs: int, seed: int, head_epochs: Sequence[int]) -> dict[str, float]:
        """Head `name` of `_head_specs` trained for `epochs` and measured: its columns of the row."""
        new_head, all_maps, masks, weights = spec
        maps = self.maps if all_maps else tuple(m[-1:] for m in self.maps)
        labels = self.labels if epochs in reread_epochs(name, head_epochs) else None
        seed_everything(seed)
        measures = head_measures(new_head(), maps, masks, self.truth, self.present, seed, epochs, weights, labels)
        return {f"{name}_{epochs}_{key}": value for key, value in measures.items()}


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
    its CAM masks are measured on the test canvases. Then over the frozen MobileViT, each of seven heads
    is trained for each number of `head_epochs` and read two ways (`head_measures`), and at its
    `reread_epochs` by every one of READINGS. On CAM pseudo-masks of
    the training canvases (made with their labels): last_map_head_on_pseudo_masks (a SegmentationHead on
    the last map only, with the multi-stage head's parameter count) and head_on_pseudo_masks (the
    multi-stage SegmentationHead). On the true masks: probe_on_masks (a LinearProbeHead on the last map),
    weighted_probe_on_masks (the same, its cross-entropy weighted by `balanced_class_weights`: is the
    probe's answer "background" the classes' imbalance?), last_map_head_on_masks and head_on_masks (the
    same two SegmentationHeads), and weighted_last_map_head_on_masks (the last-map head, class-weighted).

    Returns:
        a row: seed; the mean IoU (over the num_test test canvases) of all background; per classifier
        `{name}_accuracy` (test canvases with all 10 answers right), `{name}_threshold`, `{name}_cam`
        (mean IoU), `{name}_pointing`, `{name}_pointing_chance`, `{name}_pointing_ink`, `{name}_far_share`;
        per head and number of epochs e, `{head}_{e}_argmax`, `{head}_{e}_thresholded`, `{head}_{e}_threshold`,
        `{head}_{e}_argmax_background`; at the reread_epochs, `{head}_{e}_{reading}` for the other READINGS
        and `{head}_{e}_unscaled_threshold`.
    """
    train = canvases("train", num_train)
    test = canvases("test", num_test)
    (train_images, train_labels, train_masks), (_, _, test_masks) = train, test
    row: dict[str, float | int] = dict(
        seed=seed, background=mean_iou(torch.zeros_like(test_masks), test_masks, CANVAS_CLASSES)
    )
    classifiers = {name: train_classifier(name, train_images, train_labels, seed, epochs) for name in CLASSIFIERS}
    for name, classifier in classifiers.items():
        row.update({f"{name}_{key}": value for key, value in cam_measures(classifier, train, test).items()})
    mobilevit = classifiers["mobilevit"]
    with torch.no_grad():
        pseudo_masks = masks_from_cams(class_activation_map(mobilevit, train_images), train_labels,
                                       row["mobilevit_threshold"])
    frozen = _Frozen.of(mobilevit, train, test)
    for name, spec in _head_specs(frozen.channels, pseudo_masks, train_masks, frozen.balanced).items():
        for epochs_of_head in head_epochs:
            row.update(frozen.measure(name, spec, epochs_of_head, seed, head_epochs))
    return row


# The heads that `additions` trains (those whose columns came after the stored run, and the two re-read).
ADDED_HEADS = ("weighted_last_map_head_on_masks", "probe_on_masks", "head_on_masks")


def additions(
    seed: int, num_train: int = 2000, num_test: int = 200, head_epochs: Sequence[int] = HEAD_EPOCHS
) -> dict[str, float | int]:
    """The columns added to `weak_supervision`'s results after they were stored, for one seed, without
    training the rest again: the MobileViT classifier (the same model as weak_supervision's, trained
    first from the same seed), and over it the heads of ADDED_HEADS: weighted_last_map_head_on_masks at
    every length of `head_epochs`, probe_on_masks and head_on_masks at their `reread_epochs`.

    Returns:
        a row: seed and those heads' columns, as weak_supervision names them; those that the stored
        results already hold are for `add_to_results` to check against them.
    """
    train = canvases("train", num_train)
    test = canvases("test", num_test)
    mobilevit = train_classifier("mobilevit", train[0], train[1], seed)
    frozen = _Frozen.of(mobilevit, train, test)
    specs = _head_specs(frozen.channels, None, train[2], frozen.balanced)
    row: dict[str, float | int] = dict(seed=seed)
    for name in ADDED_HEADS:
        lengths = head_epochs if name == "weighted_last_map_head_on_masks" else reread_epochs(name, head_epochs)
        for epochs_of_head in lengths:
            row.update(frozen.measure(name, specs[name], epochs_of_head, seed, head_epochs))
    return row


def vit_additions(
    seed: int, num_train: int = 2000, num_test: int = 200, epochs: int = min(HEAD_EPOCHS)
) -> dict[str, float | int]:
    """A plain ViT (`plain_vit`) as a single-scale backbone, in the setting of notebook 09's heads: trained
    on the image labels with the MobileViT's recipe, frozen, and read through `ViTBackbone` (one map,
    (B, 64, 8, 8)) by a SegmentationHead of VIT_HEAD_DIM trained on the true masks for `epochs`, measured
    as `head_measures` measures the others (the threshold chosen on the first NUM_TUNE training canvases,
    with the ViT's own answers).

    Returns:
        a row: seed, plain_vit_accuracy, and `vit_head_on_masks_{epochs}_{key}` for each key of head_measures.
    """
    train, test = canvases("train", num_train), canvases("test", num_test)
    (train_images, train_labels, train_masks), (test_images, test_labels, test_masks) = train, test
    vit = train_classifier("plain_vit", train_images, train_labels, seed)
    accuracy = evaluate(vit, DataLoader(TensorDataset(test_images, test_labels), batch_size=100), multi_label=True)
    backbone = ViTBackbone(vit)
    with torch.no_grad():
        present = vit(train_images[:NUM_TUNE]) > 0, vit(test_images) > 0
    maps = backbone_maps(backbone, train_images), backbone_maps(backbone, test_images)
    seed_everything(seed)
    head = SegmentationHead([maps[0][0].shape[1]], CANVAS_CLASSES, dim=VIT_HEAD_DIM)
    measures = head_measures(head, maps, train_masks, (train_masks, test_masks), present, seed, epochs)
    return dict(seed=seed, plain_vit_accuracy=accuracy,
                **{f"vit_head_on_masks_{epochs}_{key}": value for key, value in measures.items()})


def vit_columns() -> list[str]:
    """The columns of `vit_additions`, seed excepted."""
    return ["plain_vit_accuracy"] + [f"vit_head_on_masks_{min(HEAD_EPOCHS)}_{key}"
                                     for key in ("argmax", "thresholded", "threshold", "argmax_background")]


def added_columns(head_epochs: Sequence[int] = HEAD_EPOCHS) -> list[str]:
    """The columns that `additions` adds to the stored results (as it names them, without running it): all
    of the class-weighted last-map head's, and the other READINGS of the heads re-read."""
    base = ("argmax", "thresholded", "threshold", "argmax_background")
    reread = (*(name for name in READINGS if name != "thresholded"), "unscaled_threshold")
    columns = [f"weighted_last_map_head_on_masks_{e}_{key}" for e in head_epochs for key in base]
    for name in ("probe_on_masks", "head_on_masks"):
        columns += [f"{name}_{e}_{key}" for e in reread_epochs(name, head_epochs) for key in reread]
    return columns


# The additions, each computed for a seed whose row lacks one of its columns: (the function, its columns).
ADDITIONS = {"heads": (additions, added_columns), "vit": (vit_additions, vit_columns)}


def add_to_results(
    path: str | Path, seeds: Sequence[int], processes: int = 1, tolerance: float = 0.02,
    parts: dict[str, tuple[Callable[[int], dict], Callable[[], list[str]]]] | None = None,
) -> list[dict]:
    """Merge every part of ADDITIONS (or of `parts`), `compute(seed)`, into the stored rows of `path`, for
    every seed of `seeds` whose row lacks some of that part's columns; the file is rewritten after each
    group of `processes` seeds, so an interrupted run resumes where it stopped (a row not yet done has
    those columns empty).

    Columns the row already holds are recomputed, not replaced: each must agree with the stored value
    within `tolerance` (float sums differ a little from one CPU to another), else ValueError, and nothing
    of that seed is merged. That checks that the added columns come from the same models as the stored.

    Returns:
        the rows, as written.
    """
    rows = read_csv(path)
    by_seed = {row["seed"]: row for row in rows}
    unknown = [seed for seed in seeds if seed not in by_seed]
    if unknown:
        raise ValueError(f"seeds must be among the stored {sorted(by_seed)}, got {unknown}")
    for compute, columns_of in (ADDITIONS if parts is None else parts).values():
        _add_part(rows, by_seed, seeds, processes, tolerance, compute, columns_of(), path)
    return rows


def _add_part(rows, by_seed, seeds, processes, tolerance, compute, columns, path) -> None:
    """One part of add_to_results."""
    todo = [seed for seed in seeds if any(by_seed[seed].get(key, "") == "" for key in columns)]
    for start in range(0, len(todo), processes):
        for added in map_in_processes(compute, todo[start:start + processes], processes):
            row = by_seed[added["seed"]]
            differences = {key: abs(value - row[key]) for key, value in added.items()
                           if row.get(key, "") != "" and key not in columns}
            worst = max(differences, key=differences.get)
            if differences[worst] > tolerance:
                raise ValueError(f"seed {added['seed']}: the recomputed {worst} is {added[worst]:.4f}, the stored "
                                 f"{row[worst]:.4f}; more than tolerance {tolerance} apart")
            row.update({key: value for key, value in added.items() if key in columns})
            print(f"seed {added['seed']}: {len(columns)} columns added; the {len(differences) - 1} recomputed"
                  f" ones agree with the stored within {differences[worst]:.4f}")
        for row in rows:  # every row with every column, empty where not yet computed: one header for all
            row.update({key: row.get(key, "") for key in columns})
        write_csv(rows, path)
