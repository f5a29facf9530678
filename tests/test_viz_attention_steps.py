"""The attention-steps figure draws Q, Kᵀ, the scores, the weights, V and the output with the numbers that
minivit.attention computes (checked against a hand-worked example); the weight-matrix figure draws the weights it
is given; and ViT's diagram keeps the numbers of a fine grid of patches readable, beside the grid."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib import colormaps  # noqa: E402

from minivit import viz  # noqa: E402
from minivit.models.vit import VisionTransformer, ViTConfig, vit_b_16  # noqa: E402
from minivit.ops.attention import attention  # noqa: E402
from minivit.viz.attention_steps import STEP_PANELS  # noqa: E402

# notebook 02's hand-made example: query 0 looks for key 0, query 1 for keys 1 and 2 alike, query 2 for nothing
Q = torch.tensor([[2.0, 0.0], [-1.0, 1.0], [0.0, 0.0]])
K = torch.tensor([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0]])
V = torch.tensor([[10.0], [20.0], [30.0]])


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def numbers(ax, gid):
    return [float(t.get_text()) for t in with_gid(ax.texts, gid)]


def test_steps_by_hand():
    steps = viz.attention_steps(Q, K, V, scale=1.0)
    assert steps["scores"].tolist() == [[4.0, 0.0, -4.0], [-2.0, 2.0, 2.0], [0.0, 0.0, 0.0]]
    e = [[math.exp(s) for s in row] for row in steps["scores"].tolist()]
    expected = torch.tensor([[x / sum(row) for x in row] for row in e])
    torch.testing.assert_close(steps["weights"], expected)
    assert steps["weights"][2].tolist() == pytest.approx([1 / 3] * 3)  # a zero query weighs every key alike
    torch.testing.assert_close(steps["output"], expected @ V)
    assert steps["output"][2].item() == pytest.approx(20.0)  # ... and returns the mean of the values
    assert torch.equal(steps["kT"], K.T) and torch.equal(steps["q"], Q) and torch.equal(steps["v"], V)


@pytest.mark.parametrize("Nq, Nk, d, dv", [(3, 3, 2, 1), (4, 6, 3, 2), (1, 2, 6, 6)])
def test_steps_are_minivit_attention_with_its_default_scale(Nq, Nk, d, dv):
    generator = torch.Generator().manual_seed(Nq + 10 * Nk)
    q, k, v = (torch.randn(n, m, generator=generator) for n, m in ((Nq, d), (Nk, d), (Nk, dv)))
    steps = viz.attention_steps(q, k, v)
    output, weights = attention(q, k, v)
    torch.testing.assert_close(steps["weights"], weights)
    torch.testing.assert_close(steps["output"], output)
    torch.testing.assert_close(steps["scores"], q @ k.T / math.sqrt(d))
    assert torch.allclose(steps["weights"].sum(-1), torch.ones(Nq))


@pytest.mark.parametrize("Nq, Nk, d, dv", [(3, 3, 2, 1), (4, 6, 3, 2), (1, 2, 6, 6)])
def test_figure_writes_every_matrix_row_major_with_its_numbers(Nq, Nk, d, dv):
    generator = torch.Generator().manual_seed(Nq + 10 * Nk)
    q, k, v = (torch.randn(n, m, generator=generator) for n, m in ((Nq, d), (Nk, d), (Nk, dv)))
    fig = viz.plot_attention_steps(q, k, v)
    (ax,) = fig.axes
    steps = viz.attention_steps(q, k, v)
    for name in STEP_PANELS:
        matrix = steps[name]
        assert len(with_gid(ax.patches, f"{name}-cell")) == matrix.numel()
        np.testing.assert_allclose(numbers(ax, f"{name}-value"), matrix.flatten().numpy(), atol=0.0051)
    operators = [t.get_text() for t in with_gid(ax.texts, "operator")]
    assert operators == ["\u00d7", f"\u00d7 1/\u221a{d} =", "\u00d7", "="]
    captions = [t.get_text() for t in with_gid(ax.texts, "caption")]
    assert captions == [f"Q ({Nq}, {d})", f"K\u1d40 ({d}, {Nk})", f"scores ({Nq}, {Nk})", f"weights ({Nq}, {Nk})",
                        f"V ({Nk}, {dv})", f"output ({Nq}, {dv})"]
    assert isinstance(fig, viz.NotebookFigure) and fig._repr_png_().startswith(b"\x89PNG")


def test_figure_of_the_hand_worked_example():
    fig = viz.plot_attention_steps(Q, K, V, scale=1.0)
    (ax,) = fig.axes
    assert [t.get_text() for t in with_gid(ax.texts, "scores-value")] == ["4", "0", "-4", "-2", "2", "2", "0", "0", "0"]
    assert [t.get_text() for t in with_gid(ax.texts, "weights-value")] == [
        "0.98", "0.02", "0.00", "0.01", "0.50", "0.50", "0.33", "0.33", "0.33"]
    assert [t.get_text() for t in with_gid(ax.texts, "output-value")] == ["10.19", "24.86", "20"]
    assert "\u00d7 1 =" in [t.get_text() for t in with_gid(ax.texts, "operator")]
    # the weights on viridis from 0 to 1: the cell of weight 0.98 is (almost) its top colour, yellow
    cells = with_gid(ax.patches, "weights-cell")
    np.testing.assert_allclose(cells[0].get_facecolor(), colormaps["viridis"](0.982), atol=0.01)


def test_weight_matrices_draw_the_weights_given():
    before = torch.full((4, 4), 0.25)
    after = torch.eye(4).flip(1)
    marked = torch.eye(4, dtype=torch.bool).flip(1)
    labels = ["0: 7", "1: 3", "2: 3", "3: 9"]
    fig = viz.plot_weight_matrices({"before": before, "after": after}, query_labels=labels, marked=marked,
                                   title="reversal")
    left, right = fig.axes[:2]
    for ax, w, name in ((left, before, "before"), (right, after, "after")):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), w.numpy())
        assert numbers(ax, "weight") == pytest.approx(w.flatten().tolist())
        assert ax.get_title() == name
        assert [t.get_text() for t in ax.get_yticklabels()] == labels  # keys named as the queries: Nq == Nk
        assert [t.get_text() for t in ax.get_xticklabels()] == labels
        corners = [(round(p.get_x() + 0.5), round(p.get_y() + 0.5)) for p in with_gid(ax.patches, "marked")]
        assert corners == [(3, 0), (2, 1), (1, 2), (0, 3)]  # (key, query) of the mirrored places, row-major
    assert fig._suptitle.get_text() == "reversal"


def test_weight_matrices_in_rows_of_columns():
    weights = {f"panel {i}": torch.eye(3)[torch.tensor([i % 3, (i + 1) % 3, (i + 2) % 3])] for i in range(4)}
    fig = viz.plot_weight_matrices(weights, columns=2)
    panels = [ax for ax in fig.axes if ax.get_title().startswith("panel")]
    assert [ax.get_title() for ax in panels] == list(weights)
    for ax, w in zip(panels, weights.values()):
        np.testing.assert_array_equal(ax.get_images()[0].get_array(), w.numpy())
    fig.canvas.draw()
    x0, y0 = zip(*((ax.get_position().x0, ax.get_position().y0) for ax in panels))
    assert x0[0] == pytest.approx(x0[2]) and x0[1] == pytest.approx(x0[3]) and x0[0] < x0[1]  # two columns
    assert y0[0] == pytest.approx(y0[1]) and y0[2] == pytest.approx(y0[3]) and y0[0] > y0[2]  # two rows, in order
    assert len(fig.axes) == 5  # four panels and one colour bar
    three = viz.plot_weight_matrices(dict(list(weights.items())[:3]), columns=2)
    assert len(three.axes) == 4  # the empty fourth place of the grid is removed


@pytest.mark.parametrize("call, error, message", [
    (lambda: viz.plot_weight_matrices({"a": torch.ones(2, 2) / 2}, columns=0), ValueError,
     "columns must be None or an int >= 1, got 0"),
    (lambda: viz.attention_steps(Q, K[:, :1], V), ValueError, r"need q \(Nq, d\), k \(Nk, d\)"),
    (lambda: viz.attention_steps(Q, K, V[:2]), ValueError, r"need q \(Nq, d\), k \(Nk, d\), v \(Nk, dv\)"),
    (lambda: viz.attention_steps(torch.zeros(7, 2), K, V), ValueError, "at most 6 rows and columns"),
    (lambda: viz.attention_steps(Q[None], K, V), ValueError, r"q must have shape \(Nq, d\)"),
    (lambda: viz.attention_steps(Q, K, V, scale=float("nan")), ValueError, "scale must be None or a finite number"),
    (lambda: viz.plot_attention_steps(Q.numpy(), K, V), TypeError, "q must be a torch.Tensor"),
    (lambda: viz.plot_weight_matrices({}), ValueError, "weights must be a non-empty dict"),
    (lambda: viz.plot_weight_matrices({"a": torch.ones(3, 3) / 3, "b": torch.ones(3, 4) / 4}), ValueError,
     "the same shape"),
    (lambda: viz.plot_weight_matrices({"a": torch.ones(13, 13) / 13}), ValueError, "at most 12 x 12"),
    (lambda: viz.plot_weight_matrices({"a": torch.full((2, 2), 2.0)}), ValueError, r"weights in \[0, 1\]"),
    (lambda: viz.plot_weight_matrices({"a": torch.ones(2, 2) / 2}, query_labels=["x"]), ValueError,
     "must name the 2 rows and 2 columns"),
    (lambda: viz.plot_weight_matrices({"a": torch.ones(2, 2) / 2}, marked=torch.ones(2, 2)), ValueError,
     "marked must be None or a bool tensor"),
])
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_vit_numbers_a_fine_grid_of_patches_beside_it():
    with torch.device("meta"):
        model = vit_b_16()
    sequence = viz.plot_vit(model, 224).axes[0]
    labels = with_gid(sequence.texts, "patch-label")
    assert [t.get_text() for t in labels] == ["0", "1", "2", "195"]
    patches = with_gid(sequence.patches, "patch")
    top = max(p.get_y() + p.get_height() for p in patches)
    right = max(p.get_x() + p.get_width() for p in patches)
    assert all(t.get_position()[1] >= top for t in labels[:3])  # above the grid, over their columns
    for t, p in zip(labels[:3], patches[:3]):
        assert t.get_position()[0] == pytest.approx(p.get_x() + p.get_width() / 2)
    assert labels[3].get_position()[0] > right  # right of the grid, level with the last patch
    assert labels[3].get_position()[1] == pytest.approx(patches[-1].get_y() + patches[-1].get_height() / 2)
    marked = with_gid(sequence.patches, "patch-marked")
    assert [(m.get_x(), m.get_y()) for m in marked] == [(patches[n].get_x(), patches[n].get_y()) for n in (0, 1, 2, 195)]
    # a coarse grid keeps its numbers in the cells, with nothing outlined
    coarse = VisionTransformer(ViTConfig(image_size=64, patch_size=8, dim=16, depth=1, num_heads=2, num_classes=3))
    sequence = viz.plot_vit(coarse, 64).axes[0]
    patches = with_gid(sequence.patches, "patch")
    for t, n in zip(with_gid(sequence.texts, "patch-label"), (0, 1, 2, 63)):
        x, y = t.get_position()
        assert patches[n].contains_point(sequence.transData.transform((x, y)))
    assert not with_gid(sequence.patches, "patch-marked")
