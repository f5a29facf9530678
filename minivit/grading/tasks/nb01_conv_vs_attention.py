"""The graded tasks of notebook 01, convolution against attention: pixels to tokens, a 1 x 1 convolution,
the receptive field of a conv stack, and single-head self-attention."""

from __future__ import annotations

import math

import torch.nn.functional as F

from minivit import attention, patchify
from minivit.grading.tasks.common import Case, Draw, Pitfall, add_task, arange
from minivit.ops.receptive_field import receptive_field

NB01 = "01_conv_vs_attention"

add_task(
    name="to_tokens",
    notebook=NB01,
    points=1,
    params=("x",),
    reference=lambda x: patchify(x, 1),  # 1 x 1 patches: one token per pixel
    public=lambda: [
        Case((arange(1, 2, 2, 3),), "x of shape (1, 2, 2, 3) holding 0..11"),
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


add_task(
    name="conv1x1",
    notebook=NB01,
    points=1,
    params=("x", "weight", "bias"),
    reference=lambda x, weight, bias: F.conv2d(x, weight[:, :, None, None], bias),  # torch's own convolution
    public=lambda: _conv1x1_cases(Draw(0), [(1, 3, 4, 2, 2), (2, 5, 2, 3, 4)]),
    hidden=_conv1x1_hidden,
    hint="At every pixel the Cin channel values form one vector. Move the channels last, (B, H, W, Cin), "
    "apply x @ weight.T + bias (or F.linear), and move them back to (B, Cout, H, W).",
    pitfalls=(
        Pitfall("the bias is missing: add it to every output pixel",
                lambda x, weight, bias: F.conv2d(x, weight[:, :, None, None])),
    ),
)


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
        jump *= s  # before this layer's kernel: one step too early
        field += (k - 1) * jump
    return field


add_task(
    name="receptive_field",
    notebook=NB01,
    points=2,
    params=("kernel_sizes", "strides"),
    reference=receptive_field,
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


def _self_attention_cases(d: Draw, sizes: list[tuple[int, int, int, int, int]]) -> list[Case]:
    return [Case((d.randn(B, N, D), d.randn(D, dk), d.randn(D, dk), d.randn(D, dv))) for B, N, D, dk, dv in sizes]


def _attention_unscaled(x, w_q, w_k, w_v):
    return attention(x @ w_q, x @ w_k, x @ w_v, scale=1.0)[0]


def _attention_softmax_over_queries(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return ((q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])).softmax(dim=-2) @ v


add_task(
    name="self_attention",
    notebook=NB01,
    points=2,
    params=("x", "w_q", "w_k", "w_v"),
    reference=lambda x, w_q, w_k, w_v: attention(x @ w_q, x @ w_k, x @ w_v)[0],
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
