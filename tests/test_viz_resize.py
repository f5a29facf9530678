"""The round-trip figure draws the errors it is given against their frequencies, and each row before and after."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit.viz import plot_round_trip_errors  # noqa: E402


def test_plot_round_trip_errors_draws_the_numbers_it_is_given():
    frequencies, errors = [0.05, 0.25, 0.5], [0.02, 0.3, 0.7]
    slow, fast = torch.cos(0.3 * torch.arange(25.0)), torch.cos(torch.pi * torch.arange(25.0))
    fig = plot_round_trip_errors(frequencies, errors, {"slow": (slow, 0.9 * slow), "fast": (fast, 0.1 * fast)})
    assert len(fig.axes) == 3
    x, y = fig.axes[0].lines[0].get_data()
    np.testing.assert_allclose(x, frequencies)
    np.testing.assert_allclose(y, errors)
    before, after = fig.axes[2].lines
    assert [before.get_label(), after.get_label()] == ["before", "after"]
    np.testing.assert_allclose(after.get_ydata(), 0.1 * fast.numpy())
    assert fig.axes[1].get_title() == "slow" and fig.axes[2].get_title() == "fast"


@pytest.mark.parametrize(
    "args, message",
    [
        (([0.1, 0.2], [0.1], {"a": (torch.zeros(3), torch.zeros(3))}), "same nonzero length"),
        (([0.1], [0.1], {}), "at least one"),
        (([0.1], [0.1], {"a": (torch.zeros(3), torch.zeros(4))}), "1-D tensors of one length"),
    ],
)
def test_plot_round_trip_errors_rejects_bad_inputs(args, message):
    with pytest.raises(ValueError, match=message):
        plot_round_trip_errors(*args)
