"""Notebook 08's experiments: four small classifiers trained on the digits with one recipe, each at the
learning rate its validation accuracy chose; then the same on smaller training sets, and four controls
that each change one thing.

The digits: the 1,437 training digits are split once into 1,149 to fit on and 288 to validate on
(`training_split`); the 360 test digits are used only to report the final accuracy of each run.

    learning_rate_sweep   every model at LEARNING_RATES, several seeds: validation accuracy; the rate with
                          the best mean is chosen, and only the runs at that rate are tested
    data_size             every model at its chosen rate on 10%, 25% and 50% of the fitting digits (its runs
                          on all of them are the sweep's chosen runs), and the controls at 10% and 100%

Every run takes the same number of optimizer steps (STEPS, 15 epochs of the 1,149 fitting digits): a
smaller training set is seen more often, so that it holds fewer examples, not less training.

The controls (`VARIANTS` beyond the four models), one change each:
- "wide CNN": the small CNN with wider stages, about the ViT's parameter count (capacity);
- "ViT, no position": the ViT with its position embedding held at zero (what position buys);
- "ViT, translated": the ViT trained on digits shifted at random by up to 4 pixels (data augmentation,
  the way DeiT gives a ViT what a convolution assumes);
- "ViT, 4 x 4 patches": the ViT cut into 64 tokens of one original pixel each, as the Swin's, instead of 16
  of 2 x 2 pixels (token size; the same parameter count, about four times the multiply-adds).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from minivit.data import DIGITS_VALIDATION_SIZE, DigitsDataset, Translated, digits, stratified_split
from minivit.experiments.processes import map_in_processes
from minivit.models.mobilevit import mobilevit_tiny
from minivit.models.swin import swin_tiny
from minivit.models.toy_models import SmallCNN
from minivit.models.vit import VisionTransformer, ViTConfig, vit_tiny
from minivit.train import evaluate, fit, seed_everything


def vit_without_position() -> nn.Module:
    """The tiny ViT with its position embedding set to zero and frozen: the tokens then carry no sign of
    where their patch was, except what the patch's own pixels show."""
    model = vit_tiny(num_classes=10, in_channels=1)
    with torch.no_grad():
        model.pos_embed.zero_()
    model.pos_embed.requires_grad_(False)
    return model


@dataclass(frozen=True)
class Variant:
    """How one row of notebook 08's comparison is trained."""

    build: Callable[[], nn.Module]  # a new model, from the seed set just before
    rate_of: str  # the model whose chosen learning rate it trains with
    translate: bool = False  # train on digits shifted at random (data augmentation)


def _small_cnn() -> nn.Module:
    return SmallCNN(in_channels=1, num_classes=10)


def _wide_cnn() -> nn.Module:
    return SmallCNN(in_channels=1, num_classes=10, widths=(40, 80, 160))


def _vit() -> nn.Module:
    return vit_tiny(num_classes=10, in_channels=1)


def _vit_small_patches() -> nn.Module:
    config = ViTConfig(image_size=32, patch_size=4, in_channels=1, num_classes=10, dim=64, depth=4, num_heads=4,
                       mlp_ratio=2.0)  # vit_tiny's, but patches of 4: an 8 x 8 grid of tokens
    return VisionTransformer(config)


def _swin() -> nn.Module:
    return swin_tiny(num_classes=10, in_channels=1, patch_size=4)  # 32 x 32 like the others: 8 x 8 tokens


def _mobilevit() -> nn.Module:
    return mobilevit_tiny(num_classes=10, in_channels=1)


MODELS: dict[str, Callable[[], nn.Module]] = {
    "small CNN": _small_cnn, "ViT": _vit, "Swin": _swin, "MobileViT": _mobilevit,
}
VARIANTS: dict[str, Variant] = {
    **{name: Variant(build, name) for name, build in MODELS.items()},
    "wide CNN": Variant(_wide_cnn, "small CNN"),
    "ViT, no position": Variant(vit_without_position, "ViT"),
    "ViT, translated": Variant(_vit, "ViT", translate=True),
    "ViT, 4 x 4 patches": Variant(_vit_small_patches, "ViT"),
}
CONTROLS = ("wide CNN", "ViT, no position", "ViT, translated", "ViT, 4 x 4 patches")
LEARNING_RATES = (5e-4, 1e-3, 2e-3, 4e-3, 8e-3)  # doubling; wide enough that no chosen rate is at an end
RECIPE = dict(epochs=15, label_smoothing=0.1)  # AdamW, weight decay 0.05, cosine schedule: minivit.train.fit
BATCH_SIZE = 32
# every run: RECIPE["epochs"] epochs of the 1,149 fitting digits, 540 steps, whatever its training-set size
STEPS = RECIPE["epochs"] * math.ceil((1437 - DIGITS_VALIDATION_SIZE) / BATCH_SIZE)
FRACTIONS = (0.1, 0.25, 0.5)  # and 1.0: the learning-rate sweep's chosen runs
CONTROL_FRACTIONS = (0.1, 1.0)


def training_split() -> tuple[DigitsDataset, DigitsDataset]:
    """The 1,437 training digits split once (seed 0, stratified) into 1,149 to fit on and 288 to validate on."""
    return stratified_split(digits("train"), DIGITS_VALIDATION_SIZE, seed=0)


def share(dataset: DigitsDataset, fraction: float, seed: int) -> DigitsDataset:
    """A stratified random share of `dataset`, drawn with `seed`; the whole of it for fraction 1."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    return dataset if fraction == 1 else stratified_split(dataset, round(fraction * len(dataset)), seed)[1]


def train_run(
    name: str, seed: int, lr: float, fraction: float = 1.0, watch_validation: bool = False
) -> tuple[dict, nn.Module]:
    """Train `VARIANTS[name]` on a share of the fitting digits for STEPS steps; measure it on them and on
    the validation digits (not on the test digits: see `test_accuracy`).

    Args:
        name: a key of VARIANTS.
        seed: seeds the share of digits, the initial weights, the order of the batches and the shifts.
        lr: the peak learning rate.
        fraction: share of the 1,149 fitting digits.
        watch_validation: also measure the validation accuracy after every epoch (for the learning-rate
            sweep, whose runs are 15 epochs: it tells whether the accuracy had stopped improving).

    Returns:
        (row, the trained model); row: model, seed, lr, fraction, train_size, epochs, train_accuracy (on the
        digits trained on, unshifted, in eval mode), validation_accuracy, best_validation_accuracy and
        best_epoch (when watched; else the last).
    """
    if name not in VARIANTS:
        raise ValueError(f"name must be one of {list(VARIANTS)}, got {name!r}")
    variant = VARIANTS[name]
    fitting, validation = training_split()
    train_set = share(fitting, fraction, seed)
    shown: Dataset = Translated(train_set) if variant.translate else train_set
    loader = DataLoader(shown, batch_size=BATCH_SIZE, shuffle=True)
    validation_loader = DataLoader(validation, batch_size=len(validation))
    epochs = math.ceil(STEPS / len(loader))
    seed_everything(seed)
    model = variant.build()
    history = fit(model, loader, validation_loader if watch_validation else None, epochs=epochs, lr=lr,
                  label_smoothing=RECIPE["label_smoothing"], seed=seed, progress=False)
    validation_accuracy = evaluate(model, validation_loader)
    watched = history.test_accuracy or [validation_accuracy]
    best = max(range(len(watched)), key=watched.__getitem__)
    row = dict(model=name, seed=seed, lr=lr, fraction=fraction, train_size=len(train_set), epochs=epochs,
               train_accuracy=evaluate(model, DataLoader(train_set, batch_size=512)),
               validation_accuracy=validation_accuracy, best_validation_accuracy=watched[best],
               best_epoch=best + 1 if history.test_accuracy else epochs)
    return row, model


def test_accuracy(model: nn.Module) -> float:
    """Accuracy on the 360 test digits, in eval mode."""
    return evaluate(model, DataLoader(digits("test"), batch_size=360))


def _run(job: tuple) -> tuple[dict, nn.Module]:
    return train_run(*job)


def learning_rate_sweep(
    models: Sequence[str] = tuple(MODELS),
    seeds: Iterable[int] = (0, 1, 2),
    rates: Sequence[float] = LEARNING_RATES,
    processes: int = 1,
) -> list[dict]:
    """Every model at every rate and seed, on the fitting digits, watched on the validation digits.

    Per model, the rate with the best mean validation accuracy over the seeds is chosen (the lower rate on
    a tie); only the runs at that rate are measured on the test digits.

    Returns:
        one row per run (see `train_run`), plus `chosen` (bool) and `test_accuracy` ("" where not chosen).
    """
    seeds = tuple(seeds)
    jobs = [(m, s, lr, 1.0, True) for m in models for lr in rates for s in seeds]
    runs = map_in_processes(_run, jobs, processes)
    rows = []
    for m in models:
        mine = [(row, model) for row, model in runs if row["model"] == m]
        best = max(rates, key=lambda lr: statistics.fmean(r["validation_accuracy"] for r, _ in mine if r["lr"] == lr))
        for row, model in mine:
            chosen = row["lr"] == best
            rows.append({**row, "chosen": chosen, "test_accuracy": test_accuracy(model) if chosen else ""})
    return rows


def chosen_rates(sweep: Iterable[dict]) -> dict[str, float]:
    """The learning rate chosen for each model, from the rows of `learning_rate_sweep`."""
    return {row["model"]: row["lr"] for row in sweep if row["chosen"]}


def data_size(
    rates: dict[str, float],
    seeds: Iterable[int] = (0, 1, 2),
    processes: int = 1,
) -> list[dict]:
    """The four models at their chosen rate on FRACTIONS of the fitting digits (on all of them: the chosen
    runs of `learning_rate_sweep`), and the controls at CONTROL_FRACTIONS, each over `seeds`; every run
    measured on the test digits.

    Args:
        rates: the chosen rate of each of MODELS (see `chosen_rates`); a control uses that of `rate_of`.

    Returns:
        one row per run (see `train_run`) plus `test_accuracy`.
    """
    seeds = tuple(seeds)
    arms = [(m, f) for m in MODELS for f in FRACTIONS] + [(c, f) for c in CONTROLS for f in CONTROL_FRACTIONS]
    jobs = [(name, s, rates[VARIANTS[name].rate_of], f) for name, f in arms for s in seeds]
    return [{**row, "test_accuracy": test_accuracy(model)} for row, model in map_in_processes(_run, jobs, processes)]
