"""minivit.experiments.two_marks, notebook 01's experiment: its plumbing at tiny sizes, and the stored results
(every arm, every seed, the recipe of the module; seeds 3 and 4 added for the global-attention arms) that the
notebook reads and checks."""

from pathlib import Path

import pytest
import torch

import minivit.experiments.__main__ as command
import minivit.experiments.two_marks as experiment
from minivit.data import two_marks
from minivit.experiments import read_csv, write_csv
from minivit.models.toy_models import AttentionClassifier

STORED = Path(__file__).resolve().parents[1] / "course" / "results" / "two_marks.csv"
COLUMNS = ["arm", "seed", "epochs", "parameters", "test_accuracy", "aligned_accuracy", "solved_at", "mark_share",
           "best_test_accuracy", "best_epoch", "test_curve", "in_reach_accuracy", "out_of_reach_accuracy"]

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_arm_trains_and_gives_a_row():
    rows = experiment.two_marks_experiment(seeds=[0], epochs=1, train_size=64, test_size=32)
    assert [row["arm"] for row in rows] == list(experiment.ARMS)
    for row in rows:
        assert list(row) == COLUMNS and row["seed"] == 0 and row["epochs"] == 1
        assert 0 <= row["test_accuracy"] <= 1 and 0 <= row["aligned_accuracy"] <= 1
        assert row["solved_at"] in ("", 1)
        assert (row["mark_share"] == "") == ("CNN" in row["arm"])
        assert row["best_epoch"] == 1 and row["best_test_accuracy"] == row["test_accuracy"]
        assert row["test_curve"] == f"{row['test_accuracy']:.4f}"
        assert 0 <= row["in_reach_accuracy"] <= 1 and 0 <= row["out_of_reach_accuracy"] <= 1


def brute_force_in_reach(red, blue, reach):
    """Some query patch whose row of the model's own mask holds both marks' patches."""
    mask = AttentionClassifier(3, 2, image_size=24, patch_size=3, dim=8, num_heads=2, reach=reach).attn_mask
    token = lambda mark: (mark[:, 0] // 3) * 8 + mark[:, 1] // 3  # noqa: E731
    return (mask[:, token(red)] & mask[:, token(blue)]).any(dim=0)  # (M,)


@pytest.mark.parametrize(
    "red, blue, expected",
    [
        ((6, 6), (6, 13), True),  # patch columns 2 and 4: patch column 3 between them sees both
        ((6, 6), (12, 13), True),  # 2 patch rows and 2 patch columns apart: the diagonal patch between
        ((6, 6), (6, 15), False),  # patch columns 2 and 5: no 3 x 3 neighbourhood spans 4 columns
        ((6, 8), (15, 15), False),  # patch rows 2 and 5
        ((17, 17), (15, 9), True),  # patch (5, 5) and (5, 3), blue left of red
    ],
)
def test_both_marks_in_reach_on_hand_examples_and_against_the_mask(red, blue, expected):
    red, blue = torch.tensor([red]), torch.tensor([blue])
    assert experiment.both_marks_in_reach(red, blue).tolist() == [expected]
    assert brute_force_in_reach(red, blue, reach=1).tolist() == [expected]


@pytest.mark.parametrize("reach", [0, 1, 2])
def test_both_marks_in_reach_equals_the_brute_force_count_on_the_data(reach):
    data = two_marks("test")
    fast = experiment.both_marks_in_reach(data.red, data.blue, reach=reach)
    assert torch.equal(fast, brute_force_in_reach(data.red, data.blue, reach))
    if reach == 0:
        assert not fast.any()  # the marks never share a patch


def test_both_marks_in_reach_refuses_bad_marks():
    with pytest.raises(ValueError, match=r"red must have shape \(M, 2\), got shape \(3,\)"):
        experiment.both_marks_in_reach(torch.zeros(3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="blue must be a torch.Tensor, got list"):
        experiment.both_marks_in_reach(torch.zeros(1, 2, dtype=torch.long), [[0, 0]])


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


def test_add_seeds_trains_only_the_missing_runs_and_keeps_the_order_of_the_experiment(tmp_path, monkeypatch):
    trained = []

    def fake(job):
        trained.append(job)
        return dict(arm=job[0], seed=job[1], test_accuracy=0.75)

    monkeypatch.setattr(experiment, "_run", fake)
    path = tmp_path / "two_marks.csv"
    write_csv([dict(arm=arm, seed=seed, test_accuracy=0.5) for arm in ("small CNN", "attention") for seed in (0, 1)],
              path)
    new = experiment.add_seeds(path, ["attention", "small CNN"], [1, 2])
    assert trained == [("attention", 2), ("small CNN", 2)]  # seed 1 of both is stored already
    assert new == [dict(arm="attention", seed=2, test_accuracy=0.75), dict(arm="small CNN", seed=2, test_accuracy=0.75)]
    assert [(row["arm"], row["seed"], row["test_accuracy"]) for row in read_csv(path)] == [
        ("small CNN", 0, 0.5), ("small CNN", 1, 0.5), ("small CNN", 2, 0.75),
        ("attention", 0, 0.5), ("attention", 1, 0.5), ("attention", 2, 0.75)]


def test_add_seeds_refuses_unknown_arms(tmp_path):
    with pytest.raises(ValueError, match="arms must be a sequence of names from"):
        experiment.add_seeds(tmp_path / "none.csv", ["big CNN"], [0])
    with pytest.raises(ValueError, match="got 'attention'"):
        experiment.add_seeds(tmp_path / "none.csv", "attention", [0])


def test_stored_results_hold_every_arm_and_seed_at_the_module_recipe():
    rows = read_csv(STORED)
    test = two_marks("test")
    in_reach = int(experiment.both_marks_in_reach(test.red, test.blue).sum())
    assert list(rows[0]) == COLUMNS
    more = ("attention", "attention, no position")  # the two global-attention arms have seeds 3 and 4 too
    assert [(row["arm"], row["seed"]) for row in rows] == [
        (arm, seed) for arm in experiment.ARMS for seed in ((0, 1, 2, 3, 4) if arm in more else (0, 1, 2))]
    for row in rows:
        assert row["epochs"] == experiment.EPOCHS
        assert 0 <= row["test_accuracy"] <= 1 and 0 <= row["aligned_accuracy"] <= 1
        curve = [float(a) for a in row["test_curve"].split()]
        assert len(curve) == row["epochs"] and curve[-1] == pytest.approx(row["test_accuracy"], abs=1e-4)
        assert row["best_test_accuracy"] == pytest.approx(max(curve), abs=1e-4)
        assert row["best_test_accuracy"] >= row["test_accuracy"] - 1e-4
        assert curve[row["best_epoch"] - 1] == pytest.approx(max(curve), abs=1e-4)
        # the two subsets make up the test set
        whole = (in_reach * row["in_reach_accuracy"] + (500 - in_reach) * row["out_of_reach_accuracy"]) / 500
        assert whole == pytest.approx(row["test_accuracy"], abs=1e-3)
        torch.manual_seed(0)
        assert row["parameters"] == sum(p.numel() for p in experiment.ARMS[row["arm"]]().parameters())
