"""minivit.experiments: the splits, the augmentation and the controls of notebook 08, the choice of learning
rate, the summaries and CSV files, and the stored results. The notebooks themselves re-run a reduced version
of the experiments and check their conclusions (nbval); these tests do not train them again."""

import importlib
from pathlib import Path

import pytest
import torch
from torch import nn

import minivit.experiments.training as training
from minivit.data import DIGITS_VALIDATION_SIZE, Translated, digits, normalize, stratified_split
from minivit.experiments import read_csv, standard_error, summarize, weak_supervision, write_csv
from minivit.experiments.__main__ import main
from minivit.experiments.weak_supervision import (
    ADDITIONS,
    BETTER_HEADS,
    CLASSIFIERS,
    HEAD_EPOCHS,
    HEADS,
    NUM_TUNE,
    SWIN_RATES,
    SWIN_WARMUP,
    _Frozen,
    add_to_results,
    backbone_maps,
    balanced_class_weights,
    better_classifier_columns,
    better_classifiers,
    budget_epochs,
    canvases,
    end_to_end,
    head_scores,
    ink_maps,
    ink_region,
    mobilevit_without_attention,
    supervised_backbone_columns,
    supervised_backbones,
    swin_no_weight_decay,
    swin_recipe,
    swin_recipe_columns,
    train_head,
    tuned_mobilevit,
)
from minivit.models.mobilevit import mobilevit_tiny
from minivit.models.swin import swin_tiny
from minivit.segmentation import SegmentationHead, SegmentationModel, feature_channels
from minivit.train import History, fit, seed_everything

RESULTS = Path(__file__).resolve().parents[1] / "course" / "results"

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.versions]  # torchvision's RandomCrop, torch's training


def test_stratified_split_is_disjoint_stratified_and_drawn_by_the_seed():
    train = digits("train")
    rest, held = stratified_split(train, DIGITS_VALIDATION_SIZE, seed=0)
    assert (len(rest), len(held)) == (1437 - 288, 288)
    assert set(rest.indices.tolist()).isdisjoint(held.indices.tolist())
    assert set(rest.indices.tolist()) | set(held.indices.tolist()) == set(train.indices.tolist())
    counts = held.labels.bincount(minlength=10)
    assert counts.min() >= 27 and counts.max() <= 30  # each digit about a fifth of its ~144
    assert torch.equal(held.indices, stratified_split(train, 288, seed=0)[1].indices)
    assert not torch.equal(held.indices, stratified_split(train, 288, seed=1)[1].indices)
    with pytest.raises(ValueError, match="size must be between 10 and"):
        stratified_split(train, 1430, seed=0)


def test_share_is_a_stratified_part_and_the_whole_at_one():
    fitting, _ = training.training_split()
    tenth = training.share(fitting, 0.1, seed=0)
    assert len(tenth) == 115 and set(tenth.indices.tolist()) <= set(fitting.indices.tolist())
    assert training.share(fitting, 1.0, seed=3) is fitting
    with pytest.raises(ValueError, match="fraction must be in"):
        training.share(fitting, 0.0, seed=0)


def test_translated_moves_the_digit_and_fills_with_background():
    test = digits("test")
    shifted = Translated(test, max_shift=4)
    background = normalize(torch.tensor(0.0)).item()
    torch.manual_seed(0)
    moved = 0
    for i in range(20):
        image, label = shifted[i]
        original = test.images[i, 0]
        assert image.shape == (1, 32, 32) and label == test.labels[i]
        # brute force: some shift (dy, dx) within 4 pixels, with the uncovered border set to background
        padded = torch.nn.functional.pad(original, (4, 4, 4, 4), value=background)
        matches = [(dy, dx) for dy in range(9) for dx in range(9) if torch.equal(padded[dy:dy + 32, dx:dx + 32], image[0])]
        assert matches, f"item {i} is not a shifted copy of the digit"
        moved += (4, 4) not in matches
    assert moved >= 15  # shifted, not copied


def test_vit_without_position_keeps_a_zero_position_embedding_through_training():
    torch.manual_seed(0)
    model = training.vit_without_position()
    assert not model.pos_embed.requires_grad and not model.pos_embed.any()
    optimizer = torch.optim.AdamW((p for p in model.parameters() if p.requires_grad), lr=0.1)
    model(torch.randn(4, 1, 32, 32)).sum().backward()
    optimizer.step()
    assert not model.pos_embed.any()


def test_the_controls_change_one_thing_each():
    params = {name: sum(p.numel() for p in v.build().parameters()) for name, v in training.VARIANTS.items()}
    assert abs(params["wide CNN"] / params["ViT"] - 1) < 0.1  # the ViT's capacity
    assert params["wide CNN"] > 5 * params["small CNN"]
    assert params["ViT, no position"] == params["ViT, translated"] == params["ViT"]
    assert training.VARIANTS["ViT, translated"].translate and not training.VARIANTS["ViT"].translate
    assert params["ViT, 4 x 4 patches"] == params["ViT"]  # the patch embedding shrinks as the position embedding grows
    vit = training.VARIANTS["ViT, 4 x 4 patches"].build()
    assert vit.pos_embed.shape == (1, 1 + 8 * 8, 64)  # a token per pixel of the 8 x 8 digit, as the Swin's 4 x 4 patches


@pytest.fixture
def few_steps(monkeypatch):
    monkeypatch.setattr(training, "STEPS", 2)


def test_the_sweep_chooses_by_validation_and_tests_only_the_chosen_rate(few_steps):
    rows = training.learning_rate_sweep(models=("small CNN",), seeds=(0, 1), rates=(1e-3, 3e-2))
    assert len(rows) == 4 and {r["epochs"] for r in rows} == {1}
    mean = {lr: sum(r["validation_accuracy"] for r in rows if r["lr"] == lr) / 2 for lr in (1e-3, 3e-2)}
    best = max(mean, key=mean.get)  # ties go to the first, the lower rate
    for row in rows:
        assert row["chosen"] == (row["lr"] == best)
        assert (row["test_accuracy"] != "") == row["chosen"]
    assert training.chosen_rates(rows) == {"small CNN": best}


def test_data_size_trains_every_arm_for_the_same_steps(few_steps, monkeypatch):
    monkeypatch.setattr(training, "MODELS", {"small CNN": training.MODELS["small CNN"]})
    monkeypatch.setattr(training, "CONTROLS", ("wide CNN",))
    rates = {"small CNN": 1e-3, "MLP": 2e-3, "ViT, DeiT recipe": 3e-3}
    rows = training.data_size(rates, seeds=(0,), names=("small CNN", "wide CNN", "MLP"))
    assert [(r["model"], r["fraction"]) for r in rows] == [
        (m, f) for m in ("small CNN", "MLP") for f in training.FRACTIONS] + [("wide CNN", f) for f in training.CONTROL_FRACTIONS]
    assert all(0 <= r["test_accuracy"] <= 1 and r["lr"] == rates[training.VARIANTS[r["model"]].rate_of] for r in rows)
    assert {r["train_size"]: r["epochs"] for r in rows}[115] == 1  # 2 steps: one epoch of 4 batches
    short = training.Variant(training._vit, "ViT, DeiT recipe", options=training.DEIT_OPTIONS | dict(warmup_steps=1))
    monkeypatch.setitem(training.VARIANTS, "ViT, DeiT recipe", short)  # 2 steps: 1 of warmup
    deit = training.data_size(rates, seeds=(0,), names=("ViT, DeiT recipe",))
    assert [(r["model"], r["fraction"]) for r in deit] == [("ViT, DeiT recipe", 0.1)]  # on all digits: the sweep's runs


def test_the_mlp_and_the_deit_recipe():
    mlp, vit = training.VARIANTS["MLP"].build(), training.VARIANTS["ViT"].build()
    def count(model):
        return sum(p.numel() for p in model.parameters())

    assert abs(count(mlp) / count(vit) - 1) < 0.1 and not any(isinstance(m, nn.Conv2d) for m in mlp.modules())
    assert mlp(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    exempt = {name for name, p in vit.named_parameters() if training.deit_no_weight_decay(name, p)}
    assert {"cls_token", "pos_embed", "patch_embed.bias", "blocks.0.norm1.weight", "norm.bias"} <= exempt
    assert not {"patch_embed.weight", "blocks.0.attn.qkv.weight", "head.weight"} & exempt
    deit = training.VARIANTS["ViT, DeiT recipe"]
    assert deit.options == training.DEIT_OPTIONS and deit.rate_of == "ViT, DeiT recipe" and not training.VARIANTS["ViT"].options


def test_merge_rows_adds_rates_and_chooses_again():
    def run(lr, seed, accuracy, tested):
        return dict(model="m", fraction=0.1, lr=lr, seed=seed, validation_accuracy=accuracy, chosen=tested,
                    test_accuracy=0.5 if tested else "")
    other = dict(model="o", fraction=0.1, lr=1.0, seed=0, validation_accuracy=0.1, chosen=True, test_accuracy=0.2)
    old = [run(1e-3, 0, 0.8, True), run(2e-3, 0, 0.6, False), other]
    merged = training.merge_rows(old, [run(5e-4, 0, 0.9, True)])  # a lower rate, better: chosen now
    assert [(r["lr"], r["chosen"], r["test_accuracy"]) for r in merged if r["model"] == "m"] == [
        (1e-3, False, ""), (2e-3, False, ""), (5e-4, True, 0.5)]
    assert other in merged
    kept = training.merge_rows(old, [run(5e-4, 0, 0.7, True)])  # worse: the stored choice stands
    assert [(r["lr"], r["chosen"]) for r in kept if r["model"] == "m"] == [(1e-3, True), (2e-3, False), (5e-4, False)]
    sizes = [dict(model="m", fraction=0.1, seed=0, test_accuracy=0.1), dict(model="o", fraction=0.1, seed=0, test_accuracy=0.2)]
    assert training.merge_rows(sizes, [dict(model="m", fraction=0.1, seed=0, test_accuracy=0.3)]) == [
        sizes[1], dict(model="m", fraction=0.1, seed=0, test_accuracy=0.3)]


def test_one_epoch_batchnorm_helpers_change_only_the_statistics():
    torch.manual_seed(0)
    fitting, _ = training.training_split()
    few = torch.utils.data.Subset(fitting, range(64))
    loader = torch.utils.data.DataLoader(few, batch_size=32, shuffle=True)
    model = training.MODELS["small CNN"]()
    images = fitting.images[:64]
    history, running, current = training.fit_tracing_first_batchnorm(model, loader, images, epochs=1, lr=1e-3, seed=0)
    assert running.shape == current.shape == (2, 16) and len(history.train_loss) == 1
    first = training.batchnorms(model)[0]
    assert torch.equal(running[-1], first.running_var)
    fixed_weights = training.MODELS["small CNN"]()
    _, _, current = training.fit_tracing_first_batchnorm(fixed_weights, loader, images, epochs=1, lr=0.0, seed=0)
    with torch.no_grad():  # lr 0: the weights never change, so every step's variance is that of the conv's output now
        direct = fixed_weights.features[0](images).var(dim=(0, 2, 3))
    assert torch.allclose(current, direct.expand(2, -1), rtol=1e-3)
    again = training.replayed(model, loader, seed=0)
    same = [a for a, b in zip(model.state_dict().items(), again.state_dict().items()) if "running" not in a[0]
            and "num_batches" not in a[0] and not torch.equal(a[1], b[1])]
    assert not same  # the weights are the model's
    fixed = training.debiased(model, steps=2, layers=[0])
    left = 0.9**2
    assert torch.allclose(training.batchnorms(fixed)[0].running_var, (first.running_var - left) / (1 - left))
    assert torch.equal(training.batchnorms(fixed)[1].running_var, training.batchnorms(model)[1].running_var)
    recomputed = training.with_recomputed_statistics(model, few)
    assert not recomputed.training and training.batchnorms(recomputed)[0].momentum is None
    accuracy = training.own_statistics(model, images, fitting.labels[:64])
    assert 0 <= accuracy <= 1 and torch.equal(training.batchnorms(model)[0].running_var, first.running_var)


def test_summarize_standard_error_and_csv_round_trip(tmp_path):
    rows = [dict(model="a", seed=s, chosen=s == 1, test_accuracy=v, note="", lr=2.5e-4) for s, v in enumerate((0.5, 0.7, 0.9))]
    stats = summarize(rows, by=("model",), value="test_accuracy")[("a",)]
    assert stats["mean"] == pytest.approx(0.7) and stats["std"] == pytest.approx(0.2)
    assert (stats["min"], stats["max"], stats["n"]) == (0.5, 0.9, 3)
    write_csv(rows, tmp_path / "r.csv")
    assert read_csv(tmp_path / "r.csv") == rows  # a small learning rate too: not rounded to 4 decimals
    write_csv([dict(a=0.123456, b=0.000123456)], tmp_path / "s.csv")
    assert read_csv(tmp_path / "s.csv") == [dict(a=0.1235, b=0.0001235)]
    assert standard_error(0.5, 100) == pytest.approx(0.05)  # sqrt(0.25 / 100)
    assert standard_error(1.0, 360) == 0.0
    with pytest.raises(ValueError, match="accuracy must be in"):
        standard_error(1.5, 10)


def test_stored_results_have_every_run():
    sweep = read_csv(RESULTS / "learning_rates.csv")
    full = [r for r in sweep if r["fraction"] == 1.0]
    assert sorted((r["model"], r["lr"], r["seed"]) for r in full if r["model"] in (*training.MODELS, "MLP")) == sorted(
        (m, lr, s) for m in (*training.MODELS, "MLP") for lr in training.LEARNING_RATES for s in (0, 1, 2))
    assert {r["model"] for r in full} == {*training.MODELS, *training.BASELINES, *training.RECIPES}
    assert {r["model"] for r in sweep if r["fraction"] == 0.1} == {"small CNN", "ViT"}  # rates chosen again at 115
    assert all(len({r["seed"] for r in sweep if (r["model"], r["fraction"], r["lr"]) == key}) == 3
               for key in {(r["model"], r["fraction"], r["lr"]) for r in sweep})
    for fraction in (1.0, 0.1):
        chosen = {(r["model"], r["lr"]) for r in sweep if r["chosen"] and r["fraction"] == fraction}
        assert len(chosen) == len({r["model"] for r in sweep if r["fraction"] == fraction})  # one rate per model
    assert set(training.chosen_rates(sweep)) == {*training.MODELS, *training.BASELINES, *training.RECIPES}
    assert all((r["test_accuracy"] != "") == r["chosen"] for r in sweep)
    sizes = read_csv(RESULTS / "data_size.csv")
    assert sorted((r["model"], r["fraction"], r["seed"]) for r in sizes) == sorted(
        [(m, f, s) for m in (*training.MODELS, *training.BASELINES) for f in training.FRACTIONS for s in (0, 1, 2)]
        + [(c, f, s) for c in training.CONTROLS for f in training.CONTROL_FRACTIONS for s in (0, 1, 2)]
        + [(r, 0.1, s) for r in training.RECIPES for s in (0, 1, 2)])
    rates = training.chosen_rates(sweep)
    assert all(r["lr"] == rates[training.VARIANTS[r["model"]].rate_of] for r in sizes)
    assert {r["seed"] for r in read_csv(RESULTS / "weak_supervision.csv")} == {0, 1, 2}


def test_command_line_writes_the_csv(tmp_path, monkeypatch):
    def sweep(seeds, processes, rates, fraction, models=("m",)):
        return [dict(model=m, seed=s, lr=lr, fraction=fraction, validation_accuracy=0.5 + lr, chosen=lr == max(rates),
                     test_accuracy=0.9 if lr == max(rates) else "") for m in models for lr in rates for s in seeds]

    monkeypatch.setattr(training, "learning_rate_sweep", sweep)
    main(["learning-rates", "--seeds", "3", "4", "--lrs", "0.1", "--out", str(tmp_path / "r.csv")])
    assert [(r["model"], r["seed"], r["lr"], r["chosen"]) for r in read_csv(tmp_path / "r.csv")] == [
        ("m", 3, 0.1, True), ("m", 4, 0.1, True)]
    main(["learning-rates", "--models", "n", "--seeds", "3", "--lrs", "0.2", "--merge", "--out", str(tmp_path / "r.csv")])
    assert [(r["model"], r["lr"]) for r in read_csv(tmp_path / "r.csv")] == [("m", 0.1), ("m", 0.1), ("n", 0.2)]
    monkeypatch.setattr(training, "data_size",
                        lambda rates, seeds, processes, names: [dict(model=m, lr=lr, fraction=0.1) for m, lr in rates.items()])
    main(["data-size", "--rates", str(tmp_path / "r.csv"), "--out", str(tmp_path / "d.csv")])
    assert read_csv(tmp_path / "d.csv") == [dict(model="m", lr=0.1, fraction=0.1), dict(model="n", lr=0.2, fraction=0.1)]
    with pytest.raises(SystemExit):
        main(["data-size", "--out", str(tmp_path / "d.csv")])


CAM_MEASURES = ("accuracy", "threshold", "cam", "refined_threshold", "refined", "pointing", "pointing_chance",
                "pointing_ink", "far_share")


def test_weak_supervision_runs_end_to_end_and_gives_every_measure():
    """The pipeline's plumbing on a few canvases (notebook 09 runs it in full and checks its conclusions)."""
    row = weak_supervision(seed=0, num_train=64, num_test=16, epochs=1, head_epochs=(1,))
    per_classifier = {f"{name}_{key}" for name in CLASSIFIERS for key in CAM_MEASURES}
    heads = {f"{name}_1_{key}" for name in HEADS for key in ("argmax", "argmax_background")}
    assert set(row) == {"seed", "background"} | per_classifier | heads
    assert all(0.0 <= value <= 1.0 for key, value in row.items() if key != "seed")
    # the stored run has the same columns, every head at every length, and those of ADDITIONS
    stored = set(read_csv(RESULTS / "weak_supervision.csv")[0])
    added = {column for _, columns in ADDITIONS.values() for column in columns()}
    assert stored == {key.replace("_1_", f"_{e}_") for key in row for e in HEAD_EPOCHS} | added
    assert all(r[column] != "" for r in read_csv(RESULTS / "weak_supervision.csv") for column in added)


def test_better_classifiers_runs_end_to_end_and_recomputes_stored_columns():
    """The plumbing of the better-classifier arms on a few canvases: its new columns, and the stored columns
    it recomputes (which add_to_results checks against the stored)."""
    row = better_classifiers(seed=0, num_train=240, num_test=16, epochs=1, tuned_epochs=1, head_epochs=1)
    new = set(better_classifier_columns(1))
    recomputed = set(row) - new - {"seed"}
    assert new <= set(row)
    assert recomputed == {f"{name}_{key}" for name in ("mobilevit", "cnn") for key in CAM_MEASURES} | {
        f"{name}_1_{key}" for name in BETTER_HEADS if name in HEADS for key in ("argmax", "argmax_background")}
    assert row["mobilevit_tuned_lr"] in (3e-3, 1e-2)
    lows = [key for key in new if key.endswith("_low")]
    assert lows and all(row[key] <= row[key[:-len("low")] + "high"] for key in lows)


def test_tuned_mobilevit_keeps_the_rate_of_best_held_out_accuracy(monkeypatch):
    module = importlib.import_module("minivit.experiments.weak_supervision")
    trained = []

    def train(name, images, labels, seed, epochs=None, lr=3e-3):
        trained.append((len(images), epochs, lr))
        return nn.Linear(1, 1)

    monkeypatch.setattr(module, "train_classifier", train)
    monkeypatch.setattr(module, "evaluate", lambda model, loader, multi_label: {0.1: 0.5, 0.2: 0.7, 0.3: 0.6}[
        trained[-1][2]])
    _, lr, accuracy = tuned_mobilevit(torch.zeros(50, 1, 2, 2), torch.zeros(50, 10), 0, rates=(0.1, 0.2, 0.3),
                                      epochs=3, num_validation=20)
    assert (lr, accuracy) == (0.2, 0.7)
    assert trained == [(30, 3, 0.1), (30, 3, 0.2), (30, 3, 0.3)]  # the last 20 held out from every run


def test_supervised_backbones_gives_its_columns_and_trains_both_budgets_as_long(monkeypatch):
    """The plumbing of the supervised-backbone arms on a few canvases: its new columns, the stored columns it
    recomputes, the same canvases seen by both mask budgets, and only training canvases for the rates' choice."""
    module = importlib.import_module("minivit.experiments.weak_supervision")
    seen, given = [], []
    real_fit, real_end_to_end = module.fit, module.end_to_end

    def fit(model, loader, epochs, **kwargs):
        if isinstance(model, SegmentationModel):
            seen.append((len(loader.dataset), epochs))
        return real_fit(model, loader, epochs=epochs, **kwargs)

    def end_to_end_recorded(name, images, masks, count, seed, **kwargs):
        given.append(images)
        return real_end_to_end(name, images, masks, count, seed, **kwargs)

    monkeypatch.setattr(module, "fit", fit)
    monkeypatch.setattr(module, "end_to_end", end_to_end_recorded)
    row = supervised_backbones(seed=0, num_train=60, num_test=16, epochs=1, end_to_end_epochs=1, head_epochs=1,
                               num_validation=20, budget=10)
    new = set(supervised_backbone_columns(1))
    recomputed = set(row) - new - {"seed"}
    assert new <= set(row)
    assert recomputed == {f"mobilevit_{key}" for key in CAM_MEASURES} | {
        f"{name}_1_{key}" for name in ("head_on_pseudo_masks", f"head_on_{NUM_TUNE}_masks")
        for key in ("argmax", "argmax_background")}
    assert {key.replace("_1_", "_2_") for key in recomputed} <= set(read_csv(RESULTS / "weak_supervision.csv")[0])
    # per backbone and rate: 10 canvases for 4 epochs, then all 40 fitting canvases for 1: 40 canvases seen
    assert seen == [(10, 4), (10, 4), (40, 1), (40, 1)] * 2
    train_images = canvases("train", 60)[0]
    assert len(given) == 4 and all(torch.equal(images, train_images) for images in given)  # never a test canvas
    assert {row[key] for key in new if key.endswith("_lr")} <= {3e-3, 1e-2}
    lows = [key for key in new if key.endswith("_low")]
    assert lows and all(row[key] <= row[key[:-len("low")] + "high"] for key in lows)


def test_swin_recipe_gives_its_columns_uses_the_recipe_and_never_trains_the_random_backbone(monkeypatch):
    """The plumbing of swin_recipe on a few canvases: its new columns, finite; the stored columns it recomputes;
    warmup and Swin's no-decay rule given to fit for the recipe's Swin only; only training canvases for the rates'
    choice; and the MobileViT under the second head left at its initial weights, those of the label-trained one."""
    module = importlib.import_module("minivit.experiments.weak_supervision")
    seen, given, backbones = [], [], []
    real_fit, real_end_to_end, real_of = module.fit, module.end_to_end, module._Frozen.of

    def fit(model, loader, epochs, **kwargs):
        if isinstance(model, SegmentationModel):
            seen.append((len(loader.dataset), epochs, kwargs["lr"], kwargs.get("warmup_steps", 0),
                         kwargs.get("no_weight_decay")))
        return real_fit(model, loader, epochs=epochs, **kwargs)

    def end_to_end_recorded(name, images, masks, count, seed, **kwargs):
        given.append(images)
        return real_end_to_end(name, images, masks, count, seed, **kwargs)

    def of(backbone, *args):
        backbones.append(backbone)
        return real_of(backbone, *args)

    monkeypatch.setattr(module, "fit", fit)
    monkeypatch.setattr(module, "end_to_end", end_to_end_recorded)
    monkeypatch.setattr(module._Frozen, "of", of)
    row = swin_recipe(seed=0, num_train=60, num_test=16, epochs=1, end_to_end_epochs=2, head_epochs=1,
                      num_validation=20, budget=10)
    new = swin_recipe_columns(1, loss_epochs=8)
    recomputed = set(row) - set(new) - {"seed"}
    assert set(new) <= set(row) and all(torch.isfinite(torch.tensor(row[key])) for key in new)
    assert recomputed == {f"mobilevit_{key}" for key in CAM_MEASURES} | {
        f"end_to_end_swin_on_{NUM_TUNE}_masks_{key}" for key in ("lr", "held_out", "argmax", "argmax_background")} | {
        f"head_on_{NUM_TUNE}_masks_1_{key}" for key in ("argmax", "argmax_background")}
    assert {key.replace("_1_", "_2_") for key in recomputed} <= set(read_csv(RESULTS / "weak_supervision.csv")[0])
    # 10 canvases for 2 * 40 / 10 = 8 epochs of one batch: the stored arm's two rates as stored, then the recipe's
    # three with a warmup of round(0.1 * 8) = 1 step and Swin's no-decay rule
    assert seen == [(10, 8, lr, 0, None) for lr in (3e-3, 1e-2)] + [
        (10, 8, lr, 1, swin_no_weight_decay) for lr in SWIN_RATES]
    assert SWIN_WARMUP == 0.1 and row[f"swin_recipe_on_{NUM_TUNE}_masks_lr"] in SWIN_RATES
    train_images = canvases("train", 60)[0]
    assert len(given) == 2 and all(torch.equal(images, train_images) for images in given)  # never a test canvas
    trained, untrained, normalised = backbones
    seed_everything(0)
    initial = mobilevit_tiny(num_classes=10)
    assert all(torch.equal(value, initial.state_dict()[key]) for key, value in untrained.state_dict().items())
    assert not all(torch.equal(value, initial.state_dict()[key]) for key, value in trained.state_dict().items())
    # the normalised one: the same weights, BatchNorm statistics of the training canvases
    assert all(torch.equal(p, q) for p, q in zip(normalised.parameters(), initial.parameters()))
    assert not all(torch.equal(value, initial.state_dict()[key]) for key, value in normalised.state_dict().items())
    lows = [key for key in new if key.endswith("_low")]
    assert len(lows) == 3 and all(row[key] <= row[key[:-len("low")] + "high"] for key in lows)


def test_swin_recipe_end_to_end_keeps_the_chosen_rates_history(monkeypatch):
    """The rate is chosen by held-out IoU alone, not by training loss; warmup is a share of the steps, rounded."""
    module = importlib.import_module("minivit.experiments.weak_supervision")
    fitted = []

    def fit(model, loader, epochs, lr, seed, progress, **options):
        fitted.append((epochs, lr, options))
        return History(train_loss=[lr])  # the lower rate's loss is lower; its held-out IoU is not higher

    monkeypatch.setattr(module, "segmentation_model", lambda name: nn.Linear(1, 1))
    monkeypatch.setattr(module, "fit", fit)
    monkeypatch.setattr(module, "predict_masks", lambda model, images: images)
    monkeypatch.setattr(module, "mean_iou", lambda pred, target, num_classes: {0.1: 0.5, 0.2: 0.7}[fitted[-1][1]])
    images = torch.arange(50).view(50, 1, 1, 1)
    _, lr, iou, history = end_to_end("swin", images, torch.zeros(50, 1, 1), 10, 0, rates=(0.1, 0.2), epochs=3,
                                     num_validation=20, warmup=0.2, no_weight_decay=swin_no_weight_decay)
    assert (lr, iou, history.train_loss) == (0.2, 0.7, [0.2])
    # 9 epochs of one batch: round(0.2 * 9) = 2 steps of warmup
    options = dict(warmup_steps=2, no_weight_decay=swin_no_weight_decay)
    assert fitted == [(9, 0.1, options), (9, 0.2, options)]


def test_swin_recipe_optimizer_exempts_norms_biases_and_bias_tables():
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    seed_everything(0)
    model = SegmentationModel(swin_tiny(num_classes=10, in_channels=1), SegmentationHead([32, 64, 128], 11, dim=8))
    groups = []
    handle = register_optimizer_step_pre_hook(
        lambda optimizer, args, kwargs: groups.append([(g["weight_decay"], g["lr"], g["params"])
                                                       for g in optimizer.param_groups]))
    try:
        batches = [(torch.randn(2, 1, 32, 32), torch.randint(0, 11, (2, 32, 32)))] * 4
        fit(model, batches, epochs=1, lr=1e-3, progress=False, warmup_steps=2, no_weight_decay=swin_no_weight_decay)
    finally:
        handle.remove()
    (decay, first_lr, decayed), (no_decay, _, exempt) = groups[0]
    assert (decay, no_decay) == (0.05, 0.0) and first_lr == pytest.approx(1e-3 / 2)  # warmup's first step
    exempt_ids = {id(p) for p in exempt}
    names = {name for name, p in model.named_parameters() if id(p) in exempt_ids}
    tables = {name for name, _ in model.named_parameters() if name.endswith("relative_position_bias_table")}
    assert len(tables) == 6 and tables <= names
    assert names == tables | {name for name, p in model.named_parameters() if p.ndim == 1}
    assert len(decayed) + len(exempt) == len(list(model.parameters()))


def test_end_to_end_keeps_the_rate_of_best_held_out_iou(monkeypatch):
    module = importlib.import_module("minivit.experiments.weak_supervision")
    fitted, held_out = [], []

    def fit(model, loader, epochs, lr, seed, progress):
        fitted.append((loader.dataset.tensors[0].flatten().tolist(), epochs, lr))

    def predict(model, images):
        held_out.append(images.flatten().tolist())
        return images

    monkeypatch.setattr(module, "segmentation_model", lambda name: nn.Linear(1, 1))
    monkeypatch.setattr(module, "fit", fit)
    monkeypatch.setattr(module, "predict_masks", predict)
    monkeypatch.setattr(module, "mean_iou", lambda pred, target, num_classes: {0.1: 0.5, 0.2: 0.7}[fitted[-1][2]])
    images = torch.arange(50).view(50, 1, 1, 1)  # canvas i is the number i
    _, lr, iou, _ = end_to_end("mobilevit", images, torch.zeros(50, 1, 1), 10, 0, rates=(0.1, 0.2), epochs=3,
                            num_validation=20)
    assert (lr, iou) == (0.2, 0.7)
    # the first 10 of the 30 fitting canvases, for 3 * 3 epochs; the last 20 choose
    assert fitted == [(list(range(10)), 9, 0.1), (list(range(10)), 9, 0.2)]
    assert held_out == [list(range(30, 50))] * 2
    assert budget_epochs(2, 2000, 200) * 200 == 2 * 2000


def test_ink_region_is_the_true_masks_foreground():
    images, _, masks = canvases("test", 20)
    assert torch.equal(ink_region(images), masks > 0)  # the rule digit_canvas makes its masks by


def test_the_heads_change_one_thing_at_a_time_and_the_small_budget_sees_as_many_canvases(monkeypatch):
    assert {(h.kind, h.masks) for h in HEADS.values() if not h.class_weighted and h.canvases is None} == {
        (kind, masks) for kind in ("last map", "multi-stage") for masks in ("pseudo", "refined", "true")} | {("probe", "true")}
    channels = [16, 24, 32, 128]  # mobilevit_tiny's
    count = {kind: sum(p.numel() for p in h.build(channels).parameters()) for kind, h in
             (("last map", HEADS["last_map_head_on_masks"]), ("multi-stage", HEADS["head_on_masks"]))}
    assert abs(count["last map"] / count["multi-stage"] - 1) < 0.002  # the same capacity, to within 0.2%
    trained = []

    def record(head, maps, masks, test_masks, seed, epochs, class_weights=None):
        trained.append((len(masks), len(maps[0][0]), epochs, class_weights is not None))
        return dict(argmax=0.0, argmax_background=0.0)

    module = importlib.import_module("minivit.experiments.weak_supervision")  # the name alone is its function
    monkeypatch.setattr(module, "head_measures", record)
    masks = dict(pseudo=torch.zeros(2000, 4, 4, dtype=torch.long), refined=torch.zeros(2000, 4, 4, dtype=torch.long),
                 true=torch.zeros(2000, 4, 4, dtype=torch.long))
    maps = [torch.zeros(2000, c, 1, 1) for c in channels]
    frozen = _Frozen(channels, (maps, maps), masks, torch.zeros(8, 4, 4, dtype=torch.long), torch.ones(11))
    frozen.measure("head_on_200_masks", 2, seed=0)
    frozen.measure("head_on_masks", 2, seed=0)
    frozen.measure("weighted_last_map_head_on_masks", 2, seed=0)
    # 200 canvases for 20 epochs and 2,000 for 2: 4,000 canvases seen either way
    assert trained == [(NUM_TUNE, NUM_TUNE, 20, False), (2000, 2000, 2, False), (2000, 2000, 2, True)]


def test_a_heads_argmax_masks_are_those_it_is_measured_by():
    torch.manual_seed(0)
    channels = [4, 8]
    maps = [torch.randn(40, 4, 8, 8), torch.randn(40, 8, 4, 4)]
    test_maps = [torch.randn(6, 4, 8, 8), torch.randn(6, 8, 4, 4)]
    masks = torch.randint(0, 11, (40, 16, 16))
    test_masks = torch.randint(0, 11, (6, 16, 16))
    frozen = _Frozen(channels, (maps, test_maps), dict(pseudo=masks, refined=masks, true=masks), test_masks,
                     torch.ones(11))
    argmax = frozen.argmax(HEADS["head_on_pseudo_masks"], 1, seed=3)
    measured = frozen.measure("head_on_pseudo_masks", 1, seed=3)
    assert argmax.shape == (6, 16, 16)
    assert measured["head_on_pseudo_masks_1_argmax_background"] == (argmax == 0).float().mean().item()


def test_mobilevit_without_attention_differs_only_in_its_transformers():
    torch.manual_seed(0)
    full, ablated = mobilevit_tiny(), mobilevit_without_attention()
    kept = {k for k in full.state_dict() if ".transformer." not in k}
    assert set(ablated.state_dict()) == kept and len(kept) < len(full.state_dict())
    assert not any(isinstance(m, nn.MultiheadAttention) or "Attention" in type(m).__name__ for m in ablated.modules())
    # no token sees another: changing a pixel changes the last map only within the convolutions' reach
    images = torch.zeros(1, 1, 64, 64)
    moved = images.clone()
    moved[0, 0, 0, 0] = 1.0
    with torch.no_grad():
        change = (ablated.eval().feature_maps(moved)[-1] - ablated.feature_maps(images)[-1]).abs().sum(dim=1)[0]
        full_change = (full.eval().feature_maps(moved)[-1] - full.feature_maps(images)[-1]).abs().sum(dim=1)[0]
    assert change[-1, -1] == 0 and full_change[-1, -1] > 0  # the far corner of an 8 x 8 map


def test_heads_trained_on_stored_maps_are_the_heads_of_a_segmentation_model():
    torch.manual_seed(0)
    backbone, images = mobilevit_tiny(), torch.randn(6, 1, 32, 32)
    head = SegmentationHead(feature_channels(backbone, 1), 11, dim=8).eval()
    maps = backbone_maps(backbone, images, batch_size=4)  # two batches, joined
    with torch.no_grad():
        assert all(torch.allclose(m, f, atol=1e-5) for m, f in zip(maps, backbone.eval().feature_maps(images)))
        expected = SegmentationModel(backbone, head, freeze_backbone=True).eval()(images)
    assert torch.allclose(head_scores(head, maps, 32), expected, atol=1e-5)
    trained = train_head(head, maps, torch.randint(0, 11, (6, 32, 32)), seed=0, epochs=1)
    assert not trained.training and torch.isfinite(head_scores(trained, maps, 32)).all()


def test_add_to_results_merges_checks_and_resumes(tmp_path):
    path = tmp_path / "runs.csv"
    write_csv([dict(seed=0, a=0.5), dict(seed=1, a=0.25)], path)
    calls = []

    def compute(seed):
        calls.append(seed)
        return dict(seed=seed, a=0.5 if seed == 0 else 0.26, b=seed + 0.125)

    parts = {"b": (compute, lambda: ["b"])}
    rows = add_to_results(path, [0, 1], parts=parts)
    assert rows == read_csv(path) == [dict(seed=0, a=0.5, b=0.125), dict(seed=1, a=0.25, b=1.125)]  # a kept as stored
    add_to_results(path, [0, 1], parts=parts)
    assert calls == [0, 1]  # nothing left to add: nothing computed again
    write_csv([dict(seed=0, a=0.5), dict(seed=1, a=0.9)], path)
    with pytest.raises(ValueError, match="the recomputed a is 0.2600, the stored 0.9000"):
        add_to_results(path, [0, 1], parts=parts)
    assert read_csv(path) == [dict(seed=0, a=0.5, b=0.125), dict(seed=1, a=0.9, b="")]  # seed 0 kept, seed 1 to do
    with pytest.raises(ValueError, match="seeds must be among the stored"):
        add_to_results(path, [7], parts=parts)


def test_ink_maps_peak_where_the_ink_is_for_every_class():
    images = torch.zeros(2, 1, 4, 4)
    images[0, 0, 2:, :2] = 1.0  # image 0: ink in the bottom-left 2 x 2 place
    images[1, 0, 0, 3] = 1.0  # image 1: one pixel in the top-right place
    maps = ink_maps(images, (2, 3, 2, 2))
    assert maps.shape == (2, 3, 2, 2)
    assert maps[0, :, 1, 0].tolist() == [1.0] * 3 and maps[1, :, 0, 1].tolist() == [0.25] * 3
    assert maps.flatten(2).argmax(dim=2).tolist() == [[2, 2, 2], [1, 1, 1]]


def test_balanced_class_weights_hand_worked():
    # 8 pixels: 6 background, 2 of class 1, none of class 2: weights 8 / (3 * 6) and 8 / (3 * 2), and 0
    masks = torch.tensor([[[0, 0, 0, 1], [0, 0, 0, 1]]])
    weights = balanced_class_weights(masks, 3)
    assert torch.allclose(weights, torch.tensor([8 / 18, 8 / 6, 0.0]))
    assert torch.allclose(weights[:2] * torch.tensor([6.0, 2.0]), torch.tensor([8 / 3, 8 / 3]))  # equal totals
    with pytest.raises(ValueError, match="classes 0..1, got a class 2"):
        balanced_class_weights(torch.tensor([[[0, 2]]]), 2)
