"""The bias-in-attention figures of notebook 05: the path diagram carries the shapes worked out by hand for
Swin-T's first stage (M = 7, 3 heads, C = 96) and for a small layer, and the weights figure holds the
softmax written out here, key by key, from the definition "weight = exp(score + bias) / sum over the keys"."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit import viz  # noqa: E402
from minivit.models.swin import WindowAttention  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def labels(ax):
    return [t.get_text() for t in with_gid(ax.texts, "step-label")]


def test_bias_path_of_swin_t_stage_1():
    torch.manual_seed(0)
    ax = viz.plot_bias_path(WindowAttention(dim=96, num_heads=3, window_size=7)).axes[0]
    # by hand: (2 * 7 - 1)^2 = 169 offsets, N = 49 tokens, 3 heads of 96 / 3 = 32, qkv 96 -> 288
    assert labels(ax) == [
        "table: relative_position_bias_table\n(169, 3) = ((2M-1)^2, nh)",
        "relative_position_index(7)\n(49, 49) = (N, N)",
        "gather: table[index].permute(2, 0, 1)\n(3, 49, 49) = (nh, N, N)",
        "one window's tokens, N = 7 x 7\n(1, 49, 96)",
        "qkv: Linear 96 -> 288, 3 heads\nq, k, v (1, 3, 49, 32) each",
        "scores: q k^T / sqrt(32)\n(1, 3, 49, 49)",
        "add: scores + bias (SW-MSA: + mask too)\n(1, 3, 49, 49)",
        "softmax over the keys: weights\n(1, 3, 49, 49)",
        "weights @ v\n(1, 3, 49, 32)",
    ]
    assert len(with_gid(ax.patches, "step")) == 9 and len(with_gid(ax.patches, "arrow")) == 8


def test_bias_path_of_a_small_shifted_layer():
    torch.manual_seed(0)
    ax = viz.plot_bias_path(WindowAttention(dim=8, num_heads=2, window_size=4, shift_size=2)).axes[0]
    texts = labels(ax)
    assert texts[0].startswith("table: relative_position_bias_table\n(49, 2)")  # (2 * 4 - 1)^2 = 49
    assert texts[2].endswith("(2, 16, 16) = (nh, N, N)") and texts[4].endswith("(1, 2, 16, 4) each")
    with pytest.raises(TypeError, match="layer must be a minivit WindowAttention, got Linear"):
        viz.plot_bias_path(torch.nn.Linear(2, 2))


def offset_table(M, favoured, value):
    """A one-head table that adds `value` to offset `favoured` = (dy, dx) = query - key, 0 elsewhere."""
    table = torch.zeros((2 * M - 1) ** 2, 1)
    dy, dx = favoured
    table[(dy + M - 1) * (2 * M - 1) + (dx + M - 1), 0] = value
    return table


def images(ax):
    return np.asarray(ax.get_images()[0].get_array())


def test_biased_attention_equals_the_softmax_written_out():
    torch.manual_seed(0)
    M, hs = 4, 8
    q, k = torch.randn(1, M * M, hs), torch.randn(1, M * M, hs)
    table = offset_table(M, (0, 1), 2.0)  # the key one column LEFT of its query gets + 2
    fig = viz.plot_biased_attention(q, k, table, M, query=(1, 2))
    i, j = 1, 2
    row = i * M + j
    scores = [float(q[0, row] @ k[0, key]) / math.sqrt(hs) for key in range(M * M)]
    bias = [2.0 if key == i * M + (j - 1) else 0.0 for key in range(M * M)]  # key (1, 1)
    for ax, added in ((fig.axes[0], [0.0] * 16), (fig.axes[2], bias)):
        e = [math.exp(s + b) for s, b in zip(scores, added)]
        np.testing.assert_allclose(images(ax), np.array(e).reshape(M, M) / sum(e), rtol=1e-5)
    np.testing.assert_array_equal(images(fig.axes[1]), np.array(bias).reshape(M, M))
    # after the softmax, the favoured key's weight grows e^2 times as much as every other key's
    ratio = images(fig.axes[2]) / images(fig.axes[0])
    others = np.delete(ratio.flatten(), i * M + j - 1)
    np.testing.assert_allclose(others, others[0], rtol=1e-5)
    assert ratio[1, 1] / others[0] == pytest.approx(math.exp(2.0), rel=1e-5)
    for ax in fig.axes[:3]:
        (query,) = with_gid(ax.patches, "query")
        assert query.get_xy() == (j - 0.5, i - 0.5)
    assert with_gid(fig.axes[2].texts, "value")[i * M + j - 1].get_text() == f"{100 * images(fig.axes[2])[1, 1]:.0f}%"


def test_biased_attention_names_the_table_it_draws():
    q = torch.zeros(2, 16, 8)
    one = viz.plot_biased_attention(q[:1], q[:1], torch.zeros(49, 1), 4, query=0)
    two = viz.plot_biased_attention(q, q, torch.zeros(49, 2), 4, query=0, head=1)
    assert one.axes[1].get_title() == "+ bias from the table (keys where they sit)"
    assert two.axes[1].get_title() == "+ bias from column 1 of the table (keys where they sit)"


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(q=torch.zeros(1, 15, 8)), ValueError, r"q must have shape \(nh, N, hs\) = \(nh, 16, hs\)"),
    (dict(k=torch.zeros(1, 16, 4)), ValueError, "q and k must have the same shape"),
    (dict(table=torch.zeros(49, 2)), ValueError, r"one column per head of q \(1\), got 2"),
    (dict(table=torch.zeros(48, 1)), ValueError, "table must have shape"),
    (dict(head=1), ValueError, r"head must be an index in \[0, 1\), got 1"),
    (dict(query=(4, 0)), ValueError, "query must be an index"),
])
def test_biased_attention_checks_its_arguments(kwargs, error, message):
    arguments = dict(q=torch.zeros(1, 16, 8), k=torch.zeros(1, 16, 8), table=torch.zeros(49, 1), window_size=4,
                     query=0) | kwargs
    with pytest.raises(error, match=message):
        viz.plot_biased_attention(**arguments)
