"""The graded tasks of the exercise notebooks, one per function a learner writes.

A task knows its points, the minivit reference that computes the expected output, a few public
cases (what the check cell in the notebook runs), a generator of hidden cases with random sizes and
values (what the grader runs), a hint, the known mistakes ("pitfalls") whose output it can
recognise and name, and the minivit helpers the learner may call: calling any other minivit
function, the task's own implementation above all, makes the task "not own code" (see tracing.py).

Glossary as in the course: B batch, C channels, H x W map, M window size, s shift, p patch size,
N tokens, D embedding size, nh heads, hs = D / nh head size.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F

from minivit import (
    attention,
    merge_heads,
    merge_patches,
    mobilevit_fold,
    mobilevit_unfold,
    patchify,
    relative_position_index,
    shifted_window_mask,
    split_heads,
    unpatchify,
    window_partition,
    window_reverse,
)


@dataclass(frozen=True)
class Case:
    """One call of the learner's function: its positional arguments, and how feedback names it."""

    args: tuple
    note: str = ""  # plain words for the inputs; made from the arguments when empty


@dataclass(frozen=True)
class Pitfall:
    """A known mistake: when the learner's output equals `fn`'s, feedback says `says`."""

    says: str
    fn: Callable[..., Any]


@dataclass(frozen=True)
class Task:
    name: str  # the function the learner writes; also nbgrader's grade_id of its cell
    notebook: str  # stem of the notebook it belongs to, e.g. "04_window_shift_mask"
    points: int
    params: tuple[str, ...]  # the function's parameter names, to describe cases
    reference: Callable[..., Any]  # computes the expected output from the same arguments
    public: Callable[[], list[Case]]
    hidden: Callable[[Draw], list[Case]]
    hint: str
    pitfalls: tuple[Pitfall, ...] = ()
    helpers: tuple[Callable, ...] = ()  # the minivit functions it may call; any other makes it "not own code"
    rtol: float = 1e-4
    atol: float = 1e-5


class Draw:
    """Sizes and values of cases, all from one seed so that a grading run can be repeated."""

    def __init__(self, seed: int):
        self.sizes = random.Random(seed)
        self.values = torch.Generator().manual_seed(seed)

    def size(self, low: int, high: int) -> int:
        return self.sizes.randint(low, high)

    def pick(self, options: list) -> Any:
        return self.sizes.choice(options)

    def randn(self, *shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(shape, generator=self.values) * scale


TASKS: dict[str, Task] = {}  # in course order
NOTEBOOKS: dict[str, list[str]] = {}  # notebook stem -> its task names, in order


def _task(**fields: Any) -> None:
    task = Task(**fields)
    TASKS[task.name] = task
    NOTEBOOKS.setdefault(task.notebook, []).append(task.name)


def tasks_of(notebook: str) -> list[Task]:
    return [TASKS[name] for name in NOTEBOOKS.get(notebook, [])]


def _arange(*shape: int) -> torch.Tensor:
    return torch.arange(math.prod(shape), dtype=torch.float32).reshape(shape)


def _three(d: Draw, sizes: Callable[[Draw], tuple]) -> list[tuple]:
    """Three draws of `sizes`, one per hidden case."""
    return [sizes(d) for _ in range(3)]


# --- 01 conv vs attention ----------------------------------------------------------------------------

NB01 = "01_conv_vs_attention"

_task(
    name="to_tokens",
    notebook=NB01,
    points=1,
    params=("x",),
    reference=lambda x: patchify(x, 1),  # 1 x 1 patches: one token per pixel
    public=lambda: [
        Case((_arange(1, 2, 2, 3),), "x of shape (1, 2, 2, 3) holding 0..11"),
        Case((Draw(0).randn(2, 3, 4, 5),)),
    ],
    hidden=lambda d: [Case((d.randn(d.size(1, 3), d.size(2, 5), d.size(2, 5), d.size(2, 6)),)) for _ in range(3)],
    hint="Flatten the two spatial axes into one, then move the channels last: "
    "(B, C, H, W) -> (B, C, H*W) -> (B, H*W, C), e.g. x.flatten(2).transpose(1, 2).",
    pitfalls=(
        Pitfall("reshaping (B, C, H, W) straight to (B, H*W, C) mixes channels and pixels: flatten H and W, "
                "then move the channels last with transpose", lambda x: x.reshape(x.shape[0], -1, x.shape[1])),
        Pitfall("(B, C, H*W) still has the channels first: transpose the last two axes so that each token "
                "holds one pixel's C values", lambda x: x.flatten(2)),
        Pitfall("(B, C*H*W) is one long vector per image, not a sequence of tokens", lambda x: x.flatten(1)),
    ),
)


def _conv1x1_cases(d: Draw, sizes: list[tuple[int, int, int, int, int]]) -> list[Case]:
    return [Case((d.randn(B, Cin, H, W), d.randn(Cout, Cin), d.randn(Cout))) for B, Cin, Cout, H, W in sizes]


def _conv1x1_hidden(d: Draw) -> list[Case]:
    sizes = []
    for _ in range(3):
        Cin = d.size(2, 6)
        Cout = d.pick([c for c in range(2, 7) if c != Cin])
        sizes.append((d.size(1, 3), Cin, Cout, d.size(1, 5), d.size(1, 5)))
    return _conv1x1_cases(d, sizes)


_task(
    name="conv1x1",
    notebook=NB01,
    points=1,
    params=("x", "weight", "bias"),
    reference=lambda x, weight, bias: F.conv2d(x, weight[:, :, None, None], bias),
    public=lambda: _conv1x1_cases(Draw(0), [(1, 3, 4, 2, 2), (2, 5, 2, 3, 4)]),
    hidden=_conv1x1_hidden,
    hint="At every pixel the Cin channel values form one vector. Move the channels last, (B, H, W, Cin), "
    "apply x @ weight.T + bias (or F.linear), and move them back to (B, Cout, H, W).",
    pitfalls=(
        Pitfall("the bias is missing: add it to every output pixel",
                lambda x, weight, bias: F.conv2d(x, weight[:, :, None, None])),
    ),
)


def _receptive_field(kernel_sizes: list[int], strides: list[int]) -> int:
    field, jump = 1, 1  # jump: distance in input pixels between neighbouring positions of the current layer
    for k, s in zip(kernel_sizes, strides):
        field += (k - 1) * jump
        jump *= s
    return field


def _receptive_field_hidden(d: Draw) -> list[Case]:
    cases = []
    while len(cases) < 3:
        n = d.size(3, 5)
        # a first layer with a wide kernel and stride 2, a last with a wide kernel: every formula mistake shows
        kernels = [d.pick([3, 5, 7])] + [d.pick([1, 3, 5, 7]) for _ in range(n - 2)] + [d.pick([3, 5, 7])]
        strides = [2] + [d.pick([1, 2, 3]) for _ in range(n - 1)]
        if (kernels, strides) != ([7, 3, 3], [2, 2, 1]):  # not the public case
            cases.append(Case((kernels, strides)))
    return cases


def _field_ignoring_strides(kernel_sizes: list[int], strides: list[int]) -> int:
    return 1 + sum(k - 1 for k in kernel_sizes)


def _field_stride_too_early(kernel_sizes: list[int], strides: list[int]) -> int:
    field, jump = 1, 1
    for k, s in zip(kernel_sizes, strides):
        jump *= s
        field += (k - 1) * jump
    return field


_task(
    name="receptive_field",
    notebook=NB01,
    points=2,
    params=("kernel_sizes", "strides"),
    reference=_receptive_field,
    public=lambda: [Case(([3], [1])), Case(([3, 3], [1, 1])), Case(([7, 3, 3], [2, 2, 1]))],
    hidden=_receptive_field_hidden,
    hint="Each layer widens the field by (k - 1) steps, and one step of layer i is as many input pixels "
    "as the product of the strides of the layers before it: field = 1 + sum((k_i - 1) * s_1 * ... * s_(i-1)).",
    pitfalls=(
        Pitfall("the strides are ignored: after a stride-2 layer, one step of the next layer spans 2 input pixels",
                _field_ignoring_strides),
        Pitfall("a layer's own stride only affects the layers after it, not its own kernel",
                _field_stride_too_early),
    ),
)


def _self_attention(x: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor) -> torch.Tensor:
    return attention(x @ w_q, x @ w_k, x @ w_v)[0]


def _self_attention_cases(d: Draw, sizes: list[tuple[int, int, int, int, int]]) -> list[Case]:
    return [Case((d.randn(B, N, D), d.randn(D, dk), d.randn(D, dk), d.randn(D, dv))) for B, N, D, dk, dv in sizes]


def _attention_unscaled(x, w_q, w_k, w_v):
    return attention(x @ w_q, x @ w_k, x @ w_v, scale=1.0)[0]


def _attention_softmax_over_queries(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return ((q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])).softmax(dim=-2) @ v


_task(
    name="self_attention",
    notebook=NB01,
    points=2,
    params=("x", "w_q", "w_k", "w_v"),
    reference=_self_attention,
    public=lambda: _self_attention_cases(Draw(0), [(1, 3, 4, 2, 2), (2, 5, 6, 4, 3)]),
    hidden=lambda d: _self_attention_cases(
        d, [(d.size(1, 3), d.size(3, 8), d.size(4, 10), d.size(2, 8), d.size(2, 8)) for _ in range(3)]
    ),
    hint="q, k, v = x @ w_q, x @ w_k, x @ w_v; scores = q @ k.transpose(-2, -1) / sqrt(d) with d = q.shape[-1]; "
    "softmax over the last axis (the keys); output = weights @ v.",
    pitfalls=(
        Pitfall("the scores are not divided by sqrt(d), the size of a query", _attention_unscaled),
        Pitfall("the softmax runs over the queries (dim=-2): each query's weights over the keys must sum to 1, "
                "so use dim=-1", _attention_softmax_over_queries),
    ),
)

# --- 02 multi-head attention and the transformer block ---------------------------------------------

NB02 = "02_multi_head_attention"


def _heads_split_without_transpose(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    B, N, D = x.shape
    return x.reshape(B, num_heads, N, D // num_heads)


def _heads_interleaved(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    B, N, D = x.shape
    return x.reshape(B, N, D // num_heads, num_heads).permute(0, 3, 1, 2)  # channel c to head c % nh


def _heads_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    return [Case((d.randn(B, N, nh * hs), nh)) for B, N, nh, hs in sizes]


def _heads_sizes(d: Draw) -> tuple[int, int, int, int]:
    """(B, N, nh, hs) with at least 2 tokens, 2 heads and 2 channels per head, so that every order matters."""
    return d.size(1, 3), d.size(2, 6), d.size(2, 4), d.size(2, 4)


_task(
    name="split_heads",
    notebook=NB02,
    points=1,
    params=("x", "num_heads"),
    reference=split_heads,
    public=lambda: [
        Case((_arange(1, 3, 8), 2), "x of shape (1, 3, 8) holding 0..23, num_heads=2"),
        Case((Draw(0).randn(2, 4, 6), 3)),
    ],
    hidden=lambda d: _heads_cases(d, _three(d, _heads_sizes)),
    hint="Head h is channels h*hs .. (h+1)*hs - 1 of every token: reshape (B, N, D) to (B, N, nh, hs), then "
    "transpose to (B, nh, N, hs) so that the heads come before the tokens.",
    pitfalls=(
        Pitfall("reshaping straight to (B, nh, N, hs) takes the values in memory order, so 'head 0' "
                "holds every channel of the first tokens instead of a few channels of every token: reshape to (B, N, nh, hs), then transpose(1, 2)", _heads_split_without_transpose),
        Pitfall("the heads are interleaved (channel c in head c % nh); each head is hs consecutive channels: "
                "reshape to (B, N, nh, hs), not (B, N, hs, nh)", _heads_interleaved),
        Pitfall("(B, N, nh, hs) is one step short: transpose(1, 2) to (B, nh, N, hs), so that the heads are a "
                "batch axis", lambda x, num_heads: x.reshape(*x.shape[:2], num_heads, -1)),
    ),
)


def _merge_heads_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B, nh, N, hs),)) for B, N, nh, hs in _three(d, _heads_sizes)]


_task(
    name="merge_heads",
    notebook=NB02,
    points=1,
    params=("x",),
    reference=merge_heads,
    public=lambda: [
        Case((split_heads(_arange(1, 3, 8), 2),), "the 2 heads of (1, 3, 8) tokens holding 0..23"),
        Case((Draw(0).randn(2, 3, 4, 2),)),
    ],
    hidden=_merge_heads_hidden,
    hint="Undo split_heads: transpose (B, nh, N, hs) to (B, N, nh, hs), then reshape to (B, N, nh*hs): "
    "head 0's channels first, then head 1's.",
    pitfalls=(
        Pitfall("reshaping (B, nh, N, hs) straight to (B, N, D) mixes tokens and heads: transpose(1, 2) first",
                lambda x: x.reshape(x.shape[0], x.shape[2], -1)),
        Pitfall("the heads are interleaved channel by channel; put them side by side: head 0's hs channels, "
                "then head 1's", lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1)),
    ),
)


def _multi_head_attention(x: torch.Tensor, weights: dict, num_heads: int) -> torch.Tensor:
    from minivit.layers import SelfAttention

    attn = SelfAttention(x.shape[-1], num_heads)
    attn.load_state_dict(weights)
    with torch.no_grad():
        return attn(x)


def _mha_written_out(x, weights, num_heads, *, heads="split", scale="head", proj=True, softmax_dim=-1):
    """Multi-head self-attention by hand, with switches for the mistakes the feedback recognises."""
    w = weights
    B, N, D = x.shape
    split = {"split": split_heads, "interleaved": _heads_interleaved, "one": lambda t, nh: t[:, None]}[heads]
    nh = 1 if heads == "one" else num_heads
    q, k, v = (split(t, num_heads) for t in F.linear(x, w["qkv.weight"], w["qkv.bias"]).chunk(3, dim=-1))
    size = {"head": D // nh, "token": D}[scale]
    weights_ = ((q @ k.transpose(-2, -1)) / math.sqrt(size)).softmax(dim=softmax_dim)  # (B, nh, N, N)
    out = weights_ @ v  # (B, nh, N, hs)
    out = out.permute(0, 2, 3, 1).reshape(B, N, D) if heads == "interleaved" else merge_heads(out)
    return F.linear(out, w["proj.weight"], w["proj.bias"]) if proj else out


def _mha_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    cases = []
    for B, N, nh, hs in sizes:
        D = nh * hs
        weights = {
            "qkv.weight": d.randn(3 * D, D, scale=D ** -0.25), "qkv.bias": d.randn(3 * D, scale=0.2),
            "proj.weight": d.randn(D, D, scale=D ** -0.5), "proj.bias": d.randn(D, scale=0.2),
        }
        cases.append(Case((d.randn(B, N, D), weights, nh)))
    return cases


_task(
    name="multi_head_attention",
    notebook=NB02,
    points=3,
    helpers=(attention, split_heads, merge_heads),
    params=("x", "weights", "num_heads"),
    reference=_multi_head_attention,
    public=lambda: _mha_cases(Draw(0), [(1, 4, 2, 2), (2, 5, 3, 2)]),
    hidden=lambda d: _mha_cases(d, [(d.size(1, 2), d.size(3, 7), d.pick([2, 3, 4]), d.size(2, 4)) for _ in range(3)]),
    hint="q, k, v = (x @ W.T + b).chunk(3, dim=-1) with the (3D, D) qkv weight; split each into nh heads "
    "(B, nh, N, hs); softmax(q k^T / sqrt(hs)) over the keys, times v; merge the heads to (B, N, D); "
    "then the output projection proj.",
    pitfalls=(
        Pitfall("the scores are divided by sqrt(D), the size of a whole token; each head is an attention of its "
                "own and divides by sqrt(hs), hs = D / nh", lambda *a: _mha_written_out(*a, scale="token")),
        Pitfall("this is one head over all D channels: split q, k and v into nh heads of hs channels, and let "
                "each head attend on its own", lambda *a: _mha_written_out(*a, heads="one")),
        Pitfall("the output projection is missing: after merging the heads, apply proj "
                "(x @ proj.weight.T + proj.bias)", lambda *a: _mha_written_out(*a, proj=False)),
        Pitfall("the heads are interleaved (channel c in head c % nh); each head is hs consecutive channels",
                lambda *a: _mha_written_out(*a, heads="interleaved")),
        Pitfall("the softmax runs over the queries (dim=-2): each query's weights over the keys must sum to 1, "
                "so use dim=-1", lambda *a: _mha_written_out(*a, softmax_dim=-2)),
    ),
    atol=1e-4,
)

# --- 03 patch partition ------------------------------------------------------------------------------

NB03 = "03_patch_partition"


def _patchify_channel_first(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    B, C, H, W = x.shape
    p = patch_size
    return x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 1, 3, 5).reshape(B, -1, C * p * p)


def _patchify_column_major(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    B, C, H, W = x.shape
    p = patch_size
    return x.reshape(B, C, H // p, p, W // p, p).permute(0, 4, 2, 3, 5, 1).reshape(B, -1, C * p * p)


def _patch_sizes(d: Draw) -> tuple[int, int, int, int, int]:
    """(B, C, p, nh, nw) without degenerate sizes: at least 2 channels, 2-pixel patches, 2 x 2 patches."""
    return d.size(1, 2), d.size(2, 4), d.size(2, 3), d.size(2, 3), d.size(2, 4)


def _image_and_patch_size_hidden(d: Draw) -> list[Case]:
    """Cases (x, patch_size) for patchify and mobilevit_unfold: (B, C, H, W) images, H and W multiples of p."""
    return [Case((d.randn(B, C, nh * p, nw * p), p)) for B, C, p, nh, nw in _three(d, _patch_sizes)]


_task(
    name="patchify",
    notebook=NB03,
    points=2,
    params=("x", "patch_size"),
    reference=patchify,
    public=lambda: [
        Case((_arange(1, 1, 4, 4), 2), "x of shape (1, 1, 4, 4) holding 0..15, patch_size=2"),
        Case((Draw(0).randn(2, 3, 6, 4), 2)),
    ],
    hidden=_image_and_patch_size_hidden,
    hint="Split H into (H/p, p) and W into (W/p, p), permute to (B, H/p, W/p, p, p, C), then reshape to "
    "(B, N, p*p*C): patches left to right then top to bottom, each token's values in (row, column, channel) order.",
    pitfalls=(
        Pitfall("each token holds its values in (channel, row, column) order; ViT's is (row, column, channel): "
                "put C last before the final reshape", _patchify_channel_first),
        Pitfall("the patches go top to bottom, then left to right; they must go left to right, then top to "
                "bottom (row-major)", _patchify_column_major),
    ),
)


def _unpatchify_channel_first(tokens: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    B, N, D = tokens.shape
    p = patch_size
    C = D // (p * p)
    x = tokens.reshape(B, height // p, width // p, C, p, p).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(B, C, height, width)


def _unpatchify_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B, nh * nw, p * p * C), p, nh * p, nw * p)) for B, C, p, nh, nw in _three(d, _patch_sizes)]


_task(
    name="unpatchify",
    notebook=NB03,
    points=1,
    params=("tokens", "patch_size", "height", "width"),
    reference=unpatchify,
    public=lambda: [
        Case((patchify(_arange(1, 1, 4, 4), 2), 2, 4, 4), "the tokens of a (1, 1, 4, 4) image holding 0..15, "
             "patch_size=2, height=4, width=4"),
        Case((Draw(0).randn(2, 6, 12), 2, 6, 4)),
    ],
    hidden=_unpatchify_hidden,
    hint="Undo patchify step by step: reshape to (B, H/p, W/p, p, p, C), permute to (B, C, H/p, p, W/p, p), "
    "and reshape to (B, C, H, W).",
    pitfalls=(
        Pitfall("the values of a token are read in (channel, row, column) order; patchify wrote them in "
                "(row, column, channel) order", _unpatchify_channel_first),
    ),
)


def _patch_embedding(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    p = weight.shape[-1]
    return F.conv2d(x, weight, bias, stride=p).flatten(2).transpose(1, 2)  # (B, N, D)


def _patch_embedding_unordered_weight(x, weight, bias):
    return F.linear(patchify(x, weight.shape[-1]), weight.reshape(weight.shape[0], -1), bias)


def _patch_embedding_cases(d: Draw, sizes: list[tuple[int, int, int, int, int, int]]) -> list[Case]:
    return [
        Case((d.randn(B, C, nh * p, nw * p), d.randn(D, C, p, p, scale=0.5), d.randn(D)))
        for B, C, p, nh, nw, D in sizes
    ]


_task(
    name="patch_embedding",
    notebook=NB03,
    points=2,
    helpers=(patchify,),
    params=("x", "weight", "bias"),
    reference=_patch_embedding,
    public=lambda: _patch_embedding_cases(Draw(0), [(1, 3, 2, 2, 2, 5), (2, 2, 3, 2, 3, 4)]),
    hidden=lambda d: _patch_embedding_cases(d, [(*_patch_sizes(d), d.size(2, 6)) for _ in range(3)]),
    hint="A conv with kernel = stride = p sees each patch once. patchify(x, p) gives tokens in (row, column, "
    "channel) order; reorder the conv weight (D, C, p, p) the same way, weight.permute(0, 2, 3, 1).reshape(D, -1), "
    "then compute tokens @ W.T + bias.",
    pitfalls=(
        Pitfall("weight.reshape(D, -1) lists each filter in (channel, row, column) order, but patchify's tokens "
                "are in (row, column, channel) order: permute the weight to (D, p, p, C) first",
                _patch_embedding_unordered_weight),
    ),
)


def _add_class_token(tokens: torch.Tensor, cls_token: torch.Tensor, pos_embedding: torch.Tensor) -> torch.Tensor:
    cls = cls_token.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
    return torch.cat([cls, tokens], dim=1) + pos_embedding  # (B, N+1, D)


def _class_token_last(tokens, cls_token, pos_embedding):
    return torch.cat([tokens, cls_token.expand(tokens.shape[0], -1, -1)], dim=1) + pos_embedding


def _class_token_cases(d: Draw, sizes: list[tuple[int, int, int]]) -> list[Case]:
    return [Case((d.randn(B, N, D), d.randn(1, 1, D), d.randn(1, N + 1, D))) for B, N, D in sizes]


_task(
    name="add_class_token",
    notebook=NB03,
    points=1,
    params=("tokens", "cls_token", "pos_embedding"),
    reference=_add_class_token,
    public=lambda: _class_token_cases(Draw(0), [(1, 3, 4), (2, 4, 3)]),
    hidden=lambda d: _class_token_cases(d, [(d.size(2, 3), d.size(2, 9), d.size(2, 8)) for _ in range(3)]),
    hint="Expand the class token to (B, 1, D), concatenate it in front of the tokens along dim=1, then add "
    "the position embedding (1, N+1, D) to the whole sequence.",
    pitfalls=(
        Pitfall("the class token must come first, in front of the patch tokens", _class_token_last),
    ),
)

# --- 04 windows, shift and mask ----------------------------------------------------------------------

NB04 = "04_window_shift_mask"


def _window_sizes(d: Draw) -> tuple[int, int, int, int, int]:
    """(B, M, nh, nw, C) with at least 2 x 2 windows, so that the order of the windows matters."""
    return d.size(1, 2), d.size(2, 4), d.size(2, 3), d.size(2, 3), d.size(1, 3)


def _partition_without_permute(x: torch.Tensor, window_size: int) -> torch.Tensor:
    return x.reshape(-1, window_size, window_size, x.shape[-1])


def _partition_column_major(x: torch.Tensor, window_size: int) -> torch.Tensor:
    B, H, W, C = x.shape
    M = window_size
    return x.reshape(B, H // M, M, W // M, M, C).permute(0, 3, 1, 2, 4, 5).reshape(-1, M, M, C)


def _window_partition_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B, nh * M, nw * M, C), M)) for B, M, nh, nw, C in _three(d, _window_sizes)]


_task(
    name="window_partition",
    notebook=NB04,
    points=2,
    params=("x", "window_size"),
    reference=window_partition,
    public=lambda: [
        Case((_arange(1, 4, 4, 1), 2), "x of shape (1, 4, 4, 1) holding 0..15, window_size=2"),
        Case((Draw(0).randn(2, 4, 6, 3), 2)),
    ],
    hidden=_window_partition_hidden,
    hint="A window is M consecutive rows and M consecutive columns: reshape to (B, H/M, M, W/M, M, C), permute "
    "to (B, H/M, W/M, M, M, C) so that the two window indices come first, then reshape to (-1, M, M, C).",
    pitfalls=(
        Pitfall("reshaping straight to (-1, M, M, C) takes M*M consecutive pixels of a row, not an M x M square: "
                "split H and W, then permute", _partition_without_permute),
        Pitfall("the windows go top to bottom, then left to right; they must go left to right, then top to "
                "bottom (row-major)", _partition_column_major),
    ),
)


def _reverse_without_permute(windows: torch.Tensor, window_size: int, height: int, width: int) -> torch.Tensor:
    return windows.reshape(-1, height, width, windows.shape[-1])


def _window_reverse_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B * nh * nw, M, M, C), M, nh * M, nw * M)) for B, M, nh, nw, C in _three(d, _window_sizes)]


_task(
    name="window_reverse",
    notebook=NB04,
    points=1,
    params=("windows", "window_size", "height", "width"),
    reference=window_reverse,
    public=lambda: [
        Case((window_partition(_arange(1, 4, 4, 1), 2), 2, 4, 4),
             "the windows of a (1, 4, 4, 1) map holding 0..15, window_size=2, height=4, width=4"),
        Case((Draw(0).randn(12, 2, 2, 3), 2, 4, 6)),
    ],
    hidden=_window_reverse_hidden,
    hint="Undo window_partition: reshape to (B, H/M, W/M, M, M, C), permute to (B, H/M, M, W/M, M, C), "
    "reshape to (B, H, W, C).",
    pitfalls=(
        Pitfall("reshaping straight to (B, H, W, C) lays each window out along a row: reshape to "
                "(B, H/M, W/M, M, M, C) and permute first", _reverse_without_permute),
    ),
)


def _cyclic_shift(x: torch.Tensor, shift_size: int) -> torch.Tensor:
    return torch.roll(x, shifts=(-shift_size, -shift_size), dims=(1, 2))


def _cyclic_shift_hidden(d: Draw) -> list[Case]:
    cases = []
    for _ in range(3):
        s = d.size(1, 2)
        # sizes above 2s, so that rolling by +s and by -s differ
        cases.append(Case((d.randn(d.size(1, 2), d.size(2 * s + 1, 9), d.size(2 * s + 1, 9), d.size(1, 3)), s)))
    return cases


_task(
    name="cyclic_shift",
    notebook=NB04,
    points=1,
    params=("x", "shift_size"),
    reference=_cyclic_shift,
    public=lambda: [
        Case((_arange(1, 4, 4, 1), 1), "x of shape (1, 4, 4, 1) holding 0..15, shift_size=1"),
        Case((Draw(0).randn(2, 6, 8, 3), 2)),
    ],
    hidden=_cyclic_shift_hidden,
    hint="torch.roll(x, shifts=(-s, -s), dims=(1, 2)): the rows and columns of a (B, H, W, C) map are axes 1 "
    "and 2, and the forward shift moves the content up and to the left.",
    pitfalls=(
        Pitfall("rolled the wrong way: Swin's forward shift is by (-s, -s), moving the content up and left; "
                "(+s, +s) is the roll back after attention", lambda x, s: torch.roll(x, (s, s), dims=(1, 2))),
        Pitfall("rolled the wrong axes: a (B, H, W, C) map has its rows on axis 1 and its columns on axis 2",
                lambda x, s: torch.roll(x, (-s, -s), dims=(2, 3))),
        Pitfall("only one axis is rolled: shift both the rows and the columns",
                lambda x, s: torch.roll(x, -s, dims=1)),
    ),
)


_MASK_PUBLIC = [(4, 4, 2, 1), (8, 8, 4, 2), (6, 9, 3, 1)]


def _mask_hidden(d: Draw) -> list[Case]:
    cases = []
    while len(cases) < 3:
        M = d.size(2, 5)
        args = (M * d.size(1, 3), M * d.size(1, 3), M, d.size(1, M - 1))
        if args not in _MASK_PUBLIC:
            cases.append(Case(args))
    return cases


def _mask_of_infinities(height, width, window_size, shift_size):
    mask = shifted_window_mask(height, width, window_size, shift_size)
    return mask.masked_fill(mask != 0, float("-inf"))


_task(
    name="shifted_window_mask",
    notebook=NB04,
    points=3,
    helpers=(window_partition,),
    params=("height", "width", "window_size", "shift_size"),
    reference=shifted_window_mask,
    public=lambda: [Case(args) for args in _MASK_PUBLIC],
    hidden=_mask_hidden,
    hint="Label an (H, W) map with 9 regions: on each axis, slices (0, -M), (-M, -s), (-s, None) get labels "
    "0, 1, 2, and a pixel's region is 3 * row label + column label. Partition the label map into windows, "
    "flatten each to M*M labels, and put 0 where two labels are equal and -100 elsewhere: (nW, M*M, M*M), float.",
    pitfalls=(
        Pitfall("nothing is masked: after the cyclic shift, a window at the bottom or right edge holds pixels from "
                "opposite sides of the image, which must not attend to each other",
                lambda height, width, window_size, shift_size: torch.zeros_like(
                    shifted_window_mask(height, width, window_size, shift_size))),
        Pitfall("a blocked pair gets -inf; Swin adds -100 (a large negative value that keeps the softmax finite)",
                _mask_of_infinities),
    ),
)

# --- 05 relative position bias -----------------------------------------------------------------------

NB05 = "05_relative_position_bias"


def _relative_coordinates(window_size: int) -> torch.Tensor:
    M = window_size
    index = relative_position_index(M)  # dy * (2M-1) + dx, with dy, dx shifted by M-1
    return torch.stack([index // (2 * M - 1), index % (2 * M - 1)], dim=-1) - (M - 1)  # (M*M, M*M, 2)


def _window_sizes_not_public(d: Draw) -> list[Case]:
    first = d.size(4, 7)
    return [Case((first,)), Case((d.pick([m for m in range(4, 9) if m != first]),))]


_task(
    name="relative_coordinates",
    notebook=NB05,
    points=1,
    params=("window_size",),
    reference=_relative_coordinates,
    public=lambda: [Case((2,)), Case((3,))],
    hidden=_window_sizes_not_public,
    hint="List the (row, column) of the M*M tokens in row-major order, a (M*M, 2) tensor; then "
    "coords[:, None, :] - coords[None, :, :] gives entry [i, j] = position of token i minus position of token j.",
    pitfalls=(
        Pitfall("the offsets have the wrong sign: entry [i, j] is token i's position minus token j's",
                lambda window_size: -_relative_coordinates(window_size)),
        Pitfall("the two offsets are swapped: the last axis holds (row offset, column offset)",
                lambda window_size: _relative_coordinates(window_size).flip(-1)),
    ),
)


def _index_scaled_by_m(window_size: int) -> torch.Tensor:
    M = window_size
    dy, dx = (_relative_coordinates(M) + (M - 1)).unbind(-1)
    return dy * M + dx


def _index_without_shift(window_size: int) -> torch.Tensor:
    dy, dx = _relative_coordinates(window_size).unbind(-1)
    return dy * (2 * window_size - 1) + dx


_task(
    name="relative_position_index",
    notebook=NB05,
    points=2,
    params=("window_size",),
    reference=relative_position_index,
    public=lambda: [Case((2,)), Case((3,))],
    hidden=_window_sizes_not_public,
    hint="From the relative coordinates (dy, dx) of every pair: add M - 1 to both (now in 0..2M-2), then "
    "index = dy * (2M - 1) + dx, an (M*M, M*M) int64 tensor with values in 0..(2M-1)^2 - 1.",
    pitfalls=(
        Pitfall("the index is transposed: entry [i, j] uses token i's position minus token j's",
                lambda window_size: relative_position_index(window_size).T),
        Pitfall("the row offset is multiplied by M; it must be 2M - 1, the number of possible column offsets, "
                "or two different offsets share one index", _index_scaled_by_m),
        Pitfall("M - 1 is not added to the offsets, so some indices are negative", _index_without_shift),
    ),
)


def _relative_position_bias(table: torch.Tensor, window_size: int) -> torch.Tensor:
    return table[relative_position_index(window_size)].permute(2, 0, 1)  # (nh, M*M, M*M)


def _bias_cases(d: Draw, sizes: list[tuple[int, int]]) -> list[Case]:
    return [Case((d.randn((2 * M - 1) ** 2, nh), M)) for M, nh in sizes]


_task(
    name="relative_position_bias",
    notebook=NB05,
    points=2,
    helpers=(relative_position_index,),
    params=("table", "window_size"),
    reference=_relative_position_bias,
    public=lambda: _bias_cases(Draw(0), [(2, 2), (3, 3)]),
    hidden=lambda d: _bias_cases(d, [(d.size(2, 5), d.size(1, 4)) for _ in range(3)]),
    hint="Index the table with the (M*M, M*M) relative position index: table[index] has shape "
    "(M*M, M*M, nh); permute it to (nh, M*M, M*M), one bias matrix per head.",
    pitfalls=(
        Pitfall("the heads must come first: permute table[index] from (M*M, M*M, nh) to (nh, M*M, M*M)",
                lambda table, window_size: table[relative_position_index(window_size)]),
        Pitfall("each head's matrix is transposed: use permute(2, 0, 1), not permute(2, 1, 0)",
                lambda table, window_size: table[relative_position_index(window_size)].permute(2, 1, 0)),
    ),
)

# --- 06 Swin stages ----------------------------------------------------------------------------------

NB06 = "06_swin_stages"


def _merge_row_major(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x[:, 0::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 0::2], x[:, 1::2, 1::2]], dim=-1)


def _merge_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(d.size(1, 2), 2 * d.size(1, 3), 2 * d.size(1, 3), d.size(1, 3)),)) for _ in range(3)]


_task(
    name="merge_patches",
    notebook=NB06,
    points=2,
    params=("x",),
    reference=merge_patches,
    public=lambda: [
        Case((_arange(1, 4, 4, 1),), "x of shape (1, 4, 4, 1) holding 0..15"),
        Case((Draw(0).randn(2, 4, 6, 3),)),
    ],
    hidden=_merge_hidden,
    hint="Take the four neighbours of every 2 x 2 group with strided slices, x[:, 0::2, 0::2], x[:, 1::2, 0::2], "
    "x[:, 0::2, 1::2], x[:, 1::2, 1::2], in that order, and concatenate them on the channels: (B, H/2, W/2, 4C).",
    pitfalls=(
        Pitfall("Swin's order is top-left, bottom-left, top-right, bottom-right (x[0::2, 0::2], x[1::2, 0::2], "
                "x[0::2, 1::2], x[1::2, 1::2]); yours is row-major", _merge_row_major),
    ),
)


def _patch_merging(x, norm_weight, norm_bias, reduction_weight):
    merged = merge_patches(x)  # (B, H/2, W/2, 4C)
    merged = F.layer_norm(merged, merged.shape[-1:], norm_weight, norm_bias, eps=1e-5)
    return F.linear(merged, reduction_weight)  # (B, H/2, W/2, 2C)


def _patch_merging_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    return [
        Case((d.randn(B, H, W, C), 1 + d.randn(4 * C, scale=0.2), d.randn(4 * C, scale=0.2),
              d.randn(2 * C, 4 * C, scale=0.5)))
        for B, H, W, C in sizes
    ]


_task(
    name="patch_merging",
    notebook=NB06,
    points=2,
    helpers=(merge_patches,),
    params=("x", "norm_weight", "norm_bias", "reduction_weight"),
    reference=_patch_merging,
    public=lambda: _patch_merging_cases(Draw(0), [(1, 4, 4, 2), (2, 4, 6, 3)]),
    hidden=lambda d: _patch_merging_cases(
        d, [(d.size(1, 2), 2 * d.size(1, 3), 2 * d.size(1, 3), d.size(2, 4)) for _ in range(3)]
    ),
    hint="merge_patches(x) gives (B, H/2, W/2, 4C); apply F.layer_norm over the last axis (size 4C) with "
    "norm_weight and norm_bias (eps 1e-5), then F.linear with reduction_weight (2C, 4C) and no bias.",
    pitfalls=(
        Pitfall("the LayerNorm is missing before the reduction",
                lambda x, nw, nb, rw: F.linear(merge_patches(x), rw)),
        Pitfall("the LayerNorm ignores its weight and bias",
                lambda x, nw, nb, rw: _patch_merging(x, None, None, rw)),
        Pitfall("the reduction comes before the LayerNorm's weight and bias are applied",
                lambda x, nw, nb, rw: F.linear(F.layer_norm(merge_patches(x), (nw.numel(),)), rw)),
    ),
)


def _shifted_window_attention(
    x, weights, window_size, shift_size, num_heads, *, mask=True, bias=True, roll_back=True, roll=-1
):
    """Swin's (shifted-)window attention from minivit's ground floor, in torchvision's order: roll,
    partition, attend with relative bias and mask, reverse, roll back. H and W are multiples of M."""
    B, H, W, C = x.shape
    M, s, nh = window_size, shift_size, num_heads
    x = torch.roll(x, (roll * s, roll * s), dims=(1, 2))
    windows = window_partition(x, M).reshape(-1, M * M, C)  # (B*nW, M*M, C)
    qkv = F.linear(windows, weights["qkv.weight"], weights["qkv.bias"])
    q, k, v = qkv.reshape(-1, M * M, 3, nh, C // nh).permute(2, 0, 3, 1, 4)  # 3 x (B*nW, nh, M*M, C/nh)
    logits_bias = torch.zeros(1, nh, M * M, M * M)
    if bias:
        logits_bias = _relative_position_bias(weights["relative_position_bias_table"], M)[None]
    if mask:
        logits_bias = logits_bias + shifted_window_mask(H, W, M, s)[:, None]  # (nW, nh, M*M, M*M)
        logits_bias = logits_bias.repeat(B, 1, 1, 1)  # (B*nW, nh, M*M, M*M): image b's windows come b-th
    out, _ = attention(q, k, v, mask=logits_bias)  # (B*nW, nh, M*M, C/nh)
    out = F.linear(out.transpose(1, 2).reshape(-1, M * M, C), weights["proj.weight"], weights["proj.bias"])
    x = window_reverse(out.reshape(-1, M, M, C), M, H, W)  # (B, H, W, C)
    return torch.roll(x, (s, s), dims=(1, 2)) if roll_back else x


def _swin_attention_cases(d: Draw, sizes: list[tuple[int, int, int, int, int, int, int]]) -> list[Case]:
    cases = []
    for B, rows, cols, M, s, nh, hs in sizes:
        C = nh * hs
        weights = {
            "qkv.weight": d.randn(3 * C, C, scale=0.4),
            "qkv.bias": d.randn(3 * C, scale=0.2),
            "proj.weight": d.randn(C, C, scale=0.4),
            "proj.bias": d.randn(C, scale=0.2),
            "relative_position_bias_table": d.randn((2 * M - 1) ** 2, nh),
        }
        cases.append(Case((d.randn(B, rows * M, cols * M, C), weights, M, s, nh)))
    return cases


def _swin_attention_hidden(d: Draw) -> list[Case]:
    sizes = []
    for _ in range(3):
        M = d.size(2, 4)
        sizes.append((d.size(1, 2), d.size(2, 3), d.size(2, 3), M, d.size(1, M - 1), d.size(1, 2), d.size(2, 3)))
    return _swin_attention_cases(d, sizes)


_task(
    name="shifted_window_attention",
    notebook=NB06,
    points=3,
    helpers=(attention, window_partition, window_reverse, shifted_window_mask, relative_position_index),
    params=("x", "weights", "window_size", "shift_size", "num_heads"),
    reference=_shifted_window_attention,
    public=lambda: _swin_attention_cases(Draw(0), [(1, 2, 2, 2, 1, 2, 2), (2, 2, 2, 4, 2, 3, 2)]),
    hidden=_swin_attention_hidden,
    hint="In order: roll by (-s, -s); window_partition and flatten to (B*nW, M*M, C); qkv Linear, split into "
    "heads (B*nW, nh, M*M, C/nh); add the relative position bias (nh, M*M, M*M) and the shifted-window mask "
    "(nW, M*M, M*M), repeated for each image, to the logits; attention; merge heads; proj Linear; "
    "window_reverse; roll back by (+s, +s).",
    pitfalls=(
        Pitfall("the shifted-window mask is missing: pixels that the roll brought together from opposite edges "
                "attend to each other", lambda *a: _shifted_window_attention(*a, mask=False)),
        Pitfall("the result is not rolled back by (+s, +s) after window_reverse",
                lambda *a: _shifted_window_attention(*a, roll_back=False)),
        Pitfall("the relative position bias is missing from the logits",
                lambda *a: _shifted_window_attention(*a, bias=False)),
        Pitfall("the first roll goes the wrong way: shift by (-s, -s) before partitioning",
                lambda *a: _shifted_window_attention(*a, roll=1)),
    ),
    atol=1e-4,
)

# --- 07 MobileViT unfold and fold --------------------------------------------------------------------

NB07 = "07_mobilevit_unfold_fold"


def _unfold_patch_per_sequence(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    B, C, H, W = x.shape
    p = patch_size
    x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)  # (B, nh, nw, p, p, C)
    return x.reshape(-1, p * p, C)  # (B*N, P, C)


def _fold_patch_per_sequence(tokens: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    p, C = patch_size, tokens.shape[-1]
    nh, nw = height // p, width // p
    x = tokens.reshape(-1, nh, nw, p, p, C).permute(0, 5, 1, 3, 2, 4)  # (B, C, nh, p, nw, p)
    return x.reshape(-1, C, height, width)


_task(
    name="mobilevit_unfold",
    notebook=NB07,
    points=2,
    params=("x", "patch_size"),
    reference=mobilevit_unfold,
    public=lambda: [
        Case((_arange(1, 1, 4, 4), 2), "x of shape (1, 1, 4, 4) holding 0..15, patch_size=2"),
        Case((Draw(0).randn(2, 3, 4, 6), 2)),
    ],
    hidden=_image_and_patch_size_hidden,
    hint="Reshape to (B, C, H/p, p, W/p, p), permute to (B, p, p, H/p, W/p, C) so that the position inside "
    "the patch comes first, then reshape to (B*P, N, C): sequence r*p + c holds pixel (r, c) of every patch.",
    pitfalls=(
        Pitfall("each sequence holds one whole patch, as ViT's patchify does; MobileViT's sequences hold one "
                "position inside the patch, taken from every patch: (B*P, N, C)", _unfold_patch_per_sequence),
    ),
)


def _fold_hidden(d: Draw) -> list[Case]:
    return [Case((d.randn(B * p * p, nh * nw, C), p, nh * p, nw * p)) for B, C, p, nh, nw in _three(d, _patch_sizes)]


_task(
    name="mobilevit_fold",
    notebook=NB07,
    points=1,
    params=("tokens", "patch_size", "height", "width"),
    reference=mobilevit_fold,
    public=lambda: [
        Case((mobilevit_unfold(_arange(1, 1, 4, 4), 2), 2, 4, 4),
             "the sequences of a (1, 1, 4, 4) map holding 0..15, patch_size=2, height=4, width=4"),
        Case((Draw(0).randn(8, 6, 3), 2, 4, 6)),
    ],
    hidden=_fold_hidden,
    hint="Undo mobilevit_unfold: reshape to (B, p, p, H/p, W/p, C), permute to (B, C, H/p, p, W/p, p), "
    "reshape to (B, C, H, W).",
    pitfalls=(
        Pitfall("the sequences are read as whole patches; mobilevit_unfold made sequence r*p + c from pixel (r, c) "
                "of every patch", _fold_patch_per_sequence),
    ),
)


def _transformer_block(x: torch.Tensor, weights: dict, num_heads: int) -> torch.Tensor:
    from minivit.layers import TransformerBlock

    D, hidden = x.shape[-1], weights["mlp.fc1.weight"].shape[0]
    block = TransformerBlock(D, num_heads, mlp_dim=hidden, act_layer=torch.nn.SiLU, eps=1e-5)
    block.load_state_dict(weights)
    with torch.no_grad():
        return block(x)


def _block_written_out(x, weights, num_heads, *, pre_norm=True, mlp=True, act=F.silu):
    """The transformer block by hand, with switches for the mistakes the feedback recognises."""
    w = weights
    D = x.shape[-1]

    def norm(t, name):
        return F.layer_norm(t, (D,), w[f"{name}.weight"], w[f"{name}.bias"], eps=1e-5)

    def attn(t):
        B, N, _ = t.shape
        q, k, v = F.linear(t, w["attn.qkv.weight"], w["attn.qkv.bias"]).reshape(
            B, N, 3, num_heads, D // num_heads).permute(2, 0, 3, 1, 4)  # 3 x (B, nh, N, hs)
        out, _ = attention(q, k, v)
        return F.linear(out.transpose(1, 2).reshape(B, N, D), w["attn.proj.weight"], w["attn.proj.bias"])

    def ffn(t):
        hidden = act(F.linear(t, w["mlp.fc1.weight"], w["mlp.fc1.bias"]))
        return F.linear(hidden, w["mlp.fc2.weight"], w["mlp.fc2.bias"])

    if not pre_norm:
        x = norm(x + attn(x), "norm1")
        return norm(x + ffn(x), "norm2")
    x = x + attn(norm(x, "norm1"))
    return x + (ffn(norm(x, "norm2")) if mlp else norm(x, "norm2"))


def _block_cases(d: Draw, sizes: list[tuple[int, int, int, int]]) -> list[Case]:
    cases = []
    for B, N, nh, hs in sizes:
        D = nh * hs
        weights = {
            "norm1.weight": 1 + d.randn(D, scale=0.2), "norm1.bias": d.randn(D, scale=0.2),
            "attn.qkv.weight": d.randn(3 * D, D, scale=D ** -0.5), "attn.qkv.bias": d.randn(3 * D, scale=0.2),
            "attn.proj.weight": d.randn(D, D, scale=D ** -0.5), "attn.proj.bias": d.randn(D, scale=0.2),
            "norm2.weight": 1 + d.randn(D, scale=0.2), "norm2.bias": d.randn(D, scale=0.2),
            "mlp.fc1.weight": d.randn(2 * D, D, scale=D ** -0.5), "mlp.fc1.bias": d.randn(2 * D, scale=0.2),
            "mlp.fc2.weight": d.randn(D, 2 * D, scale=(2 * D) ** -0.5), "mlp.fc2.bias": d.randn(D, scale=0.2),
        }
        cases.append(Case((d.randn(B, N, D), weights, nh)))
    return cases


_task(
    name="transformer_block",
    notebook=NB07,
    points=3,
    helpers=(attention,),
    params=("x", "weights", "num_heads"),
    reference=_transformer_block,
    public=lambda: _block_cases(Draw(0), [(1, 4, 2, 4), (2, 6, 3, 4)]),
    hidden=lambda d: _block_cases(d, [(d.size(1, 2), d.size(3, 8), d.pick([1, 2, 4]), d.size(2, 4)) for _ in range(3)]),
    hint="Pre-norm, both halves residual: x = x + attn(norm1(x)), then x = x + mlp(norm2(x)). attn: qkv Linear, "
    "split into nh heads, scaled dot-product attention, merge heads, proj Linear. mlp: fc1, SiLU, fc2. "
    "LayerNorms use eps 1e-5.",
    pitfalls=(
        Pitfall("the second half adds norm2(x) to x and has no MLP, a mistake in a widely copied snippet: it must "
                "be x + mlp(norm2(x))", lambda *a: _block_written_out(*a, mlp=False)),
        Pitfall("this is a post-norm block (norm after each residual sum); MobileViT's, like ViT's, normalises "
                "before attention and before the MLP", lambda *a: _block_written_out(*a, pre_norm=False)),
        Pitfall("the MLP uses GELU; MobileViT's uses SiLU", lambda *a: _block_written_out(*a, act=F.gelu)),
    ),
    atol=1e-4,
)
