"""What a learner's function gave back, against what it should have, in plain words.

Both the check cell in the notebook and the grader use these, so the learner reads the same
feedback in both places. A "result" is what `minivit.grading.child.call` recorded for one case:
{"value": ...}, {"raised": name, "message": ..., "where": ...} or {"unsupported": type name}.
"""

from __future__ import annotations

import numbers
from typing import Any

import torch

from minivit.grading.tasks import Case, Task


def describe_case(task: Task, case: Case) -> str:
    """The inputs of a case in plain words, e.g. "x (2, 8, 8, 3), window_size=4"."""
    if case.note:
        return case.note
    parts = []
    for name, value in zip(task.params, case.args):
        if isinstance(value, torch.Tensor):
            parts.append(f"{name} {tuple(value.shape)}")
        elif isinstance(value, dict):
            parts.append(f"{name} ({len(value)} tensors)")
        else:
            parts.append(f"{name}={value!r}")
    return ", ".join(parts)


def _dtype(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _kind(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}, dtype {_dtype(value)}"
    return f"a {type(value).__name__}"


def compare(expected: Any, got: Any, *, rtol: float = 1e-4, atol: float = 1e-5) -> list[str]:
    """Lines saying how `got` differs from `expected` (a tensor or a number); empty if it matches."""
    if not isinstance(expected, torch.Tensor):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Number):
            return [f"expected the number {_number(expected)}, got {_kind(got)}"]
        if isinstance(expected, numbers.Integral) and got == expected:
            return []
        if not isinstance(expected, numbers.Integral) and abs(got - expected) <= atol + rtol * abs(expected):
            return []
        return [f"expected {_number(expected)}, got {_number(got)}"]

    want = f"shape {tuple(expected.shape)}, dtype {_dtype(expected)}"
    if not isinstance(got, torch.Tensor):
        return [f"expected a tensor of {want}", f"got {_kind(got)}"]
    have = f"shape {tuple(got.shape)}, dtype {_dtype(got)}"
    if got.shape != expected.shape or got.dtype != expected.dtype:
        return [f"expected {want}", f"got      {have}"]
    if expected.is_floating_point():
        same = torch.isclose(got, expected, rtol=rtol, atol=atol)
    else:
        same = got == expected
    if bool(same.all()):
        return []
    wrong = ~same
    first = tuple(wrong.nonzero()[0].tolist())
    return [
        f"shape {tuple(got.shape)} and dtype {_dtype(got)} are right, but {int(wrong.sum())} of "
        f"{got.numel()} values differ",
        f"first mismatch at {list(first)}: expected {_number(expected[first].item())}, "
        f"got {_number(got[first].item())}",
    ]


def _same(task: Task, a: Any, b: Any) -> bool:
    try:
        return not compare(a, b, rtol=task.rtol, atol=task.atol)
    except Exception:  # a pitfall that cannot run on these inputs simply does not match
        return False


def recognise(task: Task, case: Case, got: Any) -> str | None:
    """The known mistake whose output equals `got` on this case, if any, in plain words."""
    for pitfall in task.pitfalls:
        try:
            with torch.no_grad():
                mistaken = pitfall.fn(*case.args)
        except Exception:
            continue
        if _same(task, mistaken, got):
            return pitfall.says
    return None


def case_problem(task: Task, case: Case, expected: Any, result: dict) -> list[str]:
    """What went wrong in one case, in plain words; empty if the case passed."""
    if "raised" in result:
        where = f" ({result['where']})" if result.get("where") else ""
        return [f"raised {result['raised']}: {result.get('message', '')}{where}"]
    if "unsupported" in result:
        wanted = "a tensor" if isinstance(expected, torch.Tensor) else "a number"
        if result["unsupported"] == "NoneType":
            return [f"returned None; expected {wanted} (is a `return` missing?)"]
        return [f"returned a {result['unsupported']}; expected {wanted}"]
    got = result.get("value")
    lines = compare(expected, got, rtol=task.rtol, atol=task.atol)
    if lines:
        mistake = recognise(task, case, got)
        if mistake:
            lines.append(f"this looks like a known mistake: {mistake}")
    return lines


def allowed_helpers(task: Task) -> str:
    """Which minivit functions the task's function may call, in plain words."""
    if not task.helpers:
        return "it may call no minivit function"
    return "it may call " + ", ".join(f"minivit.{helper.__name__}" for helper in task.helpers)


def not_implemented(results: list[dict]) -> bool:
    return bool(results) and all(r.get("raised") == "NotImplementedError" for r in results)


def case_report(task: Task, cases: list[Case], problems: list[list[str]]) -> list[str]:
    """One line per case, passed or FAILED, what went wrong indented under each failure, then the hint."""
    lines = []
    for number, (case, problem) in enumerate(zip(cases, problems), start=1):
        lines.append(f"case {number}, {describe_case(task, case)}: {'FAILED' if problem else 'passed'}")
        lines += [f"    {line}" for line in problem]
    lines.append(f"Hint: {task.hint}")
    return lines
