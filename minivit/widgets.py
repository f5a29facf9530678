"""Explorers for the notebooks: sliders and menus wired to the figures of minivit.viz, nothing more.

Each explore_* function returns an Explorer: a VBox with the controls on top and the pictures
below. Its `controls` dict names the controls, so a test (or a curious learner) can set them:

    explorer = explore_shifted_windows()
    explorer.controls["shift"].value = 3   # the pictures redraw; an invalid choice shows a message

A combination the ground-floor functions refuse (a shift not smaller than the window, a size that is
not a multiple of the window...) shows their one-line ValueError message instead of the pictures.

Pictures are shown at their natural size (80 screen pixels per figure inch), shrunk only as far as needed
for the controls and the pictures to fit together on a 1440 x 900 screen beside JupyterLab's bars, and drawn
with twice as many pixels, so that they stay sharp on a high-DPI screen. An explorer's output also holds a
plain PNG of its first view: JupyterLab shows it in a notebook that has not run yet (it draws no widget
there), and so does the course's website.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure
from PIL import Image

from minivit import viz

SCREEN_PIXELS_PER_INCH = 80  # a figure's natural size on screen, in CSS pixels per inch
DENSITY = 2  # PNG pixels per CSS pixel: sharp on a high-DPI ("retina") screen
MAX_WIDTH, MAX_HEIGHT = 900, 500  # CSS pixels of pictures that fit under the controls on a 1440 x 900 screen


class Explorer(widgets.VBox):
    """Controls above, the figures of `draw(**values)` (or a short message) below.

    Attributes:
        controls: name -> control widget; `draw` receives their values under the same names.
        pictures: a Box holding one ipywidgets.Image (PNG) per figure drawn, side by side.
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
            self.pictures.children = [picture(figure, scale) for figure, scale in zip(figures, screen_scales(figures))]
        finally:
            self._busy = False

    def _repr_mimebundle_(self, **kwargs):
        """The widget, and a PNG of the pictures for a screen without the kernel (see the module's docstring)."""
        data = super()._repr_mimebundle_(**kwargs)
        images = [Image.open(io.BytesIO(bytes(image.value))) for image in self.pictures.children]
        if not images:
            return data
        width, height = sum(i.width for i in images), max(i.height for i in images)
        sheet = Image.new("RGB", (width, height), "white")
        for k, image in enumerate(images):
            sheet.paste(image, (sum(i.width for i in images[:k]), 0))
        buffer = io.BytesIO()
        sheet.save(buffer, format="png", optimize=True)
        data["image/png"] = buffer.getvalue()
        return data, {"image/png": {"width": width // DENSITY, "height": height // DENSITY}}


def screen_scales(figures: list[Figure]) -> list[float]:
    """The scale of each figure's natural size at which they all fit side by side in MAX_WIDTH x MAX_HEIGHT."""
    sizes = [figure.get_size_inches() * SCREEN_PIXELS_PER_INCH for figure in figures]
    scale = min(1.0, MAX_WIDTH / sum(w for w, _ in sizes), *(MAX_HEIGHT / h for _, h in sizes))
    return [scale] * len(figures)


def picture(figure: Figure, scale: float) -> widgets.Image:
    """The figure as an Image of its natural size times `scale` in CSS pixels, drawn at DENSITY times that."""
    width, height = (figure.get_size_inches() * SCREEN_PIXELS_PER_INCH * scale).round().astype(int)
    png = viz.to_png(figure, dpi=SCREEN_PIXELS_PER_INCH * scale * DENSITY)
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
