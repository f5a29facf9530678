"""Figures for training a classifier: a grid of images with their labels (and a model's predictions),
and the training curves of several models side by side.

`plot_digits` draws a batch as a DataLoader gives it, (B, C, H, W) images and (B,) labels;
`plot_training_curves` draws the History that minivit.train.fit returns, one line per model;
`plot_accuracy_vs_data`, `plot_interaction`, `plot_seed_dots` and `plot_learning_rate_sweep` draw stored
results over several seeds; `plot_claim_intervals` draws the claims made from them, each with its interval.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from torch import nn

from minivit.ops._checks import check_tensor
from minivit.viz._common import as_image, new_figure

WRONG = "red"  # title colour of an image whose prediction differs from its label
MUTED = "0.6"  # grey: runs set apart in plot_seed_dots


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
    histories: Mapping[str, object], title: str = "training curves", evaluated_on: str = "test",
    loss_floor: float | None = None,
) -> Figure:
    """Training loss and the accuracy measured after each epoch, for several models, one line (and colour)
    per model.

    Args:
        histories: model name -> a History of minivit.train.fit (anything with lists `train_loss`
            and `eval_accuracy`, one entry per epoch; eval_accuracy may be empty).
        title: the figure's title.
        evaluated_on: what the loader `fit` evaluated on held, for the right panel's title: "test",
            "validation", ...
        loss_floor: if given, the lowest loss possible (with label smoothing, the smoothed target's entropy),
            drawn as a dashed grey line (gid "floor") across the left panel.

    Returns:
        the Figure with two axes: left, the training loss per epoch; right, the accuracy on the evaluated set
        per epoch (empty if no history has one). Each line's x is 1..epochs, its y the history's list, its
        label the model's name, in the order of `histories`.
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError(f"histories must be a non-empty mapping of model name -> History, got {histories!r}")
    for key, history in histories.items():
        if not hasattr(history, "train_loss") or not hasattr(history, "eval_accuracy"):
            raise ValueError(f"histories[{key!r}] must have train_loss and eval_accuracy lists, "
                             f"got {type(history).__name__}")

    fig = new_figure(12.0, 4.4)
    loss_ax, accuracy_ax = fig.subplots(1, 2)
    for k, (key, history) in enumerate(histories.items()):
        colour = f"C{k % 10}"
        loss = list(history.train_loss)
        loss_ax.plot(range(1, len(loss) + 1), loss, marker="o", markersize=4, color=colour, label=key)
        accuracy = list(history.eval_accuracy)
        if accuracy:
            accuracy_ax.plot(range(1, len(accuracy) + 1), accuracy, marker="o", markersize=4, color=colour, label=key)
    if loss_floor is not None:
        loss_ax.axhline(loss_floor, color="grey", linestyle="--", linewidth=1.2, gid="floor",
                        label=f"lowest possible loss, {loss_floor:.2f}")
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
    run_names: Mapping[str, str] | None = None,
    bands: Mapping[str, Mapping[int, tuple[float, float]]] | None = None,
    bands_label: str = "shaded: an interval of the mean",
) -> Figure:
    """Test accuracy against the number of training images, one line per model: the mean over the
    seeds, with a bar from the lowest to the highest seed, and optionally a shaded interval around it.

    Args:
        rows: one per training run, each with `model` (a name), `train_size` (images trained on) and
            `test_accuracy`, e.g. the rows of minivit.experiments.data_size or its CSV file.
        title: the figure's title.
        baselines: more runs of the same form, for methods to compare with (e.g. a nearest-neighbour
            classifier, which needs no training): drawn the same way but dashed, in greys, after the models.
        legend_outside: put the legend to the right of the axes (a wider figure), for many lines that
            would run behind it; else it sits in the lower right corner inside the axes.
        run_names: what the runs of a model are, where "seeds" is wrong: e.g. {"1-NN": "draws of the digits"}
            for a nearest-neighbour lookup, which has no seed but is run on several random shares of the
            digits. A model with more than one run at every size is labelled "model (n <its run name>)".
        bands: {model: {train_size: (low, high)}}, an interval to shade around a model's line in its colour,
            e.g. the Wilson interval of its mean test accuracy (minivit.metrics.wilson_interval), the test
            set's own noise beside the seeds' spread; each model needs an interval at each of its sizes.
            Models it leaves out get no band; the first band drawn puts `bands_label` in the legend.
        bands_label: the legend's entry for the shaded bands.

    Returns:
        the Figure with one axes (x logarithmic, ticks at the sizes trained on): per model of `rows`, then
        per model of `baselines`, in order of first appearance, one errorbar container whose line has
        x = the sorted sizes and y = the mean accuracy at each size, and whose bars run from the lowest to
        the highest accuracy there; the baselines' lines are dashed ("--"), the models' solid; per model of
        `bands`, one PolyCollection (gid "band") from low to high at each of its sizes.
    """
    results = _runs_by_model(rows, "rows")
    extra = _runs_by_model(baselines, "baselines") if len(baselines) else {}
    bands = {} if bands is None else bands
    if not isinstance(bands_label, str):
        raise TypeError(f"bands_label must be a str, got {bands_label!r}")
    if not isinstance(bands, Mapping) or not all(isinstance(v, Mapping) for v in bands.values()):
        raise TypeError(f"bands must map model names to {{train_size: (low, high)}}, got {bands!r}")
    for model, band in bands.items():
        sizes_of = ({**results, **extra}).get(model)
        if sizes_of is None or set(band) != set(sizes_of):
            raise ValueError(f"bands[{model!r}] must give an interval at each size of a drawn model, "
                             f"{sorted(sizes_of) if sizes_of else 'no such model'}, got {sorted(band)}")
    if not isinstance(legend_outside, bool):
        raise TypeError(f"legend_outside must be a bool, got {legend_outside!r}")
    run_names = {} if run_names is None else run_names
    if not isinstance(run_names, Mapping) or not all(isinstance(v, str) for v in run_names.values()):
        raise TypeError(f"run_names must map model names to strings, got {run_names!r}")
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
        label = f"{model} ({n} {run_names.get(model, 'seeds')})" if n > 1 else model
        container = ax.errorbar(x, mean, yerr=np.stack([low, high]), marker="o", markersize=4, capsize=4,
                                color=colour, label=label)
        container.lines[0].set_linestyle(style)
        if model in bands:
            low_high = np.array([bands[model][s] for s in x], dtype=float)  # (sizes, 2)
            first = not any(c.get_gid() == "band" for c in ax.collections)
            ax.fill_between(x, low_high[:, 0], low_high[:, 1], color=colour, alpha=0.13, linewidth=0, gid="band",
                            label=bands_label if first else None)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{s:,}" for s in sizes])
    ax.minorticks_off()
    ax.set_xlabel("training images (log scale)")
    ax.set_ylabel("test accuracy: mean, bar from lowest to highest seed")
    ax.grid(True, alpha=0.4)
    handles, labels = ax.get_legend_handles_labels()
    order = sorted(range(len(labels)), key=lambda k: bool(bands) and labels[k] == bands_label)  # the band's entry last
    handles, labels = [handles[k] for k in order], [labels[k] for k in order]
    if bands:  # the band's entry in grey: it stands for every model's band, not the first one's
        handles[-1] = Patch(facecolor="0.5", alpha=0.3, linewidth=0)
    if legend_outside:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    else:
        ax.legend(handles, labels, loc="lower right")
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


def plot_seed_dots(
    rows: Sequence[Mapping[str, object]],
    arms: Sequence[str],
    title: str = "test accuracy, one dot per seed",
    colours: Mapping[str, str] | None = None,
    muted: Collection[tuple[str, int]] = (),
    muted_label: str = "grey: set apart",
) -> Figure:
    """Every run's test accuracy as a dot, one row per arm, one panel per training-set size: a dot plot,
    where lines between sizes would cross.

    Args:
        rows: one per run, with `model` (the arm), `train_size` and `test_accuracy` (the CSV rows of
            minivit.experiments).
        arms: the arms to draw, top to bottom; each must have runs at every size that any of them has.
        title: the figure's title.
        colours: {arm: matplotlib colour}, to draw each arm in the colour its model has in the other figures
            (e.g. {"ViT": "C1"}); arms it leaves out, and every arm when None, take "C0", "C1", ... by row.
        muted: (arm, train_size) pairs to draw in grey, e.g. runs that do not fit their training digits and
            so should not be read beside the others.
        muted_label: the legend entry for the grey runs, in each panel that has any.

    Returns:
        the Figure: one axes per size (ascending, all on one x scale, so that the panels compare at a
        glance); in each, per arm one Line2D of dots
        (gid "runs") whose x data are the arm's accuracies and y data its row number (0 at the top) spread
        by 0.12 per run, and one short vertical Line2D at the arm's mean (gid "mean"); a muted pair's two
        lines are grey (MUTED), and its panel gets a legend with muted_label.
    """
    results = _runs_by_model(rows, "rows")
    if isinstance(arms, str) or not arms or any(arm not in results for arm in arms):
        raise ValueError(f"arms must name models of rows, {list(results)}, got {arms!r}")
    sizes = sorted({size for arm in arms for size in results[arm]})
    missing = [(arm, size) for arm in arms for size in sizes if size not in results[arm]]
    if missing:
        raise ValueError(f"every arm needs runs at every size {sizes}, missing (arm, size) {missing}")
    if colours is not None and not (isinstance(colours, Mapping) and all(isinstance(c, str) for c in colours.values())):
        raise TypeError(f"colours must map arm names to colour strings, got {colours!r}")
    colour = {arm: (colours or {}).get(arm, f"C{y % 10}") for y, arm in enumerate(arms)}
    muted = {(str(arm), int(size)) for arm, size in muted}
    unknown = sorted(muted - {(arm, size) for arm in arms for size in sizes})
    if unknown:
        raise ValueError(f"muted must name (arm, train_size) pairs of the arms drawn, at sizes {sizes}; got {unknown}")
    fig = new_figure(3.6 * len(sizes) + 2.0, 0.42 * len(arms) + 1.5)
    axes = np.atleast_1d(fig.subplots(1, len(sizes), sharey=True, sharex=True))
    for ax, size in zip(axes, sizes):
        for y, arm in enumerate(arms):
            xs = results[arm][size]
            ys = [y + 0.12 * (k - (len(xs) - 1) / 2) for k in range(len(xs))]
            drawn = MUTED if (arm, size) in muted else colour[arm]
            ax.plot(xs, ys, "o", color=drawn, markerfacecolor="none", markersize=6, gid="runs")
            ax.plot([np.mean(xs)] * 2, [y - 0.3, y + 0.3], color=drawn, linewidth=2.5, gid="mean")
        if any(pair[1] == size for pair in muted):
            ax.legend(handles=[Line2D([], [], marker="o", color=MUTED, markerfacecolor="none", linestyle="none")],
                      labels=[muted_label], loc="lower left", fontsize=9)
        ax.set_title(f"{size:,} training digits")
        ax.set_xlabel("test accuracy (circles: seeds; bar: mean)")
        ax.grid(axis="x", color="0.88")
    axes[0].set_yticks(range(len(arms)), arms)
    axes[0].set_ylim(len(arms) - 0.5, -0.5)
    fig.suptitle(title)
    return fig


def plot_learning_rate_sweep(
    rows: Sequence[Mapping[str, object]],
    models: Sequence[str],
    title: str = "validation accuracy against the learning rate",
) -> Figure:
    """A learning-rate sweep: each model's validation accuracy at every rate tried, one circle per seed, a line
    through the means, and a ring around the chosen rate's mean.

    Args:
        rows: one per run, with `model`, `lr`, `validation_accuracy` and `chosen` (True for the runs at the
            rate the model chose), e.g. the rows of course/results/learning_rates.csv with one `fraction`.
        models: the models to draw, in this order (one colour each).
        title: the figure's title.

    Returns:
        the Figure with one axes (x logarithmic, ticks at the rates tried): per model, in order, one Line2D of
        the seeds' accuracies (gid "runs", x = each run's rate), one Line2D of the means at the sorted rates
        (gid "mean", labelled with the model and its chosen rate), and one Line2D of a single point at the
        chosen rate's mean (gid "chosen").
    """
    if isinstance(models, str) or not models:
        raise ValueError(f"models must be a non-empty sequence of model names, got {models!r}")
    if not isinstance(rows, Sequence) or not rows:
        raise ValueError(f"rows must be a non-empty sequence of runs, got {rows!r}")
    runs: dict[str, dict[float, list[float]]] = {name: {} for name in models}
    chosen: dict[str, set[float]] = {name: set() for name in models}
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping) or not {"model", "lr", "validation_accuracy", "chosen"} <= set(row):
            raise ValueError(f"rows[{i}] must have model, lr, validation_accuracy and chosen, got {row!r}")
        if row["model"] in runs:
            runs[row["model"]].setdefault(float(row["lr"]), []).append(float(row["validation_accuracy"]))
            if row["chosen"]:
                chosen[row["model"]].add(float(row["lr"]))
    for name in models:
        if not runs[name] or len(chosen[name]) != 1:
            raise ValueError(f"every model needs runs and exactly one chosen rate; {name!r} has rates "
                             f"{sorted(runs[name])}, chosen {sorted(chosen[name])}")
    fig = new_figure(7.5, 4.4)
    ax = fig.subplots()
    for k, name in enumerate(models):
        colour, by_rate = f"C{k % 10}", runs[name]
        rates = sorted(by_rate)
        ax.plot([lr for lr in rates for _ in by_rate[lr]], [a for lr in rates for a in by_rate[lr]], "o",
                color=colour, markerfacecolor="none", markersize=4, alpha=0.6, gid="runs")
        (best,) = chosen[name]
        ax.plot(rates, [np.mean(by_rate[lr]) for lr in rates], "-", color=colour, linewidth=2,
                label=f"{name} (chosen {best:g})", gid="mean")
        ax.plot([best], [np.mean(by_rate[best])], "o", color=colour, markersize=13, markerfacecolor="none",
                markeredgewidth=2, gid="chosen")
    every = sorted({lr for by_rate in runs.values() for lr in by_rate})
    ax.set_xscale("log")
    ax.set_xticks(every, [f"{lr:g}" for lr in every])
    ax.minorticks_off()
    ax.set_xlabel("peak learning rate (log scale)")
    ax.set_ylabel("validation accuracy (circles: seeds; line: mean)")
    ax.grid(True, alpha=0.4)
    ax.margins(y=0.08)  # room for the rings at the top
    ax.legend(loc="lower left", fontsize=9)
    ax.set_title(title)
    return fig


def plot_learning_rate_schedules(
    schedules: Mapping[str, Sequence[float]], steps_per_epoch: int | None = None,
    title: str = "learning rate at each optimizer step",
) -> Figure:
    """Learning rate against the optimizer step, one line per recipe (e.g. `fit_learning_rates` of each).

    Args:
        schedules: recipe name -> the learning rate at steps 1, 2, ... (all the same length or not).
        steps_per_epoch: if given, a faint vertical line at the end of every epoch.
        title: the figure's title.

    Returns:
        the Figure with one axes: per recipe, in order, one Line2D with x = 1..len(schedule), y = the schedule,
        labelled with the recipe's name (gid "schedule").
    """
    if not isinstance(schedules, Mapping) or not schedules:
        raise ValueError(f"schedules must be a non-empty mapping of recipe name -> learning rates, got {schedules!r}")
    for key, rates in schedules.items():
        if isinstance(rates, str) or not isinstance(rates, Sequence) or not rates:
            raise ValueError(f"schedules[{key!r}] must be a non-empty sequence of learning rates, got {rates!r}")
    fig = new_figure(8.0, 3.6)
    ax = fig.subplots()
    longest = max(len(rates) for rates in schedules.values())
    if steps_per_epoch is not None:
        for end in range(steps_per_epoch, longest, steps_per_epoch):
            ax.axvline(end + 0.5, color="0.85", linewidth=0.6, zorder=0)
    for k, (key, rates) in enumerate(schedules.items()):
        ax.plot(range(1, len(rates) + 1), list(rates), color=f"C{k % 10}", linewidth=2, label=key, gid="schedule")
    ax.set_xlabel("optimizer step" + ("" if steps_per_epoch is None else f" (grey lines: epochs of {steps_per_epoch})"))
    ax.set_ylabel("learning rate")
    ax.set_xlim(0, longest + 1)
    ax.set_ylim(0, 1.3 * max(max(rates) for rates in schedules.values()))  # room for the legend above the lines
    ax.grid(True, axis="y", alpha=0.4)
    ax.legend()
    ax.set_title(title)
    return fig


def plot_running_variance(
    traces: Mapping[str, tuple[Sequence[float], Sequence[float]]], momentum: float = 0.1, title: str | None = None
) -> Figure:
    """One BatchNorm channel's running variance against the variance it should estimate, step by step.

    At each step t (1, 2, ...) of training, BatchNorm moves its running variance a share `momentum` of the way
    towards the batch's variance, starting from 1; (1 - momentum)^t of that start is still in it. Per panel:
    the running variance, the same with that leftover divided out ((v - l) / (1 - l), as Adam corrects its
    running averages), the leftover itself, and the variance of the channel's input over all the training
    images with the weights of that step (what eval mode should divide by).

    Args:
        traces: panel title -> (running variance per step, current variance per step), equal lengths.
        momentum: BatchNorm's momentum (0.1 is PyTorch's default).
        title: the figure's title.

    Returns:
        the Figure: one axes per trace (y logarithmic, shared), each with four Line2D in the order running
        (gid "running"), divided out ("debiased"), leftover ("leftover"), current ("current"); x = 1..steps.
    """
    if not isinstance(traces, Mapping) or not traces:
        raise ValueError(f"traces must be a non-empty mapping of panel title -> (running, current), got {traces!r}")
    if not 0 < momentum < 1:
        raise ValueError(f"momentum must be in (0, 1), got {momentum}")
    fig = new_figure(3.9 * len(traces) + 1.0, 4.2)
    axes = np.atleast_1d(fig.subplots(1, len(traces), sharey=True))
    for ax, (name, (running, current)) in zip(axes, traces.items()):
        running, current = np.asarray(running, dtype=float), np.asarray(current, dtype=float)
        if running.ndim != 1 or running.shape != current.shape:
            raise ValueError(f"traces[{name!r}] must be two sequences of one value per step, equally long, "
                             f"got shapes {running.shape} and {current.shape}")
        steps = np.arange(1, len(running) + 1)
        left = (1 - momentum) ** steps
        ax.plot(steps, running, color="C3", linewidth=2, label="running variance", gid="running")
        ax.plot(steps, (running - left) / (1 - left), color="C1", linestyle="--",
                label="running, leftover divided out", gid="debiased")
        ax.plot(steps, left, color="0.55", linestyle=":", label=f"leftover of the start, {1 - momentum:g}^t",
                gid="leftover")
        ax.plot(steps, current, color="C0", linewidth=2, label="variance with this step's weights", gid="current")
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(name, fontsize=10)
        ax.grid(True, which="major", alpha=0.4)
    axes[0].set_ylabel("variance (log scale)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4, fontsize=9)
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_protocol(fit_size: int, validation_size: int, test_size: int, rates: Sequence[float], seeds: int) -> Figure:
    """The protocol of notebook 08 as a diagram: the digits split three ways, and what each part is for:
    train every rate on the fitting digits, choose on the validation digits, measure the chosen runs on the
    test digits (which choose nothing). Two splits make the three parts: train/test, then fit/validation.

    Args:
        fit_size, validation_size, test_size: digits in each part.
        rates: the learning rates each model is trained at.
        seeds: seeds per rate.

    Returns:
        the Figure: one axes whose first three Rectangles (gid "part") are the parts, left to right, widths in
        proportion to their sizes, each named with its size.
    """
    sizes = (fit_size, validation_size, test_size)
    if any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(f"the three sizes must be positive ints, got {sizes}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1 or not rates:
        raise ValueError(f"rates must be non-empty and seeds a positive int, got {rates!r} and {seeds!r}")
    fig = new_figure(11.0, 3.4)
    ax = fig.subplots()
    total = sum(sizes)
    names = ("fit", "validation", "test")
    colours = ("#cfe3f3", "#fbe3c0", "#d9ecd0")
    steps = (
        f"1. train each model at each of\n{len(rates)} learning rates x {seeds} seeds:\n"
        f"{len(rates) * seeds} runs per model",
        "2. choose each model's rate:\nthe best mean validation accuracy\nover the seeds",
        f"3. measure the {seeds} runs at the\nchosen rate: the reported\naccuracy (never used to choose)",
    )
    left, centres = 0.0, []
    for n, name, colour in zip(sizes, names, colours):
        width = n / total
        ax.add_patch(Rectangle((left, 0.62), width, 0.3, facecolor=colour, edgecolor="black", gid="part"))
        ax.text(left + width / 2, 0.77, f"{name}\n{n:,} digits", ha="center", va="center", fontsize=10)
        centres.append(left + width / 2)
        left += width
    boxes = (0.17, 0.5, 0.83)  # the steps spread evenly below, whatever the widths above
    for x, centre, text, colour in zip(boxes, centres, steps, colours):
        ax.annotate("", xy=(x, 0.345), xytext=(centre, 0.62), arrowprops=dict(arrowstyle="-", color="0.5"))
        ax.text(x, 0.23, text, ha="center", va="center", fontsize=9.5,
                bbox=dict(boxstyle="round,pad=0.5", facecolor=colour, edgecolor="0.3"))
    for a, b in zip(boxes, boxes[1:]):
        ax.annotate("", xy=(b - 0.125, 0.23), xytext=(a + 0.125, 0.23), arrowprops=dict(arrowstyle="->", linewidth=1.5))
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(0, 1)
    ax.axis("off")
    listed = ", ".join(f"{r:g}" for r in rates)
    ax.set_title(f"the {total:,} digits, split twice (train/test, then fit/validation); each part has one job "
                 f"(rates: {listed})")
    return fig


def _grid_lines(ax, size: int, step: float, offset: float = 0.0, **style) -> None:
    """Lines every `step` pixels (starting at `offset`) across a size x size image drawn with imshow."""
    cuts = [c - 0.5 for c in np.arange(offset, size + 1e-9, step) if 0 < c < size]
    ax.vlines(cuts, -0.5, size - 0.5, **style)
    ax.hlines(cuts, -0.5, size - 0.5, **style)


def _input_size_of(model: nn.Module, kind: type, image: torch.Tensor) -> tuple[int, int]:
    """(h, w) of the map that the first module of type `kind` in `model` receives for this image."""
    sizes: list[tuple[int, int]] = []
    first = next(m for m in model.modules() if isinstance(m, kind))
    handle = first.register_forward_pre_hook(lambda module, inputs: sizes.append(tuple(inputs[0].shape[-2:])))
    try:
        with torch.no_grad():
            model.eval()(image[None])
    finally:
        handle.remove()
    return sizes[0]


def plot_tokenisation(image: torch.Tensor, models: Mapping[str, nn.Module]) -> Figure:
    """How each model cuts the same image into the pieces its first layers mix, read from the models
    themselves (their patch and window sizes, map sizes and receptive field), drawn over the image.

    - a SmallCNN: the square of pixels that one feature of its last map sees (its receptive field, from the
      gradients of minivit.ops.receptive_field_map), and the grid of that last map;
    - a VisionTransformer: its patches, every one a token that attends to every other;
    - a SwinTransformer: its first stage's tokens and windows (solid), and the shifted windows (dashed);
    - a MobileViT: the pixels of the map at its first MobileViT block, with the tokens of one of its
      sequences coloured (the pixels at one place in every unfold patch).

    Args:
        image: (1, H, W), H = W, as the models take it.
        models: panel title -> model, each of the four kinds above.

    Returns:
        the Figure: one axes per model, each showing the image; a CNN panel has one Rectangle (gid "field"), a
        MobileViT panel one Line2D (gid "sequence") whose points are the tokens of one sequence.
    """
    from minivit.models.mobilevit import MobileViT, MobileViTBlock
    from minivit.models.swin import SwinTransformer
    from minivit.models.toy_models import SmallCNN
    from minivit.models.vit import VisionTransformer
    from minivit.ops.receptive_field import receptive_field_map

    check_tensor(image, "image", "(1, H, W)")
    size = image.shape[-1]
    if image.shape[-2] != size:
        raise ValueError(f"image must be square, shape (1, H, W) with H = W, got shape {tuple(image.shape)}")
    if not isinstance(models, Mapping) or not models:
        raise ValueError(f"models must be a non-empty mapping of title -> model, got {models!r}")
    fig = new_figure(3.2 * len(models), 4.7)
    axes = np.atleast_1d(fig.subplots(1, len(models)))
    thin = dict(colors="white", linewidth=0.6)
    for ax, (name, model) in zip(axes, models.items()):
        ax.imshow(as_image(image), cmap="gray", interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        if isinstance(model, SmallCNN):
            with torch.no_grad():
                h = model.eval().features(image[None]).shape[-1]
            centre = h // 2 - 1 if h > 1 else 0
            field = receptive_field_map(model.eval().features, image, (centre, centre)) > 0
            rows, cols = field.any(dim=1).nonzero().flatten(), field.any(dim=0).nonzero().flatten()
            r0, r1, c0, c1 = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
            _grid_lines(ax, size, size / h, **thin)
            ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False, edgecolor="C1",
                                   linewidth=2.5, gid="field"))
            ax.set_title(f"{name}: 3 x 3 convolutions;\none feature of the last {h} x {h} map\n(white) "
                         f"sees {c1 - c0 + 1} x {r1 - r0 + 1} pixels of the\nimage (orange)", fontsize=9)
        elif isinstance(model, VisionTransformer):
            p = model.patch_embed.kernel_size[0]
            _grid_lines(ax, size, p, colors="C1", linewidth=1.5)
            n = (size // p) ** 2
            ax.set_title(f"{name}: {n} patches of {p} x {p} pixels\n(orange): {n} tokens and a class token;\n"
                         "every token attends to all,\nfrom the first block", fontsize=9)
        elif isinstance(model, SwinTransformer):
            p, M = model.config.patch_size, model.config.window_size
            _grid_lines(ax, size, p, **thin)
            _grid_lines(ax, size, M * p, colors="C1", linewidth=2.5)
            _grid_lines(ax, size, M * p, offset=M // 2 * p, colors="C0", linewidth=2, linestyles="--")
            ax.set_title(f"{name}: {(size // p) ** 2} tokens of {p} x {p} pixels;\nfirst stage: attention inside\n"
                         f"windows of {M} x {M} tokens (orange),\nthen in shifted windows (blue)", fontsize=9)
        elif isinstance(model, MobileViT):
            h, w = _input_size_of(model, MobileViTBlock, image)
            block = next(m for m in model.modules() if isinstance(m, MobileViTBlock))
            ph, pw = block.patch_size
            cell = size / h
            _grid_lines(ax, size, cell, **thin)
            _grid_lines(ax, size, cell * ph, colors="C1", linewidth=1.5)
            centres = (np.arange(0, h, ph) + 0.5) * cell - 0.5, (np.arange(0, w, pw) + 0.5) * cell - 0.5
            ys, xs = np.meshgrid(*centres, indexing="ij")  # one sequence: the pixel at place (0, 0) of every patch
            ax.plot(xs.ravel(), ys.ravel(), "o", color="C3", markersize=7, markeredgecolor="white", gid="sequence")
            ax.set_title(f"{name}: first attention on a\n{h} x {w} map (pixels of {cell:g} x {cell:g}, white),\n"
                         f"{ph} x {pw} patches (orange); red: one of\n{ph * pw} sequences of "
                         f"{(h // ph) * (w // pw)} tokens that attend", fontsize=9)
        else:
            raise ValueError(f"models[{name!r}] must be a SmallCNN, VisionTransformer, SwinTransformer or MobileViT, "
                             f"got {type(model).__name__}")
    fig.suptitle(f"one {size} x {size} digit as each model cuts it up")
    return fig


CLAIM_SIDES = ("above", "below", "across")  # where a claim needs its interval (or value) to lie, against its margin


def plot_claim_intervals(
    rows: Sequence[tuple[str, float, tuple[float, float] | None, float, str]],
    title: str = "each claim's gap with its interval, against the margin it must clear",
    xlabel: str = "difference in test accuracy",
    legend_loc: str = "lower right",
) -> Figure:
    """A forest plot: one row per checked quantity, its estimate as a dot, its interval as a bar, all on one
    axis, with the zero line and each row's margin.

    Args:
        rows: (label, estimate, (low, high) or None, margin, side), top to bottom. `side` says what the claim
            needs: "above" (low > margin), "below" (high < margin) or "across" (low <= margin <= high: the
            test cannot tell). A row without an interval (None) is judged by its estimate alone.
        title: the figure's title.
        xlabel: the x axis's label (one unit for every row).
        legend_loc: where the legend sits inside the axes, as matplotlib's `loc` ("upper right", ...): a corner
            that no row's bar reaches.

    Returns:
        the Figure, one axes; per row one Line2D dot (gid "estimate") at (estimate, row), one Line2D bar
        (gid "interval") from low to high where there is an interval, one short vertical Line2D (gid "margin")
        at the margin, row 0 at the top; the dot and bar are black where the row meets its side, red where
        not; one vertical Line2D at 0 (gid "zero"); a legend of the kinds of mark drawn ("misses its margin" only
        where a row does); `title` as the suptitle.
    """
    if isinstance(rows, str) or not rows:
        raise ValueError(f"rows must be a non-empty sequence of (label, estimate, interval, margin, side), "
                         f"got {rows!r}")
    for row in rows:
        if len(row) != 5 or row[4] not in CLAIM_SIDES:
            raise ValueError(f"each row must be (label, estimate, (low, high) or None, margin, side) with side in "
                             f"{CLAIM_SIDES}, got {row!r}")
        if row[2] is not None and not row[2][0] <= row[1] <= row[2][1]:
            raise ValueError(f"a row's interval must hold its estimate, got estimate {row[1]} and interval "
                             f"{row[2]} in row {row[0]!r}")
    fig = new_figure(10.0, 0.34 * len(rows) + 1.3)
    ax = fig.subplots()
    ax.axvline(0.0, color="0.5", linestyle="--", linewidth=1, gid="zero")
    missed = False
    for y, (_, estimate, interval, margin, side) in enumerate(rows):
        low, high = interval if interval is not None else (estimate, estimate)
        holds = {"above": low > margin, "below": high < margin, "across": low <= margin <= high}[side]
        missed |= not holds
        colour = "black" if holds else WRONG
        if interval is not None:
            ax.plot([low, high], [y, y], color=colour, linewidth=2, solid_capstyle="butt", gid="interval")
        ax.plot([estimate], [y], "o", color=colour, markersize=5, gid="estimate")
        ax.plot([margin, margin], [y - 0.35, y + 0.35], color="C1", linewidth=2, gid="margin")
    ax.set_yticks(range(len(rows)), [row[0] for row in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", color="0.88")
    key = [Line2D([], [], color="black", marker="o", markersize=5, linewidth=2, label="estimate and interval"),
           Line2D([], [], color=WRONG, marker="o", markersize=5, linewidth=2, label="misses its margin"),
           Line2D([], [], color="C1", linewidth=2, label="the margin"),
           Line2D([], [], color="0.5", linestyle="--", linewidth=1, label="0")]
    if not missed:  # list the red mark only where a row has it
        del key[1]
    ax.legend(handles=key, loc=legend_loc, fontsize="small")
    fig.suptitle(title)
    return fig
