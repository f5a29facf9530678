"""A course's own tasks (issue 23): the section "Changing and adding a task" of book/instructor.md followed as
written (its tasks file, its solution and check cells without metadata, its release command, which writes the
metadata, and its grading command) on a small class through the command line; and the errors a tasks file can
give, in one line."""

from __future__ import annotations

import csv
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from minivit.grading import NOTEBOOKS, TASKS
from minivit.grading.check import feedback
from minivit.grading.tasks import TasksFileError, add_task, load_tasks
from minivit.grading.tasks.common import DEFINED_IN
from grading_helpers import ROOT, SANDBOX

SECTION = (ROOT / "book" / "instructor.md").read_text(encoding="utf-8").split("## Changing and adding a task")[1]
BLOCKS = re.findall(r"```(\w+)\n(.*?)```", SECTION, re.DOTALL)  # (language, text) of each fenced block
TASKS_FILE = next(text for lang, text in BLOCKS if lang == "python" and text.startswith("# course_tasks.py"))
STEM = re.search(r'notebook="([^"]+)"', TASKS_FILE).group(1)  # the section's notebook, e.g. 10_doubling
SOLUTION_CELL = next(text for lang, text in BLOCKS if lang == "python" and text.startswith("def double("))
COMMANDS = [shlex.split(line) for lang, text in BLOCKS if lang == "bash" for line in text.splitlines()]
CLI = [sys.executable, "-m", "minivit.instructor"]


def _notebook(solution: str) -> nbformat.NotebookNode:
    """The section's notebook: an import cell, the solution cell (with `solution` as its source) and the check
    cell, as the section says to write them: without metadata."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import torch\n\nfrom minivit.grading import check"),
                nbformat.v4.new_code_cell(solution), nbformat.v4.new_code_cell('check("double")')]
    return nb


def _run(command: list[str], cwd: Path, extra: list[str] = ()) -> subprocess.CompletedProcess:
    """One of the section's commands, `minivit-release ...` or `minivit-grade ...`, run from `cwd`."""
    program = CLI + (["release"] if command[0] == "minivit-release" else [])
    return subprocess.run(program + command[1:] + list(extra), cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TMPDIR": str(cwd)})


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("custom")
    (base / "course_tasks.py").write_text(TASKS_FILE)
    (base / "my-solutions").mkdir()
    nbformat.write(_notebook(SOLUTION_CELL), base / "my-solutions" / f"{STEM}.ipynb")
    release, grade = COMMANDS
    released = _run(release, base)
    assert released.returncode == 0, released.stderr
    solution = nbformat.read(base / "my-solutions" / f"{STEM}.ipynb", as_version=4)
    assert [cell.metadata.get("nbgrader") for cell in solution.cells] == [None, SOLUTION_META, CHECK_META]
    assert _run(release + ["--check"], base).returncode == 0  # written once; nothing left to write
    wrong = SOLUTION_CELL.replace("    return 2 * x\n", "    return x + 2\n")
    assert wrong != SOLUTION_CELL
    for student, nb in {"ann": _notebook(SOLUTION_CELL), "ben": _notebook(wrong),
                        "cat": nbformat.read(base / "my-exercises" / f"{STEM}.ipynb", as_version=4)}.items():
        (base / "submissions" / student).mkdir(parents=True)
        nbformat.write(nb, base / "submissions" / student / f"{STEM}.ipynb")
    proc = _run(grade, base, ["--seed", "5", "--sandbox", SANDBOX, "--timeout", "120"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(base / "grades" / "grades.csv", newline="") as f:
        grades = {r["submission"]: r for r in csv.DictReader(f)}
    with open(base / "grades" / "totals.csv", newline="") as f:
        totals = {r["submission"]: r for r in csv.DictReader(f)}
    return dict(grades=grades, totals=totals, base=base)


# The metadata nbgrader needs on the two cells (nbgrader's schema 3), written out by hand from its documentation:
# what minivit-release must write into the section's solution notebook.
SOLUTION_META = {"grade": False, "grade_id": "double", "locked": False, "schema_version": 3, "solution": True,
                 "task": False}
CHECK_META = {"grade": True, "grade_id": "check_double", "locked": True, "points": 1, "schema_version": 3,
              "solution": False, "task": False}


def test_the_section_has_one_task_file_two_cells_and_two_commands():
    assert "points=1" in TASKS_FILE and 'name="double"' in TASKS_FILE
    assert [c[0] for c in COMMANDS] == ["minivit-release", "minivit-grade"]
    assert all("--tasks" in c for c in COMMANDS)


def test_the_exercise_is_made_with_a_stub(graded):
    exercise = nbformat.read(graded["base"] / "my-exercises" / f"{STEM}.ipynb", as_version=4)
    assert "raise NotImplementedError()" in exercise.cells[1].source and "2 * x" not in exercise.cells[1].source


def test_the_new_task_is_graded_like_minivits_own(graded):
    got = {name: (r["task"], r["score"], r["max_score"], r["status"]) for name, r in graded["grades"].items()}
    assert got == {"ann": ("double", "1", "1", "passed"), "ben": ("double", "0", "1", "failed"),
                   "cat": ("double", "0", "1", "not implemented")}
    assert "this looks like a known mistake: 2 was added, not multiplied" in graded["grades"]["ben"]["message"]
    assert {name: (r["points"], r["max_points"], r[STEM]) for name, r in graded["totals"].items()} == {
        "ann": ("1", "1", "1"), "ben": ("0", "1", "0"), "cat": ("0", "1", "0")}


def test_the_check_cell_sees_the_task_through_minivit_tasks(tmp_path):
    (tmp_path / "course_tasks.py").write_text(TASKS_FILE)
    code = ("from minivit.grading import check\n"
            "def double(x):\n    return 2 * x\ncheck('double')\n"
            "def double(x):\n    return x + 2\ncheck('double')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MINIVIT_TASKS": str(tmp_path / "course_tasks.py")})
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    assert proc.stdout.startswith("double: all 1 cases passed.\ndouble: 0 of 1 cases passed.\n")
    assert "known mistake: 2 was added, not multiplied" in proc.stdout


def test_without_it_the_check_cell_says_there_is_no_such_task():
    ok, lines = feedback("double", lambda x: 2 * x)
    assert not ok and lines[0].startswith("There is no task called 'double'.")


# --- the errors, in this process --------------------------------------------------------------------------


@pytest.fixture
def registry():
    """TASKS, NOTEBOOKS and DEFINED_IN as they were, after the test."""
    saved = dict(TASKS), {stem: list(names) for stem, names in NOTEBOOKS.items()}, dict(DEFINED_IN)
    yield
    for registry, before in zip((TASKS, NOTEBOOKS, DEFINED_IN), saved):
        registry.clear()
        registry.update(before)


def _file(tmp_path: Path, text: str, name: str = "course_tasks.py") -> Path:
    (tmp_path / name).write_text(text)
    return tmp_path / name


def test_a_tasks_file_adds_its_tasks_and_is_read_once(tmp_path, registry):
    path = _file(tmp_path, TASKS_FILE)
    assert load_tasks(path) == ["double"]
    assert NOTEBOOKS[STEM] == ["double"] and TASKS["double"].points == 1
    assert DEFINED_IN["double"] == str(path.resolve())
    assert load_tasks(tmp_path / "." / "course_tasks.py") == []  # the same file again: nothing reused


def test_replace_changes_a_task_in_its_place(tmp_path, registry):
    order = list(TASKS)
    path = _file(tmp_path, "import dataclasses\nfrom minivit.grading.tasks import TASKS, add_task\n"
                 "fields = {f.name: getattr(TASKS['conv1x1'], f.name) for f in dataclasses.fields(TASKS['conv1x1'])}\n"
                 "add_task(**{**fields, 'points': 3}, replace=True)\n")
    assert load_tasks(path) == ["conv1x1"]
    assert TASKS["conv1x1"].points == 3 and list(TASKS) == order
    assert NOTEBOOKS["01_conv_vs_attention"].count("conv1x1") == 1


ADD_TASK_LINE = TASKS_FILE.splitlines().index("add_task(") + 1


@pytest.mark.parametrize("text, line, words", [
    ("x = (\n", 1, "SyntaxError: '(' was never closed"),
    ("import torch\nraise RuntimeError('no data here')\n", 2, "RuntimeError: no data here"),
    ("from minivit.grading.tasks import add_task\nadd_task(name='x', notebook='08_a')\n", 2,
     "TypeError: Task.__init__() missing 6 required positional arguments"),
    (TASKS_FILE.replace('name="double"', 'name="to_tokens"'), ADD_TASK_LINE,
     "ValueError: add_task: there is already a task called 'to_tokens' (in notebook 01_conv_vs_attention); "
     "to change it, pass replace=True"),
    (TASKS_FILE.replace("add_task(\n", "add_task(\n    replace=True,\n").replace('"double"', '"triple"'), ADD_TASK_LINE,
     "ValueError: add_task(replace=True): there is no task called 'triple' to replace"),
])
def test_a_broken_file_is_named_with_its_line_and_leaves_the_tasks_as_they_were(tmp_path, registry, text, line,
                                                                                words):
    before = dict(TASKS), {stem: list(names) for stem, names in NOTEBOOKS.items()}
    path = _file(tmp_path, TASKS_FILE + text)  # a first task that loads, then the mistake
    with pytest.raises(TasksFileError) as error:
        load_tasks(path)
    where = f"{path.resolve()}, line {TASKS_FILE.count(chr(10)) + line}: "
    assert str(error.value).startswith(where + words), (str(error.value), where + words)
    assert (dict(TASKS), dict(NOTEBOOKS)) == before


def test_a_reused_name_without_replace_is_refused():
    with pytest.raises(ValueError, match="there is already a task called 'to_tokens'"):
        add_task(**{"name": "to_tokens", "notebook": "01_conv_vs_attention", "points": 1, "params": ("x",),
                    "reference": abs, "public": list, "hidden": list, "hint": ""})


def test_a_missing_or_wrong_file_is_one_line_from_the_command(tmp_path):
    (tmp_path / "tasks.txt").write_text("")
    for name, words in [("nope.py", "no such file"), ("tasks.txt", "not a .py file")]:
        with pytest.raises(TasksFileError, match=words):
            load_tasks(tmp_path / name)
    proc = subprocess.run(CLI + [str(tmp_path), "--out", str(tmp_path / "out"), "--tasks", str(tmp_path / "nope.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr == f"minivit-grade: --tasks {tmp_path / 'nope.py'}: no such file (a tasks file is a Python " \
                          "file that calls add_task)\n"


def test_release_names_the_tasks_file_when_points_disagree(tmp_path, registry):
    from minivit.instructor.release import points_disagreements

    path = _file(tmp_path, TASKS_FILE.replace("points=1", "points=2"))
    load_tasks(path)
    notebook = _notebook(SOLUTION_CELL)
    notebook.cells[1].metadata["nbgrader"], notebook.cells[2].metadata["nbgrader"] = SOLUTION_META, CHECK_META
    assert points_disagreements(notebook) == [
        f"double: 1 points in the notebook's check cell, 2 in {path.resolve()} (which the grader uses)"]
