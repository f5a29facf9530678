"""MobileViT (Mehta and Rastegari, 2021): a MobileNetV2 whose later stages also carry a MobileViT
block, in which a transformer mixes pixels across the whole feature map. Same layout and numbers as
timm's mobilevit_xxs / xs / s.

No dropout and no stochastic depth: timm's MobileViTs have them as options (drop_rate before the
head, drop_path_rate in the blocks), 0 by default. With those defaults the two models compute the
same in training and in eval mode; with a nonzero rate timm's would differ in training only.

Glossary: B batch, C channels, H x W map, n block channels, d transformer token size, L transformer
layers, p = ph = pw the side of a patch (2 in every config), P = ph*pw pixels per patch (4),
N = (H/ph)(W/pw) patches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from minivit.models.layers import TransformerBlock
from minivit.ops._checks import check_images, to_pair
from minivit.ops.unfold import mobilevit_fold, mobilevit_unfold


@dataclass
class MobileViTConfig:
    channels: tuple[int, ...] = (16, 24, 48, 64, 80)  # output channels of each stage
    strides: tuple[int, ...] = (1, 2, 2, 2, 2)  # stride of each stage's first MV2 block
    mv2_blocks: tuple[int, ...] = (1, 3, 1, 1, 1)  # MV2 blocks per stage
    dims: tuple[int, ...] = (64, 80, 96)  # d of the MobileViT blocks ending the last len(dims) stages
    depths: tuple[int, ...] = (2, 4, 3)  # L, transformer layers of those MobileViT blocks
    expansion: int = 2  # MV2 hidden channels = expansion x input channels
    stem_channels: int = 16  # channels of the 3x3 stride-2 stem
    final_channels: int = 320  # channels of the 1x1 conv before pooling
    patch_size: int = 2  # p = ph = pw, the side of the unfold's patches
    num_heads: int = 4  # attention heads in every transformer layer
    mlp_ratio: float = 2.0  # transformer MLP hidden size = mlp_ratio x d
    in_channels: int = 3  # C of the input images
    num_classes: int = 1000  # outputs of the head

    def __post_init__(self):
        if not len(self.channels) == len(self.strides) == len(self.mv2_blocks):
            raise ValueError(
                f"channels, strides and mv2_blocks need one entry per stage, got {len(self.channels)}, "
                f"{len(self.strides)} and {len(self.mv2_blocks)}: {self.channels}, {self.strides}, {self.mv2_blocks}"
            )
        if len(self.dims) != len(self.depths):
            raise ValueError(
                f"dims and depths need one entry per MobileViT block, got {len(self.dims)} and "
                f"{len(self.depths)}: {self.dims}, {self.depths}"
            )
        if len(self.dims) > len(self.channels):
            raise ValueError(
                f"at most one MobileViT block per stage: {len(self.dims)} dims {self.dims} for "
                f"{len(self.channels)} stages"
            )


class ConvBNAct(nn.Module):
    """Conv2d (no bias, 'same' padding) -> BatchNorm2d -> SiLU (or no activation)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1, act: bool = True
    ):
        super().__init__()
        padding = kernel_size // 2
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.act = nn.SiLU(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class InvertedResidual(nn.Module):
    """MobileNetV2's inverted residual block ("MV2"): 1x1 conv widening the channels, 3x3 depthwise
    conv (carries the stride), 1x1 conv back down with no activation; residual when the shape stays."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int):
        super().__init__()
        hidden = in_channels * expansion
        self.expand = ConvBNAct(in_channels, hidden, 1)
        self.depthwise = ConvBNAct(hidden, hidden, 3, stride=stride, groups=hidden)
        self.project = ConvBNAct(hidden, out_channels, 1, act=False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class MobileViTBlock(nn.Module):
    """Local 3x3 conv, then global mixing: unfold into P sequences, L transformer layers, fold back;
    then fuse with the block input. Maps (B, n, H, W) to (B, n, H, W) for any H, W.

    Args:
        channels: n, channels in and out.
        dim: d, the transformer's token size.
        depth: L, transformer layers.
        patch_size: p = ph = pw, the side of the unfold's patches.
        num_heads: heads per transformer layer.
        mlp_ratio: MLP hidden size = mlp_ratio x d.
    """

    def __init__(
        self, channels: int, dim: int, depth: int, patch_size: int = 2, num_heads: int = 4, mlp_ratio: float = 2.0
    ):
        super().__init__()
        self.patch_size = to_pair(patch_size, "patch_size")
        self.conv_local = ConvBNAct(channels, channels, 3)
        self.conv_in = nn.Conv2d(channels, dim, 1, bias=False)  # a per-pixel Linear n -> d
        self.transformer = nn.Sequential(
            *(TransformerBlock(dim, num_heads, mlp_ratio, nn.SiLU) for _ in range(depth))
        )
        self.norm = nn.LayerNorm(dim)
        self.conv_out = ConvBNAct(dim, channels, 1)
        self.fusion = ConvBNAct(2 * channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        ph, pw = self.patch_size
        y = self.conv_in(self.conv_local(x))  # (B, d, H, W)
        # A size that is not a multiple of the patch is resized to the next multiple and back
        # (bilinear), as timm does; padding would add tokens that attention would have to mask.
        h, w = math.ceil(H / ph) * ph, math.ceil(W / pw) * pw
        if (h, w) != (H, W):
            y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
        tokens = mobilevit_unfold(y, self.patch_size)  # (B*P, N, d)
        tokens = self.norm(self.transformer(tokens))
        y = mobilevit_fold(tokens, self.patch_size, h, w)  # (B, d, h, w)
        if (h, w) != (H, W):
            y = F.interpolate(y, size=(H, W), mode="bilinear", align_corners=False)
        return self.fusion(torch.cat([x, self.conv_out(y)], dim=1))  # (B, n, H, W)


class MobileViT(nn.Module):
    """Stem, stages of MV2 blocks (the last ones ending in a MobileViT block), 1x1 conv, average
    pool, Linear. Takes images of any size; the map shrinks by 2 in the stem and in each stage
    whose stride is 2."""

    def __init__(self, config: MobileViTConfig):
        super().__init__()
        self.config = config
        self.stem = ConvBNAct(config.in_channels, config.stem_channels, 3, stride=2)
        first_vit = len(config.channels) - len(config.dims)  # index of the first stage with a MobileViT block
        stages, c_in = [], config.stem_channels
        for i, (c_out, stride, n) in enumerate(zip(config.channels, config.strides, config.mv2_blocks)):
            blocks = [InvertedResidual(c_in, c_out, stride, config.expansion)]
            blocks += [InvertedResidual(c_out, c_out, 1, config.expansion) for _ in range(n - 1)]
            if i >= first_vit:
                dim, depth = config.dims[i - first_vit], config.depths[i - first_vit]
                blocks.append(MobileViTBlock(c_out, dim, depth, config.patch_size, config.num_heads, config.mlp_ratio))
            stages.append(nn.Sequential(*blocks))
            c_in = c_out
        self.stages = nn.ModuleList(stages)
        self.final_conv = ConvBNAct(c_in, config.final_channels, 1)
        self.head = nn.Linear(config.final_channels, config.num_classes)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The multi-scale maps of a backbone: one per stage, each (B, C_i, H_i, W_i).

        Args:
            x: images, shape (B, C, H, W).

        Returns:
            the output of every stage (strides 2, 4, 8, 16, 32 for XXS/XS/S), the last one taken
            after the final 1x1 conv, as timm's features_only gives them. For XXS at 256x256:
            (B, 16, 128, 128), (B, 24, 64, 64), (B, 48, 32, 32), (B, 64, 16, 16), (B, 320, 8, 8).
        """
        return [m.contiguous() for m in self._stages(x)]  # back to the ordinary layout, once

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of images x (B, C, H, W): shape (B, num_classes)."""
        x = self._stages(x)[-1]  # (B, final_channels, H/32, W/32)
        return self.head(x.mean(dim=(2, 3)))

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """`feature_maps`, in channels-last memory: each pixel's C values side by side, the layout the
        CPU's convolution kernels run fastest on. Shapes still read (B, C, H, W), only strides differ."""
        check_images(x, self.config.in_channels, name="x")
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        maps = []
        for stage in self.stages:
            x = stage(x)
            maps.append(x)
        maps[-1] = self.final_conv(x)
        return maps


def mobilevit_xxs(num_classes: int = 1000) -> MobileViT:
    """MobileViT-XXS as timm builds it: 1,272,024 parameters with 1000 classes."""
    return MobileViT(MobileViTConfig(num_classes=num_classes))


def mobilevit_xs(num_classes: int = 1000) -> MobileViT:
    """MobileViT-XS as timm builds it: 2,317,848 parameters with 1000 classes."""
    config = MobileViTConfig(
        channels=(32, 48, 64, 80, 96), dims=(96, 120, 144), expansion=4, final_channels=384, num_classes=num_classes
    )
    return MobileViT(config)


def mobilevit_s(num_classes: int = 1000) -> MobileViT:
    """MobileViT-S as timm builds it: 5,578,632 parameters with 1000 classes."""
    config = MobileViTConfig(
        channels=(32, 64, 96, 128, 160), dims=(144, 192, 240), expansion=4, final_channels=640,
        num_classes=num_classes,
    )
    return MobileViT(config)


def mobilevit_tiny(num_classes: int = 10, in_channels: int = 1) -> MobileViT:
    """A MobileViT small enough to train on a laptop CPU in seconds, for the notebooks.

    Made for sklearn's digits upscaled to 32x32: four stages with strides 1, 2, 1, 2 take the map
    from 16x16 after the stem to 8x8 and 4x4, where two MobileViT blocks (d 48 and 64, one layer
    each) give sequences of 16 and 4 patches. XXS at 32x32 would shrink the map to 1x1, where the
    transformer has a single token to attend to. Grey images by default (in_channels=1). About 0.17 M
    parameters. Notebook 08 trains it on 1,149 of the 1,437 training digits (the other 288 choose its
    learning rate).
    """
    config = MobileViTConfig(
        channels=(16, 24, 32, 48), strides=(1, 2, 1, 2), mv2_blocks=(1, 1, 1, 1), dims=(48, 64), depths=(1, 1),
        final_channels=128, in_channels=in_channels, num_classes=num_classes,
    )
    return MobileViT(config)
