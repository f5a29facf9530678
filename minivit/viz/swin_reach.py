"""How far one token's reach grows through a Swin stage: which input tokens can change one output token
after W-MSA, then SW-MSA, then patch merging, then the next stage's W-MSA on the merged map.

The reach is measured, not counted: the steps are minivit's own ground-floor functions
(`shifted_window_attention`, `merge_patches`) with random weights, and an input token reaches the output
when the gradient of the output token with respect to it is not zero. The shift mask adds -100 to a
logit rather than -inf, which leaves a weight of about e^-100 = 4e-44 on a masked key; the steps run in
float64 and a gradient counts only above 1e-12 of the largest, far above that and far below a real path.

The control `masked=False` runs the SW-MSA step without its mask: the map rolled by (-s, -s), W-MSA on the
rolled map's regular windows, rolled back by (+s, +s). That is SW-MSA with every mask entry 0, so tokens that
the roll brings together from opposite edges of the map attend to each other.
"""

from __future__ import annotations

import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from minivit.ops._checks import check_size
from minivit.ops.merging import merge_patches
from minivit.ops.window_attention import shifted_window_attention
from minivit.viz._common import grid_position, legend_patches, new_figure, outline, token_grid

STEPS = ("W-MSA", "SW-MSA", "patch merging", "W-MSA on the merged map")
TITLES = ("1. W-MSA", "2. then SW-MSA", "3. then patch merging", "4. then W-MSA, merged")
COLOURS = ("#e5e7e9", "#58d68d", "#c0392b")  # cannot change it, can change it, the output token's own tokens
THRESHOLD = 1e-12  # relative to the largest gradient; a masked key's path is about 4e-44
CHANNELS = 4  # C of the small random stage; merging gives 4C


def _attention(channels: int, window_size: int, shift_size: int, generator: torch.Generator, masked: bool = True):
    """One random single-head (S)W-MSA layer, (B, H, W, C) -> (B, H, W, C), in float64; with masked=False
    the shifted windows attend without the shift mask."""
    def weight(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64) / shape[-1] ** 0.5

    qkv_w, qkv_b = weight(3 * channels, channels), weight(3 * channels)
    proj_w, proj_b = weight(channels, channels), weight(channels)
    n = window_size * window_size
    bias = weight(1, n, n)  # a relative position bias per (query, key) pair, random

    def layer(x: torch.Tensor) -> torch.Tensor:
        if masked or shift_size == 0:
            return shifted_window_attention(x, qkv_w, qkv_b, proj_w, proj_b, bias, window_size, shift_size, 1)
        rolled = torch.roll(x, (-shift_size, -shift_size), dims=(1, 2))  # the shifted windows become regular
        out = shifted_window_attention(rolled, qkv_w, qkv_b, proj_w, proj_b, bias, window_size, 0, 1)  # no mask
        return torch.roll(out, (shift_size, shift_size), dims=(1, 2))

    return layer


def swin_reach(
    height: int = 8,
    width: int = 8,
    window_size: int = 4,
    shift_size: int = 2,
    token: int | tuple[int, int] = (1, 2),
    masked: bool = True,
) -> dict[str, torch.Tensor]:
    """Which input tokens can change one output token after each of four steps of a Swin stage.

    The steps, each applied to the output of the one before: W-MSA (windows of M x M), SW-MSA (windows
    shifted by s, with the shift mask), patch merging (each 2 x 2 group of tokens becomes one token), and
    W-MSA with windows of M x M merged tokens on the merged (H/2, W/2) map, as the next stage's first block.
    The output token is `token` for the first two steps and the merged token that holds it, (row // 2,
    column // 2), for the last two.

    Args:
        height, width: H and W of the input map, in tokens; both even (patch merging needs it).
        window_size: M, a positive int.
        shift_size: s, 0 < s < M.
        token: the output token on the input map, as its row-major index or (row, column).
        masked: False for the control without the shift mask in the SW-MSA step (same weights, same map).

    Returns:
        step name (the four of STEPS, in order) -> a bool tensor (H, W): True where the input token's gradient
        is above 1e-12 of the largest.
    """
    H, W = check_size(height, "height"), check_size(width, "width")
    M = check_size(window_size, "window_size")
    s = check_size(shift_size, "shift_size")
    if H % 2 or W % 2:
        raise ValueError(f"height and width must be even for patch merging, got {H} x {W}")
    if s >= M:
        raise ValueError(f"shift_size must be smaller than window_size ({M}), got {s}")
    if not isinstance(masked, bool):
        raise TypeError(f"masked must be True or False, got {masked!r}")
    row, col = grid_position(token, H, W, "token")
    generator = torch.Generator().manual_seed(0)
    w_msa = _attention(CHANNELS, M, 0, generator)
    sw_msa = _attention(CHANNELS, M, s, generator, masked)
    merged_w_msa = _attention(4 * CHANNELS, M, 0, generator)
    stages = [
        (w_msa, (row, col)),
        (sw_msa, (row, col)),
        (merge_patches, (row // 2, col // 2)),
        (merged_w_msa, (row // 2, col // 2)),
    ]
    x = torch.randn(1, H, W, CHANNELS, generator=generator, dtype=torch.float64, requires_grad=True)
    reach, y = {}, x
    for name, (step, (i, j)) in zip(STEPS, stages):
        y = step(y)  # (1, H', W', C')
        field = torch.zeros(H, W, dtype=torch.float64)
        for c in range(y.shape[-1]):  # one backward pass per output channel: no two gradients cancel
            (grad,) = torch.autograd.grad(y[0, i, j, c], x, retain_graph=True)  # (1, H, W, C)
            field += grad[0].abs().sum(-1)
        reach[name] = field > THRESHOLD * field.max()
    return reach


def plot_swin_reach(
    height: int = 8,
    width: int = 8,
    window_size: int = 4,
    shift_size: int = 2,
    token: int | tuple[int, int] | list[int | tuple[int, int]] = (1, 2),
) -> Figure:
    """The reach of `swin_reach`, one panel per step, on the input map; one row of panels per output token.

    Args:
        height, width, window_size, shift_size: as for swin_reach.
        token: as for swin_reach, or a list of such tokens: one row of four panels for each, top to bottom.

    Returns:
        the Figure, four panels per token (fig.axes[4 * t + k]: token t, step k of STEPS). Each panel's image
        (gid "reach") holds per input token 0 (cannot change the output token), 1 (can) or 2 (the output
        token itself, or the 2 x 2 input tokens of the merged output token); its title gives the count of
        tokens that can. Every panel outlines the output token's input tokens in red (a Rectangle of gid
        "output"); panel 0 of a row the W-MSA windows and panel 3 the windows of the merged map (Rectangles of
        gid "window"), panel 1 the shifted windows' borders as dashed lines (gid "shifted border").
    """
    tokens = token if isinstance(token, list) else [token]
    if not tokens:
        raise ValueError("token must be a token or a non-empty list of tokens, got []")
    H, W, M, s = height, width, window_size, shift_size
    panel = 2.0 * min(1.0, H / W)  # height of a panel, inches: four side by side within 9 inches
    fig = new_figure(4 * panel * W / H + 0.8, len(tokens) * (panel + 1.0) + 0.6)
    rows = fig.subplots(len(tokens), 4, squeeze=False)
    cmap = ListedColormap(list(COLOURS))
    for one, axes in zip(tokens, rows):
        reach = swin_reach(H, W, M, s, one)
        row, col = grid_position(one, H, W, "token")
        for k, (ax, name) in enumerate(zip(axes, STEPS)):
            shown = reach[name].numpy().astype(int)
            if k < 2:
                own = (row, row, col, col)
                where = f"token {(row, col)}"
            else:
                own = (row // 2 * 2, row // 2 * 2 + 1, col // 2 * 2, col // 2 * 2 + 1)
                where = f"merged token {(row // 2, col // 2)}"
            shown[own[0]:own[1] + 1, own[2]:own[3] + 1] = 2
            ax.imshow(shown, cmap=cmap, vmin=-0.5, vmax=2.5, interpolation="nearest", gid="reach")
            token_grid(ax, H, W, f"{TITLES[k]}\n{int(reach[name].sum())} of {H * W} tokens\nreach {where}",
                       xlabel="input column", ylabel="input row" if k == 0 else "")
            ax.title.set_fontsize(10)
            if k == 0:
                for r0 in range(0, H, M):
                    for c0 in range(0, W, M):
                        outline(ax, r0, c0, min(r0 + M, H) - 1, min(c0 + M, W) - 1, gid="window", linewidth=1.5)
            elif k == 1:
                borders = [b - 0.5 for b in range(s, H, M)], [b - 0.5 for b in range(s, W, M)]
                ax.hlines(borders[0], -0.5, W - 0.5, colors="black", linestyles="--", linewidth=1.5,
                          gid="shifted border")
                ax.vlines(borders[1], -0.5, H - 0.5, colors="black", linestyles="--", linewidth=1.5,
                          gid="shifted border")
            elif k == 3:
                side = 2 * M  # M merged tokens, 2M input tokens
                for r0 in range(0, H, side):
                    for c0 in range(0, W, side):
                        outline(ax, r0, c0, min(r0 + side, H) - 1, min(c0 + side, W) - 1, gid="window",
                                linewidth=1.5)
            outline(ax, own[0], own[2], own[1], own[3], gid="output", edgecolor="#c0392b", linewidth=2.5)
    fig.legend(handles=legend_patches(COLOURS, ("cannot change the output token", "can change it",
                                                "the output token's own input tokens")),
               loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle(f"which input tokens can change one output token, from gradients: {H} x {W} tokens, "
                 f"window {M}, shift {s}", fontsize=11)
    return fig


__all__ = ["STEPS", "plot_swin_reach", "swin_reach"]
