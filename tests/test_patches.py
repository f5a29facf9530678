import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from minivit import patchify, unpatchify

pytestmark = pytest.mark.versions  # numerics of torch's ops


@given(
    B=st.integers(1, 3), C=st.integers(1, 4), gh=st.integers(1, 4), gw=st.integers(1, 4),
    ph=st.integers(1, 4), pw=st.integers(1, 4),
)
def test_unpatchify_inverts_patchify(B, C, gh, gw, ph, pw):
    x = torch.randn(B, C, gh * ph, gw * pw)
    tokens = patchify(x, (ph, pw))
    assert tokens.shape == (B, gh * gw, ph * pw * C)
    assert torch.equal(unpatchify(tokens, (ph, pw), gh * ph, gw * pw), x)


def test_patchify_matches_hand_worked_example():
    # A 1-channel 4x4 image holding 0..15, cut into 2x2 patches: the first token is the top-left
    # patch [0, 1, 4, 5], the second the top-right patch [2, 3, 6, 7].
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    tokens = patchify(x, 2)
    expected = torch.tensor([[0, 1, 4, 5], [2, 3, 6, 7], [8, 9, 12, 13], [10, 11, 14, 15]], dtype=torch.float)
    assert torch.equal(tokens[0], expected)


def test_token_order_is_row_column_channel():
    x = torch.randn(2, 3, 6, 9)
    tokens = patchify(x, 3)
    # token 4 is patch row 1, patch column 1 (3 patches per row); inside it, (row, col, channel)
    patch = x[:, :, 3:6, 3:6]  # (B, C, 3, 3)
    assert torch.equal(tokens[:, 4], patch.permute(0, 2, 3, 1).reshape(2, -1))


def test_strided_conv_equals_patchify_then_linear():
    # ViT's patch embedding: a conv with kernel = stride = p is patchify followed by one Linear.
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, kernel_size=4, stride=4)
    x = torch.randn(2, 3, 16, 12)
    weight = conv.weight.permute(0, 2, 3, 1).reshape(8, -1)  # (D, p*p*C), same (row, col, channel) order
    by_linear = F.linear(patchify(x, 4), weight, conv.bias)
    by_conv = conv(x).flatten(2).transpose(1, 2)  # (B, N, D)
    torch.testing.assert_close(by_linear, by_conv, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: patchify(torch.zeros(3, 8, 8), 4), ValueError, "(B, C, H, W)"),
        (lambda: patchify(torch.zeros(1, 3, 10, 8), 4), ValueError, "height H (10) must be a multiple of patch height (4)"),
        (lambda: patchify(torch.zeros(1, 3, 8, 8), 0), ValueError, "patch_size must be >= 1"),
        (lambda: unpatchify(torch.zeros(1, 5, 12), 2, 4, 4), ValueError, "tokens must have shape (B, 4, 2*2*C)"),
        (lambda: unpatchify(torch.zeros(1, 4, 12), 2, 0, 4), ValueError, "height must be a positive int"),
        (lambda: unpatchify(torch.zeros(4, 12), 2, 4, 4), ValueError, "(B, N, P*C)"),
        (lambda: patchify(torch.zeros(1, 3, 8, 8), (2, 2, 2)), TypeError, "patch_size must be an int or an (h, w) pair of ints, got (2, 2, 2)"),
        (lambda: patchify([[1.0]], 2), TypeError, "x must be a torch.Tensor of shape (B, C, H, W), got list"),
        (lambda: unpatchify(torch.zeros(1, 4, 12), 2, 2.0, 4), TypeError, "height must be a positive int, got 2.0"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, error, words):
    with pytest.raises(error) as raised:
        call()
    assert words in str(raised.value)
