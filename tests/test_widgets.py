"""The explorers build without a screen, redraw when a control changes, and answer an invalid
combination with a short message instead of a traceback."""

import matplotlib

matplotlib.use("Agg")

import io  # noqa: E402

import ipywidgets as widgets  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from minivit import widgets as explorers  # noqa: E402
from minivit.viz._common import new_figure  # noqa: E402

PNG = b"\x89PNG"


class StandIn(torch.nn.Module):
    """Has VisionTransformer's attention_maps API: one (B, nh, N+1, N+1) map per layer, class token first."""

    def __init__(self, patch=8, heads=3, layers=2):
        super().__init__()
        self.patch, self.heads, self.layers, self.calls = patch, heads, layers, 0

    def attention_maps(self, x):
        self.calls += 1
        B, _, H, W = x.shape
        T = (H // self.patch) * (W // self.patch) + 1
        logits = torch.randn(self.layers, B, self.heads, T, T, generator=torch.Generator().manual_seed(0))
        return list(logits.softmax(-1))


def pictures(explorer):
    return [bytes(image.value) for image in explorer.pictures.children]


def assert_drawn(explorer, count=1):
    assert explorer.message.value == ""
    assert len(explorer.pictures.children) == count
    assert all(isinstance(i, widgets.Image) and bytes(i.value).startswith(PNG) for i in explorer.pictures.children)


def assert_refused(explorer, *words):
    assert explorer.message.value.startswith("<b>Not a valid choice:</b>")
    assert "Traceback" not in explorer.message.value
    assert all(word in explorer.message.value for word in words)
    assert explorer.pictures.children == ()


def test_explore_shifted_windows():
    explorer = explorers.explore_shifted_windows(size=4, window=2, shift=1)
    assert isinstance(explorer, widgets.VBox)
    assert set(explorer.controls) == {"view", "size", "window", "shift", "token"}
    assert_drawn(explorer)
    seen = set(pictures(explorer))
    for view in ["regions", "masks", "token"]:
        explorer.controls["view"].value = view
        assert_drawn(explorer)
        seen |= set(pictures(explorer))
    explorer.controls["token"].value = 15
    assert_drawn(explorer)
    seen |= set(pictures(explorer))
    assert len(seen) == 5  # every change drew a different picture

    explorer.controls["shift"].value = 2  # not smaller than the window
    assert_refused(explorer, "shift_size must be smaller than window_size")
    explorer.controls["size"].value = 5  # not a multiple of the window either
    assert_refused(explorer, "shift_size must be smaller")
    assert explorer.controls["token"].max == 24  # the token range follows the map size
    explorer.controls["shift"].value = 0
    assert_refused(explorer, "multiple of window height")
    explorer.controls["size"].value = 2
    assert explorer.controls["token"].value == 3  # clamped to the smaller map
    assert_drawn(explorer)


def test_explore_relative_position():
    explorer = explorers.explore_relative_position(window=2, heads=2)
    assert set(explorer.controls) == {"window", "head", "query"}
    assert_drawn(explorer, count=2)  # the index, and the bias of one head
    before = pictures(explorer)
    explorer.controls["head"].value = 1
    assert_drawn(explorer, count=2)
    after = pictures(explorer)
    assert after[0] == before[0] and after[1] != before[1]  # only the bias depends on the head
    explorer.controls["window"].value = 3
    assert_drawn(explorer, count=2)
    assert explorer.controls["query"].max == 8  # the query range follows the window


def test_explore_mobilevit_unfold():
    explorer = explorers.explore_mobilevit_unfold(size=4, patch=2)
    assert set(explorer.controls) == {"size", "patch", "pixel"}
    assert_drawn(explorer)
    before = pictures(explorer)
    explorer.controls["pixel"].value = 5
    assert_drawn(explorer)
    assert pictures(explorer) != before
    explorer.controls["size"].value = 5
    assert_refused(explorer, "multiple of patch")
    assert explorer.controls["pixel"].max == 24


def test_explore_attention_runs_the_model_once():
    torch.manual_seed(0)
    model = StandIn(patch=8, heads=3, layers=2)
    explorer = explorers.explore_attention(model, torch.rand(3, 16, 24))  # 2 x 3 patches
    assert model.calls == 1
    assert set(explorer.controls) == {"block", "head", "query"}
    assert explorer.controls["block"].value == explorer.controls["block"].max == 2  # the last of 2 blocks
    assert explorer.controls["block"].min == 1 and explorer.controls["query"].max == 6
    head = explorer.controls["head"]
    assert head.label == "mean" and [value for _, value in head.options] == ["mean", 0, 1, 2]
    assert_drawn(explorer)
    seen = set(pictures(explorer))
    for name, value in [("block", 1), ("head", 2), ("query", 4)]:
        explorer.controls[name].value = value
        assert_drawn(explorer)
        seen |= set(pictures(explorer))
    assert len(seen) == 4 and model.calls == 1


def test_explorer_shows_only_value_errors_as_messages():
    def draw(n):
        if n < 0:
            raise ValueError("n must be >= 0, got -1")
        raise RuntimeError("a bug")

    explorer = explorers.Explorer({"n": widgets.IntSlider(value=-1, min=-1, max=1)}, draw)
    assert_refused(explorer, "n must be &gt;= 0")
    with pytest.raises(RuntimeError):
        explorer.controls["n"].value = 0  # a real bug is not hidden behind a message


def test_explore_attention_counts_blocks_from_one(monkeypatch):
    # the figure titles say "block 1 of 2" for maps[0]: the slider must mean the same block
    drawn, plot = [], explorers.viz.plot_attention_maps

    def recording(maps, image, layer, *rest):
        drawn.append(layer)
        return plot(maps, image, layer, *rest)

    monkeypatch.setattr(explorers.viz, "plot_attention_maps", recording)
    explorer = explorers.explore_attention(StandIn(patch=8, heads=3, layers=2), torch.rand(3, 16, 24))
    explorer.controls["block"].value = 1
    assert drawn == [1, 0]  # the last block first, then the first


def css_size(image):
    return int(image.layout.width.removesuffix("px")), int(image.layout.height.removesuffix("px"))


def text_px(image) -> float:
    """The smallest text of a picture as tall as it shows on screen, in CSS pixels: its font size (points) times
    its dpi / 72 (PNG pixels), times the CSS pixels per PNG pixel of the picture's layout."""
    png = Image.open(io.BytesIO(bytes(image.value)))
    points, dpi = float(png.text[explorers.FONT_KEY]), float(png.text[explorers.DPI_KEY])
    return points * dpi / 72 * css_size(image)[0] / png.width


DEFAULT_VIEWS = {  # each explorer as its notebook starts it (08's model: a stand-in with the same API)
    "04": lambda: explorers.explore_shifted_windows(size=8, window=4, shift=2),
    "05": lambda: explorers.explore_relative_position(window=3, heads=3),
    "07": lambda: explorers.explore_mobilevit_unfold(size=8, patch=2),
    "08": lambda: explorers.explore_attention(StandIn(patch=8), torch.rand(3, 32, 32)),
}


@pytest.mark.parametrize("make", DEFAULT_VIEWS.values(), ids=DEFAULT_VIEWS.keys())
def test_default_views_fit_the_screen_with_readable_text_at_double_density(make):
    explorer = make()
    sizes = [css_size(image) for image in explorer.pictures.children]
    if explorer.pictures.layout.flex_flow == "column":  # one above the other
        assert max(w for w, _ in sizes) <= explorers.MAX_WIDTH and sum(h for _, h in sizes) <= explorers.MAX_HEIGHT
    else:
        assert sum(w for w, _ in sizes) <= explorers.MAX_WIDTH and max(h for _, h in sizes) <= explorers.MAX_HEIGHT
    for image, (w, h) in zip(explorer.pictures.children, sizes):
        png = Image.open(io.BytesIO(bytes(image.value)))
        assert abs(png.width - 2 * w) <= 2 and abs(png.height - 2 * h) <= 2  # sharp on a high-DPI screen
        assert text_px(image) >= explorers.MIN_TEXT_PX - 0.05  # PNG and CSS sizes are whole pixels


def test_the_png_records_the_smallest_font_drawn_and_the_dpi():
    figure = new_figure(3, 2)
    ax = figure.subplots()
    ax.set_xlim(0, 1)
    ax.set_title("a title", fontsize=14)
    ax.text(0.5, 0.5, "small", fontsize=7.5)
    ax.text(0.5, 0.5, "hidden", fontsize=3, visible=False)  # not drawn: does not count
    ax.text(0.5, 0.5, "", fontsize=2)  # nothing to draw
    ax.tick_params(labelsize=9)
    ax.set_yticks([])
    image = explorers.picture(figure, 1.5)
    png = Image.open(io.BytesIO(bytes(image.value)))
    assert float(png.text[explorers.FONT_KEY]) == 7.5
    assert float(png.text[explorers.DPI_KEY]) == 80 * 1.5 * 2
    assert png.size == (3 * 80 * 3, 2 * 80 * 3)  # the dpi recorded is the one drawn at
    ax.texts[0].set_visible(False)
    assert explorers.smallest_font(figure) == 9  # the tick labels now


def test_screen_layout_keeps_natural_size_enlarges_small_text_and_stacks_where_that_reads_better():
    def figure(width, height, fontsize):
        fig = new_figure(width, height)
        fig.suptitle("text", fontsize=fontsize)
        return fig

    assert explorers.screen_layout([figure(4, 3, 12)]) == (1.0, False)  # fits, readable: natural size
    scale, stacked = explorers.screen_layout([figure(4, 3, 6)])  # 6 pt is 6.7 px at 80 px per inch
    assert scale == pytest.approx(10 * 72 / (80 * 6)) and not stacked
    scale, _ = explorers.screen_layout([figure(20, 3, 12)])  # too wide: shrunk to fit
    assert scale == pytest.approx(explorers.MAX_WIDTH / (20 * 80))
    # 1280 px wide side by side (text 7 px at the scale that fits); one above the other at natural size
    assert explorers.screen_layout([figure(8, 3, 10), figure(8, 3, 10)]) == (1.0, True)
    # 1 side by side, 650 / 960 one above the other: side by side keeps the larger scale
    assert explorers.screen_layout([figure(5, 6, 12), figure(5, 6, 12)]) == (1.0, False)


def test_the_output_holds_a_picture_for_a_screen_without_the_kernel():
    explorer = explorers.explore_relative_position(window=3, heads=3)  # the two pictures one above the other
    assert explorer.pictures.layout.flex_flow == "column"
    data, metadata = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    sheet = Image.open(io.BytesIO(data["image/png"]))
    pngs = [Image.open(io.BytesIO(bytes(i.value))) for i in explorer.pictures.children]
    assert sheet.size == (max(p.width for p in pngs), sum(p.height for p in pngs))
    assert metadata["image/png"] == {"width": -(-sheet.width // 2), "height": -(-sheet.height // 2)}
    assert sheet.text[explorers.FONT_KEY] == min((p.text[explorers.FONT_KEY] for p in pngs), key=float)
    assert sheet.text[explorers.DPI_KEY] == pngs[0].text[explorers.DPI_KEY]
