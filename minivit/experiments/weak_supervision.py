"""Notebook 09's experiment: weakly supervised segmentation of digit canvases, end to end, for one seed,
with the baselines and controls that each of its conclusions needs.

Classifiers are trained on image-level labels ("this canvas holds a 3 and a 7"); their class activation
maps (CAMs) are made into masks; segmentation heads are trained over the frozen MobileViT, on those
pseudo-masks and on the true masks, and read by argmax (each pixel takes its class of highest score).

What each arm is for (`CLASSIFIERS`, `cam_measures` and `HEADS`):
- the CAM masks, and the same masks refined: cut to the canvas's ink (`ink_region`). The true masks are
  made by that very rule (ink above 1/2), so the refinement knows the true foreground exactly: it stands
  for the refinement step of real pipelines (a CRF, AffinityNet, saliency), at its best;
- heads on pseudo-masks, on refined pseudo-masks and on the true masks, each on the last map only and on
  all four maps, with the same parameter count: the masks learned from and the maps read, each changed
  with the other fixed;
- a head trained on only the NUM_TUNE true masks that choose the CAM threshold, for as many canvases seen:
  what the masks that weak supervision spends anyway would give on their own;
- the linear probe (a Linear on the last map, the capacity of a CAM) on true masks, and the last-map head
  trained with a class-balanced cross-entropy (`balanced_class_weights`): whether the last-map head loses
  only by answering "background";
- "mobilevit_no_attention": the same MobileViT with the transformer of each MobileViT block replaced by
  the identity (`mobilevit_without_attention`): what the transformer layers do to the CAMs;
- "cnn": a small CNN trained for more epochs (10), which bring its classification accuracy above the
  MobileViT's: a CAM whose every value sees only pixels around its place (a reference point, not a control);
- the pointing game beside its chance level and a class-blind baseline (`ink_maps`);
- every head trained for each of HEAD_EPOCHS: the notebook's short training, and a long one;
- added later (`better_classifiers`, in ADDITIONS): would a better classifier change the comparison with the
  200 true masks? The same head on the pseudo-masks of the small CNN and of a MobileViT trained longer at a
  learning rate chosen on held-out training canvases (`tuned_mobilevit`), over the same frozen maps (only the
  masks learned from change), and the whole pipeline over the tuned MobileViT; with paired bootstrap
  intervals over the test canvases (`INTERVALS`), and the thresholds that the first NUM_FEW tuning canvases
  alone would choose;
- added later (`supervised_backbones`, in ADDITIONS): what the true masks give with no classifier at all, and
  with fewer of them. One line per arm:
  - "end_to_end_{mobilevit,swin}_on_200_masks": the backbone trained from scratch, end to end with the multi-stage
    head, on only the NUM_TUNE true masks: the rival of the pseudo-mask pipeline with no label-trained features;
  - "end_to_end_{mobilevit,swin}_on_masks": the same on all 1,800 fitting canvases' masks (for as many canvases
    seen): how far that rival is from a full budget, and Swin against MobileViT as segmentation backbones (the
    small CNN is left out: its `feature_maps` is a single map, so it would change the maps read too);
  - "head_on_{10,20,50}_masks": the multi-stage head over the frozen label-trained MobileViT on the first 10, 20,
    50 true masks (for as many canvases seen): the mask-budget curve, against the head on pseudo-masks;
  - intervals: end-to-end MobileViT on 200 masks minus the pipeline; the head on 200 masks over the label-trained
    maps minus it (what the labels' features add); Swin minus MobileViT at each budget; each curve point minus
    the pipeline. Each end-to-end arm's rate is chosen (of TUNED_RATES) on the last NUM_VALIDATION training
    canvases' masks, so it spends those masks too; the heads over frozen maps keep notebook 09's fixed rate.
- added later (`swin_recipe`, in ADDITIONS): is Swin's collapse on the true masks its recipe, and what does the label
  training alone add to the head over the frozen maps?
  - "swin_recipe_on_200_masks": Swin end to end on the NUM_TUNE true masks, for as many canvases seen as the stored
    arm, with the transformer recipe (a linear warmup over SWIN_WARMUP of the steps, no weight decay on norms,
    biases and relative position bias tables, rates SWIN_RATES chosen on the held-out canvases as before), with its
    mean IoU on the canvases it trained on (under- or overfitting) and its training loss in each epoch;
  - "random_head_on_200_masks": the head of head_on_200_masks over the frozen maps of the same MobileViT never
    trained (its initial weights, from the same seed as the label-trained one): only the label training changes;
    "random_normalised_head_on_200_masks", the same with the BatchNorm statistics of the training canvases (no
    weight trained): whether the untrained maps lose by their scale alone;
  - intervals: the recipe minus the stored Swin arm (trained again), and the head over the label-trained maps
    minus each head over the untrained ones.

- `canvases`: digit canvases as three tensors (images, labels, masks); `ink_region`, their ink.
- `backbone_maps`: a frozen backbone's feature maps of many images, computed once.
- `train_head`, `head_scores`: a segmentation head trained and run on such maps; `head_measures`, a head
  trained and its argmax masks measured; `balanced_class_weights`, cross-entropy weights under which
  every class weighs the same.
- `train_classifier`, `cam_measures`: one of CLASSIFIERS trained on the labels; what its CAMs are worth;
  `tuned_mobilevit`, the MobileViT trained longer at a learning rate chosen on held-out training canvases.
- `weak_supervision`: the whole experiment for one seed, every measure of it.
- `better_classifiers`: the arms added later, for one seed (`better_classifier_columns`: its new columns).
- `segmentation_model`, `end_to_end`: one of BACKBONES with a multi-stage head; trained from scratch on true
  masks at a rate chosen on held-out training canvases; `budget_epochs`, the epochs of a smaller mask budget
  that see as many canvases.
- `supervised_backbones`: the supervised arms, for one seed (`supervised_backbone_columns`: its new columns).
- `swin_recipe`: Swin with its recipe and the untrained-backbone control, for one seed (`swin_recipe_columns`: its
  new columns); `swin_no_weight_decay`, Swin's exemption from weight decay.
- `add_to_results`: columns of a new arm merged into the stored CSV file, seed by seed, after checking that
  the columns it recomputes agree with the stored ones (`ADDITIONS`: better_classifiers, supervised_backbones,
  swin_recipe).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from minivit.data import CANVAS_CLASSES, MASK_THRESHOLD, denormalize, digit_canvas
from minivit.experiments.processes import map_in_processes
from minivit.experiments.results import read_csv, write_csv
from minivit.experiments.training import deit_no_weight_decay, with_recomputed_statistics
from minivit.metrics import mean_iou, mean_iou_difference_interval
from minivit.models.mobilevit import MobileViT, MobileViTBlock, mobilevit_tiny
from minivit.models.swin import swin_tiny
from minivit.models.toy_models import SmallCNN
from minivit.segmentation import (
    LinearProbeHead,
    SegmentationHead,
    SegmentationModel,
    choose_threshold,
    class_activation_map,
    far_gradient_share,
    feature_channels,
    masks_from_cams,
    pointing_chance,
    pointing_game,
    predict_masks,
)
from minivit.train import History, count_parameters, evaluate, fit, seed_everything

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)  # candidates for the threshold of masks_from_cams
NUM_TUNE = 200  # the training canvases whose true masks choose that threshold
NUM_FAR = 32  # the test canvases far_gradient_share is measured on
HEAD_DIM = 48  # D of the multi-stage SegmentationHead
LAST_MAP_DIM = 86  # D of the SegmentationHead on the last map only: then it has the multi-stage head's parameters
HEAD_EPOCHS = (2, 30)  # the heads' training lengths: notebook 09's, and a long one: do the comparisons settle?
NUM_FEW = 10  # the tuning canvases of the threshold's check: do their true masks choose the same threshold?
TUNED_RATES = (3e-3, 1e-2)  # the tuned MobileViT's candidate learning rates
TUNED_EPOCHS = 12  # its training length (the MobileViT of CLASSIFIERS trains for 4)
NUM_VALIDATION = 200  # the last training canvases, held out to choose its learning rate
RESAMPLES = 1000  # bootstrap resamples of the test canvases, for the intervals of differences


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
    "mobilevit": Classifier(lambda: mobilevit_tiny(num_classes=10), epochs=4),
    "mobilevit_no_attention": Classifier(mobilevit_without_attention, epochs=4),
    # at 5 epochs a review found it underfit (accuracy 0.38 against the MobileViT's 0.74, its loss still falling);
    # at 10 it ends above the MobileViT (cnn_accuracy in the stored results)
    "cnn": Classifier(lambda: SmallCNN(in_channels=1, num_classes=10), epochs=10),
}


def canvases(split: str, num_samples: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All items of `digit_canvas(split, num_samples)` (32 x 32 canvases, digits of 16 x 16), stacked:
    images (N, 1, 32, 32), labels (N, 10) multi-hot, masks (N, 32, 32)."""
    dataset = digit_canvas(split, num_samples=num_samples, canvas_size=32, digit_size=16)
    images, labels, masks = (torch.stack(items) for items in zip(*(dataset[i] for i in range(len(dataset)))))
    return images, labels, masks


def ink_region(images: torch.Tensor) -> torch.Tensor:
    """Where a canvas's ink is above MASK_THRESHOLD (1/2), from its normalised images (B, 1, H, W): (B, H, W)
    bool. `digit_canvas` makes its true masks by this same rule, so on the canvases it is exactly the
    true masks' foreground: a refinement that cuts masks to it borrows the rule that defines the answer."""
    return denormalize(images[:, 0]) > MASK_THRESHOLD


def train_classifier(
    name: str, images: torch.Tensor, labels: torch.Tensor, seed: int, epochs: int | None = None, lr: float = 3e-3
) -> nn.Module:
    """CLASSIFIERS[name] trained as a multi-label classifier on (images, labels), returned in eval mode."""
    spec = CLASSIFIERS[name]
    seed_everything(seed)
    model = spec.build()
    loader = DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=True)
    fit(model, loader, epochs=epochs or spec.epochs, lr=lr, multi_label=True, seed=seed, progress=False)
    return model.eval()


def tuned_mobilevit(
    images: torch.Tensor, labels: torch.Tensor, seed: int, rates: Sequence[float] = TUNED_RATES,
    epochs: int = TUNED_EPOCHS, num_validation: int = NUM_VALIDATION,
) -> tuple[nn.Module, float, float]:
    """mobilevit_tiny trained longer, at a learning rate chosen on held-out training canvases.

    One model per rate of `rates` is trained for `epochs` on all training canvases but the last
    `num_validation`, which are held out; the one whose held-out accuracy (all 10 answers right) is highest
    is kept, as trained (the held-out canvases are not trained on afterwards). The test canvases choose nothing.

    Returns:
        (the model in eval mode, its learning rate, its held-out accuracy).
    """
    fit_part = images[:-num_validation], labels[:-num_validation]
    held_out = DataLoader(TensorDataset(images[-num_validation:], labels[-num_validation:]), batch_size=100)
    best = None
    for lr in rates:
        model = train_classifier("mobilevit", *fit_part, seed, epochs=epochs, lr=lr)
        accuracy = evaluate(model, held_out, multi_label=True)
        if best is None or accuracy > best[2]:
            best = model, lr, accuracy
    return best


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
        train: (images, labels, masks) of the training canvases; the first NUM_TUNE choose the thresholds.
        test: (images, labels, masks) of the test canvases.

    Returns:
        accuracy (test canvases with all 10 answers right), threshold (chosen among THRESHOLDS), cam (test
        mean IoU of masks_from_cams with the classifier's own answers), refined_threshold and refined (the
        same, the masks cut to `ink_region`, with a threshold chosen for that rule), pointing (pointing
        game hit rate over the digits of the test canvases, played at the CAM's own resolution),
        pointing_chance (the hit rate of a peak on a random place of a map of that resolution),
        pointing_ink (the hit rate of `ink_maps`, which know where the ink is but not which digit),
        far_share (far_gradient_share on NUM_FAR test canvases, following the first digit of each).
    """
    (train_images, _, train_masks), (test_images, test_labels, test_masks) = train, test
    classifier.eval()  # BatchNorm with its running statistics, even when called straight after fit
    tune_images, tune_masks = train_images[:NUM_TUNE], train_masks[:NUM_TUNE]
    with torch.no_grad():
        tune_present, test_present = classifier(tune_images) > 0, classifier(test_images) > 0
        tune_cams = class_activation_map(classifier, tune_images)
        test_cams = class_activation_map(classifier, test_images)
        coarse_cams = class_activation_map(classifier, test_images, upsample=False)  # for the pointing game
    threshold, _ = choose_threshold(tune_cams, tune_present, tune_masks, THRESHOLDS)
    refined_threshold, _ = choose_threshold(tune_cams, tune_present, tune_masks, THRESHOLDS,
                                            region=ink_region(tune_images))
    refined = masks_from_cams(test_cams, test_present, refined_threshold, region=ink_region(test_images))
    labels_loader = DataLoader(TensorDataset(test_images, test_labels), batch_size=100)
    first_digit = test_labels[:NUM_FAR].argmax(dim=1)
    present = test_labels.bool()  # the digits the pointing game follows: every digit on each canvas
    return dict(
        accuracy=evaluate(classifier, labels_loader, multi_label=True),
        threshold=threshold,
        cam=mean_iou(masks_from_cams(test_cams, test_present, threshold), test_masks, CANVAS_CLASSES),
        refined_threshold=refined_threshold,
        refined=mean_iou(refined, test_masks, CANVAS_CLASSES),
        pointing=pointing_game(coarse_cams, test_masks, present).float().mean().item(),
        pointing_chance=pointing_chance(test_masks, present, coarse_cams.shape[-2:]).mean().item(),
        pointing_ink=pointing_game(ink_maps(test_images, coarse_cams.shape), test_masks, present).float().mean().item(),
        far_share=far_gradient_share(classifier, test_images[:NUM_FAR], first_digit),
    )


def head_measures(
    head: nn.Module,
    maps: tuple[Sequence[torch.Tensor], Sequence[torch.Tensor]],
    masks: torch.Tensor,
    test_masks: torch.Tensor,
    seed: int,
    epochs: int,
    class_weights: torch.Tensor | None = None,
) -> dict[str, float]:
    """A segmentation head trained with `train_head`, read by argmax on the test canvases, and measured.

    Args:
        head: untrained, taking the maps given.
        maps: (training maps, test maps), from `backbone_maps`; as many training canvases as `masks`.
        masks: the masks of the training canvases that the head learns from (true masks or pseudo-masks).
        test_masks: the true masks of the test canvases.
        seed, epochs, class_weights: of train_head.

    Returns:
        argmax (the test mean IoU of the argmax masks) and argmax_background (the share of test pixels
        they paint background).
    """
    train_maps, test_maps = maps
    head = train_head(head, train_maps, masks, seed, epochs, class_weights)
    argmax = head_scores(head, test_maps, tuple(test_masks.shape[-2:])).argmax(dim=1)  # (B, H, W)
    return dict(argmax=mean_iou(argmax, test_masks, CANVAS_CLASSES),
                argmax_background=(argmax == 0).float().mean().item())


def balanced_class_weights(masks: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Cross-entropy weights (num_classes,) under which every class's pixels in `masks` (N, H, W) weigh as
    much in total: N*H*W / (num_classes * pixels of the class). A class with no pixel gets weight 0."""
    counts = torch.bincount(masks.flatten(), minlength=num_classes).float()  # (K,)
    if len(counts) != num_classes:
        raise ValueError(f"masks must hold classes 0..{num_classes - 1}, got a class {len(counts) - 1}")
    weights = counts.sum() / (num_classes * counts)
    return torch.where(counts > 0, weights, torch.zeros_like(weights))


def budget_epochs(epochs: int, total: int, count: int) -> int:
    """The epochs over the first `count` of `total` training canvases that see as many canvases as `epochs`
    over all of them (exactly when count divides total): a smaller mask budget, trained as long."""
    return epochs * (total // count)


@dataclass(frozen=True)
class Head:
    """One head of `weak_supervision`, trained over the frozen MobileViT.

    kind: "multi-stage" (a SegmentationHead on all four maps), "last map" (one on the last map only, with
        the multi-stage head's parameter count) or "probe" (a LinearProbeHead on the last map).
    masks: what it learns from: "pseudo" (the CAM pseudo-masks), "refined" (those cut to the ink) or "true";
        in `better_classifiers` also "cnn" and "tuned" (the pseudo-masks of the small CNN, of the tuned MobileViT).
    class_weighted: its cross-entropy weighted by balanced_class_weights of the true masks.
    canvases: learn from only the first this many training canvases, for as many more epochs as give the
        same number of canvases seen; None: from all of them.
    """

    kind: str
    masks: str
    class_weighted: bool = False
    canvases: int | None = None

    def build(self, channels: Sequence[int]) -> nn.Module:
        """A new head for maps of these channels (all stages, finest first)."""
        if self.kind == "multi-stage":
            return SegmentationHead(channels, CANVAS_CLASSES, dim=HEAD_DIM)
        if self.kind == "last map":
            return SegmentationHead(channels[-1:], CANVAS_CLASSES, dim=LAST_MAP_DIM)
        return LinearProbeHead(channels[-1], CANVAS_CLASSES)


HEADS = {
    "last_map_head_on_pseudo_masks": Head("last map", "pseudo"),
    "head_on_pseudo_masks": Head("multi-stage", "pseudo"),
    "last_map_head_on_refined_pseudo_masks": Head("last map", "refined"),
    "head_on_refined_pseudo_masks": Head("multi-stage", "refined"),
    "probe_on_masks": Head("probe", "true"),
    "last_map_head_on_masks": Head("last map", "true"),
    "weighted_last_map_head_on_masks": Head("last map", "true", class_weighted=True),
    "head_on_masks": Head("multi-stage", "true"),
    "head_on_200_masks": Head("multi-stage", "true", canvases=NUM_TUNE),
}


@dataclass(frozen=True)
class _Frozen:
    """What the heads of one seed share: the frozen MobileViT's maps, the masks they learn from."""

    channels: list[int]
    maps: tuple[list[torch.Tensor], list[torch.Tensor]]  # (training maps, test maps), all stages
    masks: dict[str, torch.Tensor]  # the training canvases' "pseudo", "refined" and "true" masks
    test_masks: torch.Tensor
    balanced: torch.Tensor  # balanced_class_weights of the training masks

    @classmethod
    def of(cls, mobilevit: nn.Module, train: tuple[torch.Tensor, ...], test: tuple[torch.Tensor, ...],
           thresholds: tuple[float, float]) -> _Frozen:
        """The frozen `mobilevit`'s maps and its pseudo-masks of the training canvases (made with their
        labels), at (the CAM threshold, the refined one)."""
        (train_images, train_labels, train_masks), (test_images, _, test_masks) = train, test
        with torch.no_grad():
            cams = class_activation_map(mobilevit, train_images)
        masks = dict(pseudo=masks_from_cams(cams, train_labels, thresholds[0]),
                     refined=masks_from_cams(cams, train_labels, thresholds[1], region=ink_region(train_images)),
                     true=train_masks)
        maps = backbone_maps(mobilevit, train_images), backbone_maps(mobilevit, test_images)
        return cls([m.shape[1] for m in maps[0]], maps, masks, test_masks,
                   balanced_class_weights(train_masks, CANVAS_CLASSES))

    def _inputs(self, head: Head, epochs: int) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor, int]:
        """What `head` trains on and is measured on: the training canvases' maps (its first canvases only, if it
        has fewer), the test canvases' maps, their masks, and the epochs that see as many canvases as `epochs`
        of all of them."""
        train_maps, test_maps = self.maps
        if head.kind != "multi-stage":
            train_maps, test_maps = train_maps[-1:], test_maps[-1:]
        masks = self.masks[head.masks]
        count = len(masks) if head.canvases is None else min(head.canvases, len(masks))
        return [m[:count] for m in train_maps], test_maps, masks[:count], budget_epochs(epochs, len(masks), count)

    def argmax(self, head: Head, epochs: int, seed: int) -> torch.Tensor:
        """`head` trained as `measure` trains it (the same random numbers): its argmax masks of the test
        canvases (B, H, W)."""
        train_maps, test_maps, masks, head_epochs = self._inputs(head, epochs)
        seed_everything(seed)
        trained = train_head(head.build(self.channels), train_maps, masks, seed, head_epochs,
                             self.balanced if head.class_weighted else None)
        return head_scores(trained, test_maps, tuple(self.test_masks.shape[-2:])).argmax(dim=1)

    def measure(self, name: str, epochs: int, seed: int) -> dict[str, float]:
        """HEADS[name] trained for `epochs` (as many canvases seen) and measured: its columns of the row."""
        head = HEADS[name]
        train_maps, test_maps, masks, head_epochs = self._inputs(head, epochs)
        seed_everything(seed)
        measures = head_measures(head.build(self.channels), (train_maps, test_maps), masks, self.test_masks, seed,
                                 head_epochs, self.balanced if head.class_weighted else None)
        return {f"{name}_{epochs}_{key}": value for key, value in measures.items()}


def weak_supervision(
    seed: int,
    num_train: int = 2000,
    num_test: int = 200,
    epochs: int | None = None,
    head_epochs: Sequence[int] = HEAD_EPOCHS,
) -> dict[str, float | int]:
    """Notebook 09's experiment for one seed.

    Each of CLASSIFIERS is trained on the image-level labels of `num_train` canvases (for `epochs`, or
    its own number when None) and its CAMs measured (`cam_measures`). Then over the frozen MobileViT,
    each of HEADS is trained for each number of `head_epochs` (a head on fewer canvases for as many
    canvases seen) and read by argmax (`head_measures`); the pseudo-masks it may learn from are the
    MobileViT's CAM masks of the training canvases, made with their labels, at its chosen threshold, and
    the refined ones, cut to the ink, at its refined threshold.

    Returns:
        a row: seed; the mean IoU (over the num_test test canvases) of all background; per classifier
        `{name}_{key}` for each key of cam_measures; per head and number of epochs e, `{head}_{e}_argmax`
        and `{head}_{e}_argmax_background`.
    """
    train = canvases("train", num_train)
    test = canvases("test", num_test)
    row: dict[str, float | int] = dict(
        seed=seed, background=mean_iou(torch.zeros_like(test[2]), test[2], CANVAS_CLASSES)
    )
    classifiers = {name: train_classifier(name, train[0], train[1], seed, epochs) for name in CLASSIFIERS}
    for name, classifier in classifiers.items():
        row.update({f"{name}_{key}": value for key, value in cam_measures(classifier, train, test).items()})
    frozen = _Frozen.of(classifiers["mobilevit"], train, test,
                        (row["mobilevit_threshold"], row["mobilevit_refined_threshold"]))
    for name in HEADS:
        for epochs_of_head in head_epochs:
            row.update(frozen.measure(name, epochs_of_head, seed))
    return row


# Heads of `better_classifiers`, all multi-stage. Over the frozen 4-epoch MobileViT of the stored runs: heads on the
# pseudo-masks of the two better classifiers (only the masks learned from change), and three heads of HEADS again
# (their test masks, for the bootstrap; their IoU, to check that they agree with the stored). Over the frozen tuned
# MobileViT: the pipeline's head on its pseudo-masks, and the head on the 200 true masks.
BETTER_HEADS = {
    "head_on_pseudo_masks": HEADS["head_on_pseudo_masks"],
    "head_on_refined_pseudo_masks": HEADS["head_on_refined_pseudo_masks"],
    f"head_on_{NUM_TUNE}_masks": HEADS[f"head_on_{NUM_TUNE}_masks"],
    "head_on_cnn_pseudo_masks": Head("multi-stage", "cnn"),
    "head_on_tuned_pseudo_masks": Head("multi-stage", "tuned"),
}
TUNED_HEADS = {
    "tuned_head_on_pseudo_masks": Head("multi-stage", "pseudo"),
    f"tuned_head_on_{NUM_TUNE}_masks": Head("multi-stage", "true", canvases=NUM_TUNE),
}
# (a, b): the paired bootstrap interval of a's test mean IoU minus b's, over the test canvases; heads at the
# length better_classifiers trains them, "{classifier}_cam" the CAM masks of the test canvases
INTERVALS = (
    (f"head_on_{NUM_TUNE}_masks", "head_on_pseudo_masks"),
    (f"head_on_{NUM_TUNE}_masks", "head_on_refined_pseudo_masks"),
    (f"head_on_{NUM_TUNE}_masks", "head_on_cnn_pseudo_masks"),
    (f"head_on_{NUM_TUNE}_masks", "head_on_tuned_pseudo_masks"),
    (f"tuned_head_on_{NUM_TUNE}_masks", "tuned_head_on_pseudo_masks"),
    ("head_on_cnn_pseudo_masks", "head_on_pseudo_masks"),
    ("head_on_tuned_pseudo_masks", "head_on_pseudo_masks"),
    ("head_on_pseudo_masks", "mobilevit_cam"),
    ("cnn_cam", "mobilevit_cam"),
    ("mobilevit_tuned_cam", "mobilevit_cam"),
)
BETTER = ("cnn", "mobilevit_tuned")  # the better classifiers, by their names in the results


def _name(key: str, epochs: int) -> str:
    """A prediction's name in the results: a head's with its epochs, a CAM's as it is."""
    return key if key.endswith("_cam") else f"{key}_{epochs}"


def better_classifier_columns(epochs: int = HEAD_EPOCHS[0]) -> list[str]:
    """The columns that better_classifiers adds to the stored results."""
    keys = ("accuracy", "threshold", "cam", "refined_threshold", "refined", "pointing", "pointing_chance",
            "pointing_ink", "far_share")
    columns = ["mobilevit_tuned_lr", "mobilevit_tuned_held_out_accuracy"]
    columns += [f"mobilevit_tuned_{key}" for key in keys]
    columns += [f"{name}_{kind}_{NUM_FEW}" for name in ("mobilevit", *BETTER)
                for kind in ("threshold", "refined_threshold")]
    columns += [f"{name}_{epochs}_{key}" for name in (*BETTER_HEADS, *TUNED_HEADS)
                for key in ("argmax", "argmax_background") if name not in HEADS]
    columns += [f"{_name(a, epochs)}_minus_{_name(b, epochs)}_{end}" for a, b in INTERVALS for end in ("low", "high")]
    return columns


def better_classifiers(
    seed: int, num_train: int = 2000, num_test: int = 200, epochs: int | None = None,
    tuned_epochs: int = TUNED_EPOCHS, head_epochs: int = HEAD_EPOCHS[0],
) -> dict[str, float | int]:
    """Does a better classifier change the comparison with 200 true masks? And the test canvases' noise.

    For one seed: the 4-epoch MobileViT and the small CNN of CLASSIFIERS trained again, and a MobileViT trained
    longer at a learning rate chosen on held-out training canvases (`tuned_mobilevit`); the CAM measures of
    all three, and their thresholds chosen on only the first NUM_FEW tuning canvases. Then the heads of
    BETTER_HEADS and TUNED_HEADS, trained for `head_epochs`, and the paired bootstrap intervals of INTERVALS
    (RESAMPLES resamples of the test canvases, 95%).

    Returns:
        a row: seed; the stored columns recomputed (the 4-epoch MobileViT's and the CNN's CAM measures, the
        three heads of HEADS); and better_classifier_columns(head_epochs).
    """
    train = canvases("train", num_train)
    test = canvases("test", num_test)
    (train_images, train_labels, train_masks), (test_images, _, test_masks) = train, test
    row: dict[str, float | int] = dict(seed=seed)
    tuned, row["mobilevit_tuned_lr"], row["mobilevit_tuned_held_out_accuracy"] = tuned_mobilevit(
        train_images, train_labels, seed, epochs=tuned_epochs)
    classifiers = {"mobilevit": train_classifier("mobilevit", train_images, train_labels, seed, epochs),
                   "cnn": train_classifier("cnn", train_images, train_labels, seed, epochs),
                   "mobilevit_tuned": tuned}
    predictions, pseudo = {}, {}
    for name, classifier in classifiers.items():
        measures = cam_measures(classifier, train, test)
        row.update({f"{name}_{key}": value for key, value in measures.items()})
        with torch.no_grad():
            present = classifier(train_images[:NUM_FEW]) > 0
            cams = class_activation_map(classifier, train_images[:NUM_FEW])
            test_cams, test_present = class_activation_map(classifier, test_images), classifier(test_images) > 0
            pseudo[name] = masks_from_cams(class_activation_map(classifier, train_images), train_labels,
                                           measures["threshold"])
        row[f"{name}_threshold_{NUM_FEW}"] = choose_threshold(cams, present, train_masks[:NUM_FEW], THRESHOLDS)[0]
        row[f"{name}_refined_threshold_{NUM_FEW}"] = choose_threshold(
            cams, present, train_masks[:NUM_FEW], THRESHOLDS, region=ink_region(train_images[:NUM_FEW]))[0]
        predictions[f"{name}_cam"] = masks_from_cams(test_cams, test_present, measures["threshold"])
    for backbone, heads in (("mobilevit", BETTER_HEADS), ("mobilevit_tuned", TUNED_HEADS)):
        frozen = _Frozen.of(classifiers[backbone], train, test,
                            (row[f"{backbone}_threshold"], row[f"{backbone}_refined_threshold"]))
        frozen.masks.update(cnn=pseudo["cnn"], tuned=pseudo["mobilevit_tuned"])
        for name, head in heads.items():
            _record(row, predictions, _name(name, head_epochs), frozen.argmax(head, head_epochs, seed), test_masks)
    _add_intervals(row, predictions, [(_name(a, head_epochs), _name(b, head_epochs)) for a, b in INTERVALS],
                   test_masks, seed)
    return row


def _record(row: dict, predictions: dict, name: str, argmax: torch.Tensor, test_masks: torch.Tensor) -> None:
    """A prediction's test masks (B, H, W) kept for the intervals, and its columns of the row: `{name}_argmax`
    (the test mean IoU) and `{name}_argmax_background` (the share of test pixels it paints background)."""
    predictions[name] = argmax
    row[f"{name}_argmax"] = mean_iou(argmax, test_masks, CANVAS_CLASSES)
    row[f"{name}_argmax_background"] = (argmax == 0).float().mean().item()


def _add_intervals(row: dict, predictions: dict, pairs: Sequence[tuple[str, str]], test_masks: torch.Tensor,
                   seed: int) -> None:
    """For each (a, b) of `pairs`, `{a}_minus_{b}_low` and `_high`: the paired bootstrap interval (RESAMPLES
    resamples of the test canvases, 95%) of a's test mean IoU minus b's."""
    for a, b in pairs:
        row[f"{a}_minus_{b}_low"], row[f"{a}_minus_{b}_high"] = mean_iou_difference_interval(
            predictions[a], predictions[b], test_masks, CANVAS_CLASSES, resamples=RESAMPLES, seed=seed)


# Backbones of `supervised_backbones`, trained from scratch end to end with a multi-stage head, on true masks only
BACKBONES: dict[str, Callable[[], nn.Module]] = {
    "mobilevit": lambda: mobilevit_tiny(num_classes=10),  # maps at strides 2, 4, 4, 8: [16, 24, 32, 128] channels
    "swin": lambda: swin_tiny(num_classes=10, in_channels=1),  # patches of 2: strides 2, 4, 8, [32, 64, 128]
}
# passes over the fitting canvases (all training canvases but the last NUM_VALIDATION): 4 x 1,800 = 7,200 canvases
# seen, near the 8,000 of the label-trained MobileViT whose maps the heads read; the 200-mask budget sees as many
END_TO_END_EPOCHS = 4
MASK_BUDGETS = (10, 20, 50, NUM_TUNE)  # the true masks of the budget curve's heads, over the label-trained maps
# Heads of `supervised_backbones` over the frozen 4-epoch MobileViT of the stored runs: the pipeline's head on
# pseudo-masks and the head on each budget of true masks (that on NUM_TUNE is HEADS' own: both recomputed)
BUDGET_HEADS = {"head_on_pseudo_masks": HEADS["head_on_pseudo_masks"]} | {
    f"head_on_{n}_masks": Head("multi-stage", "true", canvases=n) for n in MASK_BUDGETS}


def segmentation_model(name: str) -> SegmentationModel:
    """A new BACKBONES[name] with a multi-stage SegmentationHead (D = HEAD_DIM, as the heads over frozen maps)
    on all its maps, for 32 x 32 canvases."""
    backbone = BACKBONES[name]()
    head = SegmentationHead(feature_channels(backbone, 1, 32), CANVAS_CLASSES, dim=HEAD_DIM)
    return SegmentationModel(backbone, head)


def trained_parameters(model: SegmentationModel) -> int:
    """The parameters that end-to-end training updates: all but the backbone's classification head, which a
    SegmentationModel never calls."""
    return count_parameters(model) - count_parameters(model.backbone.head)


def end_to_end(
    name: str, images: torch.Tensor, masks: torch.Tensor, count: int | None, seed: int,
    rates: Sequence[float] = TUNED_RATES, epochs: int = END_TO_END_EPOCHS, num_validation: int = NUM_VALIDATION,
    warmup: float = 0.0, no_weight_decay: Callable[[str, nn.Parameter], bool] | None = None,
) -> tuple[nn.Module, float, float, History]:
    """`segmentation_model(name)` trained from scratch, end to end, on true masks only, at a rate chosen on
    held-out training canvases.

    The last `num_validation` training canvases are held out; the others are the fitting canvases. One model
    per rate of `rates` is trained (pixel cross-entropy, batches of 32) on the first `count` fitting canvases
    (all of them when None), for the epochs that see as many canvases as `epochs` over all fitting canvases
    (`budget_epochs`); the one whose held-out mean IoU is highest is kept. The test canvases are not passed:
    they choose nothing. Choosing between the rates spends the held-out canvases' true masks too.

    Args:
        images, masks: (N, 1, H, W) and (N, H, W) of the training canvases.
        warmup: the share of the optimizer steps over which the rate rises linearly to its peak (fit's
            `warmup_steps`, rounded); 0: none.
        no_weight_decay: fit's: the parameters exempt from weight decay (None: every parameter decays).

    Returns:
        (the model in eval mode, its learning rate, its held-out mean IoU, its fit History: the mean training
        loss of each epoch).
    """
    fitting = len(images) - num_validation
    count = fitting if count is None else min(count, fitting)
    loader = DataLoader(TensorDataset(images[:count], masks[:count]), batch_size=32, shuffle=True)
    passes = budget_epochs(epochs, fitting, count)
    options = {} if no_weight_decay is None else dict(no_weight_decay=no_weight_decay)
    if warmup:
        options["warmup_steps"] = round(warmup * passes * len(loader))
    best = None
    for lr in rates:
        seed_everything(seed)
        model = segmentation_model(name)
        history = fit(model, loader, epochs=passes, lr=lr, seed=seed, progress=False, **options)
        held_out = mean_iou(predict_masks(model, images[-num_validation:]), masks[-num_validation:], CANVAS_CLASSES)
        if best is None or held_out > best[2]:
            best = model.eval(), lr, held_out, history
    return best


def _end_to_end_name(backbone: str, budget: int | None) -> str:
    """An end-to-end arm's name in the results: on the first `budget` fitting canvases, or on all (None)."""
    return f"end_to_end_{backbone}_on_masks" if budget is None else f"end_to_end_{backbone}_on_{budget}_masks"


def _supervised_intervals(epochs: int) -> list[tuple[str, str]]:
    """(a, b) of supervised_backbones' intervals, a's test mean IoU minus b's, by their names in the results."""
    pseudo, mobilevit = f"head_on_pseudo_masks_{epochs}", _end_to_end_name("mobilevit", NUM_TUNE)
    return [
        (mobilevit, pseudo),  # 200 true masks and no classifier, against the pipeline
        (f"head_on_{NUM_TUNE}_masks_{epochs}", mobilevit),  # what the label-trained features add to 200 masks
        *[(_end_to_end_name("swin", n), _end_to_end_name("mobilevit", n)) for n in (NUM_TUNE, None)],
        *[(f"head_on_{n}_masks_{epochs}", pseudo) for n in MASK_BUDGETS if n != NUM_TUNE],  # the stored has 200's
    ]


def supervised_backbone_columns(epochs: int = HEAD_EPOCHS[0]) -> list[str]:
    """The columns that supervised_backbones adds to the stored results."""
    columns = ["head_parameters"]
    for backbone in BACKBONES:
        columns.append(f"end_to_end_{backbone}_parameters")
        columns += [f"{_end_to_end_name(backbone, n)}_{key}" for n in (NUM_TUNE, None)
                    for key in ("lr", "held_out", "argmax", "argmax_background")]
    columns += [f"{name}_{epochs}_{key}" for name in BUDGET_HEADS if name not in HEADS
                for key in ("argmax", "argmax_background")]
    columns += [f"{a}_minus_{b}_{end}" for a, b in _supervised_intervals(epochs) for end in ("low", "high")]
    return columns


def supervised_backbones(
    seed: int, num_train: int = 2000, num_test: int = 200, epochs: int | None = None,
    end_to_end_epochs: int = END_TO_END_EPOCHS, head_epochs: int = HEAD_EPOCHS[0],
    num_validation: int = NUM_VALIDATION, budget: int = NUM_TUNE,
) -> dict[str, float | int]:
    """What would the true masks give with no classifier at all, per backbone; and how the head over the
    label-trained maps grows with its number of true masks.

    For one seed: each of BACKBONES with a multi-stage head, trained from scratch end to end on the true masks
    of the first `budget` training canvases and of all fitting canvases (`end_to_end`: the last
    `num_validation` training canvases choose its rate), for as many canvases seen; then, over the frozen
    4-epoch MobileViT of CLASSIFIERS (trained again, as in the stored runs), the heads of BUDGET_HEADS for
    `head_epochs` (as many canvases seen); and the paired bootstrap intervals of `_supervised_intervals`.
    `budget` is NUM_TUNE in the results (its columns are named for it); smaller only in tests.

    Returns:
        a row: seed; the stored columns recomputed (the MobileViT's CAM measures, the heads on pseudo-masks and
        on 200 true masks); and supervised_backbone_columns(head_epochs).
    """
    train = canvases("train", num_train)
    test = canvases("test", num_test)
    (train_images, train_labels, train_masks), (test_images, _, test_masks) = train, test
    row: dict[str, float | int] = dict(seed=seed)
    predictions: dict[str, torch.Tensor] = {}
    for backbone in BACKBONES:
        for n, tag in ((budget, NUM_TUNE), (None, None)):
            name = _end_to_end_name(backbone, tag)
            model, row[f"{name}_lr"], row[f"{name}_held_out"], _ = end_to_end(
                backbone, train_images, train_masks, n, seed, epochs=end_to_end_epochs, num_validation=num_validation)
            _record(row, predictions, name, predict_masks(model, test_images), test_masks)
        row[f"end_to_end_{backbone}_parameters"] = trained_parameters(model)
    mobilevit = train_classifier("mobilevit", train_images, train_labels, seed, epochs)
    row.update({f"mobilevit_{key}": value for key, value in cam_measures(mobilevit, train, test).items()})
    frozen = _Frozen.of(mobilevit, train, test, (row["mobilevit_threshold"], row["mobilevit_refined_threshold"]))
    for name, head in BUDGET_HEADS.items():
        _record(row, predictions, f"{name}_{head_epochs}", frozen.argmax(head, head_epochs, seed), test_masks)
    row["head_parameters"] = count_parameters(BUDGET_HEADS["head_on_pseudo_masks"].build(frozen.channels))
    _add_intervals(row, predictions, _supervised_intervals(head_epochs), test_masks, seed)
    return row


# The Swin recipe of `swin_recipe` (Liu et al., 2021, after DeiT): its candidate rates, those of a transformer trained
# with AdamW and warmup (the stored Swin arm took TUNED_RATES' top rate, 1e-2, in 5 of its 6 choices), and the share
# of the steps its rate warms up over: DEIT_OPTIONS' tenth in notebook 08
SWIN_RATES = (3e-4, 1e-3, 3e-3)
SWIN_WARMUP = 0.1
SWIN_RECIPE = f"swin_recipe_on_{NUM_TUNE}_masks"  # its arm's name in the results
# the head over the untrained MobileViT's maps: with its initial BatchNorm statistics (mean 0, variance 1), and with
# those of the training canvases (its maps then as centred and scaled as a trained network's; no weight changes)
RANDOM_HEADS = (f"random_head_on_{NUM_TUNE}_masks", f"random_normalised_head_on_{NUM_TUNE}_masks")


def swin_no_weight_decay(name: str, parameter: nn.Parameter) -> bool:
    """Swin's exemption from weight decay: DeiT's (`deit_no_weight_decay`: norms and biases) and the relative
    position bias tables ((2M-1)^2, nh), which the official Swin exempts by name, as DeiT its position embedding."""
    return deit_no_weight_decay(name, parameter) or name.endswith("relative_position_bias_table")


def _swin_recipe_intervals(epochs: int) -> list[tuple[str, str]]:
    """(a, b) of swin_recipe's intervals, a's test mean IoU minus b's, by their names in the results."""
    return [
        (SWIN_RECIPE, _end_to_end_name("swin", NUM_TUNE)),  # the recipe, against the stored Swin arm
        *[(f"head_on_{NUM_TUNE}_masks_{epochs}", f"{name}_{epochs}") for name in RANDOM_HEADS],  # the label training
    ]


def swin_recipe_columns(epochs: int = HEAD_EPOCHS[0], loss_epochs: int | None = None) -> list[str]:
    """The columns that swin_recipe adds to the stored results; `loss_epochs`, the epochs of its Swin's training
    (None: those of the results, END_TO_END_EPOCHS over the 1,800 fitting canvases, on NUM_TUNE of them)."""
    if loss_epochs is None:
        loss_epochs = budget_epochs(END_TO_END_EPOCHS, 2000 - NUM_VALIDATION, NUM_TUNE)
    columns = [f"{SWIN_RECIPE}_{key}" for key in ("lr", "held_out", "argmax", "argmax_background", "train")]
    columns += [f"{SWIN_RECIPE}_loss_epoch_{i}" for i in range(1, loss_epochs + 1)]
    columns += [f"{name}_{epochs}_{key}" for name in RANDOM_HEADS for key in ("argmax", "argmax_background")]
    columns += [f"{a}_minus_{b}_{end}" for a, b in _swin_recipe_intervals(epochs) for end in ("low", "high")]
    return columns


def swin_recipe(
    seed: int, num_train: int = 2000, num_test: int = 200, epochs: int | None = None,
    end_to_end_epochs: int = END_TO_END_EPOCHS, head_epochs: int = HEAD_EPOCHS[0],
    num_validation: int = NUM_VALIDATION, budget: int = NUM_TUNE,
) -> dict[str, float | int]:
    """Does Swin's collapse on the true masks come from its recipe? And what does the label training add to the
    head over the frozen MobileViT, with nothing else changed?

    For one seed: Swin end to end on the true masks of the first `budget` training canvases (`end_to_end`, the
    last `num_validation` choosing the rate), with the transformer recipe: a linear warmup over SWIN_WARMUP of the
    steps, no weight decay on norms, biases and the relative position bias tables (`swin_no_weight_decay`), rates
    SWIN_RATES, for as many canvases seen as the stored arm; measured on the test canvases, on the canvases it
    trained on, and by its loss in each epoch. The stored Swin arm trained again (its test masks, for the
    interval). Then the multi-stage head on the `budget` true masks (HEADS' head_on_200_masks, for `head_epochs`)
    over frozen MobileViTs of one initialisation: the 4-epoch one of CLASSIFIERS (trained again, as in the stored
    runs), and the same one never trained (its initial weights, from the same seed), with its initial BatchNorm
    statistics and with those of the training canvases (`with_recomputed_statistics`: the maps' scale is not
    what differs). Then the paired bootstrap intervals of `_swin_recipe_intervals`. `budget` is NUM_TUNE in the
    results; smaller only in tests.

    Returns:
        a row: seed; the stored columns recomputed (the stored Swin arm on 200 masks, the MobileViT's CAM
        measures, the head on 200 true masks); and swin_recipe_columns(head_epochs): for the recipe's Swin, `lr`,
        `held_out`, `argmax`, `argmax_background` (as the other arms), `train` (the mean IoU of its argmax masks of
        the canvases it trained on: under- or overfitting) and `loss_epoch_{i}` (the mean training loss of epoch i).
    """
    train = canvases("train", num_train)
    test = canvases("test", num_test)
    (train_images, train_labels, train_masks), (test_images, _, test_masks) = train, test
    row: dict[str, float | int] = dict(seed=seed)
    predictions: dict[str, torch.Tensor] = {}
    stored = _end_to_end_name("swin", NUM_TUNE)
    model, row[f"{stored}_lr"], row[f"{stored}_held_out"], _ = end_to_end(
        "swin", train_images, train_masks, budget, seed, epochs=end_to_end_epochs, num_validation=num_validation)
    _record(row, predictions, stored, predict_masks(model, test_images), test_masks)
    model, row[f"{SWIN_RECIPE}_lr"], row[f"{SWIN_RECIPE}_held_out"], history = end_to_end(
        "swin", train_images, train_masks, budget, seed, rates=SWIN_RATES, epochs=end_to_end_epochs,
        num_validation=num_validation, warmup=SWIN_WARMUP, no_weight_decay=swin_no_weight_decay)
    _record(row, predictions, SWIN_RECIPE, predict_masks(model, test_images), test_masks)
    row[f"{SWIN_RECIPE}_train"] = mean_iou(predict_masks(model, train_images[:budget]), train_masks[:budget],
                                           CANVAS_CLASSES)
    row.update({f"{SWIN_RECIPE}_loss_epoch_{i}": loss for i, loss in enumerate(history.train_loss, start=1)})
    mobilevit = train_classifier("mobilevit", train_images, train_labels, seed, epochs)
    row.update({f"mobilevit_{key}": value for key, value in cam_measures(mobilevit, train, test).items()})
    thresholds = row["mobilevit_threshold"], row["mobilevit_refined_threshold"]
    seed_everything(seed)  # the initial weights of the label-trained MobileViT (train_classifier seeds the same)
    untrained = CLASSIFIERS["mobilevit"].build().eval()
    normalised = with_recomputed_statistics(untrained, TensorDataset(train_images, train_labels))  # a copy
    head = HEADS[f"head_on_{NUM_TUNE}_masks"]
    for name, backbone in zip((f"head_on_{NUM_TUNE}_masks", *RANDOM_HEADS), (mobilevit, untrained, normalised)):
        frozen = _Frozen.of(backbone, train, test, thresholds)  # its pseudo-masks are not used
        _record(row, predictions, f"{name}_{head_epochs}", frozen.argmax(head, head_epochs, seed), test_masks)
    _add_intervals(row, predictions, _swin_recipe_intervals(head_epochs), test_masks, seed)
    return row


# Parts added to the stored results after they were written, each computed for a seed whose row lacks one of its
# columns: name: (compute(seed) -> row, the columns it adds). The stored results are one full run of weak_supervision,
# with these merged in (see add_to_results): a new arm added without training the others again.
ADDITIONS: dict[str, tuple[Callable[[int], dict], Callable[[], list[str]]]] = {
    "better_classifiers": (better_classifiers, better_classifier_columns),
    "supervised_backbones": (supervised_backbones, supervised_backbone_columns),
    "swin_recipe": (swin_recipe, swin_recipe_columns),
}


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
