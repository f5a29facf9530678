"""plot_position_similarity draws, at each patch's place, the cosine similarity of its position embedding with
every patch's: the drawn values equal a brute-force cosine, one pair of vectors at a time. mean_similarity and
same_line_contrast summarise it: a brute-force mean, and 0.5 for an embedding of orthogonal row and column halves."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from minivit import viz  # noqa: E402
from minivit.models.vit import VisionTransformer, ViTConfig  # noqa: E402
from minivit.viz.position_embedding import (  # noqa: E402
    mean_similarity,
    position_similarity,
    row_column_embedding,
    same_line_contrast,
)


def brute_force_cosine(a, b):
    a, b = a.double(), b.double()
    return (a @ b / (a.norm() * b.norm())).item()


@pytest.mark.parametrize("grid", [(4, 4), (2, 3)])
def test_drawn_values_are_the_cosine_of_every_pair(grid):
    Gh, Gw = grid
    torch.manual_seed(0)
    pos_embed = torch.randn(1, 1 + Gh * Gw, 8)  # the class token's vector first
    shifted = pos_embed + 0.5  # another embedding, so that the two panels differ
    fig = viz.plot_position_similarity({"a": pos_embed, "b": shifted}, grid)
    assert len(fig.axes) == 3  # two panels and the colour bar
    for ax, embedding in zip(fig.axes[:2], (pos_embed, shifted)):
        mosaic = ax.get_images()[0].get_array()
        for i in range(Gh):
            for j in range(Gw):
                small = mosaic[i * (Gh + 1):i * (Gh + 1) + Gh, j * (Gw + 1):j * (Gw + 1) + Gw]
                assert not np.ma.is_masked(small)
                expected = [[brute_force_cosine(embedding[0, 1 + i * Gw + j], embedding[0, 1 + k * Gw + m])
                             for m in range(Gw)] for k in range(Gh)]
                np.testing.assert_allclose(np.asarray(small), expected, atol=1e-6)
        gaps = mosaic[Gh::Gh + 1]  # the blank rows between the small maps
        assert np.ma.getmaskarray(gaps).all()


def test_similarity_of_a_vit_and_its_class_token_skipped():
    model = VisionTransformer(ViTConfig(image_size=16, patch_size=4, in_channels=1, num_classes=10, dim=32,
                                        depth=1, num_heads=4))
    similarity = position_similarity(model.pos_embed, (4, 4))
    assert similarity.shape == (4, 4, 4, 4)
    assert torch.allclose(similarity[1, 2, 3, 0],
                          torch.tensor(brute_force_cosine(model.pos_embed[0, 1 + 6], model.pos_embed[0, 1 + 12]),
                                       dtype=torch.float32), atol=1e-6)
    assert torch.allclose(similarity.reshape(16, 16).diagonal(), torch.ones(16), atol=1e-6)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="pos_embed must be"):
        position_similarity(torch.randn(1, 16, 8), (4, 4))  # no class token's vector
    with pytest.raises(ValueError, match="grid must be"):
        position_similarity(torch.randn(1, 17, 8), (4, 0))
    with pytest.raises(TypeError, match="pos_embed must be a torch.Tensor"):
        position_similarity(np.zeros((17, 8)), (4, 4))
    with pytest.raises(ValueError, match="embeddings must be"):
        viz.plot_position_similarity({}, (4, 4))


def row_and_column_halves(Gh, Gw):
    """(1, 1+N, Gh+Gw): each position's vector is its row's one-hot vector beside its column's, as in the ViT
    paper's 2-D embedding (a row half and a column half), with orthogonal halves."""
    rows, cols = torch.arange(Gh * Gw) // Gw, torch.arange(Gh * Gw) % Gw
    patches = torch.cat([F.one_hot(rows, Gh), F.one_hot(cols, Gw)], dim=1).float()  # (N, Gh+Gw)
    return torch.cat([torch.randn(1, Gh + Gw), patches])[None]  # the class token's vector first


@pytest.mark.parametrize("grid", [(4, 4), (3, 5)])
def test_same_line_contrast_of_row_and_column_halves_is_one_half(grid):
    torch.manual_seed(0)
    pos_embed = row_and_column_halves(*grid)
    assert same_line_contrast(pos_embed, grid) == pytest.approx(0.5, abs=1e-6)
    margins = torch.zeros(grid, dtype=torch.bool)
    margins[:, [0, -1]] = True  # the first and last columns only
    assert same_line_contrast(pos_embed, grid, positions=margins) == pytest.approx(0.5, abs=1e-6)


def test_mean_similarity_is_the_brute_force_mean_of_the_selected_pairs():
    torch.manual_seed(0)
    pos_embed = torch.randn(1, 17, 8)
    pairs = torch.rand(16, 16) < 0.3
    pairs.fill_diagonal_(True)  # the diagonal is left out
    expected = [brute_force_cosine(pos_embed[0, 1 + i], pos_embed[0, 1 + j])
                for i in range(16) for j in range(16) if pairs[i, j] and i != j]
    assert mean_similarity(pos_embed, (4, 4), pairs) == pytest.approx(float(np.mean(expected)), abs=1e-6)
    rows = torch.arange(16) // 4
    same_row, same_column = rows[:, None] == rows, (torch.arange(16) % 4)[:, None] == torch.arange(16) % 4
    line, other = same_row | same_column, ~(same_row | same_column)
    assert same_line_contrast(pos_embed, (4, 4)) == pytest.approx(
        mean_similarity(pos_embed, (4, 4), line) - mean_similarity(pos_embed, (4, 4), other), abs=1e-9)


def test_pair_selections_are_checked():
    pos_embed = torch.randn(1, 17, 8)
    with pytest.raises(ValueError, match="pairs must be a bool tensor of shape"):
        mean_similarity(pos_embed, (4, 4), torch.ones(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="at least one pair"):
        mean_similarity(pos_embed, (4, 4), torch.eye(16, dtype=torch.bool))
    with pytest.raises(ValueError, match="positions must be a bool tensor of shape"):
        same_line_contrast(pos_embed, (4, 4), positions=torch.ones(16, dtype=torch.bool))


@pytest.mark.parametrize("grid", [(4, 4), (3, 5)])
def test_row_column_embedding_shares_a_half_along_each_row_and_column(grid):
    Gh, Gw = grid
    pos_embed = row_column_embedding(grid, 6, generator=torch.Generator().manual_seed(0))
    assert pos_embed.shape == (1, 1 + Gh * Gw, 6)
    assert torch.equal(pos_embed[0, 0], torch.zeros(6))  # the class token's place
    patches = pos_embed[0, 1:].reshape(Gh, Gw, 6)
    for i in range(Gh):
        for j in range(Gw):  # hand-worked: row i's half beside column j's half
            assert torch.equal(patches[i, j, :3], patches[i, 0, :3])
            assert torch.equal(patches[i, j, 3:], patches[0, j, 3:])
    halves = torch.randn(Gh + Gw, 3, generator=torch.Generator().manual_seed(0))
    assert torch.equal(patches[Gh - 1, Gw - 1], torch.cat([halves[Gh - 1], halves[Gh + Gw - 1]]))


def test_row_column_embedding_shows_the_row_and_column_pattern():
    pos_embed = row_column_embedding((4, 4), 512, generator=torch.Generator().manual_seed(0))
    assert same_line_contrast(pos_embed, (4, 4)) == pytest.approx(0.5, abs=0.05)  # nearly orthogonal halves
    random = torch.randn(1, 17, 512, generator=torch.Generator().manual_seed(1))
    assert abs(same_line_contrast(random, (4, 4))) < 0.05


def test_row_column_embedding_errors_name_the_argument():
    with pytest.raises(ValueError, match="dim must be an even int"):
        row_column_embedding((4, 4), 5)
    with pytest.raises(ValueError, match="grid must be"):
        row_column_embedding((4,), 4)
    with pytest.raises(ValueError, match="num_prefix_tokens must be"):
        row_column_embedding((4, 4), 4, num_prefix_tokens=-1)
