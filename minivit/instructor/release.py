"""Exercises from solutions: every solution region becomes a stub, the way nbgrader does it.

In a solution cell (nbgrader metadata `solution: true`) the code between `### BEGIN SOLUTION` and
`### END SOLUTION` is replaced by `# YOUR CODE HERE` and `raise NotImplementedError()`, indented like
the markers. Everything else is kept, outputs are cleared: solutions/ is the single source.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]


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
        solution = nbformat.read(path, as_version=4)
        disagree += [f"{path.name}, {line}" for line in points_disagreements(solution)]
        wanted[path.name] = render(exercise(solution))
    if disagree:
        raise ValueError("the points of a task differ between its solution notebook and the grader:\n  "
                         + "\n  ".join(disagree) + "\nchange both to the same number")
    return wanted


def out_of_date(solutions: Path, exercises: Path) -> list[str]:
    """Names of the exercise notebooks that differ from what the solutions make (or are missing/extra)."""
    wanted = expected_exercises(solutions)
    present = {p.name for p in Path(exercises).glob("[0-9][0-9]_*.ipynb")}
    stale = [name for name, text in wanted.items() if not (Path(exercises) / name).is_file()
             or (Path(exercises) / name).read_text(encoding="utf-8") != text]
    return sorted(stale + [name for name in present - wanted.keys()])


def release(solutions: Path, exercises: Path) -> list[Path]:
    """Write exercises/NN_*.ipynb from solutions/NN_*.ipynb, remove exercises that no solution makes;
    return the files written."""
    exercises = Path(exercises)
    exercises.mkdir(parents=True, exist_ok=True)
    wanted = expected_exercises(solutions)
    for path in exercises.glob("[0-9][0-9]_*.ipynb"):
        if path.name not in wanted:
            path.unlink()
    written = []
    for name, text in wanted.items():
        path = exercises / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
