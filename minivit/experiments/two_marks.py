"""Notebook 01's experiment: which small models solve the two-marks task ("is the red mark left of the
blue mark?", `minivit.data.two_marks`), each trained for five seeds with one untuned recipe for a fixed
number of epochs. Not every run has converged by then: the training accuracies stored with the results show
which runs underfit.

The arms (`ARMS`), each one change from a neighbour:
- "small CNN": three 3x3 conv layers of stride 1 (a 7 x 7 receptive field), global average pooling, a Linear;
- "CNN, 20 channels": the same CNN with 20 channels per layer instead of 8: at least as many parameters as the
  field-19 CNNs below, the same 7 x 7 field;
- "CNN + coordinates": the small CNN given each pixel's row and column as two more input channels (CoordConv):
  the same receptive field, now with a sense of where it is;
- "CNN, field 19, circular": the small CNN with 7x7 kernels (a 19 x 19 field: wide enough to hold both marks)
  and circular padding (no border): features that see both marks, and no sense of where they are;
- "CNN, field 19, zero padding": the same with zero padding, whose border a 19 x 19 field reaches from every
  mark: reach, and a sense of where it is from the border;
- "attention": `AttentionClassifier`, 3 x 3 patches, a position embedding, one transformer block;
- "attention, reach 1": each patch attends only to the 3 x 3 patches around it;
- "attention, reach 0": each patch attends only to itself: no token mixing at all;
- "attention, no position": global attention without the position embedding.

Every run: the same recipe (`RECIPE`, that of notebook 01: AdamW, cosine schedule, peak rate 3e-3, weight decay
0.05, batches of 32; no warmup, and weight decay on every parameter, the position embedding and the
LayerNorms included; not tuned, and shared by every arm) for EPOCHS epochs on the 1,000 training images, scored
on the 500 test images. The stored results (course/results/two_marks.csv) hold seeds 0 to 4 of every arm, from
`python -m minivit.experiments two-marks --seeds 0 1 2 3 4 --processes 2 --out course/results/two_marks.csv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader

from minivit.data import two_marks
from minivit.experiments.processes import map_in_processes
from minivit.models.toy_models import AttentionClassifier, SmallCNN
from minivit.train import count_parameters, evaluate, fit, seed_everything

PATCH = 3  # the attention models' patch side
EPOCHS = 15
RECIPE = dict(lr=3e-3, weight_decay=0.05, batch_size=32)


def _attention(**options) -> Callable[[], nn.Module]:
    return lambda: AttentionClassifier(in_channels=3, num_classes=2, image_size=24, patch_size=PATCH, dim=32,
                                       num_heads=2, **options)


def _cnn(widths: tuple[int, ...] = (8, 8, 8), **options) -> Callable[[], nn.Module]:
    return lambda: SmallCNN(in_channels=3, num_classes=2, widths=widths, downsample=False, **options)


ARMS: dict[str, Callable[[], nn.Module]] = {
    "small CNN": _cnn(),
    "CNN, 20 channels": _cnn(widths=(20, 20, 20)),
    "CNN + coordinates": _cnn(coordinates=True),
    "CNN, field 19, circular": _cnn(kernel_size=7, padding_mode="circular"),
    "CNN, field 19, zero padding": _cnn(kernel_size=7),
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
        a row: arm, seed, epochs, parameters, train_accuracy and test_accuracy (of the model after the last
        epoch, in eval mode, on the 1,000 training images and on the 500 of `two_marks("test")`) and
        mark_share (attention arms, see `mark_share`; "" for the CNNs).
    """
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {list(ARMS)}, got {arm!r}")
    train_set, test_set = two_marks("train", train_size), two_marks("test", test_size)
    loader = DataLoader(train_set, batch_size=RECIPE["batch_size"], shuffle=True)
    test_loader = DataLoader(test_set, batch_size=test_size)
    seed_everything(seed)
    model = ARMS[arm]()
    history = fit(model, loader, test_loader, epochs=epochs, lr=RECIPE["lr"], weight_decay=RECIPE["weight_decay"],
                  seed=seed, progress=False)
    return dict(
        arm=arm, seed=seed, epochs=epochs, parameters=count_parameters(model),
        train_accuracy=evaluate(model, DataLoader(train_set, batch_size=test_size)),
        test_accuracy=history.eval_accuracy[-1],
        mark_share=mark_share(model, test_set) if isinstance(model, AttentionClassifier) else "",
    )


def _run(job: tuple) -> dict:
    return train_arm(*job)


def two_marks_experiment(
    arms: Sequence[str] = tuple(ARMS), seeds: Iterable[int] = (0, 1, 2, 3, 4), epochs: int = EPOCHS,
    processes: int = 1, train_size: int = 1000, test_size: int = 500,
) -> list[dict]:
    """Every arm for every seed (see `train_arm`): one row per run, arms in order, seeds within."""
    jobs = [(arm, seed, epochs, train_size, test_size) for arm in arms for seed in seeds]
    return map_in_processes(_run, jobs, processes)
