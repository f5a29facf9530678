"""Small models for the lessons on conv vs attention (notebook 01), training (08) and weakly
supervised segmentation (09): small enough to train in seconds on a CPU.

- `PixelSelfAttention`: self-attention with every pixel a token; maps (B, C, H, W) to (B, C', H, W)
  like a conv layer does, but each output pixel may look at every input pixel.
- `SmallCNN`: conv-BN-ReLU stages, global average pooling, one Linear; a digit classifier, and
  the CNN that fails the two-marks task when built without downsampling; it solves it when given
  each pixel's coordinates as two more input channels (`coordinates=True`), or a receptive field
  that holds both marks (`kernel_size=7`: 19 x 19), with circular padding so that no border tells
  it where it is.
- `AttentionClassifier`: a patch embedding, a position embedding and one transformer block; it
  solves the two-marks task. With `reach`, its attention is local: each patch attends only to the
  patches around it (a control for what global attention brings).

Their receptive fields are computed in minivit.ops.receptive_field, their class activation maps in
minivit.segmentation.

Glossary: B batch, C channels, H x W image, h x w feature map, p the side of a patch in pixels,
N tokens, D token size, nh heads, K classes.
"""

from __future__ import annotations

import torch
from torch import nn

from minivit.models.layers import TransformerBlock
from minivit.ops._checks import check_size, check_tensor
from minivit.ops.attention import attention, merge_heads
from minivit.ops.receptive_field import receptive_field_of

__all__ = ["AddCoordinates", "AttentionClassifier", "PixelSelfAttention", "SmallCNN"]


class PixelSelfAttention(nn.Module):
    """Single-head self-attention over the pixels of an image: (B, C_in, H, W) -> (B, C_out, H, W).

    Each pixel is a token of C_in numbers, so the tokens are (B, H*W, C_in). Flattening the map into
    (B, C*H*W) instead would make one long vector per image, not a sequence: there would be nothing
    to attend between (a mistake in a widely copied snippet).

    Like a 3x3 conv it computes each output pixel from input pixels, with weights shared by all
    positions; unlike the conv it looks at every pixel, with weights that depend on the pixels.

    Args:
        in_channels: C_in.
        out_channels: C_out, the size of the values and so of each output pixel.
        dim: size of the queries and keys; out_channels when None.
    """

    def __init__(self, in_channels: int, out_channels: int, dim: int | None = None):
        super().__init__()
        dim = out_channels if dim is None else dim
        self.query = nn.Linear(in_channels, dim)
        self.key = nn.Linear(in_channels, dim)
        self.value = nn.Linear(in_channels, out_channels)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Pixels as tokens: (B, C, H, W) -> (B, H*W, C), in row-major pixel order."""
        check_tensor(x, "x", "(B, C, H, W)")
        if x.shape[1] != self.query.in_features:
            raise ValueError(
                f"x must have {self.query.in_features} channels, shape (B, C, H, W), got shape {tuple(x.shape)}"
            )
        return x.flatten(2).transpose(1, 2)  # (B, H*W, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tokens(x)
        B, _, H, W = x.shape
        out, _ = attention(self.query(t), self.key(t), self.value(t))  # (B, H*W, C_out)
        return out.transpose(1, 2).reshape(B, -1, H, W)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights of images x (B, C, H, W): (B, H*W, H*W), row i = how pixel i looks at all pixels."""
        t = self.tokens(x)
        return attention(self.query(t), self.key(t), self.value(t))[1]


class AddCoordinates(nn.Module):
    """Two channels appended to an image: each pixel's row and column, scaled to [-1, 1] (CoordConv,
    Liu et al. 2018): (B, C, H, W) -> (B, C + 2, H, W). A convolution after it sees where it is."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, _, H, W = x.shape
        rows = torch.linspace(-1, 1, H, dtype=x.dtype, device=x.device).view(1, 1, H, 1).expand(B, 1, H, W)
        cols = torch.linspace(-1, 1, W, dtype=x.dtype, device=x.device).view(1, 1, 1, W).expand(B, 1, H, W)
        return torch.cat([x, rows, cols], dim=1)


class SmallCNN(nn.Module):
    """Stages of conv (3x3 by default) -> BatchNorm -> ReLU (each followed by 2x2 max pooling when
    downsample), global average pooling, one Linear.

    `features` gives the last feature map (B, C, h, w) and `head` the Linear, so that a class
    activation map can be read off them (minivit.segmentation.class_activation_map).

    Args:
        in_channels: C of the input images (1 for digits, 3 for RGB).
        num_classes: K.
        widths: output channels of each stage.
        downsample: halve the map after each stage. Without it the map keeps its size and the
            receptive field stays small: 1 + (kernel_size - 1) * len(widths) pixels.
        kernel_size: k, odd; each conv pads by (k - 1) / 2, so that a stage keeps the map's size.
        padding_mode: "zeros", or "circular": the map wraps around (its left neighbour of column 0 is
            the last column), so no feature ever sees a border, and a stride-1 CNN without downsampling
            gives the same output for an image rolled by any number of pixels (torch.roll).
        coordinates: first append each pixel's row and column as two channels (`AddCoordinates`), so
            that the features know where they are; the receptive field is unchanged.
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        widths: tuple[int, ...] = (16, 32, 64),
        downsample: bool = True,
        kernel_size: int = 3,
        padding_mode: str = "zeros",
        coordinates: bool = False,
    ):
        super().__init__()
        check_size(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if padding_mode not in ("zeros", "circular"):
            raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {padding_mode!r}")
        layers: list[nn.Module] = [AddCoordinates()] if coordinates else []
        for c_in, c_out in zip((in_channels + 2 * coordinates, *widths), widths):
            conv = nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, padding_mode=padding_mode, bias=False)
            layers += [conv, nn.BatchNorm2d(c_out), nn.ReLU()]
            if downsample:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], num_classes)

    @property
    def receptive_field(self) -> int:
        """Side of the input window that one feature of the last map sees, in pixels."""
        return receptive_field_of(self.features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))  # (B, C, h, w) -> (B, C) -> (B, K)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The last feature map of images x (B, C_in, H, W), as a list of one: [(B, C, h, w)], the same
        method the transformers have, so that the CNN can be a backbone or give CAMs the same way."""
        return [self.features(x)]


class AttentionClassifier(nn.Module):
    """A one-block vision transformer: patch embedding, position embedding, one transformer block,
    LayerNorm, average over tokens, Linear.

    Args:
        in_channels: C of the input images.
        num_classes: K.
        image_size: H = W; the position embedding has one entry per patch, so the size is fixed.
        patch_size: p; each p x p patch is one token (p = 1: every pixel is a token).
        dim: D, the token size.
        num_heads: heads of the attention.
        position_embedding: without it, attention treats the tokens as a set: only what lies inside
            each patch hints at where the patch is.
        reach: None: every patch attends to every patch. An int r: each patch attends only to the
            patches at most r rows and r columns of patches away, a (2r + 1) x (2r + 1) neighbourhood,
            through a boolean mask passed to `attention` (local attention, like a kernel).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_classes: int = 2,
        image_size: int = 24,
        patch_size: int = 3,
        dim: int = 32,
        num_heads: int = 2,
        position_embedding: bool = True,
        reach: int | None = None,
    ):
        super().__init__()
        check_size(image_size, "image_size")
        check_size(patch_size, "patch_size")
        if image_size % patch_size != 0:
            raise ValueError(f"image_size ({image_size}) must be a multiple of patch_size ({patch_size})")
        num_tokens = (image_size // patch_size) ** 2
        self.image_size = image_size
        self.reach = reach
        if reach is not None:
            check_size(reach, "reach", minimum=0)
            side = image_size // patch_size
            row, col = torch.arange(num_tokens) // side, torch.arange(num_tokens) % side  # each token's patch
            near = ((row[:, None] - row[None]).abs() <= reach) & ((col[:, None] - col[None]).abs() <= reach)
            self.register_buffer("attn_mask", near, persistent=False)  # (N, N): True where a query may attend
        self.patch_embed = nn.Conv2d(in_channels, dim, patch_size, stride=patch_size)  # = patchify + Linear
        self.pos_embed = nn.Parameter(torch.randn(1, num_tokens, dim) * 0.02) if position_embedding else None
        self.block = TransformerBlock(dim, num_heads, mlp_ratio=2.0)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded patches of images x (B, C, H, W): (B, N, D), N = (H/p)(W/p)."""
        check_tensor(x, "x", "(B, C, H, W)")
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"x must have shape (B, C, {self.image_size}, {self.image_size}) to match the position embedding, "
                f"got shape {tuple(x.shape)}"
            )
        t = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, N, D)
        return t if self.pos_embed is None else t + self.pos_embed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.tokens(x)  # (B, N, D)
        if self.reach is None:
            t = self.block(t)
        else:  # the block's two residual halves, with the mask in the attention
            block = self.block
            out, _ = attention(*block.attn.heads(block.norm1(t)), mask=self.attn_mask)  # (B, nh, N, hs)
            t = t + block.attn.proj(merge_heads(out))
            t = t + block.mlp(block.norm2(t))
        return self.head(self.norm(t).mean(dim=1))  # (B, K)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The block's attention weights for images x: (B, nh, N, N), each row summing to 1 (zero
        outside the neighbourhood when `reach` is set)."""
        t = self.block.norm1(self.tokens(x))
        if self.reach is None:
            return self.block.attn.weights(t)
        return attention(*self.block.attn.heads(t), mask=self.attn_mask)[1]
