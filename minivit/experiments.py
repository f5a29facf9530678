"""The longer runs behind notebooks 08 and 09, as functions and a command line; results go to small
CSV files that the notebooks read and plot.

    python -m minivit.experiments data-size --seeds 0 1 2 --out course/results/data_size.csv
    python -m minivit.experiments weak-supervision --seeds 0 1 2 --out course/results/weak_supervision.csv

- `MODELS`: the four classifiers of notebook 08, each built from a seed by the same recipe (`RECIPE`).
- `train_digits`: one model, one seed, one share of the training digits -> its test accuracy.
- `data_size`: every model on 10%, 25%, 50% and 100% of the training digits, over several seeds.
- `canvases`: digit canvases as three tensors (images, labels, masks), for notebook 09.
- `weak_supervision`: notebook 09's pipeline for one seed, every mean IoU of its comparison.
- `summarize`: mean, standard deviation, lowest and highest over the seeds, per group of rows.

The same number of optimizer steps for every training-set size: a model given 10% of the digits
goes over them ten times as often, so that a smaller set means fewer examples, not less training.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from minivit.data import CANVAS_CLASSES, DigitsDataset, digit_canvas, digits
from minivit.metrics import mean_iou
from minivit.models.mobilevit import mobilevit_tiny
from minivit.models.swin import swin_tiny
from minivit.models.toy_models import SmallCNN
from minivit.models.vit import vit_tiny
from minivit.segmentation import (
    LinearProbeHead,
    SegmentationHead,
    SegmentationModel,
    choose_threshold,
    class_activation_map,
    feature_channels,
    masks_from_cams,
    pointing_game,
    predict_masks,
)
from minivit.train import fit, seed_everything

MODELS: dict[str, Callable[[], nn.Module]] = {
    "small CNN": lambda: SmallCNN(in_channels=1, num_classes=10),
    "ViT": lambda: vit_tiny(num_classes=10, in_channels=1),
    "Swin": lambda: swin_tiny(num_classes=10, in_channels=1, patch_size=4),  # 32 x 32 like the others: 8 x 8 tokens
    "MobileViT": lambda: mobilevit_tiny(num_classes=10, in_channels=1),
}
RECIPE = dict(epochs=5, lr=2e-3, label_smoothing=0.1)  # notebook 08's recipe, batches of 32
BATCH_SIZE = 32
FRACTIONS = (0.1, 0.25, 0.5, 1.0)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)  # candidates for the CAM threshold of notebook 09


def subset(dataset: DigitsDataset, fraction: float, seed: int) -> DigitsDataset:
    """A stratified random share of `dataset` (each digit in the same proportion), drawn with `seed`.

    Args:
        dataset: e.g. digits("train").
        fraction: in (0, 1]; 1 gives the whole set.
        seed: which share is drawn.

    Returns:
        a DigitsDataset of round(fraction * len(dataset)) items, in their original order.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return dataset
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(
        np.arange(len(dataset)), train_size=round(fraction * len(dataset)), stratify=dataset.labels.numpy(),
        random_state=seed,
    )
    keep = torch.as_tensor(np.sort(keep))
    return DigitsDataset(dataset.images[keep], dataset.labels[keep], dataset.indices[keep])


def train_digits(
    model: str, seed: int, fraction: float = 1.0, steps: int | None = None, progress: bool = False
) -> dict[str, float | int | str]:
    """Train one of `MODELS` on a share of the training digits with `RECIPE`; test on all 360 test digits.

    Args:
        model: a key of MODELS.
        seed: seeds the share of digits, the initial weights and the order of the batches.
        fraction: share of the 1,437 training digits.
        steps: optimizer steps in all (epochs = ceil(steps / batches per epoch)); RECIPE's 5 epochs of
            the full set (225 steps) when None.

    Returns:
        a row: model, seed, fraction, train_size, epochs, test_accuracy, seconds.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {list(MODELS)}, got {model!r}")
    train_set = subset(digits("train"), fraction, seed)
    loader = DataLoader(train_set, batch_size=BATCH_SIZE, shuffle=True)
    test_loader = DataLoader(digits("test"), batch_size=360)
    full_steps = RECIPE["epochs"] * math.ceil(len(digits("train")) / BATCH_SIZE)
    epochs = math.ceil((full_steps if steps is None else steps) / len(loader))
    seed_everything(seed)
    net = MODELS[model]()
    history = fit(net, loader, test_loader, **{**RECIPE, "epochs": epochs}, seed=seed, progress=progress)
    return dict(model=model, seed=seed, fraction=fraction, train_size=len(train_set), epochs=epochs,
                test_accuracy=history.test_accuracy[-1], seconds=sum(history.seconds))


def data_size(
    seeds: Iterable[int] = (0, 1, 2),
    fractions: Sequence[float] = FRACTIONS,
    models: Sequence[str] = tuple(MODELS),
    steps: int | None = None,
) -> list[dict]:
    """`train_digits` for every model, share of the training digits and seed: one row per run."""
    return [train_digits(m, s, f, steps) for s in seeds for f in fractions for m in models]


def canvases(split: str, num_samples: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """All items of `digit_canvas(split, num_samples)` (32 x 32 canvases, digits of 16 x 16), stacked:
    images (N, 1, 32, 32), labels (N, 10) multi-hot, masks (N, 32, 32)."""
    dataset = digit_canvas(split, num_samples=num_samples, canvas_size=32, digit_size=16)
    images, labels, masks = (torch.stack(items) for items in zip(*(dataset[i] for i in range(len(dataset)))))
    return images, labels, masks


def train_head(
    backbone: nn.Module, head: nn.Module, images: torch.Tensor, masks: torch.Tensor, seed: int, epochs: int = 2
) -> SegmentationModel:
    """A head trained on `masks` over a frozen backbone (notebook 09's recipe: batches of 32, lr 0.01)."""
    seed_everything(seed)
    model = SegmentationModel(backbone, head, freeze_backbone=True)
    loader = DataLoader(TensorDataset(images, masks), batch_size=32, shuffle=True)
    fit(model, loader, epochs=epochs, lr=1e-2, seed=seed, progress=False)
    return model


def weak_supervision(
    seed: int, num_train: int = 2000, num_test: int = 200, epochs: int = 5, head_epochs: int = 2
) -> dict[str, float | int]:
    """Notebook 09's comparison for one seed: test mean IoU of every way to get masks.

    A mobilevit_tiny and a small CNN are trained as multi-label classifiers on the image-level labels
    of `num_train` canvases; the CAM threshold is chosen on 200 training canvases. Then, over the
    frozen mobilevit_tiny: a multi-stage SegmentationHead trained on CAM pseudo-masks of the training
    canvases (made with their labels), the same head trained on the true masks, and a LinearProbeHead
    on the last map trained on the true masks.

    Returns:
        a row: seed; the mean IoU (over the num_test test canvases) of all background, the MobileViT's
        and the CNN's CAM masks, the head on pseudo-masks, the linear probe and the head on true masks;
        the pointing game hit rate of both classifiers' CAMs.
    """
    train_images, train_labels, train_masks = canvases("train", num_train)
    test_images, test_labels, test_masks = canvases("test", num_test)
    classifiers = {"mobilevit": lambda: mobilevit_tiny(num_classes=10), "cnn": lambda: SmallCNN(1, 10)}
    background = mean_iou(torch.zeros_like(test_masks), test_masks, CANVAS_CLASSES)
    row: dict[str, float | int] = dict(seed=seed, background=background)
    trained = {}
    for name, build in classifiers.items():
        seed_everything(seed)
        classifier = build()
        loader = DataLoader(TensorDataset(train_images, train_labels), batch_size=32, shuffle=True)
        fit(classifier, loader, epochs=epochs, lr=3e-3, multi_label=True, seed=seed, progress=False)
        classifier.eval()
        with torch.no_grad():
            tune_present = classifier(train_images[:200]) > 0
            test_present = classifier(test_images) > 0
            tune_cams = class_activation_map(classifier, train_images[:200])  # (200, 10, 32, 32)
            test_cams = class_activation_map(classifier, test_images)
        threshold, _ = choose_threshold(tune_cams, tune_present, train_masks[:200], THRESHOLDS)
        row[f"{name}_cam"] = mean_iou(masks_from_cams(test_cams, test_present, threshold), test_masks, CANVAS_CLASSES)
        row[f"{name}_pointing"] = pointing_game(test_cams, test_masks, test_labels.bool()).float().mean().item()
        trained[name] = (classifier, threshold)
    classifier, threshold = trained["mobilevit"]
    with torch.no_grad():
        train_cams = class_activation_map(classifier, train_images)
    pseudo = masks_from_cams(train_cams, train_labels, threshold)  # labels known in training
    channels = feature_channels(classifier, in_channels=1)

    def head_iou(head: nn.Module, masks: torch.Tensor) -> float:
        model = train_head(classifier, head, train_images, masks, seed, head_epochs)
        return mean_iou(predict_masks(model, test_images), test_masks, CANVAS_CLASSES)

    seed_everything(seed)
    row["head_on_pseudo_masks"] = head_iou(SegmentationHead(channels, CANVAS_CLASSES, dim=48), pseudo)
    seed_everything(seed)
    row["probe_on_masks"] = head_iou(LinearProbeHead(channels[-1], CANVAS_CLASSES), train_masks)
    seed_everything(seed)
    row["head_on_masks"] = head_iou(SegmentationHead(channels, CANVAS_CLASSES, dim=48), train_masks)
    return row


def summarize(rows: Iterable[dict], by: Sequence[str], value: str) -> dict[tuple, dict[str, float]]:
    """Per group of rows with equal `by` fields: mean, std (sample; 0 for one row), min, max and n of `value`."""
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in by), []).append(float(row[value]))
    return {
        key: dict(mean=statistics.fmean(v), std=statistics.stdev(v) if len(v) > 1 else 0.0,
                  min=min(v), max=max(v), n=len(v))
        for key, v in groups.items()
    }


def write_csv(rows: Sequence[dict], path: str | Path) -> None:
    """Rows (dicts with the same keys) to a CSV file, floats rounded to 4 decimals."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})


def read_csv(path: str | Path) -> list[dict]:
    """The rows of `write_csv`, numbers parsed back (ints stay ints)."""

    def parse(text: str) -> float | int | str:
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    with Path(path).open(newline="") as f:
        return [{k: parse(v) for k, v in row.items()} for row in csv.DictReader(f)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m minivit.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=["data-size", "weak-supervision"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", required=True, help="the CSV file to write")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.experiment == "data-size":
        rows = data_size(args.seeds)
    else:
        rows = [weak_supervision(seed) for seed in args.seeds]
    write_csv(rows, args.out)
    print(f"{len(rows)} rows written to {args.out}")


if __name__ == "__main__":
    main()
