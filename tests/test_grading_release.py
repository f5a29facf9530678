"""solutions/ carries nbgrader's metadata; exercises/ is generated from it and must be up to date."""

from __future__ import annotations

import copy
import re
import shutil
import tomllib

import nbformat
import pytest

from minivit.grading import NOTEBOOKS, TASKS
from minivit.instructor.__main__ import main
from minivit.instructor.release import BEGIN, END, missing_metadata, out_of_date, release, strip_solution, with_metadata
from grading_helpers import EXERCISES, ROOT, SOLUTIONS, solution_cell, solution_notebook


def test_exercises_are_up_to_date_with_the_solutions():
    stale = out_of_date(SOLUTIONS, EXERCISES)
    assert not stale, f"exercises/ is out of date ({stale}): run `make exercises`"


@pytest.mark.parametrize("stem", list(NOTEBOOKS))
def test_solution_cells_carry_nbgraders_metadata(stem):
    nb = nbformat.read(SOLUTIONS / f"{stem}.ipynb", as_version=4)
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if "nbgrader" in c.metadata]
    assert len(grade_ids) == len(set(grade_ids)), "nbgrader needs unique grade_ids"
    for name in NOTEBOOKS[stem]:
        cell = solution_cell(nb, name)
        assert cell.metadata["nbgrader"] == {"grade": False, "grade_id": name, "locked": False,
                                             "schema_version": 3, "solution": True, "task": False}
        assert cell.source.startswith(f"def {name}(")
        body = cell.source.split(f"    {BEGIN}\n")[1]
        assert body.endswith(f"    {END}") and BEGIN not in body
        (test,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"check_{name}"]
        assert test.metadata["nbgrader"] == {"grade": True, "grade_id": f"check_{name}", "locked": True,
                                             "points": TASKS[name].points, "schema_version": 3,
                                             "solution": False, "task": False}
        assert test.source == f'check("{name}")'
    tasks_in_order = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert tasks_in_order == NOTEBOOKS[stem]


@pytest.mark.parametrize("stem", list(NOTEBOOKS))
def test_exercises_keep_everything_but_the_solutions_and_the_outputs(stem):
    solution = nbformat.read(SOLUTIONS / f"{stem}.ipynb", as_version=4)
    exercise = nbformat.read(EXERCISES / f"{stem}.ipynb", as_version=4)
    assert len(solution.cells) == len(exercise.cells)
    for ours, theirs in zip(solution.cells, exercise.cells):
        assert ours.metadata == theirs.metadata and ours.cell_type == theirs.cell_type
        if theirs.cell_type == "code":
            assert theirs.outputs == [] and theirs.execution_count is None
        if theirs.metadata.get("nbgrader", {}).get("solution"):
            head = ours.source.split(BEGIN)[0]
            assert theirs.source == head + "# YOUR CODE HERE\n    raise NotImplementedError()"
        else:
            assert theirs.source == ours.source
    assert "SOLUTION" not in (EXERCISES / f"{stem}.ipynb").read_text()


def test_strip_solution_keeps_the_indent_and_refuses_unbalanced_markers():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\nprint(1)"
    assert strip_solution(source) == "def f(x):\n    '''doc'''\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\nprint(1)"
    with pytest.raises(ValueError, match="without"):
        strip_solution("    ### BEGIN SOLUTION\n    return x")


def test_release_writes_the_exercises_and_check_finds_stale_ones(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(SOLUTIONS, solutions)
    assert main(["release", "--solutions", str(solutions), "--exercises", str(exercises)]) == 0
    for path in EXERCISES.glob("0*.ipynb"):
        assert (exercises / path.name).read_text() == path.read_text()
    assert main(["release", "--check", "--solutions", str(solutions), "--exercises", str(exercises)]) == 0

    nb = nbformat.read(solutions / "04_window_shift_mask.ipynb", as_version=4)
    nb.cells[0].source += "\n\nOne more sentence."
    nbformat.write(nb, solutions / "04_window_shift_mask.ipynb")
    (exercises / "99_extra.ipynb").write_text((exercises / "01_conv_vs_attention.ipynb").read_text())
    assert out_of_date(solutions, exercises) == ["04_window_shift_mask.ipynb", "99_extra.ipynb"]
    capsys.readouterr()
    assert main(["release", "--check", "--solutions", str(solutions), "--exercises", str(exercises)]) == 1
    assert "run `make exercises`" in capsys.readouterr().out
    release(solutions, exercises)
    assert out_of_date(solutions, exercises) == []


def test_release_refuses_points_that_differ_from_the_graders(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nb = solution_notebook("04_window_shift_mask")
    check = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "check_window_partition")
    check.metadata["nbgrader"]["points"] = TASKS["window_partition"].points + 1
    nbformat.write(nb, solutions / "04_window_shift_mask.ipynb")
    assert main(["release", "--solutions", str(solutions), "--exercises", str(exercises)]) == 1
    err = capsys.readouterr().err
    points = TASKS["window_partition"].points
    assert (f"04_window_shift_mask.ipynb, window_partition: {points + 1} points in the notebook's check cell, "
            f"{points} in minivit/grading/tasks") in err
    assert not exercises.exists()  # nothing written


def test_the_commands_are_wired_into_the_project():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["minivit-grade"] == "minivit.instructor.__main__:main"
    assert project["project"]["scripts"]["minivit-release"] == "minivit.instructor.__main__:release_main"
    pytest_options = project["tool"]["pytest"]["ini_options"]
    assert "solutions" in pytest_options["testpaths"] and "exercises" not in pytest_options["testpaths"]
    assert "--nbval" in pytest_options["addopts"].split()
    assert re.search(r"^exercises:.*\n\t.*-m minivit\.instructor release", (ROOT / "Makefile").read_text(), re.MULTILINE)


def test_metadata_written_from_the_tasks_is_the_metadata_written_by_hand():
    """Every solution notebook with its nbgrader metadata taken away: release writes it back as it was."""
    for path in sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb")):
        by_hand = nbformat.read(path, as_version=4)
        bare = copy.deepcopy(by_hand)
        for cell in bare.cells:
            cell.metadata.pop("nbgrader", None)
        assert missing_metadata(by_hand) == {}, path.name
        written = with_metadata(bare)
        assert [c.metadata.get("nbgrader") for c in written.cells] == \
               [c.metadata.get("nbgrader") for c in by_hand.cells], path.name


def test_release_writes_missing_metadata_into_the_solution_and_check_names_it(tmp_path):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nb = nbformat.read(SOLUTIONS / "04_window_shift_mask.ipynb", as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    nbformat.write(nb, solutions / "04_window_shift_mask.ipynb")
    release(solutions, exercises)  # exercises/ made, so only the solution's metadata is left to report
    nbformat.write(nb, solutions / "04_window_shift_mask.ipynb")
    assert out_of_date(solutions, exercises) == ["solutions/04_window_shift_mask.ipynb"]
    assert solutions / "04_window_shift_mask.ipynb" in release(solutions, exercises)
    assert out_of_date(solutions, exercises) == []
    written = nbformat.read(solutions / "04_window_shift_mask.ipynb", as_version=4)
    assert written.cells[4].metadata["nbgrader"]["points"] == 2  # check_window_partition, as in the task
