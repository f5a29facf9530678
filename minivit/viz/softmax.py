"""Why attention divides its scores by sqrt(d): without it, the softmax saturates as d grows.

For queries and keys with independent entries of mean 0 and variance 1, a score q . k is a sum of d
products of variance 1, so its standard deviation is sqrt(d); the softmax of such widely spread
scores puts almost all the weight on one key. Dividing by sqrt(d) brings the spread back to 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from minivit.ops.attention import attention
from minivit.viz._common import new_figure


def score_spread(dims: Sequence[int], num_keys: int = 16, samples: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Measure, for random queries and keys of each size d, the spread of the scores and the largest
    softmax weight, without and with the 1/sqrt(d) scale.

    Args:
        dims: the query/key sizes d to try.
        num_keys: Nk, keys each query is compared with.
        samples: queries per size (each with its own Nk keys), entries drawn from N(0, 1).
        seed: fixes the draws. Each d starts again from this seed, so the numbers for one d do not depend
            on which other sizes are asked for (the table of a few d and the figure of many agree).

    Returns:
        a dict of arrays, one entry per d: "dims"; "std_unscaled" and "std_scaled", the standard deviation
        of the scores q . k and q . k / sqrt(d); "top_unscaled" and "top_scaled", the largest weight of a
        query's softmax, averaged over the queries.
    """
    dims = np.asarray(list(dims), dtype=np.int64)
    if dims.ndim != 1 or dims.size < 1 or (dims < 1).any():
        raise ValueError(f"dims must hold at least one positive size d, got {list(dims)!r}")
    for name, value in (("num_keys", num_keys), ("samples", samples)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"{name} must be an int >= 2, got {value!r}")
    result = {key: [] for key in ("std_unscaled", "std_scaled", "top_unscaled", "top_scaled")}
    for d in dims.tolist():
        generator = torch.Generator().manual_seed(seed)
        q = torch.randn(samples, 1, d, generator=generator, dtype=torch.float64)  # (samples, Nq=1, d)
        k = torch.randn(samples, num_keys, d, generator=generator, dtype=torch.float64)  # (samples, Nk, d)
        v = torch.zeros(samples, num_keys, 1, dtype=torch.float64)  # only the weights matter here
        scores = (q @ k.transpose(-2, -1)).flatten()
        result["std_unscaled"].append(scores.std().item())
        result["std_scaled"].append((scores / d**0.5).std().item())
        for name, scale in (("unscaled", 1.0), ("scaled", None)):
            _, weights = attention(q, k, v, scale=scale)  # (samples, 1, Nk)
            result[f"top_{name}"].append(weights.amax(dim=-1).mean().item())
    return {"dims": dims, **{key: np.array(values) for key, values in result.items()}}


def plot_softmax_saturation(
    dims: Sequence[int] = (1, 4, 16, 64, 256, 1024), num_keys: int = 16, samples: int = 1000, seed: int = 0
) -> Figure:
    """Two panels against d (log axis), from score_spread: left, the standard deviation of the scores,
    sqrt(d) without the scale and 1 with it; right, the largest softmax weight of a query over `num_keys`
    keys, which climbs towards 1 (all weight on one key) without the scale and stays put with it.

    Returns:
        the Figure; each panel holds two lines, unscaled (red) then scaled (blue), with x = d.
    """
    spread = score_spread(dims, num_keys, samples, seed)
    d = spread["dims"]
    fig = new_figure(12.0, 4.6)
    left, right = fig.subplots(1, 2)
    left.plot(d, spread["std_unscaled"], marker="o", color="C3", label=r"$q \cdot k$")
    left.plot(d, spread["std_scaled"], marker="o", color="C0", label=r"$q \cdot k / \sqrt{d}$")
    # a wide grey band beneath the red line, which follows it: a thin line there would be hidden
    left.plot(d, np.sqrt(d), color="0.6", linewidth=9, alpha=0.45, solid_capstyle="round", zorder=1,
              label=r"$\sqrt{d}$ (under the red line)")
    left.set_yscale("log")
    left.set_ylabel("standard deviation of the scores")
    left.set_title("the scores spread as sqrt(d) unless divided by it")
    right.plot(d, spread["top_unscaled"], marker="o", color="C3", label=r"softmax($q \cdot k$)")
    right.plot(d, spread["top_scaled"], marker="o", color="C0", label=r"softmax($q \cdot k / \sqrt{d}$)")
    right.axhline(1.0, color="0.4", linestyle=":", linewidth=1)
    right.axhline(1.0 / num_keys, color="0.4", linestyle="--", linewidth=1)
    right.annotate("all weight on one key", xy=(d[0], 1.0), xytext=(0, -14), textcoords="offset points", color="0.3")
    right.annotate(f"uniform: 1/{num_keys}", xy=(d[0], 1.0 / num_keys), xytext=(0, 5), textcoords="offset points",
                   color="0.3")
    right.set_ylim(0, 1.08)
    right.set_ylabel(f"largest weight of a query over {num_keys} keys (mean)")
    right.set_title("without the scale the softmax saturates")
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("d, the size of a query and a key")
        ax.grid(True, alpha=0.4)
        ax.legend(loc="upper left" if ax is left else "center right")
    fig.suptitle(f"random queries and keys with entries from N(0, 1), {samples} queries per d, "
                 "each against its own keys")
    return fig
