"""ViT's patch tokens beside MobileViT's pixel sequences (notebook 07): the same (P, N) grid of pixels,
checked against a hand-worked 4 x 4 map and against patchify and mobilevit_unfold."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit import mobilevit_unfold, patchify, viz  # noqa: E402


def images(ax):
    return np.asarray(ax.get_images()[0].get_array())


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def texts(ax):
    return [int(t.get_text()) for t in with_gid(ax.texts, "pixel")]


def test_hand_worked_4x4_map_with_2x2_patches():
    fig = viz.plot_vit_vs_mobilevit_tokens(4, 4, 2)
    vit_map, mv_map, vit_tokens, mv_tokens = fig.axes[:4]
    # pixel k at (k // 4, k % 4); patch of (r, c) = (r // 2) * 2 + c // 2; position inside it = (r % 2) * 2 + c % 2
    np.testing.assert_array_equal(images(vit_map), [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 2, 3, 3]])
    np.testing.assert_array_equal(images(mv_map), [[0, 1, 0, 1], [2, 3, 2, 3], [0, 1, 0, 1], [2, 3, 2, 3]])
    # both grids: position p of patch n; patch 1 holds pixels 2, 3, 6, 7
    grid = [[0, 2, 8, 10], [1, 3, 9, 11], [4, 6, 12, 14], [5, 7, 13, 15]]
    assert texts(vit_tokens) == texts(mv_tokens) == [k for row in grid for k in row]
    np.testing.assert_array_equal(images(vit_tokens), [[0, 1, 2, 3]] * 4)  # coloured by column: one token each
    np.testing.assert_array_equal(images(mv_tokens), [[p] * 4 for p in range(4)])  # by row: one sequence each
    assert len(with_gid(vit_tokens.patches, "token")) == 4 and len(with_gid(mv_tokens.patches, "sequence")) == 4
    (first_token,) = with_gid(vit_tokens.patches, "token")[:1]
    assert first_token.get_xy() == (-0.5, -0.5) and (first_token.get_width(), first_token.get_height()) == (1, 4)
    assert all(len(with_gid(ax.patches, "patch")) == 4 for ax in (vit_map, mv_map))
    # MobileViT's rows are its sequences: the axis and the title say so, and its tokens have C channels as ViT's
    assert mv_tokens.get_ylabel().startswith("sequence p") and "along each sequence" in mv_tokens.get_title()
    assert "pixel x C channels" in mv_tokens.get_title()


@pytest.mark.parametrize("H, W, p", [(4, 6, (2, 3)), (6, 6, 3), (8, 4, 2)])
def test_the_grids_are_patchify_and_unfold(H, W, p):
    ids = torch.arange(H * W, dtype=torch.float64).reshape(1, 1, H, W)
    vit = patchify(ids, p)[0].T.long()  # (P, N): column n holds patch n's pixels
    unfolded = mobilevit_unfold(ids, p)[:, :, 0].long()  # (P, N): row q is sequence q
    assert torch.equal(vit, unfolded)  # the same grid, grouped two ways
    fig = viz.plot_vit_vs_mobilevit_tokens(H, W, p)
    assert texts(fig.axes[2]) == vit.flatten().tolist() and texts(fig.axes[3]) == unfolded.flatten().tolist()


def test_sizes_that_the_patch_does_not_tile_are_refused():
    with pytest.raises(ValueError, match="multiple of patch"):
        viz.plot_vit_vs_mobilevit_tokens(5, 4, 2)
