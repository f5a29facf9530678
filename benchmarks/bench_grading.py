"""How long minivit-grade takes for a class: 30 synthetic submissions of every graded notebook, graded
with --jobs 2, in the sandbox and without it. Prints the wall time of each run, the CPU of the kernels
and of the grader, each notebook's mean CPU, and the machine (CPU model, cores, load before and after:
other work on the machine slows the wall time, not the CPU figures much).

    .venv/bin/python benchmarks/bench_grading.py                    # both, 30 students
    .venv/bin/python benchmarks/bench_grading.py --sandbox bwrap --students 10

A synthetic student hands in every graded notebook; each task is the solution (70% of them) or the
exercise's stub, drawn from --seed, so that the class has passed and "not implemented" tasks, as a
real one does. The target: 30 submissions in at most 3 minutes with the sandbox on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from minivit.grading import NOTEBOOKS
from minivit.instructor.release import strip_solution
from minivit.instructor.sandbox import unavailable

ROOT = Path(__file__).resolve().parents[1]
PROGRESS = re.compile(r"^(\S+)/(\S+)\.ipynb: \d+ of \d+ points \((\d+\.\d) s, (\d+\.\d) s of CPU\)$", re.MULTILINE)
TOTAL = re.compile(r"in (\d+\.\d) s with --jobs \d+ \(CPU: (\d+\.\d) s in the kernels, (\d+\.\d) s in the grader\)")


def make_class(folder: Path, students: int, seed: int) -> None:
    """`students` folders, each with every graded notebook; each task solved with probability 0.7."""
    draw = random.Random(seed)
    for number in range(students):
        student = folder / f"student{number:02d}"
        student.mkdir(parents=True)
        for stem in NOTEBOOKS:
            nb = nbformat.read(ROOT / "solutions" / f"{stem}.ipynb", as_version=4)
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("solution") and draw.random() > 0.7:
                    cell.source = strip_solution(cell.source)
            nbformat.write(nb, student / f"{stem}.ipynb")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def grade(folder: Path, sandbox: str, jobs: int) -> tuple[float, float, float, dict[str, list[float]]]:
    """(wall seconds, kernels' CPU, grader's CPU, notebook stem -> CPU of each submission) of one run."""
    with tempfile.TemporaryDirectory() as out:
        start = time.monotonic()
        run = subprocess.run([sys.executable, "-m", "minivit.instructor", str(folder), "--out", out,
                              "--jobs", str(jobs), "--seed", "0", "--sandbox", sandbox], capture_output=True, text=True)
        wall = time.monotonic() - start
    if run.returncode != 0:
        sys.exit(f"minivit-grade failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
    per_notebook: dict[str, list[float]] = {}
    for _, stem, _, cpu in PROGRESS.findall(run.stdout):
        per_notebook.setdefault(stem, []).append(float(cpu))
    _, kernels, grader = TOTAL.search(run.stdout).groups()
    return wall, float(kernels), float(grader), per_notebook


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sandbox", choices=["both", "bwrap", "none"], default="both")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    kinds = ["bwrap", "none"] if args.sandbox == "both" else [args.sandbox]
    if "bwrap" in kinds and unavailable():
        print(f"no sandbox here ({unavailable()}): grading without it only")
        kinds.remove("bwrap")

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        make_class(folder, args.students, args.seed)
        for kind in kinds:
            load = os.getloadavg()[0]
            results[kind] = grade(folder, kind, args.jobs)
            wall, kernels, grader, _ = results[kind]
            print(f"--sandbox {kind}: {args.students} submissions ({args.students * len(NOTEBOOKS)} notebooks) in "
                  f"{wall:.0f} s ({wall / 60:.1f} min) with --jobs {args.jobs}; CPU {kernels:.0f} s in the kernels, "
                  f"{grader:.0f} s in the grader; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("\nmean CPU seconds of one notebook (its kernel and all it starts):")
    print(f"{'notebook':<28}" + "".join(f"{'--sandbox ' + kind:>18}" for kind in kinds))
    for stem in NOTEBOOKS:
        cells = [sum(results[kind][3][stem]) / len(results[kind][3][stem]) for kind in kinds]
        print(f"{stem:<28}" + "".join(f"{cpu:>18.2f}" for cpu in cells))


if __name__ == "__main__":
    main()
