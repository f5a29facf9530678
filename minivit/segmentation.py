"""Dense prediction: a backbone's multi-scale feature maps turned into class scores for every pixel.

A classifier ends in global average pooling and a Linear: one score per class and image, with no
places left in it. A segmentation model keeps the places. It takes the feature map of every stage of
a backbone (strides 4, 8, 16, 32 for Swin-T or a ResNet: fine maps that know where, coarse maps that
know what), brings them to one resolution, mixes them, and gives K scores per pixel, upsampled to
the input size.

- `SegmentationHead`: per stage a 1x1 conv to D channels, all maps upsampled to the finest one,
  concatenated, a 1x1 conv (BN, ReLU) to D, a 1x1 conv to K, upsampled to the input (the all-MLP
  decoder of SegFormer, Xie et al., 2021, in small; a 1x1 conv is a Linear applied to every pixel).
- `SegmentationModel(backbone, head)`: any backbone with a `feature_maps(images)` method that returns
  a list of (B, C_i, H_i, W_i) maps: minivit's SwinTransformer and MobileViT, or a torchvision ResNet
  through `ResNetBackbone`.
- `ResNetBackbone`: a torchvision ResNet without its average pool and fc, giving its four stages.
- `feature_channels`: the C_i of a backbone's maps, from one small forward pass.

Class activation maps and the masks made from them (weak supervision) are in minivit.toy_models:
`class_activation_map`, `masks_from_cams`.

Glossary: B batch, C channels, H x W image, H_i x W_i map of stage i, D head width, K classes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from minivit._checks import check_size, check_tensor, to_pair


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


class SegmentationModel(nn.Module):
    """A backbone's feature maps fed to a segmentation head: images (B, C, H, W) -> scores (B, K, H, W).

    The backbone is any module with `feature_maps(images) -> list of (B, C_i, H_i, W_i)`. A classifier
    used as a backbone keeps its classification head, which the segmentation model never calls.

    Args:
        backbone: e.g. minivit.swin.swin_tiny(), minivit.mobilevit.mobilevit_tiny(), ResNetBackbone(resnet).
        head: a SegmentationHead whose in_channels are the backbone's (see `feature_channels`).
        freeze_backbone: train the head only: the backbone's parameters get no gradient, and it stays
            in eval mode (its BatchNorm layers keep their running statistics) even when the model
            trains. Cheaper, and it measures what the backbone's features already hold. The
            backbone passed in is frozen in place.
    """

    def __init__(self, backbone: nn.Module, head: SegmentationHead, freeze_backbone: bool = False):
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

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_tensor(images, "images", "(B, C, H, W)")
        return self.head(self.backbone.feature_maps(images), size=tuple(images.shape[-2:]))  # (B, K, H, W)


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

    def feature_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Args: images, shape (B, 3, H, W).

        Returns:
            the output of each stage, at strides 4, 8, 16, 32: for ResNet-50 (B, 256, H/4, W/4),
            (B, 512, H/8, W/8), (B, 1024, H/16, W/16), (B, 2048, H/32, W/32) (sizes rounded up).
        """
        check_tensor(images, "images", "(B, C, H, W)")
        x = self.stem(images)
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        return maps


@torch.no_grad()
def feature_channels(backbone: nn.Module, in_chans: int, size: int | tuple[int, int] = 64) -> list[int]:
    """The channels C_i of each map of `backbone.feature_maps`, read off one forward pass of a blank
    (1, in_chans, size, size) image in eval mode (the backbone's mode is restored after).

    Args:
        backbone: a module with a feature_maps method.
        in_chans: C of the images it takes.
        size: an image size it accepts.

    Returns:
        [C_0, C_1, ...], finest map first, e.g. [32, 64, 128] for swin_tiny.
    """
    check_size(in_chans, "in_chans")
    was_training = backbone.training
    backbone.eval()
    maps = backbone.feature_maps(torch.zeros(1, in_chans, *to_pair(size, "size")))
    backbone.train(was_training)
    return [m.shape[1] for m in maps]
