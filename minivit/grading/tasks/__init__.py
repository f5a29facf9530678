"""The graded tasks of the exercise notebooks, one per function a learner writes.

A task knows its points, the minivit reference that computes the expected output, a few public
cases (what the check cell in the notebook runs), a generator of hidden cases with random sizes and
values (what the grader runs), a hint, the known mistakes ("pitfalls") whose output it can
recognise and name, and the minivit helpers the learner may call: calling any other minivit
function, the task's own implementation above all, makes the task "not own code" (see tracing.py).

common.py defines Case, Pitfall, Task and Draw; each nbNN_*.py module adds the tasks of one notebook,
imported here in course order, so that TASKS and NOTEBOOKS list them in that order. A course adds or changes
tasks in a file of its own that calls add_task (see book/instructor.md, "Changing and adding a task"): the
grader loads it with `minivit-grade --tasks FILE`, and every process (a learner's kernel, the grader, the
release) with the environment variable MINIVIT_TASKS (files separated by os.pathsep), read here at import.

Glossary as in the course: B batch, C channels, H x W map, M window size, s shift, p patch size,
gh x gw grid of patches or windows, N tokens, D embedding size, nh heads, hs = D / nh head size.
"""

import os
import warnings

from minivit.grading.tasks import (  # noqa: F401  (each registers its notebook's tasks)
    nb01_conv_vs_attention,
    nb02_multi_head_attention,
    nb03_patch_partition,
    nb04_window_shift_mask,
    nb05_relative_position_bias,
    nb06_swin_stages,
    nb07_mobilevit_unfold_fold,
    nb08_training,
    nb09_dense_prediction,
)
from minivit.grading.tasks.common import (
    NOTEBOOKS,
    TASKS,
    Case,
    Draw,
    Pitfall,
    Task,
    TasksFileError,
    add_task,
    load_tasks,
)

__all__ = ["NOTEBOOKS", "TASKS", "Case", "Draw", "Pitfall", "Task", "TasksFileError", "add_task", "load_tasks",
           "load_environment_tasks"]


def load_environment_tasks() -> None:
    """Load the tasks files named by MINIVIT_TASKS; a file that cannot be loaded is reported as a warning
    (the course's other tasks still work in the learner's check cells), naming the file and what was wrong."""
    for path in filter(None, os.environ.get("MINIVIT_TASKS", "").split(os.pathsep)):
        try:
            load_tasks(path)
        except TasksFileError as error:
            warnings.warn(f"MINIVIT_TASKS: {error}", stacklevel=2)


load_environment_tasks()
