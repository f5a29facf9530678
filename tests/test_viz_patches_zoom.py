"""plot_patches' zoomed strip (notebook 03): the numbers it spells out are patchify's own, in its order, and each
pixel's swatch is that pixel's colour."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from minivit import patchify, viz  # noqa: E402


def with_gid(artists, gid):
    return [a for a in artists if a.get_gid() == gid]


@pytest.mark.parametrize("C, patch, n, zoom", [(3, 4, 3, 3), (1, (2, 4), 2, 6), (3, (4, 2), 0, 8)])
def test_zoom_spells_out_patchify_row_in_order(C, patch, n, zoom):
    image = torch.rand(C, 8, 8, generator=torch.Generator().manual_seed(0))  # (C, H, W)
    fig = viz.plot_patches(image, patch, highlight=n, zoom=zoom)
    left, right, strip = fig.axes
    row = patchify(image[None], patch)[0, n]  # (ph*pw*C,)
    cells, values = with_gid(strip.patches, "number"), with_gid(strip.texts, "value")
    assert [c.get_x() for c in cells] == list(range(zoom * C))
    assert [float(t.get_text()) for t in values] == pytest.approx(row[: zoom * C].tolist(), abs=0.005)
    swatches = with_gid(strip.patches, "pixel")
    assert len(swatches) == zoom
    for j, swatch in enumerate(swatches):  # pixel j of the patch, row-major: image[:, r0 + j // pw, c0 + j % pw]
        rgb = row[j * C : (j + 1) * C].numpy()
        expected = rgb if C == 3 else np.repeat(rgb, 3)
        np.testing.assert_allclose(swatch.get_facecolor()[:3], np.clip(expected, 0, 1), atol=1e-6)


def test_zoom_keeps_the_two_panels_and_shape():
    picture = torch.rand(3, 64, 64)
    plain, zoomed = viz.plot_patches(picture, 32, highlight=1), viz.plot_patches(picture, 32, highlight=1, zoom=4)
    assert len(plain.axes) == 2 and len(zoomed.axes) == 3
    assert zoomed.axes[1].get_title() == plain.axes[1].get_title()
    width, height = zoomed.get_size_inches()
    assert height / width < 0.95
    assert to_rgb(with_gid(zoomed.axes[2].patches, "number")[0].get_facecolor()) != to_rgb(
        with_gid(zoomed.axes[2].patches, "number")[1].get_facecolor()
    )  # R and G cells told apart


@pytest.mark.parametrize(
    "kwargs", [{"zoom": 3}, {"highlight": 1, "zoom": 0}, {"highlight": 1, "zoom": 17}, {"highlight": 1, "zoom": True}]
)
def test_zoom_errors_name_the_argument(kwargs):
    with pytest.raises(ValueError, match="zoom must be an int in 1..16 with a highlight"):
        viz.plot_patches(torch.rand(3, 8, 8), 4, **kwargs)
