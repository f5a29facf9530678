"""Exercises from solutions: every solution region becomes a stub, the way nbgrader does it.

In a solution cell (nbgrader metadata `solution: true`) the code between `### BEGIN SOLUTION` and
`### END SOLUTION` is replaced by `# YOUR CODE HERE` and `raise NotImplementedError()`, indented like
the markers. Everything else is kept, outputs are cleared: solutions/ is the single source.

A solution cell or a check cell (`check("name")`) without nbgrader metadata gets it from its task (its grade
ids, its points): `release` writes it into the solution notebook, so a new task needs no metadata written by hand.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
CHECK_CELL = re.compile(r"""check\(\s*["'](\w+)["']""")  # a check cell starts with check("name"
DEFINITION = re.compile(r"^def (\w+)\(", re.MULTILINE)
SCHEMA = {"schema_version": 3, "task": False}


def strip_solution(source: str) -> str:
    """The source with each solution region replaced by the stub."""
    lines, inside = [], False
    for line in source.split("\n"):
        if line.strip() == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN!r} in:\n{source}")
            inside = True
            indent = line[: line.index(BEGIN)]
            lines += [indent + stub for stub in STUB]
        elif line.strip() == END:
            if not inside:
                raise ValueError(f"{END!r} without {BEGIN!r} in:\n{source}")
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ValueError(f"{BEGIN!r} without {END!r} in:\n{source}")
    return "\n".join(lines)


def is_solution_cell(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("solution"))


def exercise(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The exercise notebook made from a solution notebook."""
    nb = copy.deepcopy(solution)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        has_region = BEGIN in cell.source
        if has_region and not is_solution_cell(cell):
            raise ValueError(f"a solution region in a cell without nbgrader's `solution: true`:\n{cell.source}")
        if has_region:
            cell.source = strip_solution(cell.source)
        cell.outputs = []
        cell.execution_count = None
    return nb


def missing_metadata(solution: nbformat.NotebookNode) -> dict[int, dict]:
    """Cell index -> the nbgrader metadata nbgrader needs, for each cell of a solution notebook that has none
    and needs it: a solution cell (one with a solution region; its grade id the first function it defines) and
    the check cell of a task (`check("name")`; its points the task's, from the grader's tasks)."""
    from minivit.grading.tasks import TASKS

    found = {}
    for index, cell in enumerate(solution.cells):
        if cell.cell_type != "code" or "nbgrader" in cell.get("metadata", {}):
            continue
        check = CHECK_CELL.match(cell.source.strip())
        if BEGIN in cell.source:
            defined = DEFINITION.search(cell.source)
            found[index] = {"grade": False, "grade_id": defined.group(1) if defined else f"solution_{index}",
                            "locked": False, "solution": True, **SCHEMA}
        elif check and check.group(1) in TASKS:
            found[index] = {"grade": True, "grade_id": f"check_{check.group(1)}", "locked": True,
                            "points": TASKS[check.group(1)].points, "solution": False, **SCHEMA}
    return found


def with_metadata(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The solution notebook with the metadata of `missing_metadata` added (a copy)."""
    nb = copy.deepcopy(solution)
    for index, grading in missing_metadata(nb).items():
        nb.cells[index].metadata["nbgrader"] = grading
    return nb


def points_disagreements(solution: nbformat.NotebookNode) -> list[str]:
    """Each check cell of a solution notebook whose nbgrader points differ from its task's in minivit's tasks
    (the grader's), in plain words; empty when they agree."""
    from minivit.grading.tasks import TASKS
    from minivit.grading.tasks.common import DEFINED_IN

    found = []
    for cell in solution.cells:
        grading = cell.get("metadata", {}).get("nbgrader", {})
        name = str(grading.get("grade_id", "")).removeprefix("check_")
        if grading.get("grade") and name in TASKS and grading.get("points") != TASKS[name].points:
            found.append(f"{name}: {grading.get('points')} points in the notebook's check cell, "
                         f"{TASKS[name].points} in {DEFINED_IN.get(name, 'minivit/grading/tasks')} (which the grader "
                         "uses)")
    return found


def render(nb: nbformat.NotebookNode) -> str:
    """The notebook as the text written to disk (nbformat's own layout)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def expected_exercises(solutions: Path) -> dict[str, str]:
    """File name -> text of every exercise notebook that `solutions` makes. Raises ValueError when a check
    cell's points disagree with the grader's tasks: nbgrader and minivit-grade would give different totals."""
    wanted, disagree = {}, []
    for path in sorted(Path(solutions).glob("[0-9][0-9]_*.ipynb")):
        solution = with_metadata(nbformat.read(path, as_version=4))
        disagree += [f"{path.name}, {line}" for line in points_disagreements(solution)]
        wanted[path.name] = render(exercise(solution))
    if disagree:
        raise ValueError("the points of a task differ between its solution notebook and the grader:\n  "
                         + "\n  ".join(disagree) + "\nchange both to the same number")
    return wanted


def out_of_date(solutions: Path, exercises: Path) -> list[str]:
    """Names of the exercise notebooks that differ from what the solutions make (or are missing/extra), and of
    the solution notebooks that lack nbgrader metadata `release` would write (as `solutions/NN_....ipynb`)."""
    wanted = expected_exercises(solutions)
    present = {p.name for p in Path(exercises).glob("[0-9][0-9]_*.ipynb")}
    stale = [name for name, text in wanted.items() if not (Path(exercises) / name).is_file()
             or (Path(exercises) / name).read_text(encoding="utf-8") != text]
    unmarked = [f"{Path(solutions).name}/{path.name}" for path in sorted(Path(solutions).glob("[0-9][0-9]_*.ipynb"))
                if missing_metadata(nbformat.read(path, as_version=4))]
    return sorted(stale + [name for name in present - wanted.keys()]) + unmarked


def release(solutions: Path, exercises: Path) -> list[Path]:
    """Write exercises/NN_*.ipynb from solutions/NN_*.ipynb, remove exercises that no solution makes, and
    write the nbgrader metadata a solution notebook lacks into it (`missing_metadata`); return the files written."""
    exercises = Path(exercises)
    exercises.mkdir(parents=True, exist_ok=True)
    wanted = expected_exercises(solutions)
    for path in exercises.glob("[0-9][0-9]_*.ipynb"):
        if path.name not in wanted:
            path.unlink()
    written = []
    for path in sorted(Path(solutions).glob("[0-9][0-9]_*.ipynb")):
        solution = nbformat.read(path, as_version=4)
        if missing_metadata(solution):
            path.write_text(render(with_metadata(solution)), encoding="utf-8")
            written.append(path)
    for name, text in wanted.items():
        path = exercises / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
