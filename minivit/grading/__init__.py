"""Autograded exercises, the part that runs in the learner's notebook: the tasks and the check cell.

    from minivit.grading import check          # in a notebook, after writing a function
    check("window_partition")

    tasks      what each graded function must compute, its cases, hints and known mistakes
    check      the check cell's feedback
    compare    a result against the expected one, in plain words (the grader's feedback uses it too)
    child      calls a task's function in the kernel and records what it gave
    tracing    which minivit code the function ran ("not own code")

The instructor's grader, which runs notebooks in a sandbox and writes the gradebook, is minivit.instructor.
"""

from minivit.grading.check import check
from minivit.grading.tasks import NOTEBOOKS, TASKS

__all__ = ["NOTEBOOKS", "TASKS", "check"]
