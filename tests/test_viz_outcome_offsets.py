"""plot_outcome_offsets keeps plot_outcome_grid's cells and squares and writes each arm's relative position under
its name, in the colour that says whether a weight per offset is built in."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from minivit import viz  # noqa: E402
from minivit.viz.outcome_offsets import OFFSETS  # noqa: E402
from minivit.viz.two_marks import OUTCOME  # noqa: E402

RUNS = [dict(arm="cnn", seed=s, test_accuracy=a) for s, a in enumerate((0.5, 0.7, 0.99))]
RUNS += [dict(arm="attention", seed=0, test_accuracy=0.96)]
PLACEMENT = {"cnn": ("near", "no"), "attention": ("far", "yes")}
OFFSET_NOTES = {"cnn": (True, "a weight per offset"), "attention": (False, "none between patches")}


def by_gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_each_arm_gets_its_note_under_its_name_in_its_cell():
    fig = viz.plot_outcome_offsets(RUNS, PLACEMENT, ("near", "far"), ("no", "yes"), 0.6, OFFSET_NOTES, title="t")
    (ax,) = fig.axes
    names = {t.get_text(): t.get_position() for t in by_gid(ax, "arm")}
    notes = {t.get_text(): t for t in by_gid(ax, "offsets")}
    assert set(notes) == {"a weight per offset", "none between patches"}
    for arm, (built_in, note) in OFFSET_NOTES.items():
        x, y = notes[note].get_position()
        assert int(x) == int(names[arm][0]) and int(y) == int(names[arm][1])  # the same cell as its arm
        assert names[arm][1] < y  # under the name (rows grow downwards)
        assert to_rgba(notes[note].get_color()) == to_rgba(OFFSETS[built_in])
    markers = by_gid(ax, "offsets-marker")
    assert [to_rgba(m.get_markerfacecolor()) for m in markers] == [to_rgba(OFFSETS[True]), to_rgba("white")]
    squares = by_gid(ax, "run")  # plot_outcome_grid's squares, unchanged
    expected = ["not solved", "part of the way", "solved", "solved"]
    assert [s.get_facecolor() for s in squares] == [to_rgba(OUTCOME[name]) for name in expected]
    assert fig.get_suptitle() == "t"


@pytest.mark.parametrize(
    "offsets, words",
    [
        ({"cnn": (True, "x")}, "offsets must give (built in, note) for every arm, got none for 'attention'"),
        ({"cnn": (1, "x"), "attention": (False, "y")}, "each value of offsets must be a (bool, str) pair, got (1, 'x')"),
    ],
)
def test_refuses_bad_offsets(offsets, words):
    with pytest.raises(ValueError) as error:
        viz.plot_outcome_offsets(RUNS, PLACEMENT, ("near", "far"), ("no", "yes"), 0.6, offsets)
    assert words in str(error.value)
