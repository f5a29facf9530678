"""Explorers for the notebooks: sliders and menus wired to the figures of minivit.viz, nothing more.

Each explore_* function returns an Explorer: a VBox with the controls on top and the pictures
below. Its `controls` dict names the controls, so a test (or a curious learner) can set them:

    explorer = explore_shifted_windows()
    explorer.controls["shift"].value = 3   # the pictures redraw; an invalid choice shows a message

A combination the ground-floor functions refuse (a shift not smaller than the window, a size that is
not a multiple of the window...) shows their one-line ValueError message instead of the pictures.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from minivit import viz


class Explorer(widgets.VBox):
    """Controls above, the figures of `draw(**values)` (or a short message) below.

    Attributes:
        controls: name -> control widget; `draw` receives their values under the same names.
        pictures: a VBox holding one ipywidgets.Image (PNG) per figure drawn.
        message: an HTML widget, empty unless the current values are invalid.
    """

    def __init__(
        self,
        controls: dict[str, widgets.ValueWidget],
        draw: Callable[..., Figure | list[Figure]],
        adjust: Callable[[dict[str, widgets.ValueWidget]], None] | None = None,
        dpi: int = 80,
    ):
        self.controls = controls
        self.pictures = widgets.VBox()
        self.message = widgets.HTML()
        self._draw, self._adjust, self._dpi, self._busy = draw, adjust, dpi, False
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
            self.pictures.children = [widgets.Image(value=viz.to_png(f, self._dpi), format="png") for f in figures]
        finally:
            self._busy = False


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
        "head": widgets.Dropdown(options=[("mean", None)] + [(str(h), h) for h in range(nh)], value=None,
                                 description="head"),
        "query": _slider("query (0 = class)", 0, 0, T - 1),
    }

    def draw(block, head, query):
        return viz.plot_attention_maps(maps, image, block - 1, head, query)

    return Explorer(controls, draw)
