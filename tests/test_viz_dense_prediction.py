"""Notebook 09's diagrams carry the shapes the real modules compute: the segmentation head's columns, one
per stage, the class activation map route, and the two readings of a head, each box's shape checked against
a forward pass."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from minivit.models.mobilevit import mobilevit_tiny  # noqa: E402
from minivit.segmentation import LinearProbeHead, SegmentationHead  # noqa: E402
from minivit.viz.dense_prediction import plot_cam_pipeline, plot_head_readings, plot_segmentation_head  # noqa: E402


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


def test_head_diagram_of_one_map_is_one_column_inside_the_axes():
    head = SegmentationHead([64], num_classes=11, dim=8)
    fig = plot_segmentation_head(head, [torch.zeros(2, 64, 8, 8)], 32)
    texts = labels(fig)
    assert texts[0] == "last map\n(2, 64, 8, 8)" and texts[-1] == "upsample to the input\n(2, 11, 32, 32)"
    assert texts[3] == "(one map: nothing to concatenate)\n(2, 8, 8, 8)"  # S * D = 1 * 8 channels
    ax = fig.axes[0]
    left, right = ax.get_xlim()
    boxes = [p.get_bbox() for p in ax.patches if p.get_gid() == "step"]
    assert len(boxes) == 7 and all(left <= b.x0 and b.x1 <= right for b in boxes)
    assert ax.get_title() == "segmentation head on one map: K scores per pixel"


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


def test_readings_diagram_has_the_head_s_shapes_in_both_branches():
    torch.manual_seed(0)
    features = [torch.randn(3, 128, 4, 5)]
    head = LinearProbeHead(128, num_classes=11)
    present = torch.tensor([[True] + [False] * 9] * 3)
    with torch.no_grad():
        scores = head(features, (32, 40))
    assert tuple(scores.shape) == (3, 11, 32, 40)  # 11 classes: background and 10 digits, at the input size
    fig = plot_head_readings(head, features, (32, 40), present, 0.4)
    assert head.training  # run in eval mode, then its mode restored
    # by hand: the scores (B, 1 + K, H, W); argmax drops the class axis; the CAM reading keeps K = 10 digit maps
    assert labels(fig) == [
        "head's scores, background first\n(3, 11, 32, 40)",
        "by argmax: the class of highest score\nmask (3, 32, 40)",
        "like a CAM: softmax, background dropped\ndigit probabilities (3, 10, 32, 40)",
        "scale each digit's map by its maximum\n(3, 10, 32, 40)",
        "keep the digits the classifier answers\n(3, 10) -> (3, 10, 32, 40)",
        "highest digit, or background below 0.4\nmask (3, 32, 40)",
    ]
    ax = fig.axes[0]
    assert len([p for p in ax.patches if p.get_gid() == "step"]) == 6
    assert len([p for p in ax.patches if p.get_gid() == "arrow"]) == 2 + 3  # the split, then down the CAM branch
    notes = [t.get_text() for t in ax.texts if t.get_gid() == "control-label"]
    assert [n.split("\n")[0] for n in notes] == ["control: skip this step", "control: keep the true labels instead"]
    assert labels(plot_head_readings(head, features, 32, present))[-1] == (
        "highest digit, or background below a threshold t\nmask (3, 32, 32)")


def test_readings_diagram_rejects_bad_arguments():
    head, features = LinearProbeHead(8, num_classes=3), [torch.zeros(1, 8, 2, 2)]
    with pytest.raises(TypeError, match="head must be an nn.Module"):
        plot_head_readings(lambda f, s: f[0], features, 8, torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="threshold must be in"):
        plot_head_readings(head, features, 8, torch.ones(1, 2, dtype=torch.bool), 1.5)
    with pytest.raises(ValueError, match="present must have shape"):
        plot_head_readings(head, features, 8, torch.ones(1, 5, dtype=torch.bool))
