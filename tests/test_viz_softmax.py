import math

import numpy as np
import pytest
import torch

from minivit import viz


def test_score_spread_is_sqrt_d_unscaled_and_one_scaled():
    spread = viz.score_spread([1, 16, 256], num_keys=8, samples=3000)
    assert spread["dims"].tolist() == [1, 16, 256]
    np.testing.assert_allclose(spread["std_unscaled"], np.sqrt([1, 16, 256]), rtol=0.1)
    np.testing.assert_allclose(spread["std_scaled"], 1.0, rtol=0.1)
    # d = 1: the scale is 1, so both softmaxes are the same
    assert spread["top_unscaled"][0] == pytest.approx(spread["top_scaled"][0])
    assert spread["top_unscaled"][-1] > 0.85 and spread["top_scaled"][-1] < 0.5  # saturated / not
    assert np.all(np.diff(spread["top_unscaled"]) > 0)
    assert np.all(spread["top_scaled"] >= 1 / 8)  # never below uniform


def test_score_spread_top_weight_by_brute_force():
    # the same draws, recomputed with a loop over queries and math.exp
    spread = viz.score_spread([4], num_keys=3, samples=5, seed=7)
    generator = torch.Generator().manual_seed(7)
    q = torch.randn(5, 1, 4, generator=generator, dtype=torch.float64)
    k = torch.randn(5, 3, 4, generator=generator, dtype=torch.float64)
    tops = {"unscaled": [], "scaled": []}
    for i in range(5):
        scores = [float(q[i, 0] @ k[i, j]) for j in range(3)]
        for name, scale in (("unscaled", 1.0), ("scaled", 0.5)):
            e = [math.exp(s * scale) for s in scores]
            tops[name].append(max(e) / sum(e))
    assert spread["top_unscaled"][0] == pytest.approx(np.mean(tops["unscaled"]))
    assert spread["top_scaled"][0] == pytest.approx(np.mean(tops["scaled"]))


def test_score_spread_of_one_d_does_not_depend_on_the_other_sizes():
    few, many = viz.score_spread([4, 64], samples=200), viz.score_spread([1, 4, 16, 64], samples=200)
    for key in ("std_unscaled", "std_scaled", "top_unscaled", "top_scaled"):
        np.testing.assert_array_equal(few[key], many[key][[1, 3]])


def test_softmax_saturation_figure_draws_the_spread():
    fig = viz.plot_softmax_saturation(dims=(1, 8, 64), num_keys=4, samples=200)
    spread = viz.score_spread((1, 8, 64), num_keys=4, samples=200)
    left, right = fig.axes
    unscaled, scaled = left.get_lines()[:2]
    assert unscaled.get_xdata().tolist() == [1, 8, 64]
    np.testing.assert_allclose(unscaled.get_ydata(), spread["std_unscaled"])
    np.testing.assert_allclose(scaled.get_ydata(), spread["std_scaled"])
    unscaled, scaled = right.get_lines()[:2]
    np.testing.assert_allclose(unscaled.get_ydata(), spread["top_unscaled"])
    np.testing.assert_allclose(scaled.get_ydata(), spread["top_scaled"])
    assert isinstance(fig, viz.NotebookFigure) and fig._repr_png_().startswith(b"\x89PNG")


@pytest.mark.parametrize("call, words", [
    (lambda: viz.score_spread([]), "dims must hold at least one positive size d"),
    (lambda: viz.score_spread([0, 4]), "dims must hold at least one positive size d"),
    (lambda: viz.score_spread([4], num_keys=1), "num_keys must be an int >= 2, got 1"),
    (lambda: viz.plot_softmax_saturation(samples=1), "samples must be an int >= 2, got 1"),
])
def test_bad_arguments_raise_value_errors(call, words):
    with pytest.raises(ValueError, match=words):
        call()
