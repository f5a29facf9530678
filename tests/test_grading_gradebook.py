"""The gradebook an instructor can trust (issue 23): every student has a row for every task of every
assignment graded, a notebook not handed in included; one copy per assignment is graded; students keep their
names whatever paths are given; each notebook is graded as a fresh kernel would run it. A small class, graded
through the command line, against totals written by hand."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from minivit.grading import NOTEBOOKS
from minivit.instructor.grade import find_submissions
from grading_helpers import EXERCISES, SANDBOX, edit, solution_cell, solution_notebook, wrong_notebook

W4, R5 = "04_window_shift_mask", "05_relative_position_bias"


def _broken_imports(stem: str) -> nbformat.NotebookNode:
    """The solution with a syntax error in its import cell: in a fresh kernel, nothing of that cell exists."""
    nb = solution_notebook(stem)
    first = next(cell for cell in nb.cells if cell.cell_type == "code")
    first.source = edit(first.source, [("import torch\n", "import torch)\n")])
    return nb


def _renamed(stem: str, task: str, new: str) -> nbformat.NotebookNode:
    nb = solution_notebook(stem)
    cell = solution_cell(nb, task)
    cell.source = edit(cell.source, [(f"def {task}(", f"def {new}(")])
    return nb


# student -> {file name inside their folder: notebook}
CLASS = {
    "ann": {f"{W4}.ipynb": solution_notebook(W4), f"{R5}.ipynb": solution_notebook(R5),
            "01_conv_vs_attention.ipynb": solution_notebook("01_conv_vs_attention")},  # not graded with --notebook
    "ben": {f"{W4}.ipynb": wrong_notebook(W4), f"{R5}.ipynb": solution_notebook(R5)},
    "cat": {f"{W4}.ipynb": nbformat.read(EXERCISES / f"{W4}.ipynb", as_version=4)},  # blanks; 05 not handed in
    "dan": {f"{W4}.ipynb": _broken_imports(W4)},
    "eve": {f"{W4}.ipynb": _renamed(W4, "window_partition", "partition_windows"),
            f"{W4}-Copy1.ipynb": solution_notebook(W4)},  # the copy is not graded: the exercise's own name is
}

# Written by hand, task by task: (student, task) -> (score, status)
NOT_SUBMITTED_05 = {task: (0, "not submitted") for task in NOTEBOOKS[R5]}
EXPECTED = {
    "ann": {"window_partition": (2, "passed"), "window_reverse": (1, "passed"), "cyclic_shift": (1, "passed"),
            "shifted_window_mask": (3, "passed"), "relative_coordinates": (1, "passed"),
            "relative_position_index": (2, "passed"), "relative_position_bias": (2, "passed")},
    "ben": {"window_partition": (0, "failed"), "window_reverse": (0, "failed"), "cyclic_shift": (0, "failed"),
            "shifted_window_mask": (0, "failed"), "relative_coordinates": (1, "passed"),
            "relative_position_index": (2, "passed"), "relative_position_bias": (2, "passed")},
    "cat": {"window_partition": (0, "not implemented"), "window_reverse": (0, "not implemented"),
            "cyclic_shift": (0, "not implemented"), "shifted_window_mask": (0, "not implemented"),
            **NOT_SUBMITTED_05},
    # no `torch`: every def's annotation raises NameError, so no function of 04 exists, as in a fresh kernel
    "dan": {"window_partition": (0, "missing"), "window_reverse": (0, "missing"), "cyclic_shift": (0, "missing"),
            "shifted_window_mask": (0, "missing"), **NOT_SUBMITTED_05},
    "eve": {"window_partition": (0, "missing"), "window_reverse": (1, "passed"), "cyclic_shift": (1, "passed"),
            "shifted_window_mask": (3, "passed"), **NOT_SUBMITTED_05},
}
TOTALS = {"ann": (12, 7, 5), "ben": (5, 0, 5), "cat": (0, 0, 0), "dan": (0, 0, 0), "eve": (5, 5, 0)}  # points, 04, 05


def _write_class(folder: Path) -> None:
    for student, files in CLASS.items():
        (folder / student).mkdir(parents=True)
        for name, nb in files.items():
            nbformat.write(nb, folder / student / name)


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    base = tmp_path_factory.mktemp("gradebook")
    subs, out = base / "class", base / "out"
    _write_class(subs)
    proc = subprocess.run(
        [sys.executable, "-m", "minivit.instructor", str(subs), "--out", str(out), "--notebook", "04",
         "--notebook", R5, "--jobs", "2", "--timeout", "120", "--cell-timeout", "20", "--seed", "3",
         "--sandbox", SANDBOX],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TMPDIR": str(base)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "grades.csv", newline="") as f:
        grades = list(csv.DictReader(f))
    with open(out / "totals.csv", newline="") as f:
        totals = list(csv.DictReader(f))
    return dict(proc=proc, grades=grades, totals=totals, out=out)


def test_every_student_has_every_task_of_every_assignment_as_written_by_hand(gradebook):
    graded = {(r["submission"], r["task"]): (int(r["score"]), r["status"]) for r in gradebook["grades"] if r["task"]}
    expected = {(student, task): got for student, tasks in EXPECTED.items() for task, got in tasks.items()}
    assert graded == expected


def test_totals_count_every_assignment_once_and_need_no_pandas(gradebook):
    assert list(gradebook["totals"][0]) == ["submission", "points", "max_points", W4, R5]
    totals = {r["submission"]: (int(r["points"]), int(r[W4]), int(r[R5])) for r in gradebook["totals"]}
    assert totals == TOTALS
    assert {r["max_points"] for r in gradebook["totals"]} == {"12"}


def test_a_copy_is_listed_not_graded_and_the_notebook_column_shows_which(gradebook):
    eve = [r for r in gradebook["grades"] if r["submission"] == "eve"]
    assert {r["notebook"] for r in eve if r["task"] in NOTEBOOKS[W4]} == {f"{W4}.ipynb"}
    (copy,) = [r for r in eve if not r["task"]]
    assert (copy["notebook"], copy["status"], copy["max_score"]) == (f"{W4}-Copy1.ipynb", "duplicate", "0")
    feedback = (gradebook["out"] / "feedback" / "eve.md").read_text()
    assert f"{W4}.ipynb is graded, not {W4}-Copy1.ipynb" in feedback


def test_feedback_gives_each_failed_task_its_cases_and_hint_and_names_known_mistakes(gradebook):
    ben = (gradebook["out"] / "feedback" / "ben.md").read_text()
    assert ben.count("- Hint:") == len(NOTEBOOKS[W4])  # 04's four wrong tasks; 05 passed
    assert "this looks like a known mistake" in ben and "hidden cases passed; case" in ben
    cat = (gradebook["out"] / "feedback" / "cat.md").read_text()
    assert "While running the notebook" not in cat  # blanks raise only inside the graded calls


def test_the_broken_import_cell_is_named_with_what_became_undefined(gradebook):
    row = next(r for r in gradebook["grades"] if (r["submission"], r["task"]) == ("dan", "window_partition"))
    assert "its cell raised NameError: name 'torch' is not defined" in row["message"], row
    assert "SyntaxError" in (gradebook["out"] / "feedback" / "dan.md").read_text()


def test_students_keep_their_names_whatever_paths_are_given(tmp_path):
    _write_class(tmp_path / "class")
    c = tmp_path / "class"
    by_folders = find_submissions([c / "ann", c / "ben"])
    by_glob = find_submissions(sorted(c.glob(f"*/{W4}.ipynb")))
    by_class = find_submissions([c], [W4])
    assert [s.name for s in by_folders] == ["ann", "ben"]
    assert [s.name for s in by_glob] == ["ann", "ben", "cat", "dan", "eve"]
    assert [s.name for s in by_class] == ["ann", "ben", "cat", "dan", "eve"]
    ann = by_folders[0]
    assert sorted(f.shown for f in ann.files if not f.status) == sorted(CLASS["ann"])
    # grading one assignment across the class: the other notebooks are left out, no "not submitted" for them
    assert {f.shown for s in by_class for f in s.files} == {f"{W4}.ipynb", f"{W4}-Copy1.ipynb"}
    # a student's folder named as "." from inside it is that student's, with all their notebooks
    here = os.getcwd()
    try:
        os.chdir(c / "ann")
        (ann_here,) = find_submissions([Path(".")])
    finally:
        os.chdir(here)
    assert ann_here.name == "ann"
    assert sorted(f.shown for f in ann_here.files if not f.status) == sorted(CLASS["ann"])
    # given twice (a folder, then one of its notebooks), a student is one submission
    assert [s.name for s in find_submissions([c / "eve", c / "eve" / f"{W4}.ipynb"])] == ["eve"]
