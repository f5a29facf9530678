"""What every schematic figure shares: boxes joined by arrows, each box naming a step and the shape of
the tensor it outputs, with the shapes read from the real module rather than typed by hand.

    output_shapes(module, x, names)   run the module once and record the output shape of named submodules
    shape_text(shape)                 "(1, 197, 768)"
    box(ax, x, y, text, kind)         one step: a rounded box, coloured by what kind of step it is
    arrow(ax, start, end)             data flowing from one box to the next
    plot_flow(steps, ...)             a chain of steps, top to bottom, with residual connections drawn beside it
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from minivit.viz._common import new_figure

# What a box holds decides its colour, the same in every diagram: a tensor, a layer with weights, a step
# without weights (reshape, softmax, add), attention, a normalisation.
KINDS = {
    "tensor": "#ffffff",
    "layer": "#aed6f1",
    "op": "#f2f3f4",
    "attention": "#f9e79f",
    "norm": "#d5f5e3",
}
BOX_HEIGHT = 0.62  # in the units of a flow's step pitch (1.0)
FONT_SIZE = 9.5


@dataclass(frozen=True)
class Step:
    """One box of a flow: what the step does and the shape of what it outputs (None for no shape)."""

    name: str
    shape: tuple[int, ...] | str | None = None
    kind: str = "layer"


def output_shapes(module: nn.Module, x: torch.Tensor, names: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Run `module(x)` once (no gradients) and return the output shape of each named submodule.

    Args:
        module: any nn.Module.
        x: its input.
        names: submodule names as `module.named_modules()` gives them, e.g. "encoder.layers.0.attn";
            "" is the module itself.

    Returns:
        {name: shape of that submodule's output, the first time it ran}. A submodule that outputs a tuple
        gives the shape of its first element.
    """
    modules = dict(module.named_modules())
    unknown = [n for n in names if n not in modules]
    if unknown:
        raise ValueError(f"names {unknown} are not submodules of {type(module).__name__}; "
                         f"its submodules include {list(modules)[1:8]}")
    shapes: dict[str, tuple[int, ...]] = {}

    def record(name):
        def hook(_module, _inputs, output):
            first = output[0] if isinstance(output, (tuple, list)) else output
            shapes.setdefault(name, tuple(first.shape))
        return hook

    handles = [modules[n].register_forward_hook(record(n)) for n in names]
    try:
        with torch.no_grad():
            module(x)
    finally:
        for handle in handles:
            handle.remove()
    missing = [n for n in names if n not in shapes]
    if missing:
        raise ValueError(f"submodules {missing} did not run in {type(module).__name__}'s forward")
    return shapes


def shape_text(shape: tuple[int, ...] | str | None) -> str:
    """A shape as the course writes it: (1, 197, 768); a string is kept as it is, None gives ""."""
    if shape is None:
        return ""
    if isinstance(shape, str):
        return shape
    return "(" + ", ".join(f"{n}" for n in shape) + ")"


def box(ax: Axes, x: float, y: float, text: str, kind: str = "layer", width: float = 3.0,
        height: float = BOX_HEIGHT, gid: str = "step", size: float = FONT_SIZE) -> FancyBboxPatch:
    """A rounded box centred at (x, y) holding `text`, coloured by `kind` (one of KINDS)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    patch = FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.02,rounding_size=0.08",
                           facecolor=KINDS[kind], edgecolor="black", linewidth=1.1, gid=gid)
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=size, gid=f"{gid}-label")
    return patch


def arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], gid: str = "arrow",
          label: str | None = None, connection: str = "arc3", **style) -> FancyArrowPatch:
    """An arrow from `start` to `end` (data coordinates); `label` is written beside its middle. Keyword
    arguments override FancyArrowPatch's style, e.g. linestyle=":" or arrowstyle="<|-|>"."""
    style = dict(arrowstyle="-|>", mutation_scale=12, linewidth=1.2, color="black", shrinkA=0, shrinkB=0) | style
    patch = FancyArrowPatch(start, end, connectionstyle=connection, gid=gid, **style)
    ax.add_patch(patch)
    if label:
        ax.text((start[0] + end[0]) / 2 + 0.08, (start[1] + end[1]) / 2, label, ha="left", va="center",
                fontsize=FONT_SIZE - 1, style="italic", gid=f"{gid}-label")
    return patch


def plot_flow(steps: Sequence[Step], title: str, skips: Sequence[tuple[int, int]] = (),
              box_width: float = 3.4, ax: Axes | None = None, x: float = 0.0) -> Figure:
    """A chain of steps drawn top to bottom, each box "name" over its output shape, joined by arrows;
    each (i, j) in `skips` is a residual connection from the output of step i into step j (an "add"),
    drawn as an arrow around the right of the chain.

    Returns:
        the Figure. Boxes are patches with gid "step" (in order), their texts gid "step-label"; the arrows
        between them gid "arrow"; each residual connection is a dashed line and an arrow, both gid "skip".
    """
    if not steps:
        raise ValueError("steps must hold at least one Step")
    for i, j in skips:
        if not 0 <= i < j < len(steps):
            raise ValueError(f"a skip must go forward between steps 0..{len(steps) - 1}, got {(i, j)}")
    if ax is None:
        fig = new_figure(box_width + 1.6, 0.62 * len(steps) + 0.7)
        ax = fig.subplots()
    fig = ax.figure
    for k, step in enumerate(steps):
        shape = shape_text(step.shape)
        box(ax, x, -k, step.name + (f"\n{shape}" if shape else ""), step.kind, width=box_width)
        if k:
            arrow(ax, (x, -k + 1 - BOX_HEIGHT / 2), (x, -k + BOX_HEIGHT / 2))
    right, side = x + box_width / 2, x + box_width / 2 + 0.35
    for i, j in skips:  # out of step i's right side, down, and into step j's right side
        ax.plot([right, side, side], [-i - 0.1, -i - 0.1, -j + 0.1], color="black", linewidth=1.2, linestyle="--",
                gid="skip")
        arrow(ax, (side, -j + 0.1), (right, -j + 0.1), gid="skip")
    ax.set_xlim(x - box_width / 2 - 0.2, x + box_width / 2 + 0.6)
    ax.set_ylim(-len(steps) + 0.5, 0.5)
    ax.axis("off")
    ax.set_title(title)
    return fig
