"""Dense prediction: a backbone's multi-scale feature maps turned into class scores for every pixel.

A classifier ends in global average pooling and a Linear: one score per class and image, with no
places left in it. A segmentation model keeps the places. It takes the feature map of every stage of
a backbone (strides 4, 8, 16, 32 for Swin-T or a ResNet: fine maps that know where, coarse maps that
know what), brings them to one resolution, mixes them, and gives K scores per pixel, upsampled to
the input size.

- `SegmentationHead`: per stage a 1x1 conv to D channels, all maps upsampled to the finest one,
  concatenated, a 1x1 conv (BN, ReLU) to D, a 1x1 conv to K, upsampled to the input (a 1x1 conv is a
  Linear applied to every pixel). Fine and coarse maps read together, as in FCN's skips (Long et al.,
  2015), U-Net (Ronneberger et al., 2015), hypercolumns (Hariharan et al., 2015) and FPN (Lin et al.,
  2017); in this small all-MLP form, SegFormer's decoder (Xie et al., 2021).
- `SegmentationModel(backbone, head)`: any backbone with a `feature_maps(images)` method that returns
  a list of (B, C_i, H_i, W_i) maps: minivit's SwinTransformer and MobileViT, or a torchvision ResNet
  through `ResNetBackbone`.
- `ResNetBackbone`: a torchvision ResNet without its average pool and fc, giving its four stages.
- `ViTBackbone`: a plain ViT's patch tokens (B, 1+N, D), class token dropped, laid back on the patch
  grid as one map (B, D, H/p, W/p): a single-scale backbone, as ViTDet and DPT read a ViT.
- `feature_channels`: the C_i of a backbone's maps, from one small forward pass.
- `LinearProbeHead`: a 1x1 conv on the last map only, upsampled: the same capacity as a class
  activation map, trained on masks (what the last map holds, read linearly).

Weak supervision, from image-level labels to masks:
- `class_activation_map`: where a classifier's last feature map supports each class (CAM), for any
  classifier whose `head` Linear reads the global average of its last feature map (SmallCNN,
  MobileViT; not minivit's Swin, whose `feature_maps` come before the LayerNorm that its head reads);
  `cam_from_features`, the same from a last map already computed;
- `masks_from_cams`: a mask from those maps and the labels (pseudo-masks to train a head on), within a
  refinement step's foreground when given one;
- `choose_threshold`: the threshold of `masks_from_cams` that fits some masks best, by mean IoU;
- `pointing_game`: how often a CAM's peak falls on its object; `pointing_chance`, how often a point
  drawn at random would; `place_centres`, where the places of a map lie on the image;
- `far_gradient_share`: how much a CAM's value at a place depends on pixels far from that place
  (`cam_gradients` per place, split by `near_block`);
- `predict_masks`: a segmentation model's masks, in eval mode;
- `pooled_masks`: the block-majority masks of an h x w map (each block's most common class): the best
  pixel accuracy of a head that reads only that map, a reference for mean IoU, not a bound.

Glossary: B batch, C channels, H x W image, H_i x W_i map of stage i, D head width, K classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from minivit.metrics import mean_iou
from minivit.models.vit import VisionTransformer
from minivit.ops._checks import check_size, check_tensor, to_pair


class SegmentationHead(nn.Module):
    """Class scores per pixel from a list of feature maps: (B, C_i, H_i, W_i) for each stage i ->
    (B, K, H, W).

    Every stage is used: each map is projected to D channels (1x1 conv), upsampled (bilinear) to the
    size of the first, finest map, and the stages are concatenated (B, S*D, H_0, W_0); a 1x1 conv with
    BatchNorm and ReLU fuses them to D channels, a last 1x1 conv gives K scores, and the scores are
    upsampled to the input size (H, W).

    Args:
        in_channels: C_i of each map, finest first, e.g. (32, 64, 128) for swin_tiny.
        num_classes: K, background included (11 for digit canvases: background and 10 digits).
        dim: D, the width of the head.
    """

    def __init__(self, in_channels: Sequence[int], num_classes: int, dim: int = 64):
        super().__init__()
        if not in_channels:
            raise ValueError(f"in_channels must give the channels of at least one map, got {in_channels!r}")
        for c in in_channels:
            check_size(c, "in_channels")
        check_size(num_classes, "num_classes")
        check_size(dim, "dim")
        self.in_channels = tuple(in_channels)
        self.project = nn.ModuleList(nn.Conv2d(c, dim, 1) for c in in_channels)
        self.fuse = nn.Sequential(
            nn.Conv2d(len(in_channels) * dim, dim, 1, bias=False), nn.BatchNorm2d(dim), nn.ReLU()
        )
        self.classify = nn.Conv2d(dim, num_classes, 1)

    def forward(self, features: Sequence[torch.Tensor], size: int | tuple[int, int]) -> torch.Tensor:
        """Args:
            features: the maps, one per stage, finest first, each (B, C_i, H_i, W_i).
            size: (H, W) of the input images (an int for H = W): the scores are upsampled to it.

        Returns:
            class scores (logits), shape (B, K, H, W).
        """
        self._check_features(features)
        H0, W0 = features[0].shape[-2:]
        maps = [
            F.interpolate(project(f), size=(H0, W0), mode="bilinear", align_corners=False)  # (B, D, H_0, W_0)
            for project, f in zip(self.project, features)
        ]
        x = self.fuse(torch.cat(maps, dim=1))  # (B, S*D, H_0, W_0) -> (B, D, H_0, W_0)
        scores = self.classify(x)  # (B, K, H_0, W_0)
        return F.interpolate(scores, size=to_pair(size, "size"), mode="bilinear", align_corners=False)

    def _check_features(self, features: Sequence[torch.Tensor]) -> None:
        wanted = ", ".join(f"(B, {c}, H_{i}, W_{i})" for i, c in enumerate(self.in_channels))
        got = [tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__ for f in features]
        if (
            len(features) != len(self.in_channels)
            or not all(isinstance(f, torch.Tensor) and f.dim() == 4 for f in features)
            or tuple(f.shape[1] for f in features) != self.in_channels
        ):
            raise ValueError(f"features must be {len(self.in_channels)} maps of shapes {wanted}, got {got}")


class LinearProbeHead(nn.Module):
    """Class scores per pixel from the last feature map only: a 1x1 conv (a Linear at every place),
    upsampled (bilinear) to the input size. (B, C, h, w) -> (B, K, H, W).

    It has the capacity of a class activation map, which is also a Linear over the channels of the
    last map: trained on masks, it shows what that map holds about where each class is.

    Args:
        in_channels: C of the last map (128 for mobilevit_tiny).
        num_classes: K, background included.
    """

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        check_size(in_channels, "in_channels")
        check_size(num_classes, "num_classes")
        self.classify = nn.Conv2d(in_channels, num_classes, 1)

    def forward(self, features: Sequence[torch.Tensor], size: int | tuple[int, int]) -> torch.Tensor:
        """Args:
            features: the backbone's maps, finest first; only the last, (B, C, h, w), is read.
            size: (H, W) of the input images (an int for H = W).

        Returns:
            class scores (logits), shape (B, K, H, W).
        """
        last = features[-1]
        if last.dim() != 4 or last.shape[1] != self.classify.in_channels:
            raise ValueError(
                f"the last map must have shape (B, {self.classify.in_channels}, h, w), got {tuple(last.shape)}"
            )
        scores = self.classify(last)  # (B, K, h, w)
        return F.interpolate(scores, size=to_pair(size, "size"), mode="bilinear", align_corners=False)


class SegmentationModel(nn.Module):
    """A backbone's feature maps fed to a segmentation head: images (B, C, H, W) -> scores (B, K, H, W).

    The backbone is any module with `feature_maps(images) -> list of (B, C_i, H_i, W_i)`. A classifier
    used as a backbone keeps its classification head, which the segmentation model never calls.

    Args:
        backbone: e.g. minivit.models.swin.swin_tiny(), minivit.models.mobilevit.mobilevit_tiny(),
            ResNetBackbone(resnet).
        head: a SegmentationHead whose in_channels are the backbone's (see `feature_channels`), or a
            LinearProbeHead, or any module taking (features, size).
        freeze_backbone: train the head only: the backbone's parameters get no gradient, and it stays
            in eval mode (its BatchNorm layers keep their running statistics) even when the model
            trains. Cheaper, and it measures what the backbone's features already hold. The
            backbone passed in is frozen in place.
    """

    def __init__(self, backbone: nn.Module, head: nn.Module, freeze_backbone: bool = False):
        super().__init__()
        if not callable(getattr(backbone, "feature_maps", None)):
            raise ValueError(
                f"backbone must have a feature_maps(images) method returning a list of (B, C_i, H_i, W_i) maps, "
                f"got {type(backbone).__name__}"
            )
        self.backbone = backbone
        self.head = head
        self.freeze_backbone = freeze_backbone
        if freeze_backbone:
            backbone.requires_grad_(False)
            backbone.eval()

    def train(self, mode: bool = True) -> SegmentationModel:
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of images x (B, C, H, W) at every pixel: shape (B, K, H, W)."""
        check_tensor(x, "x", "(B, C, H, W)")
        return self.head(self.backbone.feature_maps(x), size=tuple(x.shape[-2:]))  # (B, K, H, W)


class ResNetBackbone(nn.Module):
    """A torchvision ResNet as a backbone: its stem and four stages, without the average pool and fc
    that turn it into a classifier.

    The fc gives one score per class and image, (B, 1000): it has no places left, so it cannot be
    the input of a segmentation head. The last stage, before pooling, is the map a head needs.

    Args:
        resnet: a torchvision ResNet (resnet18 ... resnet152); its modules are shared, not copied.
    """

    def __init__(self, resnet: nn.Module):
        super().__init__()
        names = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")
        missing = [name for name in names if not hasattr(resnet, name)]
        if missing:
            raise ValueError(f"resnet must be a torchvision ResNet with {', '.join(names)}; it has no {missing}")
        self.stem = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu, resnet.maxpool)  # stride 4
        self.stages = nn.ModuleList([resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4])

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args: x, images of shape (B, 3, H, W).

        Returns:
            the output of each stage, at strides 4, 8, 16, 32: for ResNet-50 (B, 256, H/4, W/4),
            (B, 512, H/8, W/8), (B, 1024, H/16, W/16), (B, 2048, H/32, W/32) (sizes rounded up).
        """
        check_tensor(x, "x", "(B, C, H, W)")
        x = self.stem(x)
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps


class ViTBackbone(nn.Module):
    """A plain Vision Transformer as a dense backbone: one feature map, at one scale.

    A ViT keeps one token per p x p patch through every block, with no pooling between them, so its
    output (B, 1+N, D) already holds a feature for every place of the (H/p) x (W/p) patch grid; it only
    has to be laid back on that grid. The class token has no place on it and is dropped (the "ignore"
    readout of DPT, Ranftl et al., 2021); ViTDet (Li et al., 2022) builds its detector on this one map.
    The tokens are read after the ViT's final LayerNorm, as its classifier reads the class token.

    Args:
        vit: a minivit VisionTransformer; its modules are shared, not copied. Its position embedding
            fixes the image size it takes.
    """

    def __init__(self, vit: VisionTransformer):
        super().__init__()
        if not isinstance(vit, VisionTransformer):
            raise TypeError(f"vit must be a minivit VisionTransformer, got {type(vit).__name__}")
        self.vit = vit

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Args: x, images (B, C, H, W) of the ViT's image size.

        Returns:
            one map, [(B, D, H/p, W/p)]: the patch tokens after the last block and the LayerNorm.
        """
        tokens = self.vit.tokens(x)  # (B, 1+N, D); checks x
        for block in self.vit.blocks:
            tokens = block(tokens)
        patches = self.vit.norm(tokens)[:, 1:]  # (B, N, D): the class token dropped
        p = self.vit.config.patch_size
        h, w = x.shape[-2] // p, x.shape[-1] // p
        return [patches.transpose(1, 2).reshape(x.shape[0], -1, h, w)]  # (B, D, h, w), row-major like patchify


@torch.no_grad()
def feature_channels(backbone: nn.Module, in_channels: int, size: int | tuple[int, int] = 64) -> list[int]:
    """The channels C_i of each map of `backbone.feature_maps`, read off one forward pass of a blank
    (1, in_channels, size, size) image in eval mode (the backbone's mode is restored after).

    Args:
        backbone: a module with a feature_maps method.
        in_channels: C of the images it takes.
        size: an image size it accepts.

    Returns:
        [C_0, C_1, ...], finest map first, e.g. [32, 64, 128] for swin_tiny.
    """
    check_size(in_channels, "in_channels")
    was_training = backbone.training
    backbone.eval()
    maps = backbone.feature_maps(torch.zeros(1, in_channels, *to_pair(size, "size")))
    backbone.train(was_training)
    return [m.shape[1] for m in maps]


def class_activation_map(classifier: nn.Module, images: torch.Tensor, upsample: bool = True) -> torch.Tensor:
    """Class activation maps (Zhou et al., 2016) of a classifier that ends in global average pooling
    and one Linear: how much each place of its last feature map adds to each class.

    CAM[b, k] = sum_c weight[k, c] * features[b, c], with `features` the last map of
    `classifier.feature_maps(images)` and `weight` the Linear head's. Averaging CAM[b, k] over the map
    and adding the head's bias gives exactly the logit of class k, because pooling and the Linear
    commute. The map must be taken from the features before pooling: a classifier's logits (B, K) are
    one number per class and image, not a feature map, and have no places left to show. The map is
    h x w (1/8 of the input for SmallCNN), so it is upsampled (bilinear) to the input size to compare
    with a mask.

    The classifier runs in eval mode (its mode is restored after). Gradients flow through, as
    `far_gradient_share` needs; call it under torch.no_grad() when you only want the maps.

    Args:
        classifier: has `feature_maps(images) -> list of (B, C_i, h_i, w_i)` and a Linear `head` with
            a (K, C) weight, C the channels of the last map.
        images: (B, C_in, H, W).
        upsample: upsample the maps to (H, W); when False they keep the map's h x w.

    Returns:
        maps, shape (B, K, H, W) (or (B, K, h, w) when upsample is False).
    """
    check_tensor(images, "images", "(B, C, H, W)")
    weight = getattr(getattr(classifier, "head", None), "weight", None)
    if not callable(getattr(classifier, "feature_maps", None)) or not isinstance(weight, torch.Tensor):
        raise ValueError(
            f"classifier must have a feature_maps(images) method and a Linear head, got {type(classifier).__name__}"
        )
    was_training = classifier.training
    classifier.eval()
    features = classifier.feature_maps(images)[-1]  # (B, C, h, w)
    classifier.train(was_training)
    return cam_from_features(weight, features, tuple(images.shape[-2:]) if upsample else None)


def cam_from_features(
    weight: torch.Tensor, features: torch.Tensor, size: tuple[int, int] | None = None
) -> torch.Tensor:
    """Class activation maps from a classifier's last feature map, already computed (e.g. by `backbone_maps`
    of minivit.experiments): the weight of its Linear head applied at every place.

    Args:
        weight: (K, C), the head's weight.
        features: (B, C, h, w), the last feature map, the one the head reads after pooling.
        size: (H, W) to upsample the maps to (bilinear); None keeps h x w.

    Returns:
        maps, shape (B, K, h, w), or (B, K, H, W) when a size is given.
    """
    if features.dim() != 4 or weight.dim() != 2 or weight.shape[1] != features.shape[1]:
        raise ValueError(
            f"classifier's head weight must have shape (K, {features.shape[1]}) for its last map of shape "
            f"{tuple(features.shape)} (B, C, h, w), got shape {tuple(weight.shape)}"
        )
    cam = torch.einsum("kc,bchw->bkhw", weight, features)  # (B, K, h, w)
    if size is None:
        return cam
    return F.interpolate(cam, size=size, mode="bilinear", align_corners=False)


def masks_from_cams(
    cams: torch.Tensor, present: torch.Tensor, threshold: float = 0.6, region: torch.Tensor | None = None
) -> torch.Tensor:
    """Weakly supervised segmentation: turn class activation maps into a mask.

    Each map is clipped at 0 and divided by its maximum, so it runs from 0 to 1; maps of classes not
    in the image are set to 0. Every pixel takes the class whose map is highest there, or the
    background where no map reaches `threshold` (or where it lies outside `region`, when given).

    Args:
        cams: class activation maps, shape (B, K, H, W) (see `class_activation_map`).
        present: (B, K) bool (or 0/1), which classes each image holds: the image-level labels, or
            the classifier's own predictions (logit > 0).
        threshold: the lowest scaled activation that counts as an object.
        region: (B, H, W) bool, or None: where objects may be; every pixel outside it is background.
            A refinement step's foreground (real pipelines find it with a CRF or an affinity network;
            notebook 09 takes the canvas's ink).

    Returns:
        masks, shape (B, H, W) int64: 0 for background, k + 1 for class k (as `digit_canvas` numbers them).
    """
    check_tensor(cams, "cams", "(B, K, H, W)")
    check_tensor(present, "present", "(B, K)")
    if present.shape != cams.shape[:2]:
        raise ValueError(f"present must have shape {tuple(cams.shape[:2])} (B, K), got shape {tuple(present.shape)}")
    wanted = (cams.shape[0], *cams.shape[2:])
    if region is not None and (not isinstance(region, torch.Tensor) or region.shape != wanted):
        got = tuple(region.shape) if isinstance(region, torch.Tensor) else type(region).__name__
        raise ValueError(f"region must have shape {wanted} (B, H, W), got {got}")
    cams = cams.clamp(min=0)
    cams = cams / cams.amax(dim=(2, 3), keepdim=True).clamp(min=1e-12)  # each map in [0, 1]
    cams = cams * present.bool()[:, :, None, None]
    score, k = cams.max(dim=1)  # (B, H, W) each
    found = score >= threshold if region is None else (score >= threshold) & region.bool()
    return torch.where(found, k + 1, 0)


def choose_threshold(
    cams: torch.Tensor,
    present: torch.Tensor,
    masks: torch.Tensor,
    thresholds: Sequence[float],
    num_classes: int = 11,
    region: torch.Tensor | None = None,
) -> tuple[float, dict[float, float]]:
    """The threshold of `masks_from_cams` whose masks fit `masks` best, by mean IoU.

    Choose it on training images: on the test images it would fit the very masks it is measured on.

    Args:
        cams: (B, K, H, W) class activation maps at the masks' size.
        present: (B, K), the classes each image holds.
        masks: (B, H, W), the true masks (class 0 background, k + 1 for class k).
        thresholds: the candidates.
        num_classes: classes of the masks, background included (K + 1).
        region: given to `masks_from_cams`.

    Returns:
        (the best threshold, {threshold: mean IoU} for every candidate).
    """
    ious = {t: mean_iou(masks_from_cams(cams, present, t, region), masks, num_classes) for t in thresholds}
    return max(ious, key=ious.get), ious


def object_boxes(masks: torch.Tensor, present: torch.Tensor) -> list[tuple[int, int, int, int]]:
    """The box around each present class's pixels: the smallest rectangle holding every pixel of class
    k + 1 in image b's mask, for each (b, k) of present.nonzero(), in that order.

    Args:
        masks: (B, H, W), 0 background, k + 1 for class k.
        present: (B, K), which classes to box; each must have its class in the mask.

    Returns:
        [(top, bottom, left, right), ...], rows and columns inclusive.
    """
    check_tensor(masks, "masks", "(B, H, W)")
    check_tensor(present, "present", "(B, K)")
    if present.shape[0] != masks.shape[0]:
        raise ValueError(f"present must have one row per mask, {masks.shape[0]}, got shape {tuple(present.shape)}")
    boxes = []
    for b, k in present.bool().nonzero().tolist():
        rows, cols = (masks[b] == k + 1).nonzero(as_tuple=True)
        if len(rows) == 0:
            raise ValueError(f"present says image {b} holds class {k}, but its mask has no pixel of class {k + 1}")
        boxes.append((int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max())))
    return boxes


def place_centres(map_size: tuple[int, int], image_size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the centre of each place of an h x w map lies on an H x W image, in pixel coordinates
    (rows (h,), columns (w,)): place i covers pixels i * H/h to (i + 1) * H/h, so its centre is
    (i + 0.5) * H/h - 0.5 (pixel r's own centre being r)."""
    (h, w), (H, W) = map_size, image_size
    return (torch.arange(h) + 0.5) * H / h - 0.5, (torch.arange(w) + 0.5) * W / w - 0.5


def pointing_game(cams: torch.Tensor, masks: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Does each CAM's highest place fall on its object? (The "pointing game" of Zhang et al., 2016.)

    Played at the map's own resolution: the map points at the centre of its highest place (on an
    h x w map of an H x W image, a place covers H/h x W/w pixels), and it is a hit when that point lies
    inside the box around the pixels of class k + 1 in the mask (`object_boxes`). An upsampled map
    would point no better: it only smooths the same h x w values, and at the image's border the
    bilinear upsampling repeats the border place's value, whose first pixel then wins the argmax.

    Args:
        cams: (B, K, h, w), any h <= H and w <= W (at the masks' size, a place is a pixel).
        masks: (B, H, W), 0 background, k + 1 for class k.
        present: (B, K): which maps to test; each must have its class in the mask.

    Returns:
        (number of present maps,) bool, in the order of present.nonzero().
    """
    check_tensor(cams, "cams", "(B, K, h, w)")
    check_tensor(masks, "masks", "(B, H, W)")
    h, w = cams.shape[-2:]
    if masks.shape[0] != cams.shape[0] or h > masks.shape[1] or w > masks.shape[2] or present.shape != cams.shape[:2]:
        raise ValueError(
            f"masks must have shape ({cams.shape[0]}, H, W) with H >= {h} and W >= {w}, and present shape "
            f"{tuple(cams.shape[:2])}, got {tuple(masks.shape)} and {tuple(present.shape)}"
        )
    row_centres, col_centres = place_centres((h, w), masks.shape[-2:])
    hits = []
    for (b, k), (top, bottom, left, right) in zip(present.bool().nonzero().tolist(), object_boxes(masks, present)):
        i, j = divmod(int(cams[b, k].argmax()), w)
        hits.append(bool(top <= row_centres[i] <= bottom and left <= col_centres[j] <= right))
    return torch.tensor(hits, dtype=torch.bool)


def pointing_chance(
    masks: torch.Tensor, present: torch.Tensor, map_size: tuple[int, int] | None = None
) -> torch.Tensor:
    """The pointing game's chance level: for each present object, the probability that a map whose peak
    falls on a place drawn uniformly at random hits its box, i.e. the share of the places whose centre
    lies inside the box.

    Args:
        masks: (B, H, W), 0 background, k + 1 for class k.
        present: (B, K), as `pointing_game` takes it.
        map_size: (h, w) of the maps that play; None for the masks' own size (then a place is a pixel and
            the chance is the box's area over the image's).

    Returns:
        (number of present maps,) float, in the order of present.nonzero(); its mean is the hit rate
        that a map whose peak falls at random would reach, on average.
    """
    boxes = object_boxes(masks, present)
    row_centres, col_centres = place_centres(map_size or tuple(masks.shape[-2:]), masks.shape[-2:])
    shares = [
        ((top <= row_centres) & (row_centres <= bottom)).float().mean()
        * ((left <= col_centres) & (col_centres <= right)).float().mean()
        for top, bottom, left, right in boxes
    ]
    return torch.tensor(shares, dtype=torch.float32)


def near_block(place: tuple[int, int], map_size: tuple[int, int], image_size: tuple[int, int]) -> torch.Tensor:
    """The pixels near one place of an h x w map: those of the block of 3 x 3 places centred on `place`
    (i, j), each place covering H/h x W/w pixels (cut at the image's border). Shape (H, W), bool."""
    (i, j), (h, w), (H, W) = place, map_size, image_size
    sh, sw = H // h, W // w
    near = torch.zeros(H, W, dtype=torch.bool)
    near[max(0, (i - 1) * sh):(i + 2) * sh, max(0, (j - 1) * sw):(j + 2) * sw] = True
    return near


def cam_gradients(classifier: nn.Module, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Which input pixels each place of a class activation map depends on: for every place (i, j) of the
    h x w map, the absolute gradient of CAM[b, classes[b], i, j] with respect to the input pixels,
    summed over the input's channels.

    Args:
        classifier: as `class_activation_map` takes it (run in eval mode).
        images: (B, C_in, H, W).
        classes: (B,), the class whose CAM is followed in each image.

    Returns:
        gradients, shape (B, h, w, H, W).
    """
    check_tensor(images, "images", "(B, C, H, W)")
    images = images.clone().requires_grad_(True)
    cams = class_activation_map(classifier, images, upsample=False)  # (B, K, h, w)
    B, _, h, w = cams.shape
    picked = cams[torch.arange(B), classes]  # (B, h, w)
    gradients = torch.zeros(B, h, w, *images.shape[-2:])
    for i in range(h):
        for j in range(w):
            (grad,) = torch.autograd.grad(picked[:, i, j].sum(), images, retain_graph=True)
            gradients[:, i, j] = grad.abs().sum(dim=1)  # (B, H, W)
    return gradients


def far_gradient_share(classifier: nn.Module, images: torch.Tensor, classes: torch.Tensor) -> float:
    """How much a class activation map's value at a place depends on pixels far from that place.

    For every place (i, j) of the h x w map, the gradient of CAM[b, classes[b], i, j] with respect to
    the input pixels (`cam_gradients`); its absolute values are split into near (`near_block`: the
    block of 3 x 3 places centred on (i, j)) and far (everything else). Returns the far part's share of
    the total, summed over all places and images. A CNN whose receptive field fits in that block gives
    0; a map that came through global attention can draw on any pixel.

    Args:
        classifier: as `class_activation_map` takes it (run in eval mode).
        images: (B, C_in, H, W).
        classes: (B,), the class whose CAM is followed in each image.

    Returns:
        the far share, in [0, 1].
    """
    gradients = cam_gradients(classifier, images, classes)  # (B, h, w, H, W)
    _, h, w, H, W = gradients.shape
    near = far = 0.0
    for i in range(h):
        for j in range(w):
            is_near = near_block((i, j), (h, w), (H, W))
            place = gradients[:, i, j]  # (B, H, W)
            near, far = near + place[:, is_near].sum().item(), far + place[:, ~is_near].sum().item()
    return far / (near + far)


@torch.no_grad()
def predict_masks(model: nn.Module, images: torch.Tensor, batch_size: int = 200) -> torch.Tensor:
    """Masks (B, H, W) of a segmentation model: the argmax of its scores (B, K, H, W), in eval mode."""
    was_training = model.training
    model.eval()
    masks = torch.cat([model(x).argmax(dim=1) for x in images.split(batch_size)])
    model.train(was_training)
    return masks


def pooled_masks(masks: torch.Tensor, grid: int | tuple[int, int], num_classes: int) -> torch.Tensor:
    """The block-majority masks on an h x w grid: each block of (H/h) x (W/w) pixels takes its most common
    class (the lowest on a tie), brought back to H x W by nearest neighbour.

    Of all masks that give every block a single class, this one gets the most pixels right: the best pixel
    accuracy a head that paints one answer per place of an h x w map can reach. It is a reference for mean
    IoU, not an upper bound: mean IoU weighs every class alike, so painting a small class where a block is
    mostly another can lose pixels and still raise it (and a head whose scores are upsampled bilinearly can
    bend an edge inside a block).

    Args:
        masks: (B, H, W) integer classes in [0, num_classes).
        grid: h, or (h, w); must divide H and W.
        num_classes: K, background included.

    Returns:
        (B, H, W) int64, constant on each block.
    """
    check_tensor(masks, "masks", "(B, H, W)")
    (h, w), (H, W) = to_pair(grid, "grid"), masks.shape[-2:]
    check_size(num_classes, "num_classes")
    if H % h or W % w:
        raise ValueError(f"grid must divide the masks' size {H} x {W}, got {h} x {w}")
    if masks.is_floating_point() or masks.numel() and not 0 <= int(masks.min()) <= int(masks.max()) < num_classes:
        raise ValueError(f"masks must hold integer classes in [0, {num_classes}), got dtype {masks.dtype}")
    B = masks.shape[0]
    blocks = F.one_hot(masks.long(), num_classes).view(B, h, H // h, w, W // w, num_classes)
    counts = blocks.sum(dim=(2, 4))  # (B, h, w, K): pixels of each class in each block
    majority = counts.argmax(dim=-1)  # (B, h, w); argmax returns the first maximum: the lowest class on a tie
    return majority.repeat_interleave(H // h, dim=1).repeat_interleave(W // w, dim=2)  # (B, H, W)
