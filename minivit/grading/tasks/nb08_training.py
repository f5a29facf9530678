"""The graded tasks of notebook 08, training: the accuracy of a classifier over a data set in batches (`evaluate`),
and the training loop around one step (`fit`), both on a small classifier with BatchNorm whose weights a case gives.

The classifier is flatten -> Linear fc1 -> BatchNorm1d norm -> ReLU -> Linear fc2; `weights` is its state_dict
(`fc1.weight`, ..., `norm.running_mean`, `norm.running_var`, `norm.num_batches_tracked`, ..., `fc2.bias`). The
exercise notebook's setup cell builds the same model (`classifier`), so a learner's functions start from it; the
solution notebook passing every hidden case is what shows the two agree. The references are minivit.train's
`evaluate` and `fit`'s loop written out (evaluate_reference and fit_loop, each tested equal to minivit.train's: the
grading floor imports no training code), on a DataLoader of the case's images and labels, in order (no shuffling)."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from minivit.grading.tasks.common import Case, Draw, Pitfall, add_task, three

NB08 = "08_training"
WEIGHT_DECAY = 0.05  # fit's default, which the task asks for


def classifier(weights: dict[str, torch.Tensor]) -> nn.Module:
    """The tasks' model with these weights, in train mode (as a new module is)."""
    (hidden, P), K = weights["fc1.weight"].shape, weights["fc2.weight"].shape[0]
    model = nn.Sequential(OrderedDict(flatten=nn.Flatten(), fc1=nn.Linear(P, hidden), norm=nn.BatchNorm1d(hidden),
                                      act=nn.ReLU(), fc2=nn.Linear(hidden, K)))
    model.load_state_dict(weights)
    return model


def _loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> DataLoader:
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size)  # in order: the last batch the smaller


def _weights(d: Draw, P: int, hidden: int, K: int) -> dict[str, torch.Tensor]:
    """Weights whose running statistics are far from those of any batch, so that eval mode changes predictions."""
    return {
        "fc1.weight": d.randn(hidden, P, scale=P ** -0.5), "fc1.bias": d.randn(hidden, scale=0.2),
        "norm.weight": 1 + d.randn(hidden, scale=0.2), "norm.bias": d.randn(hidden, scale=0.2),
        "norm.running_mean": d.randn(hidden, scale=0.5), "norm.running_var": torch.exp(d.randn(hidden)),
        "norm.num_batches_tracked": torch.tensor(10),
        "fc2.weight": d.randn(K, hidden, scale=hidden ** -0.5), "fc2.bias": d.randn(K, scale=0.2),
    }


def _sizes(d: Draw, full: tuple[int, int] = (1, 2)) -> tuple[int, int, int, int, int]:
    """(batch_size, full batches, images in the last batch, hidden, K): the last batch smaller than the others
    and of at least 2 images (BatchNorm in train mode needs 2)."""
    batch_size = d.size(3, 5)
    return batch_size, d.size(*full), d.size(2, batch_size - 1), d.size(4, 8), d.size(3, 4)


# --- evaluate ---------------------------------------------------------------------------------------------------

@torch.no_grad()
def _predictions(weights: dict, images: torch.Tensor, train_mode: bool) -> torch.Tensor:
    return classifier(weights).train(train_mode)(images).argmax(dim=1)


def _evaluate_cases(d: Draw, sizes: list[tuple[int, int, int, int, int]]) -> list[Case]:
    """(weights, images, labels, batch_size): labels that agree with the model (in eval mode) on every image of the
    last batch and on about two thirds of the others, at least one wrong; drawn again until the model in train mode
    (BatchNorm on each batch's own statistics) scores otherwise."""
    cases = []
    for batch_size, full, last, hidden, K in sizes:
        N = full * batch_size + last
        while True:
            weights, images = _weights(d, 16, hidden, K), d.randn(N, 1, 4, 4)
            right = _predictions(weights, images, train_mode=False)
            wrong = torch.rand(N, generator=d.values) < 1 / 3
            wrong[full * batch_size:] = False
            wrong[torch.randint(full * batch_size, (1,), generator=d.values)] = True
            labels = torch.where(wrong, (right + 1) % K, right)
            case = Case((weights, images, labels, batch_size))
            if _evaluate_in_train_mode(*case.args) != evaluate_reference(*case.args):
                cases.append(case)
                break
    return cases


def evaluate_reference(weights, images, labels, batch_size):
    """minivit.train.evaluate written out (the grading floor imports no training code; tested equal to it): the
    classifier in eval mode, its right images over every batch added up and divided by the number of images."""
    model = classifier(weights).eval()
    correct = sum((model(x).argmax(dim=1) == y).sum().item() for x, y in _loader(images, labels, batch_size))
    return correct / len(labels)


def _evaluate_in_train_mode(weights, images, labels, batch_size):
    model = classifier(weights)
    with torch.no_grad():
        correct = sum(int((model(x).argmax(dim=1) == y).sum()) for x, y in _loader(images, labels, batch_size))
    return correct / len(labels)


def _evaluate_per_batch(weights, images, labels, batch_size):
    model = classifier(weights).eval()
    with torch.no_grad():
        shares = [(model(x).argmax(dim=1) == y).float().mean().item() for x, y in _loader(images, labels, batch_size)]
    return sum(shares) / len(shares)


def _evaluate_last_batch(weights, images, labels, batch_size):
    model = classifier(weights).eval()
    with torch.no_grad():
        for x, y in _loader(images, labels, batch_size):
            share = (model(x).argmax(dim=1) == y).float().mean().item()
    return share


def _evaluate_count(weights, images, labels, batch_size):
    return round(evaluate_reference(weights, images, labels, batch_size) * len(labels))


add_task(
    name="evaluate",
    notebook=NB08,
    points=2,
    params=("weights", "images", "labels", "batch_size"),
    reference=evaluate_reference,
    public=lambda: _evaluate_cases(Draw(0), [(4, 2, 3, 6, 3), (3, 1, 2, 4, 4)]),
    hidden=lambda d: _evaluate_cases(d, three(d, _sizes)),
    hint="model = classifier(weights), then model.eval() (BatchNorm then uses its running statistics, not the "
    "batch's). Go through DataLoader(TensorDataset(images, labels), batch_size=batch_size) in order, under "
    "torch.no_grad(); count the images whose largest logit (argmax over dim 1) is their label, and divide by the "
    "number of images: the last batch is smaller. Return a float.",
    pitfalls=(
        Pitfall("the model ran in train mode: its BatchNorm normalised each batch with the batch's own statistics; "
                "call model.eval() first, so that it uses the running statistics", _evaluate_in_train_mode),
        Pitfall("this is the mean of the batches' accuracies: the last batch is smaller, so its images count more; "
                "add up the right images of all batches and divide by the number of images", _evaluate_per_batch),
        Pitfall("this is the accuracy of the last batch only: add up the right images over all batches",
                _evaluate_last_batch),
        Pitfall("this is the number of right images; the accuracy is that number divided by the number of images",
                _evaluate_count),
    ),
)


# --- fit --------------------------------------------------------------------------------------------------------

def fit_loop(weights, images, labels, epochs, batch_size, lr, *, zero_grad=True, step_first=False,
             schedule="batch", per_item=True):
    """minivit.train.fit's loop on a new classifier with these weights (AdamW, weight decay 0.05, the cosine schedule
    stepped per batch, cross-entropy), its training loss per epoch, (epochs,): the task's reference. Each pitfall
    changes it in one place: no zero_grad, the step before backward, the schedule stepped per epoch or not at all,
    or the epoch's loss as the mean of its batches' losses.

    Written out rather than calling minivit.train.fit, which starts tqdm's monitor thread in the learner's kernel
    (the grader refuses a thread that outlives a call); tests/test_grading_tasks.py checks it equals fit."""
    model = classifier(weights)
    loader = _loader(images, labels, batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=WEIGHT_DECAY)
    T_max = {"batch": epochs * len(loader), "epoch": epochs, "none": None}[schedule]
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=T_max) if T_max else None
    losses = []
    with torch.enable_grad():
        for _ in range(epochs):
            total, seen, batch_losses = 0.0, 0, []
            for x, y in loader:
                loss = F.cross_entropy(model(x), y)
                if zero_grad:
                    optimizer.zero_grad()
                if step_first:
                    optimizer.step()
                    loss.backward()
                else:
                    loss.backward()
                    optimizer.step()
                if schedule == "batch":
                    scheduler.step()
                total, seen = total + loss.item() * len(y), seen + len(y)
                batch_losses.append(loss.item())
            if schedule == "epoch":
                scheduler.step()
            losses.append(total / seen if per_item else sum(batch_losses) / len(batch_losses))
    return torch.tensor(losses)


def _fit_cases(d: Draw, sizes: list[tuple[int, int, int, int, int]]) -> list[Case]:
    """(weights, images, labels, epochs, batch_size, lr): random labels, 2 or 3 epochs of at least 3 batches, a
    learning rate high enough that each known mistake moves the losses well beyond the tolerance."""
    cases = []
    for batch_size, full, last, hidden, K in sizes:
        N = full * batch_size + last
        labels = torch.randint(K, (N,), generator=d.values)
        cases.append(Case((_weights(d, 16, hidden, K), d.randn(N, 1, 4, 4), labels, d.size(2, 3), batch_size,
                           d.pick([0.05, 0.1, 0.2]))))
    return cases


add_task(
    name="fit",
    notebook=NB08,
    points=3,
    params=("weights", "images", "labels", "epochs", "batch_size", "lr"),
    reference=fit_loop,
    public=lambda: _fit_cases(Draw(0), [(4, 2, 3, 6, 3), (3, 3, 2, 4, 4)]),
    hidden=lambda d: _fit_cases(d, three(d, lambda d: _sizes(d, full=(2, 3)))),
    hint="model = classifier(weights); loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size), "
    "in order; optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05); scheduler = "
    "CosineAnnealingLR(optimizer, T_max=epochs * len(loader)). For each epoch, for each batch: loss = "
    "F.cross_entropy(model(x), y), optimizer.zero_grad(), loss.backward(), optimizer.step(), scheduler.step(); add "
    "loss.item() * len(y) to the epoch's sum. Return torch.tensor of the epochs' sums divided by the number of "
    "images: shape (epochs,), float32.",
    pitfalls=(
        Pitfall("the gradients were never set to zero: backward adds to .grad, so each step followed the sum of "
                "all the gradients so far; call optimizer.zero_grad() before loss.backward()",
                lambda *args: fit_loop(*args, zero_grad=False)),
        Pitfall("optimizer.step() came before loss.backward(): each step had no gradient of its batch to follow "
                "(after zero_grad there is none at all), so the weights did not move",
                lambda *args: fit_loop(*args, step_first=True)),
        Pitfall("each epoch's loss is the mean of its batches' losses: the last batch is smaller, so its images "
                "count more; add loss.item() * len(y) over the batches and divide by the number of images",
                lambda *args: fit_loop(*args, per_item=False)),
        Pitfall("the learning rate was stepped once per epoch (T_max = epochs); fit steps the cosine schedule after "
                "every optimizer step, T_max = epochs * len(loader)",
                lambda *args: fit_loop(*args, schedule="epoch")),
        Pitfall("the learning rate stayed at lr: add the cosine schedule, CosineAnnealingLR(optimizer, "
                "T_max=epochs * len(loader)), and call scheduler.step() after every optimizer.step()",
                lambda *args: fit_loop(*args, schedule="none")),
    ),
)
