"""minivit.ops.window_attention.shifted_window_attention against torchvision's function of the same name, and
against the same steps written out with minivit's ground floor (the version the course teaches)."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.models.swin_transformer import shifted_window_attention as torchvision_shifted_window_attention

from minivit import attention, shifted_window_mask, window_partition, window_reverse
from minivit.ops.attention import merge_heads, split_heads
from minivit.ops.relative_position import relative_position_bias
from minivit.ops.window_attention import shifted_window_attention

pytestmark = pytest.mark.versions  # equality with torchvision


def weights(C: int, heads: int, M: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        "qkv_weight": torch.randn(3 * C, C, generator=g) * 0.4,
        "qkv_bias": torch.randn(3 * C, generator=g) * 0.2,
        "proj_weight": torch.randn(C, C, generator=g) * 0.4,
        "proj_bias": torch.randn(C, generator=g) * 0.2,
        "table": torch.randn((2 * M - 1) ** 2, heads, generator=g),
    }


def ours(x, w, M, s, heads):
    bias = relative_position_bias(w["table"], M)
    return shifted_window_attention(x, w["qkv_weight"], w["qkv_bias"], w["proj_weight"], w["proj_bias"], bias, M, s, heads)


def torchvision_reference(x, w, M, s, heads):
    bias = relative_position_bias(w["table"], M)[None]  # (1, nh, N, N), as torchvision passes it
    return torchvision_shifted_window_attention(
        x, w["qkv_weight"], w["proj_weight"], bias, [M, M], heads, [s, s],
        qkv_bias=w["qkv_bias"], proj_bias=w["proj_bias"], training=False,
    )


def written_out(x, w, M, s, heads):
    """The steps on a map whose sides are multiples of M, with the course's written-out attention."""
    B, H, W, C = x.shape
    x = torch.roll(x, (-s, -s), dims=(1, 2))  # roll
    windows = window_partition(x, M).reshape(-1, M * M, C)  # partition: (B*nW, N, C)
    q, k, v = (split_heads(t, heads) for t in F.linear(windows, w["qkv_weight"], w["qkv_bias"]).chunk(3, dim=-1))
    logits_bias = relative_position_bias(w["table"], M) + shifted_window_mask(H, W, M, s)[:, None]  # (nW, nh, N, N)
    out, _ = attention(q, k, v, mask=logits_bias.repeat(B, 1, 1, 1))  # softmax(q k^T / sqrt(hs) + bias + mask) v
    out = F.linear(merge_heads(out), w["proj_weight"], w["proj_bias"])
    x = window_reverse(out.reshape(-1, M, M, C), M, H, W)  # reverse
    return torch.roll(x, (s, s), dims=(1, 2))  # roll back


@settings(max_examples=40)
@given(
    B=st.integers(1, 2), H=st.integers(1, 17), W=st.integers(1, 17), M=st.integers(2, 7),
    heads=st.integers(1, 3), learning=st.booleans(), data=st.data(),
)
def test_equals_torchvision_at_any_size(B, H, W, M, heads, learning, data):
    # sizes that need padding, and maps of a single window along an axis (where the shift is dropped); a
    # bias table that is learning and a fixed one (the fused attention takes another kernel for each)
    s = data.draw(st.integers(0, M - 1))
    x = torch.randn(B, H, W, 4 * heads)
    w = weights(4 * heads, heads, M)
    w["table"].requires_grad_(learning)
    torch.testing.assert_close(ours(x, w, M, s, heads), torchvision_reference(x, w, M, s, heads), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rows, cols, M, s", [(2, 2, 7, 3), (3, 2, 4, 2), (2, 3, 4, 1), (2, 2, 4, 0)])
def test_fused_attention_equals_the_steps_written_out(rows, cols, M, s):
    x = torch.randn(2, rows * M, cols * M, 12)
    w = weights(12, 3, M, seed=1)
    torch.testing.assert_close(ours(x, w, M, s, 3), written_out(x, w, M, s, 3), rtol=1e-5, atol=1e-5)


def test_gradients_equal_torchvision():
    # the bias table learns through the mask handed to the fused attention
    x = torch.randn(2, 12, 19, 8, generator=torch.Generator().manual_seed(4))
    results = []
    for function in (ours, torchvision_reference):
        w = {name: t.clone().requires_grad_() for name, t in weights(8, 2, 4, seed=2).items()}
        xg = x.clone().requires_grad_()
        function(xg, w, 4, 2, 2).square().sum().backward()
        results.append([xg.grad, *(w[name].grad for name in sorted(w))])
    for got, expected in zip(*results):
        scale = expected.abs().max().item()
        assert scale > 0
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6 * scale)  # sums of many float32 products


def test_the_mask_matters_only_in_the_windows_the_roll_brought_edges_into():
    # without its mask, shifted-window attention differs exactly in the last row and column of windows
    # of the rolled map, where tokens from opposite edges of the map meet
    M, s = 4, 2
    x = torch.randn(1, 12, 12, 8)
    w = weights(8, 2, M, seed=3)
    with_mask = ours(x, w, M, s, 2)
    rolled = torch.roll(x, (-s, -s), dims=(1, 2))
    no_mask = torch.roll(ours(rolled, w, M, 0, 2), (s, s), dims=(1, 2))  # regular windows of the rolled map
    same = torch.isclose(with_mask, no_mask, rtol=1e-5, atol=1e-5).all(dim=-1)[0]  # (H, W)
    last = torch.arange(12) >= 12 - M  # the last row (or column) of windows of the rolled map
    edge_windows = torch.roll(last[:, None] | last[None, :], (s, s), dims=(0, 1))  # where their tokens sit in x
    assert same[~edge_windows].all()
    assert not same[edge_windows].any()


def call_with(**changes) -> torch.Tensor:
    w = weights(4, 2, 4)
    call = dict(x=torch.zeros(1, 8, 8, 4), qkv_weight=w["qkv_weight"], qkv_bias=w["qkv_bias"],
                proj_weight=w["proj_weight"], proj_bias=w["proj_bias"],
                relative_position_bias=relative_position_bias(w["table"], 4), window_size=4, shift_size=2, num_heads=2)
    return shifted_window_attention(**{**call, **changes})


@pytest.mark.parametrize(
    "changes, error, words",
    [
        (dict(x=torch.zeros(8, 8, 4)), ValueError, "x must have shape (B, H, W, C)"),
        (dict(num_heads=3), ValueError, "x's channels C (4) must be a multiple of num_heads (3)"),
        (dict(shift_size=4), ValueError, "shift_size (4) must be smaller than window_size (4)"),
        (dict(shift_size=-1), ValueError, "shift_size must be an int >= 0, got -1"),
        (dict(relative_position_bias=torch.zeros(2, 9, 9)), ValueError,
         "relative_position_bias must have shape (nh, N, N) = (2, 16, 16) for num_heads 2 and window_size 4, got shape (2, 9, 9)"),
        (dict(window_size=0), ValueError, "window_size must be a positive int, got 0"),
        (dict(x=[[1.0]]), TypeError, "x must be a torch.Tensor of shape (B, H, W, C), got list"),
        (dict(window_size=4.0), TypeError, "window_size must be a positive int, got 4.0"),
        (dict(shift_size=True), TypeError, "shift_size must be an int >= 0, got True"),
    ],
)
def test_bad_input_raises_with_the_values_given(changes, error, words):
    with pytest.raises(error) as raised:
        call_with(**changes)
    assert words in str(raised.value)
