"""A short training loop and its evaluation: AdamW, a cosine learning-rate schedule, optional label
smoothing, a progress bar, and a history to plot.

    seed_everything(0)
    model = SmallCNN()
    history = fit(model, train_loader, eval_loader, epochs=10, lr=3e-3)
    print(history)

Results repeat exactly on a CPU: `fit` seeds the shuffling of the loader (and anything random
during training), and `seed_everything` before building the model fixes its initial weights.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from minivit.ops._checks import check_size


class OutputLine:
    """A file for tqdm that draws the bar as one output line of a notebook, replaced in place at each update.

    A notebook saved after training then holds the bar's last state (100%, with the last loss), where a
    widget bar (tqdm.auto) leaves its first state, 0%, in the saved file and on the website.
    """

    encoding = "utf-8"  # tells tqdm it may draw the bar with block characters

    def __init__(self):
        from IPython.display import Pretty, display

        self._pretty = Pretty
        self._handle = display(Pretty(""), display_id=True)

    def write(self, text: str) -> None:
        line = text.strip("\r\n")
        if line:  # tqdm writes "\r" + the bar; the carriage return is what a terminal would need
            self._handle.update(self._pretty(line))

    def flush(self) -> None:
        pass


def progress_file():
    """Where a progress bar goes: an OutputLine inside a Jupyter kernel, else None (tqdm's stderr)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return OutputLine() if shell is not None and hasattr(shell, "kernel") else None


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters of `model` (only those that require grad when trainable_only)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@dataclass
class History:
    """What `fit` measured, one entry per epoch."""

    train_loss: list[float] = field(default_factory=list)  # mean loss over the epoch's batches
    train_accuracy: list[float] = field(default_factory=list)  # on the batches, while the model learned
    # after each epoch, on the loader given to fit as eval_loader (validation or test digits: "eval acc" in
    # the progress bar and in print(history)); empty without one
    eval_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)  # wall time of the epoch, evaluation included

    def __str__(self) -> str:
        lines = ["epoch  train loss  train acc  eval acc  seconds"]
        for i, (loss, acc, sec) in enumerate(zip(self.train_loss, self.train_accuracy, self.seconds)):
            test = f"{self.eval_accuracy[i]:8.3f}" if self.eval_accuracy else "       -"
            lines.append(f"{i + 1:5d}  {loss:10.4f}  {acc:9.3f}  {test}  {sec:7.1f}")
        return "\n".join(lines)


def _loss(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool, label_smoothing: float,
          class_weights: torch.Tensor | None = None) -> torch.Tensor:
    if multi_label:  # targets (B, K) of 0/1: K independent yes/no questions
        return F.binary_cross_entropy_with_logits(logits, targets.float())
    # targets (B,) class indices (or (B, H, W) per pixel)
    return F.cross_entropy(logits, targets, weight=class_weights, label_smoothing=label_smoothing)


def _correct(logits: torch.Tensor, targets: torch.Tensor, multi_label: bool) -> int:
    if multi_label:  # right only when the whole set of predicted classes is right
        return int(((logits > 0) == (targets > 0.5)).all(dim=1).sum())
    # also per pixel, for (B, K, H, W) logits; max(dim=1).indices is argmax(dim=1) (the first maximum in both),
    # about 5 times faster than argmax on the CPU over the K of (B, K, H, W)
    return int((logits.max(dim=1).indices == targets).sum())


def _count(targets: torch.Tensor, multi_label: bool) -> int:
    return len(targets) if multi_label else targets.numel()


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, multi_label: bool = False) -> float:
    """Accuracy of `model` over `loader`, in eval mode (BatchNorm uses its running statistics).

    Args:
        model: maps inputs (B, ...) to logits (B, K) (or (B, K, H, W) for per-pixel targets).
        loader: yields (inputs, targets, ...) batches; items after the targets are ignored.
        multi_label: targets are multi-hot (B, K); an image counts as right only when every class
            is predicted right (logit > 0 means present).

    Returns:
        the fraction of right predictions, in [0, 1].
    """
    was_training = model.training
    model.eval()
    correct = total = 0
    for batch in loader:
        x, y = batch[0], batch[1]
        correct += _correct(model(x), y, multi_label)
        total += _count(y, multi_label)
    model.train(was_training)
    return correct / total


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    eval_loader: DataLoader | None = None,
    epochs: int = 10,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    label_smoothing: float = 0.0,
    seed: int = 0,
    multi_label: bool = False,
    class_weights: torch.Tensor | None = None,
    progress: bool = True,
    warmup_steps: int = 0,
    no_weight_decay: Callable[[str, nn.Parameter], bool] | None = None,
) -> History:
    """Train `model` with AdamW and a cosine learning-rate schedule; evaluate after each epoch.

    The learning rate falls from `lr` to 0 along half a cosine, one step per batch
    (torch.optim.lr_scheduler.CosineAnnealingLR); with `warmup_steps`, it first rises linearly to `lr`
    over those steps and the cosine takes the rest. Weight decay applies to every parameter, except those
    that `no_weight_decay` picks out.

    Args:
        model: maps inputs (B, ...) to logits (B, K) (or (B, K, H, W) for per-pixel targets).
        train_loader: yields (inputs, targets, ...) batches; items after the targets (such as a
            canvas's masks) are ignored.
        eval_loader: evaluated after every epoch when given (a validation or a test set: the progress
            bar calls its accuracy "eval acc").
        epochs: passes over the training data.
        lr: the peak learning rate.
        weight_decay: AdamW's decoupled weight decay.
        label_smoothing: for cross-entropy: the target puts 1 - label_smoothing on the true class
            and spreads label_smoothing over all classes.
        seed: seeds torch before training, which fixes the order of the batches.
        multi_label: targets are multi-hot (B, K) and the loss is binary cross-entropy per class
            (an image may hold several classes); otherwise targets are class indices and the
            loss is cross-entropy.
        class_weights: for cross-entropy: a weight per class (K,), e.g. to count a rare class's
            examples more (the `weight` of F.cross_entropy); None weighs every class 1.
        progress: show a tqdm progress bar: on stderr in a terminal, as one output line updated in
            place in a notebook (`OutputLine`).
        warmup_steps: steps over which the learning rate rises linearly from lr / warmup_steps to lr
            (0: none, the cosine starts at lr).
        no_weight_decay: called with each parameter's name and the parameter; those for which it returns
            True get no weight decay (DeiT's recipe exempts norms, biases, the class token and the position
            embedding). None: every parameter decays.

    Returns:
        a History of per-epoch train loss, train accuracy, accuracy on eval_loader (`eval_accuracy`) and seconds.
    """
    check_size(epochs, "epochs")
    if multi_label and label_smoothing:
        raise ValueError(f"label_smoothing applies to cross-entropy only, got {label_smoothing} with multi_label=True")
    if multi_label and class_weights is not None:
        raise ValueError("class_weights applies to cross-entropy only, got class_weights with multi_label=True")
    steps = epochs * len(train_loader)
    if not 0 <= warmup_steps < steps:
        raise ValueError(f"warmup_steps must be in [0, {steps}) for {epochs} epochs of {len(train_loader)} batches, "
                         f"got {warmup_steps}")
    torch.manual_seed(seed)
    parameters = model.parameters()
    if no_weight_decay is not None:
        exempt = [no_weight_decay(name, p) for name, p in model.named_parameters()]
        parameters = [
            {"params": [p for p, e in zip(model.parameters(), exempt) if not e]},
            {"params": [p for p, e in zip(model.parameters(), exempt) if e], "weight_decay": 0.0},
        ]
    optimizer = torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps - warmup_steps)
    if warmup_steps:
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / warmup_steps, total_iters=warmup_steps)
        scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, scheduler], milestones=[warmup_steps])
    history = History()
    bar = tqdm(total=epochs * len(train_loader), disable=not progress, unit="batch",
               file=progress_file() if progress else None)
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        loss_sum, seen, correct, total = 0.0, 0, 0, 0
        for batch in train_loader:
            x, y = batch[0], batch[1]
            logits = model(x)
            loss = _loss(logits, y, multi_label, label_smoothing, class_weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * len(y)
            seen += len(y)
            correct += _correct(logits.detach(), y, multi_label)
            total += _count(y, multi_label)
            bar.update()
        history.train_loss.append(loss_sum / seen)
        history.train_accuracy.append(correct / total)
        if eval_loader is not None:
            history.eval_accuracy.append(evaluate(model, eval_loader, multi_label))
        history.seconds.append(time.perf_counter() - start)
        shown = {"loss": f"{history.train_loss[-1]:.3f}"}
        if history.eval_accuracy:
            shown["eval acc"] = f"{history.eval_accuracy[-1]:.3f}"
        bar.set_postfix(shown)
    bar.close()
    return history
