import torch
import torch.nn.functional as F

from minivit.flops import count_multiply_adds


def test_linear_layer_hand_worked():
    # (2, 4) @ (4, 3): 2 rows x 3 outputs x 4 products each
    assert count_multiply_adds(torch.nn.Linear(4, 3, bias=False), torch.randn(2, 4)) == 24


class FusedAttention(torch.nn.Module):
    def forward(self, x):
        return F.scaled_dot_product_attention(x, x, x)


def test_fused_attention_is_counted():
    # q k^T: 5 x 5 scores of 8 products; weights @ v: 5 x 8 outputs of 5 products -> 200 + 200, per head
    assert count_multiply_adds(FusedAttention(), torch.randn(1, 2, 5, 8)) == 2 * 400
