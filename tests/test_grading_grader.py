"""The grader, end to end: one graded run (`python -m minivit.instructor ... --jobs 2`) of a folder of
submissions made in tmp_path: the solutions, the exercises, every task wrong, and hostile or broken
notebooks. Shared by all tests of this module, since each notebook costs a kernel."""

from __future__ import annotations

import base64
import csv
import os
import pickle
import re
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from minivit.grading import NOTEBOOKS, TASKS
from minivit.instructor import grade as grade_module
from minivit.instructor.runner import Limits, execute
from grading_helpers import BEGIN, SANDBOX, digest, hostile, solution_notebook, with_cell

CELL_TIMEOUT = 4


def _submissions(root: Path, marker: Path) -> dict[str, dict[str, nbformat.NotebookNode]]:
    payload = f'''
class Payload:  # unpickling this would run a shell command
    def __reduce__(self):
        import os
        return (os.system, ("touch {marker}",))
'''
    # Exercises (blanks) and wrong implementations through the command line: tests/test_grading_gradebook.py
    # (notebook 04); for every task in this process: tests/test_grading_tasks.py and test_grading_notebooks.py.
    return {
        "alice": {stem: solution_notebook(stem) for stem in NOTEBOOKS},
        # megabytes of printing (a correct function that prints, a cell that prints 50 MB), and code that
        # patches torch and minivit's checker so that a wrong answer looks right inside the kernel
        "hostile_a": {"01_conv_vs_attention": hostile("01_conv_vs_attention", {
            "conv1x1": [(BEGIN, BEGIN + '    for _ in range(20):\n        print("spam " * 200_000)\n')],
            "receptive_field": [(BEGIN, BEGIN + "    return 0\n"), ("### END SOLUTION", "### END SOLUTION\n\n" + (
                "import torch, minivit.grading.compare, minivit.grading.check\n"
                "torch.equal = lambda *a, **k: True\n"
                "torch.allclose = lambda *a, **k: True\n"
                "torch.isclose = lambda a, b, *args, **kw: torch.ones_like(a, dtype=torch.bool)\n"
                "torch.testing.assert_close = lambda *a, **k: None\n"
                "minivit.grading.compare.compare = lambda *a, **k: []\n"
                "minivit.grading.check.case_problem = lambda *a, **k: []\n"
                'print("x" * 50_000_000)'))],
        })},
        # an infinite loop in a function; a syntax error
        "hostile_b": {"04_window_shift_mask": hostile("04_window_shift_mask", {
            "window_partition": [(BEGIN, BEGIN + "    while True:\n        pass\n")],
            "cyclic_shift": [(BEGIN, BEGIN + "    return torch.roll((x, shift_size)\n")],  # a bracket left open
        })},
        # the function handed in under another name (the check cell would have said so)
        "rita": {"04_window_shift_mask": hostile("04_window_shift_mask", {
            "window_partition": [("def window_partition(", "def partition_windows(")],
        })},
        # a function that kills its kernel
        "hostile_c": {"03_patch_partition": hostile("03_patch_partition", {
            "patchify": [(BEGIN, BEGIN + "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)\n")],
        })},
        # a cell that ignores the interrupt and loops forever
        "hostile_d": {"05_relative_position_bias": hostile("05_relative_position_bias", {
            "relative_coordinates": [("def relative_coordinates", "import time\nwhile True:\n    try:\n"
                                      "        time.sleep(0.2)\n    except KeyboardInterrupt:\n        pass\n\n"
                                      "def relative_coordinates")],
        })},
        # a huge allocation in a function; shared memory filled past the limit (RLIMIT_DATA does not
        # count it: the memory watch kills the kernel); a cell that fills memory up to the limit and keeps it
        "hostile_e": {"06_swin_stages": with_cell(hostile("06_swin_stages", {
            "merge_patches": [(BEGIN, BEGIN + "    big = torch.ones(2**36)\n")],
            "patch_merging": [("def patch_merging", "import mmap\nshared = mmap.mmap(-1, 4 * 2**30)\n"
                               "for start in range(0, len(shared), 2**24):\n"
                               "    shared[start:start + 2**24] = bytes(range(256)) * 2**16\n\n"
                               "def patch_merging")],
        }), "blocks = []\nwhile True:\n    blocks.append(torch.ones(25_000_000))")},
        # pickled payloads: a function returns one; the grader's results file is replaced by one (a pickle)
        "hostile_f": {"07_mobilevit_unfold_fold": hostile("07_mobilevit_unfold_fold", {
            "mobilevit_unfold": [("def mobilevit_unfold", payload + "\n\ndef mobilevit_unfold"),
                                 (BEGIN, BEGIN + "    return Payload()\n")],
            "mobilevit_fold": [("### END SOLUTION", "### END SOLUTION\n" + payload + (
                "\nimport minivit.grading.child as _child\n"
                "_save = _child.save\n"
                "def _evil_save(obj, path):\n"
                "    if 'mobilevit_fold' in str(path):\n"
                "        torch.save({'missing': Payload()}, path)  # a pickle where the grader wants safetensors\n"
                "    else:\n"
                "        _save(obj, path)\n"
                "_child.save = _evil_save"))],
        })},
    }


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    subs, out, tmp = base / "submissions", base / "out", base / "tmp"
    marker = base / "PAYLOAD_RAN"
    tmp.mkdir()
    for student, notebooks in _submissions(subs, marker).items():
        (subs / student).mkdir(parents=True)
        for stem, nb in notebooks.items():
            nbformat.write(nb, subs / student / f"{stem}.ipynb")
    (subs / "alice" / "scratch.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    # a pickled payload among the stored outputs of a cell: the grader never reads outputs
    evil = nbformat.read(subs / "hostile_f" / "07_mobilevit_unfold_fold.ipynb", as_version=4)
    evil.cells[1].outputs = [nbformat.v4.new_output("display_data", data={
        "application/octet-stream": base64.b64encode(pickle.dumps(_Payload(marker))).decode()})]
    nbformat.write(evil, subs / "hostile_f" / "07_mobilevit_unfold_fold.ipynb")
    (subs / "hostile_f" / "07_mobilevit_unfold_fold.ipynb").chmod(0o444)
    before = digest(subs)

    proc = subprocess.run(
        [sys.executable, "-m", "minivit.instructor", str(subs), "--out", str(out), "--jobs", "2", "--timeout", "120",
         "--cell-timeout", str(CELL_TIMEOUT), "--memory-mb", "1500", "--seed", "1", "--sandbox", SANDBOX],
        capture_output=True, text=True, timeout=900, env={**os.environ, "TMPDIR": str(tmp)},
    )
    (base / "cli-output.txt").write_text(proc.stdout + proc.stderr)  # for a look after a failure
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return dict(proc=proc, rows=rows, out=out, subs=subs, before=before, marker=marker, tmp=tmp,
                grid={(r["submission"], r["task"]): r for r in rows})


def _tasks(stem: str) -> list[str]:
    return NOTEBOOKS[stem]


def test_the_grader_finishes_and_writes_the_gradebook(graded):
    assert graded["proc"].returncode == 0, graded["proc"].stderr[-3000:]
    assert list(graded["rows"][0]) == ["submission", "notebook", "task", "score", "max_score", "status", "message"]
    submissions = ["alice", "hostile_a", "hostile_b", "hostile_c", "hostile_d", "hostile_e", "hostile_f", "rita"]
    assert sorted({r["submission"] for r in graded["rows"]}) == submissions
    for name in submissions:
        assert (graded["out"] / "feedback" / f"{name}.md").is_file()
    assert "no task of the course was found" in (graded["out"] / "feedback" / "alice.md").read_text()


def test_solutions_score_full_marks(graded):
    rows = [r for r in graded["rows"] if r["submission"] == "alice"]
    assert [r["task"] for r in rows] == list(TASKS)
    assert all(r["status"] == "passed" and r["score"] == r["max_score"] for r in rows), rows
    assert f"**{sum(t.points for t in TASKS.values())} of {sum(t.points for t in TASKS.values())} points.**" in (
        graded["out"] / "feedback" / "alice.md").read_text()


def _only(graded, student: str, stem: str, expected: dict[str, tuple[str, str]]):
    """The tasks in `expected` have that status and message words; every other task of the notebook passed."""
    for task in _tasks(stem):
        row = graded["grid"][(student, task)]
        if task in expected:
            status, words = expected[task]
            assert row["score"] == "0" and row["status"] == status and words.lower() in row["message"].lower(), row
        else:
            assert row["status"] == "passed" and row["score"] == row["max_score"], row


def test_printing_and_patching_torch_or_minivit_change_nothing(graded):
    _only(graded, "hostile_a", "01_conv_vs_attention", {"receptive_field": ("failed", "expected ")})


def test_an_infinite_loop_and_a_syntax_error_cost_only_their_tasks(graded):
    _only(graded, "hostile_b", "04_window_shift_mask", {
        "window_partition": ("timeout", f"did not finish the hidden cases within {CELL_TIMEOUT} s"),
        "cyclic_shift": ("missing", "raised SyntaxError"),
    })
    assert "interrupted" in (graded["out"] / "feedback" / "hostile_b.md").read_text()


def test_a_function_under_another_name_is_missing_and_the_message_names_it(graded):
    _only(graded, "rita", "04_window_shift_mask", {
        "window_partition": ("missing", "window_partition is not defined in the notebook; found "
                                        "`partition_windows(x, window_size)`: rename it to `window_partition`"),
    })


def test_a_kernel_crash_costs_only_its_task(graded):
    _only(graded, "hostile_c", "03_patch_partition", {"patchify": ("crashed", "crashed the kernel")})
    assert "crashed the kernel; the notebook was run again without it" in (
        graded["out"] / "feedback" / "hostile_c.md").read_text()


def test_a_cell_that_ignores_the_interrupt_is_killed_and_skipped(graded):
    _only(graded, "hostile_d", "05_relative_position_bias", {
        "relative_coordinates": ("missing", "did not stop when interrupted and was killed")})


def test_huge_allocations_are_stopped(graded):
    _only(graded, "hostile_e", "06_swin_stages", {
        "merge_patches": ("memory", "allocate memory"),
        "patch_merging": ("missing", "went over the memory limit"),
    })
    notes = (graded["out"] / "feedback" / "hostile_e.md").read_text().split("### While running the notebook")[1]
    assert notes.count("went over the memory limit; the notebook was run again without it") == 2


def test_pickled_payloads_are_never_run(graded):
    _only(graded, "hostile_f", "07_mobilevit_unfold_fold", {
        "mobilevit_unfold": ("failed", "returned a Payload"),
        "mobilevit_fold": ("invalid output", "not a safetensors file"),
    })
    assert not graded["marker"].exists()


def test_submissions_are_byte_identical_and_nothing_is_left_running(graded):
    assert digest(graded["subs"]) == graded["before"]
    assert list(graded["tmp"].iterdir()) == []  # every temporary folder removed
    for proc in Path("/proc").iterdir():  # no kernel still working in them
        try:
            assert not os.readlink(proc / "cwd").startswith(str(graded["tmp"]))
        except OSError:
            pass


def test_every_notebook_is_reported_with_its_time_and_the_jobs_said(graded):
    seconds = re.findall(r"points \((\d+\.\d) s, ", graded["proc"].stdout)
    assert len(seconds) == len(NOTEBOOKS) + 7 + 1  # alice (and her scratch notebook), rita, six hostile
    assert "with --jobs 2" in graded["proc"].stdout


def test_jobs_2_grades_two_notebooks_at_the_same_time(tmp_path, monkeypatch):
    """Each notebook's grading waits for the other's to start: only two graded at once can both finish."""
    for name in ("a", "b"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / f"{name}.ipynb")
    both = threading.Barrier(2, timeout=120)  # the timeout only guards a hang: one at a time would wait forever

    def grade_notebook(submission, path, *args):
        both.wait()
        return path.name

    monkeypatch.setattr(grade_module, "grade_notebook", grade_notebook)
    _, results, _ = grade_module.grade([tmp_path], jobs=2, seed=0)
    assert sorted(results) == ["a.ipynb", "b.ipynb"]


def test_the_total_time_limit_stops_a_notebook(tmp_path):
    # six cells of 2 s each, every one within the cell limit, 12 s together: more than the notebook's 8 s
    cells = (["import time"] + ["time.sleep(2)\nopen('slept', 'a').write('.')"] * 6
             + ["def to_tokens(x):\n    return x.flatten(2).transpose(1, 2)"])
    case = TASKS["to_tokens"].public()[0]
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "io").mkdir()
    run = execute(cells, {"to_tokens": [case.args]}, work, tmp_path / "io", Limits(total=8, cell=3), SANDBOX)
    slept = (work / "slept").read_text() if (work / "slept").exists() else ""
    assert len(slept) < 6  # the kernel was stopped, not left to finish the cells
    assert run.failures["to_tokens"] == ("timeout", "the notebook used up its 8 s")
