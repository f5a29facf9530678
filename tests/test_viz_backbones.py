"""The backbone diagrams draw the steps of the real modules in order, each box labelled with the shape the
module computes: checked against the shapes the Swin paper gives for Swin-T at 224 (56 x 56 x 96 ... 7 x 7 x
768, blocks 2, 2, 6, 2), against shapes worked out by hand for the MobileViT block, the MV2 block and
MobileViT-XXS, and the patch-merging sub-grids against slices of an index map. Also the figures notebooks 06
and 07 set beside them: one stage's windows over the picture, Swin's and ViT's maps at one scale, and four
receptive fields in a 2 x 2 grid."""

import copy

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit.models.mobilevit import InvertedResidual, MobileViTBlock, mobilevit_xxs  # noqa: E402
from minivit.models.swin import PatchMerging, swin_t, swin_tiny  # noqa: E402
from minivit.viz import (  # noqa: E402
    plot_feature_pyramids,
    plot_inverted_residual,
    plot_mobilevit_block,
    plot_mobilevit_routes,
    plot_mobilevit_stages,
    plot_patch_merging,
    plot_receptive_fields,
    plot_stage_windows,
    plot_swin_attention,
    plot_swin_block_pair,
    plot_swin_stages,
)


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def labels(ax, gid="step-label"):
    return [t.get_text() for t in with_gid(ax.texts, gid)]


@pytest.fixture(scope="module")
def swin():
    with torch.device("meta"):  # shapes only: no weights to initialise
        return swin_t()


def test_swin_stages_are_the_papers_figure_3_with_the_shapes_of_swin_t_at_224(swin):
    ax = plot_swin_stages(swin, 224).axes[0]
    # Swin paper, Figure 3 and Table 7: 4 x 4 patches of 48 numbers, then H/4 x W/4 x C, C = 96, doubling
    expected = [
        "Images\n(1, 3, 224, 224)",
        "Patch Partition (conceptual)\n56 x 56 x 48",  # 56 * 56 patches of 4 * 4 * 3, no tensor of the model
        "Linear Embedding\n4 x 4 conv, stride 4; LayerNorm\n(1, 56, 56, 96)",  # patch_embed: conv, then norm
        "Swin Transformer Block\n(1, 56, 56, 96)",
        "Patch Merging\n(1, 28, 28, 192)",
        "Swin Transformer Block\n(1, 28, 28, 192)",
        "Patch Merging\n(1, 14, 14, 384)",
        "Swin Transformer Block\n(1, 14, 14, 384)",
        "Patch Merging\n(1, 7, 7, 768)",
        "Swin Transformer Block\n(1, 7, 7, 768)",
    ]
    assert labels(ax) == expected
    boxes = with_gid(ax.patches, "step")
    assert len(boxes) == 10 and [b.get_x() for b in boxes] == sorted(b.get_x() for b in boxes)  # left to right
    assert len(with_gid(ax.patches, "arrow")) == 9
    assert len(with_gid(ax.patches, "stage")) == 4
    assert labels(ax, "stage-label") == [
        "Stage 1\n56 x 56 x 96\nfeature stride 4", "Stage 2\n28 x 28 x 192\nfeature stride 8",
        "Stage 3\n14 x 14 x 384\nfeature stride 16", "Stage 4\n7 x 7 x 768\nfeature stride 32",
    ]
    assert labels(ax, "repeat") == ["1 \u00d7 (W, SW)", "1 \u00d7 (W, SW)", "3 \u00d7 (W, SW)", "1 \u00d7 (W, SW)"]
    # the images are channels first, the model's tokens channels last: the title names both layouts
    assert ax.get_title() == ("Swin at 224 x 224, output shape in each box: the images (B, C, H, W), "
                              "then tokens (B, H, W, C)")


def test_swin_stages_follow_a_non_square_image(swin):
    ax = plot_swin_stages(swin, (224, 320)).axes[0]
    assert labels(ax)[1] == "Patch Partition (conceptual)\n56 x 80 x 48"
    assert labels(ax)[2] == "Linear Embedding\n4 x 4 conv, stride 4; LayerNorm\n(1, 56, 80, 96)"
    assert labels(ax, "stage-label")[3] == "Stage 4\n7 x 10 x 768\nfeature stride 32"


def test_swin_block_pair_regular_then_shifted_windows(swin):
    ax = plot_swin_block_pair(swin, stage_number=1).axes[0]
    shape = "(1, 56, 56, 96)"
    for column, (b, msa) in enumerate([(0, "W-MSA, shift 0"), (1, "SW-MSA, shift 3")]):  # M = 7, shift M // 2
        first = "input of block 0" if column == 0 else "output of block 0"
        assert labels(ax)[7 * column: 7 * column + 7] == [
            f"{first}\n{shape}", f"LayerNorm\n{shape}", f"{msa}\n{shape}", "add", f"LayerNorm\n{shape}",
            f"MLP\n{shape}", f"add: output of block {b}\n{shape}",
        ]
    assert len(with_gid(ax.patches, "step")) == 14
    assert len(with_gid(ax.patches, "skip")) == 4  # two residual connections per block
    assert len(with_gid(ax.patches, "link")) == 1 and len(with_gid(ax.lines, "link")) == 1


def test_swin_block_pair_in_stage_3_reads_the_second_pair(swin):
    ax = plot_swin_block_pair(swin, stage_number=3, pair_index=1).axes[0]
    assert labels(ax)[0] == "input of block 2\n(1, 14, 14, 384)"
    assert labels(ax)[9] == "SW-MSA, shift 3\n(1, 14, 14, 384)"
    assert labels(ax)[13] == "add: output of block 3\n(1, 14, 14, 384)"


def test_swin_attention_steps_of_swin_t_stage_1_sw_msa_at_224(swin):
    ax = plot_swin_attention(swin, stage_number=1, block_index=1).axes[0]
    # by hand: 224 / 4 = 56 tokens a side, C = 96, M = 7, s = 3, nh = 3 heads of 32; (56 / 7)^2 = 64 windows
    assert labels(ax) == [
        "input: norm1 of the block's input, (B, H, W, C)\n(1, 56, 56, 96)",
        "1. pad bottom, right to multiples of M = 7: + 0 rows, + 0 columns\n(1, 56, 56, 96)",
        "2. torch.roll(x, shifts=(-3, -3), dims=(1, 2))\n(1, 56, 56, 96)",
        "3. window_partition(x, 7): nW = 64 windows of N = 49 tokens\n(64, 49, 96)",
        "4a. qkv: Linear 96 -> 288, split into nh = 3 heads: q, k, v each\n(64, 3, 49, 32)",
        "4b. softmax(q k^T / sqrt(32) + bias + mask) v\n(64, 3, 49, 32)",
        "4c. merge the heads, proj: Linear 96 -> 96\n(64, 49, 96)",
        "5. window_reverse(x, 7, 56, 56)\n(1, 56, 56, 96)",
        "6. torch.roll(x, shifts=(3, 3), dims=(1, 2))\n(1, 56, 56, 96)",
        "7. crop x[:, :56, :56]: the output of attn\n(1, 56, 56, 96)",
    ]
    assert labels(ax, "side-label") == [
        "relative_position_bias(table (169, 3), 7)\n(3, 49, 49): one per head",
        "shifted_window_mask(56, 56, 7, (3, 3))\n(64, 49, 49): one per window",
    ]
    assert len(with_gid(ax.patches, "arrow")) == 9 and len(with_gid(ax.patches, "side-arrow")) == 2
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in swin.modules())


def test_swin_attention_pads_and_crops_a_map_the_window_does_not_tile(swin):
    texts = labels(plot_swin_attention(swin, stage_number=1, block_index=1, image_size=256).axes[0])
    # 256 / 4 = 64 tokens a side, padded to 70 = 10 * 7: 100 windows, cropped back to 64
    assert texts[1] == "1. pad bottom, right to multiples of M = 7: + 6 rows, + 6 columns\n(1, 70, 70, 96)"
    assert texts[3] == "3. window_partition(x, 7): nW = 100 windows of N = 49 tokens\n(100, 49, 96)"
    assert texts[9] == "7. crop x[:, :64, :64]: the output of attn\n(1, 64, 64, 96)"


def test_swin_attention_drops_the_shift_on_a_single_window_and_has_no_mask_without_shift(swin):
    stage_4 = plot_swin_attention(swin, stage_number=4, block_index=1).axes[0]  # 7 x 7 map: one window
    assert labels(stage_4)[2] == "2. no roll (one window: shift dropped)\n(1, 7, 7, 768)"
    assert labels(stage_4)[5] == "4b. softmax(q k^T / sqrt(32) + bias) v\n(1, 24, 49, 32)"
    regular = plot_swin_attention(swin, stage_number=2, block_index=0).axes[0]
    assert labels(regular)[2] == "2. no roll (shift 0)\n(1, 28, 28, 192)"
    assert labels(regular, "side-label")[1].startswith("no mask (shift 0)")


def test_swin_attention_runs_the_layers_weights_on_real_numbers():
    torch.manual_seed(0)
    small = swin_tiny().eval()  # real weights: the steps run qkv, proj and the bias table for real
    texts = labels(plot_swin_attention(small, stage_number=1, block_index=1, image_size=8).axes[0])
    assert texts[0].endswith("(1, 4, 4, 32)") and texts[9].endswith("(1, 4, 4, 32)")


@pytest.mark.parametrize("call, error, message", [
    (lambda m: plot_swin_stages(m, 4), ValueError, r"image_size must be at least 8 \(one patch per stage\), got 4"),
    (lambda m: plot_swin_stages(m, (32, 0)), ValueError, r"image_size must be a positive int"),
    (lambda m: plot_swin_stages(m, 32.0), TypeError, "image_size must be an int"),
    (lambda m: plot_swin_stages(torch.nn.Linear(2, 2)), TypeError, "model must be a minivit SwinTransformer"),
    (lambda m: plot_swin_block_pair(m, stage_number=4, image_size=32), ValueError,
     r"stage_number must be in 1..3 \(counted from 1\), got 4"),
    (lambda m: plot_swin_block_pair(m, stage_number=1, pair_index=1, image_size=32), ValueError,
     r"pair_index must be in 0..0 \(stage 1 has 2 blocks\), got 1"),
    (lambda m: plot_swin_block_pair(m, stage_number="1"), TypeError, "stage_number must be an int, got str"),
    (lambda m: plot_swin_attention(m, stage_number=1, block_index=2, image_size=32), ValueError,
     r"block_index must be in 0..1 \(stage 1 has 2 blocks\), got 2"),
    (lambda m: plot_swin_attention(m, stage_number=0), ValueError,
     r"stage_number must be in 1..3 \(counted from 1\), got 0"),
    (lambda m: plot_swin_attention(m, block_index=True), TypeError, "block_index must be an int, got bool"),
])
def test_swin_figures_reject_bad_input(call, error, message):
    with torch.device("meta"):
        small = swin_tiny()  # patches of 2, three stages: images of at least 2 * 2^2 = 8 pixels
    with pytest.raises(error, match=message):
        call(small)


def test_mobilevit_block_steps_in_the_order_of_its_forward():
    with torch.device("meta"):
        block = mobilevit_xxs().stages[2][-1]  # the first MobileViT block: C 48, d 64, L 2, 32 x 32 at 256
    ax = plot_mobilevit_block(block, torch.zeros(1, 48, 32, 32, device="meta")).axes[0]
    # by hand: P = 2 * 2 = 4 sequences of N = (32/2)^2 = 256 tokens of d = 64, one pixel of each patch
    assert labels(ax) == [
        "input x\n(1, 48, 32, 32)",
        "conv_local: 3x3 conv 48 -> 48, BN, SiLU\n(1, 48, 32, 32)",
        "conv_in: 1x1 conv 48 -> 64\n(1, 64, 32, 32)",
        "unfold: P = 4 sequences of N = 256 tokens (one pixel per patch)\n(4, 256, 64)",
        "transformer: L = 2 layers\n(4, 256, 64)",
        "LayerNorm\n(4, 256, 64)",
        "fold\n(1, 64, 32, 32)",
        "conv_out: 1x1 conv 64 -> 48, BN, SiLU\n(1, 48, 32, 32)",
        "concatenate [x, conv_out]\n(1, 96, 32, 32)",
        "fusion: 3x3 conv 96 -> 48, BN, SiLU\n(1, 48, 32, 32)",
    ]
    assert len(with_gid(ax.patches, "arrow")) == 9
    assert len(with_gid(ax.patches, "skip")) == 1  # the input, carried to the concatenation
    assert ax.get_title().startswith("MobileViT block: C = 48, d = 64, L = 2, 2 x 2 patches")
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in block.modules())


def test_mobilevit_block_resizes_a_map_that_the_patches_do_not_tile():
    block = MobileViTBlock(channels=8, dim=16, depth=1).eval()
    texts = labels(plot_mobilevit_block(block, torch.zeros(2, 8, 5, 7)).axes[0])
    # 5 x 7 -> 6 x 8: 4 sequences per image of 3 * 4 = 12 patches
    assert texts[3:9] == [
        "resize to 6 x 8 (bilinear)\n(2, 16, 6, 8)",
        "unfold: P = 4 sequences of N = 12 tokens (one pixel per patch)\n(8, 12, 16)",
        "transformer: L = 1 layer\n(8, 12, 16)",
        "LayerNorm\n(8, 12, 16)",
        "fold\n(2, 16, 6, 8)",
        "resize back to 5 x 7 (bilinear)\n(2, 16, 5, 7)",
    ]


@pytest.mark.parametrize("block, x, error, message", [
    (torch.nn.Identity(), torch.zeros(1, 8, 4, 4), TypeError, "block must be a minivit MobileViTBlock"),
    (MobileViTBlock(8, 16, 1), [[0.0]], TypeError, "x must be a torch.Tensor, got list"),
    (MobileViTBlock(8, 16, 1), torch.zeros(1, 4, 4, 4), ValueError, r"x must have shape \(B, 8, H, W\) .* got \(1, 4, 4, 4\)"),
])
def test_mobilevit_block_rejects_bad_input(block, x, error, message):
    with pytest.raises(error, match=message):
        plot_mobilevit_block(block, x)


def test_patch_merging_draws_the_four_strided_sub_grids_in_merge_order():
    with torch.device("meta"):
        merging = PatchMerging(dim=96, eps=1e-5)
    ax = plot_patch_merging(merging).axes[0]
    ids = torch.arange(16).reshape(4, 4)  # each token's row-major index
    assert labels(ax, "token-label") == [str(n) for n in range(16)]
    # the order of the official code, torchvision and timm, by slicing
    grids = [ids[0::2, 0::2], ids[1::2, 0::2], ids[0::2, 1::2], ids[1::2, 1::2]]
    assert labels(ax, "subgrid-label") == [str(n) for g in grids for n in g.flatten().tolist()]
    assert [t.split("\n") for t in labels(ax, "subgrid-title")] == [
        [f"{k + 1}. {s}", "(1, 2, 2, 96)"]
        for k, s in enumerate(["x[0::2, 0::2]", "x[1::2, 0::2]", "x[0::2, 1::2]", "x[1::2, 1::2]"])
    ]
    assert labels(ax, "piece-label") == ["0", "4", "1", "5"]  # tokens (0,0), (1,0), (0,1), (1,1)
    # 4C = 384 through the LayerNorm, then 2C = 192, as PatchMerging computes on a (1, 4, 4, 96) map
    out = PatchMerging(dim=96, eps=1e-5)(torch.zeros(1, 4, 4, 96))
    assert labels(ax) == ["concatenate: 4C channels\n(1, 2, 2, 384)", "LayerNorm(384)\n(1, 2, 2, 384)",
                          f"Linear 384 -> 192, no bias\n{tuple(out.shape)}"]
    assert len(with_gid(ax.patches, "token")) == 16 and len(with_gid(ax.patches, "subgrid")) == 16
    assert len(with_gid(ax.patches, "piece")) == 4 and len(with_gid(ax.patches, "step")) == 3


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(merging=torch.nn.Linear(2, 2)), TypeError, "merging must be a minivit PatchMerging, got Linear"),
    (dict(height=5), ValueError, "height must be an even int from 2 to 8, got 5"),
    (dict(width=10), ValueError, "width must be an even int from 2 to 8, got 10"),
    (dict(width=4.0), TypeError, "width must be an int, got float"),
])
def test_patch_merging_rejects_bad_input(kwargs, error, message):
    args = dict(merging=PatchMerging(dim=4, eps=1e-5)) | kwargs
    with pytest.raises(error, match=message):
        plot_patch_merging(**args)


def test_mobilevit_stages_of_xxs_at_256():
    with torch.device("meta"):
        model = mobilevit_xxs()
    texts = labels(plot_mobilevit_stages(model, 256).axes[0])
    # by hand from the XXS config: stem 16 at /2, channels 16, 24, 48, 64, 80 at /2, /4, /8, /16, /32;
    # MV2 blocks 1, 3, 1, 1, 1; MobileViT blocks d 64, 80, 96 with L 2, 4, 3; final conv 320
    assert texts == [
        "image\n(1, 3, 256, 256)",
        "stem: 3x3 conv stride 2, 16 channels\n(1, 16, 128, 128)",
        "stage 1: 1 MV2\n(1, 16, 128, 128)",
        "stage 2: 3 MV2 (stride 2)\n(1, 24, 64, 64)",
        "stage 3: 1 MV2 (stride 2) + MobileViT block (d 64, L 2)\n(1, 48, 32, 32)",
        "stage 4: 1 MV2 (stride 2) + MobileViT block (d 80, L 4)\n(1, 64, 16, 16)",
        "stage 5: 1 MV2 (stride 2) + MobileViT block (d 96, L 3)\n(1, 80, 8, 8)",
        "final 1x1 conv -> 320\n(1, 320, 8, 8)",
        "average pool, Linear -> 1000\n(1, 1000)",
    ]


@pytest.mark.parametrize("model, size, error, message", [
    (torch.nn.Identity(), 256, TypeError, "model must be a minivit MobileViT, got Identity"),
    (None, 16, ValueError, r"image_size must be at least 32 \(five halvings\), got 16"),
    (None, 256.0, TypeError, "image_size must be an int or a pair"),
])
def test_mobilevit_stages_rejects_bad_input(model, size, error, message):
    if model is None:
        with torch.device("meta"):
            model = mobilevit_xxs()
    with pytest.raises(error, match=message):
        plot_mobilevit_stages(model, size)


# --- MobileNetV2's inverted residual -----------------------------------------------------------------


def test_inverted_residual_with_its_residual():
    with torch.device("meta"):
        block = mobilevit_xxs().stages[1][1]  # stage 2's second MV2 block: 24 -> 24, stride 1, expansion 2
    ax = plot_inverted_residual(block, torch.zeros(1, 24, 64, 64, device="meta")).axes[0]
    # by hand: 1x1 widens 24 to 24 * 2 = 48, the depthwise conv keeps 64 x 64 at stride 1, 1x1 back to 24
    assert labels(ax) == [
        "input x\n(1, 24, 64, 64)",
        "expand: 1x1 conv 24 -> 48, BN, SiLU\n(1, 48, 64, 64)",
        "depthwise: 3x3 conv, groups 48, stride 1, BN, SiLU\n(1, 48, 64, 64)",
        "project: 1x1 conv 48 -> 24, BN (no activation)\n(1, 24, 64, 64)",
        "add x: the block's output\n(1, 24, 64, 64)",
    ]
    assert len(with_gid(ax.patches, "step")) == 5 and len(with_gid(ax.patches, "arrow")) == 4
    assert len(with_gid(ax.patches, "skip")) == 1 and "residual: stride 1 and 24 -> 24" in ax.get_title()


def test_inverted_residual_boxes_are_as_wide_as_their_channels():
    block = InvertedResidual(16, 24, stride=2, expansion=4).eval()  # 16 -> 64 -> 64 -> 24: XS's expansion
    ax = plot_inverted_residual(block, torch.zeros(1, 16, 8, 8)).axes[0]
    assert labels(ax, "channels") == ["16", "64", "64", "24"]
    widths = [p.get_width() for p in with_gid(ax.patches, "step")]
    # wide in the middle: the expanded boxes 4 times the input's, the output's 24/16 of it
    assert widths[1] == pytest.approx(4 * widths[0]) and widths[2] == pytest.approx(widths[1])
    assert widths[3] == pytest.approx(widths[0] * 24 / 16)


def test_inverted_residual_without_residual_follows_the_module():
    block = InvertedResidual(16, 24, stride=2, expansion=2).eval()
    x = torch.zeros(1, 16, 10, 12)
    ax = plot_inverted_residual(block, x).axes[0]
    with torch.no_grad():  # the shapes the module computes, step by step
        h1 = block.expand(x)
        h2 = block.depthwise(h1)
        h3 = block.project(h2)
    assert [t.split("\n")[1] for t in labels(ax)] == [str(tuple(t.shape)) for t in (x, h1, h2, h3)]
    assert labels(ax)[2].startswith("depthwise: 3x3 conv, groups 32, stride 2")
    assert len(with_gid(ax.patches, "step")) == 4 and not with_gid(ax.patches, "skip")
    assert "no residual: stride 2 and 16 -> 24 channels" in ax.get_title()


@pytest.mark.parametrize("block, x, error, message", [
    (torch.nn.Identity(), torch.zeros(1, 8, 4, 4), TypeError, "block must be a minivit InvertedResidual, got Identity"),
    (InvertedResidual(8, 8, 1, 2), [[0.0]], TypeError, "x must be a torch.Tensor, got list"),
    (InvertedResidual(8, 8, 1, 2), torch.zeros(1, 4, 4, 4), ValueError,
     r"x must have shape \(B, 8, H, W\) .* got \(1, 4, 4, 4\)"),
])
def test_inverted_residual_rejects_bad_input(block, x, error, message):
    with pytest.raises(error, match=message):
        plot_inverted_residual(block, x)


# --- one Swin stage's windows over the picture ---------------------------------------------------------


def corners(rectangles):
    """(row0, col0, row1, col1) of each outline, in tokens."""
    return [(round(r.get_y() + 0.5), round(r.get_x() + 0.5), round(r.get_y() + r.get_height() - 0.5),
             round(r.get_x() + r.get_width() - 0.5)) for r in rectangles]


def test_stage_windows_are_outlined_and_numbered():
    fig = plot_stage_windows(56, 56, 7, 3, np.zeros((224, 224, 3)))
    left, right = fig.axes
    # by hand: 8 x 8 regular windows of 7 x 7 tokens, row-major
    assert corners(with_gid(left.patches, "window")) == [(7 * i, 7 * j, 7 * i + 6, 7 * j + 6)
                                                          for i in range(8) for j in range(8)]
    # shifted by 3: 7 x 7 whole windows, 7 + 7 cut in two along the bottom and right edges, 1 cut in four
    pieces = corners(with_gid(right.patches, "piece"))
    assert len(pieces) == 49 + 2 * 7 + 2 * 7 + 4
    assert pieces[0] == (3, 3, 9, 9)  # window 0: rows and columns 3..9 of the original map
    assert sorted(pieces[-4:]) == [(0, 0, 2, 2), (0, 52, 2, 55), (52, 0, 55, 2), (52, 52, 55, 55)]  # the corner window
    assert len(with_gid(left.patches, "halo")) == 64 and len(with_gid(right.patches, "halo")) == len(pieces)
    # one number per piece: 0..63 on the left; on the right window 7 (rows 3..9, columns 52..55 + 0..2) twice
    assert [t.get_text() for t in with_gid(left.texts, "window-number")] == [str(w) for w in range(64)]
    numbers = [int(t.get_text()) for t in with_gid(right.texts, "window-number")]
    assert len(numbers) == len(pieces) and sorted(set(numbers)) == list(range(64))
    assert sorted(pieces[k] for k, n in enumerate(numbers) if n == 7) == [(3, 0, 9, 2), (3, 52, 9, 55)]
    assert left.get_title() == "W-MSA: 64 windows of 7 x 7 tokens"
    assert right.get_title().startswith("SW-MSA, shift (3, 3): still 64 windows,\n15 cut by the edge")
    assert fig.get_suptitle() == "56 x 56 tokens of 4 x 4 pixels: each window covers 28 x 28 pixels"


def test_stage_windows_colour_the_pieces_of_each_wrapping_window_alike():
    fig = plot_stage_windows(14, 14, 7, 3, np.zeros((224, 224, 3)))
    left, right = fig.axes
    assert not with_gid(left.patches, "fill")
    fills = with_gid(right.patches, "fill")
    # by hand: window 0 is whole (rows and columns 3..9); windows 1 and 2 wrap in 2 pieces, window 3 in 4
    assert len(fills) == 2 + 2 + 4
    colours = [tuple(f.get_facecolor()) for f in fills]
    assert colours[0] == colours[1] and colours[2] == colours[3] and len(set(colours[4:])) == 1
    assert len({colours[0], colours[2], colours[4]}) == 3
    badges = [t.get_bbox_patch() for t in with_gid(right.texts, "window-number")]
    assert [t.get_text() for t in with_gid(right.texts, "window-number")] == ["0", "1", "1", "2", "2", "3", "3", "3", "3"]
    assert badges[0] is None and all(b is not None for b in badges[1:])
    assert right.get_title().startswith("SW-MSA, shift (3, 3): still 4 windows,\n3 cut by the edge")


@pytest.mark.parametrize("args, error, message", [
    ((56, 56, 7, 3, np.zeros((100, 100, 3))), ValueError, r"image must be .* multiples of the map size 56x56, got 100x100"),
    ((56, 56, 7.0, 3, np.zeros((56, 56))), TypeError, "window_size must be an int, got float"),
    ((50, 56, 7, 3, np.zeros((50, 56))), ValueError, "50"),
])
def test_stage_windows_reject_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        plot_stage_windows(*args)


# --- pyramids side by side, and four receptive fields -------------------------------------------------


def test_feature_pyramids_of_swin_and_vit_share_one_scale(swin):
    with torch.device("meta"):
        swin_maps = swin.feature_maps(torch.zeros(1, 3, 224, 224))
    vit_maps = {f"after block {b}": (768, 14, 14) for b in (3, 6, 9, 12)}  # 224 / 16 = 14, D = 768
    fig = plot_feature_pyramids({"Swin-T": {f"stage {k + 1}": m for k, m in enumerate(swin_maps)},
                                 "ViT-B/16": vit_maps}, image_size=224, window_sizes={"Swin-T": 7})
    ax = fig.axes[0]
    faces = with_gid(ax.patches, "stage")
    assert [(f.get_height(), f.get_width()) for f in faces] == [(56, 56), (28, 28), (14, 14), (7, 7)] + [(14, 14)] * 4
    assert all(f.get_y() > g.get_y() for f in faces[:4] for g in faces[4:])  # Swin's row above ViT's
    assert labels(ax, "row-title") == ["Swin-T", "ViT-B/16"]
    texts = [t.splitlines() for t in labels(ax, "stage-label")]
    assert texts[0] == ["stage 1", "56 x 56 tokens, C = 96", "3,136 tokens", "stride 4", "64 windows of 7 x 7"]
    assert texts[7] == ["after block 12", "14 x 14 tokens, C = 768", "196 tokens", "stride 16"]  # no windows
    assert len(with_gid(ax.lines, "window-line")) == 14 + 6 + 2  # only Swin's: 7 + 7, 3 + 3, 1 + 1


def test_feature_pyramids_on_image_scale_cover_one_image_in_cells_of_the_stride(swin):
    with torch.device("meta"):
        swin_maps = swin.feature_maps(torch.zeros(1, 3, 224, 224))
    vit_maps = {"after block 12": (768, 14, 14)}  # 224 / 16 = 14 patches a side
    fig = plot_feature_pyramids({"Swin-T": {f"stage {k + 1}": m for k, m in enumerate(swin_maps)},
                                 "ViT-B/16": vit_maps}, image_size=224, window_sizes={"Swin-T": 7}, scale="image")
    ax = fig.axes[0]
    faces = with_gid(ax.patches, "stage")
    assert [(f.get_height(), f.get_width()) for f in faces] == [(224, 224)] * 5  # every face: the whole image
    grids = with_gid(ax.collections, "cell-lines")
    assert [len(g.get_segments()) for g in grids] == [2 * 55, 2 * 27, 2 * 13, 2 * 6, 2 * 13]  # H - 1 + W - 1
    spacing = [np.diff(sorted(seg[0][1] for seg in g.get_segments() if seg[0][1] == seg[1][1])) for g in grids]
    assert [float(np.mean(d)) for d in spacing] == pytest.approx([4, 8, 16, 32, 16])  # the strides, in pixels
    windows = with_gid(ax.lines, "window-line")
    assert len(windows) == 14 + 6 + 2  # Swin's windows of 7 x 7 tokens: 28, 56, 112 pixels apart
    assert fig.get_figwidth() <= 10 and fig.get_figheight() <= 9


@pytest.mark.parametrize("pyramids, kwargs, error, message", [
    ({}, {}, ValueError, "pyramids must map at least one row title"),
    ({"a": {"s": (8, 4, 4)}}, {"scale": "pixels"}, ValueError, "scale must be 'tokens' or 'image', got 'pixels'"),
    ({"a": {"s": (8, 4, 4)}}, {"scale": "image"}, ValueError, "scale='image' needs image_size"),
    ({"a": {"s": (8, 5, 4)}}, {"scale": "image", "image_size": 16}, ValueError, r"must divide image_size \(16, 16\)"),
    ({"a": [(8, 4, 4)]}, {}, TypeError, r"pyramids\['a'\] must map names to maps, got list"),
    ({"a": {"s": (8, 4, 4)}}, {"window_sizes": {"b": 2}}, ValueError, r"window_sizes names rows \['b'\]"),
])
def test_feature_pyramids_reject_bad_input(pyramids, kwargs, error, message):
    with pytest.raises(error, match=message):
        plot_feature_pyramids(pyramids, **kwargs)


def test_four_receptive_fields_fill_two_rows_of_two():
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    modules = {f"conv {k}": conv for k in range(4)}
    fig = plot_receptive_fields(modules, torch.randn(1, 1, 6, 6), (2, 3))
    panels = fig.axes[:4]
    assert [ax.get_title().split("\n")[0] for ax in panels] == list(modules)
    assert all("9 of 36 pixels" in ax.get_title() for ax in panels)  # a 3x3 neighbourhood, away from the border
    spans = [ax.get_subplotspec() for ax in panels]
    assert [(s.rowspan.start, s.colspan.start) for s in spans] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert fig.get_figwidth() <= 10
    assert fig.get_figheight() <= 7.6  # at most 760 px tall at 100 dpi: the figure fits on a laptop screen


def test_four_receptive_fields_of_a_wide_or_tall_map_stay_within_7_6_by_10_inches():
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    for H, W in ((16, 16), (24, 12), (12, 24)):
        fig = plot_receptive_fields({f"conv {k}": conv for k in range(4)}, torch.randn(1, 1, H, W), (2, 3))
        assert fig.get_figheight() <= 7.6 and fig.get_figwidth() <= 10, (H, W)


def test_one_to_three_receptive_fields_stand_in_one_row_of_4_inch_panels():
    conv = torch.nn.Conv2d(1, 1, 3, padding=1)
    for n in (1, 2, 3):
        fig = plot_receptive_fields({f"conv {k}": conv for k in range(n)}, torch.randn(1, 1, 6, 6), (2, 3))
        assert [ax.get_subplotspec().rowspan.start for ax in fig.axes[:n]] == [0] * n
        assert (fig.get_figwidth(), fig.get_figheight()) == pytest.approx((4.0 * n + 1.2, 4.6 + 0.3))


def _relay(ax):
    (line,) = with_gid(ax.lines, "relay")
    x, y = line.get_xydata()[0]
    return int(y), int(x)  # (row, column)


def test_mobilevit_routes_relay_through_the_unfolds_own_sequences():
    # sequences as mobilevit_unfold makes them (2 x 2 patches): the position inside the patch
    H = W = 8
    position = np.add.outer(np.arange(H) % 2 * 2, np.arange(W) % 2)
    pixel, source = (2, 3), (5, 5)
    route1, route2 = plot_mobilevit_routes(H, W, 2, pixel=pixel, source=source).axes
    t1, t2 = _relay(route1), _relay(route2)
    assert position[t1] == position[pixel] and max(abs(t1[0] - 5), abs(t1[1] - 5)) <= 1  # source in t1's window
    assert position[t2] == position[source] and max(abs(t2[0] - 2), abs(t2[1] - 3)) <= 1  # t2 in pixel's window
    for ax in (route1, route2):
        np.testing.assert_array_equal(ax.images[0].get_array(), position)
        assert len(with_gid(ax.patches, "conv")) == len(with_gid(ax.patches, "attention")) == 1
        assert len(with_gid(ax.patches, "attention-all")) == 16 - 1  # the rest of one sequence of 16
        assert "this way: 64 of 64" in ax.get_title()  # with 2 x 2 patches, either route alone reaches every pixel


def test_mobilevit_routes_count_what_each_route_reaches():
    # 4 x 4 patches on 8 x 8: pixel (1, 1)'s sequence is (1, 1), (1, 5), (5, 1), (5, 5); their four 3x3
    # windows hold 36 pixels (route 1); its own window meets 9 sequences of 4 pixels (route 2)
    route1, route2 = plot_mobilevit_routes(8, 8, 4, pixel=(1, 1), source=(2, 2)).axes
    assert route1.get_title().endswith("this way: 36 of 64")
    assert route2.get_title().endswith("this way: 36 of 64")


def test_mobilevit_routes_count_what_a_block_with_one_3x3_conv_reaches():
    # the titles' counts, from the unfold's index, against the gradients of a real block: route 1 alone is
    # the block with fusion made 1x1, route 2 alone the block with conv_local made 1x1
    from minivit.ops.receptive_field import receptive_field_map

    torch.manual_seed(0)
    block = MobileViTBlock(channels=4, dim=8, depth=1, patch_size=4).eval()
    x = torch.randn(1, 4, 8, 8)
    route1, route2 = plot_mobilevit_routes(8, 8, 4, pixel=(1, 1), source=(2, 2)).axes
    for ax, name in ((route1, "fusion"), (route2, "conv_local")):
        variant = copy.deepcopy(block)
        conv = getattr(variant, name).conv
        getattr(variant, name).conv = torch.nn.Conv2d(conv.in_channels, conv.out_channels, 1, bias=False)
        reach = int((receptive_field_map(variant.eval(), x, (1, 1)) > 0).sum())
        assert ax.get_title().endswith(f"this way: {reach} of 64")


def test_mobilevit_routes_refuse_a_source_without_both_routes():
    with pytest.raises(ValueError, match="another sequence"):
        plot_mobilevit_routes(8, 8, 2, pixel=(2, 3), source=(4, 5))  # same position inside its patch
    with pytest.raises(ValueError, match="both routes"):
        plot_mobilevit_routes(8, 8, 4, pixel=(1, 1), source=(3, 3))  # 2 pixels from every pixel of (1, 1)'s sequence
    with pytest.raises(ValueError, match="multiple of"):
        plot_mobilevit_routes(9, 9, 2)


def test_mobilevit_block_brackets_the_papers_local_global_and_fusion_parts():
    for H, steps in ((32, 10), (5, 12)):  # 5 x 5 adds the two resizes to the global part
        ax = plot_mobilevit_block(MobileViTBlock(8, 16, 1).eval(), torch.zeros(1, 8, H, H)).axes[0]
        assert labels(ax, "bracket-label") == ["local", "global", "fusion"]
        spans = [(min(line.get_ydata()), max(line.get_ydata())) for line in with_gid(ax.lines, "bracket")]
        # step k's box (height 0.62) is centred at y = -k: local is steps 1-2, global 3 up to the fold (or
        # the resize back), fusion the last three
        parts = ((1, 2), (3, steps - 4), (steps - 3, steps - 1))
        assert np.allclose(spans, [(-last - 0.31, -first + 0.31) for first, last in parts])
