"""Swin Transformer v1 (Liu et al., 2021): attention inside M x M windows, windows shifted by M/2
in every second block so that neighbouring windows exchange information, and patch merging between
stages to build a pyramid of feature maps at strides 4, 8, 16 and 32. Same layout and numbers as
torchvision's swin_t / swin_s / swin_b, at any input size.

The window, mask and relative-position code is minivit's ground floor (minivit.windows,
minivit.relative_position, minivit.merging); this module only wires it into layers.

Glossary: B batch, H x W map (tokens), C channels, P patch size, M window size, N = M*M tokens per
window, nW windows per image, nh heads, hs = C / nh head size, s = M // 2 shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from minivit.attention import merge_heads, split_heads
from minivit.layers import Mlp
from minivit.merging import merge_patches
from minivit.relative_position import relative_position_index
from minivit.windows import shifted_window_mask, window_partition, window_reverse

TOKENS_PER_CHUNK = 4096  # blocks run on chunks of images of at most this many tokens, or one image (SwinStage)


@dataclass
class SwinConfig:
    in_channels: int = 3  # channels of the input images
    num_classes: int = 1000  # outputs of the head
    patch_size: int = 4  # P: the stem cuts P x P patches (a P x P convolution with stride P)
    dim: int = 96  # C of stage 1; every later stage doubles it
    depths: tuple[int, ...] = (2, 2, 6, 2)  # blocks per stage; blocks alternate W-MSA and SW-MSA
    num_heads: tuple[int, ...] = (3, 6, 12, 24)  # nh per stage; each stage's C must be a multiple of it
    window_size: int = 7  # M: attention runs inside M x M windows of tokens
    mlp_ratio: float = 4.0  # MLP hidden size = mlp_ratio * C
    norm_eps: float = 1e-5  # epsilon of every LayerNorm

    def __post_init__(self):
        if len(self.depths) != len(self.num_heads):
            raise ValueError(f"depths {self.depths} and num_heads {self.num_heads} need one entry per stage")
        for i, heads in enumerate(self.num_heads):
            if (self.dim * 2**i) % heads:
                raise ValueError(f"stage {i + 1} has C = {self.dim * 2**i}, not a multiple of {heads} heads")


class WindowAttention(nn.Module):
    """Multi-head self-attention inside M x M windows, with a learned relative position bias; with
    shift_size > 0 the windows are shifted (SW-MSA), else regular (W-MSA).

    Works on any (B, H, W, C) map, as torchvision does: the map is padded bottom/right to multiples of
    M (the window never shrinks, padded tokens are not masked), and the shift is dropped on an axis
    that holds a single window.
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
        self.register_buffer("relative_position_index", relative_position_index(window_size), persistent=False)
        self._mask_key: tuple | None = None  # what the cached attn_mask was built for
        self._mask: torch.Tensor | None = None
        self._shift_mask_key: tuple | None = None  # what the cached shift mask was built for
        self._shift_mask: torch.Tensor | None = None

    def relative_position_bias(self) -> torch.Tensor:
        """The bias each head adds to the logit of every (query, key) pair of a window: (nh, N, N)."""
        bias = self.relative_position_bias_table[self.relative_position_index]  # (N, N, nh)
        return bias.permute(2, 0, 1)  # (nh, N, N)

    def attn_mask(self, height: int, width: int, shift: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """Everything added to the attention logits of a padded (height, width) map, as one float mask:
        the relative position bias, plus the shifted-window mask (0 or -100) if shifted.

        Built once per map size, device and dtype, and reused. While the bias table is learning, the
        bias is gathered on every call so that it gets gradients; only the shift mask is reused.

        Returns:
            (nW, nh, N, N) when shifted, (1, nh, N, N) otherwise (the same for every window).
        """
        table = self.relative_position_bias_table
        learning = torch.is_grad_enabled() and table.requires_grad
        # the table's storage and version counter change with every optimizer step or load_state_dict
        key = (height, width, shift, like.device, like.dtype, table.data_ptr(), table._version)
        if learning or key != self._mask_key:
            bias = self.relative_position_bias().to(like.dtype)  # (nh, N, N)
            if shift == (0, 0):
                mask = bias.unsqueeze(0)  # (1, nh, N, N)
            else:
                mask = self.shift_mask(height, width, shift, like) + bias  # (nW, nh, N, N)
            if learning:
                return mask
            self._mask, self._mask_key = mask, key
        return self._mask

    def shift_mask(self, height: int, width: int, shift: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
        """minivit.windows.shifted_window_mask as (nW, 1, N, N), built once per size, device and dtype."""
        key = (height, width, shift, like.device, like.dtype)
        if key != self._shift_mask_key:
            mask = shifted_window_mask(height, width, self.window_size, shift)  # (nW, N, N)
            self._shift_mask, self._shift_mask_key = mask.to(like.device, like.dtype).unsqueeze(1), key
        return self._shift_mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, shape (B, H, W, C). Returns: shape (B, H, W, C)."""
        B, H, W, C = x.shape
        M, nh = self.window_size, self.num_heads
        # pad bottom and right up to multiples of the window
        pad_b, pad_r = -H % M, -W % M
        if pad_b or pad_r:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))  # (B, Hp, Wp, C)
        Hp, Wp = H + pad_b, W + pad_r
        # roll, unless an axis holds a single window (as torchvision does): there the shift and its mask
        # would only cut that one window into regions that cannot see each other
        shift = (self.shift_size if Hp > M else 0, self.shift_size if Wp > M else 0)
        if shift != (0, 0):
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        windows = window_partition(x, M).reshape(-1, M * M, C)  # (B*nW, N, C)
        # attend: every head of every window
        Bw, N, _ = windows.shape
        qkv = self.qkv(windows).chunk(3, dim=-1)  # 3 x (B*nW, N, C)
        q, k, v = (split_heads(t, nh).contiguous() for t in qkv)  # 3 x (B*nW, nh, N, hs), contiguous for the matmuls
        mask = self.attn_mask(Hp, Wp, shift, x)  # (nW or 1, nh, N, N)
        # softmax(q k^T / sqrt(hs) + bias + shift mask) v, written out as minivit.attention does
        scores = (q * (C // nh) ** -0.5) @ k.transpose(-2, -1)  # (B*nW, nh, N, N)
        scores = scores.view(-1, mask.shape[0], nh, N, N) + mask  # one float mask, the same for every image
        out = scores.view(Bw, nh, N, N).softmax(dim=-1) @ v  # (B*nW, nh, N, hs)
        out = self.proj(merge_heads(out))  # (B*nW, N, C)
        # reverse, roll back, crop
        x = window_reverse(out.view(-1, M, M, C), M, Hp, Wp)  # (B, Hp, Wp, C)
        if shift != (0, 0):
            x = torch.roll(x, shifts=shift, dims=(1, 2))
        return x[:, :H, :W]  # (B, H, W, C)


class SwinBlock(nn.Module):
    """Pre-norm transformer block with window attention: x + attn(norm1(x)), then x + mlp(norm2(x))."""

    def __init__(self, dim: int, num_heads: int, window_size: int, shift_size: int, mlp_ratio: float, eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = WindowAttention(dim, num_heads, window_size, shift_size)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, shape (B, H, W, C). Returns: shape (B, H, W, C)."""
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


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
    """Cut the image into P x P patches and embed each as a C-vector: a P x P convolution with stride P
    (the same as patchify + one shared Linear), then a LayerNorm. The output is channels-last."""

    def __init__(self, in_channels: int, dim: int, patch_size: int, eps: float):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)
        self.norm = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, images (B, in_channels, H, W). Returns: tokens (B, H/P, W/P, C)."""
        return self.norm(self.proj(x).permute(0, 2, 3, 1))  # (B, H/P, W/P, C)


class SwinStage(nn.Module):
    """One stage of the pyramid: PatchMerging (every stage but the first), then `depth` blocks whose
    windows are regular in even blocks and shifted by M // 2 in odd ones.

    No layer of Swin mixes images, so a stage runs on a few images at a time (at most
    TOKENS_PER_CHUNK tokens, or one image): the same numbers, but each chunk's activations, the
    4C-wide MLP ones included, stay in the CPU cache instead of streaming through fresh memory. On a
    2-core CPU this makes the forward pass of eight 224 x 224 images about 15% faster than one pass
    over the whole batch; later stages, whose maps are small, take the whole batch at once.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, config: SwinConfig, merge: bool):
        super().__init__()
        self.merge = PatchMerging(dim // 2, config.norm_eps) if merge else nn.Identity()
        M = config.window_size
        self.blocks = nn.Sequential(*(
            SwinBlock(dim, num_heads, M, 0 if i % 2 == 0 else M // 2, config.mlp_ratio, config.norm_eps)
            for i in range(depth)
        ))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x, shape (B, H, W, C/2), or (B, H, W, C) in the first stage. Returns: shape
        (B, H', W', C), with H' = ceil(H/2) and W' = ceil(W/2) after a merge."""
        tokens = x.shape[1] * x.shape[2] // (4 if isinstance(self.merge, PatchMerging) else 1)  # per image
        images = max(1, TOKENS_PER_CHUNK // tokens)  # per chunk
        chunks = [self.blocks(self.merge(chunk)) for chunk in x.split(images)]
        return chunks[0] if len(chunks) == 1 else torch.cat(chunks)  # (B, H', W', C)


class SwinTransformer(nn.Module):
    """Swin classifier: patch embedding, stages of Swin blocks with patch merging between them, a final
    LayerNorm, global average pooling and a Linear head. Takes images of any size with at least one
    patch per stage."""

    def __init__(self, config: SwinConfig):
        super().__init__()
        self.config = config
        C = config.dim
        self.patch_embed = PatchEmbed(config.in_channels, C, config.patch_size, config.norm_eps)
        self.stages = nn.ModuleList(
            SwinStage(C * 2**i, depth, heads, config, merge=i > 0)
            for i, (depth, heads) in enumerate(zip(config.depths, config.num_heads))
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
        """Args: images, shape (B, in_channels, H, W). Returns: class scores, shape (B, num_classes)."""
        x = self.patch_embed(self._check_images(images))  # (B, H/P, W/P, C)
        for stage in self.stages:
            x = stage(x)  # (B, H_i, W_i, C_i)
        x = self.norm(x).mean(dim=(1, 2))  # (B, C_last): global average pool
        return self.head(x)

    def feature_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """The output of every stage, for use as a backbone (before the final norm, as torchvision's
        `features` gives them).

        Args:
            images: shape (B, in_channels, H, W).

        Returns:
            one map per stage, shape (B, C_i, H_i, W_i), at strides P, 2P, 4P, 8P (4, 8, 16, 32 for
            swin_t/s/b): H_1 = floor(H / P), and every later stage halves it, rounding up. Channels
            C, 2C, 4C, 8C.
        """
        x = self.patch_embed(self._check_images(images))
        maps = []
        for stage in self.stages:
            x = stage(x)  # (B, H_i, W_i, C_i)
            maps.append(x.permute(0, 3, 1, 2).contiguous())  # (B, C_i, H_i, W_i)
        return maps

    def _check_images(self, images: torch.Tensor) -> torch.Tensor:
        c = self.config.in_channels
        smallest = self.config.patch_size * 2 ** (len(self.stages) - 1)  # one patch of its own per stage
        if (
            not isinstance(images, torch.Tensor)
            or images.dim() != 4
            or images.shape[1] != c
            or min(images.shape[2:]) < smallest
        ):
            got = f"shape {tuple(images.shape)}" if isinstance(images, torch.Tensor) else type(images).__name__
            raise ValueError(
                f"images must have shape (B, C, H, W) = (B, {c}, H, W) with H, W >= {smallest}, got {got}"
            )
        return images


def swin_t(num_classes: int = 1000) -> SwinTransformer:
    """Swin-T: C 96, depths (2, 2, 6, 2), heads (3, 6, 12, 24), M 7. 28,288,354 parameters with 1000
    classes; 4.49 G multiply-adds at 224 x 224."""
    return SwinTransformer(SwinConfig(num_classes=num_classes))


def swin_s(num_classes: int = 1000) -> SwinTransformer:
    """Swin-S: C 96, depths (2, 2, 18, 2), heads (3, 6, 12, 24), M 7. 49,606,258 parameters."""
    return SwinTransformer(SwinConfig(num_classes=num_classes, depths=(2, 2, 18, 2)))


def swin_b(num_classes: int = 1000) -> SwinTransformer:
    """Swin-B: C 128, depths (2, 2, 18, 2), heads (4, 8, 16, 32), M 7. 87,768,224 parameters."""
    config = SwinConfig(num_classes=num_classes, dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32))
    return SwinTransformer(config)


def swin_tiny(num_classes: int = 10, in_channels: int = 1, patch_size: int = 2) -> SwinTransformer:
    """A Swin small enough to train on a laptop CPU in about a minute, for the notebooks.

    Made for sklearn's 8x8 digits upscaled to 16 x 16 or 32 x 32 (grey by default; in_channels=3 for
    colour): windows of 4 and three stages, since a fourth would be smaller than one window. C 32,
    depths (2, 2, 2), heads (2, 4, 8): 566,790 parameters with patches of 2 (feature maps at strides
    2, 4 and 8 with 32, 64 and 128 channels). Course notebook 08 trains it on the digits at 32 x 32,
    like the other models, with patch_size=4 (567,174 parameters): 8 x 8 tokens, each one pixel of the
    original digit, then 4 x 4 and 2 x 2 (a 2 x 2 map is padded to one 4 x 4 window, as
    torchvision pads).
    """
    config = SwinConfig(
        in_channels=in_channels, num_classes=num_classes, patch_size=patch_size, dim=32,
        depths=(2, 2, 2), num_heads=(2, 4, 8), window_size=4,
    )
    return SwinTransformer(config)
