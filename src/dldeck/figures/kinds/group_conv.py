"""Grouped convolution connectivity: which input channels each output channel reads.

With G groups, output channel o belongs to group o // (C_out/G) and reads only that group's
C_in/G input channels; G = C_in is the depthwise convolution (MobileNet, Howard et al. 2017).
Weights: C_out · (C_in/G) · k², so each panel's edge count is the weight count per k².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from dldeck.figures import style
from dldeck.figures.kind import FigureKind, Params
from dldeck.figures.params import Int, ListOf, SpecError

KEYS = {
    "in_channels": Int(1, 32, default=8),
    "out_channels": Int(1, 32, default=8),
    "groups": ListOf(Int(1, 32), min_len=1, max_len=4, unique=True, default=(1, 2, 8)),
}


@dataclass(frozen=True)
class GroupConvData:
    in_channels: int
    out_channels: int
    groups: tuple[int, ...]
    connections: tuple[np.ndarray, ...]  # per G: bool (out_channels, in_channels)


def connectivity(c_in: int, c_out: int, groups: int) -> np.ndarray:
    out_group = np.arange(c_out) // (c_out // groups)
    in_group = np.arange(c_in) // (c_in // groups)
    return out_group[:, None] == in_group[None, :]


def compute(params: Params) -> GroupConvData:
    c_in, c_out = params["in_channels"], params["out_channels"]
    groups = tuple(params["groups"])
    for index, g in enumerate(groups):
        if c_in % g:
            raise SpecError(f"in_channels {c_in} must be divisible by groups {g}", key="groups", index=index)
        if c_out % g:
            raise SpecError(
                f"out_channels {c_out} must be divisible by groups {g}", key="groups", index=index
            )
    return GroupConvData(c_in, c_out, groups, tuple(connectivity(c_in, c_out, g) for g in groups))


def _title(g: int, c_in: int, c_out: int) -> str:
    name = "普通卷积" if g == 1 else ("depthwise" if g == c_in else "分组卷积")
    return f"G={g}（{name}）：连接数 {c_out * c_in // g}"


def draw(data: GroupConvData, fig: Figure) -> None:
    axes = fig.subplots(len(data.groups), 1, squeeze=False)[:, 0]  # one per row: wide enough to read
    c_in, c_out = data.in_channels, data.out_channels
    width = max(c_in, c_out)
    x_in = np.linspace(0, width - 1, c_in) if c_in > 1 else np.array([(width - 1) / 2])
    x_out = np.linspace(0, width - 1, c_out) if c_out > 1 else np.array([(width - 1) / 2])
    for ax, g, links in zip(axes, data.groups, data.connections, strict=True):
        per_group_out = c_out // g
        for o, i in zip(*np.nonzero(links), strict=True):
            color = style.PALETTE[(o // per_group_out) % len(style.PALETTE)]
            ax.plot([x_in[i], x_out[o]], [0, 1], color=color, linewidth=0.8, alpha=0.8)
        per_group_in = c_in // g
        in_colors = [style.PALETTE[(i // per_group_in) % len(style.PALETTE)] for i in range(c_in)]
        out_colors = [style.PALETTE[(o // per_group_out) % len(style.PALETTE)] for o in range(c_out)]
        ax.scatter(x_in, np.zeros(c_in), s=40, c=in_colors, edgecolors="black", linewidths=0.5, zorder=3)
        ax.scatter(x_out, np.ones(c_out), s=40, c=out_colors, edgecolors="black", linewidths=0.5, zorder=3)
        ax.text(-0.6, 0, "输入", ha="right", va="center", fontsize=style.MIN_FONT_PT)
        ax.text(-0.6, 1, "输出", ha="right", va="center", fontsize=style.MIN_FONT_PT)
        ax.set_xlim(-2.4, width - 0.5)
        ax.set_ylim(-0.25, 1.25)
        ax.axis("off")
        ax.set_title(_title(g, c_in, c_out), fontsize=style.MIN_FONT_PT + 0.5)


def describe(params: Params) -> str:
    groups = "、".join(str(g) for g in params["groups"])
    channels = f"{params['in_channels']} 个输入通道到 {params['out_channels']} 个输出通道"
    return f"分组卷积连接：{channels}，groups = {groups}"


def size(data: GroupConvData) -> tuple[float, float]:
    return (style.WIDTH_IN, 0.3 + 1.05 * len(data.groups))


KIND = FigureKind("group-conv", KEYS, compute, draw, describe, size)
