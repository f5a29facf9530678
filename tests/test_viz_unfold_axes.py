"""The unfold-axes diagram (notebook 07): its sizes are read from running the steps, the steps equal
mobilevit_unfold on real numbers, and every box shows one axis's name and size."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from minivit import mobilevit_unfold, viz  # noqa: E402
from minivit.viz.unfold_axes import MOVED, ROLE, SPLIT  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def test_axes_of_the_notebook_example_by_hand():
    steps = viz.unfold_axes((2, 64, 32, 32), 2)
    assert [s.names for s in steps] == [("B", "C", "H", "W"), SPLIT, MOVED, ("B*P", "N", "C")]
    # 32 = 16 patches of 2 on each side; P = 2*2 = 4 sequences per image; N = 16*16 = 256 patches
    assert [s.sizes for s in steps] == [(2, 64, 32, 32), (2, 64, 16, 2, 16, 2), (2, 2, 2, 16, 16, 64), (8, 256, 64)]
    assert steps[2].code == ".permute(0, 3, 5, 2, 4, 1)"


@pytest.mark.parametrize("shape, patch", [((1, 1, 4, 6), (2, 3)), ((2, 3, 4, 4), 2), ((3, 2, 6, 6), 3)])
def test_the_steps_drawn_are_mobilevit_unfold(shape, patch):
    x = torch.randn(shape)
    steps = viz.unfold_axes(shape, patch)
    order = tuple(SPLIT.index(name) for name in steps[2].names)
    by_steps = x.reshape(steps[1].sizes).permute(order).reshape(steps[3].sizes)
    assert torch.equal(by_steps, mobilevit_unfold(x, patch))


def test_every_box_shows_its_axis_and_size():
    ax = viz.plot_unfold_axes((2, 64, 32, 32), 2).axes[0]
    expected = {
        "input": ["B = 2", "C = 64", "H = 32", "W = 32"],
        "split": ["B = 2", "C = 64", "gh = 16", "ph = 2", "gw = 16", "pw = 2"],
        "moved": ["B = 2", "ph = 2", "pw = 2", "gh = 16", "gw = 16", "C = 64"],
        "merged": ["B*P = 8", "N = 256", "C = 64"],
    }
    for step, labels in expected.items():
        assert [t.get_text() for t in with_gid(ax.texts, f"{step}-label")] == labels, step
        assert len(with_gid(ax.patches, f"{step}-axis")) == len(labels)
    assert len(with_gid(ax.patches, "permute")) == 6
    codes = [t.get_text() for t in with_gid(ax.texts, "code")]
    assert codes[1] == "x.reshape(2, 64, 16, 2, 16, 2)\nshape (2, 64, 16, 2, 16, 2)"
    assert codes[3].endswith("shape (8, 256, 64)")


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="multiple of patch"):
        viz.unfold_axes((1, 1, 5, 4), 2)
    with pytest.raises(ValueError, match="shape must be"):
        viz.plot_unfold_axes((1, 4, 4), 2)


def test_merged_boxes_keep_the_colours_of_the_axes_they_merge():
    ax = viz.plot_unfold_axes((2, 64, 32, 32), 2).axes[0]
    fills = [to_hex(p.get_facecolor()) for p in ax.patches if p.get_gid() == "merged-fill"]
    # B*P over B, ph, pw; N over gh, gw; C over C
    assert fills == [ROLE["B"], ROLE["ph"], ROLE["pw"], ROLE["gh"], ROLE["gw"], ROLE["C"]]
