"""The diagram primitives draw what they are given and read shapes from the real module: a flow has one
box per step in order, each labelled with the shape the module computes, and residual arrows where asked."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from minivit.models.layers import TransformerBlock  # noqa: E402
from minivit.viz.diagram import Step, output_shapes, plot_flow, shape_text  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


def test_output_shapes_are_those_of_the_submodules_outputs():
    block = TransformerBlock(dim=8, num_heads=2, mlp_ratio=3.0)
    shapes = output_shapes(block, torch.zeros(2, 5, 8), ["norm1", "attn", "mlp.fc1", "mlp", ""])
    # fc1 widens each token to int(3.0 * 8) = 24 features: the hidden layer of the MLP
    assert shapes == {"norm1": (2, 5, 8), "attn": (2, 5, 8), "mlp.fc1": (2, 5, 24), "mlp": (2, 5, 8), "": (2, 5, 8)}
    assert not any(m._forward_hooks for m in block.modules())  # the hooks are removed


def test_output_shapes_of_a_module_returning_a_tuple_and_bad_names():
    lstm = nn.LSTM(4, 6, batch_first=True)
    assert output_shapes(lstm, torch.zeros(1, 3, 4), [""]) == {"": (1, 3, 6)}  # the first element: the outputs
    with pytest.raises(ValueError, match=r"\['norm3'\] are not submodules of TransformerBlock"):
        output_shapes(TransformerBlock(8, 2), torch.zeros(1, 2, 8), ["norm3"])


def test_output_shapes_names_a_submodule_that_did_not_run():
    class Skips(nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = nn.Identity(), nn.Identity()

        def forward(self, x):
            return self.used(x)

    with pytest.raises(ValueError, match=r"\['unused'\] did not run"):
        output_shapes(Skips(), torch.zeros(1), ["used", "unused"])


def test_shape_text():
    assert shape_text((1, 197, 768)) == "(1, 197, 768)"
    assert shape_text("(B, N, D)") == "(B, N, D)"
    assert shape_text(None) == ""


def test_flow_draws_one_box_per_step_top_to_bottom_with_residuals():
    steps = [Step("x", (1, 4), "tensor"), Step("norm", (1, 4), "norm"), Step("add", None, "op")]
    fig = plot_flow(steps, "a block", skips=[(0, 2)])
    ax = fig.axes[0]
    boxes = with_gid(ax.patches, "step")
    assert len(boxes) == 3
    assert [b.get_y() for b in boxes] == sorted((b.get_y() for b in boxes), reverse=True)  # step 0 at the top
    assert [t.get_text() for t in with_gid(ax.texts, "step-label")] == ["x\n(1, 4)", "norm\n(1, 4)", "add"]
    assert len(with_gid(ax.patches, "arrow")) == 2  # between consecutive steps
    assert len(with_gid(ax.patches, "skip")) == 1 and len(with_gid(ax.lines, "skip")) == 1
    assert ax.get_title() == "a block"


@pytest.mark.parametrize("steps, skips, message", [
    ([], (), "at least one Step"),
    ([Step("a"), Step("b")], [(1, 0)], "must go forward"),
    ([Step("a", kind="magic")], (), "kind must be one of"),
])
def test_flow_rejects_bad_input(steps, skips, message):
    with pytest.raises(ValueError, match=message):
        plot_flow(steps, "t", skips=skips)
