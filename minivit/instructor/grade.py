"""Grade submissions: find their notebooks, run each in a child kernel on hidden cases, judge what
came back against minivit's reference computed here, in the grader's own process, and collect one
row per task.

A submission is a notebook, or a folder (one per student) holding notebooks. Submissions are only
read, as an untrusted archive: only regular files, never through a link, at most NOTEBOOK_MB each
(read_notebook); anything else is reported, not read. One notebook per assignment per student is
graded (choose); each runs from a copy in a temporary folder.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import secrets
import stat
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Callable

import nbformat
import torch

from minivit.grading.compare import allowed_helpers, case_problem, case_report, describe_case, not_implemented
from minivit.grading.tasks import NOTEBOOKS, TASKS, Case, Draw, Task
from minivit.grading.tracing import borrowed
from minivit.instructor.runner import SOCKETS, Limits, execute, is_memory_error

MESSAGE_CHARS = 2000  # the longest message of a row in grades.csv: text from a kernel is cut there
DETAIL_CHARS = 1000  # the longest line of the feedback's details and notes
MAX_DETAILS = 60  # lines of details per task, notes per notebook
NOTEBOOK_MB = 20  # the largest notebook file that is read; a larger one is reported, not read
MAX_DEPTH = 8  # folders inside a student's folder that are looked into
MAX_ENTRIES = 10_000  # files and folders of one submission that are looked at
FOLDER = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)  # how a folder is opened
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # added for every folder and file below the one the instructor named


class Refused(Exception):
    """A file of the class that is not read, and why: its status in grades.csv and a message."""

    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Found:
    """One notebook file of a submission: where it is, its bytes once read, and what becomes of it."""

    base: Path  # the folder it is read from, as the instructor named it (the class folder)
    relative: PurePath  # its path below `base`, read without following a link at any step
    shown: str  # its path inside the submission, as grades and feedback name it
    data: bytes | None = None
    grade_ids: list[str] = field(default_factory=list)
    status: str = ""  # "" when it is graded; else "not a regular file", "too large" or "duplicate"
    message: str = ""
    tasks: list[str] = field(default_factory=list)  # the tasks it is graded for, or scored 0 for

    @property
    def path(self) -> Path:
        return self.base / self.relative


@dataclass
class Submission:
    name: str  # the student's name (their folder's), or a loose notebook's stem
    root: Path  # the folder (or the notebook) as given
    notebooks: list[Path]  # the notebooks graded, each in a kernel of its own
    files: list[Found] = field(default_factory=list)  # every notebook file found, graded or not
    student: bool = True  # a student's: each assignment not handed in is "not submitted"; else a loose notebook

    def found(self, path: Path) -> Found | None:
        return next((f for f in self.files if f.path == path), None)


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
    ran: bool = True  # False for a file not run: not submitted, not a regular file, too large, a duplicate


@dataclass(frozen=True)
class Hidden:
    """A task's hidden cases and their expected outputs, computed once per grading run."""

    cases: list[Case]
    expected: list[Any]


_KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a FIFO (a named pipe)", stat.S_IFCHR: "a device",
          stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a folder"}


def _not_regular(shown: str, mode: int) -> Refused:
    kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
    return Refused("not a regular file", f"{shown} is {kind}; only regular files are graded, and none is read "
                   "through a link")


def read_notebook(base: Path, relative: PurePath, shown: str, limit: int = NOTEBOOK_MB * 2**20) -> bytes:
    """The bytes of base/relative, read as from an untrusted archive: each step below `base` opened relative to
    the one before without following a link (O_NOFOLLOW), so never outside `base`; only a regular file, looked
    at (lstat) before it is opened and checked again once open, so that a FIFO or a device is never read; at
    most `limit` bytes. Raises Refused."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    fds = [os.open(base, FOLDER | getattr(os, "O_CLOEXEC", 0))]
    try:
        for part in relative.parts[:-1]:
            info = os.stat(part, dir_fd=fds[-1], follow_symlinks=False)
            if not stat.S_ISDIR(info.st_mode):
                raise _not_regular(f"{shown} (its folder {part})", info.st_mode)
            fds.append(os.open(part, FOLDER | NOFOLLOW | getattr(os, "O_CLOEXEC", 0), dir_fd=fds[-1]))
        name = relative.parts[-1]
        info = os.stat(name, dir_fd=fds[-1], follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(shown, info.st_mode)
        if info.st_size > limit:
            raise Refused("too large", f"{shown} is larger than {limit // 2**20} MB")
        try:
            fds.append(os.open(name, flags | NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0),
                               dir_fd=fds[-1]))
        except OSError as error:  # replaced meanwhile by a link (ELOOP), or unreadable
            raise Refused("not a regular file", f"{shown} could not be opened: {error.strerror}") from None
        opened = os.fstat(fds[-1])
        if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (info.st_dev, info.st_ino):
            raise _not_regular(shown, opened.st_mode)
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fds[-1], min(2**20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise Refused("too large", f"{shown} is larger than {limit // 2**20} MB")
        return b"".join(chunks)
    finally:
        for fd in fds:
            os.close(fd)


def _walk(dir_fd: int, relative: PurePath, depth: int, out: list[PurePath], budget: list[int]) -> None:
    """The paths below an open folder whose names end in .ipynb (files or not), not following links."""
    try:
        names = sorted(os.listdir(dir_fd))
    except OSError:  # unreadable: nothing found in it
        return
    for name in names:
        budget[0] -= 1
        if name.startswith(".") or budget[0] < 0:
            continue
        try:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            if depth < MAX_DEPTH:
                try:
                    sub = os.open(name, FOLDER | NOFOLLOW, dir_fd=dir_fd)
                except OSError:
                    continue
                try:
                    _walk(sub, relative / name, depth + 1, out, budget)
                finally:
                    os.close(sub)
        elif name.endswith(".ipynb"):
            out.append(relative / name)


def assignments_of(name: str, grade_ids: list[str]) -> list[str]:
    """The course notebooks (stems of NOTEBOOKS) that a notebook file hands in: the one whose number its file
    name starts with (NN_), else each whose tasks its cells' nbgrader grade_ids name."""
    number = re.match(r"(\d\d)_", name)
    stems = [stem for stem in NOTEBOOKS if number and stem.startswith(number.group(0))]
    return stems or [stem for stem, tasks in NOTEBOOKS.items() if set(grade_ids) & set(tasks)]


def _preferred(found: Found) -> tuple:
    """Which copy of an assignment is graded: a readable one first, then one named exactly as the exercise,
    then the nearest to the student's folder, then the first by name."""
    name = found.relative.name
    return (bool(found.status), not any(name == f"{stem}.ipynb" for stem in NOTEBOOKS), len(found.relative.parts),
            str(found.relative))


def choose(files: list[Found], assignments: list[str] | None = None) -> list[Found]:
    """One notebook per assignment per student: give each file the tasks it is graded (or scored 0) for, and
    mark as "duplicate" a readable file whose assignments an earlier copy hands in already. The one place
    where a student's copies are told apart, so that a student's cost and total count each assignment once.
    With `assignments` (stems of NOTEBOOKS), a file that hands in none of them is left out; the files kept."""
    claimed: dict[str, str] = {}
    kept = []
    for found in sorted(files, key=_preferred):
        every = assignments_of(found.relative.name, found.grade_ids)
        stems = [stem for stem in every if assignments is None or stem in assignments]
        if assignments is not None and not stems:
            continue  # another assignment's notebook, or none of the course's
        kept.append(found)
        new = [stem for stem in stems if stem not in claimed]
        if stems and not new:
            if not found.status:
                found.status, found.message = "duplicate", (
                    f"another copy of {', '.join(stems)}: {claimed[stems[0]]} is graded, not {found.shown}")
            continue
        claimed.update((stem, found.shown) for stem in new)
        found.tasks = [task for stem in new for task in NOTEBOOKS[stem]]
    kept_ids = {id(found) for found in kept}
    return [found for found in files if id(found) in kept_ids]


def not_submitted(files: list[Found], root: Path, assignments: list[str]) -> list[Found]:
    """A file that is not there for each assignment that none of `files` hands in: 0 points for each of its
    tasks, counted in the student's total."""
    handed_in = {TASKS[task].notebook for found in files for task in found.tasks}
    return [Found(root, PurePath(f"{stem}.ipynb"), f"{stem}.ipynb", status="not submitted",
                  message=f"{stem}.ipynb was not handed in", tasks=list(NOTEBOOKS[stem]))
            for stem in assignments if stem not in handed_in]


def _read_found(found: Found) -> None:
    try:
        found.data = read_notebook(found.base, found.relative, found.shown)
    except Refused as refused:
        found.status, found.message = refused.status, refused.message
        return
    except OSError as error:
        found.status, found.message = "not a regular file", f"{found.shown} could not be read: {error.strerror}"
        return
    try:
        found.grade_ids = _read(found.data)[1]
    except Exception:
        pass  # graded for its name's assignment; the grading says it cannot be read


def _submission(name: str, root: Path, files: list[Found], student: bool,
                assignments: list[str] | None) -> Submission:
    for found in files:
        _read_found(found)
    files = choose(files, assignments)
    if student:
        files += not_submitted(files, root, list(assignments or NOTEBOOKS))
    return Submission(name, root, [f.path for f in files if not f.status], files, student)


def _is_assignment(name: str) -> bool:
    """Whether a file name is that of a course notebook: NN_....ipynb."""
    return bool(re.match(r"\d\d_.*\.ipynb$", name))


def _notebooks_below(folder: Path, name: str, fd: int) -> list[Found]:
    """Every notebook file below the folder `name` of the open folder `fd` (that is, folder/name)."""
    relatives: list[PurePath] = []
    try:
        sub = os.open(name, FOLDER | NOFOLLOW, dir_fd=fd)
    except OSError:
        return []
    try:
        _walk(sub, PurePath(name), 1, relatives, [MAX_ENTRIES])
    finally:
        os.close(sub)
    return [Found(folder, r, str(r.relative_to(name))) for r in relatives]


def _is_student_folder(path: Path) -> bool:
    """A folder given on the command line is one student's when it holds a course notebook (NN_....ipynb)
    directly; otherwise it is a class folder, one subfolder per student."""
    try:
        return any(_is_assignment(name) for name in os.listdir(path))
    except OSError:
        return False


def find_submissions(paths: list[Path], assignments: list[str] | None = None) -> list[Submission]:
    """The students and loose notebooks of `paths`: a class folder (one subfolder per student, and loose
    notebooks), a student's folder (it holds a course notebook directly), or notebook files (a course
    notebook, NN_....ipynb, is its folder's student's; another file is a loose notebook named by its stem).
    A student named twice (two paths, a glob of their notebooks) is one submission. Every file is read as
    from an untrusted archive (see read_notebook): a link, a FIFO, a device or a huge file is reported and
    not read, and a second copy of an assignment is reported and not graded. With `assignments` (stems of
    NOTEBOOKS), only those are graded; each student gets a "not submitted" row per task of the others."""
    parts: dict[str, tuple[Path, list[Found], bool]] = {}  # name -> (root, files, a student's)

    def add(name: str, root: Path, files: list[Found], student: bool) -> None:
        before = parts.get(name)
        parts[name] = (before[0], before[1] + files, before[2] or student) if before else (root, files, student)

    for path in map(Path, paths):
        if path.is_file():  # named by the instructor: read where it lies
            real = path.resolve()
            student = _is_assignment(path.name) and path.parent.name not in ("", ".")
            add(path.parent.name if student else path.stem, path.parent if student else path,
                [Found(real.parent, PurePath(real.name), path.name)], student)
        elif path.is_dir() and _is_student_folder(path):
            real = path.resolve()  # "." or "ann/..": the folder's own name, and the folder it lies in
            fd = os.open(real.parent, FOLDER)
            try:
                add(real.name, path, _notebooks_below(real.parent, real.name, fd), True)
            finally:
                os.close(fd)
        elif path.is_dir():
            fd = os.open(path, FOLDER)
            try:
                for name in sorted(os.listdir(fd)):
                    if name.startswith("."):
                        continue
                    try:
                        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(info.st_mode):
                        add(name, path / name, _notebooks_below(path, name, fd), True)
                    elif name.endswith(".ipynb") or stat.S_ISLNK(info.st_mode):  # a link: maybe to a folder
                        add(name.removesuffix(".ipynb"), path / name, [Found(path, PurePath(name), name)], False)
            finally:
                os.close(fd)
        else:
            raise FileNotFoundError(f"no notebook or folder at {path}")
    return [_submission(name, root, files, student, assignments) for name, (root, files, student) in parts.items()]


@contextmanager
def _compile_cache_removed() -> Iterator[None]:
    """torch.compile's cache folder in a temporary folder, removed on leaving: an optimizer's first step (the
    references of notebook 08's tasks take some) makes that folder, by default TMPDIR/torchinductor_<user>,
    which would outlive the grading run."""
    previous = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    with tempfile.TemporaryDirectory(prefix="minivit-grade-cache-") as cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache
        try:
            yield
        finally:
            if previous is None:
                del os.environ["TORCHINDUCTOR_CACHE_DIR"]
            else:
                os.environ["TORCHINDUCTOR_CACHE_DIR"] = previous


def hidden_cases(seed: int, names: list[str] | None = None) -> dict[str, Hidden]:
    """Hidden cases of each task, from `seed`, with minivit's expected outputs."""
    hidden = {}
    with _compile_cache_removed():
        for name in names or list(TASKS):
            task = TASKS[name]
            task_seed = int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:6], "big")
            cases = task.hidden(Draw(task_seed))
            with torch.no_grad():
                hidden[name] = Hidden(cases, [task.reference(*case.args) for case in cases])
    return hidden


def tasks_in(path: Path, grade_ids: list[str]) -> list[Task]:
    """The tasks of a notebook on its own: those of the course notebooks it hands in (see assignments_of)."""
    names = {task for stem in assignments_of(path.name, grade_ids) for task in NOTEBOOKS[stem]}
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


def _functions(cells: list[str]) -> dict[str, list[str]]:
    """The functions that the notebook's cells define at their top level: name -> parameter names."""
    found = {}
    for source in cells:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):  # a cell with a mistake, or IPython's own syntax
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[node.name] = [a.arg for a in node.args.posonlyargs + node.args.args]
    return found


def renamed(task: Task, cells: list[str]) -> str:
    """For a task whose function is missing: the notebook's functions of another name that take as many
    arguments, e.g. "found `partition_windows(x, window_size)`: rename it to `window_partition`"."""
    candidates = [f"`{name}({', '.join(params)})`" for name, params in _functions(cells).items()
                  if name not in TASKS and len(params) == len(task.params)]
    if not candidates:
        return ""
    return f"found {_words(candidates)}: rename it to `{task.name}`" if len(candidates) == 1 else \
        f"found {_words(candidates)}: rename the one that does this task to `{task.name}`"


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


def _cap(text: str, limit: int = MESSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 30] + f"... ({len(text) - limit + 30} more characters)"


def grade_notebook(submission: Submission, path: Path, hidden: dict[str, Hidden], limits: Limits,
                   sandbox: str = "bwrap") -> NotebookResult:
    """Run one notebook of a submission and judge each of its tasks; never raises."""
    start = time.monotonic()
    found = submission.found(path) or Found(path.parent, PurePath(path.name), path.name)
    if found.data is None and not found.status:  # not read by find_submissions: read it now, with the same care
        _read_found(found)
        found.tasks = found.tasks or [t.name for t in tasks_in(path, found.grade_ids)]
    tasks = [TASKS[name] for name in found.tasks]
    if found.status:  # not read, or a copy: no kernel, and no points
        return passed_over(submission, found)
    try:
        rows, notes, cpu = _grade(submission.name, path, found.data, tasks, hidden, limits, sandbox)
    except Exception as error:  # the grader's own trouble (e.g. no kernel could start): say so, go on
        message = f"grader error: {type(error).__name__}: {str(error)[:300]}"
        rows = [Row(submission.name, t.name, 0, t.points, "error", message) for t in tasks]
        notes, cpu = [message], 0.0
    finally:
        found.data = None  # read once, graded once
    for row in rows:  # whatever came from the kernel, a few KB at most
        row.message = _cap(row.message)
        row.details = [_cap(line, DETAIL_CHARS) for line in row.details[:MAX_DETAILS]]
    notes = [_cap(note, DETAIL_CHARS) for note in notes[:MAX_DETAILS]]
    return NotebookResult(submission.name, found.shown, rows, notes, time.monotonic() - start, cpu)


def passed_over(submission: Submission, found: Found) -> NotebookResult:
    """The result of a file that is not graded: 0 points for each task it stood for (none for a copy of a
    notebook graded already, which gets one row of 0 of 0 points), with its status and message."""
    rows = [Row(submission.name, task, 0, TASKS[task].points, found.status, found.message) for task in found.tasks]
    rows = rows or [Row(submission.name, "", 0, 0, found.status, found.message)]
    return NotebookResult(submission.name, found.shown, rows, [], 0.0, 0.0, ran=False)


def _grade(name: str, path: Path, data: bytes, tasks: list[Task], hidden: dict[str, Hidden], limits: Limits,
           sandbox: str) -> tuple[list[Row], list[str], float]:
    try:
        cells, _ = _read(data)
    except Exception as error:
        why = f"the notebook could not be read: {type(error).__name__}: {str(error)[:200]}"
        return [Row(name, t.name, 0, t.points, "error", why) for t in tasks], [why], 0.0
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
            if rows[-1].status == "missing" and renamed(task, cells):
                rows[-1].message += f"; {renamed(task, cells)}"
        except Exception as error:  # values the comparison cannot handle
            rows.append(Row(name, task.name, 0, task.points, "invalid output",
                            f"the results could not be compared: {type(error).__name__}: {str(error)[:200]}"))
    notes = [f"code cell {number} (`{_first_line(cells[number - 1])}`) {note}"
             for number, note in sorted(run.cell_notes.items())]
    return rows, notes, run.cpu


def _not_submitted(result: NotebookResult) -> bool:
    return bool(result.rows) and all(row.status == "not submitted" for row in result.rows)


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
    assignments: list[str] | None = None,
) -> tuple[list[Submission], list[NotebookResult], int]:
    """Grade every notebook of every submission, `jobs` kernels at a time, each in `sandbox` ("bwrap" or "none");
    with `assignments` (stems of NOTEBOOKS), only those.

    Returns the submissions, one result per notebook (in submission order) and the seed of the hidden cases.
    """
    limits = limits or Limits()
    seed = secrets.randbelow(2**31) if seed is None else seed
    submissions = find_submissions(paths, assignments)
    hidden = hidden_cases(seed)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = []  # in submission order, each file as found: graded ones in a kernel, the others at once
        for submission in submissions:
            for found in submission.files:
                if found.status:
                    futures.append(passed_over(submission, found))
                else:
                    futures.append(pool.submit(grade_notebook, submission, found.path, hidden, limits, sandbox))
        results = []
        for future in futures:
            results.append(future if isinstance(future, NotebookResult) else future.result())
            if progress and not _not_submitted(results[-1]):
                progress(results[-1])
    return submissions, results, seed


def summary(submissions: list[Submission], results: list[NotebookResult]) -> str:
    """How many notebooks of the class were run, and how many were not, by reason: "Graded 10 submissions:
    6 notebooks run; not run: 38 not submitted, 6 not a regular file, 3 duplicate, 1 too large"."""
    not_run = Counter(result.rows[0].status for result in results if not result.ran)
    line = f"Graded {len(submissions)} submissions: {sum(result.ran for result in results)} notebooks run"
    return line + ("; not run: " + ", ".join(f"{n} {status}" for status, n in not_run.most_common()) if not_run else "")
