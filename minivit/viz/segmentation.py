"""Figures for dense prediction: images above their segmentation masks, class activation maps over the
images they explain, and the two measures of where a CAM looks (each computed by minivit.segmentation):

    plot_masks          images above (or beside) one or more masks of each
    plot_cams           the CAM of every digit on each image, scaled as masks_from_cams scales it
    plot_pointing_game  the places of a CAM's map, a digit's box and the CAM's peak: hit, miss, or no place
                        centre in the box at all
    plot_far_share      one place's near block and the gradient of its CAM value over the input pixels

Masks hold one class index per pixel, 0 for the background (as `minivit.data.digit_canvas` numbers
them: digit d is class d + 1). The background is drawn light grey and every other class in its own
colour, the same colour in every panel.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from minivit.ops._checks import check_shape, check_tensor
from minivit.segmentation import (
    cam_gradients,
    near_block,
    object_boxes,
    place_centres,
    pointing_chance,
    pointing_game,
)
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
    images_in: str = "columns",
) -> Figure:
    """Images above one or more masks of each (e.g. the true mask and two predictions), or beside them.

    Args:
        images: (B, C, H, W), drawn in grey (or colour); normalised values are rescaled for display.
        masks: row title -> masks of shape (B, H, W), class indices, 0 for the background.
        classes: names of the K classes, background first; K = the largest class index + 1 and
            names "0", "1", ... when None.
        panel_inches: the height of each picture; smaller keeps many rows within one screen.
        images_in: "columns", one column per image and one row per kind of mask (row titles); or
            "rows", one row per image and one column per kind of mask (column titles), which keeps
            many kinds of mask side by side within a wide, low figure.

    Returns:
        the Figure. With images_in="columns": row 0 the images, row 1 + j the masks given j-th, so the
        image data of row 1 + j, column b is masks[j][b]. With images_in="rows": the same grid
        transposed, column 0 the images, column 1 + j masks[j], so row b, column 1 + j holds masks[j][b].
        The legend names the classes present in any mask.
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
    if images_in not in ("columns", "rows"):
        raise ValueError(f'images_in must be "columns" or "rows", got {images_in!r}')
    kinds = 1 + len(masks)  # the images, then each kind of mask
    panel = float(panel_inches)
    if images_in == "columns":  # a row title stays within its row
        label_size, width = (11 if panel >= 2 else max(7.5, 5.5 * panel)), int(16 * panel)  # points, characters
    else:  # a column title, a little larger and wrapped shorter, stays within its column
        label_size, width = (11 if panel >= 2 else max(9, 7 * panel)), int(13 * panel)
    titles = [textwrap.fill(title, width=width) for title in ["image", *masks]]
    if images_in == "columns":
        fig = new_figure(panel * W / H * B + 2.0, panel * kinds + 0.2)
        axes = np.array(fig.subplots(kinds, B, squeeze=False))  # (kind, image)
    else:
        lines = max(title.count("\n") + 1 for title in titles)
        fig = new_figure(panel * W / H * kinds + 2.0, panel * B + 0.2 + lines * label_size / 72 * 1.3)
        axes = np.array(fig.subplots(B, kinds, squeeze=False)).T  # (kind, image), as above
    for b in range(B):
        axes[0, b].imshow(pictures[b], cmap="gray", interpolation="nearest")
        for j, m in enumerate(masks.values(), start=1):
            axes[j, b].imshow(m[b].numpy(), cmap=cmap, norm=norm, interpolation="nearest")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for j, title in enumerate(titles):
        if images_in == "columns":
            axes[j, 0].set_ylabel(title, fontsize=label_size)
        else:
            axes[j, 0].set_title(title, fontsize=label_size)
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
    probabilities: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
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
        probabilities: (B, K), the classifier's probability of each class (one model only), or None;
            each panel's title then gives it, and a class below 0.5 (one the classifier misses) is
            titled in red with "missed".
        labels: (B, K) bool or 0/1, the classes truly in each image, or None; only with `probabilities`.
            A class answered (probability at least 0.5) that is not in `labels` is titled in orange with
            "not there", and a class below 0.5 is titled "missed" only when it is in `labels`.

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
    if probabilities is not None:
        check_shape(probabilities, "probabilities", "(B, K)", (B, K))
        if len(by_model) != 1:
            raise ValueError(f"probabilities are one model's, got maps of {len(by_model)} models")
    if labels is not None:
        if probabilities is None:
            raise ValueError("labels mark the classifier's answers as right or wrong: give probabilities too")
        check_shape(labels, "labels", "(B, K)", (B, K))
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
                title = f"{name}: CAM of {names[k]}" if name else f"CAM of {names[k]}"
                colour = "black"
                if probabilities is not None:
                    p = float(probabilities[b, k])
                    there = True if labels is None else bool(labels[b, k])
                    if p < 0.5 and there:
                        title, colour = title + f"\np = {p:.2f}: missed", "red"
                    elif p >= 0.5 and not there:
                        title, colour = title + f"\np = {p:.2f}: not there", "darkorange"
                    else:
                        title += f"\np = {p:.2f}"
                ax.set_title(title, fontsize=10, color=colour)
        for j, ax in enumerate(axes[b]):
            ax.set_xticks([])
            ax.set_yticks([])
            if j not in used:
                ax.set_axis_off()
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="activation / its maximum")
    return fig


def _grid(ax: Axes, map_size: tuple[int, int], image_size: tuple[int, int]) -> None:
    """The borders of the places of an h x w map over an H x W image (pixel centres at integers)."""
    (h, w), (H, W) = map_size, image_size
    for i in range(1, h):
        ax.axhline(i * H / h - 0.5, color="white", linewidth=0.8, alpha=0.7, gid="place-border")
    for j in range(1, w):
        ax.axvline(j * W / w - 0.5, color="white", linewidth=0.8, alpha=0.7, gid="place-border")


def plot_pointing_game(images: torch.Tensor, masks: torch.Tensor, present: torch.Tensor, cams: torch.Tensor,
                       classes: Sequence[str] | None = None) -> Figure:
    """The pointing game (`minivit.segmentation.pointing_game`), one panel per digit followed: the canvas
    cut into the places of the CAM's h x w map, every place's centre (a dot), the digit's box, and the
    centre of the place where its CAM peaks (a star), which scores a hit when it lies in the box. A box
    that holds no place centre (`pointing_chance` 0) can never be hit.

    Args:
        images: (B, C, H, W).
        masks: (B, H, W), 0 background, k + 1 for class k.
        present: (B, K): the classes followed on each image; each must be in its mask.
        cams: (B, K, h, w), the CAMs at their own resolution.
        classes: names of the K classes; "0", "1", ... when None.

    Returns:
        the Figure, one axes per (b, k) of present.nonzero(), in that order; in each, the box is a patch
        with gid "box", the place centres one collection with gid "centres", the peak a line with gid
        "peak"; the title says "hit", "miss" or "no centre in its box".
    """
    pictures = _images(images, "images")
    B, _, H, W = images.shape
    check_shape(masks, "masks", "(B, H, W)", (B, H, W))
    check_tensor(cams, "cams", "(B, K, h, w)")
    check_shape(present, "present", "(B, K)", (B, cams.shape[1]))
    h, w = cams.shape[-2:]
    names = list(classes) if classes is not None else [str(k) for k in range(cams.shape[1])]
    followed = present.bool().nonzero().tolist()
    if not followed:
        raise ValueError("present must hold at least one class to follow, got none")
    hits = pointing_game(cams, masks, present).tolist()
    reachable = (pointing_chance(masks, present, (h, w)) > 0).tolist()
    rows, cols = place_centres((h, w), (H, W))
    centre_rows, centre_cols = torch.meshgrid(rows, cols, indexing="ij")
    panel = 2.3
    fig = new_figure(panel * len(followed) + 0.4, panel * H / W + 0.7)
    axes = np.atleast_1d(fig.subplots(1, len(followed)))
    for ax, (b, k), (top, bottom, left, right), hit, can in zip(
            axes, followed, object_boxes(masks, present), hits, reachable):
        ax.imshow(pictures[b], cmap="gray", interpolation="nearest")
        _grid(ax, (h, w), (H, W))
        ax.scatter(centre_cols.flatten(), centre_rows.flatten(), s=9, color="tab:orange", zorder=3, gid="centres")
        ax.add_patch(Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False,
                               edgecolor="tab:cyan", linewidth=2.0, gid="box"))
        i, j = divmod(int(cams[b, k].argmax()), w)
        ax.plot([cols[j]], [rows[i]], marker="*", markersize=15, color="red" if not hit else "lime",
                markeredgecolor="black", linestyle="none", gid="peak")
        verdict = "hit" if hit else ("miss" if can else "no centre in its box")
        ax.set_title(f"CAM of {names[k]}: {verdict}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_far_share(classifier: nn.Module, image: torch.Tensor, digit: int, place: tuple[int, int]) -> Figure:
    """What one place's CAM value depends on: the canvas cut into the places of the CAM's map, with the
    place and its near block (the 3 x 3 places around it, `minivit.segmentation.near_block`) outlined;
    beside it, the absolute gradient of that CAM value over the input pixels (`cam_gradients`), and the
    share of it that lies outside the near block, which `far_gradient_share` sums over every place.

    Args:
        classifier: as `class_activation_map` takes it (run in eval mode).
        image: (1, C, H, W), one canvas.
        digit: the class whose CAM is followed.
        place: (i, j) on the CAM's h x w map.

    Returns:
        the Figure: two axes; the second's image holds the gradient (H, W); each axes has the place outlined
        (gid "place") and the near block (gid "near"); the second's title gives the far share.
    """
    check_shape(image, "image", "(1, C, H, W)", (1, None, None, None))
    gradients = cam_gradients(classifier, image, torch.tensor([digit]))[0]  # (h, w, H, W)
    h, w, H, W = gradients.shape
    i, j = place
    if not (0 <= i < h and 0 <= j < w):
        raise ValueError(f"place must be on the {h} x {w} map, got {place}")
    gradient = gradients[i, j]  # (H, W)
    near = near_block(place, (h, w), (H, W))
    share = float(gradient[~near].sum() / gradient.sum())
    sh, sw = H / h, W / w
    rows, cols = near.any(dim=1).nonzero().flatten(), near.any(dim=0).nonzero().flatten()
    fig = new_figure(7.4, 3.6)
    axes = fig.subplots(1, 2)
    axes[0].imshow(as_image(image), cmap="gray", interpolation="nearest")
    shown = axes[1].imshow(gradient.numpy(), cmap=CONTINUOUS, interpolation="nearest")
    fig.colorbar(shown, ax=axes[1], shrink=0.85, label="|gradient|")
    for ax in axes:
        _grid(ax, (h, w), (H, W))
        ax.add_patch(Rectangle((j * sw - 0.5, i * sh - 0.5), sw, sh, fill=False, edgecolor="red", linewidth=2.0,
                               gid="place"))
        ax.add_patch(Rectangle((int(cols[0]) - 0.5, int(rows[0]) - 0.5), len(cols), len(rows), fill=False,
                               edgecolor="white", linewidth=1.6, linestyle="--", gid="near"))
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0].set_title(f"place ({i}, {j}) of the {h} x {w} map (red)\nand its near block (dashed)", fontsize=10)
    axes[1].set_title(f"gradient of CAM of {digit} at that place\nfar share: {share:.2f}", fontsize=10)
    return fig
