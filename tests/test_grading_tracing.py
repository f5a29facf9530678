"""'Not own code': the tracer finds minivit's implementation of a task behind every kind of wrapper a
learner could hand in, lets each task's allowed helpers through, and, in a kernel guarded as the
grader guards it, refuses what would hide code from it. In this process, except the guard (an audit
hook cannot be removed, so it runs in a child Python)."""

from __future__ import annotations

import functools
import inspect
import re
import subprocess
import sys
import threading
import types

import pytest
import torch

import minivit
import minivit.ops.unfold as renamed
from minivit.grading import NOTEBOOKS, TASKS
from minivit.grading.check import feedback
from minivit.grading.child import call
from minivit.grading.tracing import Tracer, borrowed
from minivit.models.layers import TransformerBlock
from grading_helpers import ROOT, functions_of, solution_notebook


def _taken(task: str, fn) -> list[str]:
    """The minivit functions `fn` borrows on the task's public cases."""
    tracer = Tracer()
    call(fn, [case.args for case in TASKS[task].public()], tracer)
    return borrowed(tracer.entered, TASKS[task].helpers)


class _Unfolder:
    def __init__(self):
        self.unfold = getattr(renamed, "mobilevit_" + "unfold")

    def __call__(self, x, patch_size):
        return self.unfold(x, patch_size)

    @staticmethod
    def static(x, patch_size):
        return minivit.mobilevit_unfold(x, patch_size)


class _Block(TransformerBlock):
    pass


def _subclassed_block(x, weights, num_heads):
    D = x.shape[-1]
    block = _Block(D, num_heads, mlp_ratio=weights["mlp.fc1.weight"].shape[0] / D, act_layer=torch.nn.SiLU, eps=1e-5)
    block.load_state_dict(weights)
    return block(x)


def _copied(fn):
    """A new function object running `fn`'s code: what copying the function, not its text, gives."""
    return types.FunctionType(fn.__code__, fn.__globals__, "mine", fn.__defaults__, fn.__closure__)


# (task, the learner's function, the minivit function it borrows)
DELEGATIONS = [
    ("window_partition", minivit.window_partition, "minivit.ops.windows.window_partition"),
    ("window_partition", lambda x, window_size: minivit.ops.windows.window_partition(x, window_size),
     "minivit.ops.windows.window_partition"),
    ("window_reverse", functools.partial(minivit.window_reverse), "minivit.ops.windows.window_reverse"),
    ("window_reverse", _copied(minivit.window_reverse), "minivit.ops.windows.window_reverse"),
    ("mobilevit_unfold", _Unfolder(), "minivit.ops.unfold.mobilevit_unfold"),
    ("mobilevit_unfold", _Unfolder.static, "minivit.ops.unfold.mobilevit_unfold"),
    ("mobilevit_fold", lambda *args: list(map(renamed.mobilevit_fold, *zip(args)))[0], "minivit.ops.unfold.mobilevit_fold"),
    ("to_tokens", lambda x: minivit.patchify(x, 1), "minivit.ops.patches.patchify"),  # the same task, another name
    ("cyclic_shift", TASKS["cyclic_shift"].reference, "minivit.grading.tasks.nb04_window_shift_mask.<lambda>"),
    ("shifted_window_mask", lambda h, w, m, s: minivit.shifted_window_mask(h, w, m, s),
     "minivit.ops.windows.shifted_window_mask"),
    ("patch_merging", lambda *args: TASKS["patch_merging"].reference(*args), "minivit.grading.tasks.nb06_swin_stages._patch_merging"),
    ("transformer_block", _subclassed_block, "minivit.models.layers.TransformerBlock.__init__"),
    ("self_attention", lambda x, q, k, v: minivit.attention(x @ q, x @ k, x @ v)[0], "minivit.ops.attention.attention"),
]


@pytest.mark.parametrize("task, fn, name", DELEGATIONS, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(DELEGATIONS)])
def test_every_wrapper_of_minivits_implementation_is_found(task, fn, name):
    assert name in _taken(task, fn)


@pytest.mark.parametrize("stem", list(NOTEBOOKS))
def test_solutions_use_only_their_allowed_helpers(stem):
    functions = functions_of(solution_notebook(stem))
    for task in NOTEBOOKS[stem]:
        assert _taken(task, functions[task]) == [], task


def test_an_allowed_helper_is_entered_but_not_borrowed_and_its_own_calls_are_not_entries():
    functions = functions_of(solution_notebook("06_swin_stages"))
    tracer = Tracer()
    call(functions["shifted_window_attention"], [TASKS["shifted_window_attention"].public()[0].args], tracer)
    assert tracer.entered == {"minivit.ops.attention.attention", "minivit.ops.windows.window_partition",
                              "minivit.ops.windows.window_reverse", "minivit.ops.windows.shifted_window_mask",
                              "minivit.ops.relative_position.relative_position_index"}
    assert not any(name.startswith("minivit.ops._checks") for name in tracer.entered)  # called by the helpers


def test_the_check_cell_says_the_grader_will_not_accept_it():
    ok, lines = feedback("window_partition", lambda x, window_size: minivit.window_partition(x, window_size))
    assert not ok
    assert lines == ["window_partition: it runs minivit's own minivit.ops.windows.window_partition, which the grader "
                     "does not accept for this task: write it yourself (it may call no minivit function)."]
    ok, lines = feedback("patch_merging", lambda *args: TASKS["patch_merging"].reference(*args))
    assert "(it may call minivit.merge_patches)" in lines[0]


def _remade(fn, **names):
    """`fn`'s code re-made under other names (co_name, co_qualname, co_filename), as a new function."""
    return types.FunctionType(fn.__code__.replace(**names), fn.__globals__, "mine", fn.__defaults__)


def _compiled_as_minivit(x, window_size):
    """Module code compiled under minivit's own file name, run in the learner's globals."""
    namespace = {"minivit": minivit, "x": x, "window_size": window_size}
    exec(compile("out = minivit.window_partition(x, window_size)", minivit.ops.windows.__file__, "exec"), namespace)
    return namespace["out"]


# minivit's window_partition reached without taking the tracer apart or starting a thread
BYPASSES = {
    "renamed to <module>": _remade(minivit.window_partition, co_name="<module>", co_qualname="<module>"),
    "another file name": _remade(minivit.window_partition, co_name="mine", co_qualname="mine",
                                 co_filename="/tmp/mine.py"),
    "a file name outside minivit, as <module>": _remade(minivit.window_partition, co_name="<module>",
                                                         co_qualname="<module>", co_filename="<string>"),
    "compiled under minivit's file name": _compiled_as_minivit,
}


@pytest.mark.parametrize("how", list(BYPASSES))
def test_minivits_code_is_known_by_what_it_is_not_by_its_name_or_file(how):
    assert "minivit.ops.windows.window_partition" in _taken("window_partition", BYPASSES[how])


def test_minivits_source_text_copied_unchanged_is_minivits_code():
    namespace = dict(vars(minivit.ops.windows))  # the names it uses, in the learner's own globals
    exec(compile(inspect.getsource(minivit.ops.windows.window_partition), "<cell 3>", "exec"), namespace)
    assert "minivit.ops.windows.window_partition" in _taken("window_partition", namespace["window_partition"])


def test_a_learners_own_code_like_a_short_minivit_lambda_is_not_minivits():
    """The reference of cyclic_shift is a lambda with no text of its own; a learner who writes the same
    lambda wrote their own code."""
    mine = lambda x, shift_size: torch.roll(x, shifts=(-shift_size, -shift_size), dims=(1, 2))  # noqa: E731
    assert _taken("cyclic_shift", mine) == []


def test_a_thread_is_noted():
    def in_a_thread(x, window_size):
        out = []
        thread = threading.Thread(target=lambda: out.append(x.reshape(-1, window_size, window_size, x.shape[-1])))
        thread.start()
        thread.join()
        return out[0]

    tracer = Tracer()
    call(in_a_thread, [TASKS["window_partition"].public()[0].args], tracer)
    assert tracer.refused == ["starting a thread"]


GUARDED = """
import os, sys, minivit, torch
from minivit.grading.tracing import Tracer, guard
guard()
x = torch.zeros(1, 4, 4, 1)

def quiet(x, window_size):  # switch the profiler off, call minivit, switch it back on
    profiler = sys.getprofile()
    try:
        sys.setprofile(None)
    except RuntimeError as error:
        print("refused:", error)
    out = minivit.window_partition(x, window_size)
    sys.setprofile(profiler)
    return out

def forks(x, window_size):
    try:
        os.fork()
    except RuntimeError as error:
        print("refused:", error)
    return x

for fn in (quiet, forks):
    tracer = Tracer()
    try:
        with tracer:
            fn(x, 2)
    except RuntimeError as error:
        print("raised:", error)
    print(fn.__name__, sorted(tracer.entered), tracer.refused)
sys.setprofile(None)  # no tracer watching: allowed
print("after: allowed")
"""


def test_the_guard_refuses_switching_the_tracer_off_or_starting_a_process():
    out = subprocess.run([sys.executable, "-c", GUARDED], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "refused: sys.setprofile is not allowed while the grader calls a task's function",
        "raised: sys.setprofile is not allowed while the grader calls a task's function",  # putting it back
        "quiet ['minivit.ops.windows.window_partition'] ['sys.setprofile', 'sys.setprofile']",
        "refused: os.fork is not allowed while the grader calls a task's function",
        "forks [] ['os.fork']",
        "after: allowed",
    ]


def test_the_instructors_guide_says_which_helpers_each_task_may_call():
    section = (ROOT / "book" / "instructor.md").read_text()  # the guide the README links to
    listed = dict(re.findall(r"^\| `(\w+)` \| (`minivit\.[^|]*?) \|$", section, re.MULTILINE))
    assert listed == {name: ", ".join(f"`minivit.{helper.__name__}`" for helper in task.helpers)
                      for name, task in TASKS.items() if task.helpers}
