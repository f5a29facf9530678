"""Vision Transformer (Dosovitskiy et al., 2020): cut the image into patches, embed each patch as a
token, prepend a class token, add learned position embeddings, run a transformer encoder and
classify from the class token. Same layout and numbers as torchvision's VisionTransformer.

No dropout: torchvision's ViT has dropout and attention_dropout arguments, 0 by default (and in
vit_b_16). With those defaults the two models compute the same in training and in eval mode; with a
nonzero rate torchvision's would differ in training only.

Glossary: B batch, C channels, H x W image, p the side of a patch in pixels, N = (H/p)(W/p) patches,
D token size, nh heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from minivit.models.layers import TransformerBlock
from minivit.ops._checks import check_images, to_pair


@dataclass
class ViTConfig:
    image_size: int | tuple[int, int] = 224  # H, W the position embedding is built for (int: square)
    patch_size: int = 16  # p: the image is cut into p x p patches
    in_channels: int = 3  # C of the input images
    num_classes: int = 1000  # outputs of the head
    dim: int = 768  # D, the token size (torchvision's hidden_dim)
    depth: int = 12  # number of transformer blocks
    num_heads: int = 12  # nh, heads per block; D must be a multiple of it
    mlp_ratio: float = 4.0  # each block's MLP has int(mlp_ratio * D) hidden units (3072 in ViT-B)


class VisionTransformer(nn.Module):
    """ViT classifier; the image size is fixed by the position embedding it was built for."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        H, W = to_pair(config.image_size, "image_size")
        p = config.patch_size
        if H % p or W % p:
            raise ValueError(f"image_size ({H}, {W}) must be a multiple of patch_size ({p}) on both axes")
        self.config = config
        self.image_size = (H, W)
        num_patches = (H // p) * (W // p)
        # A p x p convolution with stride p is patchify followed by one Linear, shared by all patches.
        self.patch_embed = nn.Conv2d(config.in_channels, config.dim, kernel_size=p, stride=p)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, config.dim))
        self.pos_embed = nn.Parameter(torch.randn(1, num_patches + 1, config.dim) * 0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(config.dim, config.num_heads, config.mlp_ratio, nn.GELU, eps=1e-6)
            for _ in range(config.depth)
        )
        self.norm = nn.LayerNorm(config.dim, eps=1e-6)
        self.head = nn.Linear(config.dim, config.num_classes)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Images (B, C, H, W) to the encoder's input: class token + patch tokens + positions, (B, 1+N, D)."""
        check_images(x, self.config.in_channels, size=self.image_size, name="x")
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, N, D)
        cls = self.cls_token.expand(x.shape[0], -1, -1)  # (B, 1, D)
        return torch.cat([cls, x], dim=1) + self.pos_embed  # (B, 1+N, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of images x (B, C, H, W): shape (B, num_classes)."""
        x = self.tokens(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))  # (B, num_classes), from the class token

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Attention weights of every block, computed with minivit.attention written out.

        Args:
            x: images, shape (B, C, H, W).

        Returns:
            one tensor per block, shape (B, nh, 1+N, 1+N); row i says how much token i attends to
            each token; index 0 is the class token, then the patches in row-major order.
        """
        x = self.tokens(x)
        maps = []
        for block in self.blocks:
            maps.append(block.attn.weights(block.norm1(x)))
            x = block(x)
        return maps


def vit_b_16(num_classes: int = 1000) -> VisionTransformer:
    """ViT-B/16 at 224x224 with torchvision's layout: 12 blocks, D 768, 12 heads, MLP 3072.
    86,567,656 parameters with 1000 classes."""
    return VisionTransformer(ViTConfig(num_classes=num_classes))


def vit_tiny(num_classes: int = 10, in_channels: int = 1, image_size: int = 32) -> VisionTransformer:
    """A ViT small enough to train on a laptop CPU in seconds, for the notebooks.

    Made for sklearn's 8x8 digits upscaled to 32x32 (grey, so in_channels=1 by default): patches of 8
    give a 4x4 grid of 16 tokens, each covering 2x2 pixels of the original digit, plus the class
    token. 4 blocks of D 64 with 4 heads of 16 and an MLP of 2D: about 0.14 M parameters. Notebook 08
    trains it on 1,149 of the 1,437 training digits (the other 288 choose its learning rate). Patches of 4
    would give finer attention maps but four times the tokens.
    """
    config = ViTConfig(
        image_size=image_size, patch_size=8, in_channels=in_channels, num_classes=num_classes,
        dim=64, depth=4, num_heads=4, mlp_ratio=2.0,
    )
    return VisionTransformer(config)
