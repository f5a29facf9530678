"""The relative position bias figures of notebook 05 and the outline key of plot_windows (notebook 04):
their data equals a brute-force construction written out here, loop by loop, from the definition
"bias of a pair = the table row of (query row - key row, query column - key column)", and every table is
drawn where the keys sit around the query: cell [a, b] is the key a - (M-1) rows below and b - (M-1)
columns right of its query."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from minivit import viz  # noqa: E402


def table_entry(table, Mh, Mw, dy, dx, head):
    """The table row of offset (dy, dx) = query minus key: row-major over dy, dx in -(M-1) .. M-1."""
    return float(table[(dy + Mh - 1) * (2 * Mw - 1) + (dx + Mw - 1), head])


def images(ax):
    return np.asarray(ax.get_images()[0].get_array())


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def drawn(table, Mh, Mw, head):
    """The table where the keys sit, cell by cell: cell (a, b) is the key at (a - (Mh-1), b - (Mw-1)) from
    the query, so (dy, dx) = query - key = ((Mh-1) - a, (Mw-1) - b)."""
    return np.array([[table_entry(table, Mh, Mw, (Mh - 1) - a, (Mw - 1) - b, head) for b in range(2 * Mw - 1)]
                     for a in range(2 * Mh - 1)])


@pytest.mark.parametrize("M, queries, head", [(4, [(0, 0), (2, 1)], 1), ((3, 5), [0, (2, 4), (1, 2)], 0), (2, [3], 2)])
def test_bias_crops_equal_brute_force(M, queries, head):
    Mh, Mw = (M, M) if isinstance(M, int) else M
    table = torch.randn((2 * Mh - 1) * (2 * Mw - 1), 3)
    fig = viz.plot_bias_crops(table, M, queries=queries, head=head)
    assert len(fig.axes) == 1 + len(queries) + 1  # the table, one map per query, the colour bar
    expected = drawn(table, Mh, Mw, head)
    np.testing.assert_allclose(images(fig.axes[0]), expected, rtol=0, atol=0)
    for k, q in enumerate(queries):
        i, j = divmod(q, Mw) if isinstance(q, int) else q
        # key (r, c) of the window, drawn at its own place in the window
        bias_map = np.array([[table_entry(table, Mh, Mw, i - r, j - c, head) for c in range(Mw)] for r in range(Mh)])
        ax = fig.axes[1 + k]
        np.testing.assert_allclose(images(ax), bias_map, rtol=0, atol=0)
        assert ax.get_title() == f"query ({i}, {j})"
        assert list(ax.get_xticks()) == list(range(Mw)) and list(ax.get_yticks()) == list(range(Mh))
        # its crop on the table: keys from i rows above to Mh-1-i below, j columns left to Mw-1-j right
        (crop,) = with_gid(fig.axes[0].patches, f"crop-{k}")
        assert crop.get_xy() == (-j - 0.5, -i - 0.5) and (crop.get_height(), crop.get_width()) == (Mh, Mw)
        np.testing.assert_allclose(expected[Mh - 1 - i:2 * Mh - 1 - i, Mw - 1 - j:2 * Mw - 1 - j], bias_map)
        (query,) = with_gid(ax.patches, "query")
        assert query.get_xy() == (j - 0.5, i - 0.5)  # the query at its place in the window


def test_bias_crops_hand_worked_2x2():
    table = torch.arange(9.0).reshape(9, 1) / 10  # M = 2: offsets (dy, dx) row-major, values 0.0 .. 0.8
    fig = viz.plot_bias_crops(table, 2, queries=[(0, 0), (1, 0)], head=0)
    # drawn where the keys sit: the table turned by 180 degrees, (dy, dx) = (1, 1) (key above left) 0.8 first
    assert [t.get_text() for t in with_gid(fig.axes[0].texts, "value")] == [f"{v / 10:.1f}" for v in range(8, -1, -1)]
    # query (0, 0): key (0, 0) is itself, row 4 -> 0.4; key (0, 1) one right, (dy, dx) = (0, -1), row 3 -> 0.3;
    # key (1, 0) one below, (-1, 0), row 1 -> 0.1; key (1, 1), (-1, -1), row 0 -> 0.0: the bottom-right crop
    np.testing.assert_allclose(images(fig.axes[1]), [[0.4, 0.3], [0.1, 0.0]], rtol=0, atol=1e-7)
    assert [t.get_text() for t in with_gid(fig.axes[1].texts, "value")] == ["0.4", "0.3", "0.1", "0.0"]
    # query (1, 0): key (0, 0) one above, (dy, dx) = (1, 0), row (1+1)*3 + (0+1) = 7 -> 0.7; key (0, 1) above
    # right, (1, -1), row 6 -> 0.6; then 0.4 and 0.3: the top-right crop
    np.testing.assert_allclose(images(fig.axes[2]), [[0.7, 0.6], [0.4, 0.3]], rtol=0, atol=1e-7)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(table=torch.zeros(48, 2), window_size=4), ValueError, "table must have shape"),
    (dict(table=np.zeros((49, 2)), window_size=4), TypeError, "table must be a torch.Tensor, got ndarray"),
    (dict(table=torch.zeros(49, 2), window_size=4, head=2), ValueError, r"head must be an index in \[0, 2\), got 2"),
    (dict(table=torch.zeros(49, 2), window_size=4, queries=[(4, 0)]), ValueError, "queries must be an index"),
    (dict(table=torch.zeros(49, 2), window_size=4, queries=[0, 1, 2, 3]), ValueError, "1 to 3 query tokens"),
])
def test_bias_crops_check_their_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        viz.plot_bias_crops(**kwargs)


def test_bias_table_is_drawn_where_the_keys_sit():
    table = torch.zeros(25, 1)
    table[(0 + 2) * 5 + (1 + 2), 0] = 1.0  # dy = 0, dx = 1: the key one column LEFT of its query
    fig = viz.plot_relative_position_bias(table, 3)
    grid = images(fig.axes[0])
    assert grid[2, 1] == 1.0 and grid.sum() == 1.0  # left of the centre, where that key sits
    (query,) = with_gid(fig.axes[0].patches, "query")
    assert query.get_xy() == (-0.5, -0.5)
    assert fig.axes[0].get_xlim() == (-2.5, 2.5) and fig.axes[0].get_ylim() == (2.5, -2.5)  # keys below: down
    assert fig.axes[0].get_xlabel().startswith("columns right of the query")


def test_bias_table_hand_worked_2x2():
    table = torch.arange(9.0).reshape(9, 1)  # M = 2, one head: row t holds t
    fig = viz.plot_relative_position_bias(table, 2)
    # the table's rows dy = -1, 0, 1 and columns dx = -1, 0, 1, turned by 180 degrees: the key above left,
    # (dy, dx) = (1, 1), row 8, top left
    np.testing.assert_array_equal(images(fig.axes[0]), [[8, 7, 6], [5, 4, 3], [2, 1, 0]])
    # tokens 0 (0, 0), 1 (0, 1), 2 (1, 0), 3 (1, 1); pair (query 3, key 0) has (dy, dx) = (1, 1): row 8
    np.testing.assert_array_equal(images(fig.axes[1]), [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]])


def test_table_layout_hand_worked():
    fig = viz.plot_table_layout(2)
    left, right = fig.axes[0], fig.axes[1]
    np.testing.assert_array_equal(images(left), [[8, 7, 6], [5, 4, 3], [2, 1, 0]])  # where the keys sit
    np.testing.assert_array_equal(images(right), [[0, 1, 2], [3, 4, 5], [6, 7, 8]])  # the table's own order
    assert [int(t.get_text()) for t in with_gid(left.texts, "row")] == list(range(8, -1, -1))
    # the key above and to the left: top left of the centre on the left, (dy, dx) = (1, 1) on the right
    ((example_left,), (example_right,)) = (with_gid(ax.patches, "example") for ax in (left, right))
    assert example_left.get_xy() == (-1.5, -1.5) and example_right.get_xy() == (0.5, 0.5)
    assert images(left)[0, 0] == images(right)[2, 2] == 8
    assert "reads row 8" in fig._suptitle.get_text()


@pytest.mark.parametrize("M", [3, (2, 4)])
def test_table_layout_is_the_index_turned(M):
    Mh, Mw = (M, M) if isinstance(M, int) else M
    fig = viz.plot_table_layout(M)
    left, right = images(fig.axes[0]), images(fig.axes[1])
    np.testing.assert_array_equal(left, right[::-1, ::-1])
    # a key at (r, c) of the window, seen from a query at (i, j), sits at (r - i, c - j): the cell
    # (r - i + Mh-1, c - j + Mw-1) of the left grid holds the index of that pair
    from minivit import relative_position_index
    index = relative_position_index(M)
    for q in range(Mh * Mw):
        i, j = divmod(q, Mw)
        for k in range(Mh * Mw):
            r, c = divmod(k, Mw)
            assert left[r - i + Mh - 1, c - j + Mw - 1] == index[q, k]


def test_windows_figure_keys_its_solid_and_dashed_outlines():
    fig = viz.plot_windows(8, 8, 4, 2)
    (legend,) = fig.legends
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == ["solid: a window of the regular grid (left and right panels)",
                     "dashed (middle): a shifted window, or a piece of one cut by the map's edge; "
                     "same number, same window"]
    styles = [h.get_linestyle() for h in legend.legend_handles]
    assert styles == ["-", "--"]
    # and the figure draws what the key says: whole windows solid in panels 1 and 3, pieces dashed in panel 2
    solid = {p.get_linestyle() for ax in (fig.axes[0], fig.axes[2]) for p in with_gid(ax.patches, "window")}
    dashed = {p.get_linestyle() for p in with_gid(fig.axes[1].patches, "piece")}
    assert solid == {"solid"} and dashed == {"--"}


@pytest.mark.parametrize("M", [4, (2, 3)])
def test_gathered_bias_is_cut_into_the_blocks_of_one_window_row_against_another(M):
    Mh, Mw = (M, M) if isinstance(M, int) else M
    table = torch.randn((2 * Mh - 1) * (2 * Mw - 1), 2)
    fig = viz.plot_relative_position_bias(table, M, heads=[1])
    bottom = next(ax for ax in fig.axes if ax.get_title() == "head 1: table[index]")
    lines = with_gid(bottom.collections, "block")
    assert len(lines) == 2  # one LineCollection across, one down
    # a line between every two window rows: after tokens Mw, 2Mw, ... of the Mh*Mw tokens
    edges = sorted({round(float(seg[0][1]), 6) for seg in lines[0].get_segments()})
    assert edges == [k * Mw - 0.5 for k in range(1, Mh)]
    # and the blocks are what the text says: one dy per block, equal along the diagonals of blocks
    image = images(bottom)
    for i in range(Mh - 1):
        for j in range(Mh - 1):
            block = image[i * Mw:(i + 1) * Mw, j * Mw:(j + 1) * Mw]
            np.testing.assert_array_equal(block, image[(i + 1) * Mw:(i + 2) * Mw, (j + 1) * Mw:(j + 2) * Mw])


@pytest.mark.parametrize("M, query, key, offset, row", [
    (3, 4, (0, 0), (1, 1), 18),  # notebook 05's question 2: (1 + 2) * 5 + (1 + 2)
    (3, 0, (2, 2), (-2, -2), 0),  # query 0: the arrow goes to the last key
    (2, 3, (0, 0), (1, 1), 8),
])
def test_index_figure_draws_one_pair_and_its_offset_query_minus_key(M, query, key, offset, row):
    fig = viz.plot_relative_position_index(M, query=query)
    right = next(ax for ax in fig.axes if ax.get_title().startswith(f"row {query} on the window"))
    (arrow,) = [t for t in right.texts if t.get_gid() == "offset-arrow"]
    qi, qj = divmod(query, M)
    assert arrow.xyann == (qj, qi) and arrow.xy == (key[1], key[0])  # from the query to the key, (x, y)
    assert right.get_xlabel().endswith(f"(dy, dx) = query - key = {offset}: row {row}")
    assert images(right)[key] == row


def bicubic(table, M_to):
    """The test's own resize: each head's (2M-1) x (2M-1) grid as an image channel, bicubic."""
    side = round(table.shape[0] ** 0.5)
    grid = table.T.reshape(1, -1, side, side)
    return F.interpolate(grid, size=(2 * M_to - 1, 2 * M_to - 1), mode="bicubic").reshape(table.shape[1], -1).T


@pytest.mark.parametrize("M_from, M_to, head", [(7, 12, 0), (3, 5, 2)])
def test_bias_resize_draws_both_tables_in_their_offsets_on_one_colour_scale(M_from, M_to, head):
    table = torch.randn((2 * M_from - 1) ** 2, 3)
    resized = bicubic(table, M_to)
    fig = viz.plot_bias_resize(table, resized, head=head)
    before, after = fig.axes[0], fig.axes[1]
    for ax, t, m in ((before, table, M_from), (after, resized, M_to)):
        expected = t[:, head].reshape(2 * m - 1, 2 * m - 1).flip(0, 1).numpy()  # turned: where the keys sit
        np.testing.assert_array_equal(images(ax), expected)
        assert ax.get_title().startswith(f"M = {m}: {2 * m - 1}x{2 * m - 1}")
        assert ax.get_xlim() == (-m + 0.5, m - 0.5)  # offsets -(M-1) .. M-1
    limit = max(float(table[:, head].abs().max()), float(resized[:, head].abs().max()))
    for ax in (before, after):
        assert ax.get_images()[0].get_clim() == pytest.approx((-limit, limit))
        assert ax.get_images()[0].get_cmap().name == "RdBu_r"  # values of both signs: the diverging scale
    # the profile: the query's row (dy = 0) of each, over its offsets -(M-1) .. M-1
    profile = fig.axes[2]
    for gid, t, m in (("before", table, M_from), ("after", resized, M_to)):
        (line,) = with_gid(profile.lines, gid)
        x, y = line.get_data()
        assert list(x) == list(range(-(m - 1), m))
        # key column - query column = x is dx = -x: the table row of (dy, dx) = (0, -x)
        np.testing.assert_allclose(y, [table_entry(t, m, m, 0, -c, head) for c in x], rtol=0, atol=0)


def test_bias_resize_uses_a_one_sided_scale_when_no_value_is_positive():
    offsets = torch.arange(-2, 3.0)
    table = -(offsets[:, None] ** 2 + offsets[None, :] ** 2).sqrt().reshape(25, 1)  # minus the distance, M = 3
    resized = bicubic(table, 5).clamp(max=0)
    fig = viz.plot_bias_resize(table, resized)
    limit = float(max(table.abs().max(), resized.abs().max()))
    for ax in fig.axes[:2]:
        assert ax.get_images()[0].get_clim() == pytest.approx((-limit, 0.0))
        assert ax.get_images()[0].get_cmap().name == "Blues_r"


def test_relative_position_bias_names_its_columns():
    fig = viz.plot_relative_position_bias(torch.randn(25, 3), 3, names=["seed 0", "seed 1", "seed 2"])
    titles = {ax.get_title() for ax in fig.axes}
    assert {"seed 1: table", "seed 1: table[index]"} <= titles and "head 1: table" not in titles
    with pytest.raises(ValueError, match="names must be a list of 2 strings"):
        viz.plot_relative_position_bias(torch.randn(25, 3), 3, heads=[0, 1], names=["seed 0"])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(table=torch.zeros(169, 3), resized=np.zeros((529, 3))), TypeError, "resized must be a torch.Tensor, got ndarray"),
    (dict(table=torch.zeros(168, 3), resized=torch.zeros(529, 3)), ValueError, r"table must have shape .* got \(168, 3\)"),
    (dict(table=torch.zeros(169, 3), resized=torch.zeros(576, 3)), ValueError, "resized must have shape"),  # 24 x 24
    (dict(table=torch.zeros(169, 3), resized=torch.zeros(529, 2)), ValueError, "same number of heads, got 3 and 2"),
    (dict(table=torch.zeros(169, 3), resized=torch.zeros(529, 3), head=3), ValueError, r"head must be .* got 3"),
])
def test_bias_resize_checks_its_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        viz.plot_bias_resize(**kwargs)


def test_column_pieces_and_following_columns_hand_worked():
    from minivit.viz.relative_position import column_pieces, following_columns

    # 16 columns, M = 4, s = 2: the shifted grid cuts at 2, 6, 10, 14; columns 14, 15 and 0, 1 share a
    # window after the roll but not a region, so they are two edge pieces
    pieces = column_pieces(16, 4, 2)
    assert pieces[0] == pieces[1] == [0, 1] and pieces[15] == [14, 15]
    assert pieces[2] == [2, 3, 4, 5] and pieces[13] == [10, 11, 12, 13]
    assert column_pieces(16, 4, 0)[5] == [4, 5, 6, 7]  # no shift: the plain windows
    # moved by 4, the first map's columns 2..9 keep their groups; 0, 1 (an edge piece there, in a window
    # of the moved map) and 10, 11 (a window there, an edge piece of the moved map) do not
    assert following_columns(16, 4, 2, 4) == [2, 3, 4, 5, 6, 7, 8, 9]
    assert following_columns(16, 4, 0, 4) == list(range(12))
    assert following_columns(16, 4, 2, 1) == following_columns(16, 4, 0, 1) == []


def test_translation_figure_shades_the_following_columns():
    fig = viz.plot_translation_windows(width=16, window_size=4, shift_size=2, move=4)
    ax = fig.axes[0]
    follows = sorted(p.get_x() + 0.5 for p in with_gid(ax.patches, "follows"))  # scene columns
    differs = sorted(p.get_x() + 0.5 for p in with_gid(ax.patches, "differs"))
    # W-MSA: scene columns 4..15 follow; SW-MSA: 6..13 follow, 4, 5, 14, 15 differ
    assert follows == sorted(list(range(4, 16)) + list(range(6, 14)))
    assert differs == [4, 5, 14, 15]
    assert len(with_gid(ax.patches, "edge")) == 4  # two edge pieces in each SW-MSA strip
    with pytest.raises(ValueError, match="move must be in 1..15, got 16"):
        viz.plot_translation_windows(move=16)
