"""The check cell's feedback: run a task's public cases on the learner's function and print, in plain
words, which passed and, for a failure, what was expected, what came back, and a hint.

    from minivit.grading import check
    check("window_partition")                    # the function of that name in the notebook
    check("window_partition", my_partition)      # or any function, named by its task
    check(window_partition)                      # or the function alone, named by itself
"""

from __future__ import annotations

import copy
import os
import sys
import textwrap
from typing import Any, Callable

import torch

from minivit.grading.child import call
from minivit.grading.compare import allowed_helpers, case_problem, case_report, not_implemented
from minivit.grading.tasks import TASKS
from minivit.grading.tracing import Tracer, borrowed

# Printed lines wrap at this width, between words. JupyterLab would wrap a longer line at the edge of the
# output area anywhere, in the middle of a word or a shape (its output CSS says word-break: break-all).
WIDTH = 100


def _find(task_or_fn: str | Callable, fn: Callable | None, caller_globals: dict) -> tuple[str, Any]:
    if callable(task_or_fn):
        return task_or_fn.__name__, task_or_fn
    name = task_or_fn
    if fn is None:
        fn = caller_globals.get(name)
    return name, fn


def feedback(name: str, fn: Any) -> tuple[bool, list[str]]:
    """(all cases passed, the lines to print) for the learner's `fn` on task `name`'s public cases."""
    if name not in TASKS:
        return False, [f"There is no task called {name!r}. The tasks are: {', '.join(TASKS)}."]
    task = TASKS[name]
    if fn is None:
        return False, [f"{name}: not defined yet. Run the cell that defines `def {name}(...)`, then this one."]
    if not callable(fn):
        return False, [f"{name}: is a {type(fn).__name__}, not a function. Run the cell that defines it."]

    cases = task.public()
    with torch.no_grad():
        expected = [task.reference(*case.args) for case in cases]
    tracer = Tracer()
    results = call(fn, [copy.deepcopy(case.args) for case in cases], tracer)  # the learner may change its inputs
    if not_implemented(results):
        return False, [
            f"{name}: not implemented yet. Replace `raise NotImplementedError()` in its cell with your code, "
            "run that cell, then run this one again."
        ]

    taken = borrowed(tracer.entered, task.helpers)
    if taken:
        return False, [f"{name}: it runs minivit's own {', '.join(taken)}, which the grader does not accept "
                       f"for this task: write it yourself ({allowed_helpers(task)})."]
    problems = [case_problem(task, case, want, got) for case, want, got in zip(cases, expected, results)]
    passed = sum(not p for p in problems)
    if passed == len(cases):
        return True, [f"{name}: all {len(cases)} cases passed."]
    return False, [f"{name}: {passed} of {len(cases)} cases passed."] + [
        f"  {line}" for line in case_report(task, cases, problems)]


def wrapped(lines: list[str], width: int = WIDTH) -> list[str]:
    """`lines` broken between words so that each fits in `width` characters (a single word longer than that
    stays whole); a continuation is indented 4 spaces deeper than the line it continues."""
    out = []
    for line in lines:
        text = line.lstrip(" ")
        indent = " " * (len(line) - len(text))
        out += textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent + "    ",
                             break_long_words=False, break_on_hyphens=False) or [line]
    return out


def graded_name_note(name: str, fn: Any, caller_globals: dict) -> list[str]:
    """A line to add when the function checked is not what the grader will call: the grader calls the
    notebook's function named after the task, whatever function the check cell was given."""
    called = getattr(fn, "__name__", "")
    if name not in TASKS or called == name or caller_globals.get(name) is fn:
        return []
    yours = f"`{called}`" if called.isidentifier() else "the function checked here"
    if name not in caller_globals:
        return [f"Note: the grader calls the function named `{name}` in your notebook, and there is none: "
                f"rename {yours} to `{name}`" + (f", or add the line `{name} = {called}`." if called.isidentifier()
                                                   else ".")]
    return [f"Note: the grader calls `{name}`, which in your notebook is another function than {yours}: "
            f"the grader's result can differ from this one."]


def check(task_or_fn: str | Callable, fn: Callable | None = None) -> None:
    """Run the public cases of a task on a function and print what passed, in plain words.

    Args:
        task_or_fn: the task's name (the function the notebook asks for), or the function itself.
        fn: the function to check; by default the one with the task's name in the calling notebook.

    Under nbgrader (NBGRADER_EXECUTION set), a failure also raises AssertionError, so that
    nbgrader's autograder takes the points of the test cell away.
    """
    caller_globals = sys._getframe(1).f_globals
    name, found = _find(task_or_fn, fn, caller_globals)
    ok, lines = feedback(name, found)
    if fn is not None:
        lines += graded_name_note(name, found, caller_globals)
    print("\n".join(wrapped(lines)))
    if not ok and os.environ.get("NBGRADER_EXECUTION"):
        raise AssertionError(lines[0])
