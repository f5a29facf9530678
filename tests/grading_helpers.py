"""What the grading tests share: the solution and exercise notebooks, the sandbox the end-to-end tests grade
in, and wrong implementations of the graded tasks. The wrong implementations of a task are, first, its own:
`Task.wrong_variants` (its pitfalls' functions), which no change of a solution affects; tests that need a
wrong implementation in process use those (`as_learner_code` makes one look like a learner's function). Tests
that grade whole notebooks need the mistake in notebook code: WRONG edits each solution cell's text
(test_grading_variants checks that each edit applies exactly once; a solution rewritten another way needs its
edit rewritten too)."""

from __future__ import annotations

import copy
import hashlib
import time
import types
from pathlib import Path
from typing import Callable

import nbformat

from minivit.grading import NOTEBOOKS
from minivit.instructor import processes
from minivit.instructor.sandbox import unavailable

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
BEGIN = "    ### BEGIN SOLUTION\n"  # the first line of a solution region, where hostile edits go

# Why the sandbox cannot run here ("" when it can): the end-to-end tests then grade with --sandbox none,
# and the tests of the sandbox itself are skipped with this reason, which says how to get bwrap.
NO_SANDBOX = unavailable()
SANDBOX = "none" if NO_SANDBOX else "bwrap"

# task -> (the mistake, [(text in the solution cell, its replacement), ...]): graded whole by the child-kernel
# tests (test_grading_grader, test_grading_gradebook), and in process.
WRONG = {
    "to_tokens": ("channels not moved last", [("x.flatten(2).transpose(1, 2)", "x.reshape(x.shape[0], -1, x.shape[1])")]),
    "conv1x1": ("missing bias", [("pixels @ weight.T + bias", "pixels @ weight.T")]),
    "receptive_field": ("off by one", [("field, jump = 1, 1", "field, jump = 0, 1")]),
    "self_attention": ("softmax over the queries", [("softmax(dim=-1)", "softmax(dim=-2)")]),
    "split_heads": ("no transpose", [("x = x.reshape(B, N, num_heads, D // num_heads)", "x = x.reshape(B, num_heads, N, D // num_heads)"),
                                     ("return x.transpose(1, 2)", "return x")]),
    "merge_heads": ("no transpose", [("x = x.transpose(1, 2)  # (B, N, nh, hs)", "")]),
    "multi_head_attention": ("no output projection", [('return minivit.merge_heads(out) @ weights["proj.weight"].T + weights["proj.bias"]',
                                                       "return minivit.merge_heads(out)")]),
    "patchify": ("channel-first token order", [("x.permute(0, 2, 4, 3, 5, 1)", "x.permute(0, 2, 4, 1, 3, 5)")]),
    "unpatchify": ("rows and columns of patches swapped", [("x.permute(0, 5, 1, 3, 2, 4)", "x.permute(0, 5, 2, 3, 1, 4)")]),
    "patch_embedding": ("weight not reordered", [("weight.permute(0, 2, 3, 1).reshape(D, p * p * C)", "weight.reshape(D, p * p * C)")]),
    "add_class_token": ("wrong concat order", [("torch.cat([cls, tokens], dim=1)", "torch.cat([tokens, cls], dim=1)")]),
    "window_partition": ("no permute", [("x = x.permute(0, 1, 3, 2, 4, 5)  # (B, H/M, W/M, M, M, C)", "")]),
    "window_reverse": ("window grid transposed", [("x.permute(0, 1, 3, 2, 4, 5)", "x.permute(0, 2, 3, 1, 4, 5)")]),
    "cyclic_shift": ("wrong roll direction", [("(-shift_size, -shift_size)", "(shift_size, shift_size)")]),
    "shifted_window_mask": ("missing mask", [("torch.where(same, 0.0, -100.0)", "torch.zeros(same.shape)")]),
    "relative_coordinates": ("key minus query", [("coords[:, None, :] - coords[None, :, :]", "coords[None, :, :] - coords[:, None, :]")]),
    "relative_position_index": ("transposed index", [("rows[:, None] - rows[None, :]", "rows[None, :] - rows[:, None]"),
                                                     ("cols[:, None] - cols[None, :]", "cols[None, :] - cols[:, None]")]),
    "relative_position_bias": ("each head's matrix transposed", [("permute(2, 0, 1)", "permute(2, 1, 0)")]),
    "merge_patches": ("wrong concat order", [("torch.cat([x0, x1, x2, x3], dim=-1)", "torch.cat([x0, x2, x1, x3], dim=-1)")]),
    "patch_merging": ("missing LayerNorm", [("merged = F.layer_norm(merged, merged.shape[-1:], norm_weight, norm_bias, eps=1e-5)", "")]),
    "shifted_window_attention": ("missing mask", [("bias[None] + mask[:, None]", "bias[None] + 0 * mask[:, None]")]),
    "mobilevit_unfold": ("one patch per sequence", [("x.permute(0, 3, 5, 2, 4, 1)", "x.permute(0, 2, 4, 3, 5, 1)")]),
    "mobilevit_fold": ("positions inside the patch swapped", [("x.permute(0, 5, 3, 1, 4, 2)", "x.permute(0, 5, 3, 2, 4, 1)")]),
    "transformer_block": ("norm2(x) added, no MLP", [('return x + linear(F.silu(linear(norm(x, "norm2"), "mlp.fc1")), "mlp.fc2")',
                                                      'return x + norm(x, "norm2")')]),
}

# More mistakes written into the solutions' text, checked in process: those the check cell must name as a
# pitfall (test_grading_tasks.NAMED), and one that no pitfall is (the others are their task's pitfalls).
MORE_WRONG = {
    "multi_head_attention": ("scaled by sqrt(D)", [("minivit.attention(q, k, v)", "minivit.attention(q, k, v, scale=1 / math.sqrt(q.shape[1] * q.shape[-1]))")]),
    "cyclic_shift": ("one axis only", [("shifts=(-shift_size, -shift_size), dims=(1, 2)", "shifts=-shift_size, dims=1")]),
    "shifted_window_mask": ("regions off by one", [("slice(-M, -s), slice(-s, None)", "slice(-M, -s + 1), slice(-s + 1, None)")]),
    "shifted_window_attention": ("no roll back", [("return torch.roll(x, shifts=(s, s), dims=(1, 2))", "return x")]),
    "transformer_block": ("GELU instead of SiLU", [("F.silu(", "F.gelu(")]),
}


def as_learner_code(fn: Callable, name: str) -> Callable:
    """`fn` (a pitfall's function, which is minivit's code) re-made as a learner's function `name` would be: the
    same code with a copy of its module's globals, which the tracer does not take for minivit's own (see
    tracing.py); the minivit functions it calls are still seen."""
    return types.FunctionType(fn.__code__, dict(fn.__globals__), name, fn.__defaults__, fn.__closure__)


def solution_notebook(stem: str) -> nbformat.NotebookNode:
    return nbformat.read(SOLUTIONS / f"{stem}.ipynb", as_version=4)


def solution_cell(nb: nbformat.NotebookNode, task: str):
    (cell,) = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == task]
    return cell


def edit(source: str, edits: list[tuple[str, str]]) -> str:
    for old, new in edits:
        assert source.count(old) == 1, (f"{old!r} is not exactly once in the cell below; if its solution was "
                                        f"rewritten, rewrite its edit in tests/grading_helpers.py too:\n{source}")
        source = source.replace(old, new)
    return source


def wrong_notebook(stem: str, wrong: dict = WRONG) -> nbformat.NotebookNode:
    """The solution notebook `stem` with every task that has a wrong variant replaced by it."""
    nb = copy.deepcopy(solution_notebook(stem))
    for task in NOTEBOOKS[stem]:
        if task in wrong:
            cell = solution_cell(nb, task)
            cell.source = edit(cell.source, wrong[task][1])
    return nb


def functions_of(nb: nbformat.NotebookNode) -> dict:
    """Run a notebook's code cells, except the check cells, in this process; return its namespace."""
    namespace: dict = {}
    for number, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not cell.source.startswith("check("):
            exec(compile(cell.source, f"<cell {number}>", "exec"), namespace)
    return namespace


def hostile(stem: str, changes: dict[str, list[tuple[str, str]]]) -> nbformat.NotebookNode:
    """The solution notebook `stem` with edits to some tasks' cells: {task: [(old, new), ...]}."""
    nb = copy.deepcopy(solution_notebook(stem))
    for task, edits in changes.items():
        cell = solution_cell(nb, task)
        cell.source = edit(cell.source, edits)
    return nb


def with_cell(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """`nb` with one more code cell, before its last cell."""
    nb.cells.insert(-1, nbformat.v4.new_code_cell(source))
    return nb


def digest(root: Path) -> dict[str, str]:
    """Every file under `root` with the SHA-256 of its bytes, and every folder."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()} | {str(p.relative_to(root)) + "/": "dir" for p in root.rglob("*") if p.is_dir()}


def alive(marker: str) -> list[int]:
    """The live processes that have `marker` as one of their command-line arguments (Linux)."""
    found = []
    for pid in processes.snapshot():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read().split(b"\0"):
                    found.append(pid)
        except OSError:
            pass
    return found


def ended(marker: str, timeout: float = 10.0) -> list[int]:
    """`alive(marker)` once no process carries `marker` (or those left after `timeout` seconds): a process sent
    SIGKILL keeps its command line until the kernel has scheduled its exit, later on a loaded machine."""
    deadline = time.monotonic() + timeout
    while (found := alive(marker)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


def started(marker: str, timeout: float = 10.0) -> list[int]:
    """`alive(marker)` once a process carries `marker` (or [] after `timeout` seconds). A process whose pid
    is already known may not have reached its `exec` yet, and until then its command line is its parent's."""
    deadline = time.monotonic() + timeout
    while not (found := alive(marker)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found
