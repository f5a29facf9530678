"""Run a submitted notebook in a fresh kernel, in a child process, within limits; then call the
learner's functions there on the grader's cases and bring the results back as plain tensors.

The kernel runs in a sandbox (sandbox.py: bubblewrap) unless the instructor chose `--sandbox none`, and
under a keeper (keeper.py). Its processes form a closed tree under the first process the grader
started (processes.py): nothing the notebook starts can leave it, and closing the kernel kills it all.

The limits are watched from outside the kernel, by the grader:
- time: a cell (or the grader's call of one task) gets `cell` seconds, then an interrupt, then a
  kill GRACE seconds later; the whole notebook, restarts included, gets `total` seconds.
- memory: the kernel's RLIMIT_DATA, set by the keeper before the kernel starts (an allocation beyond
  it fails inside the notebook), and all the memory of the kernel's tree (the kernel and all it
  starts), polled: its resident memory, the shared memory it holds without having it resident
  (memfds, shared-memory segments: processes.shared_bytes) and its files in the sandbox's memory-backed
  /tmp, /dev/shm and working copy; above the limit the tree is killed, whatever the notebook did to its
  rlimit. RLIMIT_AS is not used: the CUDA build of torch reserves about 3 GB of address space at import,
  most of it never touched.
- disk: in the sandbox the working copy is a tmpfs of `disk_mb` (counted as memory too); what the kernel
  writes to the host's disk (its grader folder, and without the sandbox its working copy) is measured
  with the memory and the tree killed above `disk_mb`; the keeper's RLIMIT_FSIZE caps each file.
- every wake-up of the wait for a reply checks the time and (every MEMORY_POLL) the memory, whatever
  message arrived: a flood of messages cannot hold the limits off. The grader's sockets take messages of
  at most MESSAGE_BYTES and queue at most QUEUED of them.
- output: nobody listens to the kernel's output channel, so printed text is dropped at the source;
  the kernel's own stdout and stderr go to /dev/null; the grader reads back at most `output_mb`
  per task, a safetensors file (tensors, and the record's form as JSON: reading it cannot run code),
  checked in dtype, shape and form, every string in it cut to KERNEL_TEXT characters.
A cell that kills or hangs the kernel, or runs out of memory, is skipped and the notebook runs again,
from the start, in a fresh kernel, so that one bad cell costs only its own task.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import stat
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import safetensors.torch
import torch
import zmq
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

import minivit
from minivit.instructor import processes
from minivit.instructor.sandbox import kernel_command

GRACE = 3.0  # seconds between the interrupt of an overdue cell and the kill of its kernel
POLL = 0.1  # seconds between two looks at the kernel while a cell runs
MEMORY_POLL = 0.3  # seconds between two measures of its memory (a scan of /proc)
STARTUP = 120.0  # seconds for a kernel to start and import torch, within the notebook's total
SOCKETS = 100  # the longest path of a kernel's Unix socket: the system allows 107 bytes
MESSAGE_BYTES = 2**20  # the largest message the grader takes from a kernel (a reply is a few hundred bytes)
QUEUED = 100  # messages from a kernel queued at the grader at most
KERNEL_TEXT = 2000  # the longest string from a kernel that the grader keeps (a message, a line of code)
KERNEL_NAME = 200  # the longest name (an exception's, a function's) and the most names of one list kept
DTYPES = {torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.bfloat16,
          torch.float32, torch.float64}  # of a tensor read back; the tasks return a few of these
MAX_DIMS = 8
PASSED_ON = {"PATH", "LANG", "LANGUAGE", "TZ", "LD_LIBRARY_PATH", "SYSTEMROOT"}  # and LC_*: the kernel's env

# Before any cell, binding no name in the notebook's namespace (its cells run as in a fresh kernel): torch's
# import; pyzmq's garbage-collector thread, which the kernel would start on its first large message (so that it
# is the kernel's own, not the notebook's: tracing.notebook_threads); and the tracer's guard, which comes last.
WARM_UP = """\
__import__("torch")
__import__("zmq.utils.garbage").utils.garbage.gc.start()
__import__("minivit.grading.child").grading.tracing.guard()
"""
HARNESS = """\
import minivit.grading.child as _minivit_grading_child
_minivit_grading_child.run_task(globals(), {name!r}, {cases!r}, {results!r})
"""


@dataclass
class Limits:
    total: float = 300.0  # seconds for one notebook, kernel starts and restarts included
    cell: float = 30.0  # seconds for one cell, and for the grader's call of one task
    memory_mb: int = 2048  # all the kernel session's memory (see above), and the kernel's data segment
    output_mb: int = 64  # the largest results file of one task that the grader reads back
    disk_mb: int = 256  # the working copy's tmpfs in the sandbox; what the kernel writes to the host's disk


@dataclass
class Reply:
    """How one piece of code ended in the kernel."""

    status: str  # "ok", "error", "interrupted" (stopped in time), or fatal: "hung", "crashed", "memory", "disk",
    # "out of time"
    error: str = ""  # for "error": "NameError: name 'x' is not defined"

    @property
    def fatal(self) -> bool:
        return self.status in {"hung", "crashed", "memory", "disk", "out of time"}


@dataclass
class Run:
    """What came back from one notebook."""

    outcomes: dict[str, dict] = field(default_factory=dict)  # task -> the child's record, checked
    failures: dict[str, tuple[str, str]] = field(default_factory=dict)  # task -> (status, message)
    cell_notes: dict[int, str] = field(default_factory=dict)  # code cell number (from 1) -> what went wrong
    skipped: set[int] = field(default_factory=set)  # cells that killed or hung the kernel
    cpu: float = 0.0  # seconds of CPU of its kernels and all they started, restarts included


FATAL_WORDS = {
    "hung": "did not stop when interrupted and was killed",
    "crashed": "crashed the kernel",
    "memory": "went over the memory limit",
    "disk": "went over the disk limit",
    "out of time": "was running when the notebook's total time ran out",
}
TASK_STATUS = {"hung": "timeout", "crashed": "crashed", "memory": "memory", "disk": "memory", "out of time": "timeout"}


def is_memory_error(error: str) -> bool:
    """Whether an exception, "Name: message", is an allocation refused by the kernel's data limit."""
    return error.startswith("MemoryError") or "allocate memory" in error


# --- the kernel's processes, seen from outside ------------------------------------------------------

_LAUNCHING = threading.Lock()  # held while a kernel starts, and while strays are swept
_ROOTS: set[int] = set()  # the first process of each kernel alive now (bwrap, or the keeper)
_adopting = False


def adopt_orphans() -> bool:
    """Make this process a subreaper (Linux), so that a process that escaped its notebook's tree (without
    the sandbox, by killing its keeper) is given to it, and killed when the next notebook closes. For a
    process whose only children are kernels, as the command line's: any other child is killed."""
    global _adopting
    _adopting = processes.become_subreaper()
    return _adopting


def _sweep() -> None:
    """Kill every child of this process that is not a kernel's first process: orphans it adopted."""
    if not _adopting:
        return
    with _LAUNCHING:
        for pid, proc in processes.snapshot().items():
            if proc.ppid == os.getpid() and pid not in _ROOTS:
                processes.kill_tree(pid)
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass


def _kernel_env(workdir: Path, sandbox: str) -> dict[str, str]:
    """The kernel's environment: a few variables of the grader's (no tokens, no paths of the class), and ours."""
    env = {k: v for k, v in os.environ.items() if k in PASSED_ON or k.startswith("LC_")}
    package_root = str(Path(minivit.__file__).resolve().parents[1])  # the kernel imports this same minivit
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    env.update(
        HOME=str(workdir),
        IPYTHONDIR=str(workdir / ".ipython"),  # no profile or startup files of the grader's user
        MPLCONFIGDIR=str(workdir / ".matplotlib"),
        OMP_NUM_THREADS="1",  # one core per kernel: --jobs decides how many run at once
        MKL_NUM_THREADS="1",
        MPLBACKEND="Agg",
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    if sandbox == "none":  # in the sandbox, /tmp is its own
        env["TMPDIR"] = str(workdir)
    return env


class _OneSpec(KernelSpecManager):
    """Hands jupyter_client a single kernel spec: the command of one notebook's kernel."""

    def __init__(self, argv: list[str]):
        super().__init__()
        self.spec = KernelSpec(argv=argv, display_name="minivit grader", language="python",
                               interrupt_mode="message")  # a signal to bwrap would not reach the kernel

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self.spec


class Kernel:
    """A fresh IPython kernel under its keeper, in the sandbox unless `sandbox` is "none"; the grader
    listens only for replies, never output."""

    def __init__(self, workdir: Path, iodir: Path, limits: Limits, deadline: float, sandbox: str = "bwrap"):
        self.limits = limits
        # memory-backed file systems of the sandbox, counted as memory; folders on the host's disk, counted as disk
        self.tmpfs = ["/tmp", "/dev/shm", str(workdir)] if sandbox == "bwrap" else []
        self.disk = [str(iodir)] + ([str(workdir)] if sandbox != "bwrap" else [])
        name = f"k{uuid.uuid4().hex[:4]}"  # unix sockets in the grader's folder (no TCP port), short: see SOCKETS
        argv = kernel_command(sandbox, workdir, iodir, limits.memory_mb, limits.disk_mb)
        self.manager = KernelManager(kernel_name="minivit-grader", kernel_spec_manager=_OneSpec(argv),
                                     transport="ipc", ip=str(iodir / name), connection_file=str(iodir / f"{name}.json"))
        self.manager.context.setsockopt(zmq.MAXMSGSIZE, MESSAGE_BYTES)  # for every socket made from it: a larger
        self.manager.context.setsockopt(zmq.RCVHWM, QUEUED)  # message ends the connection; fewer are queued
        with _LAUNCHING:
            self.manager.start_kernel(cwd=str(workdir), env=_kernel_env(workdir, sandbox),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.pid = self.manager.provisioner.process.pid  # bwrap or the keeper: the root of the tree
            _ROOTS.add(self.pid)
        self.client = None
        try:
            self.client = self.manager.client()
            self.client.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
            self.started = self._wait(self.client.kernel_info(), min(time.monotonic() + STARTUP, deadline), deadline)
            if self.started.status == "ok":  # torch's import is the grader's time, not the first cell's
                self.started = self.run(WARM_UP, STARTUP, deadline)
        except BaseException:
            self.close()
            raise

    def run(self, code: str, seconds: float, deadline: float) -> Reply:
        msg_id = self.client.execute(code, store_history=False, allow_stdin=False, stop_on_error=False)
        return self._wait(msg_id, min(time.monotonic() + seconds, deadline), deadline)

    def _kill(self) -> None:
        """Kill everything below the root; the root (bwrap, or the keeper) then ends by itself."""
        processes.kill_tree(self.pid, keep_root=True)
        if not processes.HAS_PROC:  # no /proc to walk: the keeper's session is the best guess
            processes.kill_session(self.pid)

    def _over_limits(self) -> str:
        """"memory" or "disk" if the kernel's tree is over that limit, else ""."""
        if processes.memory_bytes(self.pid, self.tmpfs) > self.limits.memory_mb * 2**20:
            return "memory"
        if sum(processes.disk_bytes(folder) for folder in self.disk) > self.limits.disk_mb * 2**20:
            return "disk"
        return ""

    def _wait(self, msg_id: str, cell_deadline: float, deadline: float) -> Reply:
        """The reply to `msg_id`, or how the limits stopped it. Every wake-up, whatever message arrived (or
        none), first checks the deadlines and, every MEMORY_POLL, the memory and the disk."""
        interrupted_at, watched = None, 0.0
        while True:
            try:
                msg = self.client.get_shell_msg(timeout=POLL)
            except queue.Empty:
                msg = None
            except Exception:  # a message the notebook forged or broke off (a bad signature, not JSON): not the
                msg = None  # reply, and no reason to stop grading; the loop's limits still apply
            now = time.monotonic()
            if now > watched + MEMORY_POLL:
                watched = now
                over = self._over_limits()
                if over:
                    self._kill()
                    return Reply(over)
            if now > deadline:
                self._kill()
                return Reply("out of time")
            if interrupted_at is None and now > cell_deadline:
                self.manager.interrupt_kernel()
                interrupted_at = now
            elif interrupted_at is not None and now > interrupted_at + GRACE:
                self._kill()
                return Reply("hung")
            parent = msg.get("parent_header") if isinstance(msg, dict) else None
            if not isinstance(parent, dict) or parent.get("msg_id") != msg_id:
                if msg is None and not self.manager.is_alive():
                    return Reply("crashed")
                continue  # nothing, or a reply to something else (earlier, or made up): wait on
            if not self.manager.is_alive():
                return Reply("crashed")  # the kernel answered, but this code killed its root (the keeper)
            if interrupted_at is not None:
                return Reply("interrupted")
            content = msg.get("content") if isinstance(msg.get("content"), dict) else {}
            if content.get("status") == "error":
                return Reply("error", f"{content.get('ename', '')}: {content.get('evalue', '')}"[:500])
            return Reply("ok")

    def close(self) -> float:
        """Kill the kernel and everything the notebook started; the CPU seconds they had used."""
        cpu = processes.cpu_seconds(self.pid)
        self._kill()
        root = self.manager.provisioner.process
        try:
            root.wait(timeout=GRACE)  # the root ends by itself, its children reaped, once all below it died
        except subprocess.TimeoutExpired:  # a keeper that the notebook stopped
            processes.kill_tree(self.pid)
            root.wait()
        try:
            if self.client is not None:
                self.client.stop_channels()
            self.manager.cleanup_resources()  # its sockets and connection file: the kernel is gone already
        except Exception:
            pass
        _ROOTS.discard(self.pid)
        _sweep()
        return cpu


# --- reading results back ----------------------------------------------------------------------------


def _text(value: object, limit: int = KERNEL_TEXT) -> str | None:
    """A string from the kernel, cut to `limit` characters; None if it is not a string."""
    if type(value) is not str:
        return None
    return value if len(value) <= limit else value[:limit] + f"... ({len(value) - limit} more characters)"


def _value(value: object, tensors: dict[str, torch.Tensor], used: set[str]) -> object:
    """A case's value as recorded: a bool, int or float, or {"tensor": name} for a tensor of the file, each
    named once, of a dtype in DTYPES and at most MAX_DIMS dimensions. None if it is none of these."""
    if type(value) in (bool, int, float):
        return value
    if not (isinstance(value, dict) and set(value) == {"tensor"} and type(value["tensor"]) is str):
        return None
    tensor = tensors.get(value["tensor"])
    if value["tensor"] in used or type(tensor) is not torch.Tensor:
        return None
    if tensor.dtype not in DTYPES or tensor.dim() > MAX_DIMS:
        return None
    used.add(value["tensor"])
    return tensor


def checked(outcome: object, n_cases: int, tensors: dict[str, torch.Tensor] | None = None) -> dict | None:
    """`outcome` (as decoded from JSON, its tensors named in `tensors`) with the tensors in place and every
    string cut to size, if it has exactly the form the child writes and uses every tensor; else None."""
    tensors, used = tensors or {}, set()
    if not isinstance(outcome, dict):
        return None
    if set(outcome) == {"missing"}:
        missing = _text(outcome["missing"])
        return {"missing": missing} if missing is not None and not tensors else None
    if set(outcome) != {"results", "entered", "refused"}:
        return None
    names = {}
    for key in ("entered", "refused"):
        if not isinstance(outcome[key], list):
            return None
        names[key] = [_text(v, KERNEL_NAME) for v in outcome[key][:KERNEL_NAME]]
        if None in names[key] or len(outcome[key]) > 10 * KERNEL_NAME:
            return None
    results = outcome["results"]
    if not isinstance(results, list) or len(results) != n_cases:
        return None
    kept = []
    for result in results:
        if not isinstance(result, dict):
            return None
        if set(result) == {"value"}:
            value = _value(result["value"], tensors, used)
            kept.append({"value": value})
            ok = value is not None
        elif "raised" in result and set(result) <= {"raised", "message", "where"}:
            text = {key: _text(v, KERNEL_NAME if key == "raised" else KERNEL_TEXT) for key, v in result.items()}
            kept.append(text)
            ok = None not in text.values()
        else:
            ok = set(result) == {"unsupported"} and _text(result["unsupported"], KERNEL_NAME) is not None
            kept.append({"unsupported": _text(result["unsupported"], KERNEL_NAME)} if ok else {})
        if not ok:
            return None
    if used != set(tensors):
        return None  # a tensor that no case names
    return {"results": kept, "entered": names["entered"], "refused": names["refused"]}


def read_results(path: Path, n_cases: int, max_bytes: int) -> tuple[dict | None, str]:
    """(the child's record, "") or (None, why not). The file is safetensors (minivit.grading.child.save):
    tensors, and the record's form as JSON in the uint8 tensor "outcome"; reading it runs no code."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        return None, "no results came back (did the notebook change the grader's helper?)"
    except OSError:
        return None, "the results file was replaced by something that is not a file"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, "the results file was replaced by something that is not a file"
        if info.st_size > max_bytes:
            return None, f"the results are larger than {max_bytes // 2**20} MB"
        data = os.read(fd, max_bytes + 1)
    finally:
        os.close(fd)
    try:
        tensors = safetensors.torch.load(data)
    except Exception as error:
        return None, (f"the results are not a safetensors file of tensors ({type(error).__name__}); "
                      "nothing in them was run")
    form = tensors.pop("outcome", None)
    try:
        if form is None or form.dtype != torch.uint8 or form.dim() != 1:
            raise ValueError("no outcome")
        outcome = json.loads(form.numpy().tobytes().decode("utf-8"))
    except Exception as error:
        return None, f"the results do not have the form the grader wrote ({type(error).__name__})"
    outcome = checked(outcome, n_cases, tensors)
    if outcome is None:
        return None, "the results do not have the form the grader wrote"
    return outcome, ""


# --- the whole notebook ------------------------------------------------------------------------------


def _run_cells(kernel: Kernel, cells: list[str], run: Run, limits: Limits, deadline: float) -> Reply | None:
    """Run the notebook's code cells in order; the fatal reply that stopped them, if any."""
    for number, source in enumerate(cells, start=1):
        if number in run.skipped or not source.strip():
            continue
        reply = kernel.run(source, limits.cell, deadline)
        if reply.status == "error" and is_memory_error(reply.error):
            reply = Reply("memory", reply.error)  # what it did allocate may stay taken: start again without it
        if reply.status == "error":
            run.cell_notes.setdefault(number, f"raised {reply.error}")
        elif reply.status == "interrupted":
            run.cell_notes.setdefault(number, f"did not finish within {limits.cell:g} s and was interrupted")
        elif reply.fatal:
            if reply.status != "out of time":
                run.skipped.add(number)
                run.cell_notes[number] = f"{FATAL_WORDS[reply.status]}; the notebook was run again without it"
            return reply
    return None


def _call_tasks(kernel: Kernel, todo: list[str], cases: dict[str, list[tuple]], iodir: Path, run: Run,
                limits: Limits, deadline: float) -> Reply | None:
    """The grader's call of each task still to do, after the notebook's cells have all run; the fatal reply
    that stopped them, if any. A task's cases reach the kernel's folder only for its own call, and leave it
    after: no cell of the notebook can read them beforehand."""
    for name in list(todo):
        given, results = iodir / f"cases_{name}.pt", iodir / f"results_{name}.safetensors"
        torch.save(list(cases[name]), given)
        code = HARNESS.format(name=name, cases=str(given), results=str(results))
        try:
            reply = kernel.run(code, limits.cell, deadline)
        finally:
            given.unlink(missing_ok=True)
        if reply.status == "out of time":
            return reply
        todo.remove(name)
        if reply.status == "ok":
            outcome, why = read_results(results, len(cases[name]), limits.output_mb * 2**20)
            if outcome is None:
                run.failures[name] = ("invalid output", why)
            else:
                run.outcomes[name] = outcome
        elif reply.status == "error":
            run.failures[name] = ("error", f"calling {name} failed outside its own code: {reply.error}")
        elif reply.status == "interrupted":
            run.failures[name] = ("timeout", f"{name} did not finish the hidden cases within {limits.cell:g} s")
        else:
            run.failures[name] = (TASK_STATUS[reply.status], f"{name} {FATAL_WORDS[reply.status]}")
            return reply
    return None


def _clear(folder: Path) -> None:
    """Remove everything in `folder` (not following links)."""
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def execute(cells: list[str], cases: dict[str, list[tuple]], workdir: Path, iodir: Path, limits: Limits,
            sandbox: str = "bwrap") -> Run:
    """Run `cells` (the notebook's code) in a fresh kernel in `workdir`, then call each task's function
    on its cases there; restart without a cell that kills or hangs the kernel. `sandbox`: "bwrap" or "none"."""
    deadline = time.monotonic() + limits.total
    run, todo = Run(), list(cases)
    while todo:
        kernel = None
        _clear(iodir)  # what an earlier kernel left there counts against the next
        try:
            kernel = Kernel(workdir, iodir, limits, deadline, sandbox)
            stop = kernel.started if kernel.started.status != "ok" else None
            stop = stop or _run_cells(kernel, cells, run, limits, deadline)
            stop = stop or _call_tasks(kernel, todo, cases, iodir, run, limits, deadline)
        finally:
            if kernel is not None:
                run.cpu += kernel.close()
        if stop is None:
            break
        if stop.status == "out of time" or kernel.started.status != "ok":
            why = (f"the notebook used up its {limits.total:g} s" if stop.status == "out of time"
                   else f"the kernel did not start ({stop.status})")
            for name in todo:
                run.failures[name] = ("timeout" if stop.status == "out of time" else "error", why)
            break
    return run
