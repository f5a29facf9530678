import pytest
import torch
import torch.nn.functional as F

from minivit.ops.flops import count_multiply_adds, msa_cost, window_msa_cost

pytestmark = pytest.mark.versions  # FLOP counts of torch's counter


def test_cost_formulas_hand_worked():
    # Swin-T stage 1: 56 x 56 tokens, C = 96, M = 7
    assert msa_cost(56, 56, 96) == 4 * 3136 * 9216 + 2 * 3136**2 * 96 == 2_003_828_736
    assert window_msa_cost(56, 56, 96, 7) == 115_605_504 + 29_503_488 == 145_108_992
    assert msa_cost(2, 2, 1) == 16 + 32 and window_msa_cost(2, 2, 1, 1) == 16 + 8


def test_cost_formulas_equal_the_counted_multiply_adds_of_attention():
    # q, k, v and output projections, then q k^T and the weighted sum of v, over h x w tokens of C channels
    h, w, C, M = 4, 6, 8, 2
    qkv, proj = torch.nn.Linear(C, 3 * C, bias=False), torch.nn.Linear(C, C, bias=False)

    def global_attention(x):  # (1, hw, C)
        q, k, v = qkv(x).chunk(3, dim=-1)
        return proj(F.scaled_dot_product_attention(q, k, v))

    def window_attention(x):  # (hw / M^2, M^2, C): one batch entry per window
        q, k, v = qkv(x).chunk(3, dim=-1)
        return proj(F.scaled_dot_product_attention(q, k, v))

    class Wrap(torch.nn.Module):
        def __init__(self, fn):
            super().__init__()
            self.fn = fn

        def forward(self, x):
            return self.fn(x)

    assert count_multiply_adds(Wrap(global_attention), torch.randn(1, h * w, C)) == msa_cost(h, w, C)
    windows = torch.randn(h * w // M**2, M * M, C)
    assert count_multiply_adds(Wrap(window_attention), windows) == window_msa_cost(h, w, C, M)


def test_linear_layer_hand_worked():
    # (2, 4) @ (4, 3): 2 rows x 3 outputs x 4 products each
    assert count_multiply_adds(torch.nn.Linear(4, 3, bias=False), torch.randn(2, 4)) == 24


class FusedAttention(torch.nn.Module):
    def forward(self, x):
        return F.scaled_dot_product_attention(x, x, x)


def test_fused_attention_is_counted():
    # q k^T: 5 x 5 scores of 8 products; weights @ v: 5 x 8 outputs of 5 products -> 200 + 200, per head
    assert count_multiply_adds(FusedAttention(), torch.randn(1, 2, 5, 8)) == 2 * 400


def test_multihead_attention_fast_path_is_counted():
    # nn.MultiheadAttention in eval mode without gradients takes a fused path the counter cannot see;
    # by hand: q, k, v and output projections 4 x (5 tokens x 8 x 8) = 1280, attention 2 x (5 x 5 x 8) = 400
    mha = torch.nn.MultiheadAttention(8, num_heads=2, batch_first=True).eval()

    class SelfAttention(torch.nn.Module):
        def forward(self, x):
            return mha(x, x, x, need_weights=False)[0]

    assert count_multiply_adds(SelfAttention(), torch.randn(1, 5, 8)) == 1280 + 400
    assert torch.backends.mha.get_fastpath_enabled()  # switched back on afterwards
