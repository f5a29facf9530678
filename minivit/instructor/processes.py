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
import stat
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
    """The resident memory of the tree under `root` (shared memory that its processes have mapped and touched)."""
    processes = snapshot()
    return sum(processes[pid].rss for pid in tree(root, processes) if pid in processes)


_SHM: list = []  # the device of the kernel's internal shared-memory file system (memfds, SysV segments), once


def _shm_device() -> int | None:
    if not _SHM:
        try:
            fd = os.memfd_create("minivit-probe")
            try:
                _SHM.append(os.fstat(fd).st_dev)
            finally:
                os.close(fd)
        except (AttributeError, OSError):
            _SHM.append(None)
    return _SHM[0]


def shared_bytes(pids: list[int]) -> int:
    """The shared memory that these processes hold, whether or not any of them has it resident: each memfd or
    shared-memory segment open in one of them (/proc/PID/fd) or mapped by one (/proc/PID/maps), counted once,
    at the size of the pages it holds (or, where its file cannot be looked at, the size of its mappings).
    Such memory is in no process's resident set until touched through a mapping, and outside RLIMIT_DATA."""
    device = _shm_device()
    if device is None or not HAS_PROC:
        return 0
    dev = f"{os.major(device):02x}:{os.minor(device):02x}"
    sizes: dict[int, int] = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            fds = []
        for fd in fds:
            try:
                info = os.stat(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if info.st_dev == device and stat.S_ISREG(info.st_mode):
                sizes[info.st_ino] = max(sizes.get(info.st_ino, 0), info.st_blocks * 512)
        try:
            with open(f"/proc/{pid}/maps") as f:
                lines = [line.split(maxsplit=5) for line in f if f" {dev} " in line]
        except OSError:
            continue
        for fields in lines:
            inode = int(fields[4]) if len(fields) > 4 and fields[4].isdigit() else 0
            if inode == 0 or inode in sizes:
                continue
            try:
                size = os.stat(f"/proc/{pid}/map_files/{fields[0]}").st_blocks * 512
            except OSError:  # map_files needs privileges: the mapping's length instead
                start, end = (int(x, 16) for x in fields[0].split("-"))
                size = end - start
            sizes[inode] = size
    return sum(sizes.values())


def mounted_bytes(pid: int, paths: list[str]) -> int:
    """The space used in file systems mounted at `paths` as `pid` sees them (e.g. the sandbox's tmpfs /tmp);
    0 while `pid` still has the grader's root, as bwrap does until it has built the sandbox: its /tmp is then
    the host's, whose disk the sandbox does not use."""
    try:
        inside, outside = os.stat(f"/proc/{pid}/root"), os.stat("/")
    except OSError:
        return 0
    if (inside.st_dev, inside.st_ino) == (outside.st_dev, outside.st_ino):
        return 0
    used = 0
    for path in paths:
        try:
            info = os.statvfs(f"/proc/{pid}/root{path}")
        except OSError:
            continue
        used += (info.f_blocks - info.f_bfree) * info.f_frsize
    return used


def memory_bytes(root: int, tmpfs: list[str] = ()) -> int:
    """All the memory the tree under `root` takes: its resident memory, its shared memory held but not
    resident (shared_bytes), and what its files take in the memory-backed file systems at `tmpfs` (its
    sandbox's /tmp, /dev/shm, working copy)."""
    processes = snapshot()
    pids = [pid for pid in tree(root, processes) if pid in processes]
    total = sum(processes[pid].rss for pid in pids) + shared_bytes(pids)
    if tmpfs and len(pids) > 1:
        total += mounted_bytes(pids[-1], list(tmpfs))  # a process inside the sandbox, not its root outside
    return total


def disk_bytes(folder: str, max_entries: int = 10_000) -> float:
    """The disk space taken by the files under `folder` (not following links); infinite beyond `max_entries`
    entries, so that counting stays cheap whatever a notebook writes there."""
    total, seen, stack = 0, 0, [folder]
    while stack:
        try:
            entries = os.scandir(stack.pop())
        except OSError:
            continue
        with entries:
            for entry in entries:
                seen += 1
                if seen > max_entries:
                    return float("inf")
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)
    return total


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
