"""The ground floor: pure tensor functions that import only torch, one idea per module.

    attention          attention written out, split_heads, merge_heads
    patches            patchify, unpatchify (ViT's patch partition)
    windows            window_partition, window_reverse, shift_region_labels, shifted_window_mask
    relative_position  relative_position_index, relative_position_bias (Swin's bias table)
    merging            merge_patches (Swin's 2 x 2 patch merging, the tensor part)
    window_attention   shifted_window_attention (Swin's attention, in the order of the paper)
    unfold             mobilevit_unfold, mobilevit_fold
    receptive_field    which input pixels an output position can see
    flops              multiply-adds, counted and from the Swin paper's formulas

The models (minivit.models) are built from these; the most used are importable from minivit itself.
"""
