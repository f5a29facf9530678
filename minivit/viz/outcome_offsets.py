"""The two-marks experiment's outcome grid with a third distinction: under each arm, whether a weight per offset
(relative position) is built into it, so that the grid shows all three properties the notebook names: reach
(rows), absolute position (columns) and relative position (the line under each arm).

    plot_outcome_offsets(runs, placement, rows, columns, part_of_the_way, offsets)
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure

from minivit.viz.two_marks import plot_outcome_grid

OFFSETS = {True: "#6a3d9a", False: "0.45"}  # the note's colour: built in (purple) or not (grey)


def plot_outcome_offsets(
    runs: Sequence[dict], placement: dict[str, tuple[str, str]], rows: Sequence[str], columns: Sequence[str],
    part_of_the_way: float, offsets: dict[str, tuple[bool, str]], solved: float = 0.95,
    row_title: str = "", column_title: str = "", title: str = "",
) -> Figure:
    """`plot_outcome_grid` (reach x absolute position, one square per run) with a note under each arm's name
    on its relative position: a filled marker and the note in purple where a weight per offset is built in,
    an open marker and the note in grey where none is.

    Args:
        runs, placement, rows, columns, part_of_the_way, solved, row_title, column_title: as for
            `minivit.viz.two_marks.plot_outcome_grid`.
        offsets: arm -> (built in, note), one entry for every arm of `runs`; e.g. "CNN" -> (True, "a weight per
            offset, 7 x 7").
        title: the figure's title, above the grid; "" for none.

    Returns:
        the Figure of `plot_outcome_grid`, its arm names (gid "arm") moved up a little; under each a Text with
        gid "offsets" reading its note, in OFFSETS[built in], and a marker (gid "offsets-marker") before it,
        filled where built in; the title as the figure's suptitle.
    """
    arms = list(dict.fromkeys(row["arm"] for row in runs))
    missing = [arm for arm in arms if arm not in offsets]
    if missing:
        raise ValueError(f"offsets must give (built in, note) for every arm, got none for {missing[0]!r}")
    bad = [value for value in offsets.values()
           if not (isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool)
                   and isinstance(value[1], str))]
    if bad:
        raise ValueError(f"each value of offsets must be a (bool, str) pair, got {bad[0]!r}")
    fig = plot_outcome_grid(runs, placement, rows, columns, part_of_the_way, solved=solved,
                            row_title=row_title, column_title=column_title)
    (ax,) = fig.axes
    width, height = fig.get_size_inches()
    fig.set_size_inches(width, height + 0.25 * len(rows))  # room for the second line of each arm
    slots = max(2, max(sum(placement[arm] == cell for arm in arms) for cell in set(placement.values())))
    step = 0.17 / slots  # half the gap between the name and the note, in rows of the grid
    for text in [a for a in ax.get_children() if a.get_gid() == "arm"]:
        x, y = text.get_position()
        built_in, note = offsets[text.get_text()]
        text.set_position((x, y - step))
        ax.plot(x + 0.012, y + step, marker="o", markersize=5, color=OFFSETS[built_in],
                markerfacecolor=OFFSETS[built_in] if built_in else "white", gid="offsets-marker")
        ax.text(x + 0.03, y + step, note, va="center", fontsize=8, color=OFFSETS[built_in], gid="offsets")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
