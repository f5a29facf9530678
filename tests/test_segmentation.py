"""The segmentation head and model: scores at the input size for any backbone and any image shape,
every stage used, a training step that learns; a plain ViT's tokens laid back on its patch grid; class
activation maps turned into masks by hand."""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from minivit.data import digit_canvas
from minivit.metrics import mean_iou
from minivit.models.mobilevit import mobilevit_tiny
from minivit.models.swin import swin_tiny
from minivit.models.toy_models import SmallCNN
from minivit.models.vit import VisionTransformer, ViTConfig, vit_tiny
from minivit.segmentation import (
    LinearProbeHead,
    ResNetBackbone,
    SegmentationHead,
    SegmentationModel,
    ViTBackbone,
    cam_from_features,
    cam_gradients,
    choose_threshold,
    class_activation_map,
    far_gradient_share,
    feature_channels,
    masks_from_cams,
    near_block,
    object_boxes,
    pointing_chance,
    pointing_game,
    pooled_masks,
    predict_masks,
)

BACKBONES = {"swin_tiny": swin_tiny, "mobilevit_tiny": mobilevit_tiny}


class FixedFeatures(nn.Module):
    """A classifier whose last feature map is given: feature_maps returns it, whatever the images."""

    def __init__(self, features: torch.Tensor, weight: torch.Tensor):
        super().__init__()
        self.features = features
        self.head = nn.Linear(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.head.weight.copy_(weight)

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [self.features]


pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.versions]  # torchvision's ResNet, torch's numerics


def model_with(name, num_classes=11, dim=16):
    torch.manual_seed(0)
    backbone = BACKBONES[name]()
    return SegmentationModel(backbone, SegmentationHead(feature_channels(backbone, 1), num_classes, dim))


@pytest.mark.parametrize("name", BACKBONES)
@pytest.mark.parametrize("H, W", [(32, 48), (40, 24), (36, 52)])
def test_scores_have_the_input_size_for_non_square_images(name, H, W):
    model = model_with(name).eval()
    with torch.no_grad():
        scores = model(torch.randn(2, 1, H, W))
    assert scores.shape == (2, 11, H, W)


def test_feature_channels_of_the_tiny_backbones_and_mode_restored():
    swin, mvit = swin_tiny(), mobilevit_tiny().train()
    assert feature_channels(swin, 1) == [32, 64, 128]
    assert feature_channels(mvit, 1, size=(32, 48)) == [16, 24, 32, 128]
    assert mvit.training


def test_head_is_projection_upsampling_concat_fuse_classify():
    torch.manual_seed(0)
    head = SegmentationHead([3, 5], num_classes=4, dim=6).eval()
    fine, coarse = torch.randn(2, 3, 8, 12), torch.randn(2, 5, 4, 6)
    up = F.interpolate(head.project[1](coarse), size=(8, 12), mode="bilinear", align_corners=False)
    mixed = torch.cat([head.project[0](fine), up], dim=1)  # (2, 12, 8, 12)
    expected = head.classify(head.fuse(mixed))  # (2, 4, 8, 12)
    expected = F.interpolate(expected, size=(16, 24), mode="bilinear", align_corners=False)
    torch.testing.assert_close(head([fine, coarse], size=(16, 24)), expected)


def test_head_uses_every_stage():
    torch.manual_seed(0)
    maps = [torch.randn(2, c, s, s, requires_grad=True) for c, s in ((8, 16), (16, 8), (32, 4), (64, 2))]
    head = SegmentationHead([8, 16, 32, 64], num_classes=3, dim=8)
    scores = head(maps, size=32)
    (scores * torch.randn_like(scores)).sum().backward()
    for m in maps:
        assert m.grad is not None and m.grad.abs().sum() > 0


@pytest.mark.parametrize("name", BACKBONES)
def test_gradient_reaches_every_stage_of_the_backbone(name):
    model = model_with(name)
    scores = model(torch.randn(2, 1, 32, 32))
    (scores * torch.randn_like(scores)).sum().backward()
    for i, stage in enumerate(model.backbone.stages):
        grads = [p.grad for p in stage.parameters()]
        assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0, f"stage {i}"
    assert model.backbone.head.weight.grad is None  # the classifier's head is never used


def test_a_frozen_backbone_gets_no_gradient_and_keeps_its_batchnorm_statistics():
    torch.manual_seed(0)
    backbone = mobilevit_tiny()
    model = SegmentationModel(backbone, SegmentationHead(feature_channels(backbone, 1), 11, 16), freeze_backbone=True)
    model.train()
    assert not backbone.training and model.head.training
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    model(torch.randn(4, 1, 32, 32)).sum().backward()
    assert all(p.grad is None for p in backbone.parameters())
    assert all(p.grad is not None for p in model.head.parameters())
    assert all(torch.equal(before[k], v) for k, v in backbone.state_dict().items())  # running means unchanged


def test_a_few_training_steps_lower_the_loss(train_on_one_batch):
    canvas = digit_canvas("train", num_samples=16, canvas_size=32, digit_size=16)
    images, _, masks = (torch.stack(items) for items in zip(*(canvas[i] for i in range(16))))
    losses = train_on_one_batch(model_with("swin_tiny"), images, masks, steps=6)
    assert losses[-1] < 0.9 * losses[0]


def test_resnet_without_pool_and_fc_gives_the_stride_32_map():
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18().eval()  # random weights: nothing to fetch
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        assert resnet(x).shape == (1, 1000)  # the classifier's output has no places left
        trunk = nn.Sequential(*list(resnet.children())[:-2])  # drop avgpool and fc
        maps = ResNetBackbone(resnet).feature_maps(x)
        assert [tuple(m.shape) for m in maps] == [(1, 64, 16, 24), (1, 128, 8, 12), (1, 256, 4, 6), (1, 512, 2, 3)]
        torch.testing.assert_close(maps[-1], trunk(x))


def test_cam_to_mask_hand_worked():
    # Two feature channels on a 2 x 3 map; class 0 reads channel 0, class 1 reads channel 1 minus channel 0.
    features = torch.tensor([[[[4.0, 2.0, 0.0], [1.0, 0.0, 0.0]], [[4.0, 2.0, 1.0], [1.0, 3.0, 0.0]]]])
    weight = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])  # (K, C)
    cams = class_activation_map(FixedFeatures(features, weight), torch.zeros(1, 1, 2, 3), upsample=False)
    assert cams.tolist() == [[[[4.0, 2.0, 0.0], [1.0, 0.0, 0.0]], [[0.0, 0.0, 1.0], [0.0, 3.0, 0.0]]]]
    # scaled by each map's maximum: class 0 [[1, .5, 0], [.25, 0, 0]], class 1 [[0, 0, 1/3], [0, 1, 0]]
    both = torch.tensor([[1, 1]])
    assert masks_from_cams(cams, both, threshold=0.3).tolist() == [[[1, 1, 2], [0, 2, 0]]]
    assert masks_from_cams(cams, both, threshold=0.5).tolist() == [[[1, 1, 0], [0, 2, 0]]]
    assert masks_from_cams(cams, torch.tensor([[1, 0]]), threshold=0.2).tolist() == [[[1, 1, 0], [1, 0, 0]]]


def test_linear_probe_reads_only_the_last_map():
    torch.manual_seed(0)
    backbone = mobilevit_tiny()
    probe = LinearProbeHead(feature_channels(backbone, 1)[-1], 11)
    assert sum(p.numel() for p in probe.parameters()) == 128 * 11 + 11  # a Linear over the channels, like a CAM
    model = SegmentationModel(backbone, probe, freeze_backbone=True).eval()
    x = torch.randn(2, 1, 32, 48)
    with torch.no_grad():
        scores = model(x)
        last = backbone.feature_maps(x)[-1]  # (2, 128, 4, 6)
    assert scores.shape == (2, 11, 32, 48)
    expected = F.interpolate(probe.classify(last), size=(32, 48), mode="bilinear", align_corners=False)
    torch.testing.assert_close(scores, expected)
    assert predict_masks(model, x).shape == (2, 32, 48) and not model.training


def test_choose_threshold_picks_the_best_mean_iou():
    cams = torch.tensor([[[[1.0, 0.7], [0.4, 0.1]]]])  # one image, one class, scaled maximum 1
    masks = torch.tensor([[[1, 1], [0, 0]]])
    best, ious = choose_threshold(cams, torch.tensor([[1]]), masks, (0.3, 0.6, 0.9), num_classes=2)
    assert best == 0.6 and ious[0.6] == 1.0 and ious[0.3] < 1.0 and ious[0.9] < 1.0


def test_pooled_masks_hand_worked():
    masks = torch.tensor([[[0, 0, 1, 2],
                           [0, 1, 2, 2],
                           [3, 3, 0, 1],
                           [3, 0, 1, 0]]])
    # blocks of 2 x 2: {0: 3, 1: 1} -> 0; {1: 1, 2: 3} -> 2; {3: 3, 0: 1} -> 3; {0: 2, 1: 2}, a tie -> 0
    assert pooled_masks(masks, 2, 4).tolist() == [[[0, 0, 2, 2], [0, 0, 2, 2], [3, 3, 0, 0], [3, 3, 0, 0]]]
    assert pooled_masks(masks, 4, 4).tolist() == masks.tolist()  # one pixel per place: nothing lost
    assert pooled_masks(masks, 1, 4).tolist() == [[[0] * 4] * 4]  # the whole mask: 0 is the most common
    assert pooled_masks(masks, (2, 1), 4).tolist() == [[[0] * 4] * 2 + [[0] * 4] * 2]  # 2 x 4 blocks: 0 wins both


def test_pooled_masks_by_brute_force():
    # every block's class, chosen among all K by counting the pixels it gets right: the most, lowest on a tie
    torch.manual_seed(0)
    masks = torch.randint(0, 5, (3, 8, 12))
    for grid in (1, 2, (4, 3), (8, 12)):
        h, w = (grid, grid) if isinstance(grid, int) else grid
        bh, bw = 8 // h, 12 // w
        expected = torch.empty_like(masks)
        for b in range(3):
            for i in range(h):
                for j in range(w):
                    block = masks[b, i * bh:(i + 1) * bh, j * bw:(j + 1) * bw]
                    best = max(range(5), key=lambda k: (int((block == k).sum()), -k))
                    expected[b, i * bh:(i + 1) * bh, j * bw:(j + 1) * bw] = best
        assert torch.equal(pooled_masks(masks, grid, 5), expected)


def test_pooled_masks_of_the_canvases_are_constant_on_blocks_and_lose_resolution():
    canvas = digit_canvas("test", num_samples=8, canvas_size=32, digit_size=16)
    masks = torch.stack([canvas[i][2] for i in range(8)])  # (8, 32, 32)
    ious = [mean_iou(pooled_masks(masks, g, 11), masks, 11) for g in (4, 8, 16, 32)]
    assert ious[-1] == 1.0 and ious == sorted(ious)
    coarse = pooled_masks(masks, 4, 11)
    assert torch.equal(coarse, coarse[:, ::8, ::8].repeat_interleave(8, 1).repeat_interleave(8, 2))


def test_pointing_game_hand_worked():
    masks = torch.zeros(1, 4, 4, dtype=torch.long)
    masks[0, :2, :2] = 1  # class 0 in the top left
    masks[0, 3, 3] = 2  # class 1 in the bottom right
    cams = torch.zeros(1, 2, 4, 4)
    cams[0, 0, 1, 1] = 1.0  # peak on class 0's box
    cams[0, 1, 0, 0] = 1.0  # peak far from class 1
    assert pointing_game(cams, masks, torch.tensor([[1, 1]])).tolist() == [True, False]
    with pytest.raises(ValueError, match="no pixel of class 2"):
        pointing_game(cams, torch.zeros_like(masks), torch.tensor([[0, 1]]))


def test_pointing_game_at_the_maps_resolution_points_at_place_centres():
    masks = torch.zeros(1, 4, 4, dtype=torch.long)
    masks[0, :2, :2] = 1  # class 0 fills the top-left place of a 2 x 2 map, whose centre is pixel (0.5, 0.5)
    masks[0, 3, 3] = 2  # class 1 is one pixel in the bottom-right place, whose centre (2.5, 2.5) is off it
    cams = torch.zeros(1, 2, 2, 2)
    cams[0, :, 0, 0] = 1.0
    cams[0, 1, 1, 1] = 2.0
    assert pointing_game(cams, masks, torch.tensor([[1, 1]])).tolist() == [True, False]
    assert pointing_chance(masks, torch.tensor([[1, 1]]), map_size=(2, 2)).tolist() == [1 / 4, 0.0]
    # the artefact of pointing on an upsampled map: the border place's value is repeated up to the border,
    # and the first pixel of that plateau wins, 3.5 pixels from where the place's centre is
    coarse = torch.zeros(1, 1, 4, 4)
    coarse[0, 0, 0, 2] = 1.0
    upsampled = F.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)
    assert divmod(int(upsampled.argmax()), 32) == (0, 19)
    digit = torch.zeros(1, 32, 32, dtype=torch.long)
    digit[0, 2:18, 12:28] = 1
    assert pointing_game(upsampled, digit, torch.tensor([[1]])).tolist() == [False]
    assert pointing_game(coarse, digit, torch.tensor([[1]])).tolist() == [True]


def test_pointing_chance_hand_worked_and_by_random_points():
    masks = torch.zeros(2, 4, 4, dtype=torch.long)
    masks[0, :2, :2] = 1  # class 0: a 2 x 2 box, 4 of 16 pixels
    masks[0, 3, 1] = masks[0, 1, 3] = 2  # class 1: two pixels, box rows 1-3, columns 1-3: 9 of 16
    masks[1, 2, 0] = 3  # class 2: one pixel
    present = torch.tensor([[1, 1, 0], [0, 0, 1]])
    assert object_boxes(masks, present) == [(0, 1, 0, 1), (1, 3, 1, 3), (2, 2, 0, 0)]
    assert pointing_chance(masks, present).tolist() == [4 / 16, 9 / 16, 1 / 16]
    # brute force: CAMs whose peak falls at a random pixel hit about that often
    torch.manual_seed(0)
    hits = torch.stack([pointing_game(torch.rand(2, 3, 4, 4), masks, present) for _ in range(4000)]).float().mean(0)
    assert torch.allclose(hits, pointing_chance(masks, present), atol=0.03)
    # and at a coarser map's resolution: 2 x 2 maps, place centres at pixels 0.5 and 2.5
    assert pointing_chance(masks, present, map_size=(2, 2)).tolist() == [1 / 4, 1 / 4, 0.0]
    hits = torch.stack([pointing_game(torch.rand(2, 3, 2, 2), masks, present) for _ in range(4000)]).float().mean(0)
    assert torch.allclose(hits, pointing_chance(masks, present, map_size=(2, 2)), atol=0.03)
    with pytest.raises(ValueError, match="one row per mask"):
        pointing_chance(masks, present[:1])


def test_far_gradient_share_is_zero_for_a_cnn_and_not_after_global_attention():
    torch.manual_seed(0)
    images, classes = torch.randn(2, 1, 32, 32), torch.tensor([3, 7])
    cnn = SmallCNN(1, 10).eval()  # receptive field 22 pixels: inside the 3 x 3 places (24 x 24 pixels) around
    assert cnn.receptive_field == 22
    assert far_gradient_share(cnn, images, classes) < 1e-9
    mvit = mobilevit_tiny().eval()  # its MobileViT blocks attend over the whole map
    assert far_gradient_share(mvit, images, classes) > 0.05


def test_cam_is_the_head_weighted_sum_of_feature_maps():
    torch.manual_seed(0)
    features, weight = torch.randn(2, 5, 4, 3), torch.randn(7, 5)
    images = torch.zeros(2, 1, 16, 12)
    cam = class_activation_map(FixedFeatures(features, weight), images, upsample=False)
    assert cam.shape == (2, 7, 4, 3)
    for b in range(2):
        for k in range(7):
            expected = sum(weight[k, c] * features[b, c] for c in range(5))
            torch.testing.assert_close(cam[b, k], expected, rtol=1e-5, atol=1e-5)
    up = class_activation_map(FixedFeatures(features, weight), images)  # at the images' size
    assert up.shape == (2, 7, 16, 12)
    torch.testing.assert_close(up, F.interpolate(cam, size=(16, 12), mode="bilinear", align_corners=False))
    # from the map alone, as when the maps were computed once for many heads
    torch.testing.assert_close(cam_from_features(weight, features), cam)
    torch.testing.assert_close(cam_from_features(weight, features, (16, 12)), up)


@pytest.mark.parametrize("build", [lambda: SmallCNN(1, 10, (8, 16, 32)), lambda: mobilevit_tiny(10)])
def test_cam_averages_to_the_logits_in_eval_mode(build):
    # pooling and the Linear commute: mean of the (un-upsampled) map + bias = the logit
    torch.manual_seed(0)
    model = build().train()
    x = torch.randn(3, 1, 64, 64)
    cam = class_activation_map(model, x, upsample=False)  # (3, 10, h, w)
    assert model.training  # its mode is restored
    torch.testing.assert_close(cam.mean(dim=(2, 3)) + model.head.bias, model.eval()(x), rtol=1e-4, atol=1e-5)
    assert class_activation_map(model, x).shape == (3, 10, 64, 64)


def test_masks_from_cams_hand_worked():
    cams = torch.tensor([[[[2.0, 1.0], [0.0, -1.0]], [[0.0, 4.0], [3.0, 1.0]]]])  # (1, 2, 2, 2)
    # scaled: class 0 [[1, .5], [0, 0]], class 1 [[0, 1], [.75, .25]]; the highest wins if >= 0.6
    both = torch.tensor([[True, True]])
    assert masks_from_cams(cams, both, threshold=0.6).tolist() == [[[1, 2], [2, 0]]]
    # class 1 not in the image: its map is ignored
    assert masks_from_cams(cams, torch.tensor([[1, 0]]), threshold=0.6).tolist() == [[[1, 0], [0, 0]]]
    assert masks_from_cams(cams, both, threshold=0.2).tolist() == [[[1, 2], [2, 2]]]


def test_masks_from_cams_within_a_region_hand_worked():
    cams = torch.tensor([[[[2.0, 1.0], [0.0, -1.0]], [[0.0, 4.0], [3.0, 1.0]]]])  # as above: [[1, 2], [2, 0]] at 0.6
    both = torch.tensor([[True, True]])
    region = torch.tensor([[[True, False], [True, True]]])  # the top-right pixel is outside the foreground
    assert masks_from_cams(cams, both, threshold=0.6, region=region).tolist() == [[[1, 0], [2, 0]]]
    assert masks_from_cams(cams, both, threshold=0.2, region=region).tolist() == [[[1, 0], [2, 2]]]
    # choose_threshold cuts the masks to the region too: only then can they fit these true masks exactly
    truth = torch.tensor([[[1, 0], [2, 2]]])
    best, ious = choose_threshold(cams, both, truth, (0.2, 0.6), 3, region=region)
    assert best == 0.2 and ious[0.2] == 1.0
    assert max(choose_threshold(cams, both, truth, (0.2, 0.6), 3)[1].values()) < 1.0
    with pytest.raises(ValueError, match=r"region must have shape \(1, 2, 2\)"):
        masks_from_cams(cams, both, region=region[:, :1])


def test_near_block_hand_worked():
    # a 4 x 4 map of a 32 x 32 image: places of 8 x 8 pixels; the block of 3 x 3 places, cut at the border
    near = near_block((0, 2), (4, 4), (32, 32))
    rows, cols = near.any(dim=1).nonzero().flatten(), near.any(dim=0).nonzero().flatten()
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (0, 15, 8, 31) and near.sum() == 16 * 24
    assert near_block((1, 1), (4, 4), (32, 32)).sum() == 24 * 24


def test_cam_gradients_are_the_jacobian_of_the_cams():
    torch.manual_seed(0)
    model = SmallCNN(1, 10, (4, 8, 8)).eval()
    images, classes = torch.randn(2, 1, 16, 16), torch.tensor([3, 5])
    gradients = cam_gradients(model, images, classes)  # (2, 2, 2, 16, 16): a 2 x 2 map
    assert gradients.shape == (2, 2, 2, 16, 16)
    for b in range(2):
        def cam(x, k=int(classes[b])):
            return class_activation_map(model, x, upsample=False)[0, k]  # (2, 2)

        jacobian = torch.autograd.functional.jacobian(cam, images[b:b + 1])  # (2, 2, 1, 1, 16, 16)
        torch.testing.assert_close(gradients[b], jacobian[:, :, 0, 0].abs())
    # the far share, summed by hand from those gradients
    near = [near_block((i, j), (2, 2), (16, 16)) for i in range(2) for j in range(2)]
    far = sum(gradients[:, i, j][:, ~near[2 * i + j]].sum() for i in range(2) for j in range(2))
    assert abs(far_gradient_share(model, images, classes) - float(far / gradients.sum())) < 1e-6


def test_vit_backbone_lays_the_patch_tokens_back_on_their_grid():
    torch.manual_seed(0)
    vit = VisionTransformer(ViTConfig(image_size=(32, 48), patch_size=8, in_channels=1, num_classes=10, dim=16,
                                      depth=2, num_heads=2, mlp_ratio=2.0)).eval()
    x = torch.randn(2, 1, 32, 48)
    with torch.no_grad():
        (feature_map,) = ViTBackbone(vit).feature_maps(x)
        tokens = vit.tokens(x)  # (2, 1 + 4 * 6, 16)
        for block in vit.blocks:
            tokens = block(tokens)
        tokens = vit.norm(tokens)
        logits = vit(x)
    assert tokens.shape == (2, 25, 16) and feature_map.shape == (2, 16, 4, 6)  # (B, D, H/p, W/p), class token gone
    for i, j in [(0, 0), (0, 5), (3, 0), (2, 4)]:  # patches numbered row by row, after the class token
        torch.testing.assert_close(feature_map[:, :, i, j], tokens[:, 1 + 6 * i + j])
    torch.testing.assert_close(vit.head(tokens[:, 0]), logits)  # the dropped token is the classifier's


def test_vit_backbone_feeds_a_segmentation_head():
    torch.manual_seed(0)
    backbone = ViTBackbone(vit_tiny(num_classes=10, in_channels=1, image_size=32))
    assert feature_channels(backbone, in_channels=1, size=32) == [64]
    model = SegmentationModel(backbone, SegmentationHead([64], num_classes=11, dim=8)).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 1, 32, 32)).shape == (3, 11, 32, 32)
    with pytest.raises(TypeError, match="vit must be a minivit VisionTransformer"):
        ViTBackbone(swin_tiny())


def test_masks_from_perfect_cams_are_the_canvas_masks():
    canvas = digit_canvas("test", num_samples=8)
    _, labels, masks = (torch.stack(items) for items in zip(*(canvas[i] for i in range(8))))
    cams = F.one_hot(masks, 11).permute(0, 3, 1, 2)[:, 1:].float()  # (B, 10, H, W): 1 on each digit
    assert torch.equal(masks_from_cams(cams, labels), masks)
    assert mean_iou(masks_from_cams(cams, labels), masks, 11) == 1.0


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: SegmentationHead([], 3), "in_channels must give"),
        (lambda: SegmentationHead([8, 0], 3), "in_channels must be a positive int"),
        (lambda: SegmentationHead([4], 3)([torch.randn(1, 5, 2, 2)], 8), "maps of shapes (B, 4, H_0, W_0)"),
        (lambda: SegmentationHead([4, 8], 3)([torch.randn(1, 4, 2, 2)], 8), "2 maps"),
        (lambda: SegmentationModel(nn.Conv2d(1, 4, 3), SegmentationHead([4], 3)), "feature_maps"),
        (lambda: ResNetBackbone(nn.Conv2d(1, 4, 3)), "resnet must be a torchvision ResNet"),
        (lambda: model_with("swin_tiny")(torch.randn(1, 32, 32)), "x must have shape (B, C, H, W)"),
        (lambda: LinearProbeHead(8, 3)([torch.randn(1, 4, 2, 2)], 8), "the last map must have shape (B, 8, h, w)"),
        (lambda: pointing_game(torch.rand(1, 2, 4, 4), torch.zeros(1, 4, 4), torch.ones(1, 3)), "present"),
        (lambda: class_activation_map(FixedFeatures(torch.randn(1, 4, 2, 2), torch.randn(3, 5)), torch.zeros(1, 1, 4, 4)),
         "head weight must have shape (K, 4)"),
        (lambda: class_activation_map(SmallCNN(), torch.zeros(1, 32, 32)), "images must have shape (B, C, H, W)"),
        (lambda: class_activation_map(nn.Linear(3, 4), torch.zeros(1, 1, 4, 4)), "feature_maps(images) method and a Linear head"),
        (lambda: masks_from_cams(torch.randn(2, 3, 4, 4), torch.ones(2, 4)), "present must have shape (2, 3)"),
        (lambda: pooled_masks(torch.zeros(1, 6, 6, dtype=torch.long), 4, 3), "grid must divide the masks' size 6 x 6"),
        (lambda: pooled_masks(torch.full((1, 4, 4), 3), 2, 3), "integer classes in [0, 3)"),
        (lambda: pooled_masks(torch.zeros(1, 4, 4), 2, 3), "integer classes in [0, 3)"),
    ],
)
def test_bad_input_raises_value_error(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value)
