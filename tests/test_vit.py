"""minivit's ViT against torchvision's: same logits, parameters, FLOPs and attention weights."""

import pytest
import torch
import torchvision

from minivit.models.convert import from_torchvision
from minivit.models.vit import VisionTransformer, ViTConfig, vit_b_16, vit_tiny
from minivit.ops.flops import count_multiply_adds
from perturb import perturb_  # tests/perturb.py

pytestmark = pytest.mark.versions  # equality with torchvision


def small_torchvision_vit(image_size: int, patch_size: int) -> torchvision.models.VisionTransformer:
    torch.manual_seed(1)
    model = torchvision.models.VisionTransformer(
        image_size=image_size, patch_size=patch_size, num_layers=3, num_heads=4, hidden_dim=64, mlp_dim=100, num_classes=10
    )
    return perturb_(model).eval()


@pytest.fixture(scope="module")
def b16():
    torch.manual_seed(0)
    reference = perturb_(torchvision.models.vit_b_16()).eval()
    return reference, from_torchvision(reference)


@pytest.fixture(scope="module")
def small():
    reference = small_torchvision_vit(64, 8)
    return reference, from_torchvision(reference)


def test_vit_b_16_gives_torchvision_logits_at_224(b16):
    reference, model = b16
    assert not model.training
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected, got = reference(x), model(x)
    assert expected.abs().max() > 0.1  # a zero head would make any two models agree
    assert (got - expected).abs().max() <= 1e-5


@pytest.mark.parametrize("image_size, patch_size", [(64, 8), (48, 16)])
def test_other_sizes_give_torchvision_logits(image_size, patch_size):
    reference = small_torchvision_vit(image_size, patch_size)
    model = from_torchvision(reference)
    assert model.image_size == (image_size, image_size)
    x = torch.randn(3, 3, image_size, image_size)
    with torch.no_grad():
        assert (model(x) - reference(x)).abs().max() <= 1e-5


def test_training_mode_gives_the_same_gradients(small):
    reference, model = small
    x = torch.randn(2, 3, 64, 64)
    reference.train(), model.train()
    try:
        reference(x).square().sum().backward()
        model(x).square().sum().backward()
        torch.testing.assert_close(model.patch_embed.weight.grad, reference.conv_proj.weight.grad, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(model.pos_embed.grad, reference.encoder.pos_embedding.grad, rtol=1e-4, atol=1e-5)
    finally:
        reference.eval(), model.eval()
        reference.zero_grad(set_to_none=True), model.zero_grad(set_to_none=True)


def test_parameter_counts(b16):
    reference, _ = b16
    count = sum(p.numel() for p in vit_b_16().parameters())
    assert count == sum(p.numel() for p in reference.parameters()) == 86_567_656
    assert sum(p.numel() for p in vit_tiny().parameters()) == 139_978


def test_flops_equal_torchvision():
    with torch.device("meta"):  # the counter needs shapes only
        x = torch.empty(1, 3, 224, 224)
        macs = count_multiply_adds(vit_b_16().eval(), x)
        assert macs == count_multiply_adds(torchvision.models.vit_b_16().eval(), x)
    assert abs(macs - 17.56e9) < 0.01e9  # torchvision's documented GFLOPS for vit_b_16 (its `_ops`): 17.56 at 224


def test_attention_maps_equal_torchvision_attention_weights(small):
    reference, model = small
    x = torch.randn(2, 3, 64, 64)
    inputs = []
    hooks = [layer.register_forward_pre_hook(lambda m, args: inputs.append(args[0])) for layer in reference.encoder.layers]
    try:
        with torch.no_grad():
            reference(x)
    finally:
        for hook in hooks:
            hook.remove()
    maps = model.attention_maps(x)
    assert len(maps) == 3
    for layer, tokens, weights in zip(reference.encoder.layers, inputs, maps):
        assert weights.shape == (2, 4, 65, 65)  # (B, nh, 1+N, 1+N), 8x8 patches
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 65))
        h = layer.ln_1(tokens)
        with torch.no_grad():
            _, expected = layer.self_attention(h, h, h, need_weights=True, average_attn_weights=False)
        torch.testing.assert_close(weights, expected, rtol=1e-4, atol=1e-6)


def test_last_attention_map_reproduces_the_output(small):
    _, model = small
    x = torch.randn(2, 3, 64, 64)
    weights = model.attention_maps(x)[-1]  # (B, nh, 1+N, 1+N)
    with torch.no_grad():
        tokens = model.tokens(x)
        for block in model.blocks[:-1]:
            tokens = block(tokens)
        last = model.blocks[-1]
        v = last.attn.heads(last.norm1(tokens))[2]  # (B, nh, 1+N, hs)
        mixed = (weights @ v).transpose(1, 2).flatten(2)  # heads side by side: (B, 1+N, D)
        tokens = tokens + last.attn.proj(mixed)
        tokens = tokens + last.mlp(last.norm2(tokens))
        logits = model.head(model.norm(tokens[:, 0]))
        torch.testing.assert_close(logits, model(x), rtol=1e-5, atol=1e-5)


def test_vit_b_16_attention_maps(b16):
    _, model = b16
    maps = model.attention_maps(torch.randn(1, 3, 224, 224))
    assert len(maps) == 12 and all(m.shape == (1, 12, 197, 197) for m in maps)
    torch.testing.assert_close(maps[5].sum(-1), torch.ones(1, 12, 197))


@pytest.mark.parametrize(
    "shape", [(3, 224, 224), (1, 1, 224, 224), (1, 3, 224, 160), (1, 3, 256, 256), (1, 3, 224, 224, 1)]
)
def test_bad_input_raises_value_error_naming_the_shape(b16, shape):
    _, model = b16
    with pytest.raises(ValueError, match=r"\(B, C, H, W\) = \(B, 3, 224, 224\)") as error:
        model(torch.zeros(shape))
    assert str(tuple(shape)) in str(error.value)


def test_vit_tiny_learns_a_small_batch(train_on_one_batch):
    torch.manual_seed(0)
    model = vit_tiny(num_classes=10, in_channels=1)
    x, y = torch.randn(16, 1, 32, 32), torch.arange(16) % 10
    assert model(x).shape == (16, 10)
    losses = train_on_one_batch(model, x, y, steps=20)
    assert losses[-1] < 0.2 * losses[0]


def test_config_mismatch_and_unsupported_models_raise():
    with pytest.raises(ValueError, match="multiple of patch_size"):
        VisionTransformer(ViTConfig(image_size=30, patch_size=8))
    model = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=32, representation_size=8
    )
    with pytest.raises(ValueError, match="representation layer"):
        from_torchvision(model)
