"""What every graded task is made of: its cases, its known mistakes, the task itself, and the draw of
hidden cases; and the registry TASKS, filled in course order by the notebook modules beside this one."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn


@dataclass(frozen=True)
class Case:
    """One call of the learner's function: its positional arguments, and how feedback names it."""

    args: tuple
    note: str = ""  # plain words for the inputs; made from the arguments when empty


@dataclass(frozen=True)
class Pitfall:
    """A known mistake: when the learner's output equals `fn`'s, feedback says `says`."""

    says: str  # the mistake in plain words, as the learner reads it after "this looks like a known mistake: "
    fn: Callable[..., Any]  # the mistake written out: the same parameters as the task's function


@dataclass(frozen=True)
class Task:
    """One function a learner writes in an exercise notebook, and everything needed to grade it.

    The check cell in the notebook runs `public()` and explains a failure with `hint` and `pitfalls`; the
    grader runs `hidden(Draw(seed))`, cases of other sizes and values. Both compare the learner's output with
    `reference`'s on the same arguments, within `rtol` and `atol`: minivit's public function or layer for it
    (through an adapter that maps the task's parameters onto it where they differ), or a line of torch where
    the task is one (a convolution, a roll), never a private copy of the algorithm. Calling a minivit
    function other than `helpers` makes the learner's function "not own code" (see minivit/grading/tracing.py).
    """

    name: str  # the function the learner writes; also nbgrader's grade_id of its cell
    notebook: str  # stem of the notebook it belongs to, e.g. "04_window_shift_mask"
    points: int
    params: tuple[str, ...]  # the function's parameter names, to describe cases
    reference: Callable[..., Any]  # computes the expected output from the same arguments
    public: Callable[[], list[Case]]  # the check cell's cases, the same every time
    hidden: Callable[[Draw], list[Case]]  # the grader's cases, drawn from a seed
    hint: str  # how to write it, shown under a failed check
    pitfalls: tuple[Pitfall, ...] = ()
    helpers: tuple[Callable, ...] = ()  # the minivit functions it may call; any other makes it "not own code"
    rtol: float = 1e-4
    atol: float = 1e-5


class Draw:
    """Sizes and values of cases, all from one seed so that a grading run can be repeated."""

    def __init__(self, seed: int):
        self.sizes = random.Random(seed)
        self.values = torch.Generator().manual_seed(seed)

    def size(self, low: int, high: int) -> int:
        return self.sizes.randint(low, high)

    def pick(self, options: list) -> Any:
        return self.sizes.choice(options)

    def randn(self, *shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(shape, generator=self.values) * scale


TASKS: dict[str, Task] = {}  # in course order
NOTEBOOKS: dict[str, list[str]] = {}  # notebook stem -> its task names, in order


def add_task(**fields: Any) -> None:
    """Register Task(**fields) in TASKS and under its notebook in NOTEBOOKS."""
    task = Task(**fields)
    TASKS[task.name] = task
    NOTEBOOKS.setdefault(task.notebook, []).append(task.name)


def arange(*shape: int) -> torch.Tensor:
    """0, 1, 2, ... in a float tensor of that shape: a public case whose output a learner can read."""
    return torch.arange(math.prod(shape), dtype=torch.float32).reshape(shape)


def three(d: Draw, sizes: Callable[[Draw], tuple]) -> list[tuple]:
    """Three draws of `sizes`, one per hidden case."""
    return [sizes(d) for _ in range(3)]


def with_weights(module: nn.Module, weights: dict[str, torch.Tensor], *args: Any) -> torch.Tensor:
    """`module` with its parameters set to `weights` (its state_dict's names), called on `args` in eval mode:
    how a task whose learner gets a layer's weights as a dict runs minivit's layer as its reference."""
    module.load_state_dict(weights)
    with torch.no_grad():
        return module.eval()(*args)


def patch_sizes(d: Draw) -> tuple[int, int, int, int, int]:
    """(B, C, p, nh, nw) without degenerate sizes: at least 2 channels, 2-pixel patches, 2 x 2 patches
    (nh, nw: patch rows and columns)."""
    return d.size(1, 2), d.size(2, 4), d.size(2, 3), d.size(2, 3), d.size(2, 4)


def image_and_patch_size_cases(d: Draw) -> list[Case]:
    """Cases (x, patch_size) for patchify and mobilevit_unfold: (B, C, H, W) images, H and W multiples of p."""
    return [Case((d.randn(B, C, nh * p, nw * p), p)) for B, C, p, nh, nw in three(d, patch_sizes)]
