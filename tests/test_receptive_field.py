"""Receptive fields counted from kernels and strides equal those measured from gradients."""

import pytest
import torch
from torch import nn

from minivit.ops.receptive_field import receptive_field, receptive_field_map, receptive_field_of

pytestmark = pytest.mark.versions  # gradients through torch's layers


def measured_field(kernel_sizes: list[int], strides: list[int]) -> int:
    """The receptive field by brute force: the span from the first to the last input pixel whose
    gradient reaches one output of a stack of 1-D convolutions (all weights 1, so no gradient cancels).
    A stride larger than the next kernel leaves pixels inside the span that no path reaches."""
    layers = [nn.Conv1d(1, 1, k, s, bias=False) for k, s in zip(kernel_sizes, strides)]
    for layer in layers:
        nn.init.ones_(layer.weight)
    x = torch.zeros(1, 1, 200, requires_grad=True)
    nn.Sequential(*layers)(x)[0, 0, 0].backward()
    reached = (x.grad[0, 0] != 0).nonzero()
    return int(reached.max() - reached.min() + 1)


@pytest.mark.parametrize(
    "kernel_sizes, strides, expected",
    [([3], [1], 3), ([3, 3], [1, 1], 5), ([7, 3, 3], [2, 2, 1], 19), ([2, 2, 2], [2, 2, 2], 8), ([], [], 1)],
)
def test_receptive_field_hand_worked_and_measured(kernel_sizes, strides, expected):
    # [7, 3, 3] with strides [2, 2, 1]: 1 + 6 + 2 * 2 + 2 * 2 * 2 = 19; a layer's own stride does not widen its field
    assert receptive_field(kernel_sizes, strides) == expected
    if kernel_sizes:
        assert measured_field(kernel_sizes, strides) == expected


def test_receptive_field_equals_the_gradient_on_random_stacks():
    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        n = int(torch.randint(1, 5, (1,), generator=gen))
        kernels = torch.randint(1, 6, (n,), generator=gen).tolist()
        strides = torch.randint(1, 4, (n,), generator=gen).tolist()
        assert receptive_field(kernels, strides) == measured_field(kernels, strides)


def test_receptive_field_of_reads_the_conv_and_pooling_layers():
    layers = nn.Sequential(nn.Conv2d(1, 4, 7, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Conv2d(4, 4, 3))
    assert receptive_field_of(layers) == receptive_field([7, 3, 3], [2, 2, 1]) == 19
    assert receptive_field_of(nn.Linear(2, 2)) == 1


def test_receptive_field_map_of_two_convs_is_the_counted_square():
    convs = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1))
    field = receptive_field_map(convs, torch.randn(1, 9, 9), (4, 4))
    rows, cols = (field > 0).nonzero().unbind(1)
    side = receptive_field_of(convs)
    assert side == 5 and (rows.min(), rows.max(), cols.min(), cols.max()) == (2, 6, 2, 6)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: receptive_field([3, 3], [1]), "one entry per layer, got 2 and 1"),
        (lambda: receptive_field([3, 0], [1, 1]), "kernel_sizes must hold positive ints"),
        (lambda: receptive_field_map(nn.Identity(), torch.zeros(2, 1, 4, 4), (0, 0)), "(1, C, H, W)"),
        (lambda: receptive_field_map(nn.Identity(), torch.zeros(4, 4), (0, 0)), "(1, C, H, W)"),
    ],
)
def test_bad_input_raises_value_error(call, words):
    with pytest.raises(ValueError) as error:
        call()
    assert words in str(error.value)


def test_wrong_types_raise_type_error():
    with pytest.raises(TypeError, match=r"strides must hold ints, got \[1.5\]"):
        receptive_field([3], [1.5])
