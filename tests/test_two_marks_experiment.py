"""minivit.experiments.two_marks, notebook 01's experiment: its plumbing at tiny sizes, and the stored results
(every arm, five seeds, the recipe of the module) that the notebook reads and checks."""

from fractions import Fraction
from pathlib import Path

import pytest
import torch

import minivit.experiments.__main__ as command
import minivit.experiments.two_marks as experiment
from minivit.data import two_marks
from minivit.experiments import read_csv
from minivit.models.toy_models import AttentionClassifier

STORED = Path(__file__).resolve().parents[1] / "course" / "results" / "two_marks.csv"
COLUMNS = ["arm", "seed", "epochs", "parameters", "train_accuracy", "test_accuracy", "mark_share"]

pytestmark = pytest.mark.usefixtures("one_thread")


def test_every_arm_trains_and_gives_a_row():
    rows = experiment.two_marks_experiment(seeds=[0], epochs=1, train_size=64, test_size=32)
    assert [row["arm"] for row in rows] == list(experiment.ARMS)
    for row in rows:
        assert list(row) == COLUMNS and row["seed"] == 0 and row["epochs"] == 1
        assert 0 <= row["train_accuracy"] <= 1 and 0 <= row["test_accuracy"] <= 1
        assert (row["mark_share"] == "") == ("CNN" in row["arm"])


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


def test_stored_results_hold_every_arm_and_seed_at_the_module_recipe():
    rows = read_csv(STORED)
    assert list(rows[0]) == COLUMNS
    assert [(row["arm"], row["seed"]) for row in rows] == [(arm, seed) for arm in experiment.ARMS for seed in range(5)]
    for row in rows:
        assert row["epochs"] == experiment.EPOCHS
        assert 0 <= row["train_accuracy"] <= 1 and 0 <= row["test_accuracy"] <= 1
        assert (row["mark_share"] == "") == ("CNN" in row["arm"])
        torch.manual_seed(0)
        assert row["parameters"] == sum(p.numel() for p in experiment.ARMS[row["arm"]]().parameters())


def test_the_capacity_control_has_at_least_as_many_parameters_as_the_field_19_cnns():
    count = {arm: sum(p.numel() for p in build().parameters()) for arm, build in experiment.ARMS.items()}
    assert count["CNN, field 19, circular"] == count["CNN, field 19, zero padding"]
    assert count["CNN, 20 channels"] >= count["CNN, field 19, circular"]
    assert experiment.ARMS["CNN, 20 channels"]().receptive_field == experiment.ARMS["small CNN"]().receptive_field == 7
    assert experiment.ARMS["CNN, field 19, zero padding"]().receptive_field == 19


def exact_law(columns: int, max_gap: int) -> dict:
    """two_marks' draw of the columns, enumerated: (column of the red mark, label) -> probability, for a gap
    uniform over 1..max_gap, the left mark's column uniform over the `columns - gap` with room for the other,
    and a fair coin for which mark is red (label 1: red is the left one)."""
    law: dict = {}
    for gap in range(1, max_gap + 1):
        for left in range(columns - gap):
            for red_left in (0, 1):
                key = (left if red_left else left + gap, red_left)
                law[key] = law.get(key, 0) + Fraction(1, max_gap) * Fraction(1, columns - gap) / 2
    assert sum(law.values()) == 1
    return law


def best_one_mark_accuracy(law: dict, columns: int) -> Fraction:
    """The best rule "label = f(column of the red mark)": in each column, the likelier label."""
    return sum(max(law.get((c, 0), 0), law.get((c, 1), 0)) for c in range(columns))


@pytest.mark.parametrize("max_gap, expected, written", [(3, Fraction(299, 495), "299/495 = 0.604"),
                                                         (6, Fraction(20417, 27720), "0.737 with gaps 1 to 6")])
def test_best_one_mark_rule_is_exact_and_as_the_docstring_says(max_gap, expected, written):
    # notebook 01's band "no better than one mark" starts from this value; 12 columns: 6 to 17 for the defaults
    law = exact_law(12, max_gap)
    best = best_one_mark_accuracy(law, 12)
    assert best == expected and written in two_marks.__doc__ and f"{float(best):.3f}" in written
    # the same from a formula: 1/2 + TV/2, TV the total variation distance between the columns of the left mark
    # and of the right one (the coin makes the red mark's column either, with probability 1/2 each)
    left_col = {c: sum(Fraction(1, max_gap * (12 - g)) for g in range(1, max_gap + 1) if c < 12 - g) for c in range(12)}
    right_col = {c: sum(Fraction(1, max_gap * (12 - g)) for g in range(1, max_gap + 1) if c >= g) for c in range(12)}
    assert Fraction(1, 2) + sum(abs(left_col[c] - right_col[c]) for c in range(12)) / 4 == expected


def test_the_enumerated_law_is_the_one_two_marks_draws():
    # the exact best rule, read on 20,000 drawn images, scores its exact accuracy within 4 standard errors (0.014)
    law = exact_law(12, 3)
    rule = torch.tensor([int(law.get((c, 1), 0) > law.get((c, 0), 0)) for c in range(12)])
    data = two_marks("train", num_samples=20000, seed=1)
    for column, label in ((data.red[:, 1], data.labels), (data.blue[:, 1], 1 - data.labels)):
        accuracy = (rule[column - 6] == label).float().mean().item()
        assert abs(accuracy - 299 / 495) < 4 * (0.25 / 20000) ** 0.5, accuracy


def test_best_rule_on_the_columns_inside_the_patches_is_179_330():
    # notebook 01's ceiling for attention without a position embedding: it sees each mark's column mod 3 (its place
    # inside a 3 x 3 patch) and nothing else that depends on the label; the columns run from 6 to 17 for the defaults
    law: dict = {}  # (red column mod 3, blue column mod 3, label) -> probability; label 1: red is the left one
    for gap in (1, 2, 3):
        for left in range(6, 18 - gap):
            for red_left in (0, 1):
                red, blue = (left, left + gap) if red_left else (left + gap, left)
                key = (red % 3, blue % 3, red_left)
                law[key] = law.get(key, 0) + Fraction(1, 3) * Fraction(1, 12 - gap) / 2
    assert sum(law.values()) == 1
    pairs = [(a, b) for a in range(3) for b in range(3)]
    best = sum(max(law.get((a, b, 0), 0), law.get((a, b, 1), 0)) for a, b in pairs)
    assert best == Fraction(179, 330)
    # the exact rule, read on 20,000 drawn images, scores its exact accuracy within 4 standard errors (0.014)
    rule = {(a, b): int(law.get((a, b, 1), 0) > law.get((a, b, 0), 0)) for a, b in pairs}
    data = two_marks("train", num_samples=20000, seed=1)
    answers = torch.tensor([rule[(r % 3, b % 3)] for r, b in zip(data.red[:, 1].tolist(), data.blue[:, 1].tolist())])
    accuracy = (answers == data.labels).float().mean().item()
    assert abs(accuracy - 179 / 330) < 4 * (0.25 / 20000) ** 0.5, accuracy
