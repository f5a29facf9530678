"""Where a notebook's kernel runs: in a bubblewrap sandbox (`bwrap`, Linux; the default), or, when the
instructor asks for it with `--sandbox none`, as the grader's own user.

In the sandbox the kernel sees:
- a read-only file system holding only what Python needs: /usr (and /bin, /lib...), a few files of
  /etc, the Python installation and minivit's package. The class folder, the output folder, the other
  submissions and the home folders are not in it at all: neither readable nor writable;
- two writable folders: the notebook's working copy, a private tmpfs (of --disk-mb, the Limits' disk_mb)
  holding a read-only copy of the notebook, and its grader folder (the kernel's sockets, its hidden
  cases, its results: on the host's disk, measured by the grader); and a private /tmp and /dev/shm of
  TMP_MB each. What the kernel's files take in these tmpfs counts in its memory (runner.py);
- no network: the kernel talks to the grader over Unix sockets in its grader folder (jupyter's ipc
  transport), which need none;
- its own PID namespace: when the kernel ends, or the grader, every process of the notebook ends;
- its own user namespace, without capabilities and without further namespaces, even when the grader
  runs as root; and only the few environment variables the grader gives it.
What it shares with the machine: the CPU and memory (the grader's limits watch them), the disk space
of its grader folder (measured, and each file capped), and machine-wide figures under /proc and /sys
(CPU model, total memory).

Every kernel starts under keeper.py, which sets its data-segment limit (RLIMIT_DATA) and the largest
file it may write (RLIMIT_FSIZE); without the sandbox the keeper
stays as the kernel's parent, a subreaper, so that no process the notebook starts outlives it.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import minivit

KINDS = ("bwrap", "none")
TMP_MB = 256  # size of the sandbox's private /tmp and of its /dev/shm (memory the memory watch does not see)
KEEPER = Path(__file__).with_name("keeper.py")
ETC = ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/alternatives")
INSTALL_HINT = ("install bubblewrap (Debian, Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install "
                "bubblewrap; Arch: sudo pacman -S bubblewrap)")


def describe(kind: str) -> str:
    """What isolates the notebooks, in one sentence for the start and the end of a grading run."""
    if kind == "bwrap":
        return ("sandbox: bubblewrap; each kernel sees a read-only system, its own working copy and /tmp, "
                "no network, no other submission, and every process it starts ends with it")
    return ("sandbox: none; the kernels run as your user and can read and write what you can and use the "
            "network; only the time and memory limits hold, and no process they start outlives its notebook")


def kernel_command(kind: str, workdir: Path, iodir: Path, memory_mb: int, disk_mb: int = 256) -> list[str]:
    """The command that starts a notebook's kernel; jupyter_client fills in {connection_file}. In the sandbox
    the working copy is a tmpfs of `disk_mb` with the files now in `workdir` (the notebook) read-only in it."""
    if kind not in KINDS:
        raise ValueError(f"sandbox must be one of {', '.join(KINDS)}, got {kind!r}")
    kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--HistoryManager.enabled=False"]
    keeper = [sys.executable, "-S", str(KEEPER), "--data-mb", str(memory_mb), "--file-mb", str(disk_mb)]
    if kind == "none":
        return [*keeper, "--reap", "--", *kernel]
    return [*bwrap_arguments(workdir, iodir, work_mb=disk_mb), "--", *keeper, "--", *kernel]


def _bwrap_help() -> str:
    """bwrap's list of options, to leave out those an older bwrap lacks ("" if there is no bwrap)."""
    return _help_of(shutil.which("bwrap") or "")


@functools.cache
def _help_of(bwrap: str) -> str:
    """The --help of the bwrap at that path, asked once per path."""
    try:
        return subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def bwrap_arguments(workdir: Path, iodir: Path, work_mb: int | None = None) -> list[str]:
    """bwrap and its options, for a kernel working in `workdir` and talking to the grader in `iodir`. With
    `work_mb`, the kernel's `workdir` is a tmpfs of that size holding the files now in `workdir`, read-only;
    without, `workdir` itself, writable."""
    args = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if os.geteuid() == 0:
        args += ["--uid", "65534", "--gid", "65534"]  # nobody, in its own user namespace
    if "--disable-userns" in _bwrap_help():
        args.append("--disable-userns")
    size = ["--size", str(TMP_MB * 2**20)] if "--size" in _bwrap_help() else []
    args += ["--proc", "/proc", "--dev", "/dev", *size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev",
             *size, "--tmpfs", "/tmp"]  # first: a folder bound below may lie in /tmp
    args += _system()
    for path in python_paths():
        args += ["--ro-bind", path, path]
    if work_mb is None:
        args += ["--bind", str(workdir), str(workdir)]
    else:
        args += [*(["--size", str(work_mb * 2**20)] if size else []), "--tmpfs", str(workdir)]
        for path in sorted(workdir.iterdir()):
            args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(iodir), str(iodir)]
    return args + ["--remount-ro", "/", "--chdir", str(workdir)]


def _system() -> list[str]:
    """The system's programs and libraries, read-only; /bin, /lib... as the links or folders they are."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for path in (*ETC, "/sys/devices/system/cpu"):  # the last for torch's and os.cpu_count's view of the CPU
        args += ["--ro-bind-try", path, path]
    return args


def python_paths() -> list[str]:
    """The folders of this Python and its packages, minivit's package included, outside /usr; each
    also under its real name when it is a link. Not the grader's current folder, nor other sys.path entries."""
    wanted = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.dirname(sys.executable),
              os.path.dirname(os.path.realpath(sys.executable)), os.path.dirname(minivit.__file__),
              *site.getsitepackages()}
    if site.ENABLE_USER_SITE:
        wanted.add(site.getusersitepackages())
    wanted |= {os.path.realpath(path) for path in wanted}
    found: list[str] = []
    for path in sorted(p for p in wanted if os.path.isdir(p)):  # a folder sorts before what it holds
        if not path.startswith("/usr/") and not any(path.startswith(os.path.join(f, "")) for f in found):
            found.append(path)
    return found


def unavailable() -> str:
    """Why the sandbox cannot run here, in plain words; "" when it can (a trial run says so)."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap runs on Linux only (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return f"bwrap was not found: {INSTALL_HINT}"
    with tempfile.TemporaryDirectory(prefix="minivit-grade-") as tmp:
        command = [*bwrap_arguments(Path(tmp), Path(tmp)), "--", sys.executable, "-S", "-c", ""]
        try:
            trial = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"bwrap could not start a sandbox: {error}"
    if trial.returncode != 0:
        why = trial.stderr.strip().splitlines()[-1] if trial.stderr.strip() else f"exit status {trial.returncode}"
        return (f"bwrap could not start a sandbox here ({why}); unprivileged user namespaces may be off "
                "(sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04 an AppArmor profile for bwrap)")
    return ""
