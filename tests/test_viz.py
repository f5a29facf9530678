"""Each figure of minivit.viz draws what it claims: its image data equals the ground-floor function
it shows, its outlines and numbers sit where hand-worked examples say. No screen needed."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (only to check that no figure is left open in pyplot)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import LogNorm, Normalize  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import nn  # noqa: E402

from minivit import (  # noqa: E402
    mobilevit_unfold,
    patchify,
    relative_position_index,
    shift_region_labels,
    shifted_window_mask,
    viz,
)
from minivit.models.layers import SelfAttention  # noqa: E402
from minivit.ops.receptive_field import receptive_field_map  # noqa: E402
from minivit.viz.windows import INSET, window_members  # noqa: E402

CASES = [  # (H, W, window, shift)
    (8, 8, 4, 2),
    (14, 14, 7, 3),
    (6, 9, 3, 1),
    (8, 12, (4, 3), (2, 1)),
]


def data(ax, k=0):
    return np.asarray(ax.get_images()[k].get_array())


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def centre(rectangle):
    x, y = rectangle.get_xy()
    return y + rectangle.get_height() / 2, x + rectangle.get_width() / 2  # (row, column)


def window_grid(window):
    return window if isinstance(window, tuple) else (window, window)


# --- windows -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("H, W, M, s", CASES)
def test_windows_are_outlined_and_numbered_in_row_major_order(H, W, M, s):
    fig = viz.plot_windows(H, W, M, s)
    assert isinstance(fig, Figure)
    Mh, Mw = window_grid(M)
    nW = (H // Mh) * (W // Mw)
    for ax in (fig.axes[0], fig.axes[2]):  # plain windows, and the windows after torch.roll
        boxes = with_gid(ax.patches, "window")
        labels = with_gid(ax.texts, "window-number")
        assert len(boxes) == nW and len(labels) == nW
        assert [int(t.get_text()) for t in labels] == list(range(nW))
        for k, (box, label) in enumerate(zip(boxes, labels)):
            row, col = divmod(k, W // Mw)  # window k is row-major: block (row, col) of the window grid
            assert box.get_xy() == (col * Mw - 0.5, row * Mh - 0.5)
            assert (box.get_height(), box.get_width()) == (Mh, Mw)
            x, y = col * Mw + (Mw - 1) / 2, row * Mh + (Mh - 1) / 2  # the centre; on a cell when M is odd,
            assert label.get_position() == (x - 0.5 * (x % 1 == 0), y - 0.5 * (y % 1 == 0))  # then up-left


def test_shifted_windows_hand_worked_8x8():
    fig = viz.plot_windows(8, 8, 4, 2)
    pieces = with_gid(fig.axes[1].patches, "piece")
    numbers = sorted(int(t.get_text()) for t in with_gid(fig.axes[1].texts, "window-number"))
    # window 0 is the middle block, windows 1 and 2 are cut in two, window 3 in four: 9 pieces
    assert len(pieces) == 9 and numbers == [0, 1, 1, 2, 2, 3, 3, 3, 3]
    middle = [p for p in pieces if centre(p) == (3.5, 3.5)]
    assert len(middle) == 1 and (middle[0].get_height(), middle[0].get_width()) == (4 - 2 * INSET, 4 - 2 * INSET)
    # after torch.roll by (-2, -2) the top-left slot holds token (2, 2) = 18 and the bottom-right token 9
    tokens = {(t.get_position()[1], t.get_position()[0]): int(t.get_text())
              for t in with_gid(fig.axes[2].texts, "token")}
    assert tokens[(0, 0)] == 18 and tokens[(7, 7)] == 9 and tokens[(6, 6)] == 0
    assert sorted(tokens.values()) == list(range(64))


def test_windows_over_a_picture_roll_the_picture():
    picture = np.random.default_rng(0).random((16, 24, 3))  # 2 x 3 pixels per token of an 8 x 8 map
    fig = viz.plot_windows(8, 8, 4, 2, image=picture)
    np.testing.assert_allclose(data(fig.axes[0]), picture.astype(np.float32))
    np.testing.assert_allclose(data(fig.axes[2]), np.roll(picture, (-4, -6), axis=(0, 1)).astype(np.float32))
    assert not with_gid(fig.axes[0].texts, "token")
    with pytest.raises(ValueError, match="multiples of the map size"):
        viz.plot_windows(8, 8, 4, 2, image=np.zeros((12, 12, 3)))


@pytest.mark.parametrize("H, W, M, s", CASES)
def test_region_labels_equal_shift_region_labels(H, W, M, s):
    fig = viz.plot_shift_regions(H, W, M, s)
    labels = shift_region_labels(H, W, M, s)
    np.testing.assert_array_equal(data(fig.axes[0]), labels.numpy())
    sh, sw = window_grid(s)
    np.testing.assert_array_equal(data(fig.axes[1]), torch.roll(labels, (sh, sw), (0, 1)).numpy())
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == [f"region {k}" for k in sorted(set(labels.flatten().tolist()))]


@pytest.mark.parametrize("H, W, M, s", CASES + [(8, 8, 4, 0)])
def test_mask_heatmaps_equal_shifted_window_mask(H, W, M, s):
    fig = viz.plot_window_masks(H, W, M, s)
    mask = shifted_window_mask(H, W, M, s)
    heatmaps = [ax for ax in fig.axes if ax.get_images()]
    assert len(heatmaps) == mask.shape[0]
    for w, ax in enumerate(heatmaps):
        np.testing.assert_array_equal(data(ax), mask[w].numpy())
        assert ax.get_title() == f"window {w}"


def test_mask_heatmaps_refuse_too_many_windows():
    with pytest.raises(ValueError, match="too many"):
        viz.plot_window_masks(16, 16, 1, 0)


def test_token_reach_hand_worked_8x8():
    fig = viz.plot_token_reach(8, 8, 4, 2, (7, 1))
    shifted_panel, original_panel = data(fig.axes[0]), data(fig.axes[1])
    # token (7, 1) wraps to (5, 7) of the rolled map, window 3; it shares its region with the 3 tokens
    # (6, 0), (6, 1), (7, 0) of the original map; the other 12 of the window are masked
    expected = np.zeros((8, 8), dtype=int)
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1), (0, 6), (0, 7), (1, 6), (1, 7), (6, 6), (6, 7), (7, 6), (7, 7)]:
        expected[r, c] = 1
    for r, c in [(6, 0), (6, 1), (7, 0)]:
        expected[r, c] = 2
    expected[7, 1] = 3
    np.testing.assert_array_equal(original_panel, expected)
    assert shifted_panel[5, 7] == 3 and (shifted_panel[4:, 4:] > 0).all() and (shifted_panel[:4] == 0).all()
    assert (shifted_panel == 2).sum() == 3


@pytest.mark.parametrize("H, W, M, s", CASES)
def test_token_reach_is_same_shifted_window_and_same_region(H, W, M, s):
    Mh, Mw = window_grid(M)
    sh, sw = window_grid(s)
    labels = shift_region_labels(H, W, M, s)
    for token in [H * W - 1, (H // 2) * W + W // 3]:
        original = data(viz.plot_token_reach(H, W, M, s, token).axes[1])
        r, c = divmod(token, W)
        rr, rc = (r - sh) % H, (c - sw) % W  # where torch.roll(-s) puts the token
        for i in range(H):
            for j in range(W):
                ri, rj = (i - sh) % H, (j - sw) % W
                same_window = (ri // Mh, rj // Mw) == (rr // Mh, rc // Mw)
                allowed = same_window and labels[ri, rj] == labels[rr, rc]
                expected = 3 if (i, j) == (r, c) else 2 if allowed else 1 if same_window else 0
                assert original[i, j] == expected, (token, i, j)


def test_windows_are_grey_and_regions_coloured_so_no_colour_means_both():
    windows = viz.plot_windows(8, 8, 4, 2)
    for ax in windows.axes:  # the tint of every token: a grey, r = g = b
        tint = data(ax, -1)
        assert tint.shape == (8, 8, 4) and np.allclose(tint[..., 0], tint[..., 1]) and np.allclose(tint[..., 1], tint[..., 2])
    # neighbouring windows differ, on the plain and on the rolled map
    plain = data(windows.axes[0], -1)[..., 0]
    assert len({plain[0, 0], plain[0, 4], plain[4, 0], plain[4, 4]}) == 4
    regions = viz.plot_shift_regions(8, 8, 4, 2)
    colours = [tuple(p.get_facecolor()[:3]) for p in regions.legends[0].get_patches()]
    assert len(set(colours)) == 9
    assert all(not (np.isclose(r, g) and np.isclose(g, b)) for r, g, b in colours)  # no region is grey


def test_token_reach_shows_the_shifted_window_across_w_msa_borders():
    fig = viz.plot_token_reach(8, 8, 4, 2, (3, 3))
    original = data(fig.axes[1])
    assert (original[2:6, 2:6] >= 2).all() and (original == 2).sum() == 15  # the whole middle block
    windows = with_gid(fig.axes[1].patches, "window")  # the 4 W-MSA windows, which the middle block straddles
    assert sorted(b.get_xy() for b in windows) == [(-0.5, -0.5), (-0.5, 3.5), (3.5, -0.5), (3.5, 3.5)]
    (piece,) = with_gid(fig.axes[1].patches, "piece")
    assert piece.get_xy() == (1.5, 1.5) and (piece.get_height(), piece.get_width()) == (4, 4)


def test_window_members_are_window_partition_of_the_rolled_coordinates():
    members = window_members(8, 8, 4, 2)  # (nW, 16, 2)
    assert members.shape == (4, 16, 2)
    assert members[0, 0].tolist() == [2, 2] and members[3, -1].tolist() == [1, 1]


# --- relative position -------------------------------------------------------------------------------


def test_relative_position_index_figure_hand_worked_2x2():
    fig = viz.plot_relative_position_index(2, query=1)
    expected = np.array([[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]])
    np.testing.assert_array_equal(data(fig.axes[0]), expected)
    np.testing.assert_array_equal(data(fig.axes[0]), relative_position_index(2).numpy())
    np.testing.assert_array_equal(data(fig.axes[1]), expected[1].reshape(2, 2))
    assert [int(t.get_text()) for t in fig.axes[0].texts] == expected.flatten().tolist()


def test_relative_position_index_is_drawn_in_one_colour_per_table_row():
    fig = viz.plot_relative_position_index(3, query=4)  # 25 table rows
    left, right = (ax.get_images()[0] for ax in fig.axes[:2])
    for image in (left, right):
        colours = {tuple(image.cmap(image.norm(k))) for k in range(25)}
        assert len(colours) == 25  # categorical: every row its own colour, no continuous ramp
    assert all(left.cmap(left.norm(k)) == right.cmap(right.norm(k)) for k in range(25))  # the same colour in both


@pytest.mark.parametrize("M", [3, (2, 4), 7])
def test_relative_position_index_figure_equals_index(M):
    Mh, Mw = window_grid(M)
    index = relative_position_index(M).numpy()
    fig = viz.plot_relative_position_index(M, query=Mh * Mw - 1)
    np.testing.assert_array_equal(data(fig.axes[0]), index)
    np.testing.assert_array_equal(data(fig.axes[1]), index[-1].reshape(Mh, Mw))
    with pytest.raises(ValueError, match="query"):
        viz.plot_relative_position_index(M, query=Mh * Mw)


@pytest.mark.parametrize("M, heads, shown", [(2, 3, None), (3, 4, [1, 3]), ((2, 3), 2, [0])])
def test_bias_heatmaps_equal_table_at_index(M, heads, shown):
    Mh, Mw = window_grid(M)
    table = torch.randn((2 * Mh - 1) * (2 * Mw - 1), heads)
    fig = viz.plot_relative_position_bias(table, M, heads=shown)
    shown = list(range(heads)) if shown is None else shown
    bias = table[relative_position_index(M)].permute(2, 0, 1)  # (heads, Mh*Mw, Mh*Mw)
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_images()}
    assert len(panels) == 2 * len(shown)
    for h in shown:
        np.testing.assert_allclose(data(panels[f"head {h}: table[index]"]), bias[h].numpy())
        grid = table[:, h].reshape(2 * Mh - 1, 2 * Mw - 1)  # rows: query minus key, dy = -(Mh-1) .. Mh-1
        np.testing.assert_allclose(data(panels[f"head {h}: table"]), grid.flip(0, 1).numpy())  # where keys sit
    first = panels[f"head {shown[0]}: table"]
    assert first.get_xlabel() == "columns right of the query\n(negative: left of it)"
    assert first.get_ylabel() == "rows below the query\n(negative: above it)"
    with pytest.raises(ValueError, match="table must have shape"):
        viz.plot_relative_position_bias(torch.zeros(5, heads), M)


# --- patches and unfold ------------------------------------------------------------------------------


def photo(height, width):
    skimage_data = pytest.importorskip("skimage.data")
    from skimage.transform import resize

    return resize(skimage_data.astronaut(), (height, width), anti_aliasing=False)  # (H, W, 3) floats in [0, 1]


@pytest.mark.parametrize("size, patch", [((64, 64), 16), ((48, 72), (24, 12))])
def test_patches_are_numbered_in_token_order(size, patch):
    picture = photo(*size)
    ph, pw = window_grid(patch)
    fig = viz.plot_patches(picture, patch)
    left, right = fig.axes[0], fig.axes[1]
    boxes, numbers = with_gid(left.patches, "patch"), with_gid(left.texts, "patch-number")
    N = (size[0] // ph) * (size[1] // pw)
    assert len(boxes) == N and [int(t.get_text()) for t in numbers] == list(range(N))
    for n, box in enumerate(boxes):
        row, col = divmod(n, size[1] // pw)
        assert box.get_xy() == (col * pw - 0.5, row * ph - 0.5) and (box.get_height(), box.get_width()) == (ph, pw)
    tokens = patchify(torch.from_numpy(picture).permute(2, 0, 1)[None].float(), patch)[0]
    np.testing.assert_allclose(data(right), tokens.reshape(N, ph * pw, 3).numpy(), atol=1e-6)


def test_patches_highlight_one_token_in_both_panels():
    fig = viz.plot_patches(photo(224, 224), 32, highlight=17)
    left, right = fig.axes[0], fig.axes[1]
    (on_image,), (on_tokens,) = with_gid(left.patches, "highlight"), with_gid(right.patches, "highlight")
    assert on_image.get_xy() == (3 * 32 - 0.5, 2 * 32 - 0.5) and (on_image.get_height(), on_image.get_width()) == (32, 32)
    assert centre(on_tokens)[0] == 17 and on_tokens.get_height() == 1 and on_tokens.get_width() == 32 * 32
    assert 17 in right.get_yticks()
    assert not with_gid(viz.plot_patches(photo(64, 64), 32).axes[0].patches, "highlight")  # none unless asked
    with pytest.raises(ValueError, match="highlight must be a token number in 0..3, got 4"):
        viz.plot_patches(photo(64, 64), 32, highlight=4)


def test_patches_accept_a_tensor_and_uint8():
    fig = viz.plot_patches(torch.rand(3, 32, 32), 8)
    assert len(with_gid(fig.axes[0].patches, "patch")) == 16
    fig = viz.plot_patches(np.zeros((32, 48, 3), dtype=np.uint8), 16)
    assert len(with_gid(fig.axes[0].patches, "patch")) == 6
    with pytest.raises(ValueError, match="multiple of patch"):
        viz.plot_patches(torch.rand(3, 30, 32), 8)


@pytest.mark.parametrize("H, W, p", [(8, 8, 2), (6, 9, 3), (4, 6, (2, 3))])
def test_unfold_colours_follow_the_position_inside_the_patch(H, W, p):
    ph, pw = window_grid(p)
    fig = viz.plot_mobilevit_unfold(H, W, p)
    top, bottom = fig.axes[0], fig.axes[1]
    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    np.testing.assert_array_equal(data(top), (rows % ph) * pw + cols % pw)  # hand-worked: position in the patch
    P, N = ph * pw, (H // ph) * (W // pw)
    np.testing.assert_array_equal(data(bottom), np.repeat(np.arange(P)[:, None], N, axis=1))
    assert len(with_gid(top.patches, "patch")) == N
    # and the colours are what mobilevit_unfold does: sequence p holds the pixels coloured p
    ids = mobilevit_unfold(torch.arange(H * W, dtype=torch.float64).reshape(1, 1, H, W), p)[:, :, 0].long()
    for q in range(P):
        assert set(data(top).flatten()[ids[q].numpy()]) == {q}


def test_unfold_pixel_sees_its_sequence():
    fig = viz.plot_mobilevit_unfold(8, 8, 2, pixel=(3, 4))  # position (1, 0) inside its patch: sequence 2
    veil = data(fig.axes[0], 1)[..., 3]  # the fading layer: clear where the pixel can attend
    rows, cols = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    np.testing.assert_array_equal(veil == 0, (rows % 2 == 1) & (cols % 2 == 0))
    assert "sequence 2" in fig.axes[0].get_title()
    texts = {t.get_position(): t.get_text() for t in with_gid(fig.axes[1].texts, "pixel")}
    assert texts[(6, 2)] == "3,4" and texts[(0, 0)] == "0,0" and texts[(15, 3)] == "7,7"


@pytest.mark.parametrize("H, W, p", [(8, 8, 2), (6, 6, 3)])
def test_unfold_patch_numbers_sit_in_the_corners_not_on_pixels(H, W, p):
    fig = viz.plot_mobilevit_unfold(H, W, p, pixel=0)
    numbers = with_gid(fig.axes[0].texts, "patch-number")
    per_row = W // p
    assert [t.get_text() for t in numbers] == [f"patch {n}" for n in range(len(numbers))] and len(numbers) == (H // p) * per_row
    for n, t in enumerate(numbers):
        x, y = t.get_position()
        r0, c0 = n // per_row * p, n % per_row * p  # the patch's top-left pixel
        assert (x, y) == (c0 - 0.42, r0 - 0.42)  # inside the patch's corner, off every pixel's centre
        assert t.get_bbox_patch() is not None  # a badge
    # a patch of one pixel is that pixel: its number stays centred on it
    single = with_gid(viz.plot_mobilevit_unfold(4, 4, 1).axes[0].texts, "patch-number")
    assert [t.get_position() for t in single[:2]] == [(0.0, 0.0), (1.0, 0.0)]


# --- attention ---------------------------------------------------------------------------------------


class TinyViT(nn.Module):
    """A stand-in with VisionTransformer's attention_maps API: patches, a class token, L attention layers."""

    def __init__(self, patch=8, dim=12, heads=3, layers=2):
        super().__init__()
        self.patch, self.heads, self.calls = patch, heads, 0
        self.embed = nn.Linear(patch * patch * 3, dim)
        self.cls = nn.Parameter(torch.randn(1, 1, dim))
        self.qk = nn.ModuleList(nn.Linear(dim, 2 * dim) for _ in range(layers))
        self.drop = nn.Dropout(0.5)

    def attention_maps(self, x):
        self.calls += 1
        t = self.drop(self.embed(patchify(x, self.patch)))
        t = torch.cat([self.cls.expand(len(t), -1, -1), t], 1)
        B, T, D = t.shape
        maps = []
        for qk in self.qk:
            q, k = qk(t).reshape(B, T, 2, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
            a = (q @ k.transpose(-1, -2)).softmax(-1)  # (B, nh, T, T)
            maps.append(a)
            t = t + (a @ t.reshape(B, T, self.heads, -1).transpose(1, 2)).transpose(1, 2).reshape(B, T, D)
        return maps


def test_attention_map_draws_the_weights_given():
    weights = torch.rand(12)
    fig = viz.plot_attention_map(torch.rand(3, 24, 32), weights, query=(1, 2))  # 3 x 4 patches of 8 x 8
    np.testing.assert_allclose(data(fig.axes[1]), weights.reshape(3, 4).numpy())
    assert len(with_gid(fig.axes[1].patches, "query")) == 1
    fig = viz.plot_attention_map(np.zeros((20, 20)), np.arange(4.0).reshape(2, 2))
    np.testing.assert_array_equal(data(fig.axes[1]), [[0, 1], [2, 3]])
    for ticks in (fig.axes[1].get_xticks(), fig.axes[1].get_yticks()):  # on patches, not between them
        assert [t for t in ticks if -0.5 <= t <= 1.5] == [0, 1]
    with pytest.raises(ValueError, match="tokens do not tile"):
        viz.plot_attention_map(np.zeros((20, 20)), np.ones(7))


def test_attention_map_names_its_tokens():
    fig = viz.plot_attention_map(np.zeros((4, 4)), np.ones(16), query=(1, 2))
    assert fig.axes[0].get_title() == "input image, query patch (1, 2) in red"
    assert fig.axes[1].get_title() == "weights on the 4x4 patches"
    assert (fig.axes[1].get_xlabel(), fig.axes[1].get_ylabel()) == ("patch column", "patch row")
    fig = viz.plot_attention_map(np.zeros((4, 4)), np.ones(16), query=(1, 2), token_name="pixel")
    assert fig.axes[0].get_title() == "input image, query pixel (1, 2) in red"
    assert fig.axes[1].get_title() == "weights on the 4x4 pixels"
    assert (fig.axes[1].get_xlabel(), fig.axes[1].get_ylabel()) == ("pixel column", "pixel row")


@pytest.mark.parametrize("layer, head, query", [(-1, None, 0), (0, 2, 5), (1, 0, 12)])
def test_model_attention_shows_the_models_weights(layer, head, query):
    torch.manual_seed(0)
    model = TinyViT().train()
    image = torch.rand(3, 24, 32)  # 3 x 4 patches
    fig = viz.plot_model_attention(model, image, layer=layer, head=head, query=query)
    assert model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        attn = model.attention_maps(image[None])[layer][0]  # (nh, 13, 13)
    row = attn[:, query].mean(0) if head is None else attn[head, query]
    np.testing.assert_allclose(data(fig.axes[1]), row[1:].reshape(3, 4).numpy(), rtol=1e-6)
    assert len(with_gid(fig.axes[1].patches, "query")) == (query > 0)
    title = fig.get_suptitle()
    assert f"{float(row[0]):.3f}" in title
    assert title.startswith(f"block {layer % 2 + 1} of 2, ")  # counted from 1, as the text says "last block"


def test_model_attention_checks_its_arguments():
    model, image = TinyViT(), torch.rand(3, 16, 16)
    for kwargs, word in [({"layer": 2}, "layer"), ({"head": 3}, "head"), ({"query": 5}, "query")]:
        with pytest.raises(ValueError, match=word):
            viz.plot_model_attention(model, image, **kwargs)
    with pytest.raises(ValueError, match="attention_maps"):
        viz.plot_model_attention(nn.Linear(2, 2), image)


# --- receptive fields --------------------------------------------------------------------------------


def conv_stack(n):
    torch.manual_seed(n)
    return nn.Sequential(*[nn.Conv2d(3 if k == 0 else 4, 4, 3, padding=1) for k in range(n)])


class ImageAttention(nn.Module):
    """(B, 3, H, W) -> (B, 4, H, W): every pixel a token, one self-attention layer."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.inp, self.attn, self.out = nn.Linear(3, 8), SelfAttention(8, 2), nn.Linear(8, 4)

    def forward(self, x):
        B, C, H, W = x.shape
        t = self.inp(x.flatten(2).transpose(1, 2))  # (B, HW, 8)
        return self.out(t + self.attn(t)).transpose(1, 2).reshape(B, 4, H, W)


def test_receptive_field_of_a_3x3_conv_is_its_neighbourhood():
    x = torch.randn(3, 6, 6)
    expected = np.zeros((6, 6), dtype=bool)
    expected[1:4, 2:5] = True  # output (2, 3) reads rows 1..3, columns 2..4
    np.testing.assert_array_equal(receptive_field_map(conv_stack(1), x, (2, 3)).numpy() > 0, expected)
    corner = np.zeros((6, 6), dtype=bool)
    corner[:2, :2] = True  # zero padding: the corner output sees a 2 x 2 block
    np.testing.assert_array_equal(receptive_field_map(conv_stack(1), x, (0, 0)).numpy() > 0, corner)
    five = np.zeros((6, 6), dtype=bool)
    five[0:5, 1:6] = True  # two 3x3 convs: 5 x 5
    np.testing.assert_array_equal(receptive_field_map(conv_stack(2), x, (2, 3)).numpy() > 0, five)


def test_receptive_field_of_attention_is_global():
    field = receptive_field_map(ImageAttention(), torch.randn(1, 3, 5, 7), (1, 2))
    assert field.shape == (5, 7) and (field > 0).all()


def test_receptive_field_figure_shows_the_fields():
    x = torch.randn(3, 6, 8)
    modules = {"3x3 conv": conv_stack(1), "attention": ImageAttention()}
    fig = viz.plot_receptive_fields(modules, x, (2, 3))
    for ax, (name, module) in zip(fig.axes, modules.items()):
        field = receptive_field_map(module, x, (2, 3)).numpy()
        shown = ax.get_images()[0].get_array()
        np.testing.assert_array_equal(np.ma.getmaskarray(shown), field == 0)
        np.testing.assert_allclose(shown.data, field / field.max(), rtol=1e-6)
        assert ax.get_title().startswith(name)
    assert "9 of 48" in fig.axes[0].get_title() and "48 of 48" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="position"):
        receptive_field_map(conv_stack(1), x, (6, 0))


def test_receptive_field_figure_has_a_log_or_a_linear_colour_scale():
    x = torch.randn(3, 6, 8)
    modules = {"3x3 conv": conv_stack(1), "attention": ImageAttention()}
    log = viz.plot_receptive_fields(modules, x, (2, 3)).axes[0].get_images()[0].norm
    linear = viz.plot_receptive_fields(modules, x, (2, 3), log_scale=False).axes[0].get_images()[0].norm
    assert isinstance(log, LogNorm) and (log.vmin, log.vmax) == (1e-4, 1)
    assert type(linear) is Normalize and (linear.vmin, linear.vmax) == (0, 1)


# --- cost --------------------------------------------------------------------------------------------


def test_cost_curves_equal_the_formulas():
    fig = viz.plot_attention_cost(channels=96, window_size=7)
    for ax in fig.axes:
        msa, wmsa = ax.get_lines()[:2]
        np.testing.assert_array_equal(msa.get_xdata(), (7 * np.arange(1, 17)) ** 2)
        assert msa.get_ydata()[7] == 2_003_828_736 and wmsa.get_ydata()[7] == 145_108_992  # side 56
        assert msa.get_ydata()[0] == wmsa.get_ydata()[0]  # one window: the same cost
    assert "13.8x" in fig.axes[1].texts[0].get_text()
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()][1].startswith("W-MSA, M=7")
    fig = viz.plot_attention_cost(channels=4, window_size=2, sides=[2, 4])
    msa, wmsa = fig.axes[0].get_lines()[:2]  # sides 2 and 4: hw = 4 and 16 tokens, C = 4, M = 2
    np.testing.assert_array_equal(msa.get_ydata(), [4 * 4 * 16 + 2 * 16 * 4, 4 * 16 * 16 + 2 * 256 * 4])
    np.testing.assert_array_equal(wmsa.get_ydata(), [4 * 4 * 16 + 2 * 4 * 4 * 4, 4 * 16 * 16 + 2 * 4 * 16 * 4])


# --- feature pyramid ---------------------------------------------------------------------------------


def test_pyramid_faces_are_the_maps_and_labels_give_strides_and_windows():
    maps = [torch.zeros(1, 96, 56, 56), torch.zeros(1, 192, 28, 28), torch.zeros(1, 384, 14, 14), (768, 7, 7)]
    fig = viz.plot_feature_pyramid(maps, image_size=224, window_size=7)
    ax = fig.axes[0]
    faces = with_gid(ax.patches, "stage")
    assert [(f.get_height(), f.get_width()) for f in faces] == [(56, 56), (28, 28), (14, 14), (7, 7)]
    assert [f.get_x() for f in faces] == sorted(f.get_x() for f in faces)  # left to right, stage 1 first
    labels = [t.get_text() for t in with_gid(ax.texts, "stage-label")]
    assert labels[0].splitlines() == ["stage 1", "56 x 56 tokens, C = 96", "3,136 tokens", "stride 4", "64 windows of 7 x 7"]
    assert labels[3].splitlines()[-2:] == ["stride 32", "1 window of 7 x 7"]
    # window lines: 7 + 7 inside stage 1, 3 + 3 in stage 2, 1 + 1 in stage 3, none in stage 4
    assert len(with_gid(ax.lines, "window-line")) == 14 + 6 + 2


def test_pyramid_of_a_wide_image_and_without_options():
    fig = viz.plot_feature_pyramid([(96, 56, 80), (768, 7, 10)], image_size=(224, 320), window_size=7)
    labels = [t.get_text().splitlines() for t in with_gid(fig.axes[0].texts, "stage-label")]
    assert labels[0][-1] == "96 windows of 7 x 7" and labels[1][-1] == "2 windows of 7 x 7"  # 80 and 10 padded
    plain = viz.plot_feature_pyramid([(8, 4, 4)])
    assert [t.get_text() for t in plain.axes[0].texts] == ["stage 1\n4 x 4 tokens, C = 8\n16 tokens"]
    with pytest.raises(ValueError, match=r"maps\[0\]"):
        viz.plot_feature_pyramid([(4, 4)])


# --- all figures -------------------------------------------------------------------------------------


def test_figures_show_in_a_notebook_without_pyplot():
    fig = viz.plot_shift_regions(4, 4, 2, 1)
    assert isinstance(fig, viz.NotebookFigure) and fig._repr_png_().startswith(b"\x89PNG")
    assert plt.get_fignums() == []  # nothing registered in pyplot, nothing to close


@pytest.mark.parametrize("call", [
    lambda: viz.plot_windows(8, 8, 4, 4),
    lambda: viz.plot_shift_regions(10, 8, 4, 2),
    lambda: viz.plot_window_masks(8, 8, 4, 5),
    lambda: viz.plot_token_reach(8, 8, 4, 2, 64),
    lambda: viz.plot_mobilevit_unfold(7, 8, 2),
    lambda: viz.plot_relative_position_bias(torch.zeros(9), 2),
])
def test_invalid_sizes_raise_value_errors(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("size, patch", [(8, 1), (8, 2), (8, 4), (16, 4), (4, 4), (16, 2)])
def test_unfold_draws_readably_at_every_patch_size(size, patch):
    # the explorer of notebook 07 allows these: no title out of the figure, no pixel labels on top of each other
    fig = viz.plot_mobilevit_unfold(size, size, patch, pixel=5)
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    frame = fig.bbox
    for ax in fig.axes:
        box = ax.title.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and box.y1 <= frame.y1, ax.get_title()
    labels = [t.get_window_extent(renderer) for t in with_gid(fig.axes[1].texts, "pixel")]
    assert not any(a.overlaps(b) for k, a in enumerate(labels) for b in labels[k + 1:])
    ticks = [t.get_window_extent(renderer) for t in fig.axes[1].get_xticklabels() if t.get_text()]
    assert not any(a.overlaps(b) for k, a in enumerate(ticks) for b in ticks[k + 1:])


def test_attention_vs_uniform_averages_a_batch_of_images():
    from minivit.models.vit import vit_tiny

    torch.manual_seed(0)
    model, images = vit_tiny(), torch.randn(5, 1, 32, 32)
    fig = viz.plot_attention_vs_uniform(model, images)
    with torch.no_grad():
        expected = model.eval().attention_maps(images)[-1][:, :, 0].mean(dim=(0, 1))[1:].reshape(4, 4) * 17
    assert np.allclose(data(fig.axes[1]), expected.numpy(), atol=1e-6)
    from minivit.viz._common import as_image

    assert np.allclose(data(fig.axes[0]), as_image(images.mean(dim=0)), atol=1e-6)  # the mean image beneath
    assert fig.get_suptitle().startswith("mean over the images") and "mean of the images" in fig.axes[0].get_title()
    assert "a 4 x 4 grid of 8 x 8-pixel patches" in fig.axes[0].get_title()  # the grid and the patch, never confused
    single = viz.plot_attention_vs_uniform(model, images[:1])
    assert not single.get_suptitle().startswith("mean over")
    patches = fig.axes[1]  # 4 x 4 patches: the ticks are patch numbers, never half a patch
    for ticks, low in ((patches.get_xticks(), -0.5), (patches.get_yticks(), -0.5)):
        shown = [t for t in ticks if low <= t <= 3.5]
        assert shown and all(float(t).is_integer() for t in shown), ticks
    assert plt.get_fignums() == []
