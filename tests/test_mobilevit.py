"""minivit's MobileViT against timm's: same logits, parameters, FLOPs and feature maps."""

import pytest
import timm
import torch
from timm.models import mobilevit as timm_mobilevit
from timm.models.byobnet import ByobNet

from minivit.models.convert import from_timm
from minivit.models.mobilevit import (
    MobileViTBlock,
    MobileViTConfig,
    mobilevit_s,
    mobilevit_tiny,
    mobilevit_xs,
    mobilevit_xxs,
)
from minivit.ops.flops import count_multiply_adds
from perturb import perturb_  # tests/perturb.py

pytestmark = pytest.mark.versions  # equality with timm

CONFIGS = [mobilevit_xxs, mobilevit_xs, mobilevit_s]


@pytest.fixture(scope="module")
def pair():
    # one full-size model: XS and S run the same code with other numbers (their configs are checked on the
    # meta device below)
    torch.manual_seed(0)
    reference = perturb_(timm.create_model("mobilevit_xxs")).eval()
    return reference, from_timm(reference)


@pytest.mark.parametrize("size", [(256, 256), (200, 232)])  # 200x232 is not a multiple of 32: resized in the blocks
def test_same_logits_as_timm(pair, size):
    reference, model = pair
    assert not model.training
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.abs().max() > 0.01
    assert (got - expected).abs().max() <= 1e-5


def timm_on_meta(name: str) -> torch.nn.Module:
    """timm's model in eval mode, moved to the meta device. Built on the CPU first: timm 1.0.8, the lowest version
    pyproject admits, reads a tensor's values while building a MobileViT, which a meta tensor does not have."""
    return timm.create_model(name).eval().to("meta")


@pytest.mark.parametrize("make", CONFIGS, ids=[m.__name__ for m in CONFIGS])
def test_flops_equal_timm(make):
    reference = timm_on_meta(make.__name__)
    with torch.device("meta"):  # the counter needs shapes only
        x = torch.empty(1, 3, 128, 160)  # small, and the 4x5 map of the last stage takes the resize path
        assert count_multiply_adds(make().eval(), x) == count_multiply_adds(reference, x)


def test_xxs_flops_at_256():
    reference = timm_on_meta("mobilevit_xxs")
    with torch.device("meta"):
        x = torch.empty(1, 3, 256, 256)
        assert count_multiply_adds(mobilevit_xxs().eval(), x) == count_multiply_adds(reference, x) == 407_364_096


@pytest.mark.parametrize(
    "make, parameters", list(zip(CONFIGS, [1_272_024, 2_317_848, 5_578_632])), ids=[m.__name__ for m in CONFIGS]
)
def test_configs_have_timms_parameters(make, parameters):
    theirs = timm_on_meta(make.__name__)
    with torch.device("meta"):  # shapes without allocating
        ours = make()
    shapes = [sorted(tuple(p.shape) for p in model.parameters()) for model in (ours, theirs)]
    assert shapes[0] == shapes[1]
    assert sum(p.numel() for p in ours.parameters()) == parameters  # timm's, at 1000 classes


def test_parameter_count_of_the_notebooks_mobilevit():
    assert sum(p.numel() for p in mobilevit_tiny().parameters()) == 172_714


def test_feature_maps_equal_timm_intermediates(pair):
    reference, model = pair
    x = torch.randn(1, 3, 200, 232)
    with torch.no_grad():
        maps = model.feature_maps(x)
        expected = reference.forward_intermediates(x, intermediates_only=True)
    assert [m.shape for m in maps] == [e.shape for e in expected]
    for got, want in zip(maps, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)  # maps reach ~10, unlike the logits


def test_feature_map_shapes():
    model = mobilevit_xxs().eval()
    with torch.no_grad():
        maps = model.feature_maps(torch.randn(2, 3, 256, 256))
    assert [tuple(m.shape) for m in maps] == [
        (2, 16, 128, 128), (2, 24, 64, 64), (2, 48, 32, 32), (2, 64, 16, 16), (2, 320, 8, 8)
    ]
    tiny = mobilevit_tiny().eval()
    with torch.no_grad():
        maps = tiny.feature_maps(torch.randn(2, 1, 32, 32))
        assert tiny(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert [tuple(m.shape) for m in maps] == [(2, 16, 16, 16), (2, 24, 8, 8), (2, 32, 8, 8), (2, 128, 4, 4)]


def test_feature_maps_are_in_the_ordinary_memory_layout():
    # channels-last inside the model is a speed detail: callers get contiguous (B, C, H, W) maps
    model = mobilevit_tiny().eval()
    with torch.no_grad():
        maps = model.feature_maps(torch.randn(2, 1, 32, 32))
    assert all(m.is_contiguous() for m in maps)
    assert maps[-1].view(2, 128, 16).shape == (2, 128, 16)  # .view needs the ordinary layout


def test_training_mode_gives_the_same_outputs_and_gradients():
    torch.manual_seed(0)
    reference = perturb_(timm.create_model("mobilevit_xxs", num_classes=5)).train()
    model = from_timm(reference)
    assert model.training
    x = torch.randn(2, 3, 64, 80)
    out, expected = model(x), reference(x)  # batch statistics in every BatchNorm
    assert (out - expected).abs().max() <= 1e-5
    out.square().sum().backward()
    expected.square().sum().backward()
    torch.testing.assert_close(model.stem.conv.weight.grad, reference.stem.conv.weight.grad, rtol=1e-4, atol=1e-5)
    qkv, qkv_ref = model.stages[3][1].transformer[2].attn.qkv, reference.stages[3][1].transformer[2].attn.qkv
    torch.testing.assert_close(qkv.weight.grad, qkv_ref.weight.grad, rtol=1e-4, atol=1e-5)


def test_block_keeps_any_map_size():
    block = MobileViTBlock(8, dim=16, depth=1).eval()
    for H, W in [(5, 7), (1, 1), (6, 4)]:
        assert block(torch.randn(2, 8, H, W)).shape == (2, 8, H, W)


@pytest.mark.parametrize("shape", [(3, 64, 64), (1, 1, 64, 64), (1, 4, 64, 64), (1, 3, 64, 64, 1)])
def test_bad_input_raises_value_error_naming_the_shape(shape):
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) = \(B, 3, H, W\)") as error:
        mobilevit_xxs()(torch.zeros(shape))
    assert str(tuple(shape)) in str(error.value)


def test_unsupported_timm_model_raises():
    # timm's config for a MobileViT-S with squeeze-and-excitation inside the MV2 blocks
    model = ByobNet(timm_mobilevit.model_cfgs["semobilevit_s"])
    with pytest.raises(ValueError, match="no minivit name for ByobNet's tensor 'stages.0.0.attn"):
        from_timm(model)


@pytest.mark.parametrize(
    "changes, words",
    [
        (dict(strides=(1, 2)), "channels, strides and mv2_blocks need one entry per stage, got 5, 2 and 5"),
        (dict(depths=(2, 4)), "dims and depths need one entry per MobileViT block, got 3 and 2: (64, 80, 96), (2, 4)"),
        (dict(dims=(8,) * 6, depths=(1,) * 6), "at most one MobileViT block per stage: 6 dims (8, 8, 8, 8, 8, 8) for 5 stages"),
    ],
)
def test_config_errors_show_the_values(changes, words):
    with pytest.raises(ValueError) as error:
        MobileViTConfig(**changes)
    assert words in str(error.value)
