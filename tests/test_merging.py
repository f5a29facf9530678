import pytest
import torch
from torchvision.models.swin_transformer import PatchMerging

from minivit import merge_patches

pytestmark = pytest.mark.versions  # equality with the references


def test_hand_worked_4x4_map():
    # one channel holding 0..15: the top-left output token gathers 0 (top-left), 4 (bottom-left),
    # 1 (top-right) and 5 (bottom-right)
    x = torch.arange(16.0).reshape(1, 4, 4, 1)
    out = merge_patches(x)
    assert out.shape == (1, 2, 2, 4)
    assert out[0, 0, 0].tolist() == [0, 4, 1, 5]
    assert out[0, 1, 1].tolist() == [10, 14, 11, 15]


@pytest.mark.parametrize("H, W", [(8, 8), (4, 10)])
def test_equals_torchvision_patch_merging_before_its_norm(H, W):
    layer = PatchMerging(dim=3)
    layer.norm = torch.nn.Identity()
    layer.reduction = torch.nn.Identity()
    x = torch.randn(2, H, W, 3)
    assert torch.equal(merge_patches(x), layer(x))


@pytest.mark.parametrize("shape, words", [((4, 4, 3), "(B, H, W, C)"), ((1, 5, 4, 3), "even height and width")])
def test_bad_input_raises_value_error(shape, words):
    with pytest.raises(ValueError) as error:
        merge_patches(torch.zeros(shape))
    assert words in str(error.value)
