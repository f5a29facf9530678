"""Whose code a learner's function runs: the minivit functions it enters, seen by watching its calls
(sys.setprofile) while it runs, so that minivit's own implementation of a task scores nothing under
any name or in any wrapper (an alias, a lambda, functools.partial, a class, a copy of the function).

A frame runs minivit's code when its code object comes from a file of the minivit package (the grader's
harness, child.py and this file, excepted). It *enters* minivit when the frame that called it does not
run minivit's code: the learner's code, torch, or C such as functools.partial. Calls inside minivit (a
helper's own input checks) and importing a module are not entries. A task names the helpers a learner
may enter (Task.helpers); every other entry is borrowed:

    tracer = Tracer()
    with tracer:
        fn(*args)
    borrowed(tracer.entered, task.helpers)     # e.g. ["minivit.ops.windows.window_partition"]

In the grader's kernel, guard() adds an audit hook before the notebook's first cell. While a Tracer
watches a thread, it refuses, and notes in `tracer.refused`, what would hide code from the tracer:
another profiler or tracer, a new process, a C function called through ctypes. Starting a thread is
noted too (the tracer sees only its own thread). What the tracer cannot see: code that a notebook
prepared beforehand to take the grader's own objects apart in its kernel (the tracer runs in the
learner's process), and minivit's source text copied into the notebook; see book/instructor.md.
"""

from __future__ import annotations

import _thread
import os
import sys
from types import CodeType, FrameType
from typing import Any, Callable

import minivit

ROOT = os.path.dirname(os.path.dirname(minivit.__file__))  # the folder that holds the package
PACKAGE = os.path.join(ROOT, "minivit", "")  # as code objects name their files
HARNESS = {os.path.join(PACKAGE, "grading", name) for name in ("child.py", "tracing.py")}
THREAD_STARTERS = tuple(getattr(_thread, name) for name in ("start_new_thread", "start_joinable_thread")
                        if hasattr(_thread, name))
# Audit events (prefixes) refused while a Tracer watches the thread.
REFUSED = ("sys.setprofile", "sys.settrace", "sys._setprofileallthreads", "sys._settraceallthreads",
           "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen",
           "ctypes.")


def is_minivit(code: CodeType) -> bool:
    """Whether `code` comes from minivit's package, not counting the grader's harness."""
    return code.co_filename.startswith(PACKAGE) and code.co_filename not in HARNESS


def qualified_name(code: CodeType) -> str:
    """The dotted name of a minivit function's code, e.g. "minivit.ops.windows.window_partition"."""
    module = os.path.relpath(code.co_filename, ROOT)
    module = module.removesuffix(".py").replace(os.sep, ".").removesuffix(".__init__")
    return f"{module}.{getattr(code, 'co_qualname', code.co_name)}"


class Tracer:
    """While entered (`with tracer:`), records the minivit functions entered in this thread."""

    def __init__(self) -> None:
        self.entered: set[str] = set()  # qualified names of the minivit functions entered
        self.refused: list[str] = []  # what guard() refused or the tracer noted, e.g. "os.fork"
        self._previous: Any = None

    def __enter__(self) -> Tracer:
        self._previous = sys.getprofile()
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(self._previous)

    def _profile(self, frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call":
            if arg in THREAD_STARTERS:
                self.refused.append("starting a thread")
            return
        if event != "call":
            return
        code = frame.f_code
        if not is_minivit(code) or code.co_name == "<module>":
            return
        caller = frame.f_back
        if caller is None or not is_minivit(caller.f_code):
            self.entered.add(qualified_name(code))


def borrowed(entered: set[str] | list[str], helpers: tuple[Callable, ...]) -> list[str]:
    """The entered minivit functions that are not among a task's allowed helpers, sorted."""
    allowed = {qualified_name(helper.__code__) for helper in helpers}
    return sorted(set(entered) - allowed)


def guard() -> None:
    """Add an audit hook (nothing can remove it) that refuses, while a Tracer watches the thread, what
    would hide code from it, and notes the attempt in the tracer. Call it before any learner code runs."""
    tracer_class, leave = Tracer, Tracer.__exit__.__code__  # held here: rebinding the names changes nothing

    def hook(event: str, args: tuple) -> None:
        if not event.startswith(REFUSED):
            return
        tracer = getattr(sys.getprofile(), "__self__", None)
        if not isinstance(tracer, tracer_class):
            return
        if event == "sys.setprofile":
            caller = sys._getframe(1)  # the Python frame that called sys.setprofile
            if caller.f_code is leave and caller.f_locals.get("self") is tracer:
                return  # the tracer leaving
        tracer.refused.append(event)
        raise RuntimeError(f"{event} is not allowed while the grader calls a task's function")

    sys.addaudithook(hook)
