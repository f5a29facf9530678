"""The grader attacked as a clever student would: each attack sits in an otherwise correct notebook,
is stopped, and the rest of that notebook is still graded. One grading run in the sandbox (bwrap) is
shared by most tests; one more, with --sandbox none, shows that no process outlives its notebook
even without the sandbox.

An attack cannot report what it reached through the file system it is denied, so the notebooks turn
it into grades: a task raises, naming what leaked, if the attack read or connected anywhere it must
not; another fails unless the attack ran to its end (ATTACKED). What it wrote is looked for here."""

from __future__ import annotations

import ast
import csv
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

import minivit
from minivit.grading import NOTEBOOKS
from minivit.instructor import sandbox
from minivit.instructor.__main__ import grade_main
from grading_helpers import BEGIN, NO_SANDBOX, ROOT, digest, ended, hostile, solution_notebook

needs_bwrap = pytest.mark.skipif(bool(NO_SANDBOX), reason=f"the grader's sandbox cannot run here: {NO_SANDBOX}")
needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper and /proc need Linux")

# Before the tasks: where the attacks put what they reached. A task raises if anything leaked, and one
# fails unless an attack ran to its end.
LEAKS = "LEAKS = {'read': [], 'net': []}\nATTACKED = False\n"
RAISE_IF = "    if LEAKS[{kind!r}]:\n        raise ValueError('leaked: ' + str(LEAKS[{kind!r}]))\n"
PROOF = "    assert ATTACKED, 'the attack did not run'\n"

# Absolute paths a notebook can learn at run time: its working folder's ancestors, its environment, the
# command lines of its parents and of every process it sees, its mounts; and the class's own paths, as if
# the student had guessed them (`known`). Then: write a file into each folder (only inside `fence`, the
# test's folder, so that nothing is littered should the sandbox fail), read every notebook found and
# every process's environment, connect to the grader's machine and the internet.
SNOOP = '''
import glob, os, socket
known, token, secret, port = {known!r}, {token!r}, {terces!r}[::-1], {port!r}  # not in this notebook's own text
fence = {fence!r}
found = set(known)
path = os.getcwd()
while path != "/":
    found.add(path)
    path = os.path.dirname(path)
for value in os.environ.values():
    found.update(part for part in value.split(os.pathsep) if part.startswith("/"))
for pid in os.listdir("/proc"):
    try:
        with open(f"/proc/{{pid}}/cmdline", "rb") as f:
            found.update(a for a in f.read().decode(errors="replace").split("\\0") if a.startswith("/"))
        with open(f"/proc/{{pid}}/environ", "rb") as f:
            if secret.encode() in f.read():
                LEAKS["read"].append(f"/proc/{{pid}}/environ")
    except (OSError, ValueError):
        pass
with open("/proc/self/mountinfo") as f:
    found.update(line.split()[4] for line in f)
folders = set()
for path in found:
    while path not in ("/", ""):
        folders.add(path if os.path.isdir(path) else os.path.dirname(path))
        path = os.path.dirname(path)
assert len(folders) > 10, folders
for folder in (f for f in folders if f == fence or f.startswith(fence + "/")):
    try:
        with open(os.path.join(folder, "PWNED-" + token), "w") as f:
            f.write("pwned")
    except OSError:
        pass
for path in list(known) + [p for f in folders for p in glob.glob(os.path.join(f, "*", "*.ipynb"))]:
    try:
        with open(path, errors="replace") as f:
            if secret in f.read():
                LEAKS["read"].append(path)
    except OSError:
        pass
if secret in str(os.environ):
    LEAKS["read"].append("os.environ")
hosts = {hosts!r}
for address in [(host, port) for host in hosts] + [("1.1.1.1", 53), ("8.8.8.8", 53)]:
    try:
        socket.create_connection(address, timeout=1).close()
        LEAKS["net"].append(address)
    except OSError:
        pass
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53))
    LEAKS["net"].append("udp 8.8.8.8")
except OSError:
    pass
try:
    unix = socket.socket(socket.AF_UNIX)
    unix.connect("\\0minivit-test-" + token)  # an abstract socket the grader's machine listens on
    LEAKS["net"].append("abstract unix socket")
except OSError:
    pass
ATTACKED = True
'''

# A process that leaves its session (double fork, setsid), writes `proof` if it can, and for two minutes
# rewrites grades.csv; its command line carries `marker`.
ESCAPE = '''
import os, sys, time
marker, grades, proof = {marker!r}, {grades!r}, {proof!r}
WRITER = """import sys, time
for second in range(1200):
    for path, text in ([(sys.argv[3], "ran")] if second == 0 else []) + [(sys.argv[2], "pwned")]:
        try:
            open(path, "w").write(text)
        except OSError:
            pass
    time.sleep(0.1)"""
read, write = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(write, str(os.getpid()).encode())
        os.execv(sys.executable, [sys.executable, "-c", WRITER, marker, grades, proof])
    os._exit(0)
escaped = int(os.read(read, 20))
time.sleep(0.5)
os.kill(escaped, 0)  # it runs
ATTACKED = True
'''

DELEGATING_03 = {  # window_partition: an alias; window_reverse: functools.partial; cyclic_shift: the task's
    # reference, with the profiler switched off first
    "window_partition": [("    ### END SOLUTION", "    ### END SOLUTION\n\n\nwindow_partition = minivit.window_partition")],
    "window_reverse": [("def window_reverse", "import functools\n\n_reverse = functools.partial("
                        "minivit.ops.windows.window_reverse)\n\n\ndef window_reverse"),
                       (BEGIN, BEGIN + "    return _reverse(windows, window_size, height, width)\n")],
    "cyclic_shift": [(BEGIN, BEGIN + "    import sys\n    try:\n        sys.setprofile(None)\n    except RuntimeError:\n"
                      "        pass\n    from minivit.grading.tasks import TASKS as T\n"
                      "    return T['cyclic_shift'].reference(x, shift_size)\n")],
}
DELEGATING_06 = {  # mobilevit_unfold: a renamed module, getattr, a class; mobilevit_fold: a thread
    "mobilevit_unfold": [("def mobilevit_unfold", "import minivit.ops.unfold as mu\n\n\nclass Unfold:\n"
                          "    run = staticmethod(getattr(mu, 'mobilevit_' + 'unfold'))\n\n\ndef mobilevit_unfold"),
                         (BEGIN, BEGIN + "    return Unfold.run(x, patch_size)\n")],
    "mobilevit_fold": [(BEGIN, BEGIN + "    import threading\n    out = []\n    thread = threading.Thread(target=lambda: "
                        "out.append(minivit.mobilevit_fold(tokens, patch_size, height, width)))\n"
                        "    thread.start()\n    thread.join()\n    return out[0]\n")],
}


def _after_imports(nb: nbformat.NotebookNode, *sources: str) -> nbformat.NotebookNode:
    """`nb` with code cells right after its first code cell (the imports), so that they run before its tasks."""
    first = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code")
    nb.cells[first + 1 : first + 1] = [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


def _guarded(stem: str, guards: dict[str, str], proof: str, *attacks: str) -> nbformat.NotebookNode:
    """The solution `stem` with the attacks after its imports, tasks that raise on a leak ({task: kind}),
    and the task `proof`, which fails unless the attacks ran to their end."""
    changes = {task: [(BEGIN, BEGIN + RAISE_IF.format(kind=kind))] for task, kind in guards.items()}
    nb = hostile(stem, {**changes, proof: [(BEGIN, BEGIN + PROOF)]})
    return _after_imports(nb, LEAKS, *attacks)


def _grade(base: Path, notebooks: dict[str, dict[str, nbformat.NotebookNode]], sandbox: str, env: dict) -> dict:
    subs, out, tmp = base / "class", base / "out", base / "tmp"
    for path in (out, tmp):
        path.mkdir(parents=True, exist_ok=True)
    for student, stems in notebooks.items():
        (subs / student).mkdir(parents=True)
        for stem, nb in stems.items():
            nbformat.write(nb, subs / student / f"{stem}.ipynb")
    before = digest(subs)
    proc = subprocess.run(
        [sys.executable, "-m", "minivit.instructor", str(subs), "--out", str(out), "--jobs", "2", "--timeout", "120",
         "--cell-timeout", "20", "--seed", "3", "--sandbox", sandbox],
        capture_output=True, text=True, timeout=600, env={**os.environ, "TMPDIR": str(tmp), **env},
    )
    grades = (out / "grades.csv").read_bytes() if (out / "grades.csv").exists() else b""
    (base / "cli-output.txt").write_text(proc.stdout + proc.stderr)  # for a look after a failure
    with open(out / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return dict(proc=proc, subs=subs, out=out, tmp=tmp, before=before, grades=grades,
                grid={(r["submission"], r["task"]): r for r in rows})


def _check(graded: dict, student: str, stem: str, expected: dict[str, tuple[str, str]]) -> None:
    """The tasks in `expected` have that status and message words; every other task of the notebook passed."""
    for task in NOTEBOOKS[stem]:
        row = graded["grid"][(student, task)]
        if task in expected:
            status, words = expected[task]
            assert row["score"] == "0" and row["status"] == status and words in row["message"], row
        else:
            assert row["status"] == "passed" and row["score"] == row["max_score"], row


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    if NO_SANDBOX:
        pytest.skip(f"the grader's sandbox cannot run here: {NO_SANDBOX}")
    base = tmp_path_factory.mktemp("attacked")
    token, secret, marker = uuid.uuid4().hex, uuid.uuid4().hex, f"minivit-escape-{uuid.uuid4().hex}"
    victim = base / "class" / "alice" / "04_window_shift_mask.ipynb"
    server = socket.create_server(("0.0.0.0", 0))  # the grader's machine, listening
    server.setblocking(False)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind("\0minivit-test-" + token)
    abstract.listen()
    abstract.setblocking(False)
    hosts = sorted({"127.0.0.1"} | {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)})
    known = [str(victim), str(victim.parent), str(base / "class"), str(base / "out"), str(base / "tmp"), str(base),
             str(ROOT), os.path.dirname(minivit.__file__), sys.prefix, str(Path.home()), "/tmp"]
    snoop = SNOOP.format(known=known, token=token, terces=secret[::-1], port=server.getsockname()[1], hosts=hosts,
                         fence=str(base))
    alice = solution_notebook("04_window_shift_mask")
    alice.cells.append(nbformat.v4.new_code_cell(f"# {secret}"))
    escape = ESCAPE.format(marker=marker, grades=str(base / "out" / "grades.csv"), proof=str(base / "ran"))
    notebooks = {
        "alice": {"04_window_shift_mask": alice},
        "mallory": {"01_conv_vs_attention": _guarded("01_conv_vs_attention", {
            "conv1x1": "read", "receptive_field": "net"}, "self_attention", snoop)},
        "oscar": {"03_patch_partition": _guarded("03_patch_partition", {}, "patchify", escape)},
        "trudy": {"04_window_shift_mask": hostile("04_window_shift_mask", DELEGATING_03),
                  "07_mobilevit_unfold_fold": hostile("07_mobilevit_unfold_fold", DELEGATING_06)},
    }
    graded = _grade(base, notebooks, "bwrap", {"MINIVIT_TEST_SECRET": secret})
    yield dict(graded, base=base, token=token, marker=marker, server=server, abstract=abstract)
    server.close()
    abstract.close()


@needs_bwrap
def test_the_grader_says_it_runs_in_the_sandbox(attacked):
    assert attacked["proc"].returncode == 0, attacked["proc"].stderr[-3000:]
    lines = attacked["proc"].stdout.splitlines()
    assert lines[0].startswith("sandbox: bubblewrap") and "sandbox: bubblewrap" in lines[-1]


@needs_bwrap
def test_writing_outside_the_working_copy_is_stopped(attacked):
    _check(attacked, "mallory", "01_conv_vs_attention", {})  # the attack ran, and the notebook was graded
    assert not list(attacked["base"].rglob(f"PWNED-{attacked['token']}"))  # in the class, the output, TMPDIR
    assert digest(attacked["subs"]) == attacked["before"]  # every submission byte-identical


@needs_bwrap
def test_other_submissions_and_the_graders_environment_cannot_be_read(attacked):
    row = attacked["grid"][("mallory", "conv1x1")]  # raises if the victim's secret was read anywhere
    assert row["status"] == "passed", row
    assert attacked["grid"][("alice", "window_partition")]["status"] == "passed"


@needs_bwrap
def test_no_network(attacked):
    assert attacked["grid"][("mallory", "receptive_field")]["status"] == "passed"
    for listening in (attacked["server"], attacked["abstract"]):
        with pytest.raises(BlockingIOError):
            listening.accept()  # nobody connected


@needs_bwrap
def test_a_process_that_leaves_its_session_dies_with_its_notebook(attacked):
    _check(attacked, "oscar", "03_patch_partition", {})  # patchify asserts that the escaped process ran
    assert ended(attacked["marker"]) == []
    assert not (attacked["base"] / "ran").exists()  # nor could it write outside
    time.sleep(0.5)  # it would rewrite grades.csv every 0.1 s
    assert (attacked["out"] / "grades.csv").read_bytes() == attacked["grades"]
    assert list(attacked["tmp"].iterdir()) == []


@needs_bwrap
def test_delegating_to_minivit_is_not_own_code_and_the_rest_is_graded(attacked):
    _check(attacked, "trudy", "04_window_shift_mask", {
        "window_partition": ("not own code", "runs minivit's own minivit.ops.windows.window_partition"),
        "window_reverse": ("not own code", "runs minivit's own minivit.ops.windows.window_reverse"),
        "cyclic_shift": ("not own code", "tried sys.setprofile"),
    })  # shifted_window_mask passes: it calls minivit.window_partition, which that task allows
    _check(attacked, "trudy", "07_mobilevit_unfold_fold", {
        "mobilevit_unfold": ("not own code", "runs minivit's own minivit.ops.unfold.mobilevit_unfold"),
        "mobilevit_fold": ("not own code", "tried starting a thread"),
    })  # transformer_block passes: it calls minivit.attention, which that task allows


@needs_linux
def test_without_the_sandbox_no_process_outlives_its_notebook(tmp_path):
    marker, killer = f"minivit-escape-{uuid.uuid4().hex}", f"minivit-escape-{uuid.uuid4().hex}"
    grades = str(tmp_path / "out" / "grades.csv")
    escape = ESCAPE.format(marker=marker, grades=grades, proof=str(tmp_path / "escaped"))
    kill_keeper = ESCAPE.format(marker=killer, grades=grades, proof=str(tmp_path / "escaped-from-peggy")) + (
        "import signal\nos.kill(os.getppid(), signal.SIGKILL)  # the keeper, which would have killed it\n")
    graded = _grade(tmp_path, {
        "oscar": {"03_patch_partition": _guarded("03_patch_partition", {}, "patchify", escape)},
        "peggy": {"05_relative_position_bias": _after_imports(solution_notebook("05_relative_position_bias"),
                                                              LEAKS, kill_keeper)},
    }, "none", {})
    assert graded["proc"].returncode == 0, graded["proc"].stderr[-3000:]
    assert graded["proc"].stdout.splitlines()[0].startswith("sandbox: none")
    _check(graded, "oscar", "03_patch_partition", {})
    _check(graded, "peggy", "05_relative_position_bias", {})  # its kernel outlived its keeper, up to the sweep
    assert (tmp_path / "escaped").exists() and (tmp_path / "escaped-from-peggy").exists()  # both ran
    assert ended(marker) == [] and ended(killer) == []
    time.sleep(0.5)
    assert (graded["out"] / "grades.csv").read_bytes() == graded["grades"]
    assert digest(graded["subs"]) == graded["before"]


# What a process in the sandbox sees: run with only the standard library (python -S), in well under a second.
# Of the home folder, only the way to Python, where Python lies in it (here /root/.pyenv).
LOOK = """
import os, socket, sys
work, secret_folder, home = sys.argv[1], sys.argv[2], sys.argv[3]
def writable(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        return True
    except OSError:
        return False
def fits(path, megabytes):
    try:
        with open(path, "wb") as f:
            f.write(bytes(megabytes * 2**20))
        return True
    except OSError:
        return False
    finally:
        if os.path.exists(path):
            os.remove(path)
try:
    socket.create_connection(("1.1.1.1", 53), timeout=1)
    network = True
except OSError:
    network = False
print(dict(work=writable(os.path.join(work, "x")), usr=writable("/usr/x"), root=writable("/x"), tmp=writable("/tmp/x"),
           secret=os.path.exists(secret_folder), home=sorted(os.listdir(home)) if os.path.isdir(home) else [],
           processes=sorted(int(p) for p in os.listdir("/proc") if p.isdigit()), network=network,
           tmp_small=fits("/tmp/big", {small}), tmp_big=fits("/tmp/big", {big}), shm_big=fits("/dev/shm/big", {big}),
           uid=os.getuid()))
"""


@needs_bwrap
def test_the_sandbox_shows_a_read_only_system_its_working_copy_and_a_small_private_tmp(tmp_path):
    work, io, secret = tmp_path / "work", tmp_path / "io", tmp_path / "class"
    for folder in (work, io, secret):
        folder.mkdir()
    look = LOOK.format(small=sandbox.TMP_MB // 2, big=sandbox.TMP_MB + 1)
    home = str(Path.home())
    command = [*sandbox.bwrap_arguments(work, io), "--", sys.executable, "-S", "-c", look, str(work), str(secret), home]
    seen = ast.literal_eval(subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout)
    on_the_way = sorted({Path(p).relative_to(home).parts[0] for p in sandbox.python_paths() if p.startswith(home + "/")})
    assert seen == dict(work=True, usr=False, root=False, tmp=True, secret=False, home=on_the_way, processes=[1, 2],
                        network=False, tmp_small=True, tmp_big=False, shm_big=False,
                        uid=65534 if os.geteuid() == 0 else os.geteuid())
    assert (work / "x").exists() and not (tmp_path / "x").exists()


def test_an_unknown_sandbox_is_refused(tmp_path):
    with pytest.raises(ValueError, match="sandbox must be one of bwrap, none, got 'docker'"):
        sandbox.kernel_command("docker", tmp_path, tmp_path, 1024)


def test_where_bwrap_is_missing_or_cannot_start_the_grader_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    if not sys.platform.startswith("linux"):
        assert "Linux" in sandbox.unavailable()
        return
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap
    assert "apt-get install bubblewrap" in sandbox.unavailable()
    assert grade_main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "Grade with --sandbox none" in capsys.readouterr().err
    fake = tmp_path / "bwrap"  # a bwrap that cannot make namespaces
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    why = sandbox.unavailable()
    assert "No permissions to creating new namespace" in why and "user namespaces" in why
