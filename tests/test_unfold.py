import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from timm.models.mobilevit import MobileVitBlock

from minivit import mobilevit_fold, mobilevit_unfold

pytestmark = pytest.mark.versions  # equality with timm


@given(B=st.integers(1, 3), C=st.integers(1, 4), gh=st.integers(1, 5), gw=st.integers(1, 5),
       ph=st.integers(1, 3), pw=st.integers(1, 3))
def test_fold_inverts_unfold(B, C, gh, gw, ph, pw):
    x = torch.randn(B, C, gh * ph, gw * pw)
    tokens = mobilevit_unfold(x, (ph, pw))
    assert tokens.shape == (B * ph * pw, gh * gw, C)
    assert torch.equal(mobilevit_fold(tokens, (ph, pw), gh * ph, gw * pw), x)


def test_hand_worked_4x4_map():
    # One channel holding 0..15, 2x2 patches. Sequence 0 takes the top-left pixel of each patch:
    # 0, 2, 8, 10; sequence 3 the bottom-right pixel: 5, 7, 13, 15.
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    tokens = mobilevit_unfold(x, 2)[..., 0]
    assert tokens.tolist() == [[0, 2, 8, 10], [1, 3, 9, 11], [4, 6, 12, 14], [5, 7, 13, 15]]


class Capture(torch.nn.Module):
    """Stands in for timm's transformer: remembers what it was given, returns chosen tokens."""

    def __init__(self, replacement):
        super().__init__()
        self.replacement = replacement

    def forward(self, x):
        self.seen = x
        return self.replacement


@pytest.mark.parametrize("C, H, W", [(4, 8, 8), (3, 6, 10), (5, 16, 4)])
def test_same_layout_as_timm_mobilevit_block(C, H, W):
    block = MobileVitBlock(C, C, transformer_dim=C, patch_size=2, num_heads=1, no_fusion=True)
    block.conv_kxk = block.conv_1x1 = block.norm = block.conv_proj = torch.nn.Identity()
    x = torch.randn(2, C, H, W)
    replacement = torch.randn(2 * 4, (H // 2) * (W // 2), C)
    block.transformer = Capture(replacement)
    out = block(x)
    assert torch.equal(block.transformer.seen, mobilevit_unfold(x, 2))
    assert torch.equal(out, mobilevit_fold(replacement, 2, H, W))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: mobilevit_unfold(torch.zeros(4, 8, 8), 2), "x must have shape (B, C, H, W)"),
        (lambda: mobilevit_unfold(torch.zeros(1, 4, 8, 7), 2), "width W (7) must be a multiple of patch width (2)"),
        (lambda: mobilevit_unfold(torch.zeros(1, 4, 8, 8), (2, 0)), "patch_size must be >= 1"),
        (lambda: mobilevit_fold(torch.zeros(3, 16, 4), 2, 8, 8), "tokens must have shape (B*4, 16, C)"),
        (lambda: mobilevit_fold(torch.zeros(4, 15, 4), 2, 8, 8), "tokens must have shape (B*4, 16, C)"),
        (lambda: mobilevit_fold(torch.zeros(4, 16), 2, 8, 8), "(B*P, N, C)"),
    ],
)
def test_bad_input_raises_value_error(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value)
