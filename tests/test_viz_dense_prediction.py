"""Notebook 09's diagrams carry the shapes the real modules compute: the segmentation head's columns, one
per stage, the class activation map route and the whole weak-supervision pipeline, each box's shape checked
against a forward pass; the heads' results are drawn with their reference levels."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from minivit.models.mobilevit import mobilevit_tiny  # noqa: E402
from minivit.segmentation import SegmentationHead, feature_channels  # noqa: E402
from minivit.viz.dense_prediction import (  # noqa: E402
    plot_cam_pipeline,
    plot_heads_by_masks,
    plot_loss_curves,
    plot_segmentation_head,
    plot_weak_supervision,
)


def labels(fig):
    return [t.get_text() for t in fig.axes[0].texts if t.get_gid() == "step-label"]


def test_head_diagram_has_a_column_per_stage_and_the_head_s_shapes():
    features = [torch.zeros(2, 16, 16, 16), torch.zeros(2, 24, 8, 8), torch.zeros(2, 128, 4, 4)]
    head = SegmentationHead([16, 24, 128], num_classes=11, dim=8)
    fig = plot_segmentation_head(head, features, (32, 40))
    texts = labels(fig)
    # by hand: each stage projected to D = 8, upsampled to the finest 16 x 16 (stage 1 is that size already: no
    # box), 3 x 8 = 24 channels concatenated
    assert texts[:2] == ["stage 1\n(2, 16, 16, 16)", "1x1 conv to D = 8\n(2, 8, 16, 16)"]
    assert texts[2:5] == ["stage 2\n(2, 24, 8, 8)", "1x1 conv to D = 8\n(2, 8, 8, 8)", "upsample to 16 x 16\n(2, 8, 16, 16)"]
    assert texts[6] == "1x1 conv to D = 8\n(2, 8, 4, 4)"
    assert texts[8:] == [
        "concatenate the 3 maps\n(2, 24, 16, 16)", "fuse: 1x1 conv, BatchNorm, ReLU\n(2, 8, 16, 16)",
        "classify: 1x1 conv to K = 11\n(2, 11, 16, 16)", "upsample to the input\n(2, 11, 32, 40)",
    ]
    assert tuple(head(features, (32, 40)).shape) == (2, 11, 32, 40)  # the last box is the head's real output
    arrows = [p for p in fig.axes[0].patches if p.get_gid() == "arrow"]
    assert len(arrows) == 3 + 2 + 3 + 3  # map to conv, conv to upsample (two columns), into the concatenation, below
    assert len([line for line in fig.axes[0].lines if line.get_gid() == "pass"]) == 1  # stage 1 goes straight past


def test_head_diagram_of_one_map_is_one_column_without_steps_that_do_nothing():
    head = SegmentationHead([64], num_classes=11, dim=8)
    fig = plot_segmentation_head(head, [torch.zeros(2, 64, 8, 8)], 32)
    # no upsampling to its own size, nothing to concatenate: map, projection, fuse, classify, upsample
    assert labels(fig) == ["the one map\n(2, 64, 8, 8)", "1x1 conv to D = 8\n(2, 8, 8, 8)",
                           "fuse: 1x1 conv, BatchNorm, ReLU\n(2, 8, 8, 8)", "classify: 1x1 conv to K = 11\n(2, 11, 8, 8)",
                           "upsample to the input\n(2, 11, 32, 32)"]
    ax = fig.axes[0]
    left, right = ax.get_xlim()
    bottom, top = ax.get_ylim()
    boxes = [p.get_bbox() for p in ax.patches if p.get_gid() == "step"]
    assert len(boxes) == 5 and all(left <= b.x0 and b.x1 <= right and bottom <= b.y0 and b.y1 <= top for b in boxes)
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


def test_pipeline_diagram_has_the_shapes_of_the_classifier_and_the_head():
    torch.manual_seed(0)
    classifier = mobilevit_tiny(num_classes=10)
    head = SegmentationHead(feature_channels(classifier, 1), num_classes=11, dim=8)
    images, labels_ = torch.randn(3, 1, 32, 32), torch.tensor([[True] + [False] * 9] * 3)
    tune_masks = torch.zeros(5, 32, 32, dtype=torch.long)
    fig = plot_weak_supervision(classifier, head, images, labels_, tune_masks, 0.8)
    assert classifier.training and head.training  # run in eval mode, then their modes restored
    texts = labels(fig)
    # by hand: mobilevit_tiny's last map is 128 x 4 x 4 (stride 8); its maps per stage 16/24/32/128 channels;
    # the 5 true masks choose the threshold, and the same head trained on them is the rival
    assert [t.split("\n")[-1] for t in texts] == [
        "images (3, 1, 32, 32), labels (3, 10)", "logits (3, 10)", "(3, 10, 4, 4)",
        "keep the labelled digits (3, 10, 32, 32)", "pseudo-masks (3, 32, 32)", "scores (3, 11, 32, 32)",
        "its class of highest score, mask (3, 32, 32)", "(16, 16, 16), (24, 8, 8), (32, 8, 8), (128, 4, 4)",
        "choose the threshold 0.8", "trained on those 5 true masks instead", "(3, 32, 32)",
        # the test path: the classifier's answers instead of the labels, into the CAM masks; the heads on the
        # test canvases' frozen maps, with no answers
        "images (3, 1, 32, 32)", "logit > 0, (3, 10), instead of the labels", "CAM masks (3, 32, 32)",
        "(16, 16, 16), (24, 8, 8), (32, 8, 8), (128, 4, 4)", "answers needed: masks (3, 32, 32)"]
    assert "background below 0.8" in texts[4]
    assert texts[8] == "5 true masks (5, 32, 32)\nchoose the threshold 0.8"
    assert labels(plot_weak_supervision(classifier, head, images, labels_, tune_masks))[8].endswith("threshold t")
    ax = fig.axes[0]
    # the chain, the frozen maps in and out, true masks to the threshold and to the rival, the rival to its
    # mask, the frozen maps' line into the rival (not into the pipeline's head), the test path's two steps,
    # and the test canvases' frozen maps down and into the heads
    assert len([p for p in ax.patches if p.get_gid() == "arrow"]) == 6 + 2 + 2 + 1 + 1 + 2 + 2
    assert len([line for line in ax.lines if line.get_gid() == "rival-maps"]) == 1
    with pytest.raises(ValueError, match="labels must have shape"):
        plot_weak_supervision(classifier, head, images, torch.ones(3, dtype=torch.bool), tune_masks)
    with pytest.raises(ValueError, match="tune_masks must have shape"):
        plot_weak_supervision(classifier, head, images, labels_, tune_masks[:, :16])


def test_heads_by_masks_draws_every_reference_across_every_panel():
    panels = {f"{e} epochs": {(line, x): [0.1, 0.2, 0.4] for line in ("last map", "all maps")
                              for x in ("pseudo", "true")} for e in (2, 60)}
    fig = plot_heads_by_masks(panels, {"CAM masks": 0.27, "all background": 0.08}, "IoU", "maps and masks")
    for ax in fig.axes:
        lines = [line for line in ax.lines if line.get_gid() == "reference"]
        assert [line.get_label() for line in lines] == ["CAM masks", "all background"]
        assert [line.get_ydata()[0] for line in lines] == [0.27, 0.08]
        containers = ax.containers  # plot_interaction's: the mean of the seeds, a bar to the lowest and highest
        assert len(containers) == 2
        assert all(c.lines[0].get_ydata() == pytest.approx([0.7 / 3] * 2) for c in containers)
    assert "mean over 3 seeds" in fig._suptitle.get_text() and "lowest to highest seed" in fig._suptitle.get_text()
    with pytest.raises(TypeError, match="references must map"):
        plot_heads_by_masks(panels, [0.27], "IoU", "t")


def test_heads_by_masks_places_levels_at_their_numbers_on_a_log_axis():
    panels = {"p": {("head", n): [0.1, 0.3] for n in ("10", "50", "2,000")}}
    fig = plot_heads_by_masks(panels, {"floor": 0.08}, "IoU", "t", log_x={"10": 10, "50": 50, "2,000": 2000})
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    line, caps, (bars,) = ax.containers[0].lines
    assert list(line.get_xdata()) == [10, 50, 2000] and list(line.get_ydata()) == pytest.approx([0.2] * 3)
    assert [seg[0, 0] for seg in bars.get_segments()] == [10, 50, 2000]  # each bar at its level's number
    assert all(list(cap.get_xdata()) == [10, 50, 2000] for cap in caps)
    assert list(ax.get_xticks()) == [10, 50, 2000]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "50", "2,000"]
    assert ax.get_xlim()[0] < 10 and ax.get_xlim()[1] > 2000
    with pytest.raises(ValueError, match="log_x must map every x level"):
        plot_heads_by_masks(panels, {}, "IoU", "t", log_x={"10": 10})
    with pytest.raises(ValueError, match="positive"):
        plot_heads_by_masks(panels, {}, "IoU", "t", log_x={"10": 0, "50": 50, "2,000": 2000})


def test_loss_curves_draw_each_run_s_losses_by_epoch_and_every_reference():
    fig = plot_loss_curves({"seed 0": [2.0, 1.5, 1.2], "seed 1": [2.5, 0.5]}, {"prior": 0.6, "other": 0.1}, "t")
    (ax,) = fig.axes
    runs = [line for line in ax.lines if line.get_gid() != "reference"]
    assert [line.get_label() for line in runs] == ["seed 0", "seed 1"]
    assert list(runs[0].get_xdata()) == [1, 2, 3] and list(runs[0].get_ydata()) == [2.0, 1.5, 1.2]
    assert list(runs[1].get_xdata()) == [1, 2] and list(runs[1].get_ydata()) == [2.5, 0.5]
    references = [line for line in ax.lines if line.get_gid() == "reference"]
    assert [(line.get_label(), line.get_ydata()[0]) for line in references] == [("prior", 0.6), ("other", 0.1)]
    assert ax.get_title() == "t" and ax.get_ylim()[0] == 0


def test_loss_curves_reject_what_they_cannot_draw():
    with pytest.raises(ValueError, match="losses must be"):
        plot_loss_curves({}, {}, "t")
    with pytest.raises(ValueError, match=r"losses\['a'\]"):
        plot_loss_curves({"a": []}, {}, "t")
    with pytest.raises(TypeError, match="references must"):
        plot_loss_curves({"a": [1.0]}, [0.5], "t")
