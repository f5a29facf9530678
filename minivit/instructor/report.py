"""The gradebook and the feedback: DIR/grades.csv, one row per task, DIR/totals.csv, one row per submission,
and DIR/feedback/<submission>.md.

Every student has a row for every task of every assignment graded: a notebook not handed in gives its tasks
0 points with status "not submitted", counted in the total. A row with no task is a file that was not graded:
a second copy of an assignment, or a file that is not a regular file (a link, a FIFO, a device) and does not
stand for an assignment; 0 of 0 points."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from minivit.grading.tasks import NOTEBOOKS
from minivit.instructor.grade import MESSAGE_CHARS, NotebookResult, Submission
from minivit.instructor.runner import Limits

COLUMNS = ["submission", "notebook", "task", "score", "max_score", "status", "message"]


def write_gradebook(path: Path, results: list[NotebookResult]) -> None:
    """grades.csv: one row per task of every notebook, in COLUMNS; `notebook` is the file's path inside the
    submission."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for result in results:
            for row in result.rows:
                writer.writerow([row.submission, result.notebook, row.task, row.score, row.max_score, row.status,
                                 row.message[:MESSAGE_CHARS]])


def write_totals(path: Path, submissions: list[Submission], results: list[NotebookResult]) -> None:
    """totals.csv: one row per submission: its points, the maximum, and its points in each assignment (the
    course notebooks, by stem, in course order) that any row of the gradebook belongs to."""
    assignments = [stem for stem in NOTEBOOKS
                   if any(row.task in NOTEBOOKS[stem] for result in results for row in result.rows)]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "points", "max_points", *assignments])
        for submission in submissions:
            rows = [row for result in results if result.submission == submission.name for row in result.rows]
            per = [sum(r.score for r in rows if r.task in NOTEBOOKS[stem]) for stem in assignments]
            writer.writerow([submission.name, sum(r.score for r in rows), sum(r.max_score for r in rows), *per])


def feedback(submission: Submission, results: list[NotebookResult], seed: int, limits: Limits) -> str:
    """The feedback file of one submission, in markdown."""
    rows = [row for result in results for row in result.rows]
    score, best = sum(r.score for r in rows), sum(r.max_score for r in rows)
    lines = [f"# Feedback for {submission.name}", "", f"**{score} of {best} points.**", ""]
    if not results:
        lines += ["No notebook was found in this submission.", ""]
    for result in results:
        got, out_of = sum(r.score for r in result.rows), sum(r.max_score for r in result.rows)
        lines += [f"## {result.notebook}: {got} of {out_of} points", ""]
        if result.rows:
            lines += ["| task | points | status | message |", "|---|---|---|---|"]
            lines += [f"| {f'`{r.task}`' if r.task else '(none)'} | {r.score} / {r.max_score} | {r.status} | "
                      f"{_cell(r.message)} |" for r in result.rows]
            lines.append("")
        for row in result.rows:
            if row.details:
                lines += [f"### `{row.task}`: {row.status}", ""]
                lines += [f"- {d.strip()}" if not d.startswith("    ") else f"    - {d.strip()}" for d in row.details]
                lines.append("")
        if result.notes:
            lines += ["### While running the notebook", ""] + [f"- {note}" for note in result.notes] + [""]
    lines += [
        "---",
        f"Hidden cases from seed {seed}. Limits: {limits.cell:g} s per cell, {limits.total:g} s per notebook, "
        f"{limits.memory_mb} MB of memory.",
        "",
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _file_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "submission"


def write_report(out: Path, submissions: list[Submission], results: list[NotebookResult], seed: int,
                 limits: Limits) -> Path:
    """Write grades.csv, totals.csv and one feedback file per submission into `out`; return grades.csv's path."""
    out = Path(out)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    write_gradebook(out / "grades.csv", results)
    write_totals(out / "totals.csv", submissions, results)
    for submission in submissions:
        own = [r for r in results if r.submission == submission.name]
        (out / "feedback" / f"{_file_name(submission.name)}.md").write_text(
            feedback(submission, own, seed, limits), encoding="utf-8")
    return out / "grades.csv"
