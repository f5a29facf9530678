"""Notebook 01's experiment: which small models solve the two-marks task ("is the red mark left of the
blue mark?", `minivit.data.two_marks`), each trained for several seeds and long enough to converge.

The arms (`ARMS`), each one change from a neighbour:
- "small CNN": three 3x3 conv layers of stride 1 (a 7 x 7 receptive field), global average pooling, a Linear;
- "CNN + coordinates": the same CNN given each pixel's row and column as two more input channels
  (CoordConv): the same receptive field, now with a sense of where it is;
- "CNN, field 19, circular": the same CNN with 7x7 kernels (a 19 x 19 field: wide enough to hold both marks)
  and circular padding (no border): features that see both marks, and still no sense of where they are;
- "attention": `AttentionClassifier`, 3 x 3 patches, a position embedding, one transformer block;
- "attention, reach 1": each patch attends only to the 3 x 3 patches around it; the patch between the two marks
  sees both when their patches are at most 2 rows and 2 columns apart (`both_marks_in_reach`; in this data the
  marks are 1 to 3 columns and at least 7 rows apart, so that is when they are exactly 2 patch rows apart),
  which is why the rows report accuracy on those test images and on the others separately;
- "attention, reach 0": each patch attends only to itself: no token mixing at all;
- "attention, no position": global attention without the position embedding.

Every run: the same recipe (`RECIPE`, that of notebook 01: AdamW, cosine schedule, peak rate 3e-3, weight decay
0.05, batches of 32; not tuned, and shared by every arm) for EPOCHS epochs on the 1,000 training images; measured
on the 500 test images and on 500 "aligned" test images, whose two marks sit in the same column inside their
3 x 3 patches (`two_marks(..., aligned_to=3)`, so 3 columns apart): there, what lies inside the marks' patches
says nothing about the label.

The stored results (course/results/two_marks.csv) hold seeds 0, 1 and 2 of every arm, from
`python -m minivit.experiments two-marks --processes 2 --out course/results/two_marks.csv`, and seeds 3 and 4
of the two global-attention arms, added by `add_seeds` (its call is in notebook 01, section 8).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from minivit.data import two_marks
from minivit.experiments.processes import map_in_processes
from minivit.experiments.results import read_csv, write_csv
from minivit.models.toy_models import AttentionClassifier, SmallCNN
from minivit.train import count_parameters, evaluate, fit, seed_everything

PATCH = 3  # the attention models' patch side, and the alignment of the aligned test set
EPOCHS = 15
RECIPE = dict(lr=3e-3, weight_decay=0.05, batch_size=32)
SOLVED = 0.95  # a run "solves" the task from the first epoch whose test accuracy reaches this


def _attention(**options) -> Callable[[], nn.Module]:
    return lambda: AttentionClassifier(in_channels=3, num_classes=2, image_size=24, patch_size=PATCH, dim=32,
                                       num_heads=2, **options)


def _cnn(**options) -> Callable[[], nn.Module]:
    return lambda: SmallCNN(in_channels=3, num_classes=2, widths=(8, 8, 8), downsample=False, **options)


ARMS: dict[str, Callable[[], nn.Module]] = {
    "small CNN": _cnn(),
    "CNN + coordinates": _cnn(coordinates=True),
    "CNN, field 19, circular": _cnn(kernel_size=7, padding_mode="circular"),
    "attention": _attention(),
    "attention, reach 1": _attention(reach=1),
    "attention, reach 0": _attention(reach=0),
    "attention, no position": _attention(position_embedding=False),
}


def both_marks_in_reach(red: torch.Tensor, blue: torch.Tensor, patch_size: int = PATCH, reach: int = 1) -> torch.Tensor:
    """Whether some patch's neighbourhood holds both marks: (M,) bool.

    A patch at reach r attends to the patches at most r rows and r columns of patches away (the mask of
    `AttentionClassifier(reach=r)`). Some patch has both marks' patches in that neighbourhood exactly when the
    two patches are at most 2r rows and at most 2r columns apart: the patch midway between them (inside the
    grid, since both marks are) is then at most r from each, and a patch at most r from both forces it.

    Args:
        red, blue: (M, 2) int64, the (row, column) of each mark in pixels (`TwoMarks.red`, `.blue`).
        patch_size: p, the side of a patch in pixels.
        reach: r >= 0.
    """
    for name, marks in (("red", red), ("blue", blue)):
        if not isinstance(marks, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(marks).__name__}")
        if marks.ndim != 2 or marks.shape[1] != 2:
            raise ValueError(f"{name} must have shape (M, 2), got shape {tuple(marks.shape)}")
    if red.shape != blue.shape:
        raise ValueError(f"red and blue must have the same shape, got {tuple(red.shape)} and {tuple(blue.shape)}")
    if patch_size < 1 or reach < 0:
        raise ValueError(f"patch_size must be >= 1 and reach >= 0, got patch_size={patch_size}, reach={reach}")
    apart = (red // patch_size - blue // patch_size).abs()  # (M, 2) patch rows and columns between the marks
    return (apart <= 2 * reach).all(dim=1)


def _accuracy_on(model: nn.Module, data, keep: torch.Tensor) -> float | str:
    """Accuracy of `model` on the images of `data` where `keep` is True ("" when there are none)."""
    if not keep.any():
        return ""
    model.eval()
    with torch.no_grad():
        predicted = model(data.images[keep]).argmax(dim=1)
    return (predicted == data.labels[keep]).float().mean().item()


def mark_share(model: AttentionClassifier, data) -> float:
    """The smallest, over the heads, share of attention weight that lands on the two marks' patches,
    averaged over the queries and the images of `data` (a TwoMarks set); uniform weights give 2 / N."""
    side = data.images.shape[-1] // PATCH

    def patch_of(position: torch.Tensor) -> torch.Tensor:  # (M, 2) rows and columns -> (M,) token numbers
        return (position[:, 0] // PATCH) * side + position[:, 1] // PATCH

    model.eval()
    with torch.no_grad():
        received = model.attention_weights(data.images).mean(dim=2)  # (M, nh, N): mean over the queries
    every = torch.arange(len(data))
    on_marks = received[every, :, patch_of(data.red)] + received[every, :, patch_of(data.blue)]  # (M, nh)
    return on_marks.mean(dim=0).min().item()


def train_arm(arm: str, seed: int, epochs: int = EPOCHS, train_size: int = 1000, test_size: int = 500) -> dict:
    """One run: `ARMS[arm]` built after seeding with `seed`, trained on `two_marks("train")`.

    Returns:
        a row: arm, seed, epochs, parameters, test_accuracy (final), aligned_accuracy (on the aligned
        test set), solved_at (the first epoch with test accuracy >= SOLVED; "" if none), mark_share
        (attention arms, see `mark_share`; "" for the CNNs), best_test_accuracy and best_epoch (the
        highest test accuracy after any epoch, and the first epoch that reached it), test_curve (the
        test accuracy after each epoch, space-separated), in_reach_accuracy and out_of_reach_accuracy
        (final accuracy on the test images where some patch's 3 x 3 neighbourhood holds both marks,
        `both_marks_in_reach(reach=1)`, and on the others).
    """
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {list(ARMS)}, got {arm!r}")
    train_set, test_set = two_marks("train", train_size), two_marks("test", test_size)
    aligned = two_marks("test", test_size, aligned_to=PATCH)
    loader = DataLoader(train_set, batch_size=RECIPE["batch_size"], shuffle=True)
    test_loader = DataLoader(test_set, batch_size=test_size)
    seed_everything(seed)
    model = ARMS[arm]()
    history = fit(model, loader, test_loader, epochs=epochs, lr=RECIPE["lr"], weight_decay=RECIPE["weight_decay"],
                  seed=seed, progress=False)
    curve = history.test_accuracy
    solved = [e + 1 for e, a in enumerate(curve) if a >= SOLVED]
    in_reach = both_marks_in_reach(test_set.red, test_set.blue)
    return dict(
        arm=arm, seed=seed, epochs=epochs, parameters=count_parameters(model),
        test_accuracy=history.test_accuracy[-1],
        aligned_accuracy=evaluate(model, DataLoader(aligned, batch_size=test_size)),
        solved_at=solved[0] if solved else "",
        mark_share=mark_share(model, test_set) if isinstance(model, AttentionClassifier) else "",
        best_test_accuracy=max(curve), best_epoch=curve.index(max(curve)) + 1,
        test_curve=" ".join(f"{a:.4f}" for a in curve),
        in_reach_accuracy=_accuracy_on(model, test_set, in_reach),
        out_of_reach_accuracy=_accuracy_on(model, test_set, ~in_reach),
    )


def _run(job: tuple) -> dict:
    return train_arm(*job)


def two_marks_experiment(
    arms: Sequence[str] = tuple(ARMS), seeds: Iterable[int] = (0, 1, 2), epochs: int = EPOCHS, processes: int = 1,
    train_size: int = 1000, test_size: int = 500,
) -> list[dict]:
    """Every arm for every seed (see `train_arm`): one row per run, arms in order, seeds within."""
    jobs = [(arm, seed, epochs, train_size, test_size) for arm in arms for seed in seeds]
    return map_in_processes(_run, jobs, processes)


def add_seeds(path: str | Path, arms: Sequence[str], seeds: Iterable[int], processes: int = 1) -> list[dict]:
    """More seeds for some arms of a stored experiment: the runs of `arms` x `seeds` that the CSV at `path`
    does not hold yet are trained (see `train_arm`) and merged into it, rows sorted as `two_marks_experiment`
    writes them (arms in the order of ARMS, seeds within); the rows already there are kept as they are.
    Returns the new rows."""
    unknown = [arm for arm in arms if arm not in ARMS]
    if isinstance(arms, str) or unknown:
        raise ValueError(f"arms must be a sequence of names from {list(ARMS)}, got {arms!r}")
    rows = read_csv(path)
    held = {(row["arm"], row["seed"]) for row in rows}
    new = map_in_processes(_run, [(arm, seed) for arm in arms for seed in seeds if (arm, seed) not in held], processes)
    order = list(ARMS)
    write_csv(sorted(rows + new, key=lambda row: (order.index(row["arm"]), row["seed"])), path)
    return new
