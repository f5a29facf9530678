"""Figures for training a classifier: a grid of images with their labels (and a model's predictions),
and the training curves of several models side by side.

`plot_digits` draws a batch as a DataLoader gives it, (B, C, H, W) images and (B,) labels;
`plot_training_curves` draws the History that minivit.train.fit returns, one line per model;
`plot_accuracy_vs_data` and `plot_interaction` draw stored results over several seeds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from minivit.ops._checks import check_tensor
from minivit.viz._common import as_image, new_figure

WRONG = "red"  # title colour of an image whose prediction differs from its label


def _as_ints(values: object, name: str, count: int) -> list[int]:
    array = np.asarray(values.detach().cpu() if isinstance(values, torch.Tensor) else values)
    if array.shape != (count,):
        raise ValueError(f"{name} must have shape ({count},), one per image, got {array.shape}")
    return [int(v) for v in array]


def plot_digits(
    images: torch.Tensor,
    labels: object,
    predictions: object | None = None,
    columns: int = 8,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """A grid of images, each titled with its label, or with its label and a model's prediction.

    Args:
        images: shape (B, C, H, W), C = 1 or 3, as a DataLoader gives them (normalised values are
            rescaled to [0, 1] image by image, for display only).
        labels: shape (B,), class indices.
        predictions: shape (B,), class indices, or None. Titles then read "label -> prediction",
            in red where the two differ.
        columns: images per row.
        class_names: names of the classes, indexed by class; the indices themselves when None.
        title: the figure's title; a default says how many images (and how many are wrong).

    Returns:
        the Figure: one axes per image, in batch order (row-major); axes i shows as_image(images[i])
        and its title names labels[i] (and predictions[i]). Unused axes of the last row are hidden.
    """
    check_tensor(images, "images", "(B, C, H, W)")
    if images.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (B, C, H, W) with C = 1 or 3, got shape {tuple(images.shape)}")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive int, got {columns!r}")
    B = images.shape[0]
    truth = _as_ints(labels, "labels", B)
    guess = None if predictions is None else _as_ints(predictions, "predictions", B)
    name = (lambda k: str(k)) if class_names is None else (lambda k: str(class_names[k]))

    cols = min(columns, B)
    rows = math.ceil(B / cols)
    fig = new_figure(1.3 * cols, 1.45 * rows + 0.5)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for i, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= B:
            ax.set_visible(False)
            continue
        ax.imshow(as_image(images[i]), cmap="gray", interpolation="nearest")
        if guess is None:
            ax.set_title(name(truth[i]), fontsize=10)
        else:
            wrong = guess[i] != truth[i]
            ax.set_title(f"{name(truth[i])} -> {name(guess[i])}", fontsize=10, color=WRONG if wrong else "black",
                         fontweight="bold" if wrong else "normal")
    if title is None:
        title = f"{B} images and their labels"
        if guess is not None:
            wrong = sum(g != t for g, t in zip(guess, truth))
            title = f"{B} images, titled label -> prediction; {wrong} wrong, in red"
    fig.suptitle(title)
    return fig


def plot_training_curves(
    histories: Mapping[str, object], title: str = "training curves", evaluated_on: str = "test"
) -> Figure:
    """Training loss and the accuracy measured after each epoch, for several models, one line (and colour)
    per model.

    Args:
        histories: model name -> a History of minivit.train.fit (anything with lists `train_loss`
            and `test_accuracy`, one entry per epoch; test_accuracy may be empty).
        title: the figure's title.
        evaluated_on: what the loader `fit` evaluated on held, for the right panel's title: "test",
            "validation", ...

    Returns:
        the Figure with two axes: left, the training loss per epoch; right, the test accuracy per
        epoch (empty if no history has one). Each line's x is 1..epochs, its y the history's list,
        its label the model's name, in the order of `histories`.
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError(f"histories must be a non-empty mapping of model name -> History, got {histories!r}")
    for key, history in histories.items():
        if not hasattr(history, "train_loss") or not hasattr(history, "test_accuracy"):
            raise ValueError(f"histories[{key!r}] must have train_loss and test_accuracy lists, "
                             f"got {type(history).__name__}")

    fig = new_figure(12.0, 4.4)
    loss_ax, accuracy_ax = fig.subplots(1, 2)
    for k, (key, history) in enumerate(histories.items()):
        colour = f"C{k % 10}"
        loss = list(history.train_loss)
        loss_ax.plot(range(1, len(loss) + 1), loss, marker="o", markersize=4, color=colour, label=key)
        accuracy = list(history.test_accuracy)
        if accuracy:
            accuracy_ax.plot(range(1, len(accuracy) + 1), accuracy, marker="o", markersize=4, color=colour, label=key)
    loss_ax.set_title("training loss (mean over each epoch's batches)")
    loss_ax.set_ylabel("cross-entropy loss")
    loss_ax.set_ylim(bottom=0)
    accuracy_ax.set_title(f"{evaluated_on} accuracy after each epoch")
    accuracy_ax.set_ylabel("accuracy")
    accuracy_ax.set_ylim(top=1.0)
    for ax in (loss_ax, accuracy_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(True, alpha=0.4)
        if ax.lines:
            ax.legend()
    fig.suptitle(title)
    return fig


def _runs_by_model(rows: object, name: str) -> dict[str, dict[int, list[float]]]:
    """{model: {train_size: [test accuracy of each run]}}, models in order of first appearance."""
    if not isinstance(rows, Sequence) or not rows:
        raise ValueError(f"{name} must be a non-empty sequence of runs, got {rows!r}")
    results: dict[str, dict[int, list[float]]] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or not {"model", "train_size", "test_accuracy"} <= set(row):
            raise ValueError(f"{name}[{i}] must have model, train_size and test_accuracy, got {row!r}")
        by_size = results.setdefault(str(row["model"]), {})
        by_size.setdefault(int(row["train_size"]), []).append(float(row["test_accuracy"]))
    return results


def plot_accuracy_vs_data(
    rows: Sequence[Mapping[str, object]],
    title: str = "test accuracy against training-set size",
    baselines: Sequence[Mapping[str, object]] = (),
    legend_outside: bool = False,
) -> Figure:
    """Test accuracy against the number of training images, one line per model: the mean over the
    seeds, with a bar from the lowest to the highest seed.

    Args:
        rows: one per training run, each with `model` (a name), `train_size` (images trained on) and
            `test_accuracy`, e.g. the rows of minivit.experiments.data_size or its CSV file.
        title: the figure's title.
        baselines: more runs of the same form, for methods to compare with (e.g. a nearest-neighbour
            classifier, which needs no training): drawn the same way but dashed, in greys, after the models.
        legend_outside: put the legend to the right of the axes (a wider figure), for many lines that
            would run behind it; else it sits in the lower right corner inside the axes.

    Returns:
        the Figure with one axes (x logarithmic, ticks at the sizes trained on): per model of `rows`, then
        per model of `baselines`, in order of first appearance, one errorbar container whose line has
        x = the sorted sizes and y = the mean accuracy at each size, and whose bars run from the lowest to
        the highest accuracy there; the baselines' lines are dashed ("--"), the models' solid.
    """
    results = _runs_by_model(rows, "rows")
    extra = _runs_by_model(baselines, "baselines") if len(baselines) else {}
    if not isinstance(legend_outside, bool):
        raise TypeError(f"legend_outside must be a bool, got {legend_outside!r}")
    fig = new_figure(9.5 if legend_outside else 7.5, 4.6)
    ax = fig.subplots()
    sizes = sorted({size for runs in (results, extra) for by_size in runs.values() for size in by_size})
    greys = ("black", "0.45", "0.7")
    styles = [(f"C{k % 10}", "-") for k in range(len(results))] + [(greys[k % 3], "--") for k in range(len(extra))]
    for (model, by_size), (colour, style) in zip([*results.items(), *extra.items()], styles):
        x = sorted(by_size)
        mean = np.array([np.mean(by_size[s]) for s in x])
        low = np.maximum(mean - np.array([min(by_size[s]) for s in x]), 0)  # >= 0 despite rounding
        high = np.maximum(np.array([max(by_size[s]) for s in x]) - mean, 0)
        n = min(len(v) for v in by_size.values())
        container = ax.errorbar(x, mean, yerr=np.stack([low, high]), marker="o", markersize=4, capsize=4,
                                color=colour, label=f"{model} ({n} seeds)" if n > 1 else model)
        container.lines[0].set_linestyle(style)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training images (log scale)")
    ax.set_ylabel("test accuracy: mean, bar from lowest to highest seed")
    ax.grid(True, alpha=0.4)
    if legend_outside:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    else:
        ax.legend(loc="lower right")
    ax.set_title(title)
    return fig


def plot_interaction(
    panels: Mapping[str, Mapping[tuple[str, str], Sequence[float]]],
    ylabel: str,
    title: str,
) -> Figure:
    """A factorial experiment (two changes, each tried with the other fixed every way) as an interaction
    plot: per panel, the levels of the second change along x, one line per level of the first, at the
    mean over the seeds, with a bar from the lowest to the highest seed. Parallel lines: each change adds
    the same whatever the other is; lines that spread apart: one change matters more with the other.

    Args:
        panels: {panel title: {(line level, x level): per-seed values}}, e.g. {"60 epochs":
            {("last map", "pseudo-masks"): [0.28, 0.29, 0.27], ...}}; every panel has the same levels and
            every combination of them.
        ylabel: what the values are.
        title: the figure's title.

    Returns:
        the Figure, one axes per panel, sharing y; in each, per line level (in order of first appearance)
        one errorbar container whose x are 0, 1, ... (the x levels, in order of first appearance, as tick
        labels) and whose y are the means.
    """
    if not isinstance(panels, Mapping) or not panels:
        raise ValueError(f"panels must be a non-empty mapping of panel titles to results, got {panels!r}")
    first = next(iter(panels.values()))
    lines = list(dict.fromkeys(line for line, _ in first))
    xs = list(dict.fromkeys(x for _, x in first))
    wanted = {(line, x) for line in lines for x in xs}
    for name, cells in panels.items():
        if set(cells) != wanted:
            raise ValueError(f"panel {name!r} must have every (line, x) pair of {sorted(wanted)}, got {sorted(cells)}")
        empty = [key for key, values in cells.items() if len(values) == 0]
        if empty:
            raise ValueError(f"panel {name!r} has no values for {empty}")

    fig = new_figure(2.9 * len(panels) + 1.2, 3.9)
    axes = np.atleast_1d(fig.subplots(1, len(panels), sharey=True))
    for ax, (name, cells) in zip(axes, panels.items()):
        for k, line in enumerate(lines):
            values = [np.asarray(cells[line, x], dtype=float) for x in xs]
            mean = np.array([v.mean() for v in values])
            low = np.maximum(mean - np.array([v.min() for v in values]), 0)
            high = np.maximum(np.array([v.max() for v in values]) - mean, 0)
            ax.errorbar(range(len(xs)), mean, yerr=np.stack([low, high]), marker="o", markersize=5, capsize=4,
                        color=f"C{k % 10}", label=line)
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlim(-0.4, len(xs) - 0.6)
        ax.grid(True, alpha=0.4)
        ax.set_title(name)
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(loc="best")
    fig.suptitle(title)
    return fig
