from functools import partial

import pytest
import torch
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import nn

from minivit import attention
from minivit.models.layers import Mlp, SelfAttention, TransformerBlock

pytestmark = pytest.mark.versions  # equality with torchvision and timm


def randomize_(module: nn.Module) -> nn.Module:
    """Give every parameter a random value, so that norms and biases are not the identity."""
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (1.0 if "norm" in name and name.endswith("weight") else 0.0))
    return module


@pytest.mark.parametrize(
    "dim, heads, mlp_ratio, act, eps", [(64, 4, 4, nn.GELU, 1e-6), (80, 4, 2, nn.SiLU, 1e-5), (24, 3, 2, nn.SiLU, 1e-5)]
)
def test_transformer_block_equals_timm_block(dim, heads, mlp_ratio, act, eps):
    reference = randomize_(
        Block(dim, heads, mlp_ratio=mlp_ratio, qkv_bias=True, act_layer=act, norm_layer=partial(nn.LayerNorm, eps=eps))
    ).eval()
    block = TransformerBlock(dim, heads, mlp_ratio, act, eps=eps).eval()
    block.load_state_dict(reference.state_dict())  # same names: norm1, attn.qkv, attn.proj, norm2, mlp.fc1/fc2
    x = torch.randn(3, 17, dim)
    with torch.no_grad():
        torch.testing.assert_close(block(x), reference(x), rtol=0, atol=1e-5)


def test_attention_weights_are_the_written_out_attention_of_the_fused_forward():
    torch.manual_seed(0)
    attn = SelfAttention(32, 4)
    x = torch.randn(2, 9, 32)
    weights = attn.weights(x)
    assert weights.shape == (2, 4, 9, 9)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 9))
    # Head by head, by hand: weights @ v, heads side by side, then the output Linear.
    v = attn.qkv(x)[..., 64:].reshape(2, 9, 4, 8).transpose(1, 2)  # (B, nh, N, hs)
    by_hand = attn.proj((weights @ v).transpose(1, 2).reshape(2, 9, 32))
    torch.testing.assert_close(attn(x), by_hand, rtol=1e-5, atol=1e-5)
    q, k = attn.heads(x)[:2]
    torch.testing.assert_close(weights, attention(q, k, v)[1])


def test_mlp_is_linear_act_linear():
    torch.manual_seed(0)
    mlp = Mlp(6, 10, nn.SiLU)
    x = torch.randn(4, 6)
    torch.testing.assert_close(mlp(x), F.linear(F.silu(F.linear(x, mlp.fc1.weight, mlp.fc1.bias)), mlp.fc2.weight, mlp.fc2.bias))


def test_heads_must_divide_dim():
    with pytest.raises(ValueError, match=r"dim \(30\) must be a multiple of num_heads \(4\)"):
        SelfAttention(30, 4)


def test_self_attention_equals_nn_multihead_attention_with_the_same_weights():
    attn = randomize_(SelfAttention(24, 3)).eval()
    reference = nn.MultiheadAttention(24, 3, batch_first=True).eval()
    with torch.no_grad():
        reference.in_proj_weight.copy_(attn.qkv.weight)  # (3D, D): the q, k and v rows, in that order
        reference.in_proj_bias.copy_(attn.qkv.bias)
        reference.out_proj.weight.copy_(attn.proj.weight)
        reference.out_proj.bias.copy_(attn.proj.bias)
        x = torch.randn(2, 11, 24)
        expected, weights = reference(x, x, x, average_attn_weights=False)
        torch.testing.assert_close(attn(x), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(attn.weights(x), weights, rtol=1e-5, atol=1e-6)
