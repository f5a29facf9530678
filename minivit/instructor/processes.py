"""The processes of one notebook, seen from outside: the tree under the process that the grader
started for its kernel, its resident memory, and how to end all of it.

A tree is closed when nothing in it can leave: in the sandbox, orphans go to the sandbox's own
PID 1, a member of the tree; without it, the keeper (keeper.py) is a subreaper, so orphans come back
to it. Ending a tree stops every member before killing it, so that nothing forks while it is being killed.

Linux only (it reads /proc); elsewhere the tree is the root alone and the caller falls back on the
root's session. Standard library only: keeper.py imports this file without the minivit package.
"""

from __future__ import annotations

import os
import signal
from typing import NamedTuple

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
HAS_PROC = os.path.isdir("/proc/self")


class Proc(NamedTuple):
    ppid: int
    session: int
    rss: int  # resident bytes
    cpu: float  # seconds of CPU, its own and its reaped children's


def snapshot() -> dict[int, Proc]:
    """pid -> Proc of every live process on the machine (not zombies)."""
    found = {}
    if not HAS_PROC:
        return found
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                line = f.read()
        except OSError:  # it ended meanwhile
            continue
        fields = line[line.rindex(b")") + 2 :].split()  # from field 3 (state) on
        if fields[0] in (b"Z", b"X"):  # dead, waiting for its parent to reap it
            continue
        cpu = sum(int(ticks) for ticks in fields[11:15]) / TICK  # utime, stime, cutime, cstime
        found[int(entry)] = Proc(int(fields[1]), int(fields[3]), int(fields[21]) * PAGE, cpu)
    return found


def tree(root: int, processes: dict[int, Proc] | None = None) -> list[int]:
    """`root` and all its descendants that are alive, parents before children."""
    processes = snapshot() if processes is None else processes
    children: dict[int, list[int]] = {}
    for pid, proc in processes.items():
        children.setdefault(proc.ppid, []).append(pid)
    found = [root] if root in processes or not HAS_PROC else []
    for pid in found:  # grows while it is walked: breadth first
        found += children.get(pid, [])
    return found


def resident_bytes(root: int) -> int:
    """The resident memory of the tree under `root`, shared memory included."""
    processes = snapshot()
    return sum(processes[pid].rss for pid in tree(root, processes) if pid in processes)


def cpu_seconds(root: int) -> float:
    """The CPU time used so far by the tree under `root` (by its live processes, and the children they reaped)."""
    processes = snapshot()
    return sum(processes[pid].cpu for pid in tree(root, processes) if pid in processes)


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def kill_tree(root: int, *, keep_root: bool = False, rounds: int = 100) -> None:
    """Kill every process under `root`, and `root` itself unless `keep_root`: stop them, then kill them,
    round after round until a round finds none it has not killed (a stopped process cannot fork, so then
    none is left), children before the root so that none is orphaned out of the tree while it lives."""
    killed: set[int] = set()
    for _ in range(rounds):
        below = [pid for pid in tree(root) if pid != root and pid not in killed]
        if not below:
            break
        _signal(below, signal.SIGSTOP)
        _signal(below, signal.SIGKILL)
        killed.update(below)
    if not keep_root:
        _signal([root], signal.SIGKILL)


def kill_session(sid: int) -> None:
    """Kill every process of session `sid` (where /proc is missing: the best that can be done)."""
    if HAS_PROC:
        _signal([pid for pid, proc in snapshot().items() if proc.session == sid], signal.SIGKILL)
    try:
        os.killpg(sid, signal.SIGKILL)  # the session leader's group
    except OSError:
        pass


def become_subreaper() -> bool:
    """Make this process the one that orphans of its descendants are given to (Linux); whether it worked."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False
