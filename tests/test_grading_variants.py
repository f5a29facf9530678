"""The wrong implementations of the tests: each task's own (its pitfalls), and the edits of
tests/grading_helpers.py, one per task, each applying to its solution exactly once."""

from __future__ import annotations

import pytest

from minivit.grading import NOTEBOOKS, TASKS
from grading_helpers import MORE_WRONG, WRONG, solution_cell, solution_notebook, wrong_notebook


def test_every_task_has_a_wrong_variant():
    assert all(task.wrong_variants for task in TASKS.values())  # in process
    assert set(WRONG) == set(TASKS)  # in notebook code, for the tests that grade whole notebooks


@pytest.mark.parametrize("stem", list(NOTEBOOKS))
def test_each_edit_applies_exactly_once(stem):
    for wrong in (WRONG, MORE_WRONG):
        nb = wrong_notebook(stem, wrong)  # edit() asserts each replacement matches once
        for task in NOTEBOOKS[stem]:
            if task in wrong:
                assert solution_cell(nb, task).source != solution_cell(solution_notebook(stem), task).source
