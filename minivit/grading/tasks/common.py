"""What every graded task is made of: its cases, its known mistakes, the task itself, and the draw of
hidden cases; and the registry TASKS, filled in course order by the notebook modules beside this one, then by
a course's own tasks files (load_tasks: `minivit-grade --tasks FILE`, or the MINIVIT_TASKS variable)."""

from __future__ import annotations

import hashlib
import importlib.util
import math
import random
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
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
    wrong: tuple[Callable[..., Any], ...] = ()  # more wrong implementations, for the tests: mistakes no pitfall names

    @property
    def wrong_variants(self) -> tuple[Callable[..., Any], ...]:
        """The wrong implementations the tests use: each pitfall's function, then `wrong`."""
        return tuple(p.fn for p in self.pitfalls) + self.wrong


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
DEFINED_IN: dict[str, str] = {}  # task name -> the course's tasks file that added or replaced it (not minivit's)
_LOADED: set[Path] = set()  # the tasks files loaded, so that one named twice is read once


def add_task(*, replace: bool = False, **fields: Any) -> Task:
    """Register Task(**fields) in TASKS and under its notebook in NOTEBOOKS, and return it.

    A task's name is its function's name, so it is unique: a name already taken raises ValueError unless
    `replace` is True, and then the new task takes the old one's place (its notebook's list included).
    """
    task = Task(**fields)
    old = TASKS.get(task.name)
    if old is not None and not replace:
        raise ValueError(f"add_task: there is already a task called {task.name!r} (in notebook {old.notebook}); "
                         f"to change it, pass replace=True")
    if old is None and replace:
        raise ValueError(f"add_task(replace=True): there is no task called {task.name!r} to replace; the tasks "
                         f"are: {', '.join(TASKS)}")
    if old is not None and old.notebook != task.notebook:
        NOTEBOOKS[old.notebook].remove(task.name)
        if not NOTEBOOKS[old.notebook]:
            del NOTEBOOKS[old.notebook]
    TASKS[task.name] = task  # a replaced task keeps its place in course order
    if task.name not in NOTEBOOKS.setdefault(task.notebook, []):
        NOTEBOOKS[task.notebook].append(task.name)
    return task


class TasksFileError(Exception):
    """A course's tasks file that cannot be loaded; the message names the file, the line and what was wrong."""


def load_tasks(path: str | Path) -> list[str]:
    """Run a course's tasks file (a Python file that calls add_task), once however often it is named.

    Returns the names of the tasks it added or replaced. Raises TasksFileError, naming the file, when it is
    missing or is not a .py file, or when running it raises (with the line of the file where it did); then
    none of its tasks is kept.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise TasksFileError(f"{path}: no such file (a tasks file is a Python file that calls add_task)")
    if path.suffix != ".py":
        raise TasksFileError(f"{path}: not a .py file (a tasks file is a Python file that calls add_task)")
    path = path.resolve()
    if path in _LOADED:
        return []
    before, notebooks = dict(TASKS), {stem: list(names) for stem, names in NOTEBOOKS.items()}
    name = f"minivit_course_tasks_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"  # one module per file
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # as an import would: dataclasses and pickle look the module up
    try:
        spec.loader.exec_module(module)
    except BaseException as error:  # whatever the file raised, said in one line; its tasks are taken back
        del sys.modules[name]
        TASKS.clear()
        TASKS.update(before)
        NOTEBOOKS.clear()
        NOTEBOOKS.update(notebooks)
        if isinstance(error, SyntaxError):
            raise TasksFileError(f"{error.filename or path}, line {error.lineno}: SyntaxError: {error.msg}") from None
        if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: not the file's mistake to report
            raise
        lines = [f.lineno for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
        where = f", line {lines[-1]}" if lines else ""
        raise TasksFileError(f"{path}{where}: {type(error).__name__}: {error}") from None
    _LOADED.add(path)
    changed = [n for n, task in TASKS.items() if before.get(n) is not task]
    DEFINED_IN.update(dict.fromkeys(changed, str(path)))
    return changed


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
