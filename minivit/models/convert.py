"""Weights from torchvision and timm into minivit's models.

    from_torchvision(torchvision.models.swin_t())  -> minivit Swin with the same weights
    from_timm(timm.create_model("mobilevit_xxs"))  -> minivit MobileViT with the same weights
    timm_state_dict(swin)                          -> a minivit Swin's weights under timm's names

Each converter reads the reference model's configuration from the model itself, builds the matching
minivit model and copies every tensor across by name; nothing is downloaded.
"""

from __future__ import annotations

import re
from typing import TypeVar

import torch
from torch import nn

from minivit.models.mobilevit import MobileViT, MobileViTConfig
from minivit.models.swin import SwinConfig, SwinTransformer
from minivit.models.vit import VisionTransformer, ViTConfig
from minivit.ops.relative_position import relative_position_index


def from_torchvision(model: nn.Module) -> SwinTransformer | VisionTransformer:
    """A minivit model with the weights of torchvision's swin_t/s/b or vit_b_16 (any config of those classes)."""
    import torchvision.models

    if isinstance(model, torchvision.models.SwinTransformer):
        return _swin_from_torchvision(model)
    if isinstance(model, torchvision.models.VisionTransformer):
        return _vit_from_torchvision(model)
    raise TypeError(
        f"from_torchvision knows torchvision's SwinTransformer (swin_t, swin_s, swin_b) and "
        f"VisionTransformer (vit_b_16), got {type(model).__module__}.{type(model).__name__}"
    )


def from_timm(model: nn.Module) -> SwinTransformer | MobileViT:
    """A minivit model with the weights of timm's mobilevit_xxs/xs/s or swin_{tiny,small,base}_patch4_window7_224."""
    import timm.models.swin_transformer
    from timm.models.byobnet import ByobNet
    from timm.models.mobilevit import MobileVitBlock

    if isinstance(model, timm.models.swin_transformer.SwinTransformer):
        return _swin_from_timm(model)
    if isinstance(model, ByobNet) and any(isinstance(m, MobileVitBlock) for m in model.modules()):
        return _mobilevit_from_timm(model)
    raise TypeError(
        f"from_timm knows timm's SwinTransformer (swin_tiny/small/base_patch4_window7_224) and MobileViT "
        f"(mobilevit_xxs, mobilevit_xs, mobilevit_s), got {type(model).__module__}.{type(model).__name__}"
    )


# --- Swin -------------------------------------------------------------------------------------------


def _swin_from_torchvision(model: nn.Module) -> SwinTransformer:
    from torchvision.models.swin_transformer import PatchMerging, ShiftedWindowAttention, SwinTransformerBlock

    stem, stages, merges = model.features[0], list(model.features[1::2]), list(model.features[2::2])
    blocks = [block for stage in stages for block in stage]
    M = blocks[0].attn.window_size[0]
    if (
        not all(type(b) is SwinTransformerBlock and type(b.attn) is ShiftedWindowAttention for b in blocks)
        or not all(type(m) is PatchMerging for m in merges)
        or any(b.attn.window_size != [M, M] for b in blocks)
        or any(b.attn.shift_size != [0, 0] if j % 2 == 0 else b.attn.shift_size != [M // 2, M // 2]
               for stage in stages for j, b in enumerate(stage))
        or stem[0].kernel_size[0] != stem[0].kernel_size[1]
    ):
        raise ValueError(
            "from_torchvision converts Swin v1 (swin_t, swin_s, swin_b): square patches, one square window M "
            "for all blocks, shifts alternating 0 and M // 2; this model is Swin v2 or has another layout"
        )
    config = SwinConfig(
        in_channels=stem[0].in_channels,
        num_classes=model.head.out_features,
        patch_size=stem[0].kernel_size[0],
        dim=stem[0].out_channels,
        depths=tuple(len(stage) for stage in stages),
        num_heads=tuple(stage[0].attn.num_heads for stage in stages),
        window_size=M,
        mlp_ratio=blocks[0].mlp[0].out_features / stem[0].out_channels,
        norm_eps=model.norm.eps,
        drop_path_rate=blocks[-1].stochastic_depth.p,  # the rates grow linearly to the last block's
    )
    renames = [(r"^features\.0\.0\.", "patch_embed.proj."), (r"^features\.0\.2\.", "patch_embed.norm.")]
    for i in range(len(stages)):  # torchvision's features: stem, stage 0, merge, stage 1, merge, ...
        block = rf"^features\.{2 * i + 1}\.(\d+)\."
        renames += [
            (block + r"mlp\.0\.", rf"stages.{i}.blocks.\1.mlp.fc1."),
            (block + r"mlp\.3\.", rf"stages.{i}.blocks.\1.mlp.fc2."),
            (block, rf"stages.{i}.blocks.\1."),  # norm1, attn.qkv, attn.proj, attn.*_table, norm2
            (rf"^features\.{2 * i + 2}\.", rf"stages.{i + 1}.merge."),
        ]
    renames += [(r"^norm\.", "norm."), (r"^head\.", "head.")]

    tensors = model.state_dict()
    for name in [n for n in tensors if n.endswith(".relative_position_index")]:
        # torchvision stores the index; minivit computes it
        if not torch.equal(tensors.pop(name).flatten().cpu(), relative_position_index(M).flatten()):
            raise ValueError(f"{name} differs from minivit.relative_position_index({M})")
    return _copy_renamed(model, SwinTransformer(config), renames, tensors)


def _swin_from_timm(model: nn.Module) -> SwinTransformer:
    """timm's Swin v1. The logits equal timm's where no stage needs padding (224 x 224, 224 x 448,
    448 x 448 for window 7): elsewhere timm rolls before padding and shrinks windows, minivit pads
    first and keeps M, as torchvision does."""
    from timm.models.swin_transformer import PatchMerging

    stem, stages = model.patch_embed, list(model.layers)
    blocks = [block for stage in stages for block in stage.blocks]
    M = blocks[0].attn.window_size[0]
    if (
        any(b.attn.window_size != (M, M) or b.attn.qkv.out_features != 3 * b.norm1.normalized_shape[0]
            or b.attn.qkv.bias is None for b in blocks)
        or not all(type(s.downsample) is PatchMerging for s in stages[1:])
        or not isinstance(stem.norm, nn.LayerNorm)
        or model.global_pool != "avg"
    ):
        raise ValueError(
            "from_timm converts Swin v1 (swin_tiny/small/base_patch4_window7_224) with one square window M "
            "in every stage, qkv bias, heads of C / nh channels, a normed patch embedding and average pooling"
        )
    config = SwinConfig(
        in_channels=stem.proj.in_channels,
        num_classes=model.num_classes,
        patch_size=stem.proj.kernel_size[0],
        dim=stem.proj.out_channels,
        depths=tuple(len(stage.blocks) for stage in stages),
        num_heads=tuple(stage.blocks[0].attn.num_heads for stage in stages),
        window_size=M,
        mlp_ratio=blocks[0].mlp.fc1.out_features / stem.proj.out_channels,
        norm_eps=model.norm.eps,
        drop_path_rate=getattr(blocks[-1].drop_path1, "drop_prob", 0.0),  # timm's DropPath, or Identity at 0
    )
    return _copy_renamed(model, SwinTransformer(config), _prefix_renames(TIMM_SWIN_NAMES))


# timm's Swin names -> minivit's, as prefixes; {0} and {1} stand for a stage's and a block's number
TIMM_SWIN_NAMES = [
    ("patch_embed.", "patch_embed."),  # proj, norm
    ("layers.{0}.downsample.", "stages.{0}.merge."),
    ("layers.{0}.blocks.{1}.", "stages.{0}.blocks.{1}."),  # norm1, attn.*, norm2, mlp.fc1/fc2
    ("norm.", "norm."),
    ("head.fc.", "head."),
]


def timm_state_dict(model: SwinTransformer) -> dict[str, torch.Tensor]:
    """The inverse of from_timm for Swin: the model's tensors under the names of timm's Swin v1, for
    timm's load_state_dict (timm computes its relative position index and mask itself)."""
    renames = _prefix_renames([(minivit_name, timm_name) for timm_name, minivit_name in TIMM_SWIN_NAMES])
    return {_renamed(name, renames, model, "timm"): tensor for name, tensor in model.state_dict().items()}


def _prefix_renames(prefixes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(regex, replacement) rules from (prefix, new prefix) pairs whose {0}, {1} stand for numbers."""
    def pattern(prefix: str) -> str:
        return "^" + re.escape(prefix).replace(r"\{0\}", r"(\d+)").replace(r"\{1\}", r"(\d+)")

    return [(pattern(old), new.replace("{0}", r"\1").replace("{1}", r"\2")) for old, new in prefixes]


# --- ViT --------------------------------------------------------------------------------------------


def _vit_from_torchvision(model: nn.Module) -> VisionTransformer:
    if not isinstance(model.conv_proj, nn.Conv2d) or len(model.heads) != 1 or model.encoder.ln.eps != 1e-6:
        raise ValueError(
            "from_torchvision converts the plain ViT (a conv patch embedding, one Linear head, LayerNorm eps 1e-6); "
            "this VisionTransformer has a conv stem, a representation layer or another norm"
        )
    blocks = model.encoder.layers
    mlp_ratio = model.mlp_dim / model.hidden_dim
    if int(mlp_ratio * model.hidden_dim) != model.mlp_dim:
        raise ValueError(f"mlp_dim ({model.mlp_dim}) is not mlp_ratio x hidden_dim ({model.hidden_dim}) for any float")
    config = ViTConfig(
        image_size=model.image_size,
        patch_size=model.patch_size,
        in_channels=model.conv_proj.in_channels,
        num_classes=model.heads.head.out_features,
        dim=model.hidden_dim,
        depth=len(blocks),
        num_heads=blocks[0].num_heads,
        mlp_ratio=mlp_ratio,
    )
    layer = r"^encoder\.layers\.encoder_layer_(\d+)\."
    renames = [
        (r"^conv_proj\.", "patch_embed."),
        (r"^class_token$", "cls_token"),
        (r"^encoder\.pos_embedding$", "pos_embed"),
        (layer + r"ln_1\.", r"blocks.\1.norm1."),
        (layer + r"self_attention\.in_proj_", r"blocks.\1.attn.qkv."),  # q, k, v stacked in the same order
        (layer + r"self_attention\.out_proj\.", r"blocks.\1.attn.proj."),
        (layer + r"ln_2\.", r"blocks.\1.norm2."),
        (layer + r"mlp\.0\.", r"blocks.\1.mlp.fc1."),
        (layer + r"mlp\.3\.", r"blocks.\1.mlp.fc2."),
        (r"^encoder\.ln\.", "norm."),
        (r"^heads\.head\.", "head."),
    ]
    return _copy_renamed(model, VisionTransformer(config), renames)


Model = TypeVar("Model", bound=nn.Module)


def _copy_renamed(
    source: nn.Module, target: Model, renames: list[tuple[str, str]], tensors: dict | None = None
) -> Model:
    """Copy every tensor of `source` into `target`, renamed by the first matching (regex, replacement).

    `tensors` is the source's state dict minus what the caller has already dealt with; by default all of it.
    Raises if a source tensor matches no rule, or if the renamed tensors are not exactly the tensors
    of `target` with their shapes. Returns `target` in the training mode of `source`.
    """
    tensors = source.state_dict() if tensors is None else tensors
    state = {_renamed(name, renames, source, "minivit"): tensor for name, tensor in tensors.items()}
    wanted = target.state_dict()
    unmapped, unknown = sorted(set(wanted) - set(state)), sorted(set(state) - set(wanted))
    if unmapped or unknown:
        raise ValueError(f"tensors left unmapped: {unmapped}; renamed to names minivit does not have: {unknown}")
    target.load_state_dict(state)  # strict: also checks every shape
    return target.train(source.training)


def _renamed(name: str, renames: list[tuple[str, str]], source: nn.Module, into: str) -> str:
    """`name`, a tensor of `source`, renamed by the first matching (regex, replacement) of `renames` into
    the names of `into` ("minivit", "timm"); raises if none matches."""
    for pattern, replacement in renames:
        new_name, found = re.subn(pattern, replacement, name)
        if found:
            return new_name
    raise ValueError(f"no {into} name for {type(source).__name__}'s tensor {name!r}")


# --- MobileViT --------------------------------------------------------------------------------------


def _mobilevit_from_timm(model: nn.Module) -> MobileViT:
    from timm.models.byobnet import BottleneckBlock
    from timm.models.mobilevit import MobileVitBlock

    channels, strides, mv2_blocks, vits = [], [], [], []
    for i, stage in enumerate(model.stages):
        mv2 = list(stage)
        if isinstance(mv2[-1], MobileVitBlock):
            vits.append(mv2.pop())
        if not mv2 or not all(isinstance(b, BottleneckBlock) for b in mv2):
            raise ValueError(f"stage {i} of the timm model is not MV2 blocks, optionally followed by a MobileVitBlock")
        channels.append(mv2[0].conv3_1x1.conv.out_channels)
        strides.append(mv2[0].conv2_kxk.conv.stride[0])
        mv2_blocks.append(len(mv2))
    # settings that minivit's config holds once, for all MobileViT blocks
    shared = {(v.patch_size[0], v.transformer[0].attn.num_heads,
               v.transformer[0].mlp.fc1.out_features / v.conv_1x1.out_channels) for v in vits}
    if len(shared) != 1:
        raise ValueError("from_timm converts MobileViTs whose blocks share one patch size, head count and MLP ratio")
    ((patch_size, num_heads, mlp_ratio),) = shared
    first = model.stages[0][0].conv1_1x1.conv
    config = MobileViTConfig(
        channels=tuple(channels),
        strides=tuple(strides),
        mv2_blocks=tuple(mv2_blocks),
        dims=tuple(v.conv_1x1.out_channels for v in vits),
        depths=tuple(len(v.transformer) for v in vits),
        expansion=first.out_channels // first.in_channels,
        stem_channels=model.stem.conv.out_channels,
        final_channels=model.final_conv.conv.out_channels,
        patch_size=patch_size,
        num_heads=num_heads,
        mlp_ratio=mlp_ratio,
        in_channels=model.stem.conv.in_channels,
        num_classes=model.head.fc.out_features,
    )
    block = r"^stages\.(\d+)\.(\d+)\."
    renames = [
        (r"^(stem|final_conv)\.", r"\1."),
        (block + r"conv1_1x1\.", r"stages.\1.\2.expand."),  # MV2
        (block + r"conv2_kxk\.", r"stages.\1.\2.depthwise."),
        (block + r"conv3_1x1\.", r"stages.\1.\2.project."),
        (block + r"conv_kxk\.", r"stages.\1.\2.conv_local."),  # MobileViT block
        (block + r"conv_1x1\.", r"stages.\1.\2.conv_in."),
        (block + r"(transformer|norm)\.", r"stages.\1.\2.\3."),
        (block + r"conv_proj\.", r"stages.\1.\2.conv_out."),
        (block + r"conv_fusion\.", r"stages.\1.\2.fusion."),
        (r"^head\.fc\.", "head."),
    ]
    return _copy_renamed(model, MobileViT(config), renames)
