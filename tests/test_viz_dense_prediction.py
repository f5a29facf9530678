"""Notebook 09's diagrams carry the shapes the real modules compute: the segmentation head's columns, one
per stage, and the class activation map route, each box's shape checked against a forward pass."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from minivit.models.mobilevit import mobilevit_tiny  # noqa: E402
from minivit.segmentation import SegmentationHead  # noqa: E402
from minivit.viz.dense_prediction import plot_cam_pipeline, plot_segmentation_head  # noqa: E402


def labels(fig):
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "step-label"]


def test_head_diagram_has_a_column_per_stage_and_the_head_s_shapes():
    features = [torch.zeros(2, 16, 16, 16), torch.zeros(2, 24, 8, 8), torch.zeros(2, 128, 4, 4)]
    head = SegmentationHead([16, 24, 128], num_classes=11, dim=8)
    texts = labels(plot_segmentation_head(head, features, (32, 40)))
    # by hand: each stage projected to D = 8, upsampled to the finest 16 x 16, 3 x 8 = 24 channels concatenated
    assert texts[:3] == ["stage 1\n(2, 16, 16, 16)", "1x1 conv to D = 8\n(2, 8, 16, 16)", "upsample to 16 x 16\n(2, 8, 16, 16)"]
    assert texts[7] == "1x1 conv to D = 8\n(2, 8, 4, 4)"
    assert texts[9:] == [
        "concatenate the 3 maps\n(2, 24, 16, 16)", "fuse: 1x1 conv, BatchNorm, ReLU\n(2, 8, 16, 16)",
        "classify: 1x1 conv to K = 11\n(2, 11, 16, 16)", "upsample to the input\n(2, 11, 32, 40)",
    ]
    assert tuple(head(features, (32, 40)).shape) == (2, 11, 32, 40)  # the last box is the head's real output
    arrows = [p for p in plot_segmentation_head(head, features, 32).axes[0].patches if p.get_gid() == "arrow"]
    assert len(arrows) == 3 * 2 + 3 + 3  # two per column, one from each column into the concatenation, three below


def test_head_diagram_rejects_what_the_head_would():
    head = SegmentationHead([16, 24], num_classes=3)
    with pytest.raises(ValueError, match="features must be 2 maps"):
        plot_segmentation_head(head, [torch.zeros(1, 16, 8, 8)], 32)
    with pytest.raises(TypeError, match="head must be a SegmentationHead"):
        plot_segmentation_head(torch.nn.Identity(), [torch.zeros(1, 16, 8, 8)], 32)


def test_cam_diagram_has_the_classifier_s_shapes():
    torch.manual_seed(0)
    classifier = mobilevit_tiny(num_classes=10)
    images = torch.randn(3, 1, 32, 32)
    texts = labels(plot_cam_pipeline(classifier, images, 0.4))
    assert classifier.training  # the diagram ran it in eval mode, then restored its mode
    with torch.no_grad():
        last = classifier.eval().feature_maps(images)[-1]
    assert tuple(last.shape) == (3, 128, 4, 4)  # mobilevit_tiny: stride 8, 128 channels
    assert texts == [
        "image\n(3, 1, 32, 32)",
        "backbone: last feature map\n(3, 128, 4, 4)",
        "global average pool, Linear (10 x 128)\nlogits (3, 10)",
        "the same Linear at every place: CAMs\n(3, 10, 4, 4)",
        "upsample to 32 x 32\n(3, 10, 32, 32)",
        "scale to [0, 1], keep classes with logit > 0\n(3, 10, 32, 32)",
        "highest class, or background below 0.4\nmask (3, 32, 32)",
    ]
    assert labels(plot_cam_pipeline(classifier, images))[-1] == "highest class, or background below a threshold\nmask (3, 32, 32)"
    with pytest.raises(ValueError, match="feature_maps"):
        plot_cam_pipeline(torch.nn.Linear(2, 2), images, 0.4)
