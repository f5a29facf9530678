"""Explorers for the notebooks: sliders and menus wired to the figures of minivit.viz, nothing more.

Each explore_* function returns an Explorer: a VBox with the controls on top and the pictures
below. Its `controls` dict names the controls, so a test (or a curious learner) can set them:

    explorer = explore_shifted_windows()
    explorer.controls["shift"].value = 3   # the pictures redraw; an invalid choice shows a message

A combination the ground-floor functions refuse (a shift not smaller than the window, a size that is
not a multiple of the window...) shows their one-line ValueError message instead of the pictures.

Pictures are shown at their natural size (80 screen pixels per figure inch), larger where their smallest
text would be under MIN_TEXT_PX = 10 screen pixels, and smaller only as far as needed for the controls and the
pictures to fit together on a 1440 x 900 screen beside JupyterLab's bars (MAX_WIDTH x MAX_HEIGHT); pictures
stand one above the other where that lets them be larger than side by side, up to that size. They are drawn
with twice as many pixels, so that they stay sharp on a high-DPI screen, and each PNG records the font size of
its smallest text (points) and its dots per inch (tEXt chunks FONT_KEY and DPI_KEY), from which a browser test
works out how tall that text is on screen. An explorer's output also holds a plain PNG of its first view:
JupyterLab shows it in a notebook that has not run yet (it draws no widget there), and so does the course's
website.
"""

from __future__ import annotations

import contextlib
import html
import io
import struct
import zlib
from collections.abc import Callable, Iterator

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from minivit import viz

SCREEN_PIXELS_PER_INCH = 80  # a figure's natural size on screen, in CSS pixels per inch
DENSITY = 2  # PNG pixels per CSS pixel: sharp on a high-DPI ("retina") screen
# CSS pixels of pictures that fit under one or two rows of controls on a 1440 x 900 screen, in JupyterLab (its
# bars take about 120 px of the height) and on the course's website (a column about 940 px wide)
MAX_WIDTH, MAX_HEIGHT = 900, 650
MIN_TEXT_PX = 10.0  # the smallest text of a picture, in CSS pixels, wherever the screen allows
FONT_KEY, DPI_KEY = "minivit smallest font (pt)", "minivit dpi"  # what each PNG records (tEXt chunks)


class Explorer(widgets.VBox):
    """Controls above, the figures of `draw(**values)` (or a short message) below.

    Attributes:
        controls: name -> control widget; `draw` receives their values under the same names.
        pictures: a Box holding one ipywidgets.Image (PNG) per figure drawn, side by side (or one above the
            other, see screen_layout).
        message: an HTML widget, empty unless the current values are invalid.
    """

    def __init__(
        self,
        controls: dict[str, widgets.ValueWidget],
        draw: Callable[..., Figure | list[Figure]],
        adjust: Callable[[dict[str, widgets.ValueWidget]], None] | None = None,
    ):
        self.controls = controls
        self.pictures = widgets.Box(layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.message = widgets.HTML()
        self._draw, self._adjust, self._busy = draw, adjust, False
        rows = [widgets.HBox(list(controls.values())[k : k + 3]) for k in range(0, len(controls), 3)]
        super().__init__([*rows, self.message, self.pictures])
        for control in controls.values():
            control.observe(self.update, names="value")
        self.update()

    def update(self, change: object = None) -> None:
        """Redraw from the controls' current values (called whenever one of them changes)."""
        if self._busy:  # a control changed by `adjust` below: one redraw is enough
            return
        self._busy = True
        try:
            if self._adjust is not None:
                self._adjust(self.controls)  # e.g. the token slider's range follows the map size
            values = {name: control.value for name, control in self.controls.items()}
            try:
                figures = self._draw(**values)
            except ValueError as error:
                self.message.value = f"<b>Not a valid choice:</b> {html.escape(str(error))}"
                self.pictures.children = ()
                return
            figures = figures if isinstance(figures, list) else [figures]
            self.message.value = ""
            # Figures made without pyplot are freed with their last reference: nothing to close.
            scale, stacked = screen_layout(figures)
            self.pictures.layout.flex_flow = "column" if stacked else "row wrap"
            self.pictures.children = [picture(figure, scale) for figure in figures]
        finally:
            self._busy = False

    def _repr_mimebundle_(self, **kwargs):
        """The widget, and a PNG of the pictures for a screen without the kernel (see the module's docstring)."""
        data = super()._repr_mimebundle_(**kwargs)
        images = [Image.open(io.BytesIO(bytes(image.value))) for image in self.pictures.children]
        if not images:
            return data
        stacked = self.pictures.layout.flex_flow == "column"
        sizes = [(i.width, i.height) for i in images]
        width = max(w for w, _ in sizes) if stacked else sum(w for w, _ in sizes)
        height = sum(h for _, h in sizes) if stacked else max(h for _, h in sizes)
        sheet = Image.new("RGB", (width, height), "white")
        for k, image in enumerate(images):
            offset = sum(size[stacked] for size in sizes[:k])
            sheet.paste(image, (0, offset) if stacked else (offset, 0))
        # the pictures share one scale, so one dpi; the smallest text is the smallest of any of them
        record = _record(min(float(i.text[FONT_KEY]) for i in images), float(images[0].text[DPI_KEY]))
        buffer = io.BytesIO()
        sheet.save(buffer, format="png", optimize=True)
        data["image/png"] = _with_text(buffer.getvalue(), record)
        return data, {"image/png": {"width": -(-width // DENSITY), "height": -(-height // DENSITY)}}


@contextlib.contextmanager
def _texts_drawn(sizes: list[float]) -> Iterator[None]:
    """While inside, every text matplotlib draws (titles, tick labels, legends, numbers in cells...) appends its
    font size in points to `sizes`: the texts actually drawn, not the hidden ones or the ticks outside the view."""
    original = Text.draw

    def draw(self, renderer):
        if self.get_visible() and self.get_text().strip():
            sizes.append(float(self.get_fontsize()))
        return original(self, renderer)

    Text.draw = draw  # Annotation.draw calls Text.draw too
    try:
        yield
    finally:
        Text.draw = original


def smallest_font(figure: Figure) -> float:
    """The font size, in points, of the smallest text drawn in `figure` (10, matplotlib's default, if none)."""
    sizes: list[float] = []
    with _texts_drawn(sizes):
        figure.draw_without_rendering()
    return min(sizes, default=10.0)


def _record(font_points: float, dpi: float) -> dict[str, str]:
    """What a picture's PNG records: the font size of its smallest text (points), the dpi it was drawn at."""
    return {FONT_KEY: f"{font_points:.4g}", DPI_KEY: f"{dpi:.6g}"}


def _with_text(png: bytes, values: dict[str, str]) -> bytes:
    """The PNG with a tEXt chunk per item added just before its final IEND chunk."""
    chunks = b""
    for key, value in values.items():
        body = b"tEXt" + key.encode("latin-1") + b"\0" + value.encode("latin-1")
        chunks += struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    end = png.rindex(b"IEND") - 4  # the IEND chunk: its 4-byte length, "IEND", its CRC
    return png[:end] + chunks + png[end:]


def screen_layout(figures: list[Figure]) -> tuple[float, bool]:
    """The scale of the figures' natural size, and whether they stand one above the other (else side by side).

    The scale is 1 (the natural size) where they fit in MAX_WIDTH x MAX_HEIGHT, up to readable_scale if their
    smallest text would be under MIN_TEXT_PX at 1 and a larger picture fits, less (as far as needed to fit)
    if they do not fit at 1. Side by side unless one above the other allows a larger scale up to that."""
    sizes = [figure.get_size_inches() * SCREEN_PIXELS_PER_INCH for figure in figures]
    wanted = max(1.0, readable_scale(figures))
    beside = min(wanted, MAX_WIDTH / sum(w for w, _ in sizes), MAX_HEIGHT / max(h for _, h in sizes))
    above = min(wanted, MAX_WIDTH / max(w for w, _ in sizes), MAX_HEIGHT / sum(h for _, h in sizes))
    return (above, True) if above > beside else (beside, False)


def readable_scale(figures: list[Figure]) -> float:
    """The scale of the natural size at which the smallest text of all `figures` is MIN_TEXT_PX tall."""
    return MIN_TEXT_PX * 72 / (SCREEN_PIXELS_PER_INCH * min(smallest_font(figure) for figure in figures))


def picture(figure: Figure, scale: float) -> widgets.Image:
    """The figure as an Image of its natural size times `scale` in CSS pixels, drawn at DENSITY times that.

    The PNG records the font size of the smallest text drawn in it and its dpi (see the module's docstring)."""
    width, height = (figure.get_size_inches() * SCREEN_PIXELS_PER_INCH * scale).round().astype(int)
    dpi = SCREEN_PIXELS_PER_INCH * scale * DENSITY
    sizes: list[float] = []
    with _texts_drawn(sizes):  # the texts of this very drawing
        png = viz.to_png(figure, dpi=dpi)
    png = _with_text(png, _record(min(sizes, default=10.0), dpi))
    return widgets.Image(value=png, format="png", layout=widgets.Layout(width=f"{width}px", height=f"{height}px"))


def _slider(description: str, value: int, low: int, high: int) -> widgets.IntSlider:
    return widgets.IntSlider(value=value, min=low, max=high, description=description, continuous_update=False,
                             style={"description_width": "initial"})


def explore_shifted_windows(size: int = 8, window: int = 4, shift: int = 2) -> Explorer:
    """Swin's windows on a size x size map: the windows, the 9 regions, the masks, one token's reach.

    Controls: "view" (what to draw), "size", "window", "shift", "token" (row-major index on the map).
    """
    controls = {
        "view": widgets.Dropdown(options=["windows", "regions", "masks", "token"], value="windows", description="view"),
        "size": _slider("map size", size, 1, 28),
        "window": _slider("window M", window, 1, 14),
        "shift": _slider("shift s", shift, 0, 13),
        "token": _slider("token", 0, 0, size * size - 1),
    }

    def adjust(c):
        c["token"].max = c["size"].value ** 2 - 1

    def draw(view, size, window, shift, token):
        if view == "windows":
            return viz.plot_windows(size, size, window, shift)
        if view == "regions":
            return viz.plot_shift_regions(size, size, window, shift)
        if view == "masks":
            return viz.plot_window_masks(size, size, window, shift)
        return viz.plot_token_reach(size, size, window, shift, token)

    return Explorer(controls, draw, adjust)


def explore_relative_position(window: int = 3, heads: int = 3, seed: int = 0) -> Explorer:
    """The relative position index of an M x M window, and a random bias table gathered by it.

    The table, ((2M-1)^2, heads) from torch.randn with `seed`, is random as at initialisation: the
    gathered bias still shows that equal offsets share one number. Controls: "window", "head", "query".
    """
    controls = {
        "window": _slider("window M", window, 1, 8),
        "head": _slider("head", 0, 0, heads - 1),
        "query": _slider("query token", 0, 0, window * window - 1),
    }

    def adjust(c):
        c["query"].max = c["window"].value ** 2 - 1

    def draw(window, head, query):
        table = torch.randn((2 * window - 1) ** 2, heads, generator=torch.Generator().manual_seed(seed))
        return [viz.plot_relative_position_index(window, query), viz.plot_relative_position_bias(table, window, [head])]

    return Explorer(controls, draw, adjust)


def explore_mobilevit_unfold(size: int = 8, patch: int = 2) -> Explorer:
    """MobileViT's unfold on a size x size map: the colour of a pixel is the sequence it joins.

    Controls: "size", "patch", "pixel" (row-major index; its sequence is highlighted).
    """
    controls = {
        "size": _slider("map size", size, 1, 16),
        "patch": _slider("patch", patch, 1, 4),
        "pixel": _slider("pixel", 0, 0, size * size - 1),
    }

    def adjust(c):
        c["pixel"].max = c["size"].value ** 2 - 1

    def draw(size, patch, pixel):
        return viz.plot_mobilevit_unfold(size, size, patch, pixel=pixel)

    return Explorer(controls, draw, adjust)


def explore_attention(model: torch.nn.Module, image: object) -> Explorer:
    """Where each query token of `model` looks in `image`, layer by layer and head by head.

    Args:
        model: has attention_maps(x) -> list of (B, nh, N+1, N+1), token 0 the class token.
        image: the input, (C, H, W) or (1, C, H, W) tensor as the model takes it.

    The model runs once; the controls "block" (1 = first, as the figure titles count), "head" ("mean"
    or one head) and "query" (0 = class token, 1 + n = patch n) only pick from its maps.
    """
    maps = viz.model_attention_maps(model, image)
    L, nh, T = len(maps), maps[0].shape[1], maps[0].shape[-1]
    controls = {
        "block": _slider("block", L, 1, L),
        # "mean" is a value of its own: ipywidgets reads a value of None as "nothing chosen" and shows a blank
        "head": widgets.Dropdown(options=[("mean", "mean")] + [(str(h), h) for h in range(nh)], value="mean",
                                 description="head"),
        "query": _slider("query (0 = class)", 0, 0, T - 1),
    }

    def draw(block, head, query):
        return viz.plot_attention_maps(maps, image, block - 1, None if head == "mean" else head, query)

    return Explorer(controls, draw)
