"""Notebook 01's experiment: which small models solve the two-marks task ("is the red mark left of the
blue mark?", `minivit.data.two_marks`), each trained for several seeds and long enough to converge.

The arms (`ARMS`), each one change from a neighbour:
- "small CNN": three 3x3 conv layers of stride 1 (a 7 x 7 receptive field), global average pooling, a Linear;
- "CNN + coordinates": the same CNN given each pixel's row and column as two more input channels
  (CoordConv): the same receptive field, now with a sense of where it is;
- "CNN, field 19, circular": the same CNN with 7x7 kernels (a 19 x 19 field: wide enough to hold both marks)
  and circular padding (no border): features that see both marks, and still no sense of where they are;
- "attention": `AttentionClassifier`, 3 x 3 patches, a position embedding, one transformer block;
- "attention, reach 1": each patch attends only to the 3 x 3 patches around it, never to both marks;
- "attention, reach 0": each patch attends only to itself: no token mixing at all;
- "attention, no position": global attention without the position embedding.

Every run: the same recipe (`RECIPE`, that of notebook 01: AdamW, cosine schedule, peak rate 3e-3, batches of
32) for EPOCHS epochs on the 1,000 training images; measured on the 500 test images and on 500 "aligned" test
images, whose two marks sit in the same column inside their 3 x 3 patches (`two_marks(..., aligned_to=3)`):
there, what lies inside the marks' patches says nothing about the label.
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

PATCH = 3  # the attention models' patch side, and the alignment of the aligned test set
EPOCHS = 15
RECIPE = dict(lr=3e-3, batch_size=32)
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
        (attention arms, see `mark_share`; "" for the CNNs).
    """
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {list(ARMS)}, got {arm!r}")
    train_set, test_set = two_marks("train", train_size), two_marks("test", test_size)
    aligned = two_marks("test", test_size, aligned_to=PATCH)
    loader = DataLoader(train_set, batch_size=RECIPE["batch_size"], shuffle=True)
    test_loader = DataLoader(test_set, batch_size=test_size)
    seed_everything(seed)
    model = ARMS[arm]()
    history = fit(model, loader, test_loader, epochs=epochs, lr=RECIPE["lr"], seed=seed, progress=False)
    solved = [e + 1 for e, a in enumerate(history.test_accuracy) if a >= SOLVED]
    return dict(
        arm=arm, seed=seed, epochs=epochs, parameters=count_parameters(model),
        test_accuracy=history.test_accuracy[-1],
        aligned_accuracy=evaluate(model, DataLoader(aligned, batch_size=test_size)),
        solved_at=solved[0] if solved else "",
        mark_share=mark_share(model, test_set) if isinstance(model, AttentionClassifier) else "",
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
