"""The longer runs of notebooks 08 and 09 (minivit.experiments), re-run in reduced form: the conclusions the
notebooks draw from the stored results must hold here too, with margins (trained numbers differ between CPUs)."""

from pathlib import Path

import pytest
import torch

from minivit.data import digits
from minivit.experiments import data_size, main, read_csv, subset, summarize, weak_supervision, write_csv

RESULTS = Path(__file__).resolve().parents[1] / "course" / "results"


pytestmark = pytest.mark.usefixtures("one_thread")


def test_subset_is_stratified_and_drawn_by_the_seed():
    train = digits("train")
    tenth = subset(train, 0.1, seed=0)
    assert len(tenth) == 144
    counts = tenth.labels.bincount(minlength=10)
    assert counts.min() >= 13 and counts.max() <= 16  # each digit about a tenth of its ~144
    assert not torch.equal(tenth.indices, subset(train, 0.1, seed=1).indices)
    assert torch.equal(tenth.indices, subset(train, 0.1, seed=0).indices)
    assert set(tenth.indices.tolist()) <= set(train.indices.tolist())
    assert subset(train, 1.0, seed=3) is train
    with pytest.raises(ValueError, match="fraction must be in"):
        subset(train, 0.0, seed=0)


def test_summarize_and_csv_round_trip(tmp_path):
    rows = [dict(model="a", seed=s, test_accuracy=v) for s, v in enumerate((0.5, 0.7, 0.9))]
    stats = summarize(rows, by=("model",), value="test_accuracy")[("a",)]
    assert stats["mean"] == pytest.approx(0.7) and stats["std"] == pytest.approx(0.2)
    assert (stats["min"], stats["max"], stats["n"]) == (0.5, 0.9, 3)
    write_csv(rows, tmp_path / "r.csv")
    assert read_csv(tmp_path / "r.csv") == rows


def test_stored_results_have_every_run():
    rows = read_csv(RESULTS / "data_size.csv")
    assert sorted({(r["model"], r["fraction"], r["seed"]) for r in rows}) == sorted(
        (m, f, s) for m in ("small CNN", "ViT", "Swin", "MobileViT") for f in (0.1, 0.25, 0.5, 1.0) for s in (0, 1, 2)
    )
    assert {r["seed"] for r in read_csv(RESULTS / "weak_supervision.csv")} == {0, 1, 2}


def test_data_size_reduced_the_cnn_needs_few_digits_the_vit_many():
    """Notebook 08's conclusions on its curve, for two models, two sizes and one seed."""
    rows = data_size(seeds=(0,), fractions=(0.1, 1.0), models=("small CNN", "ViT"))
    acc = {(r["model"], r["train_size"]): r["test_accuracy"] for r in rows}
    assert {r["epochs"] for r in rows} == {45, 5}  # the same 225 steps at both sizes
    assert acc["small CNN", 1437] - acc["small CNN", 144] < 0.06  # the CNN loses little
    assert acc["ViT", 1437] - acc["ViT", 144] > 0.1  # the ViT loses much
    gap_small, gap_full = acc["small CNN", 144] - acc["ViT", 144], acc["small CNN", 1437] - acc["ViT", 1437]
    assert gap_small > gap_full + 0.05


def test_command_line_writes_the_csv(tmp_path, monkeypatch):
    import minivit.experiments as experiments

    monkeypatch.setattr(experiments, "data_size", lambda seeds: [dict(model="m", seed=s, test_accuracy=0.5) for s in seeds])
    main(["data-size", "--seeds", "3", "4", "--out", str(tmp_path / "d.csv")])
    assert read_csv(tmp_path / "d.csv") == [dict(model="m", seed=3, test_accuracy=0.5), dict(model="m", seed=4, test_accuracy=0.5)]


def test_weak_supervision_reduced_keeps_the_order_of_notebook_08():
    """Notebook 09's pipeline on half the canvases: all background < CAM masks < the head on their pseudo-masks <
    the multi-stage head on true masks; the linear probe on true masks no better than the CAM masks; the CNN's
    CAMs point at their digits more often than the MobileViT's."""
    row = weak_supervision(seed=0, num_train=1000, num_test=100, epochs=5, head_epochs=4)
    assert row["background"] < 0.1
    assert row["mobilevit_cam"] > row["background"] + 0.05
    assert row["head_on_pseudo_masks"] > row["mobilevit_cam"]
    assert row["probe_on_masks"] < row["mobilevit_cam"]
    assert row["head_on_masks"] > max(row["mobilevit_cam"], row["head_on_pseudo_masks"], row["probe_on_masks"]) + 0.15
    assert row["cnn_pointing"] > row["mobilevit_pointing"]
