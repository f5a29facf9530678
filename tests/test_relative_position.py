import pytest
import torch
from timm.models.swin_transformer import get_relative_position_index
from torchvision.models.swin_transformer import ShiftedWindowAttention

from minivit import relative_position_index

pytestmark = pytest.mark.versions  # equality with the references


@pytest.mark.parametrize("window", [(1, 1), (2, 2), (3, 5), (7, 7), (12, 12), (4, 1)])
def test_equals_timm(window):
    assert torch.equal(relative_position_index(window), get_relative_position_index(*window))


@pytest.mark.parametrize("M", [2, 7])
def test_equals_torchvision(M):
    layer = ShiftedWindowAttention(dim=8, window_size=[M, M], shift_size=[0, 0], num_heads=2)
    assert torch.equal(relative_position_index(M).flatten(), layer.relative_position_index)


def test_hand_worked_2x2_window():
    # Tokens (0,0) (0,1) (1,0) (1,1). For query (0,0) and key (1,1): dy = -1 + 1 = 0, dx = -1 + 1 = 0
    # -> index 0. For query (1,1) and key (0,0): dy = 2, dx = 2 -> 2 * 3 + 2 = 8. Same position -> 4.
    index = relative_position_index(2)
    assert index.dtype == torch.int64
    assert index.tolist() == [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]]


def test_same_offset_same_index_and_table_is_covered():
    M = 5
    index = relative_position_index(M)
    assert sorted(index.unique().tolist()) == list(range((2 * M - 1) ** 2))
    # tokens (0,0)->(1,2) and (2,1)->(3,3) have the same offset, so the same index
    t = lambda i, j: i * M + j  # noqa: E731
    assert index[t(0, 0), t(1, 2)] == index[t(2, 1), t(3, 3)]


@pytest.mark.parametrize(
    "bad, error, words",
    [(0, ValueError, "window_size must be >= 1"), ((7,), TypeError, "window_size must be an int or an (h, w) pair")],
)
def test_bad_input_raises(bad, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        relative_position_index(bad)


@pytest.mark.parametrize("window", [(2, 2), (7, 7), (3, 5)])
def test_bias_equals_torchvision_and_timm(window):
    from timm.models.swin_transformer import WindowAttention as TimmWindowAttention
    from torchvision.models.swin_transformer import _get_relative_position_bias

    from minivit.ops.relative_position import relative_position_bias

    timm_layer = TimmWindowAttention(dim=8, num_heads=2, window_size=window)
    table = torch.randn_like(timm_layer.relative_position_bias_table)
    timm_layer.relative_position_bias_table.data.copy_(table)
    ours = relative_position_bias(table, window)  # (nh, N, N)
    assert torch.equal(ours, timm_layer._get_rel_pos_bias()[0])
    index = get_relative_position_index(*window).flatten()
    assert torch.equal(ours[None], _get_relative_position_bias(table, index, list(window)))


def test_bias_of_a_wrong_table_raises():
    from minivit.ops.relative_position import relative_position_bias

    with pytest.raises(ValueError, match=r"table must have shape \(\(2Mh-1\)\(2Mw-1\), nh\) = \(49, nh\)"):
        relative_position_bias(torch.zeros(48, 3), 4)
