import math

import pytest
import torch

from minivit.metrics import (
    accuracy,
    accuracy_combination_interval,
    accuracy_difference_interval,
    confusion_matrix,
    iou_per_class,
    mean_attention_distance,
    mean_iou,
    mean_iou_difference_interval,
    mean_iou_resampled,
    wilson_interval,
)

pytestmark = pytest.mark.versions  # numerics of torch's ops

# A 3x3 hand-worked case with classes 0, 1, 2 (and 3, absent from both):
#   target      pred
#   0 0 1       0 1 1
#   0 1 1       0 1 1
#   2 2 2       2 2 0
TARGET = torch.tensor([[0, 0, 1], [0, 1, 1], [2, 2, 2]])
PRED = torch.tensor([[0, 1, 1], [0, 1, 1], [2, 2, 0]])
# class 0: target at (0,0) (0,1) (1,0); pred at (0,0) (1,0) (2,2) -> both 2, either 4 -> 2/4
# class 1: target at (0,2) (1,1) (1,2); pred at (0,1) (0,2) (1,1) (1,2) -> both 3, either 4 -> 3/4
# class 2: target at (2,0) (2,1) (2,2); pred at (2,0) (2,1) -> both 2, either 3 -> 2/3
# class 3: in neither -> no IoU (NaN), left out of the mean
HAND_IOU = [2 / 4, 3 / 4, 2 / 3]


def test_iou_per_class_matches_hand_worked_case():
    iou = iou_per_class(PRED, TARGET, num_classes=4)
    assert iou.shape == (4,)
    torch.testing.assert_close(iou[:3], torch.tensor(HAND_IOU, dtype=torch.float64))
    assert math.isnan(iou[3])


def test_mean_iou_leaves_out_classes_absent_from_both():
    assert mean_iou(PRED, TARGET, num_classes=4) == pytest.approx(sum(HAND_IOU) / 3)
    assert mean_iou(PRED, TARGET, num_classes=3) == pytest.approx(sum(HAND_IOU) / 3)


def test_class_in_only_one_mask_has_iou_zero():
    target = torch.tensor([[0, 0], [0, 0]])
    pred = torch.tensor([[0, 0], [0, 1]])  # class 1 predicted once, never true
    iou = iou_per_class(pred, target, num_classes=2)
    # class 0: both 3, either 4; class 1: both 0, either 1
    torch.testing.assert_close(iou, torch.tensor([3 / 4, 0.0], dtype=torch.float64))
    assert mean_iou(pred, target, num_classes=2) == pytest.approx((3 / 4 + 0) / 2)


def test_perfect_prediction_has_iou_one():
    assert mean_iou(TARGET, TARGET, num_classes=3) == 1.0


def test_stacked_masks_count_pixels_over_the_data_set():
    # Image a: class 1 is 1 pixel, predicted right. Image b: class 1 is 3 pixels, predicted on 1.
    # Per image: IoU 1 and 1/3, mean 2/3. Over both: both 2, either 4 -> 1/2.
    target = torch.tensor([[[1, 0, 0, 0]], [[1, 1, 1, 0]]])
    pred = torch.tensor([[[1, 0, 0, 0]], [[1, 0, 0, 0]]])
    assert iou_per_class(pred, target, 2)[1].item() == pytest.approx(1 / 2)
    per_image = [iou_per_class(p, t, 2)[1].item() for p, t in zip(pred, target)]
    assert per_image == pytest.approx([1.0, 1 / 3])


def test_confusion_matrix_rows_are_truth_columns_are_predictions():
    cm = confusion_matrix(PRED, TARGET, num_classes=3)
    # true 0 -> predicted 0 twice, 1 once; true 1 -> 1 three times; true 2 -> 2 twice, 0 once
    assert cm.tolist() == [[2, 1, 0], [0, 3, 0], [1, 0, 2]]
    assert cm.sum() == TARGET.numel()


def test_accuracy_hand_worked():
    assert accuracy(PRED, TARGET) == pytest.approx(7 / 9)
    assert accuracy(torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 0, 0])) == 0.5


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: iou_per_class(PRED, TARGET[:2], 3), ValueError, "same shape"),
        (lambda: iou_per_class(PRED, TARGET, 2), ValueError, "class indices in [0, 2)"),
        (lambda: iou_per_class(PRED - 1, TARGET, 3), ValueError, "pred must hold class indices"),
        (lambda: iou_per_class(PRED, TARGET, 0), ValueError, "num_classes must be a positive int"),
        (lambda: accuracy([1], TARGET), TypeError, "pred must be a torch.Tensor"),
        (lambda: mean_iou_resampled(PRED[None], TARGET[None], 3, torch.tensor([[0, 1]])), ValueError, "in [0, 1)"),
        (lambda: mean_iou_resampled(PRED[None], TARGET[None], 3, torch.tensor([0])), ValueError, "(R, M) int64"),
        (lambda: mean_iou_difference_interval(PRED[None], PRED[None], TARGET[None], 3, level=1.0), ValueError,
         "level must be in (0, 1)"),
    ],
)
def test_bad_input_names_the_problem(call, error, words):
    with pytest.raises(error) as err:
        call()
    assert words in str(err.value)


def test_mean_iou_resampled_is_mean_iou_of_each_resample():
    torch.manual_seed(0)
    pred, target = torch.randint(0, 4, (6, 5, 5)), torch.randint(0, 4, (6, 5, 5))
    pred[:, 0] = target[:, 0]  # some agreement
    indices = torch.randint(0, 6, (20, 6))
    indices[0] = torch.arange(6)  # the data set itself
    resampled = mean_iou_resampled(pred, target, 4, indices)
    brute_force = [mean_iou(pred[row], target[row], 4) for row in indices]
    assert torch.allclose(resampled, torch.tensor(brute_force, dtype=torch.float64))
    assert resampled[0].item() == pytest.approx(mean_iou(pred, target, 4))


def test_mean_attention_distance_hand_worked():
    # A 1 x 3 grid of patches of 10 pixels: centres at 0, 10 and 20 pixels.
    # query 0: all on itself -> 0; query 1: half on itself, half on patch 2 -> 0.5 * 10 = 5;
    # query 2: a quarter on patch 0 (20 px), three quarters on patch 1 (10 px) -> 5 + 7.5 = 12.5.
    attention = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.25, 0.75, 0.0]])
    assert mean_attention_distance(attention, (1, 3), 10).item() == pytest.approx((0 + 5 + 12.5) / 3)
    # A 2 x 2 grid of patches of 4: the diagonal neighbour is 4 * sqrt(2) away. Every query attends
    # uniformly to all four patches: (0 + 4 + 4 + 4 sqrt 2) / 4 from every query.
    uniform = torch.full((4, 4), 0.25)
    assert mean_attention_distance(uniform, 2, 4).item() == pytest.approx((8 + 4 * math.sqrt(2)) / 4)


def test_mean_attention_distance_renormalises_rows_and_keeps_leading_dimensions():
    # with a class token dropped, the rows no longer add up to 1: each is divided by its own sum
    attention = torch.tensor([[0.2, 0.2, 0.0], [0.0, 0.1, 0.1], [0.0, 0.0, 0.5]])
    assert mean_attention_distance(attention, (1, 3), 1).item() == pytest.approx((0.5 + 0.5 + 0) / 3)
    batch = torch.softmax(torch.randn(2, 3, 6, 6), dim=-1)
    assert mean_attention_distance(batch, (2, 3), 8).shape == (2, 3)


def test_mean_attention_distance_equals_brute_force():
    torch.manual_seed(0)
    h, w, p = 3, 4, 8
    attention = torch.softmax(torch.randn(2, h * w, h * w), dim=-1)
    got = mean_attention_distance(attention, (h, w), p)
    for b in range(2):
        total = 0.0
        for q in range(h * w):
            for k in range(h * w):
                dy, dx = (q // w - k // w) * p, (q % w - k % w) * p
                total += attention[b, q, k].item() * math.hypot(dy, dx)
        assert got[b].item() == pytest.approx(total / (h * w))


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: mean_attention_distance(torch.ones(4, 4).tolist(), 2, 1), TypeError, "attention must be a torch.Tensor"),
        (lambda: mean_attention_distance(torch.ones(5, 5), 2, 1), ValueError, "N = h * w = 4"),
        (lambda: mean_attention_distance(torch.ones(4, 4), 2, 0), ValueError, "patch_size must be a positive int"),
        (lambda: mean_attention_distance(torch.ones(4, 4), (2, 0), 1), ValueError, "grid"),
    ],
)
def test_mean_attention_distance_names_bad_input(call, error, words):
    with pytest.raises(error, match=words.replace("*", r"\*").replace("(", r"\(")):
        call()


def test_mean_iou_difference_interval_is_the_percentile_bootstrap_of_paired_resamples():
    torch.manual_seed(0)
    target = torch.randint(0, 3, (30, 4, 4))
    good, bad = target.clone(), torch.randint(0, 3, (30, 4, 4))
    good[:10] = bad[:10]  # a third of the images as bad as the bad method's
    low, high = mean_iou_difference_interval(good, bad, target, 3, resamples=200, seed=1)
    # by hand: the same resamples, both methods on each, the central 95% of the differences
    indices = torch.randint(30, (200, 30), generator=torch.Generator().manual_seed(1))
    differences = mean_iou_resampled(good, target, 3, indices) - mean_iou_resampled(bad, target, 3, indices)
    assert (low, high) == pytest.approx((torch.quantile(differences, 0.025).item(),
                                         torch.quantile(differences, 0.975).item()))
    assert 0 < low < mean_iou(good, target, 3) - mean_iou(bad, target, 3) < high
    # one method against itself: every resample differs by exactly 0
    assert mean_iou_difference_interval(good, good, target, 3, resamples=50) == (0.0, 0.0)


def test_wilson_interval_equals_scipy_and_its_closed_form_at_one():
    from scipy.stats import binomtest

    expected = binomtest(81, 263).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson_interval(81 / 263, 263, z=1.959964)
    assert low == pytest.approx(expected.low, abs=1e-7) and high == pytest.approx(expected.high, abs=1e-7)
    # all right: the interval is [n / (n + z^2), 1], far wider below than the simple one (which is [1, 1])
    assert wilson_interval(1.0, 360) == pytest.approx((360 / 364, 1.0))
    low, high = wilson_interval(0.5, 100)  # symmetric in the middle, close to 0.5 +- 2 * 0.05
    assert (low + high) / 2 == pytest.approx(0.5) and high - low == pytest.approx(2 * 2 / 1.04 * 0.0026**0.5)


def test_accuracy_combination_interval_of_two_is_the_difference_and_flips_with_the_signs():
    terms = ((1, 0.95, 360), (-1, 0.8, 360), (1, 0.7, 200), (-1, 0.99, 360))
    low, high = accuracy_combination_interval(terms)
    assert low < 0.95 - 0.8 + 0.7 - 0.99 < high
    flipped = accuracy_combination_interval([(-c, a, n) for c, a, n in terms])
    assert flipped == pytest.approx((-high, -low))
    with_zero = accuracy_combination_interval(((1, 0.9, 360), (-1, 0.8, 360), (0, 0.5, 360)))
    assert with_zero == pytest.approx(accuracy_difference_interval(0.9, 0.8, 360))


def test_accuracy_difference_interval_reproduces_newcombes_example():
    # Newcombe (1998), Statistics in Medicine 17, 873-890, Table II: 56/70 - 48/80, method 10: 0.0524 to 0.3339
    low, high = accuracy_difference_interval(56 / 70, 48 / 80, 70, z=1.959964, n_b=80)
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)
    low, high = accuracy_difference_interval(0.9, 0.9, 360)
    assert low == pytest.approx(-high) and low < 0 < high


@pytest.mark.parametrize("call, error, words", [
    (lambda: wilson_interval(1.2, 10), ValueError, "accuracy must be in"),
    (lambda: wilson_interval(0.5, 0), ValueError, "n must be"),
    (lambda: wilson_interval(0.5, 10, z=0), ValueError, "z must be positive"),
    (lambda: accuracy_difference_interval(0.5, -0.1, 10), ValueError, "accuracy must be in"),
])
def test_intervals_name_bad_input(call, error, words):
    with pytest.raises(error, match=words):
        call()
