"""The keeper and the process tree, without a kernel: a process that double-forks into a new session
stays in the keeper's tree and dies with it, whether the kernel ends or the grader goes; the data
limit reaches the kernel. Linux only (a subreaper and /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest

from minivit.instructor import processes
from minivit.instructor.sandbox import KEEPER
from grading_helpers import ended, started

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a subreaper and /proc need Linux")

# Prints the pid of a grandchild that left its session (double fork, setsid) and sleeps with MARKER (from
# the environment) on its command line; then sleeps itself (`stay` seconds) or exits at once.
ESCAPE = """
import os, sys, time
marker, stay = os.environ["MARKER"], float(sys.argv[1])
read, write = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(write, str(os.getpid()).encode())
        os.execv("/bin/sleep", ["sleep", marker])
    os._exit(0)
print(os.read(read, 20).decode(), flush=True)
time.sleep(stay)
"""


def _keeper(stay: float, marker: str) -> tuple[subprocess.Popen, int]:
    keeper = subprocess.Popen([sys.executable, "-S", str(KEEPER), "--data-mb", "512", "--reap", "--",
                               sys.executable, "-c", ESCAPE, str(stay)], stdout=subprocess.PIPE, text=True,
                              start_new_session=True, env={**os.environ, "MARKER": marker})
    return keeper, int(keeper.stdout.readline())


def _marker() -> str:
    return f"{1000 + uuid.uuid4().int % 10**6}.5"  # a sleep of about 1000 s, unique on this machine


def test_a_process_that_left_its_session_stays_in_the_keepers_tree_and_dies_when_the_grader_goes():
    marker = _marker()
    keeper, escaped = _keeper(60, marker)
    try:
        assert started(marker) == [escaped]
        assert escaped in processes.tree(keeper.pid)  # given to the keeper, a subreaper
        assert processes.snapshot()[escaped].session != os.getsid(keeper.pid)  # a session kill would miss it
        keeper.send_signal(signal.SIGTERM)  # what the keeper gets when the grader dies
        keeper.wait(timeout=10)
        assert ended(marker) == []
    finally:
        processes.kill_tree(keeper.pid)


def test_when_the_kernel_ends_the_keeper_ends_what_it_left_behind():
    marker = _marker()
    keeper, escaped = _keeper(0, marker)
    try:
        assert keeper.wait(timeout=10) == 0
        assert ended(marker) == []
    finally:
        processes.kill_tree(keeper.pid)


def test_kill_tree_ends_a_keeper_and_everything_below_it():
    marker = _marker()
    keeper, escaped = _keeper(60, marker)
    processes.kill_tree(keeper.pid)
    keeper.wait(timeout=10)
    assert ended(marker) == []
    # killed itself, or (when it saw its kernel killed first, as happens under load) exited with the kernel's
    # code, -SIGKILL as an exit status: 256 - 9
    assert keeper.returncode in (-signal.SIGKILL, 256 - signal.SIGKILL)


@pytest.mark.parametrize("reap", [["--reap"], []], ids=["keeper stays", "keeper becomes the kernel"])
def test_the_data_limit_reaches_the_kernel(reap):
    command = [sys.executable, "-S", str(KEEPER), "--data-mb", "700", *reap, "--", sys.executable, "-c",
               "import resource; print(resource.getrlimit(resource.RLIMIT_DATA))"]
    assert subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip() == (
        f"({700 * 2**20}, {700 * 2**20})")


def test_resident_memory_and_cpu_of_a_tree_count_its_children():
    child = subprocess.Popen([sys.executable, "-c", "import time\nx = bytearray(200 * 2**20)\n"
                              "for i in range(0, len(x), 4096): x[i] = 1\nprint(flush=True)\ntime.sleep(60)"],
                             stdout=subprocess.PIPE, text=True)
    try:
        child.stdout.readline()
        with open(f"/proc/{child.pid}/status") as f:  # the kernel's own figure, as a reference
            rss_kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        assert processes.resident_bytes(os.getpid()) >= rss_kb * 1024 >= 200 * 2**20
        assert processes.cpu_seconds(os.getpid()) >= processes.cpu_seconds(child.pid) > 0
    finally:
        child.kill()
        child.wait()


def test_a_tree_without_processes_is_empty():
    assert processes.tree(2**22 + 12345) == []  # above the largest pid Linux gives
