"""minivit: vision transformers you can read, equal to torchvision's and timm's.

The ground floor, pure tensor functions that import only torch, is importable from here:
    from minivit import window_partition, shifted_window_mask, relative_position_index, ...
"""

from minivit.ops.attention import attention, merge_heads, split_heads
from minivit.ops.merging import merge_patches
from minivit.ops.patches import patchify, unpatchify
from minivit.ops.relative_position import relative_position_bias, relative_position_index
from minivit.ops.unfold import mobilevit_fold, mobilevit_unfold
from minivit.ops.window_attention import shifted_window_attention
from minivit.ops.windows import (
    shift_region_labels,
    shifted_window_mask,
    window_partition,
    window_reverse,
)

__all__ = [
    "attention",
    "merge_heads",
    "merge_patches",
    "mobilevit_fold",
    "mobilevit_unfold",
    "patchify",
    "relative_position_bias",
    "relative_position_index",
    "shift_region_labels",
    "shifted_window_attention",
    "shifted_window_mask",
    "split_heads",
    "unpatchify",
    "window_partition",
    "window_reverse",
]
__version__ = "0.1.0"
