"""The masked-attention figure draws minivit.attention's weights without and with a mask, every forbidden cell
marked; the figure against uniform draws a model's weights as multiples of 1/(N+1), its colour scale centred at 1."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit import attention  # noqa: E402
from minivit.models.vit import VisionTransformer, ViTConfig  # noqa: E402
from minivit.viz import plot_attention_vs_uniform, plot_masked_attention  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def data(ax):
    return np.asarray(ax.get_images()[0].get_array())


def band(n):  # (n, n): query i may see keys i-1, i, i+1
    return (torch.arange(n)[:, None] - torch.arange(n)[None]).abs() <= 1


@pytest.mark.parametrize("Nq, Nk, d", [(5, 5, 4), (3, 7, 2), (12, 12, 8)])
def test_masked_attention_draws_minivits_weights_and_marks_every_forbidden_cell(Nq, Nk, d):
    torch.manual_seed(0)
    q, k = torch.randn(Nq, d), torch.randn(Nk, d)
    mask = torch.rand(Nq, Nk) < 0.6
    mask[torch.arange(Nq), torch.arange(Nq) % Nk] = True  # every query may see at least one key
    plain, middle, masked = plot_masked_attention(q, k, mask).axes[:3]
    expected = attention(q, k, k)[1]
    np.testing.assert_allclose(data(plain), expected.numpy(), rtol=1e-6)
    np.testing.assert_allclose(data(middle), mask.float().numpy())
    weights = data(masked)
    np.testing.assert_allclose(weights, attention(q, k, k, mask=mask)[1].numpy(), rtol=1e-6)
    assert (weights[~mask.numpy()] == 0).all()  # exactly 0, not small
    np.testing.assert_allclose(weights.sum(-1), 1, atol=1e-6)
    forbidden = [(round(r.get_y() + 0.5), round(r.get_x() + 0.5)) for r in with_gid(masked.patches, "forbidden")]
    assert forbidden == [tuple(ij) for ij in (~mask).nonzero().tolist()]
    assert len(with_gid(middle.texts, "blocked")) == int((~mask).sum())
    texts = [t.get_text() for t in with_gid(masked.texts, "weight")]
    assert texts == ["0" if w == 0 else f"{w:.2f}" for w in weights.flatten()]
    assert len(with_gid(plain.texts, "weight")) == Nq * Nk


def test_masked_attention_scale_runs_from_0_to_1_in_both_weight_panels():
    fig = plot_masked_attention(torch.randn(4, 3), torch.randn(4, 3), band(4))
    for ax in (fig.axes[0], fig.axes[2]):
        assert ax.get_images()[0].get_clim() == (0.0, 1.0)


@pytest.mark.parametrize("q, k, mask, error, message", [
    (torch.randn(4), torch.randn(4, 2), band(4), ValueError, r"q must have shape \(Nq, d\)"),
    ([[1.0]], torch.randn(4, 2), band(4), TypeError, "q must be a torch.Tensor"),
    (torch.randn(4, 2), torch.randn(4, 3), band(4), ValueError, r"k must have shape \(Nk, d\) = \(Nk, 2\)"),
    (torch.randn(13, 2), torch.randn(13, 2), band(13), ValueError, "at most 12 tokens"),
    (torch.randn(4, 2), torch.randn(4, 2), band(4).float(), ValueError, "bool tensor of shape"),
    (torch.randn(4, 2), torch.randn(4, 2), band(5), ValueError, r"\(Nq, Nk\) = \(4, 4\), got \(5, 5\)"),
    (torch.randn(2, 2), torch.randn(2, 2), torch.tensor([[True, False], [False, False]]), ValueError,
     r"rows \[1\] allow none"),
])
def test_masked_attention_names_bad_input(q, k, mask, error, message):
    with pytest.raises(error, match=message):
        plot_masked_attention(q, k, mask)


@pytest.fixture(scope="module")
def small_vit():
    torch.manual_seed(0)
    config = ViTConfig(image_size=(24, 32), patch_size=8, dim=16, depth=2, num_heads=2, num_classes=3)
    return VisionTransformer(config), torch.rand(3, 24, 32)  # a 3 x 4 grid of patches, N + 1 = 13 tokens


@pytest.mark.parametrize("layer, head, query", [(-1, None, 0), (0, 1, 6)])
def test_attention_vs_uniform_draws_n_plus_1_times_the_weights(small_vit, layer, head, query):
    model, image = small_vit
    model.train()
    fig = plot_attention_vs_uniform(model, image, layer=layer, head=head, query=query)
    assert model.training  # the mode is restored
    model.eval()
    with torch.no_grad():
        attn = model.attention_maps(image[None])[layer][0]  # (nh, 13, 13)
    row = attn[:, query].mean(0) if head is None else attn[head, query]
    grid = fig.axes[1]
    np.testing.assert_allclose(data(grid), 13 * row[1:].reshape(3, 4).numpy(), rtol=1e-5)
    norm = grid.get_images()[0].norm
    assert (norm.vmin, norm.vcenter) == (0.0, 1.0) and norm.vmax >= 2.0  # white = uniform, never stretched
    assert [t.get_text() for t in with_gid(grid.texts, "ratio")] == [f"{v:.1f}" for v in data(grid).flatten()]
    assert len(with_gid(grid.patches, "query")) == (query > 0)
    assert f"{13 * float(row[0]):.2f}" in fig.get_suptitle()


def test_uniform_weights_are_drawn_as_1_in_the_middle_of_the_scale():
    class Uniform(torch.nn.Module):  # every query spreads its weight evenly over 1 + 4 tokens
        def attention_maps(self, x):
            return [torch.full((1, 2, 5, 5), 0.2)]

    fig = plot_attention_vs_uniform(Uniform(), torch.rand(3, 16, 16))
    np.testing.assert_allclose(data(fig.axes[1]), np.ones((2, 2)), rtol=1e-6)
    assert fig.axes[1].get_images()[0].norm(1.0) == pytest.approx(0.5)


def test_attention_vs_uniform_checks_its_arguments(small_vit):
    model, image = small_vit
    for kwargs, word in [({"layer": 2}, "layer"), ({"head": 2}, "head"), ({"query": 13}, "query"),
                         ({"query": True}, "query")]:
        with pytest.raises(ValueError, match=word):
            plot_attention_vs_uniform(model, image, **kwargs)
    with pytest.raises(ValueError, match="attention_maps"):
        plot_attention_vs_uniform(torch.nn.Linear(2, 2), image)
