"""The backbone -> FPN -> head diagram: its shapes against torchvision's FeaturePyramidNetwork run on the same
maps, its top-down arrows against the sizes worked out by hand for Swin-T's maps at 224 x 224 and at a
non-square 224 x 320, and its checks of the inputs."""

from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torchvision.ops import FeaturePyramidNetwork  # noqa: E402

from minivit.viz import plot_fpn  # noqa: E402


def swin_t_maps(H, W):
    """Zero maps with the shapes of Swin-T's four stages on an H x W image, finest first."""
    return [torch.zeros(1, 96 * 2**i, H // 2 ** (i + 2), W // 2 ** (i + 2)) for i in range(4)]


def texts(ax, gid):
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


def test_fpn_shapes_are_the_modules():
    torch.manual_seed(0)
    maps = swin_t_maps(224, 224)
    fpn = FeaturePyramidNetwork([m.shape[1] for m in maps], out_channels=256).eval()
    ax = plot_fpn(fpn, maps, 224, backbone="Swin-T").axes[0]
    assert texts(ax, "map-label") == ["stage 1, stride 4\n(1, 96, 56, 56)", "stage 2, stride 8\n(1, 192, 28, 28)",
                                      "stage 3, stride 16\n(1, 384, 14, 14)", "stage 4, stride 32\n(1, 768, 7, 7)"]
    assert texts(ax, "lateral-label")[0] == "lateral 1x1 conv, 96 -> 256\n(1, 256, 56, 56)"
    assert texts(ax, "sum-label")[-1].startswith("coarsest: lateral alone")
    assert all(t.startswith("add: lateral + upsampled") for t in texts(ax, "sum-label")[:-1])
    with torch.no_grad():
        outputs = fpn(OrderedDict((str(i), m) for i, m in enumerate(maps)))
    expected = [f"3x3 conv, output {i + 1}\n({', '.join(map(str, o.shape))})" for i, o in enumerate(outputs.values())]
    assert texts(ax, "smooth-label") == expected
    # the top-down arrows bring the sum above to the size of the map below: 14, 28, 56 (from the coarsest down)
    assert sorted(texts(ax, "upsample-label")) == [f"upsample to {n} x {n} (nearest)" for n in (14, 28, 56)]
    assert len([p for p in ax.patches if p.get_gid() == "head"]) == 1
    assert "backbone: Swin-T" in texts(ax, "column-title")


def test_fpn_on_a_non_square_image():
    maps = swin_t_maps(224, 320)
    fpn = FeaturePyramidNetwork([m.shape[1] for m in maps], out_channels=64)
    ax = plot_fpn(fpn, maps, (224, 320)).axes[0]
    assert texts(ax, "smooth-label")[0] == "3x3 conv, output 1\n(1, 64, 56, 80)"
    assert texts(ax, "map-label")[3] == "stage 4, stride 32\n(1, 768, 7, 10)"
    assert sorted(texts(ax, "upsample-label")) == ["upsample to 14 x 20 (nearest)", "upsample to 28 x 40 (nearest)",
                                                   "upsample to 56 x 80 (nearest)"]


@pytest.mark.parametrize("fpn, features, size, error, message", [
    (torch.nn.Linear(2, 2), swin_t_maps(224, 224), 224, TypeError, "fpn must be an FPN module .* got Linear"),
    (None, swin_t_maps(224, 224)[:3], 224, ValueError, r"features must be 4 maps .* C_i = \[96, 192, 384, 768\]"),
    (None, swin_t_maps(224, 224)[0], 224, TypeError, "features must be a list of tensors, got Tensor"),
    (None, swin_t_maps(224, 224), 0, ValueError, "image_size must be a positive int"),
])
def test_fpn_rejects_bad_input(fpn, features, size, error, message):
    fpn = fpn if fpn is not None else FeaturePyramidNetwork([96, 192, 384, 768], out_channels=256)
    with pytest.raises(error, match=message):
        plot_fpn(fpn, features, size)
