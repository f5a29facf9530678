"""The per-stage multiply-adds of notebook 06: counted on the real Swin-T, they equal the counts worked
out here by hand from the shapes (12 hwC^2 for a block's Linears, 2 hw M^2 C for its attention, 2 hwC^2
for patch merging), and the stacked bars draw those numbers."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from minivit.models.swin import swin_t  # noqa: E402
from minivit.ops.flops import count_multiply_adds  # noqa: E402
from minivit.viz.cost import STAGE_PARTS, plot_stage_costs, stage_costs  # noqa: E402

pytestmark = pytest.mark.versions  # FLOP counts of torch's counter

MERGE, LINEARS, ATTENTION = STAGE_PARTS
# Swin-T at 224 x 224: (tokens h*w, channels C, blocks) of each stage; windows M = 7
SWIN_T_224 = [(56 * 56, 96, 2), (28 * 28, 192, 2), (14 * 14, 384, 6), (7 * 7, 768, 2)]


def test_stage_costs_of_swin_t_equal_the_hand_worked_counts():
    with torch.device("meta"):
        model = swin_t().eval()
        image = torch.zeros(1, 3, 224, 224)
        costs = stage_costs(model, image)
        total = count_multiply_adds(model, image)
    assert len(costs) == 4
    for cost, (hw, C, blocks) in zip(costs, SWIN_T_224):
        # per token and block: q, k, v 3C^2, output C^2, MLP C -> 4C -> C 8C^2; q k^T and weights x v 2 M^2 C
        assert cost[LINEARS] == blocks * 12 * hw * C**2
        assert cost[ATTENTION] == blocks * 2 * hw * 7**2 * C
        # patch merging: a Linear 4(C/2) = 2C -> C on every merged token; stage 1 has none
        assert cost[MERGE] == (0 if C == 96 else hw * 2 * C * C)
    assert costs[0][LINEARS] == 693_633_024 and costs[0][ATTENTION] == 59_006_976  # 2 x 346.8 M, 2 x 29.5 M
    # the rest of the model: the 4 x 4 patch embedding conv (48 -> 96 per token) and the head 768 -> 1000
    rest = 56 * 56 * 48 * 96 + 768 * 1000
    assert sum(sum(c.values()) for c in costs) + rest == total


def test_stage_cost_bars_draw_the_counts():
    with torch.device("meta"):
        model = swin_t().eval()
        costs = stage_costs(model, torch.zeros(1, 3, 224, 224))
        fig = plot_stage_costs(model, 224)
    ax = fig.axes[0]
    assert len(ax.containers) == 3  # one stack per part, in the order of STAGE_PARTS
    for container, part in zip(ax.containers, STAGE_PARTS):
        heights = [bar.get_height() for bar in container]
        np.testing.assert_allclose(heights, [c[part] / 1e9 for c in costs])
    totals = [t.get_text() for t in ax.texts if t.get_gid() == "total"]
    assert totals[0] == "0.75 G\nattention 8%" and totals[2].startswith("2.18 G")
    assert [t.get_text().splitlines()[1] for t in ax.get_xticklabels()] == [
        "56x56, C = 96", "28x28, C = 192", "14x14, C = 384", "7x7, C = 768"]


def test_stage_costs_want_a_swin_model():
    with pytest.raises(TypeError, match="model must be a minivit SwinTransformer, got Linear"):
        stage_costs(torch.nn.Linear(2, 2), torch.zeros(1, 2))
    with pytest.raises(TypeError, match="got Linear"):
        plot_stage_costs(torch.nn.Linear(2, 2))
