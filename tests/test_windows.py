import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from timm.models.swin_transformer import SwinTransformerBlock
from timm.models.swin_transformer import window_partition as timm_window_partition
from timm.models.swin_transformer import window_reverse as timm_window_reverse

from minivit import (
    shift_region_labels,
    shifted_window_mask,
    window_partition,
    window_reverse,
)

pytestmark = pytest.mark.versions  # equality with timm

sizes = dict(B=st.integers(1, 3), rows=st.integers(1, 4), cols=st.integers(1, 4), Mh=st.integers(1, 5), Mw=st.integers(1, 5))


@given(**sizes, C=st.integers(1, 4))
def test_window_reverse_inverts_partition(B, rows, cols, Mh, Mw, C):
    x = torch.randn(B, rows * Mh, cols * Mw, C)
    windows = window_partition(x, (Mh, Mw))
    assert windows.shape == (B * rows * cols, Mh, Mw, C)
    assert torch.equal(window_reverse(windows, (Mh, Mw), rows * Mh, cols * Mw), x)


@given(**sizes)
def test_window_partition_equals_timm(B, rows, cols, Mh, Mw):
    x = torch.randn(B, rows * Mh, cols * Mw, 3)
    windows = window_partition(x, (Mh, Mw))
    assert torch.equal(windows, timm_window_partition(x, (Mh, Mw)))
    assert torch.equal(window_reverse(windows, (Mh, Mw), rows * Mh, cols * Mw),
                       timm_window_reverse(windows, (Mh, Mw), rows * Mh, cols * Mw))


def test_window_partition_hand_worked_example():
    # A 4x4 map of 0..15 in 2x2 windows: window 1 is the top-right block.
    x = torch.arange(16).reshape(1, 4, 4, 1)
    windows = window_partition(x, 2)[..., 0]
    assert windows[1].tolist() == [[2, 3], [6, 7]]
    assert windows[2].tolist() == [[8, 9], [12, 13]]


def brute_force_mask(H, W, M, s):
    """Mask from the paper's picture: after rolling by -s, the token at (i, j) came from
    ((i + s) % H, (j + s) % W). In the original image the shifted windows are the cells
    [0, s), [s, s + M), ..., [H - M + s, H) on each axis; two tokens that share a rolled window may
    attend iff they came from the same cell."""
    def cell(a, shift):
        return -1 if a < shift else (a - shift) // M

    nW = (H // M) * (W // M)
    mask = torch.zeros(nW, M * M, M * M)
    for w in range(nW):
        top, left = (w // (W // M)) * M, (w % (W // M)) * M
        tokens = [(top + t // M, left + t % M) for t in range(M * M)]
        for p, (i1, j1) in enumerate(tokens):
            for q, (i2, j2) in enumerate(tokens):
                a1, b1 = (i1 + s) % H, (j1 + s) % W
                a2, b2 = (i2 + s) % H, (j2 + s) % W
                same = cell(a1, s) == cell(a2, s) and cell(b1, s) == cell(b2, s)
                mask[w, p, q] = 0.0 if same else -100.0
    return mask


@pytest.mark.parametrize("H, W, M, s", [(4, 4, 2, 1), (8, 8, 4, 2), (6, 9, 3, 1), (14, 14, 7, 3), (12, 8, 4, 3), (7, 7, 7, 3)])
def test_shifted_window_mask_equals_brute_force(H, W, M, s):
    assert torch.equal(shifted_window_mask(H, W, M, s), brute_force_mask(H, W, M, s))


@given(rows=st.integers(1, 4), cols=st.integers(1, 4), M=st.integers(2, 7), data=st.data())
def test_shifted_window_mask_equals_timm(rows, cols, M, data):
    s = data.draw(st.integers(1, M - 1))
    H, W = rows * M, cols * M
    block = SwinTransformerBlock(4, (H, W), num_heads=1, window_size=M, shift_size=s, always_partition=True)
    expected = block.attn_mask
    assert torch.equal(shifted_window_mask(H, W, M, s), expected)


def test_nine_regions_of_an_8x8_map():
    labels = shift_region_labels(8, 8, 4, 2)
    assert labels.unique().tolist() == list(range(9))
    assert labels[:4, :4].unique().tolist() == [0]
    assert labels[4:6, 6:].unique().tolist() == [5]  # row band 1, column band 2
    assert labels[6:, 6:].unique().tolist() == [8]


def test_zero_shift_masks_nothing():
    assert torch.equal(shifted_window_mask(8, 12, 4, 0), torch.zeros(6, 16, 16))
    # a shift on one axis only splits that axis
    labels = shift_region_labels(8, 8, 4, (0, 2))
    assert labels.unique().tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: window_partition(torch.zeros(8, 8, 3), 4), ValueError, "x must have shape (B, H, W, C)"),
        (lambda: window_partition(torch.zeros(1, 9, 8, 3), 4), ValueError, "height H (9) must be a multiple of window height (4)"),
        (lambda: window_partition(torch.zeros(1, 8, 8, 3), -1), ValueError, "window_size must be >= 1"),
        (lambda: window_reverse(torch.zeros(3, 4, 4, 3), 4, 8, 8), ValueError, "windows must have shape (B*4, 4, 4, C)"),
        (lambda: window_reverse(torch.zeros(4, 4, 4, 3), 4, 8, 6), ValueError, "width (6) must be a multiple of window width (4)"),
        (lambda: shifted_window_mask(8, 8, 4, 4), ValueError, "shift_size must be smaller than window_size"),
        (lambda: shifted_window_mask(8, 8, 4, -1), ValueError, "shift_size must be >= 0"),
        (lambda: shifted_window_mask(8, 10, 4, 2), ValueError, "width (10) must be a multiple of window width (4)"),
        (lambda: shifted_window_mask(0, 8, 4, 2), ValueError, "height must be a positive int, got 0"),
        (lambda: window_partition(torch.zeros(1, 8, 8, 3), 2.5), TypeError, "window_size must be an int or an (h, w) pair of ints, got 2.5"),
        (lambda: window_partition([[0.0]], 4), TypeError, "x must be a torch.Tensor of shape (B, H, W, C), got list"),
        (lambda: window_reverse(torch.zeros(4, 4, 4, 3), 4, 8.0, 8), TypeError, "height must be a positive int, got 8.0"),
        (lambda: shifted_window_mask(8, 8, 4, (1, True)), TypeError, "shift_size must be an int or an (h, w) pair of ints"),
    ],
)
def test_bad_input_raises_naming_the_argument(call, error, words):
    with pytest.raises(error) as raised:
        call()
    assert words in str(raised.value)
