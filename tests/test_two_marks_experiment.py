"""minivit.experiments.two_marks, notebook 01's experiment: its plumbing at tiny sizes, and the stored results
(every arm, every seed, the recipe of the module) that the notebook reads and checks."""

from pathlib import Path

import pytest
import torch

import minivit.experiments.__main__ as command
import minivit.experiments.two_marks as experiment
from minivit.data import two_marks
from minivit.experiments import read_csv
from minivit.models.toy_models import AttentionClassifier

STORED = Path(__file__).resolve().parents[1] / "course" / "results" / "two_marks.csv"
COLUMNS = ["arm", "seed", "epochs", "parameters", "test_accuracy", "aligned_accuracy", "solved_at", "mark_share"]

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_arm_trains_and_gives_a_row():
    rows = experiment.two_marks_experiment(seeds=[0], epochs=1, train_size=64, test_size=32)
    assert [row["arm"] for row in rows] == list(experiment.ARMS)
    for row in rows:
        assert list(row) == COLUMNS and row["seed"] == 0 and row["epochs"] == 1
        assert 0 <= row["test_accuracy"] <= 1 and 0 <= row["aligned_accuracy"] <= 1
        assert row["solved_at"] in ("", 1)
        assert (row["mark_share"] == "") == ("CNN" in row["arm"])


def test_mark_share_of_attention_to_itself_alone_is_two_tokens_in_n():
    # reach 0: every query gives all its weight to its own patch, so each patch receives 1/N on average
    torch.manual_seed(0)
    model = AttentionClassifier(3, 2, image_size=24, patch_size=3, dim=8, num_heads=2, reach=0)
    assert abs(experiment.mark_share(model, two_marks("test", num_samples=20)) - 2 / 64) < 1e-6


def test_unknown_arm_is_refused():
    with pytest.raises(ValueError, match="arm must be one of"):
        experiment.train_arm("big CNN", seed=0)


def test_command_line_writes_the_rows_of_the_experiment(tmp_path, monkeypatch):
    calls = []

    def fake(seeds, processes):
        calls.append((list(seeds), processes))
        return [dict(arm="attention", seed=s, test_accuracy=0.5) for s in seeds]

    monkeypatch.setattr(command, "two_marks_experiment", fake)
    out = tmp_path / "two_marks.csv"
    command.main(["two-marks", "--seeds", "0", "4", "--processes", "2", "--out", str(out)])
    assert calls == [([0, 4], 2)]
    assert read_csv(out) == [dict(arm="attention", seed=0, test_accuracy=0.5), dict(arm="attention", seed=4, test_accuracy=0.5)]


def test_stored_results_hold_every_arm_and_seed_at_the_module_recipe():
    rows = read_csv(STORED)
    assert list(rows[0]) == COLUMNS
    assert sorted((row["arm"], row["seed"]) for row in rows) == sorted(
        (arm, seed) for arm in experiment.ARMS for seed in (0, 1, 2))
    for row in rows:
        assert row["epochs"] == experiment.EPOCHS
        assert 0 <= row["test_accuracy"] <= 1 and 0 <= row["aligned_accuracy"] <= 1
        torch.manual_seed(0)
        assert row["parameters"] == sum(p.numel() for p in experiment.ARMS[row["arm"]]().parameters())
