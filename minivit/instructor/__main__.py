"""Command line: grade submissions, or release the exercises.

    minivit-grade PATH... --out DIR [--notebook NN]... [--tasks FILE]... [--jobs N] [--timeout SECONDS]
                  [--cell-timeout SECONDS] [--memory-mb MB] [--seed N] [--sandbox bwrap|none]
    python -m minivit.instructor PATH... --out DIR ...          (the same)
    python -m minivit.instructor release [--check] [--tasks FILE]...   (solutions/ -> exercises/; also minivit-release)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from minivit.instructor import release as releasing
from minivit.instructor.sandbox import KINDS, describe, unavailable


def _loaded(prog: str, files: list[Path]) -> bool:
    """Load a course's tasks files; False, with the reason printed, when one cannot be loaded."""
    from minivit.grading.tasks import TasksFileError, load_tasks

    for path in files:
        try:
            load_tasks(path)
        except TasksFileError as error:
            print(f"{prog}: --tasks {error}", file=sys.stderr)
            return False
    return True


def grade_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="minivit-grade",
        description="Grade notebooks of the minivit exercises: each runs in a fresh kernel in a child process, "
        "its functions are called on hidden cases, and the results are compared with minivit's here. "
        "Writes DIR/grades.csv, DIR/totals.csv and DIR/feedback/<submission>.md; never writes to a submission.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="a class folder (one subfolder per student), a student's folder, or notebooks "
                        "(e.g. class/*/04_*.ipynb: each course notebook is its folder's student's)")
    parser.add_argument("--notebook", action="append", metavar="NN", dest="notebooks",
                        help="grade only this assignment, by number or name (04, 04_window_shift_mask); "
                        "repeat for more. Default: every graded notebook of the course")
    parser.add_argument("--tasks", action="append", type=Path, default=[], metavar="FILE",
                        help="a course's own tasks: a Python file that calls minivit.grading.tasks.add_task, loaded "
                        "before grading; repeat for more (see book/instructor.md, Changing and adding a task)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="where grades.csv and feedback/ go")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="notebooks graded at once (default 2)")
    parser.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                        help="time for one notebook, all cells and restarts included (default 300)")
    parser.add_argument("--cell-timeout", type=float, default=30, metavar="SECONDS",
                        help="time for one cell, and for the hidden cases of one task (default 30)")
    parser.add_argument("--memory-mb", type=int, default=2048, metavar="MB",
                        help="memory of one notebook's kernel and all it starts (default 2048; torch takes ~900)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the hidden cases (default: a new one)")
    parser.add_argument("--sandbox", choices=KINDS, default="bwrap",
                        help="bwrap (default): each kernel in a bubblewrap sandbox, with a read-only system, its own "
                        "working copy, no network, no other submission; none: kernels run as your user (only the "
                        "time and memory limits hold), for where bwrap cannot run")
    args = parser.parse_args(argv)
    if not _loaded(parser.prog, args.tasks):
        return 2
    assignments = None
    if args.notebooks:
        from minivit.grading.tasks import NOTEBOOKS

        assignments = [stem for stem in NOTEBOOKS if any(stem == n or stem.startswith(f"{n}_") for n in args.notebooks)]
        unknown = [n for n in args.notebooks if not any(stem == n or stem.startswith(f"{n}_") for stem in NOTEBOOKS)]
        if unknown:
            parser.error(f"--notebook {', '.join(unknown)}: not a graded notebook; the graded ones are "
                         f"{', '.join(NOTEBOOKS)} (a notebook of your course's own tasks needs their file: "
                         f"--tasks FILE)")
    if args.sandbox == "bwrap":
        why = unavailable()
        if why:
            print(f"minivit-grade: the sandbox cannot run: {why}.\nGrade with --sandbox none to run the notebooks "
                  "without it, as your user (only the time and memory limits hold).", file=sys.stderr)
            return 2
    print(describe(args.sandbox), flush=True)

    import torch

    from minivit.instructor.grade import grade, summary
    from minivit.instructor.report import write_report
    from minivit.instructor.runner import Limits, adopt_orphans

    torch.set_num_threads(1)  # the references are small; the cores go to the kernels
    adopt_orphans()  # a process that escapes its notebook comes back here, and is killed
    limits = Limits(total=args.timeout, cell=min(args.cell_timeout, args.timeout), memory_mb=args.memory_mb)
    start = time.monotonic()

    def progress(result):
        got = sum(r.score for r in result.rows)
        out_of = sum(r.max_score for r in result.rows)
        print(f"{result.submission}/{result.notebook}: {got} of {out_of} points ({result.seconds:.1f} s, "
              f"{result.cpu:.1f} s of CPU)", flush=True)

    try:
        submissions, results, seed = grade(args.paths, jobs=args.jobs, limits=limits, seed=args.seed, progress=progress,
                                           sandbox=args.sandbox, assignments=assignments)
    except FileNotFoundError as error:
        parser.error(str(error))
    csv_path = write_report(args.out, submissions, results, seed, limits)
    print(f"{summary(submissions, results)}, in {time.monotonic() - start:.1f} s "
          f"with --jobs {args.jobs} (CPU: {sum(r.cpu for r in results):.1f} s in the kernels, "
          f"{time.process_time():.1f} s in the grader): {csv_path} and {args.out / 'feedback'}/ (seed {seed}); "
          f"{describe(args.sandbox)}")
    return 0


def release_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="minivit-release",
        description="Make exercises/ from solutions/: each solution region becomes a stub that raises "
        "NotImplementedError, outputs are cleared.",
    )
    parser.add_argument("--solutions", type=Path, default=Path("solutions"))
    parser.add_argument("--exercises", type=Path, default=Path("exercises"))
    parser.add_argument("--check", action="store_true", help="write nothing; fail if exercises/ is out of date")
    parser.add_argument("--tasks", action="append", type=Path, default=[], metavar="FILE",
                        help="a course's own tasks file, whose points the check cells must agree with too")
    args = parser.parse_args(argv)
    if not _loaded(parser.prog, args.tasks):
        return 2
    try:
        releasing.expected_exercises(args.solutions)
    except ValueError as error:
        print(f"minivit-release: {error}", file=sys.stderr)
        return 1
    if args.check:
        stale = releasing.out_of_date(args.solutions, args.exercises)
        if stale:
            print(f"out of date in {args.exercises}: {', '.join(stale)}; run `make exercises`")
            return 1
        print(f"{args.exercises} is up to date with {args.solutions}")
        return 0
    for path in releasing.release(args.solutions, args.exercises):
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["release"]:
        return release_main(argv[1:])
    return grade_main(argv)


if __name__ == "__main__":
    sys.exit(main())
