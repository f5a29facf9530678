"""The check cell's feedback: which cases passed, and for a failure what was expected, what came back
and a hint, in plain words and never a traceback."""

from __future__ import annotations

import re

import pytest
import torch

from minivit.grading import TASKS, check
from minivit.grading.check import WIDTH, feedback, wrapped
from grading_helpers import WRONG, as_learner_code, functions_of, solution_notebook, wrong_notebook


@pytest.fixture(scope="module")
def windows():
    return functions_of(solution_notebook("04_window_shift_mask"))


def test_a_correct_function_passes_every_case(windows, capsys):
    check("window_partition", windows["window_partition"])
    assert capsys.readouterr().out == "window_partition: all 2 cases passed.\n"


def _pitfall(task: str, starts: str):
    """The pitfall of `task` whose words start with `starts`, as a learner's function."""
    (fn,) = [p.fn for p in TASKS[task].pitfalls if p.says.startswith(starts)]
    return as_learner_code(fn, task)


def test_a_wrong_value_shows_expected_got_first_mismatch_and_hint(capsys):
    check("cyclic_shift", _pitfall("cyclic_shift", "rolled the wrong way"))
    out = capsys.readouterr().out
    assert out.startswith("cyclic_shift: 0 of 2 cases passed.\n")
    assert "case 1, x of shape (1, 4, 4, 1) holding 0..15, shift_size=1: FAILED" in out
    assert "shape (1, 4, 4, 1) and dtype float32 are right, but 16 of 16 values differ" in out
    assert "first mismatch at [0, 0, 0, 0]: expected 5, got 15" in out
    assert "known mistake: rolled the wrong way" in out
    assert "Hint: torch.roll(x, shifts=(-s, -s), dims=(1, 2))" in out
    assert "Traceback" not in out


@pytest.mark.parametrize("dims, case_1, case_2", [
    ((0, 1), "the rows (axis 1) moved but the columns (axis 2) did not", "rolled axes 0 and 1, the batch and the rows"),
    (1, "the rows (axis 1) moved but the columns (axis 2) did not", "the rows (axis 1) moved but the columns (axis 2) did not"),
    (2, "the columns (axis 2) moved but the rows (axis 1) did not", "the columns (axis 2) moved but the rows (axis 1) did not"),
    ((2, 3), "the columns (axis 2) moved but the rows (axis 1) did not", "rolled axes 2 and 3, the columns and the channels"),
])
def test_a_roll_of_other_axes_is_named_by_the_axes_that_moved(dims, case_1, case_2, capsys):
    """Case 1 has a batch of one and one channel, so rolling axis 0 or 3 changes nothing there; case 2 shows it."""
    def rolled(x, shift_size):
        shifts = tuple(-shift_size for _ in dims) if isinstance(dims, tuple) else -shift_size
        return torch.roll(x, shifts, dims=dims)

    check("cyclic_shift", rolled)
    words = " ".join(capsys.readouterr().out.split())  # as read, whichever lines the long ones wrapped into
    first, second = words.split("case 2, ")
    assert f"known mistake: {case_1}" in first and f"known mistake: {case_2}" in second, words
    assert "only one axis" not in words


def test_a_wrong_shape_and_a_wrong_dtype_are_named(capsys):
    check("window_partition", lambda x, window_size: x)
    out = capsys.readouterr().out
    assert "expected shape (4, 2, 2, 1), dtype float32" in out and "got      shape (1, 4, 4, 1), dtype float32" in out
    check("relative_position_index", lambda window_size: torch.zeros(window_size**2, window_size**2))
    assert "expected shape (4, 4), dtype int64\n      got      shape (4, 4), dtype float32" in capsys.readouterr().out


def test_an_exception_is_one_line_with_the_learners_line_not_a_traceback(capsys):
    def merge_patches(x):
        B, H, W, C = x.shape
        return x.view(B, H // 2, W // 2, 4 * C + 1)

    check(merge_patches)
    out = capsys.readouterr().out
    words = " ".join(out.split())  # as read, whichever lines the long ones wrapped into
    assert "raised RuntimeError: shape '[1, 2, 2, 5]' is invalid for input of size 16" in words
    assert re.search(r"\(line \d+: return x\.view\(B, H // 2, W // 2, 4 \* C \+ 1\)\)", words)
    assert "Traceback" not in out and "File " not in out


def test_a_stub_says_not_implemented(capsys):
    def patchify(x, patch_size):
        # YOUR CODE HERE
        raise NotImplementedError()

    check(patchify)
    assert capsys.readouterr().out.startswith("patchify: not implemented yet.")


def test_the_function_is_found_by_name_in_the_calling_notebook(windows, capsys):
    namespace = {"check": check, "window_reverse": windows["window_reverse"]}
    exec('check("window_reverse")', namespace)
    exec('check("cyclic_shift")', namespace)
    out = capsys.readouterr().out
    assert out.startswith("window_reverse: all 2 cases passed.\n")
    assert "cyclic_shift: not defined yet. Run the cell that defines `def cyclic_shift(...)`" in out


def test_a_function_of_another_name_is_checked_but_the_note_says_what_the_grader_calls(windows, capsys):
    """The renaming trap: check("window_partition", partition_windows) passes, but the grader calls the
    notebook's window_partition, which does not exist."""
    namespace = {"check": check, "solution": windows["window_partition"]}
    exec("def partition_windows(x, window_size):\n    return solution(x, window_size)", namespace)
    exec("check('window_partition', partition_windows)", namespace)
    assert capsys.readouterr().out.splitlines() == [
        "window_partition: all 2 cases passed.",
        "Note: the grader calls the function named `window_partition` in your notebook, and there is none:",
        "    rename `partition_windows` to `window_partition`, or add the line `window_partition =",
        "    partition_windows`.",
    ]
    namespace["window_partition"] = lambda x, window_size: x  # another function holds the name
    exec("check('window_partition', partition_windows)", namespace)
    assert "Note: the grader calls `window_partition`, which in your notebook is another function than " \
           "`partition_windows`" in capsys.readouterr().out.replace("\n    ", " ")
    namespace["window_partition"] = namespace["partition_windows"]  # the line the note suggests
    exec("check('window_partition', partition_windows)", namespace)
    assert capsys.readouterr().out == "window_partition: all 2 cases passed.\n"


def test_a_wrong_return_type_and_an_unknown_task_are_explained():
    ok, lines = feedback("to_tokens", lambda x: None)
    assert not ok and "returned None; expected a tensor (is a `return` missing?)" in "\n".join(lines)
    ok, lines = feedback("receptive_field", lambda kernel_sizes, strides: [1])
    assert "returned a list; expected a number" in "\n".join(lines)
    ok, lines = feedback("window_partitio", print)
    assert not ok and lines[0].startswith("There is no task called 'window_partitio'. The tasks are: to_tokens,")


def test_long_lines_are_printed_wrapped_between_words_never_inside_one(capsys):
    wrong = _pitfall("to_tokens", "reshaping (B, C, H, W) straight to (B, H*W, C)")
    ok, lines = feedback("to_tokens", wrong)
    assert not ok and max(map(len, lines)) > WIDTH  # the known mistake and the hint are long
    check("to_tokens", wrong)
    printed = capsys.readouterr().out.splitlines()
    assert max(map(len, printed)) <= WIDTH
    assert " ".join(printed).split() == " ".join(lines).split()  # the same words, none cut in two
    hint = next(i for i, line in enumerate(printed) if line.startswith("  Hint: "))
    assert printed[hint + 1].startswith("      ") and not printed[hint + 1].startswith("       ")


def test_wrapping_keeps_a_line_that_fits_its_indent_and_a_word_longer_than_the_width():
    assert wrapped(["  case 1: passed", "      got      shape (4, 4)"]) == ["  case 1: passed", "      got      shape (4, 4)"]
    long_word = "x" * 30
    assert wrapped([f"  one two {long_word} three"], width=20) == ["  one two", f"      {long_word}", "      three"]
    assert wrapped([""]) == [""]


@pytest.mark.parametrize("name", list(TASKS))
def test_every_wrong_variant_fails_its_check(name):
    """Each of the task's wrong implementations, as a learner's function: a failed case and the hint, or, where
    it calls a minivit function the task does not allow (as some pitfalls do, to be short), that."""
    for fn in TASKS[name].wrong_variants:
        ok, lines = feedback(name, as_learner_code(fn, name))
        assert not ok, (name, lines)
        assert lines[-1].startswith("  Hint:") or "which the grader does not accept" in lines[0], (name, lines)


def test_every_wrong_variant_in_notebook_code_fails_its_check():
    for stem in {"01_conv_vs_attention", "07_mobilevit_unfold_fold"}:
        functions = functions_of(wrong_notebook(stem))
        for name in WRONG:
            if name in functions:
                ok, lines = feedback(name, functions[name])
                assert not ok and lines[-1].startswith("  Hint:"), name


def test_under_nbgrader_a_failure_raises_so_the_test_cell_loses_its_points(windows, monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    check("window_partition", windows["window_partition"])  # passes: no error
    with pytest.raises(AssertionError, match="cyclic_shift: 0 of 2 cases passed"):
        check("cyclic_shift", lambda x, shift_size: x)
