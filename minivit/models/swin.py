"""Swin Transformer v1 (Liu et al., 2021): attention inside M x M windows, windows shifted by M/2
in every second block so that neighbouring windows exchange information, and patch merging between
stages to build a pyramid of feature maps at strides 4, 8, 16 and 32. Same layout and numbers as
torchvision's swin_t / swin_s / swin_b, at any input size.

The window attention itself is minivit.ops.window_attention.shifted_window_attention, one function in
the paper's order; this module holds its weights and wires the layers together.

Glossary: B batch, H x W map (tokens), C channels, p patch side in pixels, M window size,
N = M*M tokens per window, nh heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from minivit.models.layers import DropPath, Mlp
from minivit.ops._checks import check_images
from minivit.ops.merging import merge_patches
from minivit.ops.relative_position import relative_position_bias
from minivit.ops.window_attention import shifted_window_attention


@dataclass
class SwinConfig:
    in_channels: int = 3  # channels of the input images
    num_classes: int = 1000  # outputs of the head
    patch_size: int = 4  # p: the stem cuts p x p patches (a p x p convolution with stride p)
    dim: int = 96  # C of stage 1; every later stage doubles it
    depths: tuple[int, ...] = (2, 2, 6, 2)  # blocks per stage; blocks alternate W-MSA and SW-MSA
    num_heads: tuple[int, ...] = (3, 6, 12, 24)  # nh per stage; each stage's C must be a multiple of it
    window_size: int = 7  # M: attention runs inside M x M windows of tokens
    mlp_ratio: float = 4.0  # MLP hidden size = mlp_ratio * C
    norm_eps: float = 1e-5  # epsilon of every LayerNorm
    drop_path_rate: float = 0.0  # stochastic depth of the last block; it grows linearly from 0 in the first

    def __post_init__(self):
        if len(self.depths) != len(self.num_heads):
            raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} need one entry per stage")
        for i, heads in enumerate(self.num_heads):
            if (self.dim * 2**i) % heads:
                raise ValueError(f"stage {i + 1} has C = {self.dim * 2**i}, not a multiple of {heads} heads")
        if not 0.0 <= self.drop_path_rate < 1.0:
            raise ValueError(f"drop_path_rate must be a probability in [0, 1), got {self.drop_path_rate!r}")


class WindowAttention(nn.Module):
    """Multi-head self-attention inside M x M windows, with a learned relative position bias: regular
    windows (W-MSA) when shift_size is 0, windows shifted by shift_size (SW-MSA) otherwise. The
    computation is minivit.ops.window_attention.shifted_window_attention; this layer holds the weights.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int, shift_size: int = 0):
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.shift_size = shift_size
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        # one learned bias per head for each of the (2M-1)^2 relative positions (dy, dx) of two tokens
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, shape (B, H, W, C). Returns: shape (B, H, W, C)."""
        M = self.window_size
        bias = relative_position_bias(self.relative_position_bias_table, M)  # (nh, N, N)
        qkv, proj = self.qkv, self.proj
        return shifted_window_attention(
            x, qkv.weight, qkv.bias, proj.weight, proj.bias, bias, M, self.shift_size, self.num_heads
        )


class SwinBlock(nn.Module):
    """Pre-norm transformer block with window attention: x + attn(norm1(x)), then x + mlp(norm2(x)).
    In training, stochastic depth drops each residual branch of a sample with probability drop_path."""

    def __init__(
        self, dim: int, num_heads: int, window_size: int, shift_size: int, mlp_ratio: float, eps: float,
        drop_path: float = 0.0,
    ):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = WindowAttention(dim, num_heads, window_size, shift_size)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, shape (B, H, W, C). Returns: shape (B, H, W, C)."""
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """Halve the resolution, double the channels: each 2 x 2 group of tokens is concatenated (4C),
    normalised and projected to 2C. An odd height or width is first padded by one row or column of
    zeros at the bottom or right, as torchvision does."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim, eps=eps)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, shape (B, H, W, C). Returns: shape (B, ceil(H/2), ceil(W/2), 2C)."""
        H, W = x.shape[1:3]
        if H % 2 or W % 2:
            x = F.pad(x, (0, 0, 0, W % 2, 0, H % 2))  # (B, H + H%2, W + W%2, C)
        return self.reduction(self.norm(merge_patches(x)))  # (B, H/2, W/2, 2C)


class PatchEmbed(nn.Module):
    """Cut the image into p x p patches and embed each as a C-vector: a p x p convolution with stride p
    (the same as patchify + one shared Linear), then a LayerNorm. The output is channels-last."""

    def __init__(self, in_channels: int, dim: int, patch_size: int, eps: float):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, images (B, in_channels, H, W). Returns: tokens (B, H/p, W/p, C)."""
        return self.norm(self.proj(x).permute(0, 2, 3, 1))  # (B, H/p, W/p, C)


class SwinStage(nn.Module):
    """One stage of the pyramid: PatchMerging (every stage but the first), then `depth` blocks whose
    windows are regular in even blocks and shifted by M // 2 in odd ones."""

    def __init__(self, dim: int, depth: int, num_heads: int, config: SwinConfig, merge: bool, drop_paths: list[float]):
        super().__init__()
        self.merge = PatchMerging(dim // 2, config.norm_eps) if merge else nn.Identity()
        M = config.window_size
        self.blocks = nn.Sequential(*(
            SwinBlock(dim, num_heads, M, 0 if i % 2 == 0 else M // 2, config.mlp_ratio, config.norm_eps, drop_paths[i])
            for i in range(depth)
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, shape (B, H, W, C/2), or (B, H, W, C) in the first stage. Returns: shape
        (B, H', W', C), with H' = ceil(H/2) and W' = ceil(W/2) after a merge."""
        return self.blocks(self.merge(x))


class SwinTransformer(nn.Module):
    """Swin classifier: patch embedding, stages of Swin blocks with patch merging between them, a final
    LayerNorm, global average pooling and a Linear head. Takes images of any size with at least one
    patch per stage.

    Equal to torchvision's SwinTransformer with the same weights in eval mode, and in training too
    given the same random seed (stochastic depth draws the same numbers in the same order). Dropout,
    0 by default in torchvision and timm, is not built.
    """

    def __init__(self, config: SwinConfig):
        super().__init__()
        self.config = config
        C = config.dim
        self.patch_embed = PatchEmbed(config.in_channels, C, config.patch_size, config.norm_eps)
        # stochastic depth grows linearly with the block's index over all stages, as in torchvision
        blocks = sum(config.depths)
        rates = [config.drop_path_rate * i / max(1, blocks - 1) for i in range(blocks)]
        firsts = [sum(config.depths[:i]) for i in range(len(config.depths))]  # each stage's first block
        self.stages = nn.ModuleList(
            SwinStage(C * 2**i, depth, heads, config, merge=i > 0, drop_paths=rates[first : first + depth])
            for i, (depth, heads, first) in enumerate(zip(config.depths, config.num_heads, firsts))
        )
        self.num_features = C * 2 ** (len(config.depths) - 1)
        self.norm = nn.LayerNorm(self.num_features, eps=config.norm_eps)
        self.head = nn.Linear(self.num_features, config.num_classes)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, images of shape (B, in_channels, H, W). Returns: class scores, shape (B, num_classes)."""
        x = self.stage_outputs(x)[-1]  # (B, H_last, W_last, C_last)
        x = self.norm(x).mean(dim=(1, 2))  # (B, C_last): global average pool
        return self.head(x)

    def stage_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every stage, channels last as Swin computes them.

        Args:
            x: images, shape (B, in_channels, H, W), H and W at least p * 2^(stages - 1).

        Returns:
            one map per stage, shape (B, H_i, W_i, C_i), at strides p, 2p, 4p, 8p (4, 8, 16, 32 for
            swin_t/s/b): H_1 = floor(H / p), and every later stage halves it, rounding up. Channels
            C, 2C, 4C, 8C.
        """
        smallest = self.config.patch_size * 2 ** (len(self.stages) - 1)  # one patch of its own per stage
        x = self.patch_embed(check_images(x, self.config.in_channels, min_size=smallest, name="x"))  # (B, H/p, W/p, C)
        outputs = []
        for stage in self.stages:
            x = stage(x)  # (B, H_i, W_i, C_i)
            outputs.append(x)
        return outputs

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every stage as (B, C_i, H_i, W_i) maps, for use as a backbone (before the final
        norm, as torchvision's `features` gives them); see stage_outputs for the sizes."""
        return [out.permute(0, 3, 1, 2).contiguous() for out in self.stage_outputs(x)]


def swin_t(num_classes: int = 1000, drop_path_rate: float = 0.2) -> SwinTransformer:
    """Swin-T: C 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), M 7. 28,288,354 parameters with 1000
    classes; 4.49 G multiply-adds at 224 x 224. Stochastic depth 0.2, as torchvision's swin_t."""
    return SwinTransformer(SwinConfig(num_classes=num_classes, drop_path_rate=drop_path_rate))


def swin_s(num_classes: int = 1000, drop_path_rate: float = 0.3) -> SwinTransformer:
    """Swin-S: C 96, depths (2, 2, 18, 2), heads (3, 6, 12, 24), M 7. 49,606,258 parameters.
    Stochastic depth 0.3, as torchvision's swin_s."""
    return SwinTransformer(SwinConfig(num_classes=num_classes, depths=(2, 2, 18, 2), drop_path_rate=drop_path_rate))


def swin_b(num_classes: int = 1000, drop_path_rate: float = 0.5) -> SwinTransformer:
    """Swin-B: C 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32), M 7. 87,768,224 parameters.
    Stochastic depth 0.5, as torchvision's swin_b."""
    config = SwinConfig(
        num_classes=num_classes, dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32), drop_path_rate=drop_path_rate
    )
    return SwinTransformer(config)


def swin_tiny(num_classes: int = 10, in_channels: int = 1, patch_size: int = 2) -> SwinTransformer:
    """A Swin small enough to train on a laptop CPU in about a minute, for the notebooks.

    Made for sklearn's 8x8 digits upscaled to 16 x 16 or 32 x 32 (grey by default; in_channels=3 for
    colour): windows of 4 and three stages, since a fourth would be smaller than one window. C 32,
    depths (2, 2, 2), heads (2, 4, 8): 566,790 parameters with patches of 2 (feature maps at strides
    2, 4 and 8 with 32, 64 and 128 channels). No stochastic depth. Course notebook 08 trains it on the
    digits at 32 x 32, like the other models, with patch_size=4 (567,174 parameters): 8 x 8 tokens,
    each one pixel of the original digit, then 4 x 4 and 2 x 2 (a 2 x 2 map is padded to one 4 x 4
    window, as torchvision pads).
    """
    config = SwinConfig(
        in_channels=in_channels, num_classes=num_classes, patch_size=patch_size, dim=32,
        depths=(2, 2, 2), num_heads=(2, 4, 8), window_size=4,
    )
    return SwinTransformer(config)
