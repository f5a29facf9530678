"""The transformer diagrams draw the steps of the real modules in order, each labelled with the shape that
the module computes; the expected shapes here are worked out by hand from the sizes of the layers."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit.models.layers import SelfAttention, TransformerBlock  # noqa: E402
from minivit.models.vit import VisionTransformer, ViTConfig, vit_b_16  # noqa: E402
from minivit.ops.attention import attention, split_heads  # noqa: E402
from minivit.viz import (  # noqa: E402
    plot_multi_head_attention,
    plot_split_heads,
    plot_transformer_block,
    plot_vit,
)


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def shapes_in(ax, gid):
    """The second line of every label with this gid: the shape the box shows."""
    return [t.get_text().split("\n")[1] for t in with_gid(ax.texts, gid)]


@pytest.fixture(scope="module")
def vit_b_16_meta():
    with torch.device("meta"):
        return vit_b_16()


def test_multi_head_attention_draws_every_head_when_there_are_few():
    B, N, D, nh = 2, 6, 12, 3
    hs = D // nh
    fig = plot_multi_head_attention(SelfAttention(D, nh), torch.zeros(B, N, D))
    ax = fig.axes[0]
    steps = with_gid(ax.texts, "step-label")
    assert [t.get_text().split("\n")[0].split(":")[0] for t in steps] == [
        "x", "qkv", f"split into nh = {nh} heads of hs = {hs}", "merge heads (put side by side)", "proj"]
    assert shapes_in(ax, "step-label") == [
        f"({B}, {N}, {D})", f"({B}, {N}, {3 * D})", f"q, k, v: 3 x ({B}, {nh}, {N}, {hs})", f"({B}, {N}, {D})",
        f"({B}, {N}, {D})"]
    assert len(with_gid(ax.patches, "step")) == 5
    assert len(with_gid(ax.patches, "head")) == 3 * nh
    heads = [t.get_text() for t in with_gid(ax.texts, "head-label")]
    assert heads[0::3] == [f"head {h}: q, k, v\n3 x ({B}, {N}, {hs})" for h in range(nh)]
    assert set(heads[1::3]) == {f"softmax(q k\u1d40 / \u221a{hs})\n({B}, {N}, {N})"}  # one weight per query and key
    assert set(heads[2::3]) == {f"weights @ v\n({B}, {N}, {hs})"}
    assert not with_gid(ax.texts, "more-heads")
    xs = [b.get_x() for b in with_gid(ax.patches, "head")[0::3]]
    assert xs == sorted(xs)  # heads left to right


def test_multi_head_attention_with_shares_draws_each_heads_columns_of_w_o_and_their_sum():
    B, N, D, nh = 2, 6, 12, 3
    hs = D // nh
    attn = SelfAttention(D, nh)
    x = torch.randn(B, N, D)
    ax = plot_multi_head_attention(attn, x, shares=True).axes[0]
    steps = [t.get_text().split("\n")[0] for t in with_gid(ax.texts, "step-label")]
    assert steps[-1] == "sum of the shares + proj.bias" and len(with_gid(ax.patches, "step")) == 4
    assert [t.get_text() for t in with_gid(ax.texts, "share-label")] == [
        f"@ W_O cols {h * hs}-{(h + 1) * hs - 1}\n({B}, {N}, {D})" for h in range(nh)]
    # what the boxes say is what the layer computes: the shares plus the bias are its output
    with torch.no_grad():
        out, _ = attention(*attn.heads(x))  # (B, nh, N, hs)
        shares = [out[:, h] @ attn.proj.weight[:, h * hs:(h + 1) * hs].T for h in range(nh)]
        assert torch.allclose(sum(shares) + attn.proj.bias, attn(x), atol=1e-6)
    xs = [b.get_x() for b in with_gid(ax.patches, "share")]
    assert xs == [b.get_x() for b in with_gid(ax.patches, "head")[0::3]]  # each share under its head


def test_multi_head_attention_with_shares_of_vit_b_16_skips_the_left_out_heads(vit_b_16_meta):
    x = torch.empty(1, 197, 768, device="meta")
    ax = plot_multi_head_attention(vit_b_16_meta.blocks[0].attn, x, shares=True).axes[0]
    labels = [t.get_text().split("\n")[0] for t in with_gid(ax.texts, "share-label")]
    assert labels == ["@ W_O cols 0-63", "@ W_O cols 64-127", "@ W_O cols 704-767"]


def test_multi_head_attention_of_vit_b_16_draws_a_few_heads_and_dots(vit_b_16_meta):
    x = torch.empty(1, 197, 768, device="meta")  # ViT-B/16's tokens at 224: 196 patches and the class token
    ax = plot_multi_head_attention(vit_b_16_meta.blocks[0].attn, x).axes[0]
    labels = [t.get_text() for t in with_gid(ax.texts, "head-label")][0::3]
    assert [s.split(":")[0] for s in labels] == ["head 0", "head 1", "head 11"]
    assert labels[0].endswith("(1, 197, 64)")  # hs = 768 / 12
    assert with_gid(ax.texts, "more-heads")[0].get_text().split("\n")[1] == "9 more"  # heads 2 to 10
    assert shapes_in(ax, "step-label")[2] == "q, k, v: 3 x (1, 12, 197, 64)"
    assert fig_width_ok(ax.figure)


def fig_width_ok(fig):
    return fig.get_figwidth() <= 10


def test_transformer_block_shows_both_residuals_and_the_mlp_width():
    B, N, D, ratio = 2, 5, 8, 3.0
    hidden = int(ratio * D)
    fig = plot_transformer_block(TransformerBlock(D, num_heads=2, mlp_ratio=ratio), torch.zeros(B, N, D))
    ax = fig.axes[0]
    names = [t.get_text().split("\n")[0].split(":")[0] for t in with_gid(ax.texts, "step-label")]
    assert names == ["x", "norm1", "attn", "add", "norm2", "mlp.fc1", "mlp.act", "mlp.fc2", "add"]
    tokens, wide = f"({B}, {N}, {D})", f"({B}, {N}, {hidden})"
    assert shapes_in(ax, "step-label") == [tokens] * 5 + [wide, wide] + [tokens] * 2
    assert "Linear(8, 24)" in with_gid(ax.texts, "step-label")[5].get_text()
    assert len(with_gid(ax.patches, "skip")) == 2  # x + attn(...) and x + mlp(...)
    assert fig_width_ok(fig)


def test_post_norm_block_puts_the_norms_after_the_sums():
    B, N, D, ratio = 2, 5, 8, 3.0
    hidden = int(ratio * D)
    block = TransformerBlock(D, num_heads=2, mlp_ratio=ratio)
    fig = plot_transformer_block(block, torch.zeros(B, N, D), order="post")
    ax = fig.axes[0]
    names = [t.get_text().split("\n")[0].split(":")[0] for t in with_gid(ax.texts, "step-label")]
    assert names == ["x", "attn", "add", "norm1", "mlp.fc1", "mlp.act", "mlp.fc2", "add", "norm2"]
    tokens, wide = f"({B}, {N}, {D})", f"({B}, {N}, {hidden})"
    assert shapes_in(ax, "step-label") == [tokens] * 4 + [wide, wide] + [tokens] * 3
    assert len(with_gid(ax.patches, "step")) == 9
    assert len(with_gid(ax.patches, "skip")) == 2  # x + attn(x), then norm1's output + mlp(...)
    assert ax.get_title().startswith("Post-norm")
    assert fig_width_ok(fig)


def test_vit_b_16_at_224_from_image_to_class_scores(vit_b_16_meta):
    fig = plot_vit(vit_b_16_meta, 224)
    flow = fig.axes[1]
    N = (224 // 16) ** 2
    assert shapes_in(flow, "step-label") == [
        "(1, 3, 224, 224)", "(1, 768, 14, 14)", f"({1}, {N}, 768)", f"(1, {N + 1}, 768)", "(1, 197, 768)",
        "(1, 197, 768)", "(1, 768)", "(1, 1000)"]
    assert with_gid(flow.texts, "step-label")[5].get_text().startswith("12 x TransformerBlock (nh = 12, MLP 3072)")
    sequence = fig.axes[0]
    assert len(with_gid(sequence.patches, "patch")) == N
    assert [t.get_text() for t in with_gid(sequence.texts, "patch-label")] == ["0", "1", "2", str(N - 1)]  # patchify's
    tokens = [t.get_text() for t in with_gid(sequence.texts, "token-label")]
    assert tokens[0] == "class\ntoken\n+ pos 0"  # the class token is token 0, so patch k is token k + 1
    assert tokens[1:] == [f"patch {k}\n+ pos {k + 1}" for k in (0, 1, 2, N - 1)]
    assert fig_width_ok(fig)


def test_vit_draws_the_picture_under_its_patches():
    config = ViTConfig(image_size=(32, 48), patch_size=8, dim=16, depth=1, num_heads=2, num_classes=5)
    picture = torch.rand(3, 32, 48)
    fig = plot_vit(VisionTransformer(config), (32, 48), image=picture)
    sequence = fig.axes[0]
    (drawn,) = sequence.get_images()
    np.testing.assert_allclose(np.asarray(drawn.get_array()), picture.permute(1, 2, 0).numpy())
    patches = with_gid(sequence.patches, "patch")
    assert len(patches) == 4 * 6 and not any(p.get_fill() for p in patches)  # outlines over the picture
    left, right, bottom, top = drawn.get_extent()  # the picture fills the grid of patches exactly
    assert left == pytest.approx(min(p.get_x() for p in patches))
    assert right == pytest.approx(max(p.get_x() + p.get_width() for p in patches))
    assert (top - bottom) / (right - left) == pytest.approx(32 / 48)
    assert [t.get_text() for t in with_gid(sequence.texts, "patch-label")] == ["0", "1", "2", "23"]
    assert not plot_vit(VisionTransformer(config), (32, 48)).axes[0].get_images()  # without it, boxes only
    with pytest.raises(ValueError, match=r"image must be 32 x 48 pixels, .* got 48 x 32"):
        plot_vit(VisionTransformer(config), (32, 48), image=torch.rand(3, 48, 32))


def test_vit_of_a_non_square_image():
    config = ViTConfig(image_size=(32, 48), patch_size=8, dim=16, depth=2, num_heads=2, num_classes=5)
    fig = plot_vit(VisionTransformer(config), (32, 48))
    assert shapes_in(fig.axes[1], "step-label") == [
        "(1, 3, 32, 48)", "(1, 16, 4, 6)", "(1, 24, 16)", "(1, 25, 16)", "(1, 25, 16)", "(1, 25, 16)", "(1, 16)",
        "(1, 5)"]


def values(ax, gid):
    return [int(t.get_text()) for t in with_gid(ax.texts, gid)]


def colours(ax, gid):
    return [tuple(p.get_facecolor()) for p in with_gid(ax.patches, gid)]


@pytest.mark.parametrize("N, D, nh", [(3, 8, 2), (4, 12, 3), (2, 4, 4), (1, 6, 1)])
def test_split_heads_figure_gives_each_head_its_channels_of_every_token(N, D, nh):
    hs = D // nh
    ax = plot_split_heads(N, D, nh).axes[0]
    assert values(ax, "tokens-value") == list(range(N * D))  # token n holds n*D .. n*D + D-1
    # head h, token n, channel c of the head is channel h*hs + c of token n: value n*D + h*hs + c
    assert values(ax, "heads-value") == [n * D + h * hs + c for h in range(nh) for n in range(N) for c in range(hs)]
    assert values(ax, "wrong-value") == list(range(N * D))  # a bare reshape keeps memory order
    token_colours, head_colours = colours(ax, "tokens-cell"), colours(ax, "heads-cell")
    palette = [token_colours[h * hs] for h in range(nh)]  # the colour of head h: that of channel h*hs of token 0
    assert len(set(palette)) == nh
    assert token_colours == [palette[c // hs] for n in range(N) for c in range(D)]
    assert head_colours == [palette[h] for h in range(nh) for _ in range(N * hs)]  # one colour per head table
    wrong = colours(ax, "wrong-cell")
    assert wrong == [palette[(v % D) // hs] for v in range(N * D)]  # coloured by the head of its channel
    assert len(with_gid(ax.texts, "caption")) == 3 and fig_width_ok(ax.figure)


def test_split_heads_figure_matches_split_heads_and_shows_the_mix():
    ax = plot_split_heads(3, 8, 2).axes[0]
    x = torch.arange(24).reshape(1, 3, 8)
    assert values(ax, "heads-value") == split_heads(x, 2)[0].flatten().tolist()
    wrong = colours(ax, "wrong-cell")
    assert len(set(wrong[:12])) == 2  # the reshape's 'head 0' mixes both heads' channels
    assert any("(1, 2, 3, 4)" in t.get_text() for t in with_gid(ax.texts, "caption"))


@pytest.mark.parametrize("call, error, message", [
    (lambda: plot_split_heads(3, 8, 3), ValueError, r"dim must be a multiple of num_heads \(3\), got 8"),
    (lambda: plot_split_heads(5, 8, 2), ValueError, "num_tokens must be in 1..4"),
    (lambda: plot_split_heads(3, 8.0, 2), TypeError, "dim must be an int, got float"),
    (lambda: plot_split_heads(3, 8, True), TypeError, "num_heads must be an int, got bool"),
    (lambda: plot_multi_head_attention(torch.nn.Linear(4, 4), torch.zeros(1, 2, 4)), TypeError, "attn must be"),
    (lambda: plot_multi_head_attention(SelfAttention(8, 2), torch.zeros(1, 2, 6)), ValueError, r"got shape \(1, 2, 6\)"),
    (lambda: plot_multi_head_attention(SelfAttention(8, 2), [1, 2]), TypeError, "x must be a torch.Tensor"),
    (lambda: plot_transformer_block(SelfAttention(8, 2), torch.zeros(1, 2, 8)), TypeError, "block must be"),
    (lambda: plot_transformer_block(TransformerBlock(8, 2), torch.zeros(2, 8)), ValueError, r"got shape \(2, 8\)"),
    (lambda: plot_transformer_block(TransformerBlock(8, 2), torch.zeros(1, 2, 8), order="mid"), ValueError,
     "order must be 'pre' or 'post', got 'mid'"),
    (lambda: plot_vit(TransformerBlock(8, 2), 32), TypeError, "model must be"),
    (lambda: plot_vit(VisionTransformer(ViTConfig(image_size=32, patch_size=8, dim=16, depth=1, num_heads=2)), 64),
     ValueError, r"image_size must be the size the model was built for, \(32, 32\), got 64"),
])
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()
