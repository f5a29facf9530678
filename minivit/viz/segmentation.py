"""Figures for dense prediction: images above their segmentation masks, and class activation maps
over the images they explain.

Masks hold one class index per pixel, 0 for the background (as `minivit.data.digit_canvas` numbers
them: digit d is class d + 1). The background is drawn light grey and every other class in its own
colour, the same colour in every panel.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from minivit.ops._checks import check_shape, check_tensor
from minivit.viz._common import CONTINUOUS, as_image, categorical, legend_patches, new_figure

BACKGROUND_COLOUR = (0.92, 0.92, 0.92)


def mask_colours(num_classes: int) -> ListedColormap:
    """Colours of classes 0..K-1: light grey for the background (0), then categorical colours."""
    return ListedColormap([BACKGROUND_COLOUR, *categorical(num_classes - 1).colors])


def _images(images: object, name: str) -> list[np.ndarray]:
    check_tensor(images, name, "(B, C, H, W)")
    return [as_image(image) for image in images]


def plot_masks(
    images: torch.Tensor,
    masks: Mapping[str, torch.Tensor],
    classes: Sequence[str] | None = None,
    panel_inches: float = 2.0,
) -> Figure:
    """Images above one or more masks of each (e.g. the true mask and two predictions).

    Args:
        images: (B, C, H, W), drawn in grey (or colour); normalised values are rescaled for display.
        masks: row title -> masks of shape (B, H, W), class indices, 0 for the background.
        classes: names of the K classes, background first; K = the largest class index + 1 and
            names "0", "1", ... when None.
        panel_inches: the height of each picture; smaller keeps many rows within one screen.

    Returns:
        the Figure: one column per image; row 0 the images, row 1 + j the masks given j-th, so the
        image data of row 1 + j, column b is masks[j][b]. The legend names the classes present in
        any mask.
    """
    pictures = _images(images, "images")
    if not masks:
        raise ValueError("masks must map at least one title to masks of shape (B, H, W), got an empty mapping")
    B, _, H, W = images.shape
    for title, m in masks.items():
        check_shape(m, f"masks[{title!r}]", "(B, H, W)", (B, H, W))
    largest = max(int(m.max()) for m in masks.values())
    K = len(classes) if classes is not None else largest + 1
    if largest >= K:
        raise ValueError(f"masks hold class {largest}, but classes names only {K} classes")
    names = list(classes) if classes is not None else [str(k) for k in range(K)]
    cmap = mask_colours(K)
    norm = BoundaryNorm(np.arange(-0.5, K), cmap.N)

    if not isinstance(panel_inches, (int, float)) or not 0.5 <= panel_inches <= 6:
        raise ValueError(f"panel_inches must be a number of inches between 0.5 and 6, got {panel_inches!r}")
    rows = 1 + len(masks)
    panel = float(panel_inches)
    fig = new_figure(panel * W / H * B + 2.0, panel * rows + 0.2)
    axes = np.array(fig.subplots(rows, B, squeeze=False))
    for b in range(B):
        axes[0, b].imshow(pictures[b], cmap="gray", interpolation="nearest")
        for j, m in enumerate(masks.values(), start=1):
            axes[j, b].imshow(m[b].numpy(), cmap=cmap, norm=norm, interpolation="nearest")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    label_size = 11 if panel >= 2 else max(7.5, 5.5 * panel)  # a row title stays within its row
    for j, title in enumerate(["image", *masks]):
        axes[j, 0].set_ylabel(textwrap.fill(title, width=int(16 * panel)), fontsize=label_size)
    present = sorted(set().union(*(torch.unique(m).tolist() for m in masks.values())))
    fig.legend(
        handles=legend_patches([cmap(k) for k in present], [names[k] for k in present]),
        loc="outside right center", title="class",
    )
    return fig


def plot_cams(
    images: torch.Tensor,
    cams: torch.Tensor | Mapping[str, torch.Tensor],
    present: torch.Tensor,
    classes: Sequence[str] | None = None,
) -> Figure:
    """Class activation maps of the classes present in each image, over the image; of one model, or
    of several models side by side (on the same images).

    Each map is clipped at 0 and divided by its maximum, as `minivit.segmentation.masks_from_cams`
    scales them, so that 1 marks where the class is most strongly seen.

    Args:
        images: (B, C, H, W).
        cams: (B, K, H, W), e.g. from `minivit.segmentation.class_activation_map(..., size=(H, W))`;
            or model name -> such maps, for several models.
        present: (B, K) bool or 0/1: which maps to draw for each image (e.g. its image-level labels).
        classes: names of the K classes of the maps; "0", "1", ... when None.

    Returns:
        the Figure: one row per image, its picture then, for each model in order, one panel per
        present class, in class order; a panel's second image layer holds that scaled map, and its
        title names the class (after the model's name when there are several). Unused panels are blank.
    """
    pictures = _images(images, "images")
    B, _, H, W = images.shape
    by_model = dict(cams) if isinstance(cams, Mapping) else {"": cams}
    if not by_model:
        raise ValueError("cams must be a tensor (B, K, H, W) or map at least one model name to one")
    for name, maps in by_model.items():
        check_shape(maps, f"cams[{name!r}]" if name else "cams", "(B, K, H, W)", (B, None, H, W))
    K = next(iter(by_model.values())).shape[1]
    check_shape(present, "present", "(B, K)", (B, K))
    names = list(classes) if classes is not None else [str(k) for k in range(K)]
    if len(names) != K:
        raise ValueError(f"classes must name the {K} maps, got {len(names)} names")
    scaled = {}
    for name, maps in by_model.items():
        maps = maps.detach().float().clamp(min=0)
        scaled[name] = maps / maps.amax(dim=(2, 3), keepdim=True).clamp(min=1e-12)  # each map in [0, 1]
    shown = [present[b].bool().nonzero().flatten().tolist() for b in range(B)]

    per_model = max(1, max(len(ks) for ks in shown))
    columns = 1 + per_model * len(scaled)
    panel = 2.0
    fig = new_figure(panel * columns + 1.0, panel * H / W * B + 0.6)
    axes = np.array(fig.subplots(B, columns, squeeze=False))
    image = None
    for b in range(B):
        axes[b, 0].imshow(pictures[b], cmap="gray", interpolation="nearest")
        axes[b, 0].set_title("image" if b == 0 else "")
        used = {0}
        for m, (name, maps) in enumerate(scaled.items()):
            for j, k in enumerate(shown[b]):
                ax = axes[b, 1 + m * per_model + j]
                used.add(1 + m * per_model + j)
                ax.imshow(pictures[b], cmap="gray", interpolation="nearest")
                image = ax.imshow(maps[b, k].numpy(), cmap=CONTINUOUS, vmin=0, vmax=1, alpha=0.6,
                                  interpolation="nearest")
                ax.set_title(f"{name}: CAM of {names[k]}" if name else f"CAM of {names[k]}", fontsize=10)
        for j, ax in enumerate(axes[b]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j not in used:
                ax.set_axis_off()
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="activation / its maximum")
    return fig
