"""Figures for the course, drawn from minivit's own functions.

Every function returns a matplotlib Figure (shown as a PNG in a notebook, never through pyplot) and
computes its data only by calling minivit's ground-floor functions, so a picture shows exactly what
the models do. One module per topic:

    layouts            plot_tensor_layouts (one tensor in three layouts, and the reshape mistake),
                       batch_mixing, plot_batch_mixing (a batch of maps fed to nn.MultiheadAttention three ways)
    memory             memory_order, plot_memory_order (memory as a strip, and the order x and x.permute read it)
    windows            plot_windows, plot_shift_regions, plot_window_masks, plot_token_reach,
                       plot_padded_windows (pad or roll), block_pair_reach, plot_block_pair_reach
    roll               cyclic_shift_strips, plot_cyclic_shift (torch.roll's strips, as the Swin paper's Figure 4)
    relative_position  plot_relative_position_index, plot_relative_position_bias, plot_bias_crops,
                       plot_bias_resize, plot_table_layout (where a key sits vs the table's own order),
                       plot_translation_windows (which columns follow a translation, from the window cuts)
    bias_attention     plot_bias_path (a diagram: table -> index -> gather -> + scores -> softmax),
                       plot_biased_attention (one query's weights without and with the bias)
    patches            plot_patches
    position_embedding plot_position_similarity (how alike a ViT's position embeddings are), position_similarity,
                       mean_similarity, same_line_contrast (the same in numbers: pairs, and rows and columns),
                       row_column_embedding (a 2-D embedding, the reference with the paper's pattern)
    pyramid            plot_feature_pyramid, plot_feature_pyramids
    unfold             plot_mobilevit_unfold, plot_vit_vs_mobilevit_tokens (patch tokens vs pixel sequences)
    unfold_axes        unfold_axes, plot_unfold_axes (the unfold's split, permute and merge of axes)
    attention          plot_attention_map, plot_attention_maps, plot_model_attention, model_attention_maps,
                       plot_attention_vs_uniform, plot_masked_attention
    attention_layer    plot_attention_layer (a diagram, beside a convolution)
    attention_steps    attention_steps, plot_attention_steps (Q Kᵀ -> softmax -> @ V, every matrix with its numbers),
                       plot_weight_matrices (weight matrices side by side, e.g. before and after training)
    mixing             mixing_matrices, plot_mixing_matrices (a conv's banded matrix beside attention's dense weights),
                       plot_mixing_rows (one output pixel's row of each, reshaped to the image)
    receptive_field    plot_receptive_fields (the fields: minivit.ops.receptive_field)
    resize             plot_round_trip_errors (a resize round trip's error against frequency: mostly low-pass)
    shift              roll_difference, plot_roll_differences (where a roll of the input fails to roll the output)
    softmax            score_spread, plot_softmax_saturation
    cost               plot_attention_cost (the formulas: minivit.ops.flops), stage_costs, plot_stage_costs
                       (a Swin model's multiply-adds per stage: merging, Linears, attention)
    segmentation       plot_masks, plot_cams, plot_pointing_game, plot_far_share
    dense_prediction   plot_segmentation_head, plot_cam_pipeline, plot_weak_supervision (diagrams),
                       plot_heads_by_masks (heads' results over seeds, with reference levels),
                       plot_loss_curves (training losses per epoch, one line per run, with reference levels)
    training           plot_digits, plot_training_curves, plot_accuracy_vs_data, plot_interaction, plot_seed_dots,
                       plot_claim_intervals (a forest plot of claims),
                       plot_learning_rate_sweep, plot_learning_rate_schedules, plot_running_variance,
                       plot_protocol (a diagram), plot_tokenisation (four models' tokens)
    backbones          plot_swin_stages, plot_swin_block_pair, plot_swin_attention, plot_patch_merging,
                       plot_mobilevit_block, plot_mobilevit_stages, plot_mobilevit_routes (two conv + attention
                       routes between two pixels), plot_inverted_residual, plot_stage_windows
    transformer        plot_multi_head_attention, plot_transformer_block, plot_vit (diagrams), plot_split_heads
    padding            plot_padding_orders (a map's rows padded before or after SW-MSA's roll)
    swin_reach         swin_reach, plot_swin_reach (one token's reach through W-MSA, SW-MSA, patch merging)
    rank_collapse      plot_rank_collapse (how far the tokens are from being one, block by block)
    two_marks          plot_two_marks (the two-marks task's images, each mark ringed), plot_reach_masks,
                       plot_received_attention, plot_seed_accuracies, plot_outcome_grid (each arm in a reach x
                       position grid), plot_attention_classifier (a diagram)
    outcome_offsets    plot_outcome_offsets (the outcome grid with each arm's relative position under its name)
"""

from minivit.viz._common import NotebookFigure, to_png
from minivit.viz.attention import (
    model_attention_maps,
    plot_attention_map,
    plot_attention_maps,
    plot_attention_vs_uniform,
    plot_masked_attention,
    plot_model_attention,
)
from minivit.viz.attention_layer import plot_attention_layer
from minivit.viz.attention_steps import attention_steps, plot_attention_steps, plot_weight_matrices
from minivit.viz.backbones import (
    plot_inverted_residual,
    plot_mobilevit_block,
    plot_mobilevit_routes,
    plot_mobilevit_stages,
    plot_patch_merging,
    plot_stage_windows,
    plot_swin_attention,
    plot_swin_block_pair,
    plot_swin_stages,
)
from minivit.viz.bias_attention import plot_bias_path, plot_biased_attention
from minivit.viz.cost import plot_attention_cost, plot_stage_costs, stage_costs
from minivit.viz.dense_prediction import (
    plot_cam_pipeline,
    plot_heads_by_masks,
    plot_loss_curves,
    plot_segmentation_head,
    plot_weak_supervision,
)
from minivit.viz.fpn import plot_fpn
from minivit.viz.layouts import batch_mixing, plot_batch_mixing, plot_tensor_layouts
from minivit.viz.memory import memory_order, plot_memory_order
from minivit.viz.mixing import mixing_matrices, plot_mixing_matrices, plot_mixing_rows
from minivit.viz.outcome_offsets import plot_outcome_offsets
from minivit.viz.padding import plot_padding_orders
from minivit.viz.patches import plot_patches
from minivit.viz.position_embedding import plot_position_similarity, row_column_embedding
from minivit.viz.pyramid import plot_feature_pyramid, plot_feature_pyramids
from minivit.viz.rank_collapse import plot_rank_collapse
from minivit.viz.receptive_field import plot_receptive_fields
from minivit.viz.relative_position import (
    plot_bias_crops,
    plot_bias_resize,
    plot_relative_position_bias,
    plot_relative_position_index,
    plot_table_layout,
    plot_translation_windows,
)
from minivit.viz.resize import plot_round_trip_errors
from minivit.viz.roll import cyclic_shift_strips, plot_cyclic_shift
from minivit.viz.segmentation import plot_cams, plot_far_share, plot_masks, plot_pointing_game
from minivit.viz.shift import plot_roll_differences, roll_difference
from minivit.viz.softmax import plot_softmax_saturation, score_spread
from minivit.viz.swin_reach import plot_swin_reach, swin_reach
from minivit.viz.training import (
    plot_accuracy_vs_data,
    plot_claim_intervals,
    plot_digits,
    plot_interaction,
    plot_learning_rate_schedules,
    plot_learning_rate_sweep,
    plot_protocol,
    plot_running_variance,
    plot_seed_dots,
    plot_tokenisation,
    plot_training_curves,
)
from minivit.viz.transformer import (
    plot_multi_head_attention,
    plot_split_heads,
    plot_transformer_block,
    plot_vit,
)
from minivit.viz.two_marks import (
    plot_attention_classifier,
    plot_outcome_grid,
    plot_reach_masks,
    plot_received_attention,
    plot_seed_accuracies,
    plot_two_marks,
)
from minivit.viz.unfold import plot_mobilevit_unfold, plot_vit_vs_mobilevit_tokens
from minivit.viz.unfold_axes import plot_unfold_axes, unfold_axes
from minivit.viz.windows import (
    block_pair_reach,
    plot_block_pair_reach,
    plot_padded_windows,
    plot_shift_regions,
    plot_token_reach,
    plot_window_masks,
    plot_windows,
)

__all__ = [
    "NotebookFigure",
    "attention_steps",
    "block_pair_reach",
    "cyclic_shift_strips",
    "batch_mixing",
    "memory_order",
    "mixing_matrices",
    "model_attention_maps",
    "plot_accuracy_vs_data",
    "plot_attention_classifier",
    "plot_attention_cost",
    "plot_attention_layer",
    "plot_attention_map",
    "plot_attention_maps",
    "plot_attention_steps",
    "plot_attention_vs_uniform",
    "plot_batch_mixing",
    "plot_bias_crops",
    "plot_bias_path",
    "plot_biased_attention",
    "plot_block_pair_reach",
    "plot_cyclic_shift",
    "plot_bias_resize",
    "plot_cam_pipeline",
    "plot_cams",
    "plot_claim_intervals",
    "plot_digits",
    "plot_far_share",
    "plot_feature_pyramid",
    "plot_feature_pyramids",
    "plot_fpn",
    "plot_heads_by_masks",
    "plot_loss_curves",
    "plot_interaction",
    "plot_protocol",
    "plot_running_variance",
    "plot_seed_dots",
    "plot_learning_rate_sweep",
    "plot_learning_rate_schedules",
    "plot_tokenisation",
    "plot_inverted_residual",
    "plot_masked_attention",
    "plot_masks",
    "plot_memory_order",
    "plot_mixing_matrices",
    "plot_mixing_rows",
    "plot_mobilevit_block",
    "plot_mobilevit_routes",
    "plot_mobilevit_stages",
    "plot_mobilevit_unfold",
    "plot_model_attention",
    "plot_multi_head_attention",
    "plot_outcome_grid",
    "plot_outcome_offsets",
    "plot_padding_orders",
    "plot_patch_merging",
    "plot_patches",
    "plot_position_similarity",
    "plot_pointing_game",
    "plot_rank_collapse",
    "plot_reach_masks",
    "plot_received_attention",
    "plot_receptive_fields",
    "plot_relative_position_bias",
    "plot_relative_position_index",
    "plot_roll_differences",
    "plot_round_trip_errors",
    "roll_difference",
    "plot_seed_accuracies",
    "plot_segmentation_head",
    "plot_shift_regions",
    "plot_padded_windows",
    "plot_softmax_saturation",
    "plot_split_heads",
    "plot_stage_costs",
    "plot_stage_windows",
    "plot_swin_attention",
    "plot_swin_block_pair",
    "plot_swin_reach",
    "plot_swin_stages",
    "plot_table_layout",
    "plot_tensor_layouts",
    "plot_translation_windows",
    "plot_token_reach",
    "plot_training_curves",
    "plot_transformer_block",
    "plot_two_marks",
    "plot_unfold_axes",
    "plot_vit",
    "plot_vit_vs_mobilevit_tokens",
    "plot_weak_supervision",
    "plot_weight_matrices",
    "plot_window_masks",
    "plot_windows",
    "row_column_embedding",
    "score_spread",
    "stage_costs",
    "swin_reach",
    "to_png",
    "unfold_axes",
]
