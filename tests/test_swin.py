"""minivit's Swin against torchvision's and timm's: same logits, gradients, parameters, FLOPs and
feature maps, at the reference size and at sizes that need padding."""

import pytest
import timm
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st

from minivit.models.convert import from_timm, from_torchvision, timm_state_dict
from minivit.models.swin import SwinConfig, SwinTransformer, swin_b, swin_s, swin_t, swin_tiny
from minivit.ops.flops import count_multiply_adds
from perturb import perturb_  # tests/perturb.py

pytestmark = pytest.mark.versions  # equality with torchvision and timm


def max_diff(model: torch.nn.Module, reference: torch.nn.Module, x: torch.Tensor) -> float:
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.abs().max() > 0.1  # a zero head would make any two models agree
    return (got - expected).abs().max().item()


@pytest.fixture(scope="module")
def swin_t_pair():
    # one full-size model per reference: swin_s and swin_b run the same code with other numbers (their
    # configs are checked on the meta device below)
    torch.manual_seed(0)
    reference = perturb_(torchvision.models.swin_t()).eval()
    return reference, from_torchvision(reference)


@pytest.fixture(scope="module")
def timm_pair():
    torch.manual_seed(0)
    reference = perturb_(timm.create_model("swin_tiny_patch4_window7_224")).eval()
    return reference, from_timm(reference)


def small_torchvision_swin(window: int = 4, stochastic_depth_prob: float = 0.0) -> torchvision.models.SwinTransformer:
    torch.manual_seed(1)
    model = torchvision.models.SwinTransformer(
        patch_size=[2, 2], embed_dim=16, depths=[2, 2, 2], num_heads=[2, 2, 4], window_size=[window, window],
        stochastic_depth_prob=stochastic_depth_prob, num_classes=10,
    )
    return perturb_(model).eval()


@pytest.fixture(scope="module")
def small():
    reference = small_torchvision_swin()
    return reference, from_torchvision(reference)


# --- the same numbers as the references -----------------------------------------------------------


@pytest.mark.parametrize("size", [(224, 224), (250, 190)])
def test_logits_equal_torchvision(swin_t_pair, size):
    # 250 x 190 pads every stage, merges an odd width and has a single window along the width in stage 4
    reference, model = swin_t_pair
    assert not model.training
    assert max_diff(model, reference, torch.randn(3, 3, *size)) <= 1e-5


def test_logits_equal_timm_at_224_and_224x448(timm_pair):
    # timm is built for one size; 224 x 448 needs no padding in any stage, where timm and minivit agree
    reference, model = timm_pair
    assert max_diff(model, reference, torch.randn(1, 3, 224, 224)) <= 1e-5
    reference.set_input_size(img_size=(224, 448), window_size=7)
    try:
        assert all(block.attn.window_size == (7, 7) for stage in reference.layers for block in stage.blocks)
        assert max_diff(model, reference, torch.randn(1, 3, 224, 448)) <= 1e-5
    finally:
        reference.set_input_size(img_size=(224, 224), window_size=7)


@settings(max_examples=20)
@given(height=st.integers(8, 60), width=st.integers(8, 60))
def test_any_size_equals_torchvision(small, height, width):
    # patch 2, window 4, three stages: sizes from one token per stage up, odd and not divisible
    reference, model = small
    x = torch.randn(1, 3, height, width)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-5)


def test_training_mode_gives_torchvision_gradients(small):
    reference, model = small
    x = torch.randn(3, 3, 30, 44)
    xr, xm = x.clone().requires_grad_(), x.clone().requires_grad_()
    reference.train(), model.train()
    try:
        reference(xr).square().sum().backward()
        model(xm).square().sum().backward()
        torch.testing.assert_close(xm.grad, xr.grad, rtol=1e-4, atol=1e-6)
        for (i, j), (stage, block) in {(1, 1): (0, 1), (3, 1): (1, 1), (5, 0): (2, 0)}.items():
            ours = model.stages[stage].blocks[block].attn.relative_position_bias_table.grad
            theirs = reference.features[i][j].attn.relative_position_bias_table.grad
            assert ours.abs().max() > 0  # the bias table learns through the combined mask
            torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(model.stages[1].merge.reduction.weight.grad,
                                   reference.features[2].reduction.weight.grad, rtol=1e-4, atol=1e-6)
    finally:
        reference.eval(), model.eval()
        reference.zero_grad(set_to_none=True), model.zero_grad(set_to_none=True)


def test_stochastic_depth_draws_as_torchvision_does():
    # the same seed gives the same dropped branches: the rates grow linearly over the blocks, and every
    # block draws one number per image for its attention branch, then one for its MLP branch
    reference = small_torchvision_swin(stochastic_depth_prob=0.75)
    model = from_torchvision(reference)
    assert model.config.drop_path_rate == 0.75
    rates = [block.drop_path.p for stage in model.stages for block in stage.blocks]
    assert rates == pytest.approx([block.stochastic_depth.p for i in (1, 3, 5) for block in reference.features[i]])
    assert rates[0] == 0 and rates[-1] == 0.75
    x = torch.randn(8, 3, 32, 32)
    reference.train(), model.train()
    try:
        outputs = []
        for net in (reference, model):
            torch.manual_seed(5)
            outputs.append(net(x))
        torch.manual_seed(6)
        other_seed = model(x)
    finally:
        reference.eval(), model.eval()
    torch.testing.assert_close(outputs[1], outputs[0], rtol=1e-4, atol=1e-5)
    assert (other_seed - outputs[0]).abs().max() > 1e-2  # other draws drop other branches
    with torch.no_grad():  # and eval mode drops nothing
        torch.testing.assert_close(model(x), reference(x), rtol=0, atol=1e-5)


def test_swin_t_has_torchvisions_stochastic_depth():
    with torch.device("meta"):
        pairs = [(swin_t(), torchvision.models.swin_t()), (swin_s(), torchvision.models.swin_s()),
                 (swin_b(), torchvision.models.swin_b())]
    for ours, theirs in pairs:
        expected = [m.p for m in theirs.modules() if isinstance(m, torchvision.ops.StochasticDepth)]
        assert [block.drop_path.p for stage in ours.stages for block in stage.blocks] == pytest.approx(expected)
    assert all(block.drop_path.p == 0 for stage in swin_tiny().stages for block in stage.blocks)
    timm_model = timm.create_model("swin_tiny_patch4_window7_224", drop_path_rate=0.2, pretrained=False)
    assert from_timm(timm_model).config.drop_path_rate == pytest.approx(0.2)


def test_float64_equals_torchvision(small):
    reference, model = small
    x = torch.randn(2, 3, 36, 28, dtype=torch.float64)
    try:
        with torch.no_grad():
            torch.testing.assert_close(model.double()(x), reference.double()(x), rtol=0, atol=1e-10)
    finally:
        model.float(), reference.float()


# --- size of the models -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, parameters", [(swin_t, 28_288_354), (swin_s, 49_606_258), (swin_b, 87_768_224)], ids=["swin_t", "swin_s", "swin_b"]
)
def test_configs_have_torchvisions_parameters(make, parameters):
    with torch.device("meta"):  # shapes without allocating
        ours, theirs = make(), getattr(torchvision.models, make.__name__)()
    shapes = [sorted(tuple(p.shape) for p in model.parameters()) for model in (ours, theirs)]
    assert shapes[0] == shapes[1]
    assert sum(p.numel() for p in ours.parameters()) == parameters  # torchvision's documentation


def test_parameter_counts_of_the_notebooks_swin():
    assert sum(p.numel() for p in swin_tiny().parameters()) == 566_790
    assert sum(p.numel() for p in swin_tiny(patch_size=4).parameters()) == 567_174  # 12 more weights per channel


@pytest.mark.parametrize(
    "name, make, macs",
    [("swin_t", swin_t, 4.491e9), ("swin_s", swin_s, 8.741e9), ("swin_b", swin_b, 15.431e9)],
    ids=["swin_t", "swin_s", "swin_b"],
)
def test_flops_equal_torchvision(name, make, macs):
    with torch.device("meta"):  # the counter needs shapes only
        x = torch.empty(1, 3, 224, 224)
        counts = [count_multiply_adds(model.eval(), x) for model in (make(), getattr(torchvision.models, name)())]
    assert counts[0] == counts[1]
    assert abs(counts[0] - macs) < 0.001 * macs  # torchvision's _ops


# --- a backbone ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(224, 224), (250, 190)])
def test_feature_maps_equal_torchvision_stages(swin_t_pair, size):
    reference, model = swin_t_pair
    x = torch.randn(1, 3, *size)
    expected = []
    with torch.no_grad():
        y = x
        for i, layer in enumerate(reference.features):
            y = layer(y)
            if i % 2 == 1:  # the output of each stage, before the next patch merging
                expected.append(y.permute(0, 3, 1, 2))  # (B, C, H, W)
        maps = model.feature_maps(x)
    h, w = size[0] // 4, size[1] // 4  # stage 1 at stride 4; each merge halves, rounding up
    assert [m.shape for m in maps] == [(1, 96 * 2**i, -(-h // 2**i), -(-w // 2**i)) for i in range(4)]
    for got, want in zip(maps, expected):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_swin_tiny_for_the_notebooks(train_on_one_batch):
    torch.manual_seed(0)
    for in_channels in (1, 3):
        model = swin_tiny(num_classes=10, in_channels=in_channels)
        x = torch.randn(4, in_channels, 32, 32)
        assert model(x).shape == (4, 10)
        assert [m.shape for m in model.feature_maps(x)] == [(4, 32, 16, 16), (4, 64, 8, 8), (4, 128, 4, 4)]
    x = torch.randn(4, 1, 32, 32)
    assert [m.shape for m in swin_tiny(patch_size=4).feature_maps(x)] == [(4, 32, 8, 8), (4, 64, 4, 4), (4, 128, 2, 2)]
    model = swin_tiny()
    x, y = torch.randn(16, 1, 32, 32), torch.arange(16) % 10
    losses = train_on_one_batch(model, x, y, steps=25)
    assert losses[-1] < 0.2 * losses[0]


# --- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 224, 224), (1, 1, 224, 224), (1, 3, 224, 16), (1, 3, 224, 224, 1)])
def test_bad_input_raises_value_error_naming_the_shape(shape):
    with torch.device("meta"):
        model = swin_t()
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) = \(B, 3, H, W\) with H, W >= 32") as error:
        model(torch.zeros(shape))
    assert str(tuple(shape)) in str(error.value)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        model.feature_maps(torch.zeros(shape))


def test_unsupported_configs_and_models_raise():
    with pytest.raises(ValueError, match="not a multiple of 5 heads"):
        SwinConfig(dim=96, num_heads=(5, 6, 12, 24))
    with pytest.raises(ValueError, match="one entry per stage"):
        SwinConfig(depths=(2, 2))
    with pytest.raises(ValueError, match="Swin v2"):
        from_torchvision(torchvision.models.swin_v2_t())
    small_timm = dict(img_size=32, patch_size=2, embed_dim=8, depths=(1, 1), num_heads=(1, 2), window_size=4)
    with pytest.raises(ValueError, match="qkv bias"):
        from_timm(timm.models.swin_transformer.SwinTransformer(**small_timm, qkv_bias=False))
    assert isinstance(from_timm(timm.models.swin_transformer.SwinTransformer(**small_timm)), SwinTransformer)
    assert isinstance(from_torchvision(small_torchvision_swin(window=3)), SwinTransformer)
    with pytest.raises(TypeError, match="from_torchvision knows .* got torch.nn.modules.linear.Linear"):
        from_torchvision(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="from_timm knows .* got torch.nn.modules.linear.Linear"):
        from_timm(torch.nn.Linear(2, 2))


def test_timm_state_dict_gives_timm_the_same_weights():
    # from timm's Swin to minivit's and back: every tensor of timm's under its own name
    config = dict(img_size=32, patch_size=2, embed_dim=8, depths=(2, 2), num_heads=(1, 2), window_size=4, num_classes=5)
    torch.manual_seed(0)
    original = perturb_(timm.models.swin_transformer.SwinTransformer(**config)).eval()
    torch.manual_seed(1)
    copy = timm.models.swin_transformer.SwinTransformer(**config).eval()
    copy.load_state_dict(timm_state_dict(from_timm(original)))  # strict: every name and shape
    for name, tensor in original.state_dict().items():
        assert torch.equal(copy.state_dict()[name], tensor), name
