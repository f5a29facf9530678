import math

import pytest
import torch
import torch.nn.functional as F

from minivit import attention


@pytest.mark.parametrize("shape_q, shape_kv", [((2, 5, 8), (2, 7, 8)), ((2, 3, 4, 16), (2, 3, 4, 16)), ((1, 1, 4), (1, 9, 4))])
def test_equals_pytorch_sdpa(shape_q, shape_kv):
    torch.manual_seed(0)
    q, k, v = torch.randn(shape_q), torch.randn(shape_kv), torch.randn(shape_kv)
    out, weights = attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))


def test_float_and_bool_masks_equal_pytorch_sdpa():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 8), torch.randn(2, 4, 6, 8)
    additive = torch.randn(4, 6, 6)
    out, _ = attention(q, k, v, mask=additive)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=additive), rtol=1e-5, atol=1e-5)
    allowed = torch.rand(6, 6) > 0.4
    allowed.fill_diagonal_(True)  # every query keeps at least one key
    out, weights = attention(q, k, v, mask=allowed)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), rtol=1e-5, atol=1e-5)
    assert torch.all(weights[..., ~allowed] == 0)


def test_custom_scale_and_hand_worked_weights():
    # two keys with scores 0 and ln(3) after scaling: softmax gives 1/4 and 3/4
    q = torch.tensor([[1.0, 0.0]])
    k = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    v = torch.tensor([[4.0], [8.0]])
    out, weights = attention(q, k, v, scale=1.0)
    torch.testing.assert_close(weights, torch.tensor([[0.25, 0.75]]))
    torch.testing.assert_close(out, torch.tensor([[7.0]]))


@pytest.mark.parametrize(
    "args, words",
    [
        ((torch.zeros(4), torch.zeros(4, 2), torch.zeros(4, 2)), "q must have shape (..., N, d)"),
        ((torch.zeros(2, 3, 4), torch.zeros(2, 3, 5), torch.zeros(2, 3, 5)), "need q (..., Nq, d), k (..., Nk, d)"),
        ((torch.zeros(2, 3, 4), torch.zeros(3, 3, 4), torch.zeros(3, 3, 4)), "must share their leading dimensions"),
        ((torch.zeros(2, 3, 4), torch.zeros(2, 5, 4), torch.zeros(2, 5, 4), torch.zeros(3, 4)), "mask must be broadcastable to (2, 3, 5)"),
    ],
)
def test_bad_input_raises_value_error(args, words):
    with pytest.raises(ValueError) as error:
        attention(*args)
    assert words in str(error.value)
