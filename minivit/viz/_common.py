"""What every figure of minivit.viz shares: a Figure that shows itself in a notebook, numbers that
stay readable on any background, and token grids drawn the same way everywhere.

Figures are made with matplotlib.figure.Figure, never with pyplot: nothing is registered in pyplot's
list of open figures, so nothing needs closing, and a notebook shows each figure exactly once.
"""

from __future__ import annotations

import io

import matplotlib.patheffects as patheffects
import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

CONTINUOUS = "viridis"  # weights, indices, magnitudes: perceptually uniform, readable in grey
DIVERGING = "RdBu_r"  # signed values such as a relative position bias
OUTLINE = "black"
# Swin's 9 shift regions get hues; windows get greys (window_shades), so that no colour means a
# window in one figure and a region in the next: tab10 without its grey.
REGION_COLOURS = tuple(c for k, c in enumerate(colormaps["tab10"].colors) if k != 7)
WINDOW_GREYS = (0.96, 0.86, 0.78, 0.68)  # a 2 x 2 checkerboard over the grid of windows


class NotebookFigure(Figure):
    """A matplotlib Figure that a notebook shows as a PNG even when pyplot was never imported."""

    def _repr_png_(self) -> bytes:
        return to_png(self)


def new_figure(width: float, height: float) -> NotebookFigure:
    """A figure of `width` x `height` inches with constrained layout (no overlapping labels)."""
    return NotebookFigure(figsize=(width, height), layout="constrained")


def to_png(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, e.g. for an ipywidgets.Image."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    return buffer.getvalue()


def label_size(panel_inches: float, cells: float, fraction: float = 0.45, digits: int = 1) -> float:
    """A font size (points) for a label of `digits` characters that must fit in one of `cells` cells
    across a panel `panel_inches` wide."""
    return float(np.clip(fraction * 72 * panel_inches / max(cells, 1) / max(1.0, 0.6 * digits), 5, 13))


def number(
    ax: Axes, x: float, y: float, text: object, size: float, gid: str | None = None, badge: object = None
) -> None:
    """Write `text` centred at (x, y), white with a black rim: readable on any colour or photo.

    With `badge` (a colour), the text sits in a rounded box of that colour, for labels such as
    window numbers that must stand out from the numbers around them.
    """
    box = None if badge is None else dict(boxstyle="round,pad=0.25", facecolor=badge, edgecolor="black", alpha=0.95)
    ax.text(
        x, y, str(text), ha="center", va="center", fontsize=size, color="white", gid=gid, bbox=box,
        fontweight="bold" if size >= 9 else "normal",  # small bold text with a rim fills in
        path_effects=[patheffects.withStroke(linewidth=max(1.2, size / 4.5), foreground="black")],
    )


def outline(ax: Axes, row0: int, col0: int, row1: int, col1: int, gid: str, **kwargs) -> Rectangle:
    """Outline the block of cells rows row0..row1, columns col0..col1 (inclusive) of a token grid."""
    style = dict(fill=False, edgecolor=OUTLINE, linewidth=2.5) | kwargs
    box = Rectangle((col0 - 0.5, row0 - 0.5), col1 - col0 + 1, row1 - row0 + 1, gid=gid, **style)
    ax.add_patch(box)
    return box


def token_grid(ax: Axes, height: int, width: int, title: str, xlabel: str = "column", ylabel: str = "row") -> None:
    """Axes for an H x W grid of cells, cell (i, j) centred at x=j, y=i, row 0 at the top."""
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(height - 0.5, -0.5)
    ax.set_aspect("equal")
    if max(height, width) <= 32:  # beyond, the lines would be a grey haze
        cell_lines(ax, height, width)
    ax.set_xticks(_few_ticks(width))
    ax.set_yticks(_few_ticks(height))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def cell_lines(ax: Axes, height: int, width: int, colour: str = "white", linewidth: float = 0.5) -> None:
    """Thin lines between the cells of an H x W grid (one LineCollection each way: cheap to draw)."""
    ax.hlines(np.arange(0.5, height - 1), -0.5, width - 0.5, colors=colour, linewidth=linewidth, alpha=0.7)
    ax.vlines(np.arange(0.5, width - 1), -0.5, height - 0.5, colors=colour, linewidth=linewidth, alpha=0.7)


def image_size_pair(image_size: object) -> tuple[int, int]:
    """An image size given as an int or a pair (H, W), as (H, W); a clear error for anything else."""
    if isinstance(image_size, bool) or not isinstance(image_size, (int, tuple, list)):
        raise TypeError(f"image_size must be an int or a pair (H, W) of ints, got {type(image_size).__name__}")
    size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if len(size) != 2 or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in size):
        raise ValueError(f"image_size must be a positive int or a pair (H, W) of positive ints, got {image_size!r}")
    return size


def grid_position(value: object, height: int, width: int, name: str) -> tuple[int, int]:
    """(row, column) of a cell of an H x W grid given as its row-major index or as (row, column)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < height * width:
        return divmod(value, width)
    if (isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value)
            and 0 <= value[0] < height and 0 <= value[1] < width):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an index in [0, {height * width}) or a (row, column) inside "
                     f"{height}x{width}, got {value!r}")


def _few_ticks(n: int) -> list[int]:
    step = max(1, int(np.ceil(n / 8)))
    return list(range(0, n, step))


def categorical(n: int) -> ListedColormap:
    """n clearly different colours: tab10 up to 10, tab20 up to 20, then tab20, tab20b and tab20c
    together (60 colours), repeating beyond."""
    if n <= 20:
        base = colormaps["tab10"].colors if n <= 10 else colormaps["tab20"].colors
    else:
        base = colormaps["tab20"].colors + colormaps["tab20b"].colors + colormaps["tab20c"].colors
    return ListedColormap([base[k % len(base)] for k in range(n)])


def window_shades(rows: int, cols: int) -> list[tuple[float, float, float, float]]:
    """A grey for each window of a rows x cols grid of windows (row-major), as RGBA: neighbours,
    diagonal ones too, always differ, and the greys never look like a region's colour."""
    shades = []
    for w in range(rows * cols):
        row, col = divmod(w, cols)
        grey = WINDOW_GREYS[2 * (row % 2) + col % 2]
        shades.append((grey, grey, grey, 1.0))
    return shades


def show_labels(ax: Axes, labels: np.ndarray, n: int, colours=None, **kwargs):
    """Draw an int array with values 0..n-1 in n colours (categorical ones unless `colours` are
    given); the image keeps the ints."""
    cmap = categorical(n) if colours is None else ListedColormap(list(colours)[:n])
    norm = BoundaryNorm(np.arange(-0.5, n), cmap.N)
    return ax.imshow(labels, cmap=cmap, norm=norm, interpolation="nearest", **kwargs)


def legend_patches(colours, names) -> list[Patch]:
    return [Patch(facecolor=c, edgecolor="black", label=name) for c, name in zip(colours, names)]


def as_image(image: object) -> np.ndarray:
    """A picture to draw: (H, W) or (H, W, 3) floats in [0, 1].

    Accepts a numpy array (H, W) or (H, W, C) as skimage.data gives it (uint8 or float), or a
    tensor (C, H, W) or (1, C, H, W) as a model takes it. Floats outside [0, 1] (e.g. a normalised
    image) are rescaled to [0, 1] for display.
    """
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu().float()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] not in (1, 3, 4):
            raise ValueError(
                f"image tensor must have shape (C, H, W) or (1, C, H, W), C in 1, 3, 4, got {tuple(image.shape)}"
            )
        array = t.permute(1, 2, 0).numpy()
    else:
        array = np.asarray(image)
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
            raise ValueError(f"image array must have shape (H, W) or (H, W, C), C in 1, 3, 4, got {array.shape}")
    if array.ndim == 3:
        array = array[..., 0] if array.shape[2] == 1 else array[..., :3]
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255
    array = array.astype(np.float32)
    low, high = float(array.min()), float(array.max())
    if low < 0 or high > 1:
        array = (array - low) / max(high - low, 1e-12)
    return array


def as_batch(image: object) -> torch.Tensor:
    """The picture as a (1, C, H, W) float tensor: the input layout of the ground-floor functions."""
    if isinstance(image, torch.Tensor) and image.dim() in (3, 4):
        t = image.detach().float()
        return t[None] if t.dim() == 3 else t[:1]
    array = as_image(image)
    t = torch.from_numpy(np.ascontiguousarray(array))
    return (t[None] if t.dim() == 2 else t.permute(2, 0, 1))[None]  # (1, C, H, W)


def _runs(values: torch.Tensor) -> list[tuple[int, int]]:
    """Sorted distinct ints cut into runs of consecutive values: [0, 1, 6, 7] -> [(0, 1), (6, 7)]."""
    v = torch.unique(values).tolist()
    runs, start = [], v[0]
    for prev, cur in zip(v, v[1:] + [None]):
        if cur != prev + 1:
            runs.append((start, prev))
            start = cur
    return runs


def window_pieces(members: torch.Tensor) -> list[tuple[int, int, int, int]]:
    """The rectangles (row0, col0, row1, col1) a window covers on the original map: 1, 2 or 4."""
    return [(r0, c0, r1, c1) for r0, r1 in _runs(members[:, 0]) for c0, c1 in _runs(members[:, 1])]
