"""Autograded exercises: the tasks, the check cell's feedback, the release of exercises, the grader.

    from minivit.grading import check          # in a notebook, after writing a function
    check("window_partition")

    python -m minivit.grading release          # solutions/ -> exercises/ (or: make exercises)
    minivit-grade submissions/ --out grades/   # grade a folder of submissions (python -m minivit.grading)

The grader (runner, grade, report) is imported only by the command line, never by a notebook.
"""

from minivit.grading.check import check
from minivit.grading.tasks import NOTEBOOKS, TASKS

__all__ = ["NOTEBOOKS", "TASKS", "check"]
