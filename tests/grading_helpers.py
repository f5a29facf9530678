"""What the grading tests share: the solution and exercise notebooks, the sandbox the end-to-end tests grade
in, and wrong implementations of the graded tasks. The wrong implementations of a task are, first, its own:
`Task.wrong_variants` (its pitfalls' functions), which no change of a solution affects; tests that need a
wrong implementation in process use those (`as_learner_code` makes one look like a learner's function). Tests
that grade whole notebooks need the mistake in notebook code: WRONG and MORE_WRONG hold each mistake as a
learner's whole function, written here and not taken from the pitfalls (test_grading_tasks checks that the
pitfalls name these independent mistakes), and `wrong_notebook` puts it in place of its task's cell. No test
reads a solution's text: a solution rewritten another correct way, or the exercise notebook, gives the same
wrong notebooks (test_grading_variants builds them from the exercises), and the hostile edits of the
end-to-end tests go in at lines every version keeps (`def name(`, BEGIN, `### END SOLUTION`)."""

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

# task -> (the mistake, a learner's whole function that makes it): graded whole by the child-kernel tests
# (test_grading_grader, test_grading_gradebook), and in process. Each is written here, as a learner who made
# that mistake would write the task, neither from the solution's text nor from the task's pitfalls.
WRONG = {
    "to_tokens": ("channels not moved last", '''\
def to_tokens(x: torch.Tensor) -> torch.Tensor:
    B, C, H, W = x.shape
    return x.reshape(B, H * W, C)
'''),
    "conv1x1": ("missing bias", '''\
def conv1x1(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    B, Cin, H, W = x.shape
    tokens = x.reshape(B, Cin, H * W).transpose(1, 2)  # (B, H*W, Cin)
    out = tokens @ weight.T
    return out.transpose(1, 2).reshape(B, -1, H, W)
'''),
    "receptive_field": ("off by one", '''\
def receptive_field(kernel_sizes: list[int], strides: list[int]) -> int:
    field = 0
    jump = 1
    for i in range(len(kernel_sizes)):
        field = field + (kernel_sizes[i] - 1) * jump
        jump = jump * strides[i]
    return field
'''),
    "self_attention": ("softmax over the queries", '''\
def self_attention(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor) -> torch.Tensor:
    q = x @ w_q
    k = x @ w_k
    v = x @ w_v
    scores = torch.bmm(q, k.transpose(-2, -1)) / q.shape[-1] ** 0.5
    return torch.softmax(scores, dim=1) @ v
'''),
    "split_heads": ("no transpose", '''\
def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    B, N, D = x.shape
    return x.reshape(B, num_heads, N, D // num_heads)
'''),
    "merge_heads": ("no transpose", '''\
def merge_heads(x: torch.Tensor) -> torch.Tensor:
    B, nh, N, hs = x.shape
    return x.reshape(B, N, nh * hs)
'''),
    "multi_head_attention": ("no output projection", '''\
def multi_head_attention(x: torch.Tensor, weights: dict[str, torch.Tensor], num_heads: int) -> torch.Tensor:
    D = x.shape[-1]
    qkv = F.linear(x, weights["qkv.weight"], weights["qkv.bias"])
    q = minivit.split_heads(qkv[..., :D], num_heads)
    k = minivit.split_heads(qkv[..., D:2 * D], num_heads)
    v = minivit.split_heads(qkv[..., 2 * D:], num_heads)
    out, _ = minivit.attention(q, k, v)
    return minivit.merge_heads(out)
'''),
    "patchify": ("channel-first token order", '''\
def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    B, C, H, W = x.shape
    p = patch_size
    patches = x.unfold(2, p, p).unfold(3, p, p)  # (B, C, H/p, W/p, p, p)
    patches = patches.permute(0, 2, 3, 1, 4, 5)  # (B, H/p, W/p, C, p, p)
    return patches.reshape(B, -1, C * p * p)
'''),
    "unpatchify": ("rows and columns of patches swapped", '''\
def unpatchify(tokens: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    B, N, D = tokens.shape
    p = patch_size
    C = D // (p * p)
    rows, cols = height // p, width // p
    x = tokens.reshape(B, cols, rows, p, p, C)  # the patches read column by column
    x = x.permute(0, 5, 2, 3, 1, 4)  # (B, C, rows, p, cols, p)
    return x.reshape(B, C, height, width)
'''),
    "patch_embedding": ("weight not reordered", '''\
def patch_embedding(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    D, C, p, _ = weight.shape
    tokens = minivit.patchify(x, p)
    return tokens @ weight.reshape(D, -1).T + bias
'''),
    "add_class_token": ("wrong concat order", '''\
def add_class_token(tokens: torch.Tensor, cls_token: torch.Tensor, pos_embedding: torch.Tensor) -> torch.Tensor:
    cls = cls_token.repeat(tokens.shape[0], 1, 1)
    x = torch.cat((tokens, cls), dim=1)
    return x + pos_embedding
'''),
    "window_partition": ("no permute", '''\
def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    B, H, W, C = x.shape
    M = window_size
    return x.reshape(B * (H // M) * (W // M), M, M, C)
'''),
    "window_reverse": ("window grid transposed", '''\
def window_reverse(windows: torch.Tensor, window_size: int, height: int, width: int) -> torch.Tensor:
    M = window_size
    C = windows.shape[-1]
    rows, cols = height // M, width // M
    x = windows.reshape(-1, cols, rows, M, M, C)  # the windows read column by column
    x = x.permute(0, 2, 3, 1, 4, 5)  # (B, rows, M, cols, M, C)
    return x.reshape(-1, height, width, C)
'''),
    "cyclic_shift": ("wrong roll direction", '''\
def cyclic_shift(x: torch.Tensor, shift_size: int) -> torch.Tensor:
    x = torch.roll(x, shift_size, dims=1)
    return torch.roll(x, shift_size, dims=2)
'''),
    "shifted_window_mask": ("missing mask", '''\
def shifted_window_mask(height: int, width: int, window_size: int, shift_size: int) -> torch.Tensor:
    M = window_size
    regions = torch.zeros(1, height, width, 1)  # the regions never labelled
    windows = minivit.window_partition(regions, M).reshape(-1, M * M)
    diff = windows[:, None, :] - windows[:, :, None]
    return diff.masked_fill(diff != 0, -100.0)
'''),
    "relative_coordinates": ("key minus query", '''\
def relative_coordinates(window_size: int) -> torch.Tensor:
    M = window_size
    coords = torch.tensor([[i // M, i % M] for i in range(M * M)])  # (M*M, 2)
    return coords.unsqueeze(0) - coords.unsqueeze(1)
'''),
    "relative_position_index": ("transposed index", '''\
def relative_position_index(window_size: int) -> torch.Tensor:
    M = window_size
    index = torch.zeros(M * M, M * M, dtype=torch.long)
    for i in range(M * M):
        for j in range(M * M):
            dy = j // M - i // M + M - 1
            dx = j % M - i % M + M - 1
            index[i, j] = dy * (2 * M - 1) + dx
    return index
'''),
    "relative_position_bias": ("each head's matrix transposed", '''\
def relative_position_bias(table: torch.Tensor, window_size: int) -> torch.Tensor:
    index = minivit.relative_position_index(window_size)
    bias = table[index.flatten()].reshape(index.shape[0], index.shape[1], -1)  # (M*M, M*M, nh)
    return bias.permute(2, 1, 0)
'''),
    "merge_patches": ("wrong concat order", '''\
def merge_patches(x: torch.Tensor) -> torch.Tensor:
    top_left = x[:, ::2, ::2]
    top_right = x[:, ::2, 1::2]
    bottom_left = x[:, 1::2, ::2]
    bottom_right = x[:, 1::2, 1::2]
    return torch.cat([top_left, top_right, bottom_left, bottom_right], dim=3)
'''),
    "patch_merging": ("missing LayerNorm", '''\
def patch_merging(
    x: torch.Tensor, norm_weight: torch.Tensor, norm_bias: torch.Tensor, reduction_weight: torch.Tensor
) -> torch.Tensor:
    merged = minivit.merge_patches(x)
    return merged @ reduction_weight.T
'''),
    "shifted_window_attention": ("missing mask", '''\
def shifted_window_attention(
    x: torch.Tensor, weights: dict[str, torch.Tensor], window_size: int, shift_size: int, num_heads: int
) -> torch.Tensor:
    B, H, W, C = x.shape
    M, s, nh = window_size, shift_size, num_heads
    shifted = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
    windows = minivit.window_partition(shifted, M).reshape(-1, M * M, C)
    qkv = F.linear(windows, weights["qkv.weight"], weights["qkv.bias"])
    q, k, v = qkv.reshape(-1, M * M, 3, nh, C // nh).permute(2, 0, 3, 1, 4)
    index = minivit.relative_position_index(M)
    bias = weights["relative_position_bias_table"][index].permute(2, 0, 1)  # (nh, M*M, M*M)
    out, _ = minivit.attention(q, k, v, mask=bias)  # the shifted-window mask forgotten
    out = F.linear(out.transpose(1, 2).reshape(-1, M * M, C), weights["proj.weight"], weights["proj.bias"])
    out = minivit.window_reverse(out.reshape(-1, M, M, C), M, H, W)
    return torch.roll(out, shifts=(s, s), dims=(1, 2))
'''),
    "mobilevit_unfold": ("one patch per sequence", '''\
def mobilevit_unfold(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    B, C, H, W = x.shape
    p = patch_size
    columns = F.unfold(x, kernel_size=p, stride=p)  # (B, C*p*p, N), one column per patch
    N = columns.shape[-1]
    columns = columns.reshape(B, C, p * p, N).permute(0, 3, 2, 1)  # (B, N, P, C)
    return columns.reshape(B * p * p, N, C)
'''),
    "mobilevit_fold": ("positions inside the patch swapped", '''\
def mobilevit_fold(tokens: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    p, C = patch_size, tokens.shape[-1]
    B = tokens.shape[0] // (p * p)
    out = tokens.new_zeros(B, C, height, width)
    for b in range(B):
        for r in range(p):
            for c in range(p):
                grid = tokens[b * p * p + r * p + c].reshape(height // p, width // p, C)
                out[b, :, c::p, r::p] = grid.permute(2, 0, 1)  # row and column offsets swapped
    return out
'''),
    "transformer_block": ("norm2(x) added, no MLP", '''\
def transformer_block(x: torch.Tensor, weights: dict[str, torch.Tensor], num_heads: int) -> torch.Tensor:
    B, N, D = x.shape
    h = F.layer_norm(x, (D,), weights["norm1.weight"], weights["norm1.bias"], eps=1e-5)
    qkv = h @ weights["attn.qkv.weight"].T + weights["attn.qkv.bias"]
    q, k, v = qkv.reshape(B, N, 3, num_heads, D // num_heads).permute(2, 0, 3, 1, 4)
    a, _ = minivit.attention(q, k, v)
    x = x + a.transpose(1, 2).reshape(B, N, D) @ weights["attn.proj.weight"].T + weights["attn.proj.bias"]
    h = F.layer_norm(x, (D,), weights["norm2.weight"], weights["norm2.bias"], eps=1e-5)
    return x + h  # the MLP forgotten
'''),
    "evaluate": ("train mode", '''\
def evaluate(weights: dict[str, torch.Tensor], images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    model = classifier(weights)  # model.eval() forgotten
    right = 0
    with torch.no_grad():
        for x, y in DataLoader(TensorDataset(images, labels), batch_size=batch_size):
            right += int((model(x).argmax(1) == y).sum())
    return right / len(images)
'''),
    "fit": ("no zero_grad", '''\
def fit(
    weights: dict[str, torch.Tensor], images: torch.Tensor, labels: torch.Tensor, epochs: int, batch_size: int, lr: float
) -> torch.Tensor:
    model = classifier(weights)
    batches = DataLoader(TensorDataset(images, labels), batch_size=batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(batches))
    history = []
    for epoch in range(epochs):
        total = 0.0
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            loss.backward()  # the gradients never cleared
            opt.step()
            sched.step()
            total += loss.item() * y.shape[0]
        history.append(total / images.shape[0])
    return torch.tensor(history)
'''),
    "mean_iou": ("a class in neither mask counted as 0", '''\
def mean_iou(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    total = 0.0
    for k in range(num_classes):
        intersection = ((pred == k) & (target == k)).sum().item()
        union = ((pred == k) | (target == k)).sum().item()
        total += intersection / union if union else 0.0
    return total / num_classes
'''),
    "cam_from_features": ("pooled before the weight", '''\
def cam_from_features(weight: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    pooled = features.mean(dim=(2, 3))  # (B, C)
    return pooled @ weight.T
'''),
    "masks_from_cams": ("one maximum for all the maps", '''\
def masks_from_cams(cams: torch.Tensor, present: torch.Tensor, threshold: float) -> torch.Tensor:
    scaled = cams.clamp(min=0) / cams.max()
    scaled = scaled * present[:, :, None, None]
    best, k = scaled.max(dim=1)
    return torch.where(best >= threshold, k + 1, 0)
'''),
}

# More mistakes, checked in process: those the check cell must name as a pitfall (test_grading_tasks.NAMED),
# and one that no pitfall is (the others are their task's pitfalls).
MORE_WRONG = {
    "multi_head_attention": ("scaled by sqrt(D)", '''\
def multi_head_attention(x: torch.Tensor, weights: dict[str, torch.Tensor], num_heads: int) -> torch.Tensor:
    B, N, D = x.shape
    qkv = x @ weights["qkv.weight"].T + weights["qkv.bias"]
    q, k, v = [minivit.split_heads(t, num_heads) for t in qkv.split(D, dim=-1)]
    scores = q @ k.transpose(-2, -1) / math.sqrt(D)
    out = scores.softmax(dim=-1) @ v
    return minivit.merge_heads(out) @ weights["proj.weight"].T + weights["proj.bias"]
'''),
    "cyclic_shift": ("one axis only", '''\
def cyclic_shift(x: torch.Tensor, shift_size: int) -> torch.Tensor:
    return torch.roll(x, -shift_size, dims=1)
'''),
    "shifted_window_mask": ("regions off by one", '''\
def shifted_window_mask(height: int, width: int, window_size: int, shift_size: int) -> torch.Tensor:
    M, s = window_size, shift_size
    regions = torch.zeros(height, width)
    row_edges = [0, height - M, height - s + 1, height]
    col_edges = [0, width - M, width - s + 1, width]
    label = 0
    for i in range(3):
        for j in range(3):
            regions[row_edges[i]:row_edges[i + 1], col_edges[j]:col_edges[j + 1]] = label
            label += 1
    windows = minivit.window_partition(regions[None, :, :, None], M).reshape(-1, M * M)
    same = windows.unsqueeze(1) == windows.unsqueeze(2)
    return torch.where(same, 0.0, -100.0)
'''),
    "shifted_window_attention": ("no roll back", '''\
def shifted_window_attention(
    x: torch.Tensor, weights: dict[str, torch.Tensor], window_size: int, shift_size: int, num_heads: int
) -> torch.Tensor:
    B, H, W, C = x.shape
    M, s, nh = window_size, shift_size, num_heads
    x = torch.roll(x, shifts=(-s, -s), dims=(1, 2))
    tokens = minivit.window_partition(x, M).flatten(1, 2)  # (B*nW, M*M, C)
    q, k, v = (tokens @ weights["qkv.weight"].T + weights["qkv.bias"]).chunk(3, dim=-1)
    q, k, v = (t.reshape(t.shape[0], M * M, nh, C // nh).transpose(1, 2) for t in (q, k, v))
    table = weights["relative_position_bias_table"]
    bias = table[minivit.relative_position_index(M).flatten()].T.reshape(nh, M * M, M * M)
    mask = minivit.shifted_window_mask(H, W, M, s).repeat(B, 1, 1)  # (B*nW, M*M, M*M)
    out, _ = minivit.attention(q, k, v, mask=bias + mask[:, None])
    out = out.transpose(1, 2).flatten(2) @ weights["proj.weight"].T + weights["proj.bias"]
    return minivit.window_reverse(out.reshape(-1, M, M, C), M, H, W)  # not rolled back
'''),
    "transformer_block": ("GELU instead of SiLU", '''\
def transformer_block(x: torch.Tensor, weights: dict[str, torch.Tensor], num_heads: int) -> torch.Tensor:
    B, N, D = x.shape

    def ln(t, name):
        return F.layer_norm(t, (D,), weights[name + ".weight"], weights[name + ".bias"], eps=1e-5)

    def lin(t, name):
        return F.linear(t, weights[name + ".weight"], weights[name + ".bias"])

    q, k, v = lin(ln(x, "norm1"), "attn.qkv").chunk(3, dim=-1)
    q, k, v = (t.reshape(B, N, num_heads, D // num_heads).transpose(1, 2) for t in (q, k, v))
    a, _ = minivit.attention(q, k, v)
    x = x + lin(a.transpose(1, 2).reshape(B, N, D), "attn.proj")
    return x + lin(F.gelu(lin(ln(x, "norm2"), "mlp.fc1")), "mlp.fc2")
'''),
    "evaluate": ("the mean of the batches' accuracies", '''\
def evaluate(weights: dict[str, torch.Tensor], images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> float:
    model = classifier(weights)
    model.eval()
    accuracies = []
    with torch.no_grad():
        for x, y in DataLoader(TensorDataset(images, labels), batch_size=batch_size):
            accuracies.append((model(x).argmax(dim=1) == y).float().mean().item())
    return sum(accuracies) / len(accuracies)
'''),
    "fit": ("the mean of the batches' losses", '''\
def fit(
    weights: dict[str, torch.Tensor], images: torch.Tensor, labels: torch.Tensor, epochs: int, batch_size: int, lr: float
) -> torch.Tensor:
    model = classifier(weights)
    loader = DataLoader(TensorDataset(images, labels), batch_size=batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
    epoch_losses = []
    for _ in range(epochs):
        batch_losses = []
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            batch_losses.append(loss.item())
        epoch_losses.append(sum(batch_losses) / len(batch_losses))  # every batch counted alike
    return torch.tensor(epoch_losses)
'''),
    "mean_iou": ("the mean of each image's mean IoU", '''\
def mean_iou(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> float:
    per_image = []
    for p, t in zip(pred, target):
        ious = []
        for k in range(num_classes):
            union = ((p == k) | (t == k)).sum()
            if union > 0:
                ious.append(((p == k) & (t == k)).sum() / union)
        per_image.append(sum(ious) / len(ious))
    return float(sum(per_image) / len(per_image))
'''),
    "masks_from_cams": ("class k numbered k", '''\
def masks_from_cams(cams: torch.Tensor, present: torch.Tensor, threshold: float) -> torch.Tensor:
    cams = cams.clamp(min=0)
    cams = cams / cams.amax(dim=(2, 3), keepdim=True).clamp(min=1e-12)
    cams = cams.masked_fill(~present.bool()[:, :, None, None], 0.0)
    best, k = cams.max(dim=1)
    return torch.where(best >= threshold, k, 0)  # background and class 0 both 0
'''),
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
    """`source` with each `old` (exactly once in it) replaced by `new`: anchored on lines every version of a
    solution keeps (its `def` line, BEGIN, `### END SOLUTION`), never on a solution's own code."""
    for old, new in edits:
        assert source.count(old) == 1, f"{old!r} is not exactly once in the cell below:\n{source}"
        source = source.replace(old, new)
    return source


def wrong_notebook(stem: str, wrong: dict = WRONG, folder: Path | None = None) -> nbformat.NotebookNode:
    """The notebook `stem` of `folder` (SOLUTIONS when None, or EXERCISES: their task cells have the same
    grade_id) with the cell of every task in `wrong` holding that wrong function instead of its code; the cell
    and its metadata are kept."""
    nb = nbformat.read((folder or SOLUTIONS) / f"{stem}.ipynb", as_version=4)
    for task in NOTEBOOKS[stem]:
        if task in wrong:
            solution_cell(nb, task).source = wrong[task][1]
    return nb


def functions_of(nb: nbformat.NotebookNode) -> dict:
    """Run a notebook's code cells, except the check cells, in this process; return its namespace."""
    namespace: dict = {}
    for number, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and not cell.source.startswith("check("):
            exec(compile(cell.source, f"<cell {number}>", "exec"), namespace)
    return namespace


def hostile(stem: str, changes: dict[str, list[tuple[str, str]]]) -> nbformat.NotebookNode:
    """The solution notebook `stem` with edits to some tasks' cells: {task: [(old, new), ...]}, each `old` a line
    that every version of the solution keeps (see `edit`)."""
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
