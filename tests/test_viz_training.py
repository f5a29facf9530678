"""The training figures draw what they are given: each digit in its own axes with its label (and the
prediction, in red when wrong), and one line per model and epoch in the training curves."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (only to check that no figure is left open in pyplot)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from minivit import viz  # noqa: E402
from minivit.train import History  # noqa: E402
from minivit.viz._common import as_image  # noqa: E402


def shown(ax):
    return np.asarray(ax.get_images()[0].get_array())


def test_digits_are_drawn_in_batch_order_with_their_labels():
    images = torch.randn(10, 1, 8, 8)
    labels = torch.arange(10) % 7
    fig = viz.plot_digits(images, labels, columns=4)
    assert isinstance(fig, Figure)
    axes = fig.axes
    assert len(axes) == 12  # 3 rows of 4; the last two hidden
    for i in range(10):
        assert axes[i].get_visible()
        np.testing.assert_array_equal(shown(axes[i]), as_image(images[i]))
        assert axes[i].get_title() == str(int(labels[i]))
    assert [ax.get_visible() for ax in axes[10:]] == [False, False]
    assert "10 images" in fig.get_suptitle()
    assert plt.get_fignums() == []  # never registered in pyplot


def test_wrong_predictions_are_titled_in_red():
    images = torch.rand(4, 3, 6, 6)
    labels = torch.tensor([0, 1, 2, 3])
    predictions = np.array([0, 2, 2, 1])
    fig = viz.plot_digits(images, labels, predictions, class_names=["a", "b", "c", "d"])
    titles = [ax.title for ax in fig.axes]
    assert [t.get_text() for t in titles] == ["a -> a", "b -> c", "c -> c", "d -> b"]
    red = to_rgba("red")
    assert [to_rgba(t.get_color()) == red for t in titles] == [False, True, False, True]
    assert "2 wrong" in fig.get_suptitle()
    np.testing.assert_allclose(shown(fig.axes[1]), images[1].permute(1, 2, 0).numpy())


def test_digits_check_their_arguments():
    with pytest.raises(ValueError, match="images"):
        viz.plot_digits(torch.rand(4, 8, 8), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="labels"):
        viz.plot_digits(torch.rand(4, 1, 8, 8), [0, 1, 2])
    with pytest.raises(ValueError, match="predictions"):
        viz.plot_digits(torch.rand(4, 1, 8, 8), [0, 1, 2, 3], [0, 1])
    with pytest.raises(ValueError, match="columns"):
        viz.plot_digits(torch.rand(4, 1, 8, 8), [0, 1, 2, 3], columns=0)


def test_training_curves_draw_one_line_per_model_and_epoch():
    a = History(train_loss=[2.0, 1.0, 0.5], train_accuracy=[0.2, 0.6, 0.8], eval_accuracy=[0.5, 0.7, 0.9],
                seconds=[1.0, 1.0, 1.0])
    b = History(train_loss=[2.2, 0.9], train_accuracy=[0.3, 0.7], eval_accuracy=[0.6, 0.95], seconds=[2.0, 2.0])
    fig = viz.plot_training_curves({"ViT": a, "CNN": b})
    loss_ax, accuracy_ax = fig.axes[:2]
    for ax, key in ((loss_ax, "train_loss"), (accuracy_ax, "eval_accuracy")):
        assert [line.get_label() for line in ax.lines] == ["ViT", "CNN"]
        for line, history in zip(ax.lines, (a, b)):
            values = getattr(history, key)
            np.testing.assert_array_equal(line.get_xdata(), np.arange(1, len(values) + 1))
            np.testing.assert_array_equal(line.get_ydata(), values)
        assert ax.lines[0].get_color() != ax.lines[1].get_color()
    assert accuracy_ax.get_title() == "test accuracy after each epoch"
    assert viz.plot_training_curves({"ViT": a}, evaluated_on="validation").axes[1].get_title() == (
        "validation accuracy after each epoch")
    assert plt.get_fignums() == []


def test_training_curves_without_eval_accuracy_and_bad_input():
    fig = viz.plot_training_curves({"m": History(train_loss=[1.0, 0.5], train_accuracy=[0.5, 0.6])})
    assert len(fig.axes[0].lines) == 1 and len(fig.axes[1].lines) == 0
    with pytest.raises(ValueError, match="histories"):
        viz.plot_training_curves({})
    with pytest.raises(ValueError, match="histories"):
        viz.plot_training_curves({"m": [0.1, 0.2]})


def test_accuracy_against_data_size_draws_mean_and_seed_range_per_model():
    rows = [
        dict(model="CNN", train_size=100, test_accuracy=0.5), dict(model="CNN", train_size=100, test_accuracy=0.7),
        dict(model="CNN", train_size=1000, test_accuracy=0.9), dict(model="CNN", train_size=1000, test_accuracy=0.95),
        dict(model="ViT", train_size=1000, test_accuracy=0.8), dict(model="ViT", train_size=100, test_accuracy=0.3),
    ]
    fig = viz.plot_accuracy_vs_data(rows)
    ax = fig.axes[0]
    cnn, vit = ax.containers
    np.testing.assert_array_equal(cnn.lines[0].get_xdata(), [100, 1000])
    np.testing.assert_allclose(cnn.lines[0].get_ydata(), [0.6, 0.925])
    np.testing.assert_allclose([seg[:, 1] for seg in cnn.lines[2][0].get_segments()], [[0.5, 0.7], [0.9, 0.95]])
    np.testing.assert_allclose(vit.lines[0].get_ydata(), [0.3, 0.8])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CNN (2 seeds)", "ViT"]
    assert ax.get_xscale() == "log"
    assert plt.get_fignums() == []
    with pytest.raises(ValueError, match="rows"):
        viz.plot_accuracy_vs_data([])
    with pytest.raises(ValueError, match=r"rows\[0\]"):
        viz.plot_accuracy_vs_data([dict(model="m")])


def test_accuracy_against_data_size_draws_baselines_dashed_after_the_models():
    rows = [dict(model="CNN", train_size=10, test_accuracy=0.5), dict(model="CNN", train_size=100, test_accuracy=0.9)]
    baselines = [dict(model="1-NN", train_size=100, test_accuracy=0.8), dict(model="1-NN", train_size=10, test_accuracy=0.6),
                 dict(model="1-NN", train_size=10, test_accuracy=0.7), dict(model="1-NN", train_size=100, test_accuracy=0.8)]
    ax = viz.plot_accuracy_vs_data(rows, baselines=baselines).axes[0]
    cnn, knn = ax.containers
    assert cnn.lines[0].get_linestyle() == "-" and knn.lines[0].get_linestyle() == "--"
    np.testing.assert_array_equal(knn.lines[0].get_xdata(), [10, 100])
    np.testing.assert_allclose(knn.lines[0].get_ydata(), [0.65, 0.8])
    np.testing.assert_allclose([seg[:, 1] for seg in knn.lines[2][0].get_segments()], [[0.6, 0.7], [0.8, 0.8]])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CNN", "1-NN (2 seeds)"]
    named = viz.plot_accuracy_vs_data(rows, baselines=baselines, run_names={"1-NN": "draws of the digits"}).axes[0]
    assert [t.get_text() for t in named.get_legend().get_texts()] == ["CNN", "1-NN (2 draws of the digits)"]
    with pytest.raises(TypeError, match="run_names"):
        viz.plot_accuracy_vs_data(rows, run_names={"CNN": 2})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "100"]
    with pytest.raises(ValueError, match=r"baselines\[0\]"):
        viz.plot_accuracy_vs_data(rows, baselines=[dict(model="m")])
    assert plt.get_fignums() == []


def test_accuracy_against_data_size_shades_a_band_per_model_given():
    rows = [dict(model="CNN", train_size=10, test_accuracy=0.5), dict(model="CNN", train_size=100, test_accuracy=0.9),
            dict(model="ViT", train_size=10, test_accuracy=0.4), dict(model="ViT", train_size=100, test_accuracy=0.8)]
    bands = {"ViT": {100: (0.7, 0.85), 10: (0.3, 0.5)}}
    ax = viz.plot_accuracy_vs_data(rows, bands=bands, bands_label="noise").axes[0]
    (band,) = [c for c in ax.collections if c.get_gid() == "band"]  # only the ViT has one
    vertices = band.get_paths()[0].vertices
    np.testing.assert_allclose(sorted(set(vertices[:, 1])), [0.3, 0.5, 0.7, 0.85])
    np.testing.assert_allclose(sorted(set(vertices[:, 0])), [10, 100])
    np.testing.assert_allclose(to_rgba(band.get_facecolor()[0])[:3], to_rgba("C1")[:3])  # the ViT's colour
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CNN", "ViT", "noise"]
    assert to_rgba(ax.get_legend().legend_handles[-1].get_facecolor())[:3] == to_rgba("0.5")[:3]  # grey: every band
    assert not [c for c in viz.plot_accuracy_vs_data(rows).axes[0].collections if c.get_gid() == "band"]
    with pytest.raises(ValueError, match="bands"):
        viz.plot_accuracy_vs_data(rows, bands={"ViT": {10: (0.3, 0.5)}})  # no interval at 100
    with pytest.raises(ValueError, match="bands"):
        viz.plot_accuracy_vs_data(rows, bands={"MLP": {10: (0.3, 0.5), 100: (0.7, 0.9)}})
    with pytest.raises(TypeError, match="bands"):
        viz.plot_accuracy_vs_data(rows, bands=[0.5])
    with pytest.raises(TypeError, match="bands_label"):
        viz.plot_accuracy_vs_data(rows, bands=bands, bands_label=1)
    assert plt.get_fignums() == []


def test_accuracy_against_data_size_can_put_the_legend_beside_the_axes():
    rows = [dict(model=f"arm {k}", train_size=n, test_accuracy=0.5 + k / 20) for k in range(7) for n in (115, 1149)]
    fig = viz.plot_accuracy_vs_data(rows, legend_outside=True)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [f"arm {k}" for k in range(7)]
    fig.draw_without_rendering()  # constrained layout places the legend at draw time
    renderer = fig._get_renderer()
    legend_box, axes_box = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend_box.x0 >= axes_box.x1  # entirely right of the axes: no line runs behind it
    assert legend_box.x1 <= fig.bbox.x1  # and inside the figure
    assert fig.get_size_inches()[0] <= 10  # fits a notebook's width
    inside = viz.plot_accuracy_vs_data(rows)
    inside.draw_without_rendering()
    renderer = inside._get_renderer()
    assert inside.axes[0].get_legend().get_window_extent(renderer).x1 <= inside.axes[0].get_window_extent(renderer).x1
    with pytest.raises(TypeError, match="legend_outside"):
        viz.plot_accuracy_vs_data(rows, legend_outside="yes")
    assert plt.get_fignums() == []


def test_interaction_plot_draws_the_mean_of_each_cell_with_its_seed_range():
    panels = {
        "short": {("a", "x1"): [1.0, 3.0], ("a", "x2"): [2.0, 2.0], ("b", "x1"): [0.0, 1.0], ("b", "x2"): [4.0, 6.0]},
        "long": {("a", "x1"): [1.0], ("a", "x2"): [1.0], ("b", "x1"): [2.0], ("b", "x2"): [3.0]},
    }
    fig = viz.plot_interaction(panels, "IoU", "factors")
    assert [ax.get_title() for ax in fig.axes] == ["short", "long"]
    short = fig.axes[0]
    lines = [c.lines[0] for c in short.containers]  # one errorbar container per line level, in order
    assert [line.get_label() for line in short.containers] == ["a", "b"]
    assert np.allclose(lines[0].get_ydata(), [2.0, 2.0]) and np.allclose(lines[1].get_ydata(), [0.5, 5.0])
    assert [t.get_text() for t in short.get_xticklabels()] == ["x1", "x2"]
    # the bars run from the lowest to the highest seed: for ("b", "x2") from 4 to 6
    segments = short.containers[1].lines[2][0].get_segments()
    assert np.allclose(segments[1], [[1, 4.0], [1, 6.0]])
    assert short.get_ylabel() == "IoU" and fig.get_suptitle() == "factors"


@pytest.mark.parametrize("panels, message", [
    ({}, "non-empty mapping"),
    ({"p": {("a", "x"): [1.0]}, "q": {("a", "y"): [1.0]}}, "panel 'q' must have every"),
    ({"p": {("a", "x"): []}}, "no values"),
])
def test_interaction_plot_rejects_incomplete_results(panels, message):
    with pytest.raises(ValueError, match=message):
        viz.plot_interaction(panels, "y", "t")


def test_seed_dots_draw_every_run_and_each_arms_mean_per_size():
    rows = [dict(model=m, train_size=n, test_accuracy=a) for m, n, a in [
        ("a", 10, 0.5), ("a", 10, 0.7), ("b", 10, 0.9), ("b", 10, 0.8), ("a", 100, 0.95), ("a", 100, 0.97),
        ("b", 100, 0.99), ("b", 100, 0.98)]]
    fig = viz.plot_seed_dots(rows, ["b", "a"], title="t")
    assert [ax.get_title() for ax in fig.axes] == ["10 training digits", "100 training digits"]
    small = fig.axes[0]
    runs, means = [line for line in small.lines if line.get_gid() == "runs"], [line for line in small.lines if line.get_gid() == "mean"]
    assert np.allclose(runs[0].get_xdata(), [0.9, 0.8]) and np.allclose(runs[1].get_xdata(), [0.5, 0.7])
    assert np.allclose(runs[1].get_ydata(), [0.94, 1.06])  # row 1, two runs side by side
    assert np.allclose(means[1].get_xdata(), [0.6, 0.6])
    assert [t.get_text() for t in small.get_yticklabels()] == ["b", "a"] and fig.get_suptitle() == "t"
    assert fig.axes[0].get_xlim() == fig.axes[1].get_xlim()  # one x scale: the panels compare at a glance
    assert [to_rgba(line.get_color()) for line in runs] == [to_rgba("C0"), to_rgba("C1")]  # by row, by default
    named = viz.plot_seed_dots(rows, ["b", "a"], colours={"a": "C3"})  # "b" left out: its row's default
    for ax in named.axes:
        assert [to_rgba(line.get_color()) for line in ax.lines] == [to_rgba("C0")] * 2 + [to_rgba("C3")] * 2
    with pytest.raises(TypeError, match="colours must map"):
        viz.plot_seed_dots(rows, ["a"], colours=["C0"])
    with pytest.raises(ValueError, match="arms must name"):
        viz.plot_seed_dots(rows, ["c"])
    with pytest.raises(ValueError, match="every arm needs runs at every size"):
        viz.plot_seed_dots(rows + [dict(model="c", train_size=10, test_accuracy=0.5)], ["a", "c"])
    assert plt.get_fignums() == []


def test_seed_dots_draw_muted_runs_grey_with_a_legend_in_their_panel_only():
    rows = [dict(model=m, train_size=n, test_accuracy=a) for m, n, a in [
        ("a", 10, 0.5), ("b", 10, 0.9), ("a", 100, 0.95), ("b", 100, 0.99)]]
    fig = viz.plot_seed_dots(rows, ["b", "a"], colours={"a": "C3", "b": "C0"}, muted=[("a", 100)], muted_label="grey: unfit")
    small, large = fig.axes
    assert [to_rgba(line.get_color()) for line in small.lines] == [to_rgba("C0")] * 2 + [to_rgba("C3")] * 2
    assert [to_rgba(line.get_color()) for line in large.lines] == [to_rgba("C0")] * 2 + [to_rgba("0.6")] * 2
    assert small.get_legend() is None and [t.get_text() for t in large.get_legend().get_texts()] == ["grey: unfit"]
    assert viz.plot_seed_dots(rows, ["b", "a"]).axes[1].get_legend() is None  # nothing muted by default
    with pytest.raises(ValueError, match="muted must name"):
        viz.plot_seed_dots(rows, ["b", "a"], muted=[("a", 50)])
    plt.close("all")
    assert plt.get_fignums() == []


def test_learning_rate_sweep_draws_seeds_means_and_the_chosen_rate():
    rows = [dict(model=m, lr=lr, validation_accuracy=a, chosen=c, seed=s) for m, lr, a, c, s in [
        ("a", 0.001, 0.8, False, 0), ("a", 0.001, 0.6, False, 1), ("a", 0.002, 0.9, True, 0), ("a", 0.002, 0.7, True, 1),
        ("b", 0.002, 0.5, False, 0), ("b", 0.004, 0.95, True, 0), ("c", 0.004, 0.1, True, 0)]]
    fig = viz.plot_learning_rate_sweep(rows, ["b", "a"], title="t")
    (ax,) = fig.axes
    by_gid = {gid: [line for line in ax.lines if line.get_gid() == gid] for gid in ("runs", "mean", "chosen")}
    assert [len(lines) for lines in by_gid.values()] == [2, 2, 2]  # model "c" is not drawn
    assert np.allclose(by_gid["runs"][1].get_xdata(), [0.001, 0.001, 0.002, 0.002])
    assert np.allclose(by_gid["runs"][1].get_ydata(), [0.8, 0.6, 0.9, 0.7])
    assert np.allclose(by_gid["mean"][1].get_ydata(), [0.7, 0.8]) and by_gid["mean"][1].get_label() == "a (chosen 0.002)"
    assert np.allclose(by_gid["chosen"][0].get_xdata(), [0.004]) and np.allclose(by_gid["chosen"][1].get_ydata(), [0.8])
    assert ax.get_xscale() == "log" and np.allclose(ax.get_xticks(), [0.001, 0.002, 0.004]) and ax.get_title() == "t"
    with pytest.raises(ValueError, match="exactly one chosen rate"):
        viz.plot_learning_rate_sweep([dict(r, chosen=False) for r in rows], ["a"])
    with pytest.raises(ValueError, match="models must be"):
        viz.plot_learning_rate_sweep(rows, "a")
    with pytest.raises(ValueError, match="must have model, lr"):
        viz.plot_learning_rate_sweep([dict(model="a")], ["a"])
    assert plt.get_fignums() == []


def test_running_variance_draws_the_leftover_and_the_debiased_variance():
    running, current = [0.91, 0.82], [0.05, 0.04]
    fig = viz.plot_running_variance({"seed 0": (running, current), "seed 1": (running, current)})
    ax = fig.axes[0]
    lines = {line.get_gid(): line for line in ax.lines}
    assert list(lines) == ["running", "debiased", "leftover", "current"]
    assert np.allclose(lines["leftover"].get_ydata(), [0.9, 0.81])
    assert np.allclose(lines["debiased"].get_ydata(), [(0.91 - 0.9) / 0.1, (0.82 - 0.81) / 0.19])
    assert np.allclose(lines["current"].get_xdata(), [1, 2]) and ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="equally long"):
        viz.plot_running_variance({"s": ([1.0], [1.0, 2.0])})
    with pytest.raises(ValueError, match="momentum"):
        viz.plot_running_variance({"s": ([1.0], [1.0])}, momentum=1.5)


def test_protocol_draws_the_three_parts_in_proportion():
    fig = viz.plot_protocol(100, 50, 50, (1e-3, 2e-3), seeds=3)
    parts = [p for p in fig.axes[0].patches if p.get_gid() == "part"]
    assert [round(p.get_width(), 3) for p in parts] == [0.5, 0.25, 0.25]
    assert "6 runs per model" in " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "split twice" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="positive ints"):
        viz.plot_protocol(0, 1, 1, (1e-3,), seeds=1)


def test_tokenisation_reads_each_model():
    from minivit.experiments import MODELS

    torch.manual_seed(0)
    image = torch.rand(1, 32, 32)
    fig = viz.plot_tokenisation(image, {name: build() for name, build in MODELS.items()})
    cnn, vit, swin, mobilevit = fig.axes[:4]
    field = [p for p in cnn.patches if p.get_gid() == "field"][0]
    assert field.get_width() == field.get_height() == MODELS["small CNN"]().receptive_field == 22  # inside the image
    assert "16 patches of 8 x 8 pixels" in vit.get_title() and "64 tokens of 4 x 4 pixels" in swin.get_title()
    assert "windows of 4 x 4 tokens" in swin.get_title()
    sequence = [line for line in mobilevit.lines if line.get_gid() == "sequence"][0]
    assert len(sequence.get_xdata()) == 16 and "8 x 8 map" in mobilevit.get_title()
    assert np.allclose(sorted(set(sequence.get_xdata())), [1.5, 9.5, 17.5, 25.5])  # pixel (0, 0) of each 2 x 2 patch
    with pytest.raises(ValueError, match="must be a SmallCNN"):
        viz.plot_tokenisation(image, {"m": torch.nn.Linear(2, 2)})


def test_training_curves_draw_the_loss_floor_when_given():
    a = History(train_loss=[2.0, 1.0], train_accuracy=[0.2, 0.6], eval_accuracy=[0.5, 0.7], seconds=[1.0, 1.0])
    loss_ax = viz.plot_training_curves({"m": a}, loss_floor=0.5).axes[0]
    (floor,) = [line for line in loss_ax.lines if line.get_gid() == "floor"]
    np.testing.assert_array_equal(floor.get_ydata(), [0.5, 0.5])
    assert floor.get_linestyle() == "--" and "0.50" in floor.get_label()
    assert all(line.get_gid() != "floor" for line in viz.plot_training_curves({"m": a}).axes[0].lines)


def test_learning_rate_schedules_are_fits_own_cosine_and_warmup():
    from minivit.experiments.training import DEIT_OPTIONS, fit_learning_rates

    steps, warmup = 60, DEIT_OPTIONS["warmup_steps"] // 9  # a short run: 6 steps of warmup
    cosine = fit_learning_rates(10, epochs=6, lr=0.01)
    t = np.arange(steps)
    np.testing.assert_allclose(cosine, 0.01 * (1 + np.cos(np.pi * t / steps)) / 2, atol=1e-9)  # from lr, half a cosine
    warm = fit_learning_rates(10, epochs=6, lr=0.01, warmup_steps=warmup, no_weight_decay=DEIT_OPTIONS["no_weight_decay"])
    rise = 1 / warmup + (1 - 1 / warmup) * np.arange(warmup) / warmup  # linear from lr / warmup towards lr
    np.testing.assert_allclose(warm[:warmup], 0.01 * rise, atol=1e-9)
    np.testing.assert_allclose(warm[warmup:], 0.01 * (1 + np.cos(np.pi * t[:-warmup] / (steps - warmup))) / 2, atol=1e-9)

    fig = viz.plot_learning_rate_schedules({"cosine": cosine, "warmup": warm}, steps_per_epoch=10, title="t")
    ax = fig.axes[0]
    lines = [line for line in ax.lines if line.get_gid() == "schedule"]
    assert [line.get_label() for line in lines] == ["cosine", "warmup"]
    for line, rates in zip(lines, (cosine, warm)):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, steps + 1))
        np.testing.assert_array_equal(line.get_ydata(), rates)
    assert len(ax.lines) - len(lines) == 5  # the ends of epochs 1 to 5
    assert ax.get_title() == "t" and plt.get_fignums() == []
    with pytest.raises(ValueError, match="schedules"):
        viz.plot_learning_rate_schedules({})
    with pytest.raises(ValueError, match="schedules"):
        viz.plot_learning_rate_schedules({"a": []})


def test_claim_intervals_draw_each_row_its_interval_and_margin_and_colour_what_fails():
    rows = [("a above b", 0.03, (0.01, 0.05), 0.0, "above"),
            ("a drop below 0.1", 0.065, None, 0.1, "below"),
            ("c and d cannot be told apart", 0.01, (-0.01, 0.03), 0.0, "across"),
            ("e above f (fails)", 0.02, (-0.01, 0.04), 0.0, "above")]
    fig = viz.plot_claim_intervals(rows, title="t")
    ax = fig.axes[0]

    def by_gid(gid):
        return [line for line in ax.lines if line.get_gid() == gid]

    estimates, intervals, margins = by_gid("estimate"), by_gid("interval"), by_gid("margin")
    assert [tuple(line.get_xdata()) for line in estimates] == [(0.03,), (0.065,), (0.01,), (0.02,)]
    assert [tuple(line.get_ydata()) for line in estimates] == [(0,), (1,), (2,), (3,)]  # row 0 at the top
    assert [tuple(line.get_xdata()) for line in intervals] == [(0.01, 0.05), (-0.01, 0.03), (-0.01, 0.04)]  # none for row 1
    assert [line.get_xdata()[0] for line in margins] == [0.0, 0.1, 0.0, 0.0]
    assert [to_rgba(line.get_color()) for line in estimates] == [to_rgba("black")] * 3 + [to_rgba("red")]
    assert tuple(by_gid("zero")[0].get_xdata()) == (0, 0)
    assert [t.get_text() for t in ax.get_yticklabels()] == [row[0] for row in rows]
    assert ax.get_ylim()[0] > ax.get_ylim()[1] and fig.get_suptitle() == "t"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["estimate and interval", "misses its margin", "the margin", "0"]
    upper = viz.plot_claim_intervals(rows, legend_loc="upper right")
    upper.draw_without_rendering()
    legend_box, axes_box = (a.get_window_extent(upper._get_renderer()) for a in (upper.axes[0].get_legend(), upper.axes[0]))
    assert legend_box.x0 > (axes_box.x0 + axes_box.x1) / 2 and legend_box.y0 > (axes_box.y0 + axes_box.y1) / 2
    passing = viz.plot_claim_intervals(rows[:3]).axes[0]  # no row misses: the legend does not list the red mark
    assert [t.get_text() for t in passing.get_legend().get_texts()] == ["estimate and interval", "the margin", "0"]
    with pytest.raises(ValueError, match="side in"):
        viz.plot_claim_intervals([("x", 0.1, None, 0.0, "beside")])
    with pytest.raises(ValueError, match="must hold its estimate"):
        viz.plot_claim_intervals([("x", 0.1, (0.2, 0.3), 0.0, "above")])
    with pytest.raises(ValueError, match="non-empty"):
        viz.plot_claim_intervals([])
    assert plt.get_fignums() == []
