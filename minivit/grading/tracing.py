"""Whose code a learner's function runs: the minivit functions it enters, seen by watching its calls
(sys.setprofile) while it runs, so that minivit's own implementation of a task scores nothing under
any name or in any wrapper (an alias, a lambda, functools.partial, a class, a copy of the function,
its code object re-made under another name or file name).

minivit's code is recognised by what the code *is*, never by the names it carries: every file of the
package (the grader's harness, child.py and this file, excepted) is compiled once, and a running code
object is minivit's when its fingerprint (its bytecode, the names and constants it uses, its arguments;
not its name, file name or line numbers) is that of one of them. A fingerprint with a text of its own
(a docstring or a message, at least MIN_TEXT characters) is recognised wherever it runs; one without,
such as a short lambda that a learner might well write the same way, only where it runs in the globals
of the minivit module it comes from. A frame *enters* minivit when it runs minivit's code and its caller
does not run minivit's code in minivit's own module globals: the learner's code, torch, C such as
functools.partial, or minivit code re-made by the learner with globals of their choosing. Calls inside
minivit (a helper's own input checks) are not entries, nor is a minivit module's body run by an import.
A task names the helpers a learner may enter (Task.helpers); every other entry is borrowed:

    tracer = Tracer()
    with tracer:
        fn(*args)
    borrowed(tracer.entered, task.helpers)     # e.g. ["minivit.ops.windows.window_partition"]

In the grader's kernel, guard() adds an audit hook before the notebook's first cell. While a Tracer
watches a thread, it refuses, and notes in `tracer.refused`, what would hide code from the tracer:
another profiler or tracer, a new process, a C function called through ctypes. Starting a thread is
noted too (the tracer sees only its own thread). What the tracer cannot see: code that a notebook
prepared beforehand to take the grader's own objects apart in its kernel (the tracer runs in the
learner's process), and minivit's source text copied into the notebook and changed; see book/instructor.md.
"""

from __future__ import annotations

import _thread
import os
import sys
import threading
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any, Callable, Iterator

# torch._dynamo: an optimizer imports it on first use, and inside a traced call that import fails ("partially
# initialized module"); so it is imported here, before any call is traced (the grader's warm-up imports this module,
# and so does the learner's first `from minivit.grading import check`).
import torch._dynamo  # noqa: F401

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


MIN_TEXT = 40  # characters: a constant text this long makes a fingerprint minivit's wherever it runs


def qualified_name(code: CodeType) -> str:
    """The dotted name of a minivit function's code, e.g. "minivit.ops.windows.window_partition"."""
    return f"{_module_name(code.co_filename)}.{getattr(code, 'co_qualname', code.co_name)}"


def _module_name(filename: str) -> str:
    """"minivit.ops.windows" for minivit/ops/windows.py, "minivit.ops" for minivit/ops/__init__.py."""
    module = os.path.relpath(filename, ROOT)
    return module.removesuffix(".py").replace(os.sep, ".").removesuffix(".__init__")


def _nested(code: CodeType) -> Iterator[CodeType]:
    """`code` and every code object defined inside it (functions, lambdas, comprehensions, classes)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _nested(const)


def fingerprint(code: CodeType) -> tuple:
    """What a copy of `code` keeps whatever it is renamed to and wherever it says it comes from: its
    bytecode, the global and attribute names and the constants it uses (nested code by fingerprint),
    its arguments and flags."""
    consts = tuple(fingerprint(c) if isinstance(c, CodeType) else (type(c).__name__, repr(c)) for c in code.co_consts)
    return (code.co_code, code.co_names, consts, code.co_argcount, code.co_posonlyargcount,
            code.co_kwonlyargcount, code.co_flags)


def _has_text(code: CodeType) -> bool:
    return any(isinstance(c, str) and len(c) >= MIN_TEXT for c in code.co_consts)


@dataclass(frozen=True)
class Origin:
    """Where a fingerprint comes from: the minivit function's dotted name and its module."""

    name: str
    module: str
    anywhere: bool  # recognised wherever it runs (it has a text of its own)


class MinivitCode:
    """Every code object of minivit's files, by fingerprint, compiled from the files themselves."""

    def __init__(self) -> None:
        self.origins: dict[tuple, list[Origin]] = {}
        for folder, _, files in os.walk(PACKAGE):
            for file in sorted(files):
                path = os.path.join(folder, file)
                if not file.endswith(".py") or path in HARNESS:
                    continue
                with open(path, encoding="utf-8") as source:
                    module = compile(source.read(), path, "exec", dont_inherit=True)
                for code in _nested(module):
                    origin = Origin(qualified_name(code), _module_name(path), _has_text(code))
                    self.origins.setdefault(fingerprint(code), []).append(origin)
        self._seen: dict[int, tuple[CodeType, list[Origin]]] = {}  # by id, the code held so the id stays its own

    def origin(self, frame: FrameType) -> Origin | None:
        """The minivit code that `frame` runs, or None if it runs none."""
        code = frame.f_code
        seen = self._seen.get(id(code))
        if seen is None or seen[0] is not code:
            seen = self._seen[id(code)] = (code, self.origins.get(fingerprint(code), []))
        for origin in seen[1]:
            if self.in_own_module(frame, origin):
                return origin
        return next((origin for origin in seen[1] if origin.anywhere), None)

    @staticmethod
    def in_own_module(frame: FrameType, origin: Origin) -> bool:
        """Whether `frame` runs in the globals of `origin`'s module, as minivit's own code does."""
        module = sys.modules.get(origin.module)
        return module is not None and frame.f_globals is vars(module)


_MINIVIT: MinivitCode | None = None


def minivit_code() -> MinivitCode:
    """The fingerprints of minivit's code, made on first use (a fraction of a second)."""
    global _MINIVIT
    if _MINIVIT is None:
        _MINIVIT = MinivitCode()
    return _MINIVIT


class Tracer:
    """While entered (`with tracer:`), records the minivit functions entered in this thread."""

    def __init__(self) -> None:
        self.entered: set[str] = set()  # qualified names of the minivit functions entered
        self.refused: list[str] = []  # what guard() refused or the tracer noted, e.g. "os.fork"
        self._previous: Any = None
        self._code = minivit_code()

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
        code = self._code.origin(frame)
        if code is None:
            return
        if code.name.endswith(".<module>") and self._code.in_own_module(frame, code):
            return  # importing a minivit module
        caller = frame.f_back
        inside = caller is not None and (origin := self._code.origin(caller)) is not None \
            and self._code.in_own_module(caller, origin)
        if not inside:
            self.entered.add(code.name)


def borrowed(entered: set[str] | list[str], helpers: tuple[Callable, ...]) -> list[str]:
    """The entered minivit functions that are not among a task's allowed helpers, sorted."""
    allowed = {qualified_name(helper.__code__) for helper in helpers}
    return sorted(set(entered) - allowed)


_KERNEL_THREADS: set[int] = set()  # the Python threads alive when guard() ran, before any learner code


def notebook_threads() -> list[str]:
    """The Python threads, other than this one, started after guard() and still running (threads that the
    notebook started, which the tracer cannot watch), each by its class, e.g. "Thread" (none where guard()
    never ran)."""
    if not _KERNEL_THREADS:
        return []
    started = set(sys._current_frames()) - _KERNEL_THREADS - {threading.get_ident()}
    known = {thread.ident: type(thread).__name__ for thread in threading.enumerate()}
    return sorted(known.get(ident, "a thread of _thread") for ident in started)


def guard() -> None:
    """Add an audit hook (nothing can remove it) that refuses, while a Tracer watches the thread, what
    would hide code from it, and notes the attempt in the tracer; note the threads alive now, the kernel's
    own (notebook_threads). Call it before any learner code runs."""
    _KERNEL_THREADS.update(sys._current_frames())
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
