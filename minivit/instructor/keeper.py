"""The first process of every notebook's kernel. It sets the data-segment limit (RLIMIT_DATA) and the
largest file that may be written (RLIMIT_FSIZE) that the kernel and all it starts inherit, then:
- in the sandbox, becomes the kernel (exec): the sandbox's PID namespace already ends every process
  of the notebook with it;
- without it (--reap), stays as the kernel's parent and a subreaper: an orphan of any process the
  notebook starts, even one that left its session, is given to the keeper, so all of them stay in
  its tree. When the kernel exits, or the grader goes (SIGTERM, also sent if the grader dies), it
  kills that whole tree, then exits.

    python keeper.py --data-mb MB [--file-mb MB] [--reap] -- COMMAND...

The grader runs it by path, not as minivit.instructor.keeper: importing the package would import torch,
a second of CPU per kernel. It imports only the standard library and processes.py beside it.
"""

from __future__ import annotations

import os
import resource
import signal
import sys

import processes  # beside this file: sys.path[0] is this folder when run by path

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _limit(which: int, megabytes: int) -> None:
    limit = megabytes * 2**20
    try:
        resource.setrlimit(which, (limit, limit))
    except (ValueError, OSError):
        pass  # a platform without it: the grader's memory and disk watch remains


def _end_with_parent() -> None:
    """Ask for SIGTERM when the grader (this process's parent) exits."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class _Ended(Exception):
    pass


def _raise_ended(signum: int, frame: object) -> None:
    raise _Ended


def keep(command: list[str]) -> int:
    """Run `command` as a child, reap every orphan given to this process, kill the tree at the end."""
    processes.become_subreaper()
    parent = os.getppid()
    signal.signal(signal.SIGTERM, _raise_ended)
    signal.signal(signal.SIGINT, lambda signum, frame: None)  # an interrupt is for the kernel (not SIG_IGN:
    _end_with_parent()                                         # the kernel would inherit that)
    code = 1
    try:
        if os.getppid() != parent:  # the grader went before the request above
            raise _Ended
        kernel = os.posix_spawnp(command[0], command, os.environ)
        while True:
            pid, status = os.wait()  # the kernel, or an orphan given to this subreaper
            if pid == kernel:
                code = os.waitstatus_to_exitcode(status)
                break
    except (_Ended, ChildProcessError):
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        processes.kill_tree(os.getpid(), keep_root=True)
        _reap_all()
    return code


def _reap_all() -> None:
    """Wait for every child, all killed: none is left to the grader as a zombie."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return


def main(argv: list[str]) -> int:
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    _limit(resource.RLIMIT_DATA, int(options[options.index("--data-mb") + 1]))
    if "--file-mb" in options:  # Python ignores SIGXFSZ: a write beyond it fails with EFBIG ("File too large")
        _limit(resource.RLIMIT_FSIZE, int(options[options.index("--file-mb") + 1]))
    # ipykernel would take its parent in the sandbox, PID 1 there, for a dead one and exit: no parent poller.
    # The keeper, or the sandbox, ends the kernel when the grader goes.
    os.environ.pop("JPY_PARENT_PID", None)
    if "--reap" not in options:
        os.execvp(command[0], command)
    return keep(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
