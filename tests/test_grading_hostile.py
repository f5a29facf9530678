"""The grader's own side attacked (issue 21): what runs as the instructor, around the sandbox. A class
folder read as an untrusted archive (links, FIFOs, devices, huge files, copies of one notebook); limits
that no message from the kernel can talk past; memory outside the resident set (memfds) and the working
copy's disk; text from the kernel capped; results read back in a format that cannot run code.

One graded run of the real command line (in the sandbox where bubblewrap can run) is shared by the tests
of the class folder; the limits are tested on the runner alone (`execute`), in seconds."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest
import safetensors.torch
import torch

from minivit.grading import NOTEBOOKS, TASKS
from minivit.instructor import grade as grade_module
from minivit.instructor import runner
from minivit.instructor.runner import GRACE, Limits, execute, read_results
from grading_helpers import ROOT, SANDBOX, SOLUTIONS, solution_cell, solution_notebook

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="memfd and /proc need Linux")

# --- the class folder, through the command line ---------------------------------------------------------

# conv1x1's hidden cases come back with megabytes of text: the notebook replaces the grader's helper in its kernel.
CHATTY = '''
import minivit.grading.child as _child
_real_call = _child.call
def _chatty_call(fn, cases, tracer=None):
    if getattr(fn, "__name__", "") == "conv1x1":
        return [{"raised": "ValueError", "message": "A" * 3_000_000, "where": "B" * 3_000_000} for _ in cases]
    return _real_call(fn, cases, tracer)
_child.call = _chatty_call
'''


# "Not own code" without taking the tracer apart: window_partition answered by minivit's own function, run
# where the tracer does not watch. Each is the 04 solution with a cell after the imports and window_partition
# replaced.
IN_ADVANCE = (  # the hidden cases read before the grader's call, and answered beforehand
    """
import glob, os, torch, minivit
from ipykernel.connect import get_connection_file
_answers = {}
for _path in glob.glob(os.path.join(os.path.dirname(get_connection_file()), "cases_window_partition.pt")):
    for _args in torch.load(_path, weights_only=True):
        _answers[(_args[0].numpy().tobytes(), _args[1])] = minivit.window_partition(*_args)
""",
    """
def window_partition(x, window_size):
    return _answers[(x.numpy().tobytes(), window_size)].clone()
""")
LATER = (  # a Tensor subclass that computes its value when the grader first touches it, after the trace
    """
import torch, minivit

class _Later(torch.Tensor):
    inputs = None

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func is torch.Tensor.detach and _Later.inputs is not None:
            return minivit.window_partition(*_Later.inputs)
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **(kwargs or {}))
""",
    """
def window_partition(x, window_size):
    _Later.inputs = (x, window_size)
    B, H, W, C = x.shape
    return torch.zeros(B * (H // window_size) * (W // window_size), window_size, window_size, C).as_subclass(_Later)
""")
WATCHER = (  # a thread started by a cell, waiting for the cases to answer them while the function waits
    """
import glob, os, threading, time, torch, minivit
from ipykernel.connect import get_connection_file
_answers = {}

def _watch():
    folder = os.path.dirname(get_connection_file())
    while True:
        for path in glob.glob(os.path.join(folder, "cases_window_partition.pt")):
            try:
                for args in torch.load(path, weights_only=True):
                    _answers[(args[0].numpy().tobytes(), args[1])] = minivit.window_partition(*args)
            except Exception:
                pass
        time.sleep(0.01)

threading.Thread(target=_watch, daemon=True).start()
""",
    """
def window_partition(x, window_size):
    key = (x.numpy().tobytes(), window_size)
    for _ in range(300):
        if key in _answers:
            return _answers[key].clone()
        time.sleep(0.01)
    raise KeyError("no answer came")
""")
ANSWERED_ELSEWHERE = {"cassie": IN_ADVANCE, "tess": LATER, "thea": WATCHER}


def _answered_elsewhere(cell: str, function: str) -> nbformat.NotebookNode:
    nb = _after_imports(solution_notebook("04_window_shift_mask"), cell)
    solution_cell(nb, "window_partition").source = function
    return nb


def _after_imports(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    first = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell(source))
    return nb


def _points(stem: str) -> int:
    return sum(TASKS[task].points for task in NOTEBOOKS[stem])


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    base = tmp_path_factory.mktemp("classroom")
    subs, out, tmp = base / "class", base / "out", base / "tmp"
    tmp.mkdir()
    secret = f"SECRET-{uuid.uuid4().hex}"
    host_file = base / "host-secret.txt"  # a file of the host, outside the class folder
    host_file.write_text(secret + "\n")
    w4 = "04_window_shift_mask.ipynb"

    def write(path: Path, nb: nbformat.NotebookNode) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)

    write(subs / "alice" / w4, solution_notebook("04_window_shift_mask"))
    # the same notebook four times in one student's folder: graded once
    for copy in (w4, "04_window_shift_mask-Copy1.ipynb", f"sub/{w4}", f"a/b/{w4}"):
        write(subs / "carl" / copy, solution_notebook("04_window_shift_mask"))
    # links: to another student's notebook, to the solutions, to a host file, to the grader's environment
    (subs / "mallory").mkdir(parents=True)
    (subs / "mallory" / w4).symlink_to(subs / "alice" / w4)
    (subs / "mallory" / "03_patch_partition.ipynb").symlink_to(SOLUTIONS / "03_patch_partition.ipynb")
    (subs / "mallory" / "01_conv_vs_attention.ipynb").symlink_to(host_file)
    (subs / "mallory" / "02_multi_head_attention.ipynb").symlink_to("/proc/self/environ")
    # a FIFO (reading it would wait for a writer forever), a device, a huge file
    (subs / "fiona").mkdir()
    os.mkfifo(subs / "fiona" / "05_relative_position_bias.ipynb")
    (subs / "fiona" / "06_swin_stages.ipynb").symlink_to("/dev/zero")
    with open(subs / "fiona" / "07_mobilevit_unfold_fold.ipynb", "wb") as f:
        f.truncate((grade_module.NOTEBOOK_MB + 1) * 2**20)  # sparse: costs no disk
    # a student folder that is a link to the solutions, a loose link to a host file
    (subs / "linus").symlink_to(SOLUTIONS, target_is_directory=True)
    (subs / "zed.ipynb").symlink_to(host_file)
    # megabytes of text from the kernel's side, and a cell that raises with a huge message
    chatty = _after_imports(solution_notebook("01_conv_vs_attention"), CHATTY)
    chatty.cells.insert(-1, nbformat.v4.new_code_cell('raise ValueError("C" * 3_000_000)'))
    write(subs / "chatty" / "01_conv_vs_attention.ipynb", chatty)
    for student, (cell, function) in ANSWERED_ELSEWHERE.items():
        write(subs / student / w4, _answered_elsewhere(cell, function))

    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "minivit.instructor", str(subs), "--out", str(out), "--jobs", "2", "--timeout", "60",
         "--cell-timeout", "10", "--seed", "5", "--sandbox", SANDBOX],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TMPDIR": str(tmp), "MINIVIT_TEST_SECRET": secret},
    )
    seconds = time.monotonic() - start
    (base / "cli-output.txt").write_text(proc.stdout + proc.stderr)
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return dict(proc=proc, rows=rows, out=out, secret=secret, seconds=seconds)


def _rows(classroom, student: str) -> list[dict]:
    """The student's rows of the notebooks they handed in (not the "not submitted" rows of the others)."""
    return [r for r in classroom["rows"] if r["submission"] == student and r["status"] != "not submitted"]


def _total(rows: list[dict]) -> tuple[int, int]:
    return sum(int(r["score"]) for r in rows), sum(int(r["max_score"]) for r in rows)


def test_the_class_is_graded_to_the_end(classroom):
    assert classroom["proc"].returncode == 0, classroom["proc"].stderr[-3000:]
    print(f"\nclass graded in {classroom['seconds']:.1f} s (a FIFO, a device and links in it)")


def test_the_summary_counts_the_notebooks_run_and_those_not_run_by_reason(classroom):
    not_run = {"not submitted", "not a regular file", "too large", "duplicate"}
    notebooks: dict[tuple[str, str], set[str]] = {}  # from grades.csv: each notebook's statuses
    for row in classroom["rows"]:
        notebooks.setdefault((row["submission"], row["notebook"]), set()).add(row["status"])
    run = sum(not statuses <= not_run for statuses in notebooks.values())
    reasons = {status: sum(statuses == {status} for statuses in notebooks.values()) for status in not_run}
    line = next(line for line in classroom["proc"].stdout.splitlines() if line.startswith("Graded "))
    students = len({row["submission"] for row in classroom["rows"]})
    assert line.startswith(f"Graded {students} submissions: {run} notebooks run; not run: "), line
    for status, count in reasons.items():
        assert f"{count} {status}" in line, (status, count, line)


def test_links_score_nothing_and_are_reported(classroom):
    rows = _rows(classroom, "mallory")
    assert rows and _total(rows)[0] == 0, rows
    assert {r["status"] for r in rows} == {"not a regular file"}, rows
    assert all("symbolic link" in r["message"] for r in rows), rows
    for stem in ("01_conv_vs_attention", "02_multi_head_attention", "03_patch_partition", "04_window_shift_mask"):
        assert {r["task"] for r in rows} >= set(NOTEBOOKS[stem])  # each assignment's tasks, 0 points each
    assert [r["status"] for r in _rows(classroom, "linus")] == ["not a regular file"]
    assert [r["status"] for r in _rows(classroom, "zed")] == ["not a regular file"]
    assert _total(_rows(classroom, "alice")) == (_points("04_window_shift_mask"),) * 2


def test_no_host_file_reaches_the_gradebook_or_the_feedback(classroom):
    for path in classroom["out"].rglob("*"):
        if path.is_file():
            text = path.read_text(errors="replace")
            assert classroom["secret"] not in text, path
            assert "root:x:0:0" not in text, path  # /etc/passwd's first line, were it read


def test_fifos_devices_and_huge_files_are_reported_without_being_read(classroom):
    rows = _rows(classroom, "fiona")
    status = {r["task"]: (r["status"], r["message"]) for r in rows}
    for task in NOTEBOOKS["05_relative_position_bias"]:
        assert status[task][0] == "not a regular file" and "FIFO" in status[task][1]
    for task in NOTEBOOKS["06_swin_stages"]:
        assert status[task][0] == "not a regular file" and "symbolic link" in status[task][1]
    for task in NOTEBOOKS["07_mobilevit_unfold_fold"]:
        assert status[task] == ("too large", f"07_mobilevit_unfold_fold.ipynb is larger than {grade_module.NOTEBOOK_MB} MB")
    assert _total(rows)[0] == 0


def test_copies_of_one_notebook_are_graded_once(classroom):
    rows = _rows(classroom, "carl")
    graded = [r for r in rows if r["task"]]
    assert [r["task"] for r in graded] == NOTEBOOKS["04_window_shift_mask"]
    assert all(r["status"] == "passed" for r in graded)
    copies = [r for r in rows if not r["task"]]
    assert [r["status"] for r in copies] == ["duplicate"] * 3 and all(r["max_score"] == "0" for r in copies)
    assert "04_window_shift_mask.ipynb is graded" in copies[0]["message"]
    points = _points("04_window_shift_mask")
    assert f"## 04_window_shift_mask.ipynb: {points} of {points} points" in (
        classroom["out"] / "feedback" / "carl.md").read_text()
    assert len(classroom["proc"].stdout.split("carl/")) - 1 == 4  # each copy named in the progress, graded once


@pytest.mark.parametrize("student, status, words", [
    ("cassie", "error", "KeyError"),  # the cases were not there to read while the cells ran
    ("tess", "failed", "_Later (a subclass of torch.Tensor; return a plain tensor)"),
    ("thea", "not own code", "tried keeping a thread of the notebook running (Thread)"),
])
def test_minivits_answer_computed_where_the_tracer_does_not_watch_scores_nothing(classroom, student, status, words):
    row = next(r for r in _rows(classroom, student) if r["task"] == "window_partition")
    assert (row["score"], row["status"]) == ("0", status), row
    assert words in row["message"] + row.get("details", ""), row
    others = [r for r in _rows(classroom, student) if r["task"] not in ("", "window_partition")]
    # a running thread could answer for any task; otherwise the rest of the notebook is graded as usual
    assert others and all(r["status"] == ("not own code" if student == "thea" else "passed") for r in others), others


def test_text_from_the_kernel_is_capped(classroom):
    row = next(r for r in _rows(classroom, "chatty") if r["task"] == "conv1x1")
    assert row["status"] == "error" and "AAAA" in row["message"], row
    assert len(row["message"]) <= 4000, len(row["message"])
    assert (classroom["out"] / "grades.csv").stat().st_size < 100_000
    assert (classroom["out"] / "feedback" / "chatty.md").stat().st_size < 100_000


# --- the limits, on the runner alone ------------------------------------------------------------------

TO_TOKENS = "def to_tokens(x):\n    return x.flatten(2).transpose(1, 2)"
# Where a kernel can leave a note that outlives it: its grader folder, next to its connection file.
IO = 'import os, sys\nIO = os.path.dirname(sys.argv[sys.argv.index("-f") + 1])\n'

# Replies to a request the grader never made, as fast as the shell channel takes them; deaf to interrupts.
FLOOD = IO + '''import time
open(os.path.join(IO, "flood-start"), "w").write(repr(time.time()))
kernel = get_ipython().kernel
socket, ident, parent = kernel.shell_stream.socket, kernel._parent_ident["shell"], kernel.get_parent("shell")
fake = dict(parent, header=dict(parent["header"], msg_id="made-up"))
end = time.time() + 45
while time.time() < end:
    try:
        kernel.session.send(socket, "execute_reply", {"status": "ok"}, fake, ident=ident)
    except KeyboardInterrupt:
        pass
'''


@pytest.fixture
def notes(monkeypatch) -> dict[str, str]:
    """The notes kernels leave in their grader folder (the small files), gathered each time the grader clears it
    for a restart, and the disk it took then (under "disk", one figure per clearing)."""
    found: dict = {"disk": []}
    clear = runner._clear

    def looked_at(folder: Path) -> None:
        found["disk"].append(_disk(folder))
        for path in folder.iterdir():
            if path.is_file() and path.stat().st_size < 1000 and path.suffix != ".json":
                found[path.name] = path.read_text(errors="replace")
        clear(folder)

    monkeypatch.setattr(runner, "_clear", looked_at)
    return found


def _execute(tmp_path: Path, cells: list[str], limits: Limits) -> tuple[runner.Run, Path, Path]:
    work, io = tmp_path / "work", tmp_path / "io"
    work.mkdir()
    io.mkdir()
    case = TASKS["to_tokens"].public()[0]
    return execute(cells, {"to_tokens": [case.args]}, work, io, limits, SANDBOX), work, io


def test_a_flood_of_replies_does_not_stall_the_limits(tmp_path, monkeypatch, notes):
    killed = []
    kill = runner.Kernel._kill
    monkeypatch.setattr(runner.Kernel, "_kill", lambda self: (killed.append(time.time()), kill(self))[1])
    start = time.monotonic()
    run, work, io = _execute(tmp_path, ["import torch", FLOOD, TO_TOKENS], Limits(total=40, cell=3))
    seconds = time.monotonic() - start
    assert run.cell_notes.get(2, "").startswith("did not stop when interrupted and was killed"), run.cell_notes
    assert "to_tokens" in run.outcomes, run.failures  # graded after a restart without the flood
    after = killed[0] - float(notes["flood-start"])
    print(f"\nflooding cell killed {after:.1f} s after it started (--cell-timeout 3, then {GRACE:g} s); "
          f"notebook done in {seconds:.1f} s")
    # at its deadline: the wait and the kill take well under a second on an idle machine, and up to a few on a
    # loaded one; the grader without this fix let the flood run to the notebook's 40 s
    assert after <= 3 + GRACE + 4


# Messages on the shell channel that no kernel sends: a bad signature, no frames after the delimiter, frames
# signed with the kernel's own key that are not JSON. The cell then ends as usual.
BROKEN = '''kernel = get_ipython().kernel
socket, ident = kernel.shell_stream.socket, list(kernel._parent_ident["shell"])
not_json = [b"not json"] * 4
for frames in ([b"0" * 64, b"{}", b"{}", b"{}", b"{}"], [], [kernel.session.sign(not_json), *not_json]):
    socket.send_multipart(ident + [b"<IDS|MSG>", *frames])
'''


def test_forged_and_broken_messages_are_skipped(tmp_path):
    run, work, io = _execute(tmp_path, ["import torch", BROKEN, TO_TOKENS], Limits(total=40, cell=10))
    assert run.cell_notes == {} and "to_tokens" in run.outcomes, (run.cell_notes, run.failures)


@needs_linux
def test_the_sandboxs_tmp_counts_only_from_inside_the_sandbox(tmp_path):
    """bwrap has the grader's root until it has built the sandbox: its /tmp is then the host's, whose disk
    use is not the notebook's memory (counted as such, a kernel could not start on a full host disk)."""
    assert runner.processes.mounted_bytes(os.getpid(), ["/tmp", "/"]) == 0
    if SANDBOX != "bwrap":
        return
    from minivit.instructor import sandbox
    write = "open('/tmp/big', 'wb').write(bytes(40 * 2**20)); print(flush=True); import time; time.sleep(30)"
    command = [*sandbox.bwrap_arguments(tmp_path, tmp_path), "--", sys.executable, "-S", "-c", write]
    inside = subprocess.Popen(command, stdout=subprocess.PIPE)
    try:
        inside.stdout.readline()
        pids = runner.processes.tree(inside.pid)
        used = runner.processes.mounted_bytes(pids[-1], ["/tmp"])
    finally:
        inside.kill()
        inside.wait()
    assert 40 * 2**20 <= used < 48 * 2**20, used


# Memfds (in no process's resident memory, outside RLIMIT_DATA), 32 MB at a time, a new one every 128 MB (each file
# is capped); the megabytes reached are noted in the grader folder. The second keeps a page of each full memfd
# mapped and closes its descriptor (the file lives on, all of it).
MEMFD = IO + '''import mmap, time
fd, chunk, kept = None, bytes(32 * 2**20), []
for step in range(80):
    if step % 4 == 0:
        if {map_it} and fd is not None:
            kept.append(mmap.mmap(fd, mmap.PAGESIZE))
            os.close(fd)
        fd = os.memfd_create("{name}")
        kept.append(fd)
    os.write(fd, chunk)
    open(os.path.join(IO, "{name}.new"), "w").write(str((step + 1) * 32))
    os.replace(os.path.join(IO, "{name}.new"), os.path.join(IO, "{name}"))  # never empty, if killed mid-write
    time.sleep(0.02)
'''


@needs_linux
def test_memory_in_a_memfd_counts(tmp_path, notes):
    limits = Limits(total=60, cell=20, memory_mb=1200)
    cells = ["import torch", MEMFD.format(name="held", map_it=False), MEMFD.format(name="mapped", map_it=True),
             TO_TOKENS]
    run, work, io = _execute(tmp_path, cells, limits)
    for number in (2, 3):
        assert run.cell_notes.get(number, "").startswith("went over the memory limit"), run.cell_notes
    assert "to_tokens" in run.outcomes, run.failures
    held, mapped = int(notes["held"]), int(notes["mapped"])
    print(f"\nmemfd stopped at {held} MB (descriptor held), {mapped} MB written then mapped (--memory-mb 1200)")
    assert held < 1200 and mapped < 1200


# Writes 8 MB files into the working copy until that fails, then into the grader folder (on the host's disk), noting
# the megabytes written there.
FILL = IO + '''import time
try:
    for number in range(80):
        with open(f"fill{number}", "wb") as f:
            f.write(bytes(8 * 2**20))
except OSError as error:
    open(os.path.join(IO, "work-error"), "w").write(str(error))
for number in range(80):
    with open(os.path.join(IO, f"fill{number}"), "wb") as f:
        f.write(bytes(8 * 2**20))
    time.sleep(0.01)
'''


def _disk(folder: Path) -> int:
    return sum(p.lstat().st_blocks * 512 for p in folder.rglob("*"))


@needs_linux
def test_the_working_copys_disk_is_bounded(tmp_path, notes):
    run, work, io = _execute(tmp_path, ["import torch", FILL, TO_TOKENS], Limits(total=60, cell=20, disk_mb=64))
    assert run.cell_notes.get(2, "").startswith("went over the disk limit"), run.cell_notes
    assert "to_tokens" in run.outcomes, run.failures  # run again without the cell, in a cleared grader folder
    host_io, work_error = notes["disk"][1], notes.get("work-error", "")
    host_work = _disk(work)
    print(f"\nworking copy: {work_error or 'no error'}, {host_work / 2**20:.0f} MB on the host's disk; grader "
          f"folder stopped at {host_io / 2**20:.0f} MB of the 640 written (disk limit 64 MB)")
    if SANDBOX == "bwrap":  # a tmpfs of 64 MB: full, and nothing of it on the host's disk
        assert "No space left" in work_error and host_work < 2**20
    assert host_work + host_io < 640 * 2**20


# --- results read back ----------------------------------------------------------------------------------


def test_a_pickle_is_not_read_as_results(tmp_path):
    path = tmp_path / "results.pt"
    torch.save({"results": [{"value": torch.ones(2)}], "entered": [], "refused": []}, path)
    outcome, why = read_results(path, 1, 2**20)
    assert outcome is None and "safetensors" in why


def _results(tmp_path: Path, tensors: dict, outcome: dict) -> Path:
    data = json.dumps(outcome).encode()
    path = tmp_path / "results.safetensors"
    path.write_bytes(safetensors.torch.save({**tensors, "outcome": torch.frombuffer(bytearray(data), dtype=torch.uint8)}))
    return path


def test_results_are_validated(tmp_path):
    good = {"results": [{"value": {"tensor": "v0"}}, {"value": 3}], "entered": [], "refused": []}
    outcome, why = read_results(_results(tmp_path, {"v0": torch.ones(2, 3)}, good), 2, 2**20)
    assert why == "" and torch.equal(outcome["results"][0]["value"], torch.ones(2, 3))
    assert outcome["results"][1]["value"] == 3
    for tensors, bad in [
        ({"v0": torch.ones(2, 3)}, {**good, "results": good["results"][:1]}),  # a case missing
        ({"v0": torch.ones(2, 3), "v1": torch.ones(1)}, good),  # a tensor nobody names
        ({}, good),  # a name without its tensor
        ({"v0": torch.ones(2, 3, dtype=torch.float8_e4m3fn)}, good),  # a dtype no task returns
        ({"v0": torch.ones(2, 3)}, {**good, "extra": 1}),
    ]:
        assert read_results(_results(tmp_path, tensors, bad), 2, 2**20)[0] is None, (tensors, bad)


def test_the_grader_never_unpickles_what_a_kernel_wrote(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load in the grader")

    monkeypatch.setattr(torch, "load", refuse)
    run, work, io = _execute(tmp_path, [TO_TOKENS], Limits(total=60, cell=20))
    assert run.failures == {} and "to_tokens" in run.outcomes


def test_the_grader_does_not_import_pickle_loaders():
    source = "\n".join(p.read_text() for p in (ROOT / "minivit" / "instructor").glob("*.py"))
    assert not re.search(r"(?<!safetensors\.)torch\.load\b", source) and "pickle" not in source
