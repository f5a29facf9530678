"""Rank collapse drawn block by block: how far a stack's tokens are from all being one token, after each block.

The measure is the spread of the tokens, ||X - 1 x̄ᵀ|| / ||X|| for the (N, D) matrix X of tokens, x̄ their
mean token: how far the tokens are from their mean, relative to their size, 0 exactly when all tokens are equal.
(Dong, Cordonnier and Loukas (2021) call X - 1 x̄ᵀ the residual of X; it has nothing to do with a block's
residual sums.) The notebook computes it; this figure draws the numbers it is given, on a log scale, where an
exponential decay is a straight line and a doubly exponential one bends down ever more steeply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from matplotlib.figure import Figure

from minivit.viz._common import new_figure

FLOAT32_EPS = torch.finfo(torch.float32).eps  # 1.19e-7: the relative round-off of one float32 number


def plot_rank_collapse(curves: Mapping[str, Sequence[Sequence[float]]], title: str = "") -> Figure:
    """The spread of the tokens after each block of a stack, for several settings and seeds.

    Args:
        curves: setting name -> one sequence per seed of the spreads at the input (block 0) and
            after each block 1..L; every sequence of every setting has the same length L + 1, and every value
            is positive (the y axis is logarithmic).
        title: the figure's title; empty for none.

    Returns:
        the Figure, one panel: for each setting in order, one line per seed (gid "curve", x = 0..L, y = the
        given values), all in the setting's colour, the first labelled with the setting's name; a dotted
        line (gid "round-off") at float32's relative round-off, 1.19e-7.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"curves must be a non-empty dict of setting -> per-seed sequences, got {curves!r}")
    lengths = set()
    for name, seeds in curves.items():
        if not isinstance(name, str):
            raise TypeError(f"curves' keys must be setting names (str), got {name!r}")
        if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
            raise ValueError(f"curves[{name!r}] must be a non-empty sequence of per-seed sequences, got {seeds!r}")
        for values in seeds:
            values = [float(v) for v in values]
            lengths.add(len(values))
            if not all(math.isfinite(v) and v > 0 for v in values):
                raise ValueError(f"curves[{name!r}] must hold positive finite values (log scale), got {values}")
    if len(lengths) != 1 or min(lengths) < 2:
        raise ValueError(f"every sequence in curves must have the same length L + 1 >= 2 (input, then L blocks), "
                         f"got lengths {sorted(lengths)}")
    depth = lengths.pop() - 1
    fig = new_figure(9.0, 4.8)
    ax = fig.subplots()
    for k, (name, seeds) in enumerate(curves.items()):
        for s, values in enumerate(seeds):
            ax.plot(range(depth + 1), [float(v) for v in values], marker="o", markersize=3.5, color=f"C{k}",
                    alpha=0.85, label=name if s == 0 else None, gid="curve")
    ax.axhline(FLOAT32_EPS, color="0.4", linestyle=":", linewidth=1.2, gid="round-off")
    ax.annotate(f"float32 round-off, {FLOAT32_EPS:.1e}", xy=(0, FLOAT32_EPS), xytext=(0, -3),
                textcoords="offset points", ha="left", va="top", color="0.3", fontsize=9)
    ax.set_yscale("log")
    lowest = min(float(v) for seeds in curves.values() for values in seeds for v in values)
    ax.set_ylim(bottom=min(lowest, FLOAT32_EPS) / 5)  # room for the round-off label below its line
    ax.set_xticks(range(depth + 1))
    ax.set_xticklabels(["input"] + [str(b) for b in range(1, depth + 1)])
    ax.set_xlabel("after block")
    ax.set_ylabel(r"spread of the tokens $\|X - 1\bar{x}^T\| / \|X\|$")
    ax.grid(True, which="major", alpha=0.4)
    seeds = {len(v) for v in curves.values()}
    ax.legend(loc="center right", fontsize=9,
              title=f"one line per seed ({'/'.join(map(str, sorted(seeds)))})", title_fontsize=9)
    if title:
        ax.set_title(title)
    return fig
