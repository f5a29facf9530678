"""The wrong implementations of the tests: each task's own (its pitfalls), and the learners' whole functions of
tests/grading_helpers.py, one per task, which need no text of the solutions: built from the exercise
notebooks, each is still a mistake."""

from __future__ import annotations

import ast

import nbformat
import pytest

from minivit.grading import NOTEBOOKS, TASKS
from minivit.grading.child import call
from minivit.grading.compare import case_problem
from grading_helpers import EXERCISES, MORE_WRONG, WRONG, functions_of, solution_cell, wrong_notebook

EXERCISE = {stem: nbformat.read(EXERCISES / f"{stem}.ipynb", as_version=4) for stem in NOTEBOOKS}


def test_every_task_has_a_wrong_variant():
    assert all(task.wrong_variants for task in TASKS.values())  # in process
    assert set(WRONG) == set(TASKS)  # in notebook code, for the tests that grade whole notebooks
    assert set(MORE_WRONG) <= set(TASKS)


@pytest.mark.parametrize("wrong", [WRONG, MORE_WRONG], ids=["wrong", "more_wrong"])
def test_each_wrong_variant_is_one_whole_function_with_its_tasks_parameters(wrong):
    for task, (mistake, source) in wrong.items():
        (node,) = ast.parse(source).body
        assert isinstance(node, ast.FunctionDef) and node.name == task, (task, mistake)
        assert tuple(arg.arg for arg in node.args.args) == TASKS[task].params, (task, mistake)


@pytest.mark.parametrize("stem", list(NOTEBOOKS))
@pytest.mark.parametrize("wrong", [WRONG, MORE_WRONG], ids=["wrong", "more_wrong"])
def test_wrong_notebooks_need_no_solution_text(stem, wrong):
    """Built from the exercise notebook, which holds no solution: each wrong function takes its task's cell (its
    metadata kept, every other cell as it was) and gives another output than the task's reference on one of
    its public cases at least."""
    exercise = EXERCISE[stem]
    assert not any("BEGIN SOLUTION" in cell.source for cell in exercise.cells)
    nb = wrong_notebook(stem, wrong, EXERCISES)
    assert [cell.metadata for cell in nb.cells] == [cell.metadata for cell in exercise.cells]
    functions = functions_of(nb)
    for task in NOTEBOOKS[stem]:
        if task not in wrong:
            assert solution_cell(nb, task).source == solution_cell(exercise, task).source
            continue
        assert solution_cell(nb, task).source == wrong[task][1]
        public = TASKS[task].public()
        results = call(functions[task], [case.args for case in public])
        assert all("value" in result for result in results), (task, wrong[task][0], results)  # a mistake, not a crash
        assert any(case_problem(TASKS[task], case, TASKS[task].reference(*case.args), result)
                   for case, result in zip(public, results)), (task, wrong[task][0])
