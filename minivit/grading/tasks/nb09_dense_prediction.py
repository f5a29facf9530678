"""The graded tasks of notebook 09, dense prediction: masks measured by mean intersection over union (IoU),
class activation maps (CAMs) from a classifier's last feature map, and masks made from CAMs and image-level labels.

Masks hold one class index per pixel: 0 for the background, k + 1 for class k of a classifier's K classes."""

from __future__ import annotations

import torch

from minivit.grading.tasks.common import Case, Draw, Pitfall, add_task, three
from minivit.metrics import accuracy, iou_per_class, mean_iou
from minivit.segmentation import cam_from_features, masks_from_cams

NB09 = "09_dense_prediction"


# --- mean_iou ---------------------------------------------------------------------------------------------------

def _iou_mask_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    """(pred, target, K) for (B, H, W) masks: the target uses K - 2 classes, background among them; the prediction
    agrees with it on 30% to 90% of each image's pixels and elsewhere also paints one class that the target lacks;
    one class is in neither, so that every case has a class with no IoU."""
    cases = []
    for B, H, W, K in sizes:
        order = torch.randperm(K - 1, generator=d.values) + 1  # the classes other than the background, shuffled
        used = torch.cat([torch.zeros(1, dtype=torch.long), order[:K - 3]])  # in the target (and the prediction)
        painted = torch.cat([used, order[K - 3:K - 2]])  # the prediction also paints one class the target lacks
        target = used[torch.randint(len(used), (B, H, W), generator=d.values)]
        elsewhere = painted[torch.randint(len(painted), (B, H, W), generator=d.values)]
        agree = 0.3 + 0.6 * torch.rand(B, 1, 1, generator=d.values)  # each image its own share of right pixels
        pred = torch.where(torch.rand(B, H, W, generator=d.values) < agree, target, elsewhere)
        cases.append(Case((pred, target, K)))
    return cases


# The hand-checkable case: IoU 2/3 for the background, 0 for class 1, 1/3 for class 2; class 3 is in neither.
_IOU_PRED = torch.tensor([[[0, 2], [1, 0]], [[2, 0], [2, 0]]])
_IOU_TARGET = torch.tensor([[[0, 1], [0, 0]], [[0, 0], [2, 0]]])


def _iou_absent_as_zero(pred, target, num_classes):
    return iou_per_class(pred, target, num_classes).nan_to_num(0.0).mean().item()


def _iou_without_background(pred, target, num_classes):
    return iou_per_class(pred, target, num_classes)[1:].nanmean().item()


def _iou_weighted_by_pixels(pred, target, num_classes):
    """Frequency-weighted IoU: each class's IoU weighted by its share of the true pixels."""
    share = torch.bincount(target.reshape(-1), minlength=num_classes).double() / target.numel()
    return (share * iou_per_class(pred, target, num_classes).nan_to_num(0.0)).sum().item()


def _pixel_accuracy(pred, target, num_classes):
    return accuracy(pred, target)


def _iou_per_image(pred, target, num_classes):
    return sum(mean_iou(p, t, num_classes) for p, t in zip(pred, target)) / len(pred)


def _iou_union_counts_both_twice(pred, target, num_classes):
    ious = []
    for k in range(num_classes):
        both = ((pred == k) & (target == k)).sum().item()
        either = (pred == k).sum().item() + (target == k).sum().item()  # the pixels of both counted twice
        if either:
            ious.append(both / either)
    return sum(ious) / len(ious)


add_task(
    name="mean_iou",
    notebook=NB09,
    points=2,
    params=("pred", "target", "num_classes"),
    reference=mean_iou,
    public=lambda: [
        Case((_IOU_PRED, _IOU_TARGET, 4), "the two (2, 2, 2) masks of the example above, num_classes=4"),
        *_iou_mask_cases(Draw(0), [(2, 4, 5, 6)]),
    ],
    hidden=lambda d: _iou_mask_cases(d, three(d, lambda d: (d.size(2, 3), d.size(4, 7), d.size(4, 7), d.size(5, 8)))),
    hint="For each class k: intersection = pixels where pred == k and target == k, union = pixels where pred == k or "
    "target == k, counted over all images at once. Average intersection / union over the classes whose union is not "
    "empty (a class in neither mask has no IoU and is left out), background included. Return a float.",
    pitfalls=(
        Pitfall("a class that is in neither mask was counted as IoU 0; it has no IoU (0 / 0) and is left out of "
                "the mean", _iou_absent_as_zero),
        Pitfall("the background, class 0, was left out; the course's mean IoU averages over all K classes, "
                "background included", _iou_without_background),
        Pitfall("this is the share of pixels right (pixel accuracy), an average over pixels: mean IoU averages the "
                "IoU of each class, so a small class counts as much as the background", _pixel_accuracy),
        Pitfall("each class's IoU was weighted by its share of the pixels (frequency-weighted IoU); mean IoU gives "
                "every class the same weight", _iou_weighted_by_pixels),
        Pitfall("this is the mean of each image's mean IoU; count the pixels of all images at once, then take "
                "the IoU of each class", _iou_per_image),
    ),
    wrong=(_iou_union_counts_both_twice,),
    rtol=1e-5,  # counts divided: a float32 sum is exact to far less, and near misses of a mistake stay apart
    atol=1e-7,
)


# --- cam_from_features ------------------------------------------------------------------------------------------

def _cam_cases(d: Draw, sizes: list[tuple[int, int, int, int, int]]) -> list[Case]:
    return [Case((d.randn(K, C), d.randn(B, C, h, w))) for B, K, C, h, w in sizes]


add_task(
    name="cam_from_features",
    notebook=NB09,
    points=1,
    params=("weight", "features"),
    reference=lambda weight, features: cam_from_features(weight, features),
    public=lambda: [
        Case((torch.tensor([[1.0, 0.0], [1.0, -1.0]]),
              torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [1.0, 5.0]]]])),
             "weight [[1, 0], [1, -1]], features (1, 2, 2, 2) with channel 0 [[1, 2], [3, 4]], channel 1 "
             "[[0, 1], [1, 5]]"),
        *_cam_cases(Draw(0), [(2, 3, 4, 3, 4)]),
    ],
    hidden=lambda d: _cam_cases(d, three(d, lambda d: (d.size(1, 3), d.size(2, 5), d.size(2, 6), d.size(2, 5),
                                                         d.size(2, 5)))),
    hint="Apply the head's weight at every place: CAM[b, k, i, j] = sum over c of weight[k, c] * features[b, c, i, j], "
    "e.g. torch.einsum(\"kc,bchw->bkhw\", weight, features). No pooling, no bias, no clipping: shape (B, K, h, w).",
    pitfalls=(
        Pitfall("the map was averaged over its places first: that gives one score per class and image (B, K), the "
                "logits without their bias, not a map; apply the weight at every place instead",
                lambda weight, features: features.mean(dim=(2, 3)) @ weight.T),
        Pitfall("the maps were clipped at 0; a CAM keeps its negative values (masks_from_cams clips them later)",
                lambda weight, features: cam_from_features(weight, features).clamp(min=0)),
        Pitfall("a softmax over the classes was taken at each place; a CAM is the raw score the Linear gives there",
                lambda weight, features: cam_from_features(weight, features).softmax(dim=1)),
    ),
)


# --- masks_from_cams --------------------------------------------------------------------------------------------

def _masks_of_scaled(scaled: torch.Tensor, present: torch.Tensor, threshold: float) -> torch.Tensor:
    """The last steps of masks_from_cams, from maps already scaled (rightly or not): drop the absent classes,
    argmax over the classes, background below the threshold."""
    score, k = (scaled * present.bool()[:, :, None, None]).max(dim=1)  # (B, H, W) each
    return torch.where(score >= threshold, k + 1, 0)


def _masks_one_maximum(cams, present, threshold):
    clipped = cams.clamp(min=0)
    return _masks_of_scaled(clipped / clipped.max().clamp(min=1e-12), present, threshold)


def _masks_one_maximum_per_image(cams, present, threshold):
    clipped = cams.clamp(min=0)
    return _masks_of_scaled(clipped / clipped.amax(dim=(1, 2, 3), keepdim=True).clamp(min=1e-12), present, threshold)


def _masks_not_clipped(cams, present, threshold):
    return _masks_of_scaled(cams / cams.amax(dim=(2, 3), keepdim=True), present, threshold)


# The hand-checkable case: K = 3 maps of one 2 x 3 image, classes 0 and 1 present, class 2 absent. Scaled, class 0's
# map is [[1, 0.75, 0], [0, 0, 0.25]] and class 1's [[0.5, 1, 1], [0, 0.5, 1]]: the mask is [[1, 2, 2], [0, 0, 2]].
_CAMS = torch.tensor([[[[4.0, 3.0, 0.0], [0.0, -2.0, 1.0]],
                       [[1.0, 2.0, 2.0], [0.0, 1.0, 2.0]],
                       [[1.0, 2.0, 3.0], [5.0, 6.0, 4.0]]]])
_PRESENT = torch.tensor([[True, True, False]])


def _masks_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    """(cams, present, threshold). In every image, in a shuffled order of the K >= 4 classes: one present class whose
    map is negative everywhere (a CAM can be nowhere positive), two present classes with maps of their own scale,
    one absent class with a large map, and the rest present or absent at random."""
    cases = []
    for B, K, H, W in sizes:
        cams = d.randn(B, K, H, W) * torch.exp(d.randn(B, K, 1, 1))  # each map its own scale
        present = torch.rand(B, K, generator=d.values) < 0.5
        for b in range(B):
            negative, first, second, absent = torch.randperm(K, generator=d.values)[:4].tolist()
            cams[b, negative] = -cams[b, negative].abs() - 0.1
            cams[b, absent] = cams[b, absent].abs() * 5
            present[b, [negative, first, second]], present[b, absent] = True, False
        cases.append(Case((cams, present, d.pick([0.3, 0.4, 0.5, 0.6, 0.7]))))
    return cases


add_task(
    name="masks_from_cams",
    notebook=NB09,
    points=3,
    params=("cams", "present", "threshold"),
    reference=lambda cams, present, threshold: masks_from_cams(cams, present, threshold),
    public=lambda: [
        Case((_CAMS, _PRESENT, 0.6), "the (1, 3, 2, 3) maps of the example above, present [[True, True, False]], "
             "threshold=0.6"),
        *_masks_cases(Draw(0), [(2, 4, 5, 6)]),
    ],
    hidden=lambda d: _masks_cases(d, three(d, lambda d: (d.size(2, 3), d.size(4, 6), d.size(3, 7), d.size(3, 7)))),
    hint="Clip the maps at 0 and divide each by its own maximum over H and W (amax(dim=(2, 3), keepdim=True); guard "
    "against a maximum of 0), so each runs from 0 to 1. Multiply by present[:, :, None, None] so absent classes "
    "score 0. Take the max over the K maps: its value and its index k. The mask is k + 1 where the value is at least "
    "the threshold, else 0 (background): int64, shape (B, H, W).",
    pitfalls=(
        Pitfall("all the maps were divided by one maximum, the largest value of them all; divide each map by its "
                "own maximum, so that a weak map of a present class still reaches 1", _masks_one_maximum),
        Pitfall("each image's maps were divided by one maximum, the largest of the image's K maps; divide each map "
                "by its own maximum", _masks_one_maximum_per_image),
        Pitfall("the classes the image does not hold were not dropped: set their maps to 0 before the argmax",
                lambda cams, present, threshold: masks_from_cams(cams, torch.ones_like(present), threshold)),
        Pitfall("class k was given the index k, which collides with the background 0; class k is k + 1",
                lambda cams, present, threshold: (masks_from_cams(cams, present, threshold) - 1).clamp(min=0)),
        Pitfall("the maps were not clipped at 0 before scaling: a map that is negative everywhere, divided by its "
                "negative maximum, turns positive and wins", _masks_not_clipped),
    ),
)
