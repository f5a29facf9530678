"""Grade submissions: find their notebooks, run each in a child kernel on hidden cases, judge what
came back against minivit's reference computed here, in the grader's own process, and collect one
row per task.

A submission is a notebook, or a folder (one per student) holding notebooks. Submissions are only
read: each notebook runs from a copy in a temporary folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import nbformat
import torch

from minivit.grading.compare import allowed_helpers, case_problem, case_report, describe_case, not_implemented
from minivit.grading.tasks import NOTEBOOKS, TASKS, Case, Draw, Task
from minivit.grading.tracing import borrowed
from minivit.instructor.runner import SOCKETS, Limits, execute, is_memory_error


@dataclass
class Submission:
    name: str  # the student folder's name, or the notebook's stem
    root: Path  # the folder (or the notebook) as given
    notebooks: list[Path]


@dataclass
class Row:
    """One task of one submission: a row of grades.csv, plus the details for the feedback file."""

    submission: str
    task: str
    score: int
    max_score: int
    # passed, failed, error, not implemented, missing, timeout, crashed, memory, invalid output, not own code
    status: str
    message: str
    details: list[str] = field(default_factory=list)


@dataclass
class NotebookResult:
    submission: str
    notebook: str  # its path inside the submission
    rows: list[Row]
    notes: list[str]  # what happened to cells while running, in plain words
    seconds: float
    cpu: float = 0.0  # seconds of CPU of its kernels and all they started, restarts included


@dataclass(frozen=True)
class Hidden:
    """A task's hidden cases and their expected outputs, computed once per grading run."""

    cases: list[Case]
    expected: list[Any]


def find_submissions(paths: list[Path]) -> list[Submission]:
    """Each notebook given, each student folder inside a given folder, and each notebook lying loose in it."""
    found = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(Submission(path.stem, path, [path]))
        elif path.is_dir():
            for entry in sorted(path.iterdir()):
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    notebooks = sorted(p for p in entry.rglob("*.ipynb")
                                       if not any(part.startswith(".") for part in p.relative_to(entry).parts))
                    found.append(Submission(entry.name, entry, notebooks))
                elif entry.suffix == ".ipynb":
                    found.append(Submission(entry.stem, entry, [entry]))
        else:
            raise FileNotFoundError(f"no notebook or folder at {path}")
    seen: dict[str, int] = {}
    for submission in found:  # two submissions with one name (a.ipynb and a/) get distinct names
        seen[submission.name] = seen.get(submission.name, 0) + 1
        if seen[submission.name] > 1:
            submission.name = f"{submission.name}-{seen[submission.name]}"
    return found


def hidden_cases(seed: int, names: list[str] | None = None) -> dict[str, Hidden]:
    """Hidden cases of each task, from `seed`, with minivit's expected outputs."""
    hidden = {}
    for name in names or list(TASKS):
        task = TASKS[name]
        task_seed = int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:6], "big")
        cases = task.hidden(Draw(task_seed))
        with torch.no_grad():
            hidden[name] = Hidden(cases, [task.reference(*case.args) for case in cases])
    return hidden


def tasks_in(path: Path, grade_ids: list[str]) -> list[Task]:
    """The tasks of a notebook: those of the course notebook with its number (NN_...), and any cell's grade_id."""
    names = set(grade_ids) & set(TASKS)
    number = re.match(r"(\d\d)_", path.name)
    for stem, task_names in NOTEBOOKS.items():
        if number and stem.startswith(number.group(0)):
            names.update(task_names)
    return [task for task in TASKS.values() if task.name in names]


def _read(data: bytes) -> tuple[list[str], list[str]]:
    """The code cells' sources and the cells' nbgrader grade_ids of a notebook file, whatever its state."""
    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    cells, grade_ids = [], []
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict):
            continue
        if cell.get("cell_type") == "code":
            cells.append(str(cell.get("source", "")))
        grading = cell.get("metadata", {}).get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
        if isinstance(grading, dict) and isinstance(grading.get("grade_id"), str):
            grade_ids.append(grading["grade_id"])
    return cells, grade_ids


def _defining_cell(name: str, cells: list[str]) -> int | None:
    for number, source in enumerate(cells, start=1):
        if re.search(rf"^\s*def\s+{re.escape(name)}\s*\(", source, re.MULTILINE):
            return number
    return None


def _status(result: dict) -> str:
    if "raised" not in result:
        return "failed"
    if is_memory_error(f"{result['raised']}: {result.get('message', '')}"):
        return "memory"  # the kernel's data limit stopped an allocation
    return "error"


def _words(items: list[str]) -> str:
    return ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")


def judge(task: Task, hidden: Hidden, outcome: dict, submission: str, cell_note: str = "") -> Row:
    """Score one task from the child's record, comparing in this process with the expected outputs."""
    def row(score: int, status: str, message: str, details: list[str] | None = None) -> Row:
        return Row(submission, task.name, score, task.points, status, message, details or [])

    if "missing" in outcome:
        why = f"; its cell {cell_note}" if cell_note else ""
        return row(0, "missing", f"{task.name} {outcome['missing']} in the notebook{why}")
    if outcome["refused"]:
        return row(0, "not own code", f"{task.name} tried {_words(outcome['refused'])} while the grader called it, "
                   "which would hide whose code runs")
    taken = borrowed(outcome["entered"], task.helpers)
    if taken:
        return row(0, "not own code", f"{task.name} runs minivit's own {_words(taken)}; write it in the notebook "
                   f"({allowed_helpers(task)})")
    results = outcome["results"]
    if not_implemented(results):
        return row(0, "not implemented", f"{task.name} is not implemented (it raises NotImplementedError)")
    problems = [case_problem(task, case, want, got) for case, want, got in zip(hidden.cases, hidden.expected, results)]
    passed, total = sum(not p for p in problems), len(problems)
    if passed == total:
        return row(task.points, "passed", f"all {total} hidden cases passed")
    first = next(i for i, p in enumerate(problems) if p)
    status = _status(results[first])
    message = (f"{passed} of {total} hidden cases passed; case {first + 1} "
               f"({describe_case(task, hidden.cases[first])}): " + "; ".join(line.strip() for line in problems[first]))
    return row(0, status, message, case_report(task, hidden.cases, problems))


def grade_notebook(submission: Submission, path: Path, hidden: dict[str, Hidden], limits: Limits,
                   sandbox: str = "bwrap") -> NotebookResult:
    """Run one notebook of a submission and judge each of its tasks; never raises."""
    start = time.monotonic()
    shown = str(path.relative_to(submission.root)) if path != submission.root else path.name
    try:
        rows, notes, cpu = _grade(submission.name, path, hidden, limits, sandbox)
    except Exception as error:  # the grader's own trouble (e.g. no kernel could start): say so, go on
        message = f"grader error: {type(error).__name__}: {str(error)[:300]}"
        rows = [Row(submission.name, t.name, 0, t.points, "error", message) for t in tasks_in(path, [])]
        notes, cpu = [message], 0.0
    return NotebookResult(submission.name, shown, rows, notes, time.monotonic() - start, cpu)


def _grade(name: str, path: Path, hidden: dict[str, Hidden], limits: Limits,
           sandbox: str) -> tuple[list[Row], list[str], float]:
    data = path.read_bytes()  # the only access to the submission
    try:
        cells, grade_ids = _read(data)
    except Exception as error:
        why = f"the notebook could not be read: {type(error).__name__}: {str(error)[:200]}"
        return [Row(name, t.name, 0, t.points, "error", why) for t in tasks_in(path, [])], [why], 0.0
    tasks = tasks_in(path, grade_ids)
    if not tasks:
        return [], ["no task of the course was found in this notebook (is it one of the exercise notebooks?)"], 0.0

    with tempfile.TemporaryDirectory(prefix="minivit-grade-", dir=_temporary_root()) as tmp:
        workdir, iodir = Path(tmp) / "work", Path(tmp) / "io"
        workdir.mkdir()
        iodir.mkdir()
        (workdir / path.name).write_bytes(data)  # a copy, where the notebook's relative paths lead
        cases = {t.name: [c.args for c in hidden[t.name].cases] for t in tasks}
        run = execute(cells, cases, workdir, iodir, limits, sandbox)

    rows = []
    for task in tasks:
        if task.name in run.failures:
            status, message = run.failures[task.name]
            rows.append(Row(name, task.name, 0, task.points, status, message))
            continue
        note = run.cell_notes.get(_defining_cell(task.name, cells), "")
        try:
            rows.append(judge(task, hidden[task.name], run.outcomes[task.name], name, note))
        except Exception as error:  # values the comparison cannot handle
            rows.append(Row(name, task.name, 0, task.points, "invalid output",
                            f"the results could not be compared: {type(error).__name__}: {str(error)[:200]}"))
    notes = [f"code cell {number} (`{_first_line(cells[number - 1])}`) {note}"
             for number, note in sorted(run.cell_notes.items())]
    return rows, notes, run.cpu


def _temporary_root() -> str | None:
    """Where notebooks' temporary folders go: the usual place (TMPDIR), unless its path is too long for
    the kernel's sockets in them (.../minivit-grade-xxxxxxxx/io/kxxxx-N), then /tmp."""
    if len(tempfile.gettempdir()) + 34 > SOCKETS and os.path.isdir("/tmp"):
        return "/tmp"
    return None


def _first_line(source: str) -> str:
    line = next((line.strip() for line in source.splitlines() if line.strip()), "")
    return line if len(line) <= 60 else line[:57] + "..."


def grade(
    paths: list[Path],
    *,
    jobs: int = 2,
    limits: Limits | None = None,
    seed: int | None = None,
    progress: Callable[[NotebookResult], None] | None = None,
    sandbox: str = "bwrap",
) -> tuple[list[Submission], list[NotebookResult], int]:
    """Grade every notebook of every submission, `jobs` kernels at a time, each in `sandbox` ("bwrap" or "none").

    Returns the submissions, one result per notebook (in submission order) and the seed of the hidden cases.
    """
    limits = limits or Limits()
    seed = secrets.randbelow(2**31) if seed is None else seed
    submissions = find_submissions(paths)
    hidden = hidden_cases(seed)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_notebook, s, p, hidden, limits, sandbox) for s in submissions for p in s.notebooks]
        results = []
        for future in futures:
            results.append(future.result())
            if progress:
                progress(results[-1])
    return submissions, results, seed

