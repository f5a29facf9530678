"""Weights from torchvision and timm into minivit's models.

    from_torchvision(torchvision.models.swin_t())  -> minivit Swin with the same weights
    from_timm(timm.create_model("mobilevit_xxs"))  -> minivit MobileViT with the same weights

Each converter reads the reference model's configuration from the model itself, builds the matching
minivit model and copies every tensor across by name; nothing is downloaded.
"""

from __future__ import annotations

from torch import nn


def from_torchvision(model: nn.Module) -> nn.Module:
    """A minivit model with the weights of torchvision's swin_t/s/b or vit_b_16 (any config of those classes)."""
    from torchvision.models import SwinTransformer, VisionTransformer

    if isinstance(model, SwinTransformer):
        return _swin_from_torchvision(model)
    if isinstance(model, VisionTransformer):
        return _vit_from_torchvision(model)
    raise ValueError(
        f"from_torchvision knows torchvision's SwinTransformer (swin_t, swin_s, swin_b) and "
        f"VisionTransformer (vit_b_16), got {type(model).__module__}.{type(model).__name__}"
    )


def from_timm(model: nn.Module) -> nn.Module:
    """A minivit model with the weights of timm's mobilevit_xxs/xs/s or swin_{tiny,small,base}_patch4_window7_224."""
    from timm.models.byobnet import ByobNet
    from timm.models.swin_transformer import SwinTransformer

    if isinstance(model, SwinTransformer):
        return _swin_from_timm(model)
    if isinstance(model, ByobNet) and any("MobileVitBlock" == type(m).__name__ for m in model.modules()):
        return _mobilevit_from_timm(model)
    raise ValueError(
        f"from_timm knows timm's SwinTransformer (swin_tiny/small/base_patch4_window7_224) and MobileViT "
        f"(mobilevit_xxs, mobilevit_xs, mobilevit_s), got {type(model).__module__}.{type(model).__name__}"
    )


# --- Swin -------------------------------------------------------------------------------------------


def _swin_from_torchvision(model: nn.Module) -> nn.Module:
    raise NotImplementedError("Swin conversion from torchvision: coming with minivit.swin")


def _swin_from_timm(model: nn.Module) -> nn.Module:
    raise NotImplementedError("Swin conversion from timm: coming with minivit.swin")


# --- ViT --------------------------------------------------------------------------------------------


def _vit_from_torchvision(model: nn.Module) -> nn.Module:
    raise NotImplementedError("ViT conversion from torchvision: coming with minivit.vit")


# --- MobileViT --------------------------------------------------------------------------------------


def _mobilevit_from_timm(model: nn.Module) -> nn.Module:
    raise NotImplementedError("MobileViT conversion from timm: coming with minivit.mobilevit")
