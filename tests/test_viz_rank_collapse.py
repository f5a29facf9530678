"""The rank-collapse figure draws, for every setting and seed, the spreads of the tokens it is given, block by
block, on a log scale, with float32's round-off marked."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from minivit.models.layers import TransformerBlock  # noqa: E402
from minivit.viz.rank_collapse import plot_rank_collapse  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def spread(tokens):  # (N, D) -> ||X - 1 x̄ᵀ|| / ||X||, written here independently of the figure
    return ((tokens - tokens.mean(dim=0, keepdim=True)).norm() / tokens.norm()).item()


def spreads_through(blocks, x, residual):
    values = [spread(x[0])]
    for b in blocks:
        a = b.attn(b.norm1(x))
        x = x + a if residual else a
        values.append(spread(x[0]))
    return values


def test_draws_one_line_per_seed_with_the_given_values():
    torch.manual_seed(0)
    blocks = [TransformerBlock(16, num_heads=2) for _ in range(3)]
    curves = {}
    with torch.no_grad():
        for name, residual in (("with residuals", True), ("attention alone", False)):
            curves[name] = [spreads_through(blocks, torch.randn(1, 8, 16), residual) for _ in range(2)]
    fig = plot_rank_collapse(curves, title="three blocks")
    ax = fig.axes[0]
    lines = with_gid(ax.lines, "curve")
    assert len(lines) == 4  # 2 settings x 2 seeds, in order
    expected = [values for seeds in curves.values() for values in seeds]
    for line, values in zip(lines, expected):
        assert list(line.get_xdata()) == [0, 1, 2, 3]
        assert list(line.get_ydata()) == pytest.approx(values)
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["with residuals", "attention alone"]
    assert ax.get_yscale() == "log" and ax.get_title() == "three blocks"
    assert ax.get_ylabel().startswith("spread of the tokens")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["input", "1", "2", "3"]
    (floor,) = with_gid(ax.lines, "round-off")
    assert floor.get_ydata()[0] == pytest.approx(torch.finfo(torch.float32).eps)


@pytest.mark.parametrize("curves, error, message", [
    ({}, ValueError, "non-empty dict"),
    ({"a": [[1.0, 0.5], [1.0]]}, ValueError, r"same length L \+ 1 >= 2.*\[1, 2\]"),
    ({"a": [[1.0, 0.0]]}, ValueError, "positive finite values"),
    ({"a": []}, ValueError, r"curves\['a'\] must be a non-empty sequence"),
    ({1: [[1.0, 0.5]]}, TypeError, "setting names"),
])
def test_rejects_bad_input(curves, error, message):
    with pytest.raises(error, match=message):
        plot_rank_collapse(curves)
