"""Notebook 08's experiments: four small classifiers trained on the digits with one recipe, each at the
learning rate its validation accuracy chose; then the same on smaller training sets, and four controls
that each change one thing.

The digits: the 1,437 training digits are split once into 1,149 to fit on and 288 to validate on
(`training_split`); the 360 test digits are used only to report the final accuracy of each run.

    learning_rate_sweep   every model at LEARNING_RATES, several seeds: validation accuracy; the rate with
                          the best mean is chosen, and only the runs at that rate are tested
    data_size             every model at its chosen rate on 10%, 25% and 50% of the fitting digits (its runs
                          on all of them are the sweep's chosen runs), and the controls at 10% and 100%

The stored results, course/results/learning_rates.csv and data_size.csv, come from these commands, in order
(each --merge adds its runs to the file and leaves the others):

    python -m minivit.experiments learning-rates --models "small CNN" ViT Swin MobileViT \
        --out course/results/learning_rates.csv
    python -m minivit.experiments learning-rates --models MLP --merge --out course/results/learning_rates.csv
    python -m minivit.experiments learning-rates --models "ViT, DeiT recipe" --lrs 0.001 0.002 0.004 0.008 --merge \
        --out course/results/learning_rates.csv
    python -m minivit.experiments learning-rates --models ViT --fraction 0.1 --lrs 0.00025 0.0005 0.001 0.002 0.004 \
        --merge --out course/results/learning_rates.csv
    python -m minivit.experiments learning-rates --models "small CNN" --fraction 0.1 --lrs 0.002 0.004 0.008 0.016 \
        --merge --out course/results/learning_rates.csv
    python -m minivit.experiments data-size --rates course/results/learning_rates.csv --out course/results/data_size.csv

Every run takes the same number of optimizer steps (STEPS, 15 epochs of the 1,149 fitting digits): a
smaller training set is seen more often, so that it holds fewer examples, not fewer steps. Without early stopping
(the validation digits are measured at the end only, unless watched), a run on 10% trains 135 epochs, long after it
fits its digits.

The controls (`VARIANTS` beyond the four models), one change each:
- "wide CNN": the small CNN with wider stages, about the ViT's parameter count (capacity);
- "ViT, no position": the ViT with its position embedding held at zero (what position buys);
- "ViT, translated": the ViT trained on digits shifted at random by up to 4 pixels (data augmentation,
  the kind of augmentation DeiT trains with; whether it gives a ViT what a convolution assumes, notebook 08
  does not claim);
- "ViT, 4 x 4 patches": the ViT cut into 64 tokens of one original pixel each, as the Swin's, instead of 16
  of 2 x 2 pixels (token size; the same parameter count, about four times the multiply-adds).

And two more arms, each with its own rate chosen like the four models': "MLP", a multilayer perceptron on the
pixels (a neural network that assumes nothing about which pixels are neighbours), trained at every size; and
"ViT, DeiT recipe", the ViT with the optimiser's part of DeiT's recipe (warmup, no weight decay on norms, biases,
class token and position embedding), at 10% and 100%.
"""

from __future__ import annotations

import copy
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook
from torch.utils.data import DataLoader, Dataset

from minivit.data import DIGITS_VALIDATION_SIZE, DigitsDataset, Translated, digits, stratified_split
from minivit.experiments.processes import map_in_processes
from minivit.models.mobilevit import mobilevit_tiny
from minivit.models.swin import swin_tiny
from minivit.models.toy_models import SmallCNN
from minivit.models.vit import VisionTransformer, ViTConfig, vit_tiny
from minivit.train import History, evaluate, fit, seed_everything


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
    options: dict = field(default_factory=dict)  # more arguments of minivit.train.fit (a recipe's changes)


def deit_no_weight_decay(name: str, parameter: nn.Parameter) -> bool:
    """DeiT's (and timm's) exemption from weight decay: norms and biases (the parameters of one axis), the
    class token and the position embedding."""
    return parameter.ndim <= 1 or name in ("cls_token", "pos_embed")


# The optimiser's part of DeiT's recipe (Touvron et al., 2021) on our 540 steps: a linear warmup over the first
# tenth of them, and no weight decay where DeiT exempts it. Not DeiT's augmentations (RandAugment, Mixup,
# CutMix, random erasing), stochastic depth or 300 epochs.
DEIT_OPTIONS = dict(warmup_steps=54, no_weight_decay=deit_no_weight_decay)


def fit_learning_rates(steps_per_epoch: int, epochs: int = 15, lr: float = 1.0, **options) -> list[float]:
    """The learning rate `minivit.train.fit` uses at each optimizer step, read from fit itself.

    Runs `fit` on a one-layer model and `steps_per_epoch` batches of one zero input, and records the learning rate
    of the optimizer's first parameter group just before every step (a global optimizer step pre-hook of torch,
    removed afterwards); the schedule does not depend on the model or the data, only on the number of steps and on
    `options` such as DEIT_OPTIONS' `warmup_steps`. About a millisecond a step.

    Returns:
        epochs * steps_per_epoch learning rates, the first step's first.
    """
    model = nn.Linear(1, 2)
    batches = [(torch.zeros(1, 1), torch.zeros(1, dtype=torch.long))] * steps_per_epoch  # fit needs only len and iter
    rates: list[float] = []
    hook = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: rates.append(optimizer.param_groups[0]["lr"]))
    try:
        fit(model, batches, epochs=epochs, lr=lr, progress=False, **options)
    finally:
        hook.remove()
    return rates


def _mlp() -> nn.Module:
    """A multilayer perceptron on the 32 x 32 pixels: no convolution, no patches, no attention. Every
    pixel is one input of the first Linear, so it would learn the same from digits whose pixels were all
    shuffled in one fixed order: it assumes nothing about which pixels are neighbours."""
    return nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
                         nn.Linear(128, 10))  # about the ViT's parameter count


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
    "MLP": Variant(_mlp, "MLP"),
    "ViT, DeiT recipe": Variant(_vit, "ViT, DeiT recipe", options=DEIT_OPTIONS),
}
CONTROLS = ("wide CNN", "ViT, no position", "ViT, translated", "ViT, 4 x 4 patches")
BASELINES = ("MLP",)  # trained like the four models, at every size: the neural network that assumes least
RECIPES = ("ViT, DeiT recipe",)  # the ViT with another recipe, its own rate chosen like the four models'
LEARNING_RATES = (5e-4, 1e-3, 2e-3, 4e-3, 8e-3)  # doubling; the choices: course/results/learning_rates.csv
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
                  label_smoothing=RECIPE["label_smoothing"], seed=seed, progress=False, **variant.options)
    validation_accuracy = evaluate(model, validation_loader)
    watched = history.eval_accuracy or [validation_accuracy]
    best = max(range(len(watched)), key=watched.__getitem__)
    row = dict(model=name, seed=seed, lr=lr, fraction=fraction, train_size=len(train_set), epochs=epochs,
               train_accuracy=evaluate(model, DataLoader(train_set, batch_size=512)),
               validation_accuracy=validation_accuracy, best_validation_accuracy=watched[best],
               best_epoch=best + 1 if history.eval_accuracy else epochs)
    return row, model


def test_accuracy(model: nn.Module) -> float:
    """Accuracy on the 360 test digits, in eval mode."""
    return evaluate(model, DataLoader(digits("test"), batch_size=360))


def _run(job: tuple) -> tuple[dict, nn.Module]:
    return train_run(*job)


def learning_rate_sweep(
    models: Sequence[str] = (*MODELS, *BASELINES, *RECIPES),
    seeds: Iterable[int] = (0, 1, 2),
    rates: Sequence[float] = LEARNING_RATES,
    processes: int = 1,
    fraction: float = 1.0,
) -> list[dict]:
    """Every model (a key of VARIANTS) at every rate and seed, on the fitting digits (or a `fraction` of
    them, see `share`), watched on the validation digits.

    Per model, the rate with the best mean validation accuracy over the seeds is chosen (the lower rate on
    a tie); only the runs at that rate are measured on the test digits. The validation accuracy is watched
    after every epoch with all the fitting digits (15 epochs); with a share, only at the end (135 epochs
    at 10%).

    Returns:
        one row per run (see `train_run`), plus `chosen` (bool) and `test_accuracy` ("" where not chosen).
    """
    seeds = tuple(seeds)
    jobs = [(m, s, lr, fraction, fraction == 1.0) for m in models for lr in rates for s in seeds]
    runs = map_in_processes(_run, jobs, processes)
    rows = []
    for m in models:
        mine = [(row, model) for row, model in runs if row["model"] == m]
        best = max(rates, key=lambda lr: statistics.fmean(r["validation_accuracy"] for r, _ in mine if r["lr"] == lr))
        for row, model in mine:
            chosen = row["lr"] == best
            rows.append({**row, "chosen": chosen, "test_accuracy": test_accuracy(model) if chosen else ""})
    return rows


def chosen_rates(sweep: Iterable[dict], fraction: float = 1.0) -> dict[str, float]:
    """The learning rate chosen for each model with `fraction` of the fitting digits, from the rows of
    `learning_rate_sweep`."""
    return {row["model"]: row["lr"] for row in sweep if row["chosen"] and row["fraction"] == fraction}


def merge_rows(old: Iterable[dict], new: Sequence[dict]) -> list[dict]:
    """Stored rows and new ones, for the command line's --merge.

    Runs of `data_size` (no `chosen` field): the new runs replace the stored ones of the same (model,
    fraction). Runs of `learning_rate_sweep`: the new rates join the stored ones of the same (model,
    fraction) (a stored rate tried again is replaced), and the rate is chosen again over all of them; its
    runs keep the test accuracy their own sweep measured (each sweep tests its best rate, so the best of all
    has one), the others' is blanked.
    """
    old, new = [dict(row) for row in old], [dict(row) for row in new]  # the choice below rewrites them
    if not new or "chosen" not in new[0]:
        replaced = {(row["model"], row["fraction"]) for row in new}
        return [row for row in old if (row["model"], row["fraction"]) not in replaced] + new
    tried = {(row["model"], row["fraction"], row["lr"]) for row in new}
    rows = [row for row in old if (row["model"], row["fraction"], row["lr"]) not in tried] + new
    for model, fraction in dict.fromkeys((row["model"], row["fraction"]) for row in new):
        mine = [row for row in rows if row["model"] == model and row["fraction"] == fraction]
        rates = sorted({row["lr"] for row in mine})
        best = max(rates, key=lambda lr: statistics.fmean(r["validation_accuracy"] for r in mine if r["lr"] == lr))
        for row in mine:
            row["chosen"] = row["lr"] == best
            if not row["chosen"]:
                row["test_accuracy"] = ""
            elif row["test_accuracy"] == "":
                raise ValueError(f"the runs of {model!r} at {fraction} with lr {best}, chosen, have no test accuracy")
    return rows


def data_size(
    rates: dict[str, float],
    seeds: Iterable[int] = (0, 1, 2),
    processes: int = 1,
    names: Sequence[str] | None = None,
) -> list[dict]:
    """The four models and the MLP at their chosen rate on FRACTIONS of the fitting digits (on all of them:
    the chosen runs of `learning_rate_sweep`), the controls at CONTROL_FRACTIONS, and the ViT with DeiT's
    recipe at 10% (its runs on all: the sweep's), each over `seeds`; every run measured on the test digits.

    Args:
        rates: the chosen rate of each of MODELS, BASELINES and RECIPES (see `chosen_rates`); a control uses
            that of its `rate_of`.
        names: only these arms (keys of VARIANTS); None: all.

    Returns:
        one row per run (see `train_run`) plus `test_accuracy`.
    """
    seeds = tuple(seeds)
    arms = ([(m, f) for m in (*MODELS, *BASELINES) for f in FRACTIONS]
            + [(c, f) for c in CONTROLS for f in CONTROL_FRACTIONS] + [(r, 0.1) for r in RECIPES])
    arms = [(name, f) for name, f in arms if names is None or name in names]
    jobs = [(name, s, rates[VARIANTS[name].rate_of], f) for name, f in arms for s in seeds]
    return [{**row, "test_accuracy": test_accuracy(model)} for row, model in map_in_processes(_run, jobs, processes)]


# Section 7 of notebook 08: why the small CNN scores low after one epoch. The same weights, normalised four ways.

def batchnorms(model: nn.Module) -> list[nn.BatchNorm2d]:
    """The model's BatchNorm layers, in order."""
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def own_statistics(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy in train mode with all `images` as one batch: each BatchNorm normalises with their own
    statistics (on a copy: in train mode BatchNorm also updates its running statistics)."""
    model = copy.deepcopy(model).train()
    with torch.no_grad():
        return (model(images).argmax(dim=1) == labels).float().mean().item()


def with_recomputed_statistics(model: nn.Module, dataset: Dataset) -> nn.Module:
    """A copy of the model, in eval mode, whose BatchNorm running statistics are the plain average over the
    batches of 32 of `dataset` with the model's weights as they are now."""
    model = copy.deepcopy(model)
    for bn in batchnorms(model):
        bn.reset_running_stats()
        bn.momentum = None  # None: a plain average over all the batches that follow
    model.train()
    with torch.no_grad():
        for images, _ in DataLoader(dataset, batch_size=BATCH_SIZE):
            model(images)
    return model.eval()


def replayed(model: nn.Module, loader: DataLoader, seed: int) -> nn.Module:
    """A copy of the model whose BatchNorm running statistics start again at mean 0 and variance 1 and see
    the batches of one epoch of `loader` in the order `fit(seed=seed)` drew them, with the model's weights as
    they are now (momentum unchanged): what training would have left had the weights not changed."""
    model = copy.deepcopy(model)
    for bn in batchnorms(model):
        bn.reset_running_stats()
    model.train()
    torch.manual_seed(seed)  # as fit does before its first epoch: the same order of batches
    with torch.no_grad():
        for images, _ in loader:
            model(images)
    return model.eval()


def debiased(model: nn.Module, steps: int, layers: Sequence[int] | None = None) -> nn.Module:
    """A copy of the model with the starting value (mean 0, variance 1) that is left in the running statistics
    after `steps` updates at momentum 0.1 divided out, in the BatchNorms numbered `layers` (0 the first;
    None: all), as Adam divides it out of its running averages."""
    model, left = copy.deepcopy(model), 0.9**steps  # the share of the starting value still in them
    for k, bn in enumerate(batchnorms(model)):
        if layers is None or k in layers:
            bn.running_mean.div_(1 - left)
            bn.running_var.sub_(left).div_(1 - left)
    return model


def fit_tracing_first_batchnorm(
    model: SmallCNN, loader: DataLoader, images: torch.Tensor, **options
) -> tuple[History, torch.Tensor, torch.Tensor]:
    """`fit(model, loader, **options)`, recording at every step the first BatchNorm's running variance and the
    variance of its input over `images` with the weights of that step.

    The first BatchNorm's input is the first convolution's output, which has no bias: each channel is w . p for
    the k x k neighbourhoods p of the pixels, so its variance over the images is w^T C w, with C the covariance
    of those neighbourhoods, computed once. That equals the variance of the convolution's output over `images`
    (test_experiments checks it) without running the convolution at every step.

    Returns:
        (the History, running (steps, C), current (steps, C)), C the channels of the first BatchNorm.
    """
    conv, bn = model.features[0], model.features[1]
    k = conv.kernel_size[0]
    neighbourhoods = F.unfold(images, k, padding=conv.padding[0])  # (N, C_in * k * k, H * W), zero padded like the conv
    C = torch.cov(neighbourhoods.transpose(0, 1).flatten(1))  # (C_in k k, C_in k k), over every pixel of every image
    running, current = [], []

    def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        if module.training:
            running.append(module.running_var.clone())  # just updated with this batch
            with torch.no_grad():
                w = conv.weight.flatten(1)  # (C, C_in k k)
                current.append(((w @ C) * w).sum(dim=1))  # (C,): w^T C w per channel

    handle = bn.register_forward_hook(record)
    try:
        history = fit(model, loader, progress=False, **options)
    finally:
        handle.remove()
    return history, torch.stack(running), torch.stack(current)
