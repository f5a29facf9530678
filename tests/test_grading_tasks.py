"""The graded tasks, without kernels: their references against the libraries they teach, the solution
notebooks against hidden cases, and every wrong variant caught, in this process."""

from __future__ import annotations

import functools

import pytest
import torch
from sklearn.metrics import jaccard_score
from timm.models.vision_transformer import Block
from torch.utils.data import DataLoader, TensorDataset
from torchvision.models.swin_transformer import PatchMerging, ShiftedWindowAttention

from minivit.grading import NOTEBOOKS, TASKS
from minivit.grading.check import feedback
from minivit.grading.child import call
from minivit.grading.compare import case_problem, recognise
from minivit.grading.tasks import Draw
from minivit.grading.tracing import Tracer
from minivit.instructor.grade import Hidden, hidden_cases, judge
from minivit.train import evaluate, fit
from grading_helpers import MORE_WRONG, ROOT, SOLUTIONS, WRONG, functions_of, solution_notebook, wrong_notebook

pytestmark = pytest.mark.versions  # the tasks' references against torchvision and timm

SEEDS = [0, 1, 2, 3, 4]


def test_at_least_15_tasks_over_the_graded_notebooks():
    assert len(TASKS) >= 15
    assert sorted(NOTEBOOKS) == sorted(p.stem for p in SOLUTIONS.glob("*.ipynb"))  # a solution per graded notebook
    assert set(NOTEBOOKS) <= {p.stem for p in (ROOT / "course").glob("*.ipynb")}  # each teaches what its tasks ask
    assert all(task.points >= 1 and task.hint and task.pitfalls for task in TASKS.values())


@pytest.mark.parametrize("name", list(TASKS))
def test_hidden_cases_are_random_and_not_the_public_ones(name):
    task = TASKS[name]
    public = [repr(case.args) for case in task.public()]
    first, second = [[repr(case.args) for case in task.hidden(Draw(seed))] for seed in (1, 2)]
    assert first != second
    assert not set(first) & set(public)
    assert [repr(case.args) for case in task.hidden(Draw(1))] == first  # one seed, one set of cases


def _run(task_name: str, fn, seed: int) -> str:
    """The grader's status for `fn` on the hidden cases of `seed`, judged in this process, with the minivit
    functions it entered."""
    hidden = hidden_cases(seed, [task_name])[task_name]
    tracer = Tracer()
    results = call(fn, [case.args for case in hidden.cases], tracer)
    outcome = {"results": results, "entered": sorted(tracer.entered), "refused": tracer.refused}
    return judge(TASKS[task_name], hidden, outcome, "test").status


@pytest.mark.parametrize("stem", list(NOTEBOOKS))
def test_solutions_pass_the_hidden_cases_of_every_seed(stem):
    functions = functions_of(solution_notebook(stem))
    for name in NOTEBOOKS[stem]:
        assert [_run(name, functions[name], seed) for seed in SEEDS] == ["passed"] * len(SEEDS), name


@pytest.mark.parametrize("name", list(TASKS))
def test_every_wrong_variant_of_a_task_fails_its_public_and_the_hidden_cases_of_every_seed(name):
    """The task's own wrong implementations (its pitfalls), which no rewrite of a solution changes."""
    task = TASKS[name]
    assert task.wrong_variants
    public = task.public()
    for fn in task.wrong_variants:
        results = call(fn, [case.args for case in public])
        assert any(case_problem(task, c, task.reference(*c.args), r) for c, r in zip(public, results)), fn
        for seed in SEEDS:
            hidden = hidden_cases(seed, [name])[name]
            outcome = {"results": call(fn, [case.args for case in hidden.cases]), "entered": [], "refused": []}
            assert judge(task, hidden, outcome, "test").status in {"failed", "error"}, (name, seed)


@pytest.mark.parametrize("stem", list(NOTEBOOKS))
@pytest.mark.parametrize("wrong", [WRONG, MORE_WRONG], ids=["wrong", "more_wrong"])
def test_wrong_variants_fail_the_public_and_the_hidden_cases_of_every_seed(stem, wrong):
    """The mistakes written as learners' whole functions, in the notebooks as the whole-notebook tests grade them."""
    functions = functions_of(wrong_notebook(stem, wrong))
    for name in NOTEBOOKS[stem]:
        if name not in wrong:
            continue
        task = TASKS[name]
        public = task.public()
        results = call(functions[name], [case.args for case in public])
        assert any(case_problem(task, c, task.reference(*c.args), r) for c, r in zip(public, results)), name
        statuses = [_run(name, functions[name], seed) for seed in SEEDS]
        assert all(status in {"failed", "error"} for status in statuses), (name, wrong[name][0], statuses)


def test_known_mistakes_are_named_in_the_feedback():
    task = TASKS["cyclic_shift"]
    case = task.hidden(Draw(0))[0]
    x, s = case.args
    lines = case_problem(task, case, task.reference(*case.args), {"value": torch.roll(x, (s, s), dims=(1, 2))})
    assert "known mistake: rolled the wrong way" in lines[-1]


# --- references against the libraries ---------------------------------------------------------------


def test_receptive_field_equals_the_gradient_of_a_conv_stack():
    task = TASKS["receptive_field"]
    for case in task.public() + task.hidden(Draw(0)) + task.hidden(Draw(1)):
        kernels, strides = case.args
        layers = [torch.nn.Conv1d(1, 1, k, s, bias=False) for k, s in zip(kernels, strides)]
        for layer in layers:
            torch.nn.init.constant_(layer.weight, 1.0)  # positive weights: no gradient cancels out
        x = torch.zeros(1, 1, 4 * task.reference(kernels, strides), requires_grad=True)
        out = torch.nn.Sequential(*layers)(x)
        out[0, 0, out.shape[-1] // 2].backward()
        assert int((x.grad != 0).sum()) == task.reference(kernels, strides), case.args


def test_shifted_window_attention_reference_equals_torchvision():
    for case in TASKS["shifted_window_attention"].hidden(Draw(0)):
        x, weights, M, s, nh = case.args
        layer = ShiftedWindowAttention(x.shape[-1], [M, M], [s, s], nh)
        layer.load_state_dict({**weights, "relative_position_index": layer.relative_position_index})
        with torch.no_grad():
            expected = layer.eval()(x)
        torch.testing.assert_close(TASKS["shifted_window_attention"].reference(*case.args), expected, rtol=1e-5, atol=1e-5)


def test_patch_merging_reference_equals_torchvision():
    for case in TASKS["patch_merging"].hidden(Draw(0)):
        x, norm_weight, norm_bias, reduction_weight = case.args
        layer = PatchMerging(x.shape[-1])
        layer.load_state_dict({"norm.weight": norm_weight, "norm.bias": norm_bias, "reduction.weight": reduction_weight})
        with torch.no_grad():
            torch.testing.assert_close(TASKS["patch_merging"].reference(*case.args), layer(x), rtol=1e-6, atol=1e-6)


def test_multi_head_attention_reference_equals_torch():
    for case in TASKS["multi_head_attention"].hidden(Draw(0)):
        x, weights, nh = case.args
        layer = torch.nn.MultiheadAttention(x.shape[-1], nh, batch_first=True)
        layer.load_state_dict({"in_proj_weight": weights["qkv.weight"], "in_proj_bias": weights["qkv.bias"],
                               "out_proj.weight": weights["proj.weight"], "out_proj.bias": weights["proj.bias"]})
        with torch.no_grad():
            expected, _ = layer.eval()(x, x, x, need_weights=False)
        torch.testing.assert_close(TASKS["multi_head_attention"].reference(*case.args), expected, rtol=1e-5, atol=1e-5)


def test_transformer_block_reference_equals_timms_block_as_mobilevit_builds_it():
    for case in TASKS["transformer_block"].hidden(Draw(0)):
        x, weights, nh = case.args
        D = x.shape[-1]
        block = Block(D, nh, mlp_ratio=weights["mlp.fc1.weight"].shape[0] / D, qkv_bias=True,
                      act_layer=torch.nn.SiLU, norm_layer=functools.partial(torch.nn.LayerNorm, eps=1e-5))
        block.load_state_dict(weights)
        with torch.no_grad():
            expected = block.eval()(x)
        torch.testing.assert_close(TASKS["transformer_block"].reference(*case.args), expected, rtol=1e-5, atol=1e-5)


def test_mean_iou_reference_equals_scikit_learns_macro_jaccard_score():
    """scikit-learn averages the IoU (Jaccard index) over the labels found in either mask, as mean IoU leaves out
    a class in neither."""
    for case in TASKS["mean_iou"].public() + TASKS["mean_iou"].hidden(Draw(0)):
        pred, target, K = case.args
        expected = jaccard_score(target.reshape(-1).numpy(), pred.reshape(-1).numpy(), average="macro")
        assert TASKS["mean_iou"].reference(*case.args) == pytest.approx(expected, rel=1e-12), case.args


def test_fit_reference_equals_minivits_fit():
    """fit's reference, the loop its pitfalls each change in one place, gives minivit.train.fit's training losses."""
    from minivit.grading.tasks.nb08_training import classifier

    for case in TASKS["fit"].public() + TASKS["fit"].hidden(Draw(0)):
        weights, images, labels, epochs, batch_size, lr = case.args
        loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size)
        history = fit(classifier(weights), loader, epochs=epochs, lr=lr, weight_decay=0.05, progress=False)
        torch.testing.assert_close(TASKS["fit"].reference(*case.args), torch.tensor(history.train_loss),
                                   rtol=1e-6, atol=1e-6)


def test_evaluate_reference_equals_minivits_evaluate():
    """evaluate's reference, written out because the grading floor imports no training code, is minivit.train's."""
    from minivit.grading.tasks.nb08_training import classifier

    for case in TASKS["evaluate"].public() + TASKS["evaluate"].hidden(Draw(0)) + TASKS["evaluate"].hidden(Draw(1)):
        weights, images, labels, batch_size = case.args
        loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size)
        assert TASKS["evaluate"].reference(*case.args) == evaluate(classifier(weights), loader)


# --- the known mistakes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(TASKS))
def test_every_pitfall_is_a_mistake_on_every_hidden_case(name):
    task = TASKS[name]
    for case in task.public()[-1:] + task.hidden(Draw(0)) + task.hidden(Draw(1)):
        with torch.no_grad():
            expected = task.reference(*case.args)
            for pitfall in task.pitfalls:
                assert case_problem(task, case, expected, {"value": pitfall.fn(*case.args)}), (pitfall.says, case.args)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_pitfall_is_named_as_itself(name):
    """No pitfall hides behind an earlier one that always gives the same output: on some case, each is
    recognised as itself (on a few, two mistakes can coincide, e.g. N == nh for two reshapes of split_heads)."""
    task = TASKS[name]
    cases = task.public() + task.hidden(Draw(0))
    for pitfall in task.pitfalls:
        with torch.no_grad():
            named = [recognise(task, case, pitfall.fn(*case.args)) for case in cases]
        assert pitfall.says in named, pitfall.says


# task -> the start of the pitfall that names the mistake of its WRONG and its MORE_WRONG function
NAMED = {
    "multi_head_attention": ("the output projection is missing", "the scores are divided by sqrt(D)"),
    "shifted_window_attention": ("the shifted-window mask is missing", "the result is not rolled back"),
    "transformer_block": ("the second half adds norm2(x) to x and has no MLP", "the MLP uses GELU"),
    "patch_merging": ("the LayerNorm is missing", None),
    "cyclic_shift": ("rolled the wrong way", "the rows (axis 1) moved but the columns (axis 2) did not"),
    "evaluate": ("the model ran in train mode", "this is the mean of the batches' accuracies"),
    "fit": ("the gradients were never set to zero", "each epoch's loss is the mean of its batches' losses"),
    "mean_iou": ("a class that is in neither mask was counted as IoU 0", "this is the mean of each image's mean IoU"),
    "cam_from_features": ("the map was averaged over its places first", None),
    "masks_from_cams": ("all the maps were divided by one maximum", "class k was given the index k"),
}


@pytest.mark.parametrize("name", list(NAMED))
def test_the_check_cell_names_the_mistake_of_a_wrong_variant(name):
    stem = TASKS[name].notebook
    for wrong, words in zip([WRONG, MORE_WRONG], NAMED[name]):
        if words is None:
            continue
        ok, lines = feedback(name, functions_of(wrong_notebook(stem, wrong))[name])
        assert not ok and f"this looks like a known mistake: {words}" in "\n".join(lines), (name, lines)


# Mistakes a learner makes, each written by hand as a whole function (not taken from the pitfalls' own
# functions, nor from the solution's text), and the start of the feedback that should name each
WRITTEN_MISTAKES = {
    "relative_position_index": ('''\
def relative_position_index(window_size: int) -> torch.Tensor:
    M = window_size
    position = torch.arange(M * M)
    rows, cols = position // M, position % M
    dy = rows[:, None] - rows[None, :] + M - 1
    dx = cols[:, None] - cols[None, :] + M - 1
    return dy * 2 * M + dx
''', "the row offset is multiplied by 2M;"),
    "shifted_window_attention": ('''\
def shifted_window_attention(
    x: torch.Tensor, weights: dict[str, torch.Tensor], window_size: int, shift_size: int, num_heads: int
) -> torch.Tensor:
    B, H, W, C = x.shape
    M, s, nh = window_size, shift_size, num_heads
    windows = minivit.window_partition(x, M).reshape(-1, M * M, C)  # the map never rolled
    qkv = F.linear(windows, weights["qkv.weight"], weights["qkv.bias"])
    q, k, v = qkv.reshape(-1, M * M, 3, nh, C // nh).permute(2, 0, 3, 1, 4)
    bias = weights["relative_position_bias_table"][minivit.relative_position_index(M)].permute(2, 0, 1)
    mask = minivit.shifted_window_mask(H, W, M, s).repeat(B, 1, 1)
    out, _ = minivit.attention(q, k, v, mask=bias + mask[:, None])
    out = F.linear(out.transpose(1, 2).reshape(-1, M * M, C), weights["proj.weight"], weights["proj.bias"])
    return minivit.window_reverse(out.reshape(-1, M, M, C), M, H, W)
''', "the map is not shifted"),
    "transformer_block": ('''\
def transformer_block(x: torch.Tensor, weights: dict[str, torch.Tensor], num_heads: int) -> torch.Tensor:
    B, N, D = x.shape
    h = F.layer_norm(x, (D,), weights["norm1.weight"], weights["norm1.bias"], eps=1e-5)
    qkv = h @ weights["attn.qkv.weight"].T + weights["attn.qkv.bias"]
    q, k, v = qkv.reshape(B, N, 3, num_heads, D // num_heads).permute(2, 0, 3, 1, 4)
    a = (q @ k.transpose(-2, -1)).softmax(-1) @ v  # not divided by sqrt(hs)
    x = x + a.transpose(1, 2).reshape(B, N, D) @ weights["attn.proj.weight"].T + weights["attn.proj.bias"]
    h = F.layer_norm(x, (D,), weights["norm2.weight"], weights["norm2.bias"], eps=1e-5)
    h = F.silu(h @ weights["mlp.fc1.weight"].T + weights["mlp.fc1.bias"])
    return x + h @ weights["mlp.fc2.weight"].T + weights["mlp.fc2.bias"]
''', "the attention's scores q k^T are not divided by sqrt(hs)"),
}


@pytest.mark.parametrize("name", list(WRITTEN_MISTAKES))
def test_the_check_cell_names_a_mistake_written_by_hand(name):
    source, words = WRITTEN_MISTAKES[name]
    wrong = {name: ("written by hand", source)}
    ok, lines = feedback(name, functions_of(wrong_notebook(TASKS[name].notebook, wrong))[name])
    assert not ok and f"this looks like a known mistake: {words}" in "\n".join(lines), (name, lines)


def test_hidden_cases_come_with_expected_outputs():
    hidden = hidden_cases(7)
    assert set(hidden) == set(TASKS)
    assert all(isinstance(h, Hidden) and len(h.cases) == len(h.expected) >= 2 for h in hidden.values())


def test_minivits_own_function_and_a_missing_function_score_nothing():
    hidden = hidden_cases(3, ["window_partition"])["window_partition"]
    task = TASKS["window_partition"]
    handed_in = judge(task, hidden, {"results": [], "entered": ["minivit.ops.windows.window_partition"], "refused": []},
                      "test")
    assert (handed_in.score, handed_in.status) == (0, "not own code")
    assert "runs minivit's own minivit.ops.windows.window_partition" in handed_in.message
    missing = judge(task, hidden, {"missing": "is not defined"}, "test", "raised SyntaxError: invalid syntax")
    assert (missing.status, missing.message) == (
        "missing", "window_partition is not defined in the notebook; its cell raised SyntaxError: invalid syntax")
